"""Estimated CSI (LS pilots) vs perfect CSI, and effective-noise correctness."""

import pytest
import torch
from sionna.phy.mapping import Demapper

from reference import ber_bpsk_rayleigh
from semlink.phy import DigitalChain, RayleighChannel, make_constellation, simulate_ber
from stats import assert_rate_close


def _ber(channel, ebno_db, blocks=400, device="cpu"):
    # block fading: one coefficient per 2000-bit row, so estimation errors
    # are shared by many symbols; trials counted in coherence blocks * 50
    chain = DigitalChain(code="none", k=2000, crc=None, modulation="bpsk", channel=channel, seed=11,
                         device=device)
    (p,) = simulate_ber(chain, ebno_db=[ebno_db], batch_size=blocks, max_blocks=blocks,
                        target_block_errors=10**9, seed=5)
    return p


@pytest.mark.parametrize("num_pilots", [1, 4, 16])
def test_ls_csi_matches_closed_form(num_pilots, device):
    ebno_db = 10.0
    ch = {"name": "rayleigh", "coherence": {"symbols": 20}, "csi": "ls", "num_pilots": num_pilots}
    p = _ber(ch, ebno_db, blocks=1000, device=device)
    # Eb/N0 counts pilot energy; the closed form is in data-symbol Es/N0
    es_db = ebno_db + 10 * torch.log10(torch.tensor(20 / (20 + num_pilots))).item()
    expected = float(ber_bpsk_rayleigh(es_db, num_pilots=num_pilots))
    # errors cluster within a coherence block (shared h and h_hat): count one
    # trial per coherence block of 20 bits (conservative)
    assert_rate_close(p.bit_errors / 20, p.bits / 20, expected, what=f"LS Np={num_pilots}")


def test_estimated_csi_worse_by_plausible_margin_and_converges(device):
    snr_db = 10.0  # same Es/N0 per channel use for all
    chans = {np_: {"name": "rayleigh", "coherence": {"symbols": 20}, "csi": "ls", "num_pilots": np_}
             for np_ in (1, 2, 8, 64)}
    bers = {}
    for np_, ch in chans.items():
        chain = DigitalChain(code="none", k=2000, crc=None, modulation="bpsk", channel=ch, seed=2,
                             device=device)
        (p,) = simulate_ber(chain, snr_db=[snr_db], batch_size=1000, max_blocks=1000,
                            target_block_errors=10**9, seed=1)
        bers[np_] = p.ber
    chain = DigitalChain(code="none", k=2000, crc=None, modulation="bpsk",
                         channel={"name": "rayleigh", "coherence": {"symbols": 20}}, seed=2,
                         device=device)
    (p,) = simulate_ber(chain, snr_db=[snr_db], batch_size=1000, max_blocks=1000,
                        target_block_errors=10**9, seed=1)
    perfect = p.ber
    # one pilot: estimation noise as large as the data noise -> about 3 dB at high SNR
    # (Rayleigh BER ~ 1/(4 snr)): ratio close to 2, certainly between 1.5 and 2.5
    assert 1.5 < bers[1] / perfect < 2.5
    assert bers[1] > bers[2] > bers[8] > perfect
    assert bers[64] / perfect < 1.1


def test_perfect_csi_effective_noise_is_no_over_h2(device):
    """Equalised residual divided by the reported no_eff is unit-variance CN noise."""
    ch = RayleighChannel(coherence={"symbols": 1}, seed=3, device=device)
    x = torch.exp(1j * 2 * torch.pi * torch.rand(64, 4000, device=device)).to(torch.complex64)
    no = torch.full((64,), 0.3, device=device)
    y, no_eff = ch(x, no)
    z = (y - x) / no_eff.sqrt()
    assert abs(z.abs().square().mean().item() - 1.0) < 0.02
    # no_eff really varies with |h|^2 (not a constant no)
    assert no_eff.std() > 0.1


def _llr_calibration(no_eff_scale, device):
    const = make_constellation("qpsk", device=device)
    demap = Demapper("app", constellation=const, device=device)
    ch = RayleighChannel(coherence={"symbols": 1}, seed=9, device=device)
    bits = torch.randint(0, 2, (200, 2000), device=device).float()
    idx = bits[:, 0::2] * 2 + bits[:, 1::2]
    x = const()[idx.long()]
    y, no_eff = ch(x, torch.full((200,), 10 ** (-5 / 10), device=device))
    llr = demap(y, no_eff * no_eff_scale)
    empirical = ((llr > 0).float() != bits).float().mean().item()
    predicted = torch.sigmoid(-llr.abs()).mean().item()
    return empirical, predicted


def test_llrs_are_calibrated_with_reported_effective_noise(device):
    empirical, predicted = _llr_calibration(1.0, device)
    assert abs(predicted - empirical) / empirical < 0.03
    # a wrong effective noise (e.g. 4x too small) is visibly miscalibrated
    empirical_bad, predicted_bad = _llr_calibration(0.25, device)
    assert abs(predicted_bad - empirical_bad) / empirical_bad > 0.2


def test_pilots_are_counted_as_channel_uses(device):
    ch = {"name": "rayleigh", "coherence": {"symbols": 64}, "csi": "ls", "num_pilots": 4}
    chain = DigitalChain(k=512, n=1024, crc="CRC16", modulation="qpsk", channel=ch, seed=0,
                         device=device)
    # 512 data symbols per block -> 8 coherence blocks x 4 pilots = 32 pilots
    assert chain.channel_uses_per_block == 512 + 32
    _, rep = chain.transmit([torch.ones(1000, dtype=torch.uint8)], snr_db=20.0)
    # 1000 bits, 496 payload bits per block (512 - CRC16) -> 3 blocks
    assert rep.channel_uses[0] == 3 * (512 + 32)
