"""The compiled LDPC decoder on several processes (``semlink.phy.ldpc_pool``)."""

import io
import os
import pickle
import signal
import time

import numpy as np
import pytest
import torch

from ldpc_llrs import qpsk_awgn_llrs as _llrs
from semlink.phy import _ldpc_worker
from semlink.phy.ldpc_compiled import CompiledBPDecoder
from semlink.phy.ldpc_pool import DecoderPool, shared_pool


@pytest.fixture(scope="module")
def waterfall():
    # 0.5 dB: some words fail, iteration counts vary from word to word
    return _llrs(128, 256, 0.5, 90, seed=11)


def test_several_processes_give_one_process_bits_and_iterations(waterfall):
    enc, u, llr = waterfall
    u1, it1 = CompiledBPDecoder(enc, processes=1)(llr)
    assert 0 < (u1 != u).any(1).sum() < len(u)          # a real waterfall point
    assert len(set(it1.tolist())) > 3
    for processes in (2, 3):
        up, itp = CompiledBPDecoder(enc, processes=processes)(llr)
        assert torch.equal(up, u1) and torch.equal(itp, it1)
    assert shared_pool().size >= 2                    # the workers really ran


def test_processes_follow_torch_threads(waterfall, monkeypatch):
    enc, _, llr = waterfall
    seen = []
    pool = shared_pool()
    original = pool.decode

    def spy(*args):
        seen.append(args[-1])
        return original(*args)

    monkeypatch.setattr(pool, "decode", spy)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        CompiledBPDecoder(enc)(llr)
        torch.set_num_threads(2)
        CompiledBPDecoder(enc)(llr)
    finally:
        torch.set_num_threads(before)
    assert seen == [2]                  # one thread: no pool; two threads: two processes


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_processes_is_validated(bad):
    enc, _, _ = _llrs(64, 128, 3.0, 1, seed=0)
    with pytest.raises(ValueError, match=r"processes must be a positive integer or None.*got"):
        CompiledBPDecoder(enc, processes=bad)


@pytest.fixture
def own_pool(waterfall, monkeypatch):
    """A two-process decoder on a pool of its own, and the one-process reference output."""
    import semlink.phy.ldpc_compiled as compiled

    enc, _, llr = waterfall
    ref = CompiledBPDecoder(enc, processes=1)(llr)
    pool = DecoderPool()
    monkeypatch.setattr(compiled, "shared_pool", lambda: pool)
    yield CompiledBPDecoder(enc, processes=2), pool, llr, ref
    pool.close()


def test_a_killed_worker_is_replaced(own_pool):
    dec, pool, llr, ref = own_pool
    dec(llr)
    pid = pool._workers[0].proc.pid
    os.kill(pid, signal.SIGKILL)
    pool._workers[0].proc.wait(timeout=10)
    # the next batch starts a fresh worker, which is given the decoder again
    out = dec(llr)
    assert pool.size == 1 and pool._workers[0].proc.pid != pid
    assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])
    pool.close()
    assert pool.size == 0


def test_a_worker_dying_mid_batch_is_a_clear_error(own_pool, monkeypatch):
    dec, pool, llr, ref = own_pool
    import semlink.phy.ldpc_pool as ldpc_pool

    real = ldpc_pool.decode_words

    def kill_worker_then_decode(*args):
        # runs while the worker holds its share of the batch
        proc = pool._workers[0].proc
        proc.kill()
        proc.wait(timeout=10)
        return real(*args)

    monkeypatch.setattr(ldpc_pool, "decode_words", kill_worker_then_decode)
    with pytest.raises(RuntimeError, match=r"an LDPC decoder worker process ended \(exit code -9\)"):
        dec(llr)
    assert pool.size == 0                     # the pool starts afresh ...
    monkeypatch.setattr(ldpc_pool, "decode_words", real)
    out = dec(llr)                            # ... and the next batch decodes
    assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])


def test_worker_reports_errors_and_keeps_serving():
    enc, _, _ = _llrs(64, 128, 3.0, 1, seed=0)
    dec = CompiledBPDecoder(enc, processes=1)
    hard = np.zeros((3, dec.num_vns), dtype=np.uint8)
    hard[1, :5] = 1                                   # not a code word: BP runs
    probs = np.full((3, dec.num_vns), 0.05)
    requests = io.BytesIO()
    pickle.dump(("decode", "k", None, probs, hard, dec.k), requests)       # unknown key
    pickle.dump(("decode", "k", dec._config, probs, hard, dec.k), requests)
    requests.seek(0)
    replies = io.BytesIO()
    _ldpc_worker.serve(requests, replies)              # returns at end of input
    replies.seek(0)
    status, text = pickle.load(replies)
    assert status == "error" and "KeyError" in text
    status, bits, iterations = pickle.load(replies)
    assert status == "ok"
    want = _ldpc_worker.decode_words(dec._bp, probs, hard, dec.k)
    assert np.array_equal(bits, want[0]) and np.array_equal(iterations, want[1])


def test_pool_workers_end_with_close():
    enc, _, _ = _llrs(64, 128, 3.0, 1, seed=0)
    dec = CompiledBPDecoder(enc)
    pool = DecoderPool()
    hard = np.zeros((4, dec.num_vns), dtype=np.uint8)
    probs = np.full((4, dec.num_vns), 0.1)
    pool.decode(dec._key, dec._config, dec._bp, probs, hard, dec.k, 3)
    procs = [w.proc for w in pool._workers]
    assert len(procs) == 2 and all(p.poll() is None for p in procs)
    pool.close()
    deadline = time.monotonic() + 10
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(p.poll() is not None for p in procs)
