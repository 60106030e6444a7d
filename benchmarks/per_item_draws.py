"""Cost of per-image noise draws: one AWGN call vs. one call per item (DrawPlan).

The digital chain sends every item (one stream of one image) through the
channel with its own generator, so per-image results do not depend on the
batch size. This measures what that costs against a single channel call on
the same [100, 1024] symbols cut into items of 1-8 code blocks (as in
``benchmarks/phy_throughput.py``), best of 20 runs, one torch thread, on
every device present (CPU, and ``cuda:0`` when there is one).

    python benchmarks/per_item_draws.py [--device cuda:0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from semlink.phy import AWGNChannel
from semlink.phy.channels.draws import DrawPlan


def best(fn, device: str, repeats: int = 20) -> float:
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", action="append", help="cpu, cuda:0 (repeatable); default: all")
    args = ap.parse_args()
    torch.set_num_threads(1)
    devices = args.device or (["cpu"] + (["cuda:0"] if torch.cuda.is_available() else []))
    rng = np.random.default_rng(0)
    per = rng.integers(1, 9, 40)
    per = per[np.cumsum(per) <= 100]
    per = np.append(per, 100 - per.sum())
    print(f"torch {torch.__version__}, threads 1")
    for device in devices:
        ch = AWGNChannel(seed=0, device=device)
        x = torch.ones(100, 1024, dtype=torch.complex64, device=device)
        no = torch.full((100,), 0.1, device=device)
        plan = DrawPlan.build(per, per * 1024, range(len(per)), range(len(per)))
        ch(x, no), ch.transmit_items(x, no, plan)                # warm-up
        one = best(lambda: ch(x, no), device)
        items = best(lambda: ch.transmit_items(x, no, plan), device)
        print(f"device {device}: items {len(per)}, one call {one * 1e3:.2f} ms, per-item calls "
              f"{items * 1e3:.2f} ms, extra {1e3 * (items - one):.2f} ms per 100 code blocks")


if __name__ == "__main__":
    main()
