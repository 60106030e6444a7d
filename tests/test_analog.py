"""Analog chain: power normalisation, channel uses, equalisation."""

import numpy as np
import pytest
import torch

from semlink.phy import AnalogChain


def test_power_normalisation_and_awgn_snr():
    chain = AnalogChain("awgn", seed=0)
    rng = np.random.default_rng(0)
    items = [torch.tensor(rng.normal(size=n) * 7 + 1j * rng.normal(size=n) * 3) for n in (5000, 20000)]
    rx, rep = chain.transmit(items, snr_db=[10.0, 0.0])
    for x, y, snr in zip(items, rx, (10.0, 0.0)):
        x = x.to(torch.complex64)
        xn = x * torch.sqrt(1 / x.abs().square().mean())
        assert xn.abs().square().mean().item() == pytest.approx(1.0, rel=1e-4)
        noise = (y - xn).abs().square().mean().item()
        assert noise == pytest.approx(10 ** (-snr / 10), rel=0.05)
    assert list(rep.channel_uses) == [5000, 20000]
    assert rep.input_power[0] == pytest.approx(49 + 9, rel=0.05)


def test_fading_with_pilots_counts_channel_uses_and_equalises():
    chain = AnalogChain({"name": "rayleigh", "coherence": {"symbols": 100}, "csi": "ls",
                         "num_pilots": 2}, seed=1)
    x = torch.exp(1j * torch.linspace(0, 6, 1000)).to(torch.complex64)
    rx, rep = chain.transmit([x, x[:150]], snr_db=40.0)
    assert list(rep.channel_uses) == [1000 + 20, 150 + 4]
    # high SNR: equalised output close to the input (pilot-estimated CSI)
    assert (rx[0] - x).abs().max() < 0.2
    assert rep.no_eff[1].shape == (150,)


def test_errors():
    chain = AnalogChain()
    with pytest.raises(ValueError, match="all zero"):
        chain.transmit([torch.zeros(4, dtype=torch.complex64)], snr_db=1)
    with pytest.raises(ValueError, match="must be 1-D"):
        chain.transmit([torch.ones(2, 2, dtype=torch.complex64)], snr_db=1)
    with pytest.raises(ValueError, match="normalize"):
        AnalogChain(normalize="peak")
