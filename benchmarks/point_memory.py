"""Peak memory of the PHY per coded bit (calibrates ``semlink.links.memory``).

Sends batches of random bits through ``DigitalChain`` (5G LDPC, rate 1/2,
8-PSK, AWGN, float32) in fresh subprocesses and prints the peak RSS growth
per coded bit between two batch sizes (the slope, so fixed costs cancel).

    nice -n 10 .venv/bin/python benchmarks/point_memory.py [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, sys, torch
from semlink.links.memory import PeakMemory
from semlink.phy import DigitalChain
bits, k, device = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
chain = DigitalChain(code="ldpc5g", k=k, rate=0.5, modulation="psk8", channel="awgn", seed=0,
                     device=device)
chain.transmit([torch.randint(0, 2, (k * 4,), dtype=torch.uint8)], snr_db=5.0)   # warm up
peak = PeakMemory(device)
data = [torch.randint(0, 2, (bits,), dtype=torch.uint8)]
chain.transmit(data, snr_db=5.0)
blocks = chain.blocks_for(bits)
print(json.dumps({"coded_bits": blocks * chain.config.n, **peak.result()}))
"""


def measure(bits: int, k: int, device: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(bits), str(k), device],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto",
                    help="auto (first CUDA device if any, else cpu), cpu, cuda, cuda:N")
    ap.add_argument("--k", type=int, default=1024)
    ap.add_argument("--sizes", default="200000,1000000", help="two payload sizes [bits]")
    args = ap.parse_args()
    from semlink.device import resolve_device

    args.device = resolve_device(args.device, name="--device")
    small, big = (int(v) for v in args.sizes.split(","))
    a, b = measure(small, args.k, args.device), measure(big, args.k, args.device)
    key = "cuda_max_allocated_mb" if args.device.startswith("cuda") else "peak_rss_mb"
    slope = (b[key] - a[key]) * 2**20 / (b["coded_bits"] - a["coded_bits"])
    print(f"device {args.device}, LDPC k={args.k} rate 1/2, 8-PSK, AWGN")
    for r in (a, b):
        print(f"  {r['coded_bits']:>10d} coded bits: peak {key} {r[key]:.1f} MiB")
    print(f"peak memory per coded bit: {slope:.1f} bytes")


if __name__ == "__main__":
    main()
