"""Which stages of a sweep point depend on torch's intra-op thread count (one process).

Evaluates every point of a scenario twice, with ``--threads A`` and ``--threads B``
torch threads, with the same seeds, and prints per point whether the encoded
payload, the received streams, the reconstructed images and each metric's
per-image values are bit-identical. This is the reproduction behind the Ray
executor's thread pinning (``links/ray_executor.py``): on torch 2.14, JPEG2000
and HEVC-intra differ only in PSNR (``torch.mean`` of float32 squared errors,
split over threads), deep JSCC also in its reconstruction (``ConvTranspose2d``).

    nice -n 10 .venv/bin/python benchmarks/thread_count_values.py --scenario scenarios/quickstart.yaml \\
        --channels 1 --snr-db 0,10 --images 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import yaml

from semlink.links.scenario import parse_scenario
from semlink.links.sweep import PointRunner, point_seed


def stream_bytes(payload) -> dict:
    """Stream name -> bytes of every image's data (bit-exact comparison)."""
    return {name: [np.asarray(x).tobytes() for x in stream.data]
            for name, stream in payload.streams.items()}


def evaluate(scenario, threads: int, images: int) -> dict:
    """Point id -> (payload bytes, received bytes, reconstructions, metric values)."""
    torch.set_num_threads(threads)
    runner = PointRunner(scenario)
    out = {}
    for point in scenario.points():
        codec, link = runner.codec(point), runner.link(point)
        seed = point_seed(point)
        link.reseed(seed)
        torch.manual_seed(seed)
        codec.attach_phy({s: link.chain(p) for s, p in codec.stream_profiles.items()})
        items = next(iter(runner.dataset.batches(images)))
        payload = codec.encode_items(items)
        received = link.transmit(payload, point.snr_db)
        recon = codec.decode(received)
        values = {m.name: np.asarray(m.compute([it.image for it in items], recon)).tolist()
                  for m in runner.metrics}
        out[point.id] = (stream_bytes(payload), stream_bytes(received),
                         [img.clone() for img in recon.images], values)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/quickstart.yaml")
    ap.add_argument("--channels", type=int, default=None, help="keep the first N channels")
    ap.add_argument("--snr-db", default="0,10", help="SNR points [dB Es/N0], e.g. 0,10")
    ap.add_argument("--images", type=int, default=2, help="keep the first N dataset images")
    ap.add_argument("--threads", default="2,1", help="the two thread counts to compare")
    args = ap.parse_args()
    path = Path(args.scenario)
    raw = yaml.safe_load(path.read_text())
    if args.channels:
        raw["channels"] = raw["channels"][: args.channels]
    raw["snr_db"] = [float(v) for v in args.snr_db.split(",")]
    if isinstance(raw["dataset"].get("path"), list):
        raw["dataset"]["path"] = raw["dataset"]["path"][: args.images]
    scenario = parse_scenario(raw, source=str(path), base_dir=path.resolve().parent)
    a, b = (int(t) for t in args.threads.split(","))
    print(f"scenario {args.scenario}, torch {torch.__version__}, threads {a} vs {b}, "
          f"device {scenario.device}")
    first, second = evaluate(scenario, a, args.images), evaluate(scenario, b, args.images)
    print(f"{'point':>18} {'codec':>12} {'payload':>8} {'received':>9} {'recon':>6}  metrics")
    codecs = {p.id: p.codec.label for p in scenario.points()}
    for pid, (pay, rx, rec, val) in first.items():
        pay2, rx2, rec2, val2 = second[pid]
        same_recon = all(torch.equal(x, y) for x, y in zip(rec, rec2, strict=True))
        metrics = " ".join(f"{k}={'same' if val[k] == val2[k] else 'DIFF'}" for k in val)
        print(f"{pid:>18} {codecs[pid]:>12} {str(pay == pay2):>8} {str(rx == rx2):>9} "
              f"{str(same_recon):>6}  {metrics}")


if __name__ == "__main__":
    main()
