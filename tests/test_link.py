"""Links: streams on profiles, one chain call per profile, exact channel uses."""

import math

import numpy as np
import pytest
import torch

from semlink.links.link import Link
from semlink.links.profiles import DEFAULT_PROFILES
from semlink.semantic import AnalogPixels, Payload, RawPixels, Stream

PROFILES = {**DEFAULT_PROFILES,
            "strong": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 1 / 3,
                       "modulation": "qpsk"},
            "weak": {"kind": "digital", "code": "ldpc5g", "k": 512, "n": 640, "modulation": "psk8",
                     "crc": "CRC24A"},
            "pilots": {"kind": "analog", "channel": {"name": "rayleigh", "coherence": {"symbols": 50},
                                                       "csi": "ls", "num_pilots": 2}}}


def test_channel_uses_equal_analytic_count_for_known_payload(device):
    imgs = [torch.rand(3, 30, 41), torch.rand(3, 8, 8)]
    codec = RawPixels(bit_depth=5, downsample=3, profile="weak")
    link = Link(PROFILES, "awgn", seed=0, device=device)
    rx = link.transmit(codec.encode(imgs), snr_db=30.0)
    # weak: k=512, CRC24A -> 488 payload bits per block; n=640 -> ceil(640/3)=214 symbols
    for img, uses in zip(imgs, rx.channel_uses(), strict=True):
        h, w = img.shape[-2:]
        bits = 3 * math.ceil(h / 3) * math.ceil(w / 3) * 5
        assert uses == math.ceil(bits / 488) * 214
    assert list(rx.reports["pixels"].bits) == [codec.bits_for(*im.shape[-2:]) for im in imgs]
    # analog with pilots: symbols + 2 pilots per 50-symbol coherence block
    acodec = AnalogPixels(downsample=2, profile="pilots")
    rx = link.transmit(acodec.encode(imgs), snr_db=30.0)
    for img, uses in zip(imgs, rx.channel_uses(), strict=True):
        sym = acodec.symbols_for(*img.shape[-2:])
        assert uses == sym + 2 * math.ceil(sym / 50)


def test_streams_on_different_profiles_sum_exactly_and_share_chain_calls(monkeypatch, device):
    link = Link(PROFILES, "awgn", seed=0, device=device)
    rng = np.random.default_rng(0)
    lengths = {"a": [700, 10], "b": [3000, 0], "c": [50, 5000]}
    streams = {
        "a": Stream("digital", [torch.from_numpy(rng.integers(0, 2, n, dtype=np.uint8))
                                for n in lengths["a"]], "strong"),
        "b": Stream("digital", [torch.from_numpy(rng.integers(0, 2, n, dtype=np.uint8))
                                for n in lengths["b"]], "weak"),
        "c": Stream("digital", [torch.from_numpy(rng.integers(0, 2, n, dtype=np.uint8))
                                for n in lengths["c"]], "strong"),
    }
    calls = []
    for prof in ("strong", "weak"):
        chain = link.chain(prof)
        orig = chain.transmit
        monkeypatch.setattr(chain, "transmit",
                            lambda bs, snr_db=None, ebno_db=None, draw_seeds=None,
                            group_seeds=None, _o=orig, _p=prof:
                            calls.append((_p, len(bs))) or _o(bs, snr_db=snr_db,
                                                             draw_seeds=draw_seeds,
                                                             group_seeds=group_seeds))
    rx = link.transmit(Payload(streams, [{}, {}]), snr_db=40.0)
    assert sorted(calls) == [("strong", 4), ("weak", 2)]   # one call per profile
    expected = np.zeros(2, dtype=int)
    for name, s in streams.items():
        chain = link.chain(s.profile)
        per = [chain.channel_uses_for(n) for n in lengths[name]]
        assert list(rx.reports[name].channel_uses) == per
        expected += per
        for tx, r in zip(s.data, rx.streams[name].data, strict=True):
            assert torch.equal(tx, r.cpu())
    assert list(rx.channel_uses()) == list(expected)


def test_profile_kind_mismatch_and_unknown_profile(device):
    link = Link(PROFILES, "awgn", device=device)
    p = Payload({"x": Stream("digital", [torch.ones(8, dtype=torch.uint8)], "analog")}, [{}])
    with pytest.raises(ValueError, match="is digital but profile 'analog' is analog"):
        link.transmit(p, 10.0)
    p = Payload({"x": Stream("digital", [torch.ones(8, dtype=torch.uint8)], "nope")}, [{}])
    with pytest.raises(KeyError, match="unknown PHY profile 'nope'"):
        link.transmit(p, 10.0)


def test_raw_codecs_round_trip_error_free():
    imgs = [torch.rand(3, 13, 17)]
    link = Link(PROFILES, "awgn", seed=1)
    codec = RawPixels(bit_depth=8)
    rec = codec.decode(link.transmit(codec.encode(imgs), snr_db=60.0))
    assert torch.allclose(rec.images[0], torch.round(imgs[0] * 255) / 255, atol=1e-6)
    acodec = AnalogPixels()
    rec = acodec.decode(link.transmit(acodec.encode(imgs), snr_db=80.0))
    assert torch.allclose(rec.images[0], imgs[0], atol=1e-3)
    rec_noisy = acodec.decode(link.transmit(acodec.encode(imgs), snr_db=0.0))
    assert (rec_noisy.images[0] - imgs[0]).abs().mean() > 0.05


def test_item_seeds_are_vectorised_distinct_and_recorded(device):
    """Item seeds: one blake2b per (profile, stream), a vectorised mix per image index;
    distinct for distinct images/streams, independent of the batch; the scenario's
    generator is named for the results header."""
    from semlink.links.link import noise_generator_label
    from semlink.phy.channels.draws import derive_item_seeds, derive_seed

    base = derive_seed(3, "default", "bits")
    seeds = derive_item_seeds(base, range(10_000))
    assert len(set(seeds.tolist())) == 10_000 and seeds.min() >= 0
    assert np.array_equal(derive_item_seeds(base, [17, 4]), seeds[[17, 4]])
    assert not np.array_equal(derive_item_seeds(derive_seed(3, "default", "more"), [17]),
                              seeds[[17]])
    with pytest.raises(ValueError, match=">= 0"):
        derive_item_seeds(base, [-1])
    scenario = type("S", (), {"channels": [type("C", (), {"spec": {"name": "awgn"}})()],
                              "profiles": {"p": {"kind": "analog",
                                                 "channel": {"name": "rayleigh"}}}})()
    assert noise_generator_label(scenario) == "counter-hash-v2"
    link = Link(PROFILES, "awgn", seed=0, device=device)
    assert link.chain("default").noise_generator == "counter-hash-v2"
