"""5G LDPC: published waterfall point, CRC flags, bit-exact variable-length round trips."""

import numpy as np
import pytest
import torch

from semlink.phy import DigitalChain, bits_to_bytes, bytes_to_bits, simulate_ber
from stats import two_sample_z

# AFF3CT error-rate reference (aff3ct/error_rate_references, commit e30a0886,
# LDPC/AWGN/BPSK/BP_FLOODING/SPA/LDPC_N1024_K512_flooding_SPA_i20_5G.txt and its
# "_inter" twin): 5G NR LDPC K=512, N=1024 (rate matched, BG2, Zc=64), flooding
# sum-product, 20 iterations, BPSK, AWGN, Eb/N0 with R = K/N.
# Eb/N0 = 1.5 dB: 101/1621 and 109/1624 frame errors -> 210/3245.
REF_EBNO_DB, REF_ERRORS, REF_FRAMES = 1.5, 210, 3245


def test_waterfall_point_matches_aff3ct_reference(device):
    chain = DigitalChain(code="ldpc5g", k=512, n=1024, crc=None, modulation="qpsk",
                         channel="awgn", max_iter=20, cn_update="boxplus-phi", seed=21, device=device)
    (p,) = simulate_ber(chain, ebno_db=[REF_EBNO_DB], batch_size=1000, max_blocks=3000,
                        target_block_errors=10**9, seed=8)
    z = two_sample_z(p.block_errors, p.blocks, REF_ERRORS, REF_FRAMES)
    assert abs(z) < 3.5, f"BLER {p.bler:.4f} vs reference {REF_ERRORS / REF_FRAMES:.4f} (z={z:.2f})"
    # and the point is really on the waterfall: 0.5 dB lower is much worse
    (low,) = simulate_ber(chain, ebno_db=[1.0], batch_size=300, max_blocks=300,
                          target_block_errors=10**9, seed=8)
    assert low.bler > 4 * p.bler


def test_crc_flags_exactly_the_failed_blocks(device):
    chain = DigitalChain(k=256, n=512, crc="CRC24A", modulation="qpsk", channel="awgn", seed=4, device=device)
    rng = np.random.default_rng(0)
    streams = [rng.integers(0, 2, 20_000, dtype=np.uint8) for _ in range(4)]
    rx, rep = chain.transmit(streams, ebno_db=1.0)   # mid-waterfall: some blocks fail
    assert 0 < rep.block_errors.sum() < rep.blocks.sum()
    k_info = chain.config.k_info
    for i, (tx, r) in enumerate(zip(streams, rx, strict=True)):
        wrong = (tx != r.cpu().numpy())
        per_block = np.add.reduceat(np.pad(wrong, (0, rep.blocks[i] * k_info - wrong.size)),
                                    np.arange(0, rep.blocks[i] * k_info, k_info)) > 0
        flagged = rep.block_failed[i]
        # every block with payload errors is flagged (24-bit CRC: a miss is ~6e-8)
        assert not np.any(per_block & ~flagged)
        assert rep.crc_failures[i] == flagged.sum()
        # bits outside flagged blocks are all correct
        assert not np.any(wrong & ~rep.failed_bit_mask(i, k_info))


