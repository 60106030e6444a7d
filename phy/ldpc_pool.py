"""Worker processes that run the compiled LDPC decoder on more than one CPU core.

``ldpc.BpDecoder`` (:mod:`semlink.phy.ldpc_compiled`) decodes one code word at
a time and holds Python's GIL, so threads cannot share its work. A
:class:`DecoderPool` keeps ``processes - 1`` worker processes
(:mod:`semlink.phy._ldpc_worker`, started by path with numpy/scipy/ldpc only,
no torch) and splits a batch of code words into ``processes`` contiguous
shares: the workers decode theirs while the calling process decodes its own.
Each word's decoding is deterministic and independent of the others, so the
bits and iteration counts equal those of one process exactly.

Workers start on first use, keep each decoder (parity-check matrix and
settings) they have been given, and end when the pool is closed, when the
parent process exits (their stdin closes), or when the parent is killed.
One pool per process is shared by all decoders (:func:`shared_pool`).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import numpy as np

from ._ldpc_worker import decode_words

WORKER = Path(__file__).with_name("_ldpc_worker.py")


class _Worker:
    def __init__(self) -> None:
        # -P: do not put phy/ on sys.path (its modules would shadow packages)
        self.proc = subprocess.Popen([sys.executable, "-P", str(WORKER)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.keys: set = set()

    def send(self, request) -> None:
        stdin = self.proc.stdin
        assert stdin is not None                     # opened with stdin=PIPE
        try:
            pickle.dump(request, stdin, protocol=pickle.HIGHEST_PROTOCOL)
            stdin.flush()
        except OSError:            # broken pipe: the worker is gone
            self._ended()

    def receive(self):
        try:
            assert self.proc.stdout is not None          # opened with stdout=PIPE
            status, *payload = pickle.load(self.proc.stdout)
        except (EOFError, pickle.UnpicklingError):    # ended, maybe in the middle of a reply
            self._ended()
        if status == "error":
            raise RuntimeError(f"an LDPC decoder worker process failed:\n{payload[0]}")
        return payload

    def _ended(self):
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:     # alive but its reply unreadable: end it
            self.proc.kill()
            self.proc.wait()
        err = (self.proc.stderr.read().decode(errors="replace").strip()
               if self.proc.stderr is not None else "")
        raise RuntimeError(f"an LDPC decoder worker process ended (exit code {self.proc.returncode}): "
                           f"{err or 'no message'}; the batch is lost, the next one starts new "
                           f"workers") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def _close_all(workers: list[_Worker]) -> None:
    for w in workers:
        w.close()
    workers.clear()


class DecoderPool:
    """Worker processes for :class:`~semlink.phy.ldpc_compiled.CompiledBPDecoder`.

    Thread-safe (one batch at a time). Use :func:`shared_pool` rather than
    building one per decoder.
    """

    def __init__(self) -> None:
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._finalizer = weakref.finalize(self, _close_all, self._workers)

    @property
    def size(self) -> int:
        """Worker processes running (the calling process is not counted)."""
        return len(self._workers)

    def decode(self, key, config: tuple, local_bp, probs: np.ndarray, hard: np.ndarray, k: int,
               processes: int) -> tuple[np.ndarray, np.ndarray]:
        """Decode ``m`` code words on ``processes`` processes (this one included).

        :param key: hashable id of the decoder (graph + settings); workers build
            it from ``config`` the first time they see ``key``.
        :param config: ``(indptr, indices, shape, max_iter, bp_method, schedule)``.
        :param local_bp: the same decoder in this process (``ldpc.BpDecoder``).
        :param probs: [m, n] float64, probability that each hard decision is wrong.
        :param hard: [m, n] uint8 hard decisions.
        :param k: information bits returned per word.
        :returns: ``(bits [m, k] uint8, iterations [m] int64)``, in input order.
        """
        if processes < 1:
            raise ValueError(f"processes must be >= 1, got {processes}")
        m = len(hard)
        shares = np.array_split(np.arange(m), min(processes, max(m, 1)))
        if len(shares) == 1:
            return decode_words(local_bp, probs, hard, k)
        with self._lock:
            self._grow(len(shares) - 1)
            busy = []
            try:
                for w, idx in zip(self._workers, shares[1:], strict=False):
                    new = key not in w.keys
                    w.send(("decode", key, config if new else None, probs[idx], hard[idx], k))
                    w.keys.add(key)
                    busy.append(w)
                bits0, it0 = decode_words(local_bp, probs[shares[0]], hard[shares[0]], k)
                parts = [w.receive() for w in busy]
            except BaseException:
                # a worker in an unknown state (killed, interrupted mid-message): start afresh
                _close_all(self._workers)
                raise
        bits = np.concatenate([bits0] + [p[0] for p in parts])
        iterations = np.concatenate([it0] + [p[1] for p in parts])
        return bits, iterations

    def _grow(self, n: int) -> None:
        if os.getpid() != self._pid:      # a forked child must not talk to its parent's workers
            self._workers.clear()
            self._pid = os.getpid()
        dead = [w for w in self._workers if w.proc.poll() is not None]
        for w in dead:
            w.close()
            self._workers.remove(w)
        while len(self._workers) < n:
            self._workers.append(_Worker())

    def close(self) -> None:
        """End the worker processes (a later :meth:`decode` starts new ones)."""
        with self._lock:
            _close_all(self._workers)


_SHARED: DecoderPool | None = None


def shared_pool() -> DecoderPool:
    """The process-wide :class:`DecoderPool` (created on first use)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = DecoderPool()
    return _SHARED
