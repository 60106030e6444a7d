"""LDPC early termination, the bit interleaver, and `semlink ber` point handling."""

import json

import pytest
import torch
from sionna.phy.fec.ldpc import LDPC5GEncoder

from ldpc_llrs import qpsk_awgn_llrs as _llrs
from semlink.links.ber_command import parse_points
from semlink.links.cli import main as cli_main
from semlink.phy import DigitalChain, simulate_ber
from semlink.phy.interleaving import BitInterleaver
from semlink.phy.ldpc_decoding import LDPCDecoder, check_schedule
from semlink.phy.snr import snr_db_to_no
from stats import two_sample_z


@pytest.mark.parametrize("snr_db", [0.5, 3.0])      # in the waterfall, and above it
def test_early_termination_agrees_with_the_full_decoder(snr_db, device):
    enc, u, llr = _llrs(256, 512, snr_db, 400, seed=int(snr_db * 10), device=device)
    full = LDPCDecoder(enc, max_iter=20, early_termination=False, device=device)
    early = LDPCDecoder(enc, max_iter=20, early_termination=True, device=device)
    u_full, it_full = full(llr)
    u_early, it_early = early(llr)
    assert bool((it_full == 20).all())
    converged = it_early < 20
    assert bool(converged.any())
    # converged code words decode to the same bits as after all 20 iterations
    assert torch.equal(u_early[converged], u_full[converged])
    # BLER and BER agree within their confidence intervals (4 sigma, two-sample)
    blk_f, blk_e = (u_full != u).any(1).sum().item(), (u_early != u).any(1).sum().item()
    bit_f, bit_e = (u_full != u).sum().item(), (u_early != u).sum().item()
    if blk_f + blk_e:
        assert abs(two_sample_z(blk_e, 400, blk_f, 400)) < 4
        assert abs(two_sample_z(bit_e, u.numel(), bit_f, u.numel())) < 4
    if snr_db == 0.5:
        assert 0.05 < blk_f / 400 < 0.95          # really a waterfall point
        assert it_early.float().mean() > 8
    else:
        assert blk_f <= 4 and blk_e <= 4          # BLER <= 1e-2
        assert it_early.float().mean() < 10       # the saving: far fewer iterations


def test_check_schedule_sums_to_max_iter():
    for m in (1, 2, 7, 8, 9, 20, 33):
        assert sum(check_schedule(m)) == m
    with pytest.raises(ValueError, match="max_iter"):
        LDPCDecoder(LDPC5GEncoder(64, 128), max_iter=0)


def test_chain_reports_iterations_and_honours_max_iter(device):
    chain = DigitalChain(k=128, n=256, max_iter=3, early_termination=False, seed=0, device=device)
    pts = simulate_ber(chain, snr_db=[1.0], batch_size=50, max_blocks=50, seed=0)
    assert pts[0].mean_iterations == 3
    assert chain.describe()["max_iter"] == 3 and chain.describe()["early_termination"] is False
    et = DigitalChain(k=128, n=256, seed=0, device=device)
    (p,) = simulate_ber(et, snr_db=[8.0], batch_size=50, max_blocks=50, seed=0)
    assert 1 <= p.mean_iterations < 5


def test_random_interleaver_is_a_permutation_for_any_length():
    for length in (1, 7, 2049, 683 * 3):
        il = BitInterleaver(length)
        x = torch.arange(length).reshape(1, -1)
        y = il.interleave(x)
        assert sorted(y[0].tolist()) == list(range(length))
        assert torch.equal(il.deinterleave(y), x)
    # psk8 with n = 2048 (3 does not divide n): the 5G interleaver cannot, random can
    assert DigitalChain(k=1024, n=2048, modulation="psk8",
                        channel={"name": "rayleigh"}).interleaver == "random"
    assert DigitalChain(k=1024, n=2048, modulation="psk8").interleaver == "none"   # AWGN
    assert DigitalChain(k=1024, n=2048, modulation="qpsk").interleaver == "5g"     # AWGN
    with pytest.raises(ValueError, match="interleaver '5g'"):
        DigitalChain(k=1024, n=2048, modulation="psk8", interleaver="5g")
    with pytest.raises(ValueError, match="interleaver must be one of"):
        DigitalChain(interleaver="rowcol")


