"""LDPC decoder backends: Sionna (full / early termination), the compiled ``ldpc`` decoder, Triton.

Two parts, one process, the same channel LLRs for every variant (5G LDPC,
AWGN, max_iter 20, sum-product unless a name says otherwise):

1. **Agreement** (first code only): BLER and BER of Sionna's full
   20-iteration decoder and of the other decoders, with 95 % Wilson
   intervals, the two-sample z of each against Sionna, and the share of code
   words whose information bits equal Sionna's. For ``triton-fp16`` /
   ``triton-bf16`` this is the BLER cost of half-precision messages.
2. **Throughput**: information-bit throughput of every decoder, alternated
   in each repeat; medians; ratios against Sionna's full decoder and against
   semlink's early-termination decoder (on CUDA each timed call ends with
   ``torch.cuda.synchronize()``; one untimed call per decoder first: Triton
   compiles its kernels there).

Decoder names: ``sionna full``, ``sionna ET`` (semlink's early termination),
``ldpc parallel``, ``ldpc serial`` (compiled CPU decoder, always stops at a
zero syndrome; ``pip install 'semlink[ldpc-cpu]'``), ``triton full``,
``triton ET``, and the labelled Triton variants ``triton-layered ET``,
``triton-fp16 ET``, ``triton-bf16 ET``, ``triton minsum ET``.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/ldpc_backends.py --threads 1
    python benchmarks/ldpc_backends.py --skip-agreement --ebno-db 2.5 --blocks 50
    python benchmarks/ldpc_backends.py --device cuda:0          # the GPU set (issue 23)
    TRITON_INTERPRET=1 python benchmarks/ldpc_backends.py --device cpu --skip-agreement \\
        --decoders "sionna full,triton full,triton ET" --blocks 8 --repeats 1 --ebno-db 2.5

On ``--device cuda:N`` the default codes are issue 23's: (1024, 2048) QPSK,
(4096, 6144) 8-PSK and (8448, 25344) QPSK, with ``20000 * 2048 / n`` code
words per call. The machine's load average is printed with every table row
(timings on a shared machine are only comparable within one run). The
compiled decoder uses as many processes as torch has threads (``--threads``).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import torch
from runtime_options import add_runtime_options, apply_runtime_options
from sionna.phy.fec.ldpc import LDPC5GEncoder
from sionna.phy.mapping import Demapper, Mapper

from semlink.phy import make_constellation, set_seed
from semlink.phy.ldpc_decoding import LDPCDecoder, make_ldpc_decoder
from semlink.phy.snr import ebno_db_to_snr_db, snr_db_to_no
from semlink.runtime import describe_malloc_tuning

CPU_DECODERS = "sionna full,sionna ET,ldpc parallel,ldpc serial"
CUDA_DECODERS = "sionna full,sionna ET,triton full,triton ET,triton-fp16 ET,triton-layered ET"
CUDA_CODES = "1024x2048:qpsk,4096x6144:psk8,8448x25344:qpsk"
BITS_PER_SYMBOL = {"qpsk": 2, "psk8": 3, "qam16": 4}


def channel_llrs(enc, modulation, ebno_db, blocks, gen, device):
    """Random info bits, 5G LDPC encoded, Gray ``modulation`` over AWGN -> (bits, LLRs) on
    ``device``; the random draws come from the CPU generator ``gen`` (device-independent)."""
    k, n = enc.k, enc.n
    m = BITS_PER_SYMBOL[modulation]
    const = make_constellation(modulation, device=device)
    mapper = Mapper(constellation=const, device=device)
    demapper = Demapper("app", constellation=const, device=device)
    no = snr_db_to_no(ebno_db_to_snr_db(ebno_db, k / n, m))
    u = torch.randint(0, 2, (blocks, k), generator=gen).float().to(device)
    x = mapper(enc(u))
    noise = torch.complex(torch.randn(x.shape, generator=gen),
                          torch.randn(x.shape, generator=gen)).to(device)
    return u, demapper(x + noise * (no / 2) ** 0.5, torch.tensor(no, device=device))


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


def make_decoder(name: str, enc, device: str):
    """One decoder by its benchmark name (see the module docstring)."""
    if name in ("sionna full", "sionna ET"):
        return LDPCDecoder(enc, max_iter=20, early_termination=name.endswith("ET"), device=device)
    if name in ("ldpc parallel", "ldpc serial"):
        from semlink.phy.ldpc_compiled import CompiledBPDecoder

        return CompiledBPDecoder(enc, max_iter=20, schedule=name.split()[1])
    backend, _, mode = name.rpartition(" ")
    cn_update = "boxplus-phi"
    if backend == "triton minsum":
        backend, cn_update = "triton", "minsum"
    if not backend.startswith("triton") or mode not in ("full", "ET"):
        raise SystemExit(f"unknown decoder {name!r}; see --help")
    return make_ldpc_decoder(enc, backend, max_iter=20, early_termination=mode == "ET",
                             cn_update=cn_update, device=device)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def agreement(enc, modulation, decoders, points, blocks_per_point, batch, device):
    names = list(decoders)
    print(f"\n# agreement (load {load()}): BLER/BER [95% Wilson], z vs sionna full, "
          "share of code words with Sionna's info bits")
    print(f"{'EbN0':>5} {'decoder':<18} {'blocks':>6} {'blk err':>7} {'BLER':>9} "
          f"{'BLER 95% CI':>21} {'BER':>9} {'BER 95% CI':>21} {'z BLER':>6} {'z BER':>6} "
          f"{'same':>6} {'mean it':>7}")
    for eb, blocks in zip(points, blocks_per_point, strict=True):
        gen = torch.Generator().manual_seed(int(eb * 1000) + 11)
        stats = {nm: {"blk": 0, "bit": 0, "same": 0, "iters": 0.0} for nm in names}
        done = 0
        while done < blocks:
            b = min(batch, blocks - done)
            u, llr = channel_llrs(enc, modulation, eb, b, gen, device)
            outs = {nm: decoders[nm](llr) for nm in names}
            ref = outs["sionna full"][0]
            for nm, (u_hat, it) in outs.items():
                s = stats[nm]
                u_hat = u_hat.to(u.device)
                s["blk"] += int((u_hat != u).any(1).sum())
                s["bit"] += int((u_hat != u).sum())
                s["same"] += int((u_hat == ref.to(u.device)).all(1).sum())
                s["iters"] += float(it.float().sum())
            done += b
        bits = blocks * enc.k
        ref = stats["sionna full"]
        for nm in names:
            s = stats[nm]
            lo, hi = wilson(s["blk"], blocks)
            blo, bhi = wilson(s["bit"], bits)
            print(f"{eb:5.2f} {nm:<18} {blocks:6d} {s['blk']:7d} {s['blk'] / blocks:9.2e} "
                  f"[{lo:9.2e}, {hi:9.2e}] {s['bit'] / bits:9.2e} [{blo:9.2e}, {bhi:9.2e}] "
                  f"{two_sample_z(s['blk'], blocks, ref['blk'], blocks):6.2f} "
                  f"{two_sample_z(s['bit'], bits, ref['bit'], bits):6.2f} "
                  f"{s['same'] / blocks:6.3f} {s['iters'] / blocks:7.2f}", flush=True)


def throughput(enc, modulation, decoders, points, blocks, repeats, device):
    names = list(decoders)
    print(f"\n# throughput k={enc.k} n={enc.n} {modulation}: {blocks} code words per call, "
          f"{repeats} repeats alternated, medians")
    print(f"{'EbN0':>5} {'decoder':<18} {'BLER':>9} {'mean it':>7} {'Mbit/s':>9} "
          f"{'vs full':>7} {'vs ET':>6} {'best vs full':>12} {'load':>14}")
    for eb in points:
        gen = torch.Generator().manual_seed(int(eb * 1000) + 7)
        u, llr = channel_llrs(enc, modulation, eb, blocks, gen, device)
        for dec in decoders.values():
            dec(llr)                               # warm-up (Triton compiles here)
        sync(device)
        times = {nm: [] for nm in names}
        outs = {}
        for _ in range(repeats):
            for nm in names:
                sync(device)
                t0 = time.perf_counter()
                outs[nm] = decoders[nm](llr)
                sync(device)
                times[nm].append(time.perf_counter() - t0)
        med = {nm: statistics.median(t) for nm, t in times.items()}
        full = med.get("sionna full")
        et = med.get("sionna ET")
        for nm in names:
            u_hat, it = outs[nm]
            bler = float((u_hat.to(u.device) != u).any(1).float().mean())
            vs_full = f"{full / med[nm]:7.2f}" if full else f"{'-':>7}"
            vs_et = f"{et / med[nm]:6.2f}" if et else f"{'-':>6}"
            best = (f"{min(times['sionna full']) / min(times[nm]):12.2f}" if full
                    else f"{'-':>12}")
            print(f"{eb:5.2f} {nm:<18} {bler:9.2e} {float(it.float().mean()):7.2f} "
                  f"{blocks * enc.k / med[nm] / 1e6:9.3f} {vs_full} {vs_et} {best} "
                  f"{load():>14}", flush=True)


def parse_codes(text: str) -> list[tuple[int, int, str]]:
    codes = []
    for item in text.split(","):
        size, _, modulation = item.strip().partition(":")
        k, _, n = size.partition("x")
        modulation = modulation or "qpsk"
        if modulation not in BITS_PER_SYMBOL or not k.isdigit() or not n.isdigit():
            raise SystemExit(f"--codes: {item!r} is not KxN[:{'|'.join(BITS_PER_SYMBOL)}]")
        codes.append((int(k), int(n), modulation))
    return codes


def versions(device: str) -> str:
    parts = [f"torch {torch.__version__}", f"threads {torch.get_num_threads()}",
             f"OMP_NUM_THREADS {os.environ.get('OMP_NUM_THREADS')}", f"device {device}"]
    if device.startswith("cuda"):
        parts.append(torch.cuda.get_device_name(device))
    for mod in ("ldpc", "triton"):
        try:
            parts.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            parts.append(f"{mod} not installed")
    parts.append(f"TRITON_INTERPRET {os.environ.get('TRITON_INTERPRET', '0')}")
    return ", ".join(parts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    p.add_argument("--k", type=int, default=1024)
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--codes", default=None,
                   help="KxN[:modulation],... (default: --k x --n QPSK on the CPU; on CUDA "
                        f"{CUDA_CODES})")
    p.add_argument("--decoders", default=None,
                   help=f"comma list (default on the CPU: {CPU_DECODERS}; on CUDA: {CUDA_DECODERS})")
    p.add_argument("--ebno-db", default="1.0,2.5,3.0", help="throughput points, Eb/N0 [dB]")
    p.add_argument("--blocks", type=int, default=None,
                   help="code words per timed call (default 200 on the CPU, 20000 * 2048 / n "
                        "on CUDA)")
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
    device = "cuda:0" if args.device in ("cuda", "gpu") else args.device
    cuda = device.startswith("cuda")
    codes = parse_codes(args.codes or (CUDA_CODES if cuda else f"{args.k}x{args.n}:qpsk"))
    names = [s.strip() for s in (args.decoders or (CUDA_DECODERS if cuda else CPU_DECODERS))
             .split(",")]
    print(f"{versions(device)}, max_iter 20, AWGN, sum-product (Sionna boxplus-phi / ldpc "
          f"product_sum) unless named, {describe_malloc_tuning()}, load {load()}")
    for i, (k, n, modulation) in enumerate(codes):
        enc = LDPC5GEncoder(k, n, device=device)
        decoders = {nm: make_decoder(nm, enc, device) for nm in names}
        if i == 0 and not args.skip_agreement:
            if "sionna full" not in decoders:
                raise SystemExit("the agreement part needs 'sionna full' in --decoders")
            pts = [float(v) for v in args.agreement_ebno_db.split(",")]
            nb = [int(v) for v in args.agreement_blocks.split(",")]
            nb = nb * len(pts) if len(nb) == 1 else nb
            if len(nb) != len(pts):
                p.error("--agreement-blocks: give one value or one per --agreement-ebno-db point")
            agreement(enc, modulation, decoders, pts, nb, args.batch, device)
        blocks = args.blocks or (max(1, round(20000 * 2048 / n)) if cuda else 200)
        throughput(enc, modulation, decoders, [float(v) for v in args.ebno_db.split(",")],
                   blocks, args.repeats, device)
    print(f"\nload at the end {load()}")


if __name__ == "__main__":
    main()
