"""Cost of per-image noise draws: Sionna's AWGN vs semlink's counter-based draws.

The digital chain sends every item (one stream of one image) through the
channel with noise keyed by the item's seed, so per-image results do not
depend on the batch size (nor on the device). This measures, on the same
``[blocks, 1024]`` complex symbols cut into items of 1-8 code blocks (as in
``benchmarks/phy_throughput.py``), best of ``--repeats`` runs:

* ``sionna``: Sionna's ``AWGN`` block (``torch.randn``, one call, batch-dependent);
* ``counter``: semlink's ``AWGNChannel.transmit_items`` with a ``DrawPlan``
  (counter-hash-v2, all items in one call);
* ``per-item``: the earlier scheme, one call and one ``torch.Generator`` per
  item (what plug-in channels without ``counter_draws`` still get);
* ``counter, torch kernels``: where ``counter`` uses the fused Triton kernel
  (float32 on CUDA with Triton installed, :func:`semlink.phy.counter_rng.fused_draws`),
  the same draws from the torch kernels (``SEMLINK_FUSED_DRAWS=0``): same numbers,
  about a hundred launches instead of one.

    python benchmarks/per_item_draws.py [--device cuda:0] [--blocks 2000] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from sionna.phy.channel import AWGN

from semlink.phy import AWGNChannel
from semlink.phy.channels.draws import DrawPlan
from semlink.phy.counter_rng import FUSED_ENV, fused_draws


class PerItemAWGN(AWGNChannel):
    """The same AWGN with the earlier ``torch-per-item`` draws."""

    counter_draws = False


def best(fn, device: str, repeats: int) -> float:
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
    ap.add_argument("--blocks", type=int, default=2000, help="code blocks of 1024 symbols")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    devices = args.device or (["cpu"] + (["cuda:0"] if torch.cuda.is_available() else []))
    rng = np.random.default_rng(0)
    per = rng.integers(1, 9, args.blocks)
    per = per[np.cumsum(per) <= args.blocks]
    if per.sum() < args.blocks:
        per = np.append(per, args.blocks - per.sum())
    print(f"torch {torch.__version__}, threads {args.threads}, {args.blocks} blocks x 1024 "
          f"symbols, {len(per)} items, best of {args.repeats}")
    for device in devices:
        x = torch.ones(args.blocks, 1024, dtype=torch.complex64, device=device)
        no = torch.full((args.blocks,), 0.1, device=device)
        plan = DrawPlan.build(per, per * 1024, range(len(per)), range(len(per)),
                              block_symbols=1024, device=device)
        sionna, counter = AWGN(device=device), AWGNChannel(seed=0, device=device)
        legacy = PerItemAWGN(seed=0, device=device)
        runs = {"sionna": lambda: sionna(x, no.unsqueeze(-1)),
                "counter": lambda: counter.transmit_items(x, no, plan),
                "per-item": lambda: legacy.transmit_items(x, no, plan)}
        if fused_draws(torch.device(device), torch.float32):
            def torch_kernels():
                before = os.environ.get(FUSED_ENV)
                os.environ[FUSED_ENV] = "0"
                try:
                    counter.transmit_items(x, no, plan)
                finally:
                    if before is None:
                        del os.environ[FUSED_ENV]
                    else:
                        os.environ[FUSED_ENV] = before
            runs["counter, torch kernels"] = torch_kernels
        times = {}
        for name, fn in runs.items():
            fn()                                                  # warm-up
            times[name] = best(fn, device, args.repeats)
        print(f"device {device}: " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in times.items())
              + f"; counter / sionna {times['counter'] / times['sionna']:.2f}x, per-item / "
              f"counter {times['per-item'] / times['counter']:.2f}x"
              + (f"; torch kernels / fused {times['counter, torch kernels'] / times['counter']:.2f}x"
                 if "counter, torch kernels" in times else ""))


if __name__ == "__main__":
    main()