@pytest.mark.parametrize("modulation,code,channel", [
    ("psk8", "ldpc5g", "awgn"), ("qam16", "ldpc5g", "rayleigh"), ("bpsk", "none", "awgn"),
    ("psk16", "ldpc5g", {"name": "rician", "k_factor": 3.0, "coherence": "block",
                         "csi": "ls", "num_pilots": 4}),
])
def test_variable_length_round_trip_is_bit_exact(modulation, code, channel, device):
    chain = DigitalChain(code=code, k=400, n=800 if code == "ldpc5g" else None, crc="CRC16",
                         modulation=modulation, channel=channel, seed=1, device=device)
    rng = np.random.default_rng(1)
    text = "semantic communication: où est le chien?".encode()
    streams = [bytes_to_bits(text), rng.integers(0, 2, 1, dtype=np.uint8),
               np.zeros(0, dtype=np.uint8), rng.integers(0, 2, 5003, dtype=np.uint8)]
    rx, rep = chain.transmit(streams, snr_db=45.0)
    for tx, r in zip(streams, rx, strict=True):
        assert r.dtype == torch.uint8 and r.shape == (len(tx),)
        assert np.array_equal(tx, r.cpu().numpy())
    assert bits_to_bytes(rx[0].cpu().numpy()).decode("utf-8") == text.decode("utf-8")
    assert rep.bit_errors.sum() == 0 and rep.crc_failures.sum() == 0
    k_info = chain.config.k_info
    blocks = [-(-len(s) // k_info) for s in streams]
    assert list(rep.blocks) == blocks
    assert list(rep.padding_bits) == [b * k_info - len(s) + b * chain.symbol_padding
                                      for b, s in zip(blocks, streams, strict=True)]
    assert list(rep.channel_uses) == [b * chain.channel_uses_per_block for b in blocks]


def test_all_blocks_go_through_one_decoder_call(monkeypatch, device):
    chain = DigitalChain(k=128, n=256, modulation="qpsk", seed=0, early_termination=False, device=device)
    calls = []
    dec = chain.decoder._decoder
    original = dec.forward
    monkeypatch.setattr(dec, "forward", lambda llr: calls.append(llr.shape) or original(llr))
    chain.transmit([np.ones(1000, np.uint8), np.ones(300, np.uint8)], snr_db=10)
    k_info = chain.config.k_info
    assert calls == [torch.Size([-(-1000 // k_info) + -(-300 // k_info), 256])]


def test_same_seed_same_results(device):
    def run():
        from semlink.phy import set_seed

        set_seed(99)
        chain = DigitalChain(k=256, n=512, modulation="psk8",
                             channel={"name": "rayleigh", "coherence": {"symbols": 4}}, seed=5, device=device)
        rng = np.random.default_rng(3)
        streams = [rng.integers(0, 2, 3000, dtype=np.uint8) for _ in range(3)]
        rx, rep = chain.transmit(streams, snr_db=6.0)
        pts = simulate_ber(chain, snr_db=[4.0, 6.0], batch_size=50, max_blocks=100, seed=3)
        return [r.cpu().numpy() for r in rx], rep.bit_errors.tolist(), [p.as_dict() for p in pts]

    a, b = run(), run()
    assert all(np.array_equal(x, y) for x, y in zip(a[0], b[0], strict=True))
    assert a[1] == b[1]
    assert [dict(p, seconds=0) for p in a[2]] == [dict(p, seconds=0) for p in b[2]]
    assert sum(a[1]) > 0  # the comparison is not trivially between error-free runs


def test_eb_no_and_es_no_are_consistent(device):
    chain = DigitalChain(k=500, n=1000, crc=None, modulation="psk8", channel="awgn", device=device)
    # n=1000 is not a multiple of 3: 334 symbols per block carry k=500 bits
    assert chain.symbols_per_block == 334
    es = chain.snr_db_from_ebno_db(2.0)
    assert es == pytest.approx(2.0 + 10 * np.log10(500 / 334))
    assert chain.ebno_db_from_snr_db(es) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="exactly one of snr_db"):
        chain.transmit([np.ones(8, np.uint8)], snr_db=1.0, ebno_db=1.0)


@pytest.mark.parametrize("kwargs,match", [
    (dict(k=5), "k must be in"), (dict(k=100, n=90), "rate k/n"), (dict(rate=0.1), "rate k/n"),
    (dict(code="turbo"), "code must be one of"), (dict(crc="CRC99"), "crc must be one of"),
    (dict(code="none", rate=0.5), "uncoded"), (dict(modulation="qam8"), "QAM order"),
    (dict(modulation="apsk"), "unknown modulation"), (dict(demapping="exact"), "demapping"),
    (dict(channel="nonexistent"), "unknown channel"), (dict(max_iter=0), "max_iter"),
])
def test_bad_configuration_gives_clear_errors(kwargs, match):
    with pytest.raises((ValueError, KeyError), match=match):
        DigitalChain(**kwargs)


def test_bad_bitstream_rejected(device):
    chain = DigitalChain(k=128, n=256, device=device)
    with pytest.raises(ValueError, match=r"bitstreams\[1\] must contain only 0/1"):
        chain.transmit([np.ones(4, np.uint8), np.array([0, 2, 1])], snr_db=3)
