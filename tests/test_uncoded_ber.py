"""Uncoded BER against closed forms (AWGN and Rayleigh fast fading, perfect CSI)."""

import pytest
import torch

from conftest import TEST_DEVICE
from reference import ber_bpsk_awgn, ber_bpsk_rayleigh, ber_psk_gray_awgn, ber_qam16_awgn
from semlink.phy import DigitalChain, simulate_ber
from stats import assert_rate_close


def _simulate(modulation, channel, ebno_db, bits=2_000_000):
    chain = DigitalChain(code="none", k=2000, crc=None, modulation=modulation,
                         channel=channel, seed=7, device=TEST_DEVICE)
    blocks = bits // 2000
    (point,) = simulate_ber(chain, ebno_db=[ebno_db], batch_size=blocks, max_blocks=blocks,
                            target_block_errors=10**9, seed=3)
    return point, chain.bits_per_symbol


@pytest.mark.parametrize("modulation,ebno_db", [("bpsk", 0.0), ("bpsk", 6.0), ("qpsk", 4.0),
                                                 ("qpsk", 8.0)])
def test_bpsk_qpsk_awgn(modulation, ebno_db):
    point, m = _simulate(modulation, "awgn", ebno_db)
    # correlated bits within a symbol: count trials in symbols (conservative)
    assert_rate_close(point.bit_errors / m, point.bits / m, float(ber_bpsk_awgn(ebno_db)),
                      what=f"{modulation} @ {ebno_db} dB")


@pytest.mark.parametrize("ebno_db", [4.0, 8.0])
def test_gray_8psk_awgn(ebno_db):
    point, m = _simulate("psk8", "awgn", ebno_db, bits=3_000_000)
    esno_db = ebno_db + 10 * torch.log10(torch.tensor(3.0)).item()
    expected = ber_psk_gray_awgn(3, esno_db)
    assert_rate_close(point.bit_errors / m, point.bits / m, expected, what="8-PSK")


def test_natural_8psk_would_fail_the_gray_reference():
    """The reference is sharp enough to tell Gray from natural labelling."""
    import numpy as np

    from reference import _phase_pdf  # noqa: F401  (same integrator)

    gray = ber_psk_gray_awgn(3, 10.0)
    # natural labelling: neighbours can differ in up to 3 bits -> higher BER
    M = 8
    from scipy import integrate

    sectors = [integrate.quad(_phase_pdf, 2 * np.pi * d / M - np.pi / M, 2 * np.pi * d / M + np.pi / M,
                              args=(10.0,))[0] for d in range(M)]
    natural = sum(sectors[d] * bin(i ^ ((i + d) % M)).count("1")
                  for i in range(M) for d in range(M)) / (M * 3)
    assert natural > 1.2 * gray


@pytest.mark.parametrize("ebno_db", [6.0, 10.0])
def test_16qam_awgn(ebno_db):
    point, m = _simulate("qam16", "awgn", ebno_db, bits=4_000_000)
    assert_rate_close(point.bit_errors / m, point.bits / m, float(ber_qam16_awgn(ebno_db)),
                      what="16-QAM")


@pytest.mark.parametrize("modulation,ebno_db", [("bpsk", 5.0), ("bpsk", 15.0), ("qpsk", 10.0)])
def test_rayleigh_fast_fading_perfect_csi(modulation, ebno_db):
    channel = {"name": "rayleigh", "coherence": {"symbols": 1}, "csi": "perfect"}
    point, m = _simulate(modulation, channel, ebno_db, bits=1_000_000)
    # fast fading: symbols are independent trials
    assert_rate_close(point.bit_errors / m, point.bits / m, float(ber_bpsk_rayleigh(ebno_db)),
                      what=f"{modulation} Rayleigh @ {ebno_db} dB")
