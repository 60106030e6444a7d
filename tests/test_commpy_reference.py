"""Uncoded BER of semlink's PHY against CommPy, an independent NumPy reference.

CommPy (``scikit-commpy``, BSD) has its own modems (``PSKModem``, ``QAMModem``)
and its own flat channel (``SISOFlatChannel``): nothing is shared with Sionna
or semlink but NumPy. For Gray QPSK, 8-PSK, 16-QAM and 64-QAM over AWGN and
Rayleigh fading (flat, a new coefficient per symbol, perfect CSI) both
simulate the same number of bits at three Es/N0 points, with hard decisions:
semlink's demapper gives LLRs ``log p(b=1)/p(b=0)``, signed by
``DigitalChain`` (``code="none"``); CommPy's ``demodulate(..., "hard")`` is
the nearest point after the zero-forcing equaliser ``y / h`` (the ML symbol
decision for a scalar channel with known ``h``).

SNR conventions: semlink's ``snr_db`` is Es/N0 per complex channel use with
unit-energy constellations (``no = 10**(-snr_db/10)``). CommPy's
``set_SNR_dB(snr, Es=modem.Es)`` on a complex channel gives noise of total
variance ``Es / 10**(snr/10)`` (``code_rate=1``): also Es/N0, with CommPy's
unnormalised QAM energy (10 for 16-QAM, 42 for 64-QAM) passed as ``Es``.

Labelling: CommPy's bit labels differ from Sionna's (CommPy QAM: a Gray code
along a snake path, Sionna: 3GPP 38.211), but both are Gray (checked here:
nearest neighbours differ in exactly one bit), so the BER is the same; QPSK
is CommPy's 4-PSK, a 45-degree rotation of semlink's QAM-4, which the
circularly symmetric noise and fading do not see.

Statistics: per-symbol bit-error counts are i.i.d. (independent symbols,
noise and fading per symbol), so the BER estimates are means of i.i.d.
variables; their difference is tested with a two-sample z statistic using
each side's sample variance of the per-symbol counts (bits of one symbol are
correlated; the symbol is the trial). |z| <= 4 has a false-alarm rate of
6.3e-5 per comparison (normal approximation; every point has >= 100 errors),
below 2e-3 for the 24 comparisons together (union bound). The same statistic
must *reject* CommPy 1 dB off at the middle point of every case: a 1 dB
calibration error, let alone an Eb/N0-for-Es/N0 mix-up (3-7.8 dB here),
would fail the test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from semlink.phy import DigitalChain
from semlink.phy.modulation import make_constellation

try:  # the reference is part of the ``test`` extra: missing means a broken setup, not a skip
    from commpy.channels import SISOFlatChannel
    from commpy.modulation import PSKModem, QAMModem
except ImportError as exc:  # pragma: no cover - exercised only on a broken environment
    raise ImportError(
        "tests/test_commpy_reference.py needs CommPy: pip install 'semlink[test]' "
        "(or pip install scikit-commpy)") from exc

BITS = 240_000  # per point and simulator; divisible by 2, 3, 4 and 6 bits per symbol
K = 1_200       # semlink block length (a multiple of every m here: bits of a symbol stay together)
Z_MAX = 4.0     # two-sided false alarm 6.3e-5 per comparison

MODEMS = {
    "qpsk": lambda: PSKModem(4),
    "psk8": lambda: PSKModem(8),
    "qam16": lambda: QAMModem(16),
    "qam64": lambda: QAMModem(64),
}

#: Es/N0 points [dB]: BER from about 5e-2 down to about 1e-3 in each case
ESNO_DB = {
    ("qpsk", "awgn"): (3.0, 6.0, 9.0),
    ("psk8", "awgn"): (8.0, 12.0, 15.0),
    ("qam16", "awgn"): (10.0, 14.0, 17.0),
    ("qam64", "awgn"): (16.0, 20.0, 23.0),
    ("qpsk", "rayleigh"): (5.0, 15.0, 24.0),
    ("psk8", "rayleigh"): (10.0, 18.0, 27.0),
    ("qam16", "rayleigh"): (12.0, 20.0, 29.0),
    ("qam64", "rayleigh"): (16.0, 24.0, 33.0),
}

SEMLINK_CHANNELS = {
    "awgn": "awgn",
    "rayleigh": {"name": "rayleigh", "coherence": {"symbols": 1}, "csi": "perfect"},
}


def _gray_neighbours(points: np.ndarray) -> tuple[int, int]:
    """(nearest-neighbour pairs, pairs whose labels differ in one bit); label = index."""
    d = np.abs(points[:, None] - points[None, :])
    np.fill_diagonal(d, np.inf)
    pairs = np.argwhere(np.isclose(d, d.min(), rtol=1e-6))
    one_bit = sum(bin(int(i) ^ int(j)).count("1") == 1 for i, j in pairs)
    return len(pairs), one_bit


def _symbol_errors(bits: np.ndarray, bits_hat: np.ndarray, m: int) -> np.ndarray:
    """[num_symbols] bit errors per symbol (bits of a symbol are consecutive)."""
    return (bits.reshape(-1, m) != bits_hat.reshape(-1, m)).sum(axis=1)


def _semlink(modulation: str, channel: str, esno_db: float, bits: np.ndarray, seed: int,
             device: str) -> np.ndarray:
    chain = DigitalChain(code="none", k=K, crc=None, modulation=modulation,
                         channel=SEMLINK_CHANNELS[channel], seed=seed, device=device)
    (rx,), report = chain.transmit([bits], snr_db=esno_db, draw_seeds=[seed])
    assert int(report.channel_uses[0]) == bits.size // chain.bits_per_symbol
    return _symbol_errors(bits, rx.cpu().numpy(), chain.bits_per_symbol)


def _commpy(modulation: str, channel: str, esno_db: float, bits: np.ndarray,
            seed: int) -> np.ndarray:
    modem = MODEMS[modulation]()
    # a complex fading parameter makes the channel complex; (1, 0): no fading, (0, 1): Rayleigh
    fading = (1 + 0j, 0) if channel == "awgn" else (0j, 1)
    ch = SISOFlatChannel(fading_param=fading)
    ch.set_SNR_dB(esno_db, Es=modem.Es)
    state = np.random.get_state()  # CommPy draws from NumPy's global generator
    np.random.seed(seed)
    try:
        y = ch.propagate(modem.modulate(bits))
    finally:
        np.random.set_state(state)
    bits_hat = modem.demodulate(y / ch.channel_gains, "hard")  # perfect CSI, zero forcing
    return _symbol_errors(bits, bits_hat, modem.num_bits_symbol)


def _z(errors_a: np.ndarray, errors_b: np.ndarray, m: int) -> tuple[float, float, float]:
    """(BER a, BER b, two-sample z) from per-symbol error counts."""
    ber_a, ber_b = errors_a.mean() / m, errors_b.mean() / m
    var = errors_a.var(ddof=1) / errors_a.size + errors_b.var(ddof=1) / errors_b.size
    return ber_a, ber_b, (ber_a - ber_b) / (math.sqrt(var) / m)


@pytest.mark.parametrize("modulation", sorted(MODEMS))
def test_both_labellings_are_gray_with_known_energy(modulation, device):
    """BER depends on the labelling only through Gray-ness: both must be Gray."""
    ours = make_constellation(modulation, device=device).points.detach().cpu().numpy()
    modem = MODEMS[modulation]()
    theirs = np.asarray(modem.constellation)
    m = int(math.log2(len(ours)))
    assert modem.num_bits_symbol == m and len(theirs) == len(ours)
    for name, points in (("semlink", ours), ("commpy", theirs)):
        pairs, one_bit = _gray_neighbours(points)
        assert pairs > 0 and one_bit == pairs, f"{name} {modulation} is not Gray-labelled"
    assert np.mean(np.abs(ours) ** 2) == pytest.approx(1.0, rel=1e-5)
    # CommPy QAM is unnormalised: Es = 2(M-1)/3 (10 for 16-QAM, 42 for 64-QAM); PSK Es = 1
    expected_es = 2 * (len(theirs) - 1) / 3 if modulation.startswith("qam") else 1.0
    assert modem.Es == pytest.approx(expected_es)


@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
@pytest.mark.parametrize("modulation", sorted(MODEMS))
def test_uncoded_ber_matches_commpy(modulation, channel, device):
    m = int(math.log2(len(MODEMS[modulation]().constellation)))
    rng = np.random.default_rng(2026)
    points = ESNO_DB[(modulation, channel)]
    for i, esno_db in enumerate(points):
        bits = rng.integers(0, 2, BITS, dtype=np.uint8)
        ours = _semlink(modulation, channel, esno_db, bits, seed=100 + i, device=device)
        theirs = _commpy(modulation, channel, esno_db, bits, seed=200 + i)
        assert ours.sum() >= 100 and theirs.sum() >= 100, (
            f"{modulation}/{channel} @ {esno_db} dB: too few errors for the normal "
            f"approximation ({ours.sum()}, {theirs.sum()})")
        ber_ours, ber_theirs, z = _z(ours, theirs, m)
        assert abs(z) <= Z_MAX, (
            f"{modulation}/{channel} @ Es/N0 {esno_db} dB: semlink BER {ber_ours:.4e} vs "
            f"CommPy {ber_theirs:.4e} (z = {z:.1f}, both {BITS} bits)")
        if i == 1:  # the comparison is sharp: a 1 dB SNR error is rejected
            off = _commpy(modulation, channel, esno_db + 1.0, bits, seed=300 + i)
            _, ber_off, z_off = _z(ours, off, m)
            assert z_off > Z_MAX, (
                f"{modulation}/{channel} @ {esno_db} dB: CommPy 1 dB higher ({ber_off:.4e}) "
                f"is not told apart from semlink ({ber_ours:.4e}), z = {z_off:.1f}")


def test_commpy_snr_convention_is_es_over_n0():
    """CommPy's set_SNR_dB with Es given is Es/N0: noise of total variance Es/SNR."""
    ch = SISOFlatChannel(fading_param=(1 + 0j, 0))
    ch.set_SNR_dB(10.0, Es=42.0)
    state = np.random.get_state()
    np.random.seed(5)
    try:
        y = ch.propagate(np.zeros(200_000, dtype=complex))
    finally:
        np.random.set_state(state)
    assert np.mean(np.abs(y) ** 2) == pytest.approx(4.2, rel=0.02)
    assert np.mean(y.real ** 2) == pytest.approx(2.1, rel=0.02)


