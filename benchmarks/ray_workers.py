"""Sweep points per second: local executor vs Ray with 1 and 2 long-lived workers, one run.

Each variant runs the same scenario into a fresh folder (start-up included:
Ray start, workers importing torch and building every codec setting once),
in the order local, ray x1, ray x2, then checks that all three results hold
identical per-image values. Every variant evaluates points with the same torch
thread count (``--threads``, default torch's here): Ray workers are pinned to it
(see ``links/ray_executor.py``), so N workers use N x threads CPU threads. The
load average (``os.getloadavg``, as ``uptime``) is printed before and after each
variant, since the machine may be shared.

    nice -n 10 .venv/bin/python benchmarks/ray_workers.py --scenario scenarios/quickstart.yaml \
        --channels 1 --snr-db 0,5,10,15,20 [--threads 1]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import torch
import yaml
from sweep_values import per_point_values

from semlink.links.results import load_results
from semlink.links.runner import run_sweep
from semlink.links.scenario import parse_scenario
from semlink.links.sweep import resolve_device


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/quickstart.yaml")
    ap.add_argument("--workers", default="1,2", help="Ray worker counts to measure")
    ap.add_argument("--channels", type=int, default=None, help="keep the first N channels")
    ap.add_argument("--snr-db", default=None, help="override the SNR points, e.g. 0,5,10")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads(),
                    help="torch threads per point, local and in every Ray worker")
    ap.add_argument("--device", default=None,
                    help="override the scenario's device (cpu, cuda, auto); printed resolved")
    args = ap.parse_args()
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    print(f"scenario {args.scenario} (channels {args.channels or 'all'}, snr_db "
          f"{args.snr_db or 'as given'}), torch {torch.__version__}, torch threads per point "
          f"{args.threads} (local and each Ray worker), CPUs {os.cpu_count()}")
    variants = [("local", None)] + [("ray", int(w)) for w in args.workers.split(",")]
    rows, values, threads_seen, devices_seen = [], [], set(), set()
    with tempfile.TemporaryDirectory() as tmp:
        for executor, workers in variants:
            path = Path(args.scenario)
            raw = yaml.safe_load(path.read_text())
            if args.channels:
                raw["channels"] = raw["channels"][: args.channels]
            if args.snr_db:
                raw["snr_db"] = [float(v) for v in args.snr_db.split(",")]
            if args.device:
                raw["device"] = args.device
            sc = parse_scenario(raw, source=str(path), base_dir=path.resolve().parent)
            load0 = os.getloadavg()
            t0 = time.perf_counter()
            out = run_sweep(sc, f"{tmp}/{executor}{workers or ''}", executor=executor,
                            ray_workers=workers, progress=False, threads=args.threads)
            wall = time.perf_counter() - t0
            load = f"{load0[0]:.2f} -> {os.getloadavg()[0]:.2f}"
            rows.append((executor if workers is None else f"ray x{workers}", out.total, wall, load))
            devices_seen.add(resolve_device(sc.device))
            values.append(per_point_values(out.results))
            threads_seen |= {p["torch_threads"] for p in load_results(out.results)[1]}
    base = rows[0][2]
    print(f"{'executor':>10} {'points':>7} {'wall s':>8} {'points/s':>9} {'vs local':>9}"
          "  load avg 1 min (before -> after)")
    for name, total, wall, load in rows:
        print(f"{name:>10} {total:>7} {wall:8.1f} {total / wall:9.3f} {base / wall:9.2f}  {load}")
    print(f"torch threads recorded by the points: {sorted(threads_seen)}; "
          f"devices: {sorted(devices_seen)}")
    same = all(v == values[0] for v in values[1:])
    print(f"per-image values: {'identical' if same else 'DIFFERENT'} (all variants vs local)")
    for (name, *_), other in zip(rows[1:], values[1:], strict=False):
        diffs = [(pid, k) for (pid, a), (_, b) in zip(values[0], other, strict=True)
                 for k in a if a[k] != b.get(k)]
        if diffs:
            print(f"  {name}: {len(diffs)} (point, metric) differ, e.g. {diffs[:4]}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")   # semlink's log on stderr
    main()
