"""Sweep points per second: local executor vs Ray with 1 and 2 long-lived workers, one run.

Each variant runs the same scenario into a fresh folder (start-up included:
Ray start, workers importing torch and building every codec setting once),
in the order local, ray x1, ray x2, then checks that all three results hold
identical per-image values.

    nice -n 10 .venv/bin/python benchmarks/ray_workers.py --scenario scenarios/quickstart.yaml \
        --channels 1 --snr-db 0,5,10,15,20
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
import yaml

from semlink.links.runner import run_sweep
from semlink.links.scenario import parse_scenario
from sweep_values import per_point_values


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/quickstart.yaml")
    ap.add_argument("--workers", default="1,2", help="Ray worker counts to measure")
    ap.add_argument("--channels", type=int, default=None, help="keep the first N channels")
    ap.add_argument("--snr-db", default=None, help="override the SNR points, e.g. 0,5,10")
    args = ap.parse_args()
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    print(f"scenario {args.scenario} (channels {args.channels or 'all'}, snr_db "
          f"{args.snr_db or 'as given'}), torch {torch.__version__}, local threads "
          f"{torch.get_num_threads()}, CPUs {os.cpu_count()}")
    variants = [("local", None)] + [("ray", int(w)) for w in args.workers.split(",")]
    rows, values = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for executor, workers in variants:
            path = Path(args.scenario)
            raw = yaml.safe_load(path.read_text())
            if args.channels:
                raw["channels"] = raw["channels"][: args.channels]
            if args.snr_db:
                raw["snr_db"] = [float(v) for v in args.snr_db.split(",")]
            sc = parse_scenario(raw, source=str(path), base_dir=path.resolve().parent)
            t0 = time.perf_counter()
            out = run_sweep(sc, f"{tmp}/{executor}{workers or ''}", executor=executor,
                            ray_workers=workers, progress=False)
            wall = time.perf_counter() - t0
            rows.append((executor if workers is None else f"ray x{workers}", out.total, wall))
            values.append(per_point_values(out.results))
    base = rows[0][2]
    print(f"{'executor':>10} {'points':>7} {'wall s':>8} {'points/s':>9} {'vs local':>9}")
    for name, total, wall in rows:
        print(f"{name:>10} {total:>7} {wall:8.1f} {total / wall:9.3f} {base / wall:9.2f}")
    print(f"identical per-image values: {all(v == values[0] for v in values[1:])}")


if __name__ == "__main__":
    main()
