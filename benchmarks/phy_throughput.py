"""Information bits per second: semlink's digital chain vs. the same pipeline in raw Sionna.

Coded rows run CRC -> 5G LDPC encoder -> mapper -> AWGN -> APP demapper ->
LDPC decoder (20 BP iterations) -> CRC check and count bit errors on both
sides, on the same number of code blocks and payload bits. The uncoded row
(``code: none``, 1024-bit blocks, QPSK, no CRC) runs mapper -> AWGN -> APP
demapper -> hard decisions against raw Sionna's ``Mapper``, ``AWGN`` and
``Demapper`` on the same bits: there the chain's own work is all that is
measured. semlink additionally takes a list of bitstreams of different
lengths (1-8 code blocks each: 4428 streams for 20000 blocks), converts and
checks them at once, segments them, draws every item's noise with the
counter-based generator from its own seed (per-image draws, batch- and
device-independent), reassembles them with one split and builds the
per-item report -- its real overhead, printed as microseconds per stream
(``(semlink time - raw time) / streams``, from process CPU times on a CPU
device, wall times on CUDA). semlink's LDPC early termination is
switched off so both decoders run 20 iterations (its gain is measured by
``benchmarks/ldpc_early_termination.py``). Runs alternate (semlink, sionna,
semlink, ...) and the median is reported, so both see the same machine state.
The device is printed on every row.

    python benchmarks/phy_throughput.py                # CPU, and CUDA when present
    python benchmarks/phy_throughput.py --device cpu --threads 1 --only-uncoded --repeats 3
    python benchmarks/phy_throughput.py --device cuda:0 --repeats 3
    python benchmarks/phy_throughput.py --compile      # also with torch.compile'd decoders
    python benchmarks/phy_throughput.py --device cpu --threads 1 --processes 5 --repeats 3

"ratio" = semlink/sionna throughput from median times, "best" = from the
fastest run of each (least disturbed by other load), "cpu" = from median
process CPU times (with ``--threads 1`` on a CPU device the most robust to
other jobs on a shared machine). Goals: ratio >= 0.95 on CUDA for the coded
rows; >= 0.9 for the uncoded row on the CPU. With ``--processes P`` each row
is the median over P fresh processes (one process's state moves a decoder
call's time by up to ~20 % on a CPU unless glibc's allocator is tuned), with
the range of their ratios. ``--malloc default`` leaves glibc's allocator as
it is (semlink commands tune it: ``semlink.runtime``). The load average is
printed with the header: on a shared machine, quote it with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from runtime_options import add_runtime_options, apply_runtime_options
from sionna.phy.channel import AWGN
from sionna.phy.fec.crc import CRCDecoder, CRCEncoder
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.mapping import Demapper, Mapper

from semlink.phy import DigitalChain, make_constellation, set_seed, snr_db_to_no
from semlink.runtime import describe_malloc_tuning


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


class RawSionna:
    """The same pipeline written directly with Sionna blocks."""

    def __init__(self, k, n, crc, modulation, device):
        self.crc_enc = CRCEncoder(crc, k=k - 16 if crc == "CRC16" else k - 24, device=device)
        self.crc_dec = CRCDecoder(self.crc_enc, device=device)
        const = make_constellation(modulation, device=device)
        m = const.num_bits_per_symbol
        self.enc = LDPC5GEncoder(k, n, num_bits_per_symbol=m if n % m == 0 and m > 1 else None,
                                 device=device)
        self.dec = LDPC5GDecoder(self.enc, num_iter=20, hard_out=True, return_infobits=True,
                                 device=device)
        self.mapper = Mapper(constellation=const, device=device)
        self.demapper = Demapper("app", constellation=const, device=device)
        self.awgn = AWGN(device=device)
        self.k_info = self.crc_enc.k

    def run(self, bits, no):
        x = self.mapper(self.enc(self.crc_enc(bits)))
        y = self.awgn(x, no)
        u_hat, ok = self.crc_dec(self.dec(self.demapper(y, no.unsqueeze(-1))))
        return int((u_hat != bits).sum()), ok


class RawUncoded:
    """Raw Sionna mapper -> AWGN -> APP demapper -> hard decisions (no code, no CRC)."""

    def __init__(self, k, modulation, device):
        const = make_constellation(modulation, device=device)
        self.mapper = Mapper(constellation=const, device=device)
        self.demapper = Demapper("app", constellation=const, device=device)
        self.awgn = AWGN(device=device)
        self.k_info = k

    def run(self, bits, no):
        y = self.awgn(self.mapper(bits), no.unsqueeze(-1))
        u_hat = (self.demapper(y, no.unsqueeze(-1)) > 0).to(bits.dtype)
        return int((u_hat != bits).sum()), None


def compile_decoders(chain: DigitalChain, raw: RawSionna) -> None:
    """torch.compile the Sionna LDPC decoder on both sides (the dominant cost)."""
    inner = chain.decoder._decoder
    inner.forward = torch.compile(inner.forward, dynamic=True)
    raw.dec.forward = torch.compile(raw.dec.forward, dynamic=True)


def bench(device, code, k, n, modulation, blocks, repeats, snr_db, use_compile=False):
    set_seed(1)
    if code == "none":
        chain = DigitalChain(code="none", k=k, crc=None, modulation=modulation, channel="awgn",
                             device=device, seed=1)
        raw = RawUncoded(k, modulation, device)
    else:
        chain = DigitalChain(k=k, n=n, crc="CRC16" if k <= 3824 else "CRC24B",
                             modulation=modulation, channel="awgn", device=device, seed=1,
                             early_termination=False)
        raw = RawSionna(k, n, chain.config.crc, modulation, device)
        if use_compile:
            compile_decoders(chain, raw)
    k_info = chain.config.k_info
    rng = np.random.default_rng(0)
    # variable-length streams that fill exactly `blocks` code blocks
    per_item = rng.integers(1, 9, size=blocks)
    per_item = per_item[np.cumsum(per_item) <= blocks]
    per_item = np.append(per_item, blocks - per_item.sum()) if per_item.sum() < blocks else per_item
    # each stream fills its blocks exactly, so both sides carry the same payload
    streams = [torch.from_numpy(rng.integers(0, 2, int(b) * k_info, dtype=np.uint8)).to(device)
               for b in per_item]
    payload = sum(int(s.numel()) for s in streams)
    bits = torch.randint(0, 2, (blocks, k_info), device=device).float()
    no = torch.full((blocks,), snr_db_to_no(snr_db), device=device)
    seeds = list(range(len(streams)))       # per-item draws, as the link passes them
    # warm-up (build, allocator, compilation)
    chain.transmit(streams[:4], snr_db=snr_db, draw_seeds=seeds[:4])
    raw.run(bits[:8], no[:8])
    t_sem, t_raw, c_sem, c_raw = [], [], [], []
    for _ in range(repeats):
        sync(device); t0, c0 = time.perf_counter(), time.process_time()
        _, rep = chain.transmit(streams, snr_db=snr_db, draw_seeds=seeds)
        sync(device); t_sem.append(time.perf_counter() - t0); c_sem.append(time.process_time() - c0)
        sync(device); t0, c0 = time.perf_counter(), time.process_time()
        raw.run(bits, no)
        sync(device); t_raw.append(time.perf_counter() - t0); c_raw.append(time.process_time() - c0)
    assert int(rep.blocks.sum()) == blocks
    assert payload == blocks * k_info
    sem = payload / statistics.median(t_sem)
    ref = payload / statistics.median(t_raw)
    best = min(t_raw) / min(t_sem)
    # process CPU time: on a CPU device with one torch thread, robust to other load
    cpu = statistics.median(c_raw) / statistics.median(c_sem)
    # on a CPU device the process CPU time (robust to other load), on CUDA the wall time
    t_s, t_r = (c_sem, c_raw) if device == "cpu" else (t_sem, t_raw)
    overhead = (statistics.median(t_s) - statistics.median(t_r)) / len(streams)
    return {"device": device, "compile": use_compile, "code": code, "k": k, "n": n,
            "modulation": modulation, "blocks": blocks, "items": len(streams),
            "semlink_bps": sem, "sionna_bps": ref, "ratio": sem / ref, "ratio_best": best,
            "ratio_cpu": cpu, "overhead_us_per_stream": overhead * 1e6,
            "noise_generator": chain.noise_generator}


#: (code, k, n, modulation); the uncoded row carries 4428 streams (20000 blocks)
CONFIGS = [("ldpc5g", 1024, 2048, "qpsk"), ("ldpc5g", 4096, 6144, "psk8"),
           ("ldpc5g", 512, 1024, "qam16"), ("none", 1024, 1024, "qpsk")]
UNCODED_BLOCKS = 20000


def default_blocks(device: str, k: int, code: str = "ldpc5g") -> int:
    """About the same number of payload bits per call for every code (coded rows on
    the CPU: fewer, LDPC decoding dominates); the uncoded row: 20000 blocks everywhere."""
    if code == "none":
        return UNCODED_BLOCKS
    return int((400 if device == "cpu" else 20000) * 1024 / k)


def fresh_processes(args, device: str, use_compile: bool, code: str, k: int, n: int,
                    mod: str) -> dict:
    """Run one configuration in ``args.processes`` fresh interpreters; median of their ratios.

    A process's state (allocator, caches, memory layout) moves one decoder
    call's time by up to ~20 % on a CPU, the same way for every call within
    that process; repeating the whole measurement in new processes averages
    that out instead of reporting one process's luck.
    """
    cmd = [sys.executable, __file__, "--device", device, "--repeats", str(args.repeats),
           "--snr-db", str(args.snr_db), "--only", f"{code},{k},{n},{mod}", "--json"]
    cmd += ["--blocks", str(args.blocks)] if args.blocks else []
    cmd += ["--threads", str(args.threads)] if args.threads else []
    cmd += ["--compile-only"] if use_compile else []
    cmd += ["--malloc", args.malloc]
    runs = []
    for _ in range(args.processes):
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    r = dict(runs[0])
    for key in ("semlink_bps", "sionna_bps", "ratio", "ratio_best", "ratio_cpu",
                "overhead_us_per_stream"):
        r[key] = statistics.median(run[key] for run in runs)
    r["ratio_min"] = min(run["ratio"] for run in runs)
    r["ratio_max"] = max(run["ratio"] for run in runs)
    return r


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", action="append", help="cpu, cuda:0 (repeatable); default: all")
    p.add_argument("--blocks", type=int, default=None, help="code blocks per call")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--snr-db", type=float, default=10.0)
    p.add_argument("--compile", action="store_true", help="also run with torch.compile'd decoders")
    p.add_argument("--only-uncoded", action="store_true",
                   help="only the uncoded row (code: none, 4428 streams)")
    p.add_argument("--processes", type=int, default=0,
                   help="repeat each configuration in this many fresh processes and report the "
                        "median of their ratios (with min-max); 0 = all in this process")
    add_runtime_options(p)
    p.add_argument("--only", help=argparse.SUPPRESS)          # code,k,n,mod: one configuration
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--compile-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.processes < 0:
        p.error(f"--processes must be >= 0, got {args.processes}")
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1, got {args.repeats}")
    apply_runtime_options(args)
    devices = args.device or (["cpu"] + (["cuda:0"] if torch.cuda.is_available() else []))
    for device in devices:
        if device.startswith("cuda") and not torch.cuda.is_available():
            p.error(f"--device {device}: no CUDA device is visible here; use --device cpu")
    if args.json:                           # one configuration, one line of JSON (child mode)
        code, k, n, mod = args.only.split(",")
        k, n = int(k), int(n)
        r = bench(devices[0], code, k, n, mod,
                  args.blocks or default_blocks(devices[0], k, code),
                  args.repeats, args.snr_db, args.compile_only)
        print(json.dumps(r))
        return
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"cuda available: {torch.cuda.is_available()}, {describe_malloc_tuning()}, "
          f"load average {load}"
          + (f", each row the median of {args.processes} fresh processes" if args.processes else ""))
    print(f"{'device':<8} {'compile':<7} {'code':<6} {'k':>5} {'n':>5} {'mod':<6} {'blocks':>6} "
          f"{'items':>5} {'semlink Mbit/s':>14} {'sionna Mbit/s':>13} {'ratio':>6} {'best':>6} "
          f"{'cpu':>6} {'us/stream':>9}" + (f" {'ratio min-max':>13}" if args.processes else ""))
    configs = [c for c in CONFIGS if c[0] == "none"] if args.only_uncoded else CONFIGS
    for device in devices:
        for use_compile in ([False, True] if args.compile else [False]):
            for code, k, n, mod in configs:
                if use_compile and code == "none":
                    continue                    # nothing to compile without a decoder
                blocks = args.blocks or default_blocks(device, k, code)
                if args.processes:
                    r = fresh_processes(args, device, use_compile, code, k, n, mod)
                else:
                    r = bench(device, code, k, n, mod, blocks, args.repeats, args.snr_db,
                              use_compile)
                print(f"{r['device']:<8} {str(use_compile):<7} {code:<6} {k:>5} {n:>5} {mod:<6} "
                      f"{blocks:>6} {r['items']:>5} "
                      f"{r['semlink_bps'] / 1e6:14.3f} {r['sionna_bps'] / 1e6:13.3f} "
                      f"{r['ratio']:6.3f} {r['ratio_best']:6.3f} {r['ratio_cpu']:6.3f} "
                      f"{r['overhead_us_per_stream']:9.1f}"
                      + (f" {r['ratio_min']:6.3f}-{r['ratio_max']:.3f}" if args.processes else ""),
                      flush=True)
    print(f"noise generator: {r['noise_generator']}; us/stream = (semlink time - raw time) / "
          "streams (process CPU time on a CPU device, wall time on CUDA)")


if __name__ == "__main__":
    main()
