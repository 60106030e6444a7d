"""Summaries of a results file: one run per (codec setting, channel), lists per SNR point.

Values are means over images (and over seeds when several were run); per-image
values stay in the HDF5 file. NaN (e.g. BER of a codec without digital
streams, or a failed point) becomes ``null`` in JSON.
"""

from __future__ import annotations

import json
import math

import numpy as np

from .results import load_results


def _mean(arrays: list) -> float | None:
    if not arrays:
        return None
    values = np.concatenate([np.asarray(a, float).ravel() for a in arrays])
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else None


def summarize(path: str, failed_as_worst: bool = False) -> dict:
    """Summary dict of ``results.h5`` (see ``semlink summary --json``).

    :param failed_as_worst: score images whose decode fell back at the metric's worst
        value (see :func:`semlink.links.timing.apply_failed_as_worst`).
    """
    attrs, points = load_results(path)
    if failed_as_worst:
        from .timing import apply_failed_as_worst

        points = apply_failed_as_worst(points)
    scenario = json.loads(attrs["scenario_json"])
    profiles_all = {**_default_profiles(), **(scenario.get("profiles") or {})}
    runs: dict[tuple, dict] = {}
    for p in points:
        key = (int(p["codec_index"]), int(p["channel_index"]))
        run = runs.setdefault(key, {"codec": p["codec"], "label": p["codec_label"],
                                    "params": json.loads(p["params_json"]),
                                    "channel": p["channel_label"],
                                    "channel_spec": json.loads(p["channel_json"]),
                                    "profile": {}, "_by_snr": {}, "failed_points": []})
        run["_by_snr"].setdefault(int(p["snr_index"]), []).append(p)
        if p["status"] == "ok":
            for stream, rep in p["phy"].items():
                run["profile"][stream] = {"name": rep["profile"],
                                          **profiles_all.get(rep["profile"], {})}
        else:
            run["failed_points"].append({"id": p.get("id", ""), "snr_db": _num(p["snr_db"]),
                                         "ebno_db": _num(p["ebno_db"]), "seed": p["seed"],
                                         "error": p["error"]})
    out_runs = []
    for key in sorted(runs):
        run = runs[key]
        by_snr = run.pop("_by_snr")
        snr_idx = sorted(by_snr)
        ok = {i: [p for p in by_snr[i] if p["status"] == "ok"] for i in snr_idx}
        names = sorted({m for i in snr_idx for p in ok[i] for m in p["metrics"]})
        run["snr_db"] = [_num(by_snr[i][0]["snr_db"]) for i in snr_idx]
        if any(_num(by_snr[i][0]["ebno_db"]) is not None for i in snr_idx):
            run["ebno_db"] = [_num(by_snr[i][0]["ebno_db"]) for i in snr_idx]
        run["symbols_per_image"] = [_mean([p["symbols_per_image"] for p in ok[i]]) for i in snr_idx]
        run["metrics"] = {m: [_mean([p["metrics"][m] for p in ok[i] if m in p["metrics"]])
                              for i in snr_idx] for m in names}
        run["fallback_rate"] = [_mean([np.asarray(p["fallback"], float) for p in ok[i]])
                                for i in snr_idx]
        run["num_images"] = max((len(p["images"]) for i in snr_idx for p in ok[i]), default=0)
        out_runs.append(run)
    return {"scenario": scenario, "env": json.loads(attrs["env_json"]),
            "semlink_version": attrs.get("semlink_version"),
            "metrics_unavailable": json.loads(attrs.get("metrics_unavailable_json", "{}")),
            "runs": out_runs}


def _default_profiles() -> dict:
    from .profiles import DEFAULT_PROFILES

    return DEFAULT_PROFILES


def _num(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def format_table(summary: dict) -> str:
    """Human-readable table of a summary."""
    lines = []
    for run in summary["runs"]:
        bindings = ", ".join(f"{s}: {p['name']}" for s, p in run["profile"].items())
        lines.append(f"== {run['label']}  |  channel {run['channel']}  |  {bindings}")
        metric_names = list(run["metrics"])
        head = f"{'SNR[dB]':>8} {'sym/img':>10} " + " ".join(f"{m:>10}" for m in metric_names)
        lines.append(head)
        for i, snr in enumerate(run["snr_db"] or run.get("ebno_db", [])):
            snr_text = f"{snr:8.2f}" if snr is not None else f"{run['ebno_db'][i]:7.2f}b"
            sym = run["symbols_per_image"][i]
            vals = []
            for m in metric_names:
                v = run["metrics"][m][i]
                vals.append(f"{'-':>10}" if v is None else f"{v:10.4g}")
            sym_text = "-" if sym is None else f"{sym:.0f}"
            lines.append(f"{snr_text} {sym_text:>10} " + " ".join(vals))
        for f in run["failed_points"]:
            lines.append(f"   FAILED at {f['snr_db']} dB (seed {f['seed']}): {f['error']}")
    return "\n".join(lines)