def test_interleaving_improves_coded_ber_under_fast_fading(device):
    """16-QAM over Rayleigh fading with a coherence of 8 symbols (32 code bits
    per fade): without an interleaver a fade erases runs of consecutive code
    bits; the random interleaver spreads them over the codeword.

    Paired design: both chains get the same bits, fades and noise (same seeds,
    same symbol count), so each block is its own control and McNemar's test on
    the discordant blocks decides.  At 1200 blocks the expected z is about 4.7
    (measured on the CPU: z = 3.1-3.4 at 600 blocks for two bit seeds), so
    z > 2 (one-sided p < 0.023) holds for any device's random numbers except
    with probability ~0.4%."""
    gen = torch.Generator(device="cpu").manual_seed(2)
    chains = {il: DigitalChain(k=256, n=512, modulation="qam16", interleaver=il, seed=1,
                               device=device,
                               channel={"name": "rayleigh", "coherence": {"symbols": 8}})
              for il in ("random", "none")}
    k_info = chains["none"].config.k_info
    no = torch.tensor(snr_db_to_no(chains["none"].snr_db_from_ebno_db(8.0)), device=device)
    batches = [torch.randint(0, 2, (300, k_info), generator=gen, device="cpu").float().to(device)
               for _ in range(4)]
    failed = {}
    for il, chain in chains.items():
        failed[il] = torch.cat([(chain.transmit_blocks(bits, no)[0] != bits).any(1).cpu()
                                for bits in batches])
    r, n = failed["random"], failed["none"]
    only_none, only_random = int((n & ~r).sum()), int((r & ~n).sum())
    assert int(r.sum()) < int(n.sum())
    assert only_none + only_random > 0
    z = (only_none - only_random) / (only_none + only_random) ** 0.5
    assert z > 2.0, (only_none, only_random, z)


def test_parse_points_accepts_descending_ranges_and_explains_wrong_steps():
    assert parse_points("6:0:-2", "--ebno-db") == [6.0, 4.0, 2.0, 0.0]
    with pytest.raises(ValueError, match="use step 2"):
        parse_points("0:6:-2", "--ebno-db")
    with pytest.raises(ValueError, match="is not a list"):
        parse_points("0:6", "--ebno-db")


def test_ber_command_reports_skipped_points_in_table_and_json(capsys):
    args = ["ber", "--k", "64", "--n", "128", "--ebno-db", "10:4:-3", "--max-blocks", "40",
            "--batch-size", "40"]
    assert cli_main(args + ["--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    config, points = lines[0], lines[1:]
    assert config["config"]["early_termination"] is True
    assert [p["ebno_db"] for p in points] == [10.0, 7.0, 4.0]      # descending, all emitted
    # error-free at 10 dB says nothing about 7 and 4 dB: all are simulated
    assert points[0]["block_errors"] == 0 and not any("skipped" in p for p in points)
    assert all(p["blocks"] == 40 and p["mean_iterations"] >= 1 for p in points)
    # ascending: every point after an error-free one is listed as skipped
    assert cli_main(["ber", "--k", "64", "--n", "128", "--ebno-db", "8,9,10",
                     "--max-blocks", "40", "--batch-size", "40"]) == 0
    out = capsys.readouterr().out
    assert out.count("skipped: no block errors at a lower SNR") == 2
    assert cli_main(["ber", "--k", "64", "--n", "128", "--ebno-db", "8,9", "--max-blocks", "40",
                     "--batch-size", "40", "--no-early-stop", "--early-termination", "off",
                     "--max-iter", "5", "--json"]) == 0
    points = [json.loads(line) for line in capsys.readouterr().out.splitlines()[1:]]
    assert [p["mean_iterations"] for p in points] == [5.0, 5.0]
    assert not any("skipped" in p for p in points)
