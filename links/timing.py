"""Inference time per image and per scheme (``semlink summary --timing``), and worst-value scoring.

**Timing** (the feature-fusion Multi-SC paper's Table II: mean seconds per
image per scheme): for codecs that report per-image stage timings
(``time_<stage>_s`` metrics, e.g. ``multisc`` / ``vlmcsc``) the time of an
image is the sum of its stages plus its share of the point's PHY time (PHY
seconds / images); for other codecs it is (encode + PHY + decode seconds) /
images of each point. Mean ± standard deviation are over images x points
(stage codecs) or over points. The metrics stage (scoring the reconstruction:
CLIP, LPIPS, BLEU, a VLM judge, ...) is not inference and stays out of the
mean, but is reported beside it per image (``metrics``), so a slow metric is
seen rather than hidden. Encoding is cached across SNR points; the
cached encode time is counted at every point, as a receiver-independent
system would pay it once per image. The device is the results file's.

**Failed classical decodes** (``semlink summary --failed-as-worst``): the
Multi-SC papers score an image whose classical decode failed (the codec's
``fallback`` flag, e.g. BPG-LDPC below the cliff) at the metric's worst
value: CLIP cosine similarity 0, LPIPS 1, SSIM / MS-SSIM 0. Metrics without a
defined worst value (PSNR, MSE, text metrics) keep their measured value.
The raw per-image values in ``results.h5`` are never changed.
"""

from __future__ import annotations

import json
import math

import numpy as np

from .results import load_results

#: metric -> value an image gets when its classical decode failed (``--failed-as-worst``)
WORST_VALUE = {"clip_similarity": 0.0, "lpips": 1.0, "ssim": 0.0, "ms_ssim": 0.0}


def apply_failed_as_worst(points: list[dict], worst: dict | None = None) -> list[dict]:
    """Copy of ``points`` with metrics of fallback images set to their worst value."""
    worst = WORST_VALUE if worst is None else worst
    out = []
    for p in points:
        if p.get("status") != "ok" or not np.asarray(p.get("fallback", []), bool).any():
            out.append(p)
            continue
        failed = np.asarray(p["fallback"], bool)
        metrics = dict(p["metrics"])
        for name, value in worst.items():
            if name in metrics:
                vals = np.asarray(metrics[name], float).copy()
                vals[failed] = value
                metrics[name] = vals
        out.append({**p, "metrics": metrics})
    return out


def _device(env: dict) -> str:
    if env.get("cuda_available") and env.get("cuda_devices"):
        return ", ".join(env["cuda_devices"])
    return f"CPU ({env.get('processor') or env.get('machine') or 'unknown'}, " \
           f"{env.get('torch_threads', '?')} threads)"


def timing_summary(path: str) -> dict:
    """Per scheme (codec setting): mean/std seconds per image, per stage when reported."""
    attrs, points = load_results(path)
    env = json.loads(attrs["env_json"])
    runs: dict[int, dict] = {}
    for p in points:
        if p["status"] != "ok" or not len(p["images"]):
            continue
        run = runs.setdefault(int(p["codec_index"]), {"label": p["codec_label"], "codec": p["codec"],
                                                      "totals": [], "stages": {}})
        n = len(p["images"])
        t = p["timings"]
        run.setdefault("metrics_s", []).append(t.get("metrics_s", 0.0) / n)
        stages = sorted(k for k in p["metrics"] if k.startswith("time_") and k.endswith("_s"))
        if stages:
            phy = np.full(n, t.get("phy_s", 0.0) / n)
            total = phy.copy()
            run["stages"].setdefault("phy", []).extend(phy.tolist())
            for k in stages:
                v = np.asarray(p["metrics"][k], float)
                run["stages"].setdefault(k[len("time_"):-len("_s")], []).extend(v.tolist())
                total += v
            run["totals"].extend(total.tolist())
        else:
            run["totals"].append((t.get("encode_s", 0.0) + t.get("phy_s", 0.0) + t.get("decode_s", 0.0)) / n)
    out = []
    for idx in sorted(runs):
        r = runs[idx]
        out.append({"label": r["label"], "codec": r["codec"], "samples": len(r["totals"]),
                    **_mean_std(r["totals"]),
                    "stages": {k: _mean_std(v) for k, v in sorted(r["stages"].items())},
                    "metrics": _mean_std(r["metrics_s"])})
    return {"device": _device(env), "runs": out}


def _mean_std(values) -> dict:
    v = np.asarray(values, float)
    return {"mean_s": float(v.mean()) if v.size else math.nan,
            "std_s": float(v.std(ddof=1)) if v.size > 1 else 0.0}


def format_timing(summary: dict) -> str:
    """Table II-style text: one line per scheme, stage breakdown below when available."""
    lines = [f"inference time per image, device: {summary['device']}",
             f"{'scheme':<40} {'mean [s]':>10} {'std [s]':>10} {'n':>6}"]
    for r in summary["runs"]:
        lines.append(f"{r['label']:<40} {r['mean_s']:10.4g} {r['std_s']:10.3g} {r['samples']:>6}")
        for stage, v in r["stages"].items():
            lines.append(f"    {stage:<36} {v['mean_s']:10.4g} {v['std_s']:10.3g}")
        if "metrics" in r:
            v = r["metrics"]
            lines.append(f"    {'metrics (evaluation, not in mean)':<36} {v['mean_s']:10.4g} "
                         f"{v['std_s']:10.3g}")
    return "\n".join(lines)
