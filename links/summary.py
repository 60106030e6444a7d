"""Summaries of a results file: one run per (codec setting, channel), lists per SNR point.

Values are means over images (and over seeds when several were run); per-image
values stay in the HDF5 file. NaN (e.g. BER of a codec without digital
streams, or a failed point) becomes ``null`` in JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

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

    Besides the runs: ``complete``, ``points_done``, ``points_planned`` (a killed
    run is incomplete, ``resume_command`` says how to finish it) and
    ``snr_convention`` (``"Es/N0"`` or ``"Eb/N0"``: what the scenario swept; each
    run lists ``snr_db`` = Es/N0 per channel use and, where defined, ``ebno_db``).

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
                                          **_profile_spec(rep["profile"], profiles_all)}
        else:
            run["failed_points"].append({"id": p.get("id", ""), "snr_db": _num(p["snr_db"]),
                                         "ebno_db": _num(p["ebno_db"]), "seed": p["seed"],
                                         "error": p["error"],
                                         "peak_rss_mb": _num(p["timings"].get("peak_rss_mb"))})
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
        run.update(_failure_columns(ok, snr_idx, by_snr))
        run["num_images"] = max((len(p["images"]) for i in snr_idx for p in ok[i]), default=0)
        run["stream_ebno_db"] = _stream_ebno_db(ok, snr_idx)
        run.update(_run_provenance([p for i in snr_idx for p in by_snr[i]]))
        out_runs.append(run)
    for run in out_runs:
        run.update(_ebno_offset(run))
    return {"scenario": scenario, "env": json.loads(attrs["env_json"]),
            "semlink_version": attrs.get("semlink_version"),
            "metrics_unavailable": json.loads(attrs.get("metrics_unavailable_json", "{}")),
            **completeness(attrs, points, path),
            "snr_convention": "Eb/N0" if "ebno_db" in scenario else "Es/N0",
            "runs": out_runs}


def completeness(attrs: dict, points: list[dict], path: str) -> dict:
    """``complete``, ``points_done``, ``points_planned`` and, when incomplete, ``resume_command``."""
    planned = attrs.get("points_planned")
    planned = int(planned) if planned is not None else None
    done = len(points)
    out: dict[str, Any] = {"complete": planned is None or done >= planned, "points_done": done,
           "points_planned": planned}
    if not out["complete"]:
        from pathlib import Path

        out["resume_command"] = (f"semlink run {attrs.get('source', 'SCENARIO.yaml')} --out "
                                 f"{Path(path).parent} --resume")
    return out


def _failure_columns(ok: dict, snr_idx: list, by_snr: dict) -> dict:
    """Per SNR point: fallback / decoded-with-errors / reused image counts, reasons, and the
    peak memory of every point there, failed ones included (a point that failed may have
    failed for memory)."""
    def count(name):
        return [int(sum(int(np.sum(np.asarray(p.get(name, []), bool))) for p in ok[i]))
                for i in snr_idx]

    reasons = []
    for i in snr_idx:
        seen: dict[str, int] = {}
        for p in ok[i]:
            for r in p.get("fallback_reason", []):
                if r:
                    seen[r] = seen.get(r, 0) + 1
        reasons.append(seen)
    peak = [max((p["timings"]["peak_rss_mb"] for p in by_snr[i] if "peak_rss_mb" in p["timings"]),
                default=math.nan) for i in snr_idx]
    return {"fallback_images": count("fallback"),
            "decoded_with_errors_images": count("decoded_with_errors"),
            "reused_images": count("reused"), "fallback_reasons": reasons,
            "images_evaluated": [sum(len(p["images"]) for p in ok[i]) for i in snr_idx],
            "peak_rss_mb": [_num(v) for v in peak]}


def _ebno_offset(run: dict) -> dict:
    """``es_minus_eb_db``: Es/N0 - Eb/N0 [dB] of the run (constant), when Eb/N0 is defined."""
    pairs = [(s, e) for s, e in zip(run["snr_db"], run.get("ebno_db", []), strict=False) if s is not None
             and e is not None]
    return {"es_minus_eb_db": round(pairs[0][0] - pairs[0][1], 4)} if pairs else {}


def _stream_ebno_db(ok: dict, snr_idx: list) -> dict[str, list]:
    """Digital stream -> Eb/N0 [dB] per SNR point (``None`` where not recorded)."""
    streams = sorted({s for i in snr_idx for p in ok[i] for s, rep in p["phy"].items()
                      if rep["kind"] == "digital"})
    return {s: [next((_num(p["phy"][s].get("ebno_db")) for p in ok[i] if s in p["phy"]), None)
                for i in snr_idx] for s in streams}


def _run_provenance(points: list[dict]) -> dict:
    """``provenance`` (codec params/tools/models, metric models) of a run and its
    ``model_flags`` (``"test_model"``/``"random_init"``) and ``model_warnings``.

    Points of one run normally share one provenance; when they differ (e.g. a run
    resumed with other weights) all variants are listed and a warning says so.
    """
    from semlink.provenance import model_warnings

    variants = list(dict.fromkeys(p["provenance_json"] for p in points if p.get("provenance_json")))
    if not variants:
        return {"provenance": None, "model_flags": [], "model_warnings": []}
    decoded = [json.loads(v) for v in variants]
    warnings: list[str] = []
    flags: set[str] = set()
    for prov in decoded:
        records = [("codec", r) for r in prov["codec"]["models"]]
        records += [(f"metric {m!r}", r) for m, rs in prov["metrics"].items() for r in rs]
        for where, r in records:
            flags.update(f for f in ("test_model", "random_init") if r.get(f))
            warnings += model_warnings([r], where)
    if len(decoded) > 1:
        warnings.append(f"the points of this run were computed with {len(decoded)} different "
                        "codec/metric configurations or weights (see provenance)")
    return {"provenance": decoded[0] if len(decoded) == 1 else decoded,
            "model_flags": sorted(flags), "model_warnings": list(dict.fromkeys(warnings))}


def model_mark(run: dict) -> str:
    """`` [TEST MODEL]``, `` [RANDOM INIT]``, both or ``""``: appended to a run's label
    in tables and plot legends so a tiny or random model cannot be missed."""
    from semlink.provenance import FLAG_MARKS

    flags = run.get("model_flags") or []
    return "".join(f" [{FLAG_MARKS[f]}]" for f in ("test_model", "random_init") if f in flags)


def _profile_spec(name: str, profiles: dict) -> dict:
    """A named profile's spec, generated profile-grid names included."""
    from .profile_grid import resolve_generated_profile

    return profiles.get(name) or resolve_generated_profile(name, profiles) or {}


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
    """Human-readable table of a summary.

    The first column is the scenario's SNR convention (Es/N0 or Eb/N0), the
    other follows when defined; ``fallback`` counts images decoded as the
    documented fallback, ``dec.err`` images decoded from damaged streams.
    """
    lines = _flag_banner(summary)
    if not summary.get("complete", True):
        lines.append(f"INCOMPLETE: {summary['points_done']} of {summary['points_planned']} "
                     f"points; finish with: {summary['resume_command']}")
    ebno_axis = summary.get("snr_convention") == "Eb/N0"
    for run in summary["runs"]:
        bindings = ", ".join(f"{s}: {p['name']}" for s, p in run["profile"].items())
        lines.append(f"== {run['label']}{model_mark(run)}  |  channel {run['channel']}  |  {bindings}")
        lines += [f"   WARNING: {w}" for w in run.get("model_warnings", [])]
        metric_names = list(run["metrics"])
        ebno = run.get("ebno_db")
        cols = ([("Eb/N0[dB]", ebno), ("Es/N0[dB]", run["snr_db"])] if ebno_axis else
                [("Es/N0[dB]", run["snr_db"])] + ([("Eb/N0[dB]", ebno)] if ebno else []))
        head = (" ".join(f"{c:>9}" for c, _ in cols) + f" {'sym/img':>10} "
                + " ".join(f"{m:>10}" for m in metric_names) + f" {'fallback':>9} {'dec.err':>8}")
        lines.append(head)
        for i in range(len(run["snr_db"])):
            xs = " ".join(f"{'-':>9}" if v[i] is None else f"{v[i]:9.2f}" for _, v in cols)
            sym = run["symbols_per_image"][i]
            vals = []
            for m in metric_names:
                v = run["metrics"][m][i]
                vals.append(f"{'-':>10}" if v is None else f"{v:10.4g}")
            sym_text = "-" if sym is None else f"{sym:.0f}"
            n = run.get("images_evaluated", [0] * (i + 1))[i]
            fb = run.get("fallback_images", [0] * (i + 1))[i]
            de = run.get("decoded_with_errors_images", [0] * (i + 1))[i]
            lines.append(f"{xs} {sym_text:>10} " + " ".join(vals)
                         + f" {f'{fb}/{n}':>9} {f'{de}/{n}':>8}")
        for f in run["failed_points"]:
            lines.append(f"   FAILED at {f['snr_db']} dB (seed {f['seed']}): {f['error']}")
    for name, reason in summary.get("metrics_unavailable", {}).items():
        lines.append(f"metric {name} unavailable: {reason}")
    return "\n".join(lines)


def _flag_banner(summary: dict) -> list[str]:
    """Lines opening the table when any run used a tiny test model or a random one."""
    flagged = [r for r in summary["runs"] if r.get("model_flags")]
    if not flagged:
        return []
    return [f"!! {len(flagged)} of {len(summary['runs'])} run(s) used a TINY TEST MODEL or "
            "RANDOMLY INITIALISED weights (marked below); their numbers do not describe "
            "the real models", ""]
