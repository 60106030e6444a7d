"""What remains of a local Ray run after its driver is killed with SIGKILL, and for how long.

Starts ``semlink run --executor ray`` (local Ray, 2 workers) on a small
synthetic scenario, waits until the first point is journalled (so the Ray
processes and workers are up), records every descendant process of the
driver (GCS, raylet, workers, ...), kills the driver with SIGKILL and polls
until none of them is alive. Prints how many there were and how long the
last one took to end (or which remain after ``--wait`` seconds).

    .venv/bin/python benchmarks/ray_driver_kill.py
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    tree, out, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:100]
    except OSError:
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wait", type=float, default=120.0, help="seconds to wait after the kill")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "images").mkdir()
        rng = np.random.default_rng(0)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(
                tmp / "images" / f"im{i}.png")
        raw = {"dataset": {"path": "images"}, "codecs": [{"name": "raw_pixels"}],
               "channels": ["awgn"], "snr_db": list(range(0, 40)), "metrics": ["psnr"]}
        (tmp / "s.yaml").write_text(yaml.safe_dump(raw))
        env = dict(os.environ, RAY_ENABLE_UV_RUN_RUNTIME_ENV="0")
        driver = subprocess.Popen([sys.executable, "-m", "semlink.links.cli", "run",
                                   str(tmp / "s.yaml"), "--out", str(tmp / "o"), "--executor",
                                   "ray", "--ray-workers", "2", "--no-plot"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        journal = tmp / "o" / ".points"
        deadline = time.time() + 600
        while time.time() < deadline and not (journal.exists() and list(journal.glob("*.h5"))):
            time.sleep(0.2)
        procs = {p: cmdline(p) for p in descendants(driver.pid)}
        print(f"driver pid {driver.pid}: {len(procs)} descendant processes before the kill")
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        t0 = time.time()
        ended: dict[int, float] = {}
        while time.time() - t0 < args.wait and len(ended) < len(procs):
            for p in procs:
                if p not in ended and not alive(p):
                    ended[p] = time.time() - t0
            time.sleep(0.2)
        for p, name in procs.items():
            when = f"ended after {ended[p]:5.1f} s" if p in ended else "STILL ALIVE"
            print(f"  {p:>7} {when}  {name}")
        left = [p for p in procs if p not in ended]
        if left:
            print(f"{len(left)} still alive {args.wait:.0f} s after SIGKILL (now killed by this script)")
            for p in left:              # clean up what this script started
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        else:
            print(f"all {len(procs)} ended {max(ended.values(), default=0.0):.1f} s after the "
                  "driver's SIGKILL")

if __name__ == "__main__":
    main()
