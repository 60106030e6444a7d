"""The compiled CPU LDPC decoder (``decoder: ldpc``) against Sionna's decoder."""

import json
import sys

import pytest
import torch
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.fec.ldpc.decoding import LDPCBPDecoder

from ldpc_llrs import qpsk_awgn_llrs as _llrs
from semlink.links.cli import main as cli_main
from semlink.links.profiles import check_profile, resolved_profile
from semlink.phy import DigitalChain, simulate_ber
from semlink.phy.ldpc_compiled import CompiledBPDecoder, rate_recovered_llrs
from semlink.phy.ldpc_decoding import LDPCDecoder
from stats import two_sample_z


@pytest.mark.parametrize("k, n, bits_per_symbol", [(1024, 2048, None), (256, 512, 2),
                                                    (500, 1500, 4), (100, 400, None)])
def test_rate_recovery_is_sionnas(monkeypatch, k, n, bits_per_symbol, device):
    """The graph input equals what Sionna's LDPC5GDecoder hands its BP core."""
    enc = LDPC5GEncoder(k, n, num_bits_per_symbol=bits_per_symbol, device=device)
    seen = {}
    original = LDPCBPDecoder.call

    def tap(self, llr_ch, /, **kw):
        seen["llr"] = llr_ch.clone()
        return original(self, llr_ch, **kw)

    monkeypatch.setattr(LDPCBPDecoder, "call", tap)
    gen = torch.Generator(device="cpu").manual_seed(k)
    llr = (torch.randn(3, n, generator=gen, device="cpu") * 30).to(device)   # clipping at 20 matters
    sionna = LDPC5GDecoder(enc, num_iter=1, device=device)
    sionna(llr)
    mine = rate_recovered_llrs(llr, enc, sionna.pcm.shape[1])
    assert torch.equal(mine, seen["llr"].clamp(-20, 20))
    assert mine.shape[1] == CompiledBPDecoder(enc).num_vns


@pytest.mark.parametrize("snr_db", [0.5, 3.0])      # in the waterfall, and above it
def test_compiled_decoder_agrees_with_sionna(snr_db, device):
    # reference: Sionna's decoder; above the waterfall with early termination (its
    # bits are those of the full 20 iterations, tests/test_early_termination.py)
    blocks = 200 if snr_db < 1 else 400
    enc, u, llr = _llrs(128, 256, snr_db, blocks, seed=int(snr_db * 10) + 3, device=device)
    u_s, _ = LDPCDecoder(enc, max_iter=20, early_termination=snr_db > 1, device=device)(llr)
    u_c, it_c = CompiledBPDecoder(enc, max_iter=20)(llr)
    assert u_c.shape == (blocks, 128) and it_c.dtype == torch.int64
    converged = it_c < 20
    assert bool(converged.any())
    # converged code words decode to the same bits as Sionna's 20 iterations
    assert torch.equal(u_c[converged], u_s[converged])
    blk_s, blk_c = (u_s != u).any(1).sum().item(), (u_c != u).any(1).sum().item()
    bit_s, bit_c = (u_s != u).sum().item(), (u_c != u).sum().item()
    if blk_s + blk_c:        # BLER and BER agree within their confidence intervals
        assert abs(two_sample_z(blk_c, blocks, blk_s, blocks)) < 4
        assert abs(two_sample_z(bit_c, u.numel(), bit_s, u.numel())) < 4
    if snr_db == 0.5:
        assert 0.05 < blk_s / blocks < 0.95          # really a waterfall point
        assert it_c.float().mean() > 8
    else:
        assert blk_s <= 4 and blk_c <= 4          # BLER <= 1e-2
        assert it_c.float().mean() < 10


