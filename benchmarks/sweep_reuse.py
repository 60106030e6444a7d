"""End-to-end sweep time with and without reuse of error-free reconstructions (issue 12).

Runs a scenario twice in one process, alternating: ``reuse_error_free=False``
(every point decodes and measures every image) and ``True`` (an image whose
digital streams all arrived without a bit error or CRC failure reuses the
metrics of its error-free reconstruction, computed once per codec setting).
Prints wall and process CPU time (CPU time is robust to other load on a
shared machine), decode + metrics time from the results, reused images,
the ratio, and checks the per-image numbers are identical.

    nice -n 10 .venv/bin/python benchmarks/sweep_reuse.py \\
        --scenario scenarios/kodak24_baselines.yaml --max-images 2 --channels 1
"""

from __future__ import annotations

import argparse
import logging
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from sweep_values import per_point_values

from semlink.links.results import load_results
from semlink.links.runner import run_sweep
from semlink.links.scenario import parse_scenario
from semlink.links.sweep import resolve_device


def _stage_seconds(path: str) -> dict[str, float]:
    _, points = load_results(path)
    out = dict.fromkeys(("encode_s", "phy_s", "decode_s", "metrics_s"), 0.0)
    for p in points:
        for k in out:
            out[k] += p["timings"].get(k, 0.0)
    out["reused"] = sum(int(np.sum(p.get("reused", []))) for p in points)
    out["images"] = sum(len(p["images"]) for p in points if p["status"] == "ok")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/kodak24_baselines.yaml")
    ap.add_argument("--max-images", type=int, default=None,
                    help="keep the first N images (a documented subset on slow machines)")
    ap.add_argument("--channels", type=int, default=None,
                    help="keep the first N channels (a documented subset on slow machines)")
    ap.add_argument("--device", default=None, help="override the scenario's device")
    args = ap.parse_args()
    path = Path(args.scenario)
    raw = yaml.safe_load(path.read_text())
    if args.max_images:
        raw["dataset"]["max_images"] = args.max_images
    if args.channels:
        raw["channels"] = raw["channels"][: args.channels]
    if args.device:
        raw["device"] = args.device
    print(f"scenario {path}, max_images {args.max_images or 'all'}, channels "
          f"{args.channels or 'all'}, device "
          f"{resolve_device(raw.get('device'))}, torch {torch.__version__}, threads "
          f"{torch.get_num_threads()}, {platform.machine()}")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for reuse in (False, True):
            sc = parse_scenario(raw, source=str(path), base_dir=path.resolve().parent)
            t0, c0 = time.perf_counter(), time.process_time()
            outcome = run_sweep(sc, f"{tmp}/{reuse}", progress=False, reuse_error_free=reuse)
            rows[reuse] = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                           "points": outcome.total,
                           "failed": len(outcome.failed), **_stage_seconds(outcome.results),
                           "values": per_point_values(outcome.results)}
    print(f"{'reuse':>6} {'points':>6} {'images':>7} {'reused':>7} {'wall s':>8} {'CPU s':>8} "
          f"{'encode s':>9} "
          f"{'phy s':>8} {'decode s':>9} {'metrics s':>10}")
    for reuse, r in rows.items():
        print(f"{'on' if reuse else 'off':>6} {r['points']:>6} {r['images']:>7} {r['reused']:>7} "
              f"{r['wall_s']:8.1f} {r['cpu_s']:8.1f} {r['encode_s']:9.1f} {r['phy_s']:8.1f} "
              f"{r['decode_s']:9.1f} "
              f"{r['metrics_s']:10.1f}")
    off, on = rows[False], rows[True]
    print(f"end-to-end speed-up (wall off / wall on): {off['wall_s'] / on['wall_s']:.3f}")
    print(f"end-to-end speed-up in process CPU time (robust to other load): "
          f"{off['cpu_s'] / on['cpu_s']:.3f}")
    dm_off, dm_on = off["decode_s"] + off["metrics_s"], on["decode_s"] + on["metrics_s"]
    print(f"decode + metrics speed-up: {dm_off / max(dm_on, 1e-9):.2f}")
    print(f"per-image values identical: {off['values'] == on['values']}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")   # semlink's log on stderr
    main()
