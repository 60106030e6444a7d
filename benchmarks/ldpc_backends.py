"""LDPC decoder backends on the CPU: Sionna (full / early termination) vs the compiled ``ldpc`` decoder.

Two parts, one process, the same channel LLRs for every variant (5G LDPC,
QPSK, AWGN, max_iter 20, sum-product):

1. **Agreement**: BLER and BER of Sionna's full 20-iteration decoder and of
   ``ldpc.BpDecoder`` (parallel = flooding, as Sionna; serial = a different,
   variable-node-serial schedule) on many code words per Eb/N0 point, with 95 %
   Wilson intervals, the two-sample z of each against Sionna, and the share
   of code words whose information bits equal Sionna's.
2. **Throughput**: information-bit throughput of the four decoders (Sionna
   full 20 iterations, semlink's Sionna early termination, ldpc parallel,
   ldpc serial), alternated in each repeat; medians; ratios against the full
   decoder and against semlink's early-termination decoder.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/ldpc_backends.py --threads 1
    python benchmarks/ldpc_backends.py --skip-agreement --ebno-db 2.5 --blocks 50

The machine's load average is printed with every table row (timings on a
shared machine are only comparable within one run). The compiled decoder
uses as many processes as torch has threads (``--threads``;
:mod:`semlink.phy.ldpc_pool`), so both backends may use the same cores. Needs the optional
``ldpc`` package (``pip install 'semlink[ldpc-cpu]'``).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import torch
from sionna.phy.fec.ldpc import LDPC5GEncoder
from sionna.phy.mapping import Demapper, Mapper

from semlink.phy import make_constellation, set_seed
from semlink.phy.ldpc_compiled import CompiledBPDecoder
from semlink.phy.ldpc_decoding import LDPCDecoder
from semlink.phy.snr import ebno_db_to_snr_db, snr_db_to_no
from semlink.runtime import describe_malloc_tuning
from runtime_options import add_runtime_options, apply_runtime_options


def channel_llrs(enc, ebno_db, blocks, gen):
    """Random info bits, 5G LDPC encoded, QPSK over AWGN -> (bits, LLRs)."""
    k, n = enc.k, enc.n
    const = make_constellation("qpsk")
    mapper, demapper = Mapper(constellation=const), Demapper("app", constellation=const)
    no = snr_db_to_no(ebno_db_to_snr_db(ebno_db, k / n, 2))
    u = torch.randint(0, 2, (blocks, k), generator=gen).float()
    x = mapper(enc(u))
    noise = torch.complex(torch.randn(x.shape, generator=gen), torch.randn(x.shape, generator=gen))
    return u, demapper(x + noise * (no / 2) ** 0.5, torch.tensor(no))


def wilson(errors: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion."""
    p = errors / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials ** 2)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def two_sample_z(e1: int, n1: int, e2: int, n2: int) -> float:
    """z statistic of the difference of two proportions (pooled); 0 when both are 0."""
    pooled = (e1 + e2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return 0.0 if se == 0 else (e1 / n1 - e2 / n2) / se


def load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def make_decoders(enc):
    return {"sionna full": LDPCDecoder(enc, max_iter=20, early_termination=False),
            "sionna ET": LDPCDecoder(enc, max_iter=20, early_termination=True),
            "ldpc parallel": CompiledBPDecoder(enc, max_iter=20, schedule="parallel"),
            "ldpc serial": CompiledBPDecoder(enc, max_iter=20, schedule="serial")}


def agreement(enc, decoders, points, blocks_per_point, batch):
    names = ["sionna full", "ldpc parallel", "ldpc serial"]
    print(f"\n# agreement (load {load()}): BLER/BER [95% Wilson], z vs sionna full, "
          "share of code words with Sionna's info bits")
    print(f"{'EbN0':>5} {'decoder':<14} {'blocks':>6} {'blk err':>7} {'BLER':>9} "
          f"{'BLER 95% CI':>21} {'BER':>9} {'BER 95% CI':>21} {'z BLER':>6} {'z BER':>6} "
          f"{'same':>6} {'mean it':>7}")
    for eb, blocks in zip(points, blocks_per_point):
        gen = torch.Generator().manual_seed(int(eb * 1000) + 11)
        stats = {nm: {"blk": 0, "bit": 0, "same": 0, "iters": 0.0} for nm in names}
        done = 0
        while done < blocks:
            b = min(batch, blocks - done)
            u, llr = channel_llrs(enc, eb, b, gen)
            outs = {nm: decoders[nm](llr) for nm in names}
            ref = outs["sionna full"][0]
            for nm, (u_hat, it) in outs.items():
                s = stats[nm]
                s["blk"] += int((u_hat != u).any(1).sum())
                s["bit"] += int((u_hat != u).sum())
                s["same"] += int((u_hat == ref).all(1).sum())
                s["iters"] += float(it.float().sum())
            done += b
        bits = blocks * enc.k
        ref = stats["sionna full"]
        for nm in names:
            s = stats[nm]
            lo, hi = wilson(s["blk"], blocks)
            blo, bhi = wilson(s["bit"], bits)
            print(f"{eb:5.2f} {nm:<14} {blocks:6d} {s['blk']:7d} {s['blk'] / blocks:9.2e} "
                  f"[{lo:9.2e}, {hi:9.2e}] {s['bit'] / bits:9.2e} [{blo:9.2e}, {bhi:9.2e}] "
                  f"{two_sample_z(s['blk'], blocks, ref['blk'], blocks):6.2f} "
                  f"{two_sample_z(s['bit'], bits, ref['bit'], bits):6.2f} "
                  f"{s['same'] / blocks:6.3f} {s['iters'] / blocks:7.2f}", flush=True)


def throughput(enc, decoders, points, blocks, repeats):
    names = list(decoders)
    print(f"\n# throughput: {blocks} code words per call, {repeats} repeats alternated, medians")
    print(f"{'EbN0':>5} {'decoder':<14} {'BLER':>9} {'mean it':>7} {'Mbit/s':>8} "
          f"{'vs full':>7} {'vs ET':>6} {'best vs full':>12} {'load':>14}")
    for eb in points:
        gen = torch.Generator().manual_seed(int(eb * 1000) + 7)
        u, llr = channel_llrs(enc, eb, blocks, gen)
        for dec in decoders.values():
            dec(llr[:4])                           # warm-up
        times = {nm: [] for nm in names}
        outs = {}
        for _ in range(repeats):
            for nm in names:
                t0 = time.perf_counter()
                outs[nm] = decoders[nm](llr)
                times[nm].append(time.perf_counter() - t0)
        med = {nm: statistics.median(t) for nm, t in times.items()}
        for nm in names:
            u_hat, it = outs[nm]
            bler = float((u_hat != u).any(1).float().mean())
            print(f"{eb:5.2f} {nm:<14} {bler:9.2e} {float(it.float().mean()):7.2f} "
                  f"{blocks * enc.k / med[nm] / 1e6:8.3f} {med['sionna full'] / med[nm]:7.2f} "
                  f"{med['sionna ET'] / med[nm]:6.2f} "
                  f"{min(times['sionna full']) / min(times[nm]):12.2f} {load():>14}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", type=int, default=1024)
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--ebno-db", default="1.0,2.5,3.0", help="throughput points, Eb/N0 [dB]")
    p.add_argument("--blocks", type=int, default=200, help="code words per timed call")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--agreement-ebno-db", default="1.0,1.5,2.5",
                   help="agreement points, Eb/N0 [dB]")
    p.add_argument("--agreement-blocks", default="1000,4000,4000",
                   help="code words per agreement point (one value or one per point)")
    p.add_argument("--batch", type=int, default=500, help="code words per decoder call (agreement)")
    p.add_argument("--skip-agreement", action="store_true")
    add_runtime_options(p)
    args = p.parse_args()
    apply_runtime_options(args)
    set_seed(1)
    import ldpc

    enc = LDPC5GEncoder(args.k, args.n)
    decoders = make_decoders(enc)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, OMP_NUM_THREADS "
          f"{os.environ.get('OMP_NUM_THREADS')}, ldpc {ldpc.__version__} in "
          f"{torch.get_num_threads()} process(es), k={args.k} n={args.n} "
          f"QPSK AWGN, max_iter 20, sum-product (Sionna boxplus-phi / ldpc product_sum), cpu, "
          f"{describe_malloc_tuning()}, load {load()}")
    if not args.skip_agreement:
        pts = [float(v) for v in args.agreement_ebno_db.split(",")]
        nb = [int(v) for v in args.agreement_blocks.split(",")]
        nb = nb * len(pts) if len(nb) == 1 else nb
        if len(nb) != len(pts):
            p.error("--agreement-blocks: give one value or one per --agreement-ebno-db point")
        agreement(enc, decoders, pts, nb, args.batch)
    throughput(enc, decoders, [float(v) for v in args.ebno_db.split(",")], args.blocks,
               args.repeats)
    print(f"\nload at the end {load()}")


if __name__ == "__main__":
    main()
