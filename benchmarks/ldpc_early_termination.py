"""LDPC early termination vs. the full 20-iteration decoder: information-bit throughput.

Both decoders get the *same* channel LLRs (5G LDPC, QPSK, AWGN) at each
Eb/N0 point and run alternately in one process (full, early, full, ...);
the table gives median times, the ratio of information-bit throughputs,
mean iterations per code word and the BLER of both (they must agree).

    python benchmarks/ldpc_early_termination.py                 # CPU, and CUDA when present
    python benchmarks/ldpc_early_termination.py --device cpu --blocks 100 --repeats 3 --threads 1
    python benchmarks/ldpc_early_termination.py --compile       # also torch.compile'd decoders
    python benchmarks/ldpc_early_termination.py --device cuda:0 --compile   # scripts/gpu_check.sh

Goal (issue 12): >= 3x at a point with BLER < 1e-2 and >= 0.9x in the waterfall.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from runtime_options import add_runtime_options, apply_runtime_options
from sionna.phy.fec.ldpc import LDPC5GEncoder
from sionna.phy.mapping import Demapper, Mapper

from semlink.device import DeviceError, resolve_device
from semlink.phy import make_constellation, set_seed
from semlink.phy.ldpc_decoding import LDPCDecoder
from semlink.phy.snr import ebno_db_to_snr_db, snr_db_to_no
from semlink.runtime import describe_malloc_tuning


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def channel_llrs(k, n, ebno_db, blocks, device, gen):
    """Random info bits, 5G LDPC encoded, QPSK over AWGN -> (bits, LLRs)."""
    enc = LDPC5GEncoder(k, n, device=device)
    const = make_constellation("qpsk", device=device)
    mapper, demapper = Mapper(constellation=const, device=device), Demapper(
        "app", constellation=const, device=device)
    no = snr_db_to_no(ebno_db_to_snr_db(ebno_db, k / n, 2))
    u = torch.randint(0, 2, (blocks, k), generator=gen, device=device).float()
    x = mapper(enc(u))
    noise = torch.complex(torch.randn(x.shape, generator=gen, device=device),
                          torch.randn(x.shape, generator=gen, device=device))
    llr = demapper(x + noise * (no / 2) ** 0.5, torch.tensor(no, device=device))
    return enc, u, llr


def compile_decoder(dec: LDPCDecoder) -> None:
    """torch.compile the Sionna BP decoder inside ``dec`` (dynamic batch size)."""
    inner = dec._decoder
    inner.forward = torch.compile(inner.forward, dynamic=True)


def bench_point(k, n, ebno_db, blocks, repeats, device, use_compile):
    gen = torch.Generator(device=device)
    gen.manual_seed(int(ebno_db * 1000) + 7)
    enc, u, llr = channel_llrs(k, n, ebno_db, blocks, device, gen)
    full = LDPCDecoder(enc, max_iter=20, early_termination=False, device=device)
    early = LDPCDecoder(enc, max_iter=20, early_termination=True, device=device)
    if use_compile:
        compile_decoder(full)
        compile_decoder(early)
    full(llr[:8])
    early(llr[:8])      # warm-up (build, allocator, compilation)
    t_full, t_early = [], []
    for _ in range(repeats):
        sync(device); t0 = time.perf_counter()
        u_full, _ = full(llr)
        sync(device); t_full.append(time.perf_counter() - t0)
        sync(device); t0 = time.perf_counter()
        u_early, iters = early(llr)
        sync(device); t_early.append(time.perf_counter() - t0)
    bler_full = float((u_full != u).any(dim=1).float().mean())
    bler_early = float((u_early != u).any(dim=1).float().mean())
    converged = iters < 20
    same = bool((u_early[converged] == u_full[converged]).all())
    return {"ebno_db": ebno_db, "blocks": blocks, "t_full": statistics.median(t_full),
            "t_early": statistics.median(t_early), "mean_iter": float(iters.float().mean()),
            "bler_full": bler_full, "bler_early": bler_early, "same_bits": same,
            "best": min(t_full) / min(t_early)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", action="append",
                   help="cpu, cuda, cuda:N, auto (repeatable); default: the CPU and, when "
                        "present, cuda:0")
    p.add_argument("--k", type=int, default=1024)
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--ebno-db", default="1.0,1.5,2.5,3.0,4.0",
                   help="comma-separated Eb/N0 points [dB]")
    p.add_argument("--blocks", type=int, default=None, help="code words per call")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--compile", action="store_true", help="also run torch.compile'd decoders")
    add_runtime_options(p)
    args = p.parse_args()
    apply_runtime_options(args)
    set_seed(1)
    try:     # semlink's one device rule: a CUDA device that is not here is an error, up front
        devices = ([resolve_device(d, name="--device") for d in args.device] if args.device
                   else ["cpu"] + (["cuda:0"] if torch.cuda.is_available() else []))
    except DeviceError as exc:
        p.error(str(exc))
    points = [float(v) for v in args.ebno_db.split(",")]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"k={args.k} n={args.n} QPSK AWGN, max_iter 20, boxplus-phi, {describe_malloc_tuning()}")
    print(f"{'device':<8} {'compile':<7} {'EbN0':>5} {'blocks':>6} {'BLER full':>10} "
          f"{'BLER ET':>10} {'same':>5} {'mean it':>7} {'full Mbit/s':>11} {'ET Mbit/s':>10} "
          f"{'ratio':>6} {'best':>6}")
    for device in devices:
        for use_compile in ([False, True] if args.compile else [False]):
            for eb in points:
                blocks = args.blocks or (300 if device == "cpu" else 20000)
                r = bench_point(args.k, args.n, eb, blocks, args.repeats, device, use_compile)
                bits = blocks * args.k
                print(f"{device:<8} {str(use_compile):<7} {eb:5.2f} {blocks:6d} "
                      f"{r['bler_full']:10.2e} {r['bler_early']:10.2e} {str(r['same_bits']):>5} "
                      f"{r['mean_iter']:7.2f} {bits / r['t_full'] / 1e6:11.3f} "
                      f"{bits / r['t_early'] / 1e6:10.3f} {r['t_full'] / r['t_early']:6.2f} "
                      f"{r['best']:6.2f}", flush=True)


if __name__ == "__main__":
    main()
