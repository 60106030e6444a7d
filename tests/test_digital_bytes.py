"""The digital chain's byte path (phy/digital.py, phy/coding.py): transmit() segments the
streams into uint8 blocks, the uncoded mapper reads them as they are, hard decisions stay
bytes, and the report counts errors by xor. It must receive exactly what the float path
receives, and the report must count exactly the bits that differ."""

import numpy as np
import pytest
import torch
from sionna.phy.mapping import Demapper

from semlink.phy import DigitalChain
from semlink.phy.channels.draws import DrawPlan
from semlink.phy.coding import reassemble, segment

CHAINS = {
    "uncoded": dict(code="none", k=1024, crc=None, modulation="qpsk", channel="awgn"),
    "uncoded-crc": dict(code="none", k=1024, crc="CRC16", modulation="qam16", channel="awgn"),
    "uncoded-pad": dict(code="none", k=1001, crc=None, modulation="qpsk",     # m does not divide n
                        channel={"name": "rayleigh", "coherence": "block", "csi": "ls",
                                 "num_pilots": 2}),
    "ldpc": dict(k=512, n=1024, modulation="psk8", channel="awgn"),
}


def _streams(k_info, rng):
    lengths = [3 * k_info, k_info - 5, 1, 0, 2 * k_info + 17]
    return [torch.from_numpy(rng.integers(0, 2, n, dtype=np.uint8)) for n in lengths]


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_uint8_and_float_blocks_receive_the_same_bits(name, device):
    chain = DigitalChain(seed=4, device=device, **CHAINS[name])
    rng = np.random.default_rng(1)
    streams = [s.to(device) for s in _streams(chain.config.k_info, rng)]
    lengths = np.array([s.numel() for s in streams])
    flat = torch.cat(streams)
    received = {}
    for dtype in (torch.uint8, torch.float32):
        blocks, seg = segment(flat, chain.config.k_info, device=device, lengths=lengths,
                              dtype=dtype)
        assert blocks.dtype == dtype
        nb = seg.blocks_host
        plan = DrawPlan.build(nb, nb * chain.symbols_per_block, range(len(nb)), range(len(nb)),
                              block_symbols=chain.symbols_per_block, device=device)
        no = torch.full((blocks.shape[0],), 1.0, device=device)     # errors on every path
        rx, crc_ok = chain.transmit_blocks(blocks, no, plan)
        assert rx.dtype == dtype and rx.device == blocks.device
        received[dtype] = (rx.to(torch.uint8).cpu(), None if crc_ok is None else crc_ok.cpu(),
                           [r.cpu() for r in reassemble(rx, seg)])
    (a, ca, ra), (b, cb, rb) = received[torch.uint8], received[torch.float32]
    assert torch.equal(a, b)
    assert (ca is None and cb is None) or torch.equal(ca, cb)
    assert all(torch.equal(x, y) for x, y in zip(ra, rb, strict=True))
    assert int((a != segment(flat, chain.config.k_info, device=device, lengths=lengths,
                             dtype=torch.uint8)[0].cpu()).sum()) > 0     # noise did act


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_report_counts_exactly_the_bits_that_differ(name, device):
    chain = DigitalChain(seed=5, device=device, **CHAINS[name])
    streams = _streams(chain.config.k_info, np.random.default_rng(2))
    rx, rep = chain.transmit(streams, snr_db=3.0, draw_seeds=[11, 12, 13, 14, 15])
    for s, r, errors, n in zip(streams, rx, rep.bit_errors, rep.info_bits, strict=True):
        assert r.dtype == torch.uint8 and r.device == torch.device(chain.device)
        assert int(n) == s.numel() and int(errors) == int((s != r.cpu()).sum())
    assert rep.bit_errors.sum() > 0
    assert (rep.block_errors <= rep.blocks).all()
    # the same draws again: the same bits and counts (draw seeds fix the noise)
    rx2, rep2 = chain.transmit(streams, snr_db=3.0, draw_seeds=[11, 12, 13, 14, 15])
    assert all(torch.equal(a, b) for a, b in zip(rx, rx2, strict=True))
    assert np.array_equal(rep.bit_errors, rep2.bit_errors)


@pytest.mark.parametrize("method", ["app", "maxlog"])
def test_demapper_with_one_noise_value_per_row_gives_the_same_llrs(method, device):
    """The chain hands the demapper AWGN's [rows, 1] noise variances instead of their
    [rows, n] broadcast view: the LLRs are the same, bit for bit."""
    chain = DigitalChain(code="none", k=1024, crc=None, modulation="qam16", channel="awgn",
                         device=device)
    dm = Demapper(method, constellation=chain.constellation, device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    y = torch.randn(64, 256, dtype=torch.complex64, generator=gen, device=device)
    no = torch.rand(64, 1, generator=gen, device=device) + 0.01
    assert torch.equal(dm(y, no.expand(64, 256)), dm(y, no))


def test_bad_bits_still_name_the_stream(device):
    chain = DigitalChain(code="none", k=64, crc=None, device=device)
    good = np.zeros(10, np.uint8)
    with pytest.raises(ValueError, match=r"bitstreams\[1\] must contain only 0/1 bits"):
        chain.transmit([good, np.array([0, 1, 2], np.uint8)], snr_db=5.0)
    with pytest.raises(ValueError, match=r"bitstreams\[0\] must contain only 0/1 bits"):
        chain.transmit([np.array([0.5, 1.0])], snr_db=5.0)