def main() -> None:
    """Print every point of the comparison (the figures quoted in docs/phy.md):
    ``python tests/test_commpy_reference.py``."""
    print(f"{'modulation':10s} {'channel':8s} {'Es/N0':>6s}  {'semlink':>9s}  {'CommPy':>9s}  {'z':>6s}"
          f"  {'CommPy +1 dB':>12s}  {'z':>6s}   ({BITS} bits per point and simulator)")
    for (modulation, channel), points in ESNO_DB.items():
        m = int(math.log2(len(MODEMS[modulation]().constellation)))
        rng = np.random.default_rng(2026)                       # as in the test
        for i, esno_db in enumerate(points):
            bits = rng.integers(0, 2, BITS, dtype=np.uint8)
            ours = _semlink(modulation, channel, esno_db, bits, seed=100 + i, device="cpu")
            theirs = _commpy(modulation, channel, esno_db, bits, seed=200 + i)
            ber_ours, ber_theirs, z = _z(ours, theirs, m)
            line = (f"{modulation:10s} {channel:8s} {esno_db:6.1f}  {ber_ours:9.3e}  "
                    f"{ber_theirs:9.3e}  {z:+6.2f}")
            if i == 1:
                off = _commpy(modulation, channel, esno_db + 1.0, bits, seed=300 + i)
                _, ber_off, z_off = _z(ours, off, m)
                line += f"  {ber_off:12.3e}  {z_off:+6.1f}"
            print(line)


if __name__ == "__main__":
    main()
