"""Cost of per-image noise draws: one AWGN call vs. one call per item (DrawPlan).

The digital chain sends every item (one stream of one image) through the
channel with its own generator, so per-image results do not depend on the
batch size. This measures what that costs against a single channel call on
the same [100, 1024] symbols cut into items of 1-8 code blocks (as in
``benchmarks/phy_throughput.py``), best of 20 runs, one torch thread.

    python benchmarks/per_item_draws.py
"""

from __future__ import annotations

import time

import numpy as np
import torch

from semlink.phy import AWGNChannel
from semlink.phy.channels.draws import DrawPlan


def best(fn, repeats: int = 20) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    torch.set_num_threads(1)
    ch = AWGNChannel(seed=0)
    rng = np.random.default_rng(0)
    per = rng.integers(1, 9, 40)
    per = per[np.cumsum(per) <= 100]
    per = np.append(per, 100 - per.sum())
    x = torch.ones(100, 1024, dtype=torch.complex64)
    no = torch.full((100,), 0.1)
    plan = DrawPlan.build(per, per * 1024, range(len(per)), range(len(per)))
    one = best(lambda: ch(x, no))
    items = best(lambda: ch.transmit_items(x, no, plan))
    print(f"torch {torch.__version__}, device cpu, threads 1")
    print(f"items {len(per)}, one call {one * 1e3:.2f} ms, per-item calls {items * 1e3:.2f} ms, "
          f"extra {1e3 * (items - one):.2f} ms per 100 code blocks")


if __name__ == "__main__":
    main()
