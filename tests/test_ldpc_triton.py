"""The Triton LDPC decoder (``decoder: triton``) against Sionna's decoder.

Without a GPU the kernels run in Triton's interpreter on CPU tensors
(``TRITON_INTERPRET=1``, set below before the kernels are first imported);
with ``SEMLINK_TEST_DEVICE=cuda`` the same tests run the compiled kernels.
The interpreter is slow: batches and codes are small, the statistical
agreement tests are marked ``slow`` (they still run in CI).
"""

import json
import math
import os

if not os.environ.get("SEMLINK_TEST_DEVICE", "cpu").startswith(("cuda", "gpu")):
    os.environ["TRITON_INTERPRET"] = "1"

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder

from ldpc_llrs import qpsk_awgn_llrs as _llrs
from semlink.links.cli import main as cli_main
from semlink.links.profiles import check_profile, resolved_profile
from semlink.phy import DigitalChain, simulate_ber
from semlink.phy.ldpc_decoding import LDPCDecoder, make_ldpc_decoder
from semlink.phy.ldpc_triton import TritonBPDecoder, check_triton_device, layer_starts
from stats import two_sample_z


def wilson(errors: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion."""
    p = errors / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials ** 2)) / (1 + z * z / trials)
    return centre - half, centre + half


def _codeword_llrs(enc, words, snr_db, seed):
    """Random info bits and the logits ``log p(1)/p(0) = 2 y / no`` of their code words sent
    as BPSK (bit 1 -> +1) over real AWGN of variance ``no`` = 10^(-snr_db / 10)."""
    gen = torch.Generator().manual_seed(seed)
    u = torch.randint(0, 2, (words, enc.k), generator=gen).float()
    c = enc(u).cpu()
    no = 10 ** (-snr_db / 10)
    y = (2 * c - 1) + math.sqrt(no) * torch.randn(c.shape, generator=gen)
    return u, 2 * y / no


@pytest.mark.parametrize("k, n", [(100, 200), (1024, 2048), (500, 1500), (4000, 4400)])
def test_graph_is_sionnas(k, n, device):
    """CSR check lists and per-variable edge lists are Sionna's pruned parity-check matrix."""
    enc = LDPC5GEncoder(k, n, device="cpu")
    dec = TritonBPDecoder(enc, device=device)
    pcm = sp.csr_matrix(LDPC5GDecoder(enc, num_iter=1, device="cpu").pcm)
    cn_ptr, cn_vn = dec._cn_ptr.cpu().numpy(), dec._cn_vn.cpu().numpy()
    mine = sp.csr_matrix((np.ones(len(cn_vn)), cn_vn, cn_ptr), shape=pcm.shape)
    assert (mine != pcm).nnz == 0 and dec.num_edges == pcm.nnz
    # every edge appears once in the per-variable lists, under its own variable
    vn_ptr, vn_edge = dec._vn_ptr.cpu().numpy(), dec._vn_edge.cpu().numpy()
    assert sorted(vn_edge.tolist()) == list(range(pcm.nnz))
    owner = np.repeat(np.arange(pcm.shape[1]), np.diff(vn_ptr))
    assert np.array_equal(cn_vn[vn_edge], owner)
    # layers of Z rows share no variable node (the layered schedule relies on it)
    assert layer_starts(pcm.shape[0], enc.z, cn_vn, cn_ptr)[1] == enc.z
    with pytest.raises(ValueError, match="share a variable node"):
        layer_starts(pcm.shape[0], 2 * enc.z, cn_vn, cn_ptr)


class _DeviceCheckingDecoder(LDPC5GDecoder):
    """Sionna's decoder with the device check newer Sionna 2.x releases make: a decoder on
    one device whose encoder is on another is refused (the H200 run of 2026-12-04 crashed
    ``decoder: triton`` on it: a CPU decoder built from a ``cuda:0`` encoder)."""

    def __init__(self, encoder, *args, device=None, **kwargs):
        if device is not None and str(device) != str(encoder.device):
            raise ValueError(f"LDPC5GDecoder is on device {device!r}, but its encoder "
                             f"(LDPC5GEncoder) is on device {encoder.device!r}")
        super().__init__(encoder, *args, device=device, **kwargs)


@pytest.mark.parametrize("schedule", ["flooding", "layered"])
def test_graph_of_an_encoder_on_another_device(monkeypatch, schedule, device):
    """An encoder on a CUDA device (a stand-in here: a CPU encoder that reports ``cuda:0``)
    gives the triton decoder Sionna's graph without building a Sionna decoder across two
    devices; the graph equals the one of a CPU encoder."""
    import semlink.phy.ldpc_graph as lg
    monkeypatch.setattr(lg, "LDPC5GDecoder", _DeviceCheckingDecoder)
    ref = TritonBPDecoder(LDPC5GEncoder(100, 300, num_bits_per_symbol=2, device="cpu"),
                          schedule=schedule, device=device)
    enc = LDPC5GEncoder(100, 300, num_bits_per_symbol=2, device="cpu")
    enc._device_str = "cuda:0"          # what Sionna's Object.device reports on a GPU
    assert enc.device == "cuda:0"
    dec = TritonBPDecoder(enc, schedule=schedule, device=device)
    for name in ("_cn_ptr", "_cn_vn", "_vn_ptr", "_vn_edge"):
        assert torch.equal(getattr(dec, name).cpu(), getattr(ref, name).cpu()), name
    assert dec._layers == ref._layers and dec.num_vns == ref.num_vns
    # the emulated check is live: Sionna's decoder on the CPU from this encoder is refused
    with pytest.raises(ValueError, match="is on device 'cuda:0'"):
        _DeviceCheckingDecoder(enc, num_iter=1, device="cpu")


def _agreement(snr_db, words, device):
    enc, u, llr = _llrs(128, 256, snr_db, words, seed=int(snr_db * 100) + 5)
    enc_cpu = LDPC5GEncoder(128, 256, device="cpu")
    ref = LDPC5GDecoder(enc_cpu, num_iter=20, device="cpu")(llr.cpu())
    mine, it = TritonBPDecoder(enc_cpu, early_termination=False, device=device)(llr)
    mine, it = mine.cpu(), it.cpu()
    assert mine.shape == (words, 128) and it.dtype == torch.int64 and bool((it == 20).all())
    same = (mine == ref).all(1)
    ok_ref, ok_mine = (ref == u).all(1), (mine == u).all(1)
    # decisions differ at most on words that neither decoder decodes (float32 rounding in
    # oscillating, failed words), and on at most 0.1 % of the words
    assert not bool((~same & (ok_ref | ok_mine)).any())
    assert int((~same).sum()) <= words // 1000
    blk_ref, blk_mine = int((~ok_ref).sum()), int((~ok_mine).sum())
    lo, hi = wilson(blk_mine, words)
    assert lo <= blk_ref / words <= hi
    lo, hi = wilson(blk_ref, words)
    assert lo <= blk_mine / words <= hi
    # early termination: as semlink's Sionna decoder, bits and iteration counts
    ref_et, it_ref = LDPCDecoder(enc_cpu, max_iter=20, early_termination=True, device="cpu")(
        llr.cpu())
    mine_et, it_et = TritonBPDecoder(enc_cpu, early_termination=True, device=device)(llr)
    mine_et, it_et = mine_et.cpu(), it_et.cpu()
    same_et = (mine_et == ref_et).all(1)
    assert int((~same_et).sum()) <= words // 1000
    assert torch.equal(it_et[same_et], it_ref[same_et])
    assert float(it_et.float().mean()) < 20
    return blk_ref / words


@pytest.mark.slow
@pytest.mark.parametrize("snr_db", [1.0, 1.5, 2.0])     # Es/N0 [dB]: three waterfall points
def test_flooding_boxplus_phi_agrees_with_sionna(snr_db, device):
    bler = _agreement(snr_db, 1000, device)
    assert 0.01 < bler < 0.9                              # really waterfall points


def _pairs():
    """Both base graphs, shortened (filler) and unshortened, the extremes of the profiles'
    range (k in [12, 8448], rate in [1/5, 0.95]) and the largest lifting size Z = 384 of
    each base graph, plus a seeded sample of (k, rate) among the pairs Sionna's encoder
    accepts (every pair the profiles allow is not affordable in the interpreter).

    Left out: pairs Sionna's own decoder cannot decode even without noise, e.g. (12, 13)
    and (24, 26) (rate matching leaves too few parity bits for the 2 Z punctured ones)."""
    fixed = [(12, 60), (12, 14), (40, 200), (100, 200), (292, 1460), (500, 1500),
             (3824, 4026), (3840, 19200), (8448, 8893), (8448, 25344)]
    rng = np.random.default_rng(23)
    sample = []
    while len(sample) < 4:
        k = int(rng.integers(12, 8449))
        n = int(round(k / float(rng.uniform(0.2, 0.95))))
        try:
            LDPC5GEncoder(k, n, device="cpu")
        except ValueError:            # e.g. BG1 (k > 3824) below rate 1/3: Sionna refuses
            continue
        sample.append((k, n))
    return fixed + sample


@pytest.mark.slow
@pytest.mark.parametrize("k, n", _pairs())
def test_round_trip_at_high_snr(k, n, device):
    enc = LDPC5GEncoder(k, n, device="cpu")
    u, llr = _codeword_llrs(enc, 3, snr_db=12.0, seed=k + n)
    u_hat, it = TritonBPDecoder(enc, device=device)(llr)
    assert torch.equal(u_hat.cpu(), u)
    assert int(it.max()) <= 5
    # and the iteration counts of semlink's Sionna decoder with early termination
    _, it_ref = LDPCDecoder(enc, device="cpu")(llr)
    assert torch.equal(it.cpu(), it_ref)


def test_round_trip_with_the_5g_output_interleaver(device):
    enc = LDPC5GEncoder(256, 512, num_bits_per_symbol=4, device="cpu")
    u, llr = _codeword_llrs(enc, 8, snr_db=6.0, seed=3)
    u_hat, it = TritonBPDecoder(enc, device=device)(llr)
    assert torch.equal(u_hat.cpu(), u) and int(it.max()) <= 3
    ref = LDPC5GDecoder(enc, num_iter=20, device="cpu")(llr)
    assert torch.equal(ref, u)


@pytest.mark.parametrize("decoder, cn_update, sionna_kw", [
    ("triton", "boxplus-phi", dict()),
    ("triton", "minsum", dict(cn_update="minsum")),
    pytest.param("triton", "offset-minsum", dict(cn_update="offset-minsum"),
                 marks=pytest.mark.slow),
    pytest.param("triton-layered", "boxplus-phi", dict(cn_schedule="layered"),
                 marks=pytest.mark.slow),
    pytest.param("triton-layered", "minsum", dict(cn_schedule="layered", cn_update="minsum"),
                 marks=pytest.mark.slow),
    ("triton-fp16", "boxplus-phi", dict()),
    pytest.param("triton-bf16", "boxplus-phi", dict(), marks=pytest.mark.slow),
])
def test_rules_and_labelled_variants(decoder, cn_update, sionna_kw, device):
    """Each rule and labelled variant (min-sum, offset min-sum, the layered schedule,
    half-precision messages) decodes at high SNR and agrees with Sionna's decoder of the
    same rule and schedule (float32 messages) on a waterfall point (8 iterations, 100
    words: the fast version of the slow agreement tests above)."""
    enc = LDPC5GEncoder(128, 256, device="cpu")
    u, llr = _codeword_llrs(enc, 64, snr_db=5.0, seed=7)
    dec = make_ldpc_decoder(enc, decoder, cn_update=cn_update, device=device)
    assert dec.name == decoder
    u_hat, it = dec(llr)
    assert torch.equal(u_hat.cpu(), u) and float(it.float().mean()) <= 6
    _, u_w, llr_w = _llrs(128, 256, 1.5, 100, seed=11)
    mine, it_w = make_ldpc_decoder(enc, decoder, cn_update=cn_update, early_termination=False,
                                   max_iter=8, device=device)(llr_w)
    assert it_w.tolist() == [8] * 100
    ref = LDPC5GDecoder(enc, num_iter=8, device="cpu", **sionna_kw)(llr_w.cpu())
    same = float((mine.cpu() == ref).all(1).float().mean())
    # float32 messages: equal up to rounding; half-precision messages: a different decoder
    assert same >= (0.98 if decoder in ("triton", "triton-layered") else 0.85)
    blk_m, blk_r = int((mine.cpu() != u_w).any(1).sum()), int((ref != u_w).any(1).sum())
    assert 5 <= blk_r <= 95                            # a waterfall point
    assert abs(two_sample_z(blk_m, 100, blk_r, 100)) < 3


@pytest.mark.slow
def test_layered_converges_in_fewer_iterations(device):
    enc, u, llr = _llrs(128, 256, 2.5, 64, seed=4)
    _, it_flood = make_ldpc_decoder(enc, "triton", max_iter=10, device=device)(llr)
    _, it_layer = make_ldpc_decoder(enc, "triton-layered", max_iter=10, device=device)(llr)
    assert float(it_layer.float().mean()) < 0.8 * float(it_flood.float().mean())


def test_max_iter_and_iteration_counts(device):
    enc, _, llr = _llrs(128, 256, -1.0, 30, seed=1)           # far below the threshold
    _, it = TritonBPDecoder(enc, max_iter=3, device=device)(llr)
    assert it.tolist() == [3] * 30
    _, it_full = TritonBPDecoder(enc, max_iter=5, early_termination=False, device=device)(llr)
    assert it_full.tolist() == [5] * 30
    # a received code word stops at the first check (after one iteration, as LDPCDecoder)
    c = enc(torch.zeros(2, 128)).cpu()
    u_hat, it0 = TritonBPDecoder(enc, device=device)(20.0 * (2 * c - 1))
    assert it0.tolist() == [1, 1] and not bool(u_hat.any())
    empty, it_e = TritonBPDecoder(enc, device=device)(torch.zeros(0, 256))
    assert empty.shape == (0, 128) and it_e.shape == (0,)


def test_bad_input(monkeypatch, device):
    enc = LDPC5GEncoder(64, 128, device="cpu")
    with pytest.raises(ValueError, match=r"llr must have shape \[batch, 128\]"):
        TritonBPDecoder(enc, device=device)(torch.zeros(2, 127))
    with pytest.raises(ValueError, match="cn_update 'boxplus' is not available"):
        TritonBPDecoder(enc, cn_update="boxplus", device=device)
    with pytest.raises(ValueError, match="block_b must be a power of two"):
        TritonBPDecoder(enc, block_b=100, device=device)
    with pytest.raises(ValueError, match="precision 'single'"):
        make_ldpc_decoder(enc, "triton", precision="double", device="cpu")
    # (k, n) outside 5G: the error of Sionna's decoder path, word for word
    errors = []
    for decoder in ("sionna", "triton"):
        with pytest.raises(ValueError) as exc:
            DigitalChain(k=9000, n=18000, decoder=decoder, device="cpu")
        errors.append(str(exc.value))
    assert errors[0] == errors[1] and "k must be in [12, 8448]" in errors[0]
    # no CUDA device and no interpreter: the CPU decoders are named
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match=r"decoder 'sionna' .* or 'ldpc'"):
        check_triton_device("cpu")
    with pytest.raises(ValueError, match=r"runs Triton kernels on a CUDA GPU.*'sionna'.*'ldpc'"):
        DigitalChain(k=64, n=128, decoder="triton", device="cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"profiles\.p: decoder 'triton' .* no CUDA device"):
            check_profile("p", {"decoder": "triton"})


def test_chain_profile_and_ber_command(capsys, device):
    chain = DigitalChain(k=64, n=128, decoder="triton", seed=0, device=device)
    assert chain.describe()["decoder"] == "triton"
    (p,) = simulate_ber(chain, snr_db=[8.0], batch_size=50, max_blocks=50, seed=0)
    assert p.block_errors == 0 and 1 <= p.mean_iterations < 5
    assert check_profile("p", {"decoder": "triton-layered", "rate": 0.5})["decoder"] \
        == "triton-layered"
    assert resolved_profile({"kind": "digital", "decoder": "triton"})["decoder"] == "triton"
    assert cli_main(["ber", "--k", "64", "--n", "128", "--ebno-db", "3", "--max-blocks", "40",
                     "--batch-size", "40", "--decoder", "triton", "--device", device,
                     "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["config"]["decoder"] == "triton"
    assert lines[1]["blocks"] == 40 and lines[1]["mean_iterations"] >= 1


_COMPILE_CHECK = """
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from semlink.phy import ldpc_triton_kernels as K
target = GPUTarget("cuda", 90, 32)                      # sm_90: H100 / H200
cn = {"c2v_ptr": "*fp32", "app_ptr": "*fp32", "cn_ptr": "*i32", "cn_vn": "*i32",
      "active_ptr": "*i32", "unsat_ptr": "*i32", "B": "i32", "row0": "i32", "num_rows": "i32",
      "llr_max": "fp32", "offset": "fp32", "check": "i32", "LAYERED": "constexpr",
      "RULE": "constexpr", "BLOCK_C": "constexpr", "BLOCK_B": "constexpr"}
vn = {"c2v_ptr": "*fp32", "app_ptr": "*fp32", "llr_ptr": "*fp32", "vn_ptr": "*i32",
      "vn_edge": "*i32", "active_ptr": "*i32", "unsat_ptr": "*i32", "iters_ptr": "*i32",
      "B": "i32", "num_vns": "i32", "check": "i32", "check_iter": "i32",
      "BLOCK_V": "constexpr", "BLOCK_B": "constexpr"}
sy = {"app_ptr": "*fp32", "cn_ptr": "*i32", "cn_vn": "*i32", "active_ptr": "*i32",
      "unsat_ptr": "*i32", "B": "i32", "num_cns": "i32", "BLOCK_C": "constexpr",
      "BLOCK_B": "constexpr"}
jobs = [(K._check_rows, cn, dict(LAYERED=False, RULE=0)),
        (K._check_rows, cn, dict(LAYERED=True, RULE=1)),
        (K._check_rows, dict(cn, c2v_ptr="*fp16"), dict(LAYERED=False, RULE=0)),
        (K._variable_nodes, dict(vn, c2v_ptr="*bf16"), dict(BLOCK_V=4)),
        (K._syndrome, sy, dict(BLOCK_C=4))]
for fn, sig, consts in jobs:
    consts = {"BLOCK_C": 4, "BLOCK_B": 128, **consts} if fn is not K._variable_nodes \\
        else {"BLOCK_B": 128, **consts}
    k = triton.compile(ASTSource(fn=fn, signature=sig, constexprs=consts), target=target)
    assert b"\\x7fELF" == k.asm["cubin"][:4], fn.__name__
    print(fn.__name__, "compiled")
"""


def test_kernels_compile_for_a_gpu(tmp_path):
    """The interpreter does not type-check as the compiler does: compile every kernel
    variant for sm_90 (H100/H200) to a cubin with the ptxas of Triton's wheel, no GPU
    needed (in a fresh process: the kernels must be imported without the interpreter)."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(tmp_path / "triton-cache")
    out = subprocess.run([sys.executable, "-c", _COMPILE_CHECK], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("compiled") == 5
