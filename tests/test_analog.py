"""Analog chain: power normalisation, channel uses, equalisation."""

import numpy as np
import pytest
import torch

from semlink.phy import AnalogChain


def test_power_normalisation_and_awgn_snr(device):
    chain = AnalogChain("awgn", seed=0, device=device)
    rng = np.random.default_rng(0)
    items = [torch.tensor(rng.normal(size=n) * 7 + 1j * rng.normal(size=n) * 3, device=device)
             for n in (5000, 20000)]
    rx, rep = chain.transmit(items, snr_db=[10.0, 0.0])
    for x, y, snr in zip(items, rx, (10.0, 0.0), strict=True):
        assert y.device.type == torch.device(device).type      # chains return on their device
        y = y.cpu()
        x = x.to(torch.complex64).cpu()
        xn = x * torch.sqrt(1 / x.abs().square().mean())
        assert xn.abs().square().mean().item() == pytest.approx(1.0, rel=1e-4)
        noise = (y - xn).abs().square().mean().item()
        assert noise == pytest.approx(10 ** (-snr / 10), rel=0.05)
    assert list(rep.channel_uses) == [5000, 20000]
    assert rep.input_power[0] == pytest.approx(49 + 9, rel=0.05)


def test_fading_with_pilots_counts_channel_uses_and_equalises(device):
    chain = AnalogChain({"name": "rayleigh", "coherence": {"symbols": 100}, "csi": "ls",
                         "num_pilots": 2}, seed=1, device=device)
    x = torch.exp(1j * torch.linspace(0, 6, 1000, device=device)).to(torch.complex64)
    rx, rep = chain.transmit([x, x[:150]], snr_db=40.0)
    assert list(rep.channel_uses) == [1000 + 20, 150 + 4]
    # high SNR: equalised output close to the input (pilot-estimated CSI)
    assert (rx[0] - x).abs().max().item() < 0.2
    assert rep.no_eff[1].shape == (150,)


def test_errors(device):
    chain = AnalogChain(device=device)
    with pytest.raises(ValueError, match=r"symbols\[1\] are all zero"):
        chain.transmit([torch.ones(3, dtype=torch.complex64),
                        torch.zeros(4, dtype=torch.complex64)], snr_db=1)
    with pytest.raises(ValueError, match="must be 1-D"):
        chain.transmit([torch.ones(2, 2, dtype=torch.complex64)], snr_db=1)
    with pytest.raises(ValueError, match="normalize"):
        AnalogChain(normalize="peak")


def test_one_channel_call_for_all_items_and_batch_independent_values(device):
    """All items go through one channel call; an item's received symbols and its
    reported power and no_eff are the same alone or among others (different widths)."""
    chain = AnalogChain({"name": "rician", "k_factor": 1.5, "coherence": {"symbols": 7},
                         "csi": "ls", "num_pilots": 2}, seed=3, device=device)
    calls = []
    original = chain.channel.call
    chain.channel.call = lambda x, no: calls.append(tuple(x.shape)) or original(x, no)
    gen = torch.Generator(device="cpu").manual_seed(5)
    items = [torch.randn(n, dtype=torch.complex64, generator=gen) * 3 for n in (50, 1003, 7, 0)]
    seeds, groups = [11, 12, 13, 14], [1, 1, 2, 2]
    rx, rep = chain.transmit(items, 5.0, draw_seeds=seeds, group_seeds=groups)
    assert calls == [(4, 1003)]
    assert [len(r) for r in rx] == [50, 1003, 7, 0]
    for i in (0, 1, 2):
        alone, rep1 = chain.transmit([items[i]], 5.0, draw_seeds=[seeds[i]],
                                     group_seeds=[groups[i]])
        assert torch.equal(alone[0].cpu(), rx[i].cpu())
        assert rep1.input_power[0] == rep.input_power[i]
        assert np.array_equal(rep1.no_eff[0], rep.no_eff[i])
    assert rep.input_power[1] == pytest.approx(9.0, rel=0.15)
