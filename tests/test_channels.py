"""Channels: noise variance, fading statistics, coherence, per-example noise, errors
(on the device of ``SEMLINK_TEST_DEVICE``, default the CPU)."""

import numpy as np
import pytest
import torch

from semlink.phy import AWGNChannel, FlatFadingChannel, RayleighChannel, RicianChannel


def test_awgn_noise_has_requested_variance_per_example(device):
    ch = AWGNChannel(seed=0, device=device)
    x = torch.zeros(3, 200_000, dtype=torch.complex64, device=device)
    no = torch.tensor([0.01, 1.0, 4.0], device=device)
    y, no_eff = ch(x, no)
    var = y.abs().square().mean(dim=1)
    assert torch.allclose(var, no, rtol=0.02)
    # circular: half the variance in each real dimension, uncorrelated
    assert torch.allclose(y.real.var(dim=1), no / 2, rtol=0.02)
    assert abs(float((y.real * y.imag).mean(dim=1)[2])) < 0.02
    assert torch.allclose(no_eff, no[:, None].expand_as(no_eff))


def test_awgn_scalar_noise_and_zero_noise(device):
    ch = AWGNChannel(seed=0, device=device)
    x = torch.ones(2, 10, dtype=torch.complex64, device=device)
    y, _ = ch(x, 0.0)
    assert torch.equal(y, x)


def test_rayleigh_coefficients_unit_power_and_rayleigh_amplitude(device):
    ch = RayleighChannel(seed=1, device=device)
    h = ch.sample_coefficients((400_000,))
    assert h.abs().square().mean().item() == pytest.approx(1.0, rel=0.01)
    # |h|^2 is exponential(1): P(|h|^2 < 0.1) = 1 - exp(-0.1)
    assert (h.abs().square() < 0.1).float().mean().item() == pytest.approx(1 - np.exp(-0.1), abs=3e-3)


def test_rician_k_factor(device):
    k = 4.0
    ch = RicianChannel(k_factor=k, seed=2, device=device)
    h = ch.sample_coefficients((400_000,))
    assert h.abs().square().mean().item() == pytest.approx(1.0, rel=0.01)
    assert h.mean().real.item() == pytest.approx(np.sqrt(k / (k + 1)), abs=5e-3)
    assert h.var().item() == pytest.approx(1 / (k + 1), rel=0.02)


@pytest.mark.parametrize("coherence", [{"symbols": 1}, {"symbols": 7}, "block", "item"])
def test_coherence_structure(coherence, device):
    ch = RayleighChannel(coherence=coherence, seed=3, device=device)
    x = torch.ones(4, 50, dtype=torch.complex64, device=device)
    _, no_eff = ch(x, 1.0)              # no_eff = 1/|h|^2 reveals the coefficients
    g = no_eff.cpu().numpy()
    L = coherence["symbols"] if isinstance(coherence, dict) else 50   # a row = one item
    for start in range(0, 50, L):
        seg = g[:, start:start + L]
        assert np.allclose(seg, seg[:, :1])
    if L < 50:
        assert not np.allclose(g[:, 0], g[:, L])
    assert not np.allclose(g[0], g[1])  # independent between rows


def test_pilot_count():
    ch = FlatFadingChannel(coherence={"symbols": 10}, csi="ls", num_pilots=3)
    assert ch.num_pilot_symbols(25) == 9
    assert ch.num_pilot_symbols(0) == 0
    assert RayleighChannel(coherence="block", csi="ls", num_pilots=2).num_pilot_symbols(999) == 2
    assert RayleighChannel(coherence="item", csi="ls", num_pilots=2).num_pilot_symbols(999) == 2
    assert RayleighChannel(csi="perfect").num_pilot_symbols(100) == 0