def test_compiled_decoder_honours_max_iter(device):
    enc, _, llr = _llrs(256, 512, -1.0, 30, seed=1, device=device)      # far below the threshold
    _, it = CompiledBPDecoder(enc, max_iter=3)(llr)
    assert int(it.max()) == 3 and bool((it >= 1).all())
    # a received code word needs no BP at all
    c = enc(torch.zeros(2, 256, device=device))
    _, it0 = CompiledBPDecoder(enc)(20.0 * (2 * c - 1))
    assert it0.tolist() == [0, 0]


def test_decoder_key_is_validated():
    with pytest.raises(ValueError, match=r"profiles\.p: decoder must be one of .*'fast'"):
        check_profile("p", {"decoder": "fast"})
    with pytest.raises(ValueError, match="expected str"):
        check_profile("p", {"decoder": 1})
    with pytest.raises(ValueError, match="always stops .* early_termination: true"):
        check_profile("p", {"decoder": "ldpc", "early_termination": False})
    with pytest.raises(ValueError, match="cn_update 'offset-minsum' is not available"):
        check_profile("p", {"decoder": "ldpc", "cn_update": "offset-minsum"})
    assert check_profile("p", {"decoder": "ldpc", "rate": 0.5})["decoder"] == "ldpc"
    assert resolved_profile({"kind": "digital", "rate": 0.5})["decoder"] == "sionna"
    assert "decoder" not in resolved_profile({"kind": "digital", "code": "none", "k": 64})


def test_missing_package_names_the_install(monkeypatch, device):
    monkeypatch.setitem(sys.modules, "ldpc", None)          # import ldpc -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'semlink\[ldpc-cpu\]'"):
        DigitalChain(k=128, n=256, decoder="ldpc", device=device)


def test_chain_and_ber_command_with_the_compiled_decoder(capsys, device):
    chain = DigitalChain(k=128, n=256, decoder="ldpc", seed=0, device=device)
    assert chain.describe()["decoder"] == "ldpc"
    (p,) = simulate_ber(chain, snr_db=[8.0], batch_size=50, max_blocks=50, seed=0)
    assert p.block_errors == 0 and 1 <= p.mean_iterations < 5
    assert cli_main(["ber", "--k", "64", "--n", "128", "--ebno-db", "2", "--max-blocks", "40",
                     "--batch-size", "40", "--decoder", "ldpc", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["config"]["decoder"] == "ldpc"
    assert lines[1]["blocks"] == 40 and lines[1]["mean_iterations"] >= 1


def test_compiled_decoder_builds_for_an_encoder_on_a_gpu(monkeypatch):
    """A chain on CUDA hands the compiled (host) decoder a ``cuda:0`` encoder: its graph is
    read from a CPU twin, not from a Sionna decoder built on the CPU beside a CUDA encoder,
    which newer Sionna 2.x refuses (the H200 run of 2026-12-04 found this for decoder:
    triton). A CPU encoder that reports ``cuda:0`` and Sionna's device check stand in."""
    import semlink.phy.ldpc_graph as lg

    class DeviceChecking(LDPC5GDecoder):
        def __init__(self, encoder, *args, device=None, **kwargs):
            if device is not None and str(device) != str(encoder.device):
                raise ValueError(f"LDPC5GDecoder is on device {device!r}, but its encoder "
                                 f"(LDPC5GEncoder) is on device {encoder.device!r}")
            super().__init__(encoder, *args, device=device, **kwargs)

    monkeypatch.setattr(lg, "LDPC5GDecoder", DeviceChecking)
    ref = CompiledBPDecoder(LDPC5GEncoder(100, 300, num_bits_per_symbol=2, device="cpu"))
    enc = LDPC5GEncoder(100, 300, num_bits_per_symbol=2, device="cpu")
    enc._device_str = "cuda:0"          # what Sionna's Object.device reports on a GPU
    assert enc.device == "cuda:0"
    dec = CompiledBPDecoder(enc)
    assert (dec.pcm != ref.pcm).nnz == 0 and dec.num_vns == ref.num_vns
    with pytest.raises(ValueError, match="is on device 'cuda:0'"):
        DeviceChecking(enc, num_iter=1, device="cpu")