@pytest.mark.parametrize("kwargs,match", [
    (dict(coherence_length=0), "coherence_length"), (dict(csi="mmse"), "csi"),
    (dict(coherence_length=None), "coherence: block"), (dict(coherence={"symbols": 0}), "coherence"),
    (dict(coherence="frame"), "'block' or 'item'"), (dict(coherence={"L": 4}), "coherence"),
    (dict(coherence="item", coherence_length=4), "not both"),
    (dict(csi="ls", num_pilots=0), "num_pilots"), (dict(fading="nakagami"), "fading"),
    (dict(fading="rician", k_factor=-1), "k_factor"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FlatFadingChannel(**kwargs)


def test_bad_inputs(device):
    ch = AWGNChannel(device=device)
    with pytest.raises(ValueError, match="one value per example"):
        ch(torch.ones(3, 4, dtype=torch.complex64, device=device), torch.ones(2, device=device))
    with pytest.raises(ValueError, match="complex tensor of shape"):
        ch(torch.ones(3, 4, device=device), 1.0)
    with pytest.raises(ValueError, match=">= 0"):
        ch(torch.ones(3, 4, dtype=torch.complex64, device=device), -1.0)


def test_seeded_channels_reproduce_and_differ_by_seed(device):
    x = torch.ones(2, 100, dtype=torch.complex64, device=device)
    ch = RayleighChannel(seed=5, device=device)
    a, _ = ch(x, 0.1)
    b, _ = RayleighChannel(seed=5, device=device)(x, 0.1)
    c, _ = RayleighChannel(seed=6, device=device)(x, 0.1)
    again, _ = ch(x, 0.1)                # a direct call draws fresh item seeds
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, again)


def test_deprecated_coherence_length_still_works_with_a_warning():
    with pytest.warns(FutureWarning, match=r"coherence: \{symbols: 8\}"):
        ch = RayleighChannel(coherence_length=8)
    assert ch.coherence == {"symbols": 8}


def test_csi_none_does_not_equalise(device):
    ch = RayleighChannel(coherence="item", csi="none", seed=4, device=device)
    x = torch.ones(3, 1000, dtype=torch.complex64, device=device)
    y, no_eff = ch(x, 1e-8)
    h = y[:, :1]                        # y = h x + n, one h per row
    assert torch.allclose(y, h.expand_as(y), atol=1e-3)
    assert not torch.allclose(h.abs(), torch.ones(3, 1, device=device))
    assert torch.allclose(no_eff, torch.full_like(no_eff, 1e-8))


def test_fading_statistics_through_the_channel_call(device):
    """|h|^2 read back from no_eff (perfect CSI: no_eff = no/|h|^2) is Exp(1) for
    Rayleigh; a Rician channel's mean coefficient is sqrt(K/(K+1))."""
    from scipy import stats

    ch = RayleighChannel(coherence={"symbols": 1}, seed=8, device=device)
    _, no_eff = ch(torch.ones(20, 5000, dtype=torch.complex64, device=device), 1.0)
    gain = (1.0 / no_eff).cpu().numpy().ravel()
    assert stats.kstest(gain, "expon").pvalue > 1e-3
    k = 3.0
    ch = RicianChannel(k_factor=k, coherence={"symbols": 1}, csi="none", seed=9, device=device)
    y, _ = ch(torch.ones(20, 5000, dtype=torch.complex64, device=device), 0.0)
    assert y.mean().real.item() == pytest.approx(np.sqrt(k / (k + 1)), abs=0.01)
    assert y.var().item() == pytest.approx(1 / (k + 1), rel=0.03)


def test_built_in_channels_draw_with_the_counter_generator():
    from semlink.phy.channels import noise_generator_of
    from semlink.phy.counter_rng import LEGACY_NAME, NAME

    assert AWGNChannel(seed=0).noise_generator == NAME
    assert noise_generator_of({"name": "rayleigh", "coherence": "item"}) == NAME
    assert noise_generator_of("rician") == NAME

    class OldStyle(AWGNChannel):
        counter_draws = False

    assert OldStyle(seed=0).noise_generator == LEGACY_NAME
