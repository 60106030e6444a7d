"""``semlink models list | check SCENARIO | fetch NAME...``: the model layer on the command line.

* ``list``: every model semlink's codecs and metrics use by default
  (:data:`semlink.models.CATALOG`), whether it is on this machine, where,
  its size on disk and a content hash.
* ``check SCENARIO``: before a run, every model the scenario's codecs
  (:meth:`~semlink.semantic.codec.Codec.declared_models`) and metrics need,
  read from the file without building or loading anything: where it was
  found or looked for, its parameter count and size on disk, stand-ins
  flagged, and what the weights take on the device; exit status 1 when any
  is missing (all are listed, not only the first).
* ``stand-ins``: the models semlink can build at their published size with
  seeded random weights (:mod:`semlink.stand_ins`).
* ``fetch NAME...``: download into ``$SEMLINK_MODELS`` (or ``--into``);
  needs the network.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from semlink.device import resolve_device


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list, check and fetch pretrained models (offline first)")
    msub = p.add_subparsers(dest="models_command", required=True)
    lp = msub.add_parser("list", help="models used by codecs and metrics: present?, size, hash")
    lp.add_argument("--json", action="store_true", help="print JSON")
    lp.set_defaults(func=cmd_list)
    cp = msub.add_parser("check", help="what a scenario needs and what is missing")
    cp.add_argument("scenario", help="YAML scenario file")
    cp.add_argument("--json", action="store_true", help="print JSON")
    cp.add_argument("--device", default=None,
                    help="device the memory estimate is for (default: the scenario's)")
    cp.add_argument("--gpu-gib", type=float, default=None,
                    help="instead: plan for a CUDA device with this many GiB (CUDA dtypes), "
                         "e.g. 24, 48 or 80, whether or not one is here")
    cp.set_defaults(func=cmd_check)
    sp = msub.add_parser("stand-ins", help="models semlink can build at their published size "
                                           "with random weights (stand_in:NAME references)")
    sp.add_argument("--json", action="store_true", help="print JSON")
    sp.set_defaults(func=cmd_stand_ins)
    fp = msub.add_parser("fetch", help="download models into $SEMLINK_MODELS (needs the network)")
    fp.add_argument("names", nargs="+", help="model references, e.g. facebook/bart-base")
    fp.add_argument("--into", default=None, help="target folder (default: $SEMLINK_MODELS)")
    fp.set_defaults(func=cmd_fetch)


def _size(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def cmd_list(args: argparse.Namespace) -> int:
    from semlink.models import CATALOG, describe_ref, models_dir

    rows = [{**describe_ref(e.ref), "used_by": list(e.used_by), "description": e.description}
            for e in CATALOG]
    if args.json:
        print(json.dumps({"models_dir": str(models_dir()), "models": rows}, indent=1))
        return 0
    print(f"$SEMLINK_MODELS = {models_dir()}")
    for r in rows:
        state = "present" if r["present"] else "MISSING"
        flag = "  [TEST MODEL]" if r.get("test_model") else ""
        print(f"{r['ref']}\n  {state}{flag}  {_size(r['size_bytes'])}  {r['sha256'] or ''}")
        print(f"  {r['path'] or r.get('why', '')}")
        print(f"  used by: {', '.join(r['used_by'])}")
    return 0


def _metric_needs(name: str, params: dict) -> list[tuple[str, str]]:
    """Models a built-in metric needs, from its scenario parameters."""
    if name == "lpips":
        return [("lpips backbone", "torchvision:AlexNet_Weights.IMAGENET1K_V1")]
    if name == "clip_similarity":
        from semlink.metrics.crossmodal import DEFAULT_CLIP

        return [("clip_similarity", params.get("model", DEFAULT_CLIP))]
    if name in ("answer_match", "relevance_loss") and params.get("vlm"):
        return [(f"{name} judge", params["vlm"])]
    return []


def codec_settings(raw: dict) -> list[dict]:
    """The scenario's codec settings from its raw mapping, grids expanded by the scenario's
    own :func:`~semlink.links.scenario.grid_settings` (same labels), without building any
    codec: ``{"label", "name", "params"}``."""
    from .scenario import grid_settings

    out = []
    for entry in raw.get("codecs") or []:
        entry = {"name": entry} if isinstance(entry, str) else dict(entry or {})
        name, label = entry.get("name"), entry.get("label", entry.get("name"))
        for setting_label, params in grid_settings(str(label), dict(entry.get("params") or {}),
                                                   dict(entry.get("grid") or {})):
            out.append({"label": setting_label, "name": name, "params": params})
    return out


def _codec_needs(name: str, params: dict) -> list[tuple[str, str]]:
    """``(role, ref)`` a codec setting needs: the class's
    :meth:`~semlink.semantic.codec.Codec.declared_models`, or, for codecs that only answer
    once built (``required_models`` overridden), the built codec's."""
    from semlink.semantic import CODECS, make_codec
    from semlink.semantic.codec import Codec

    cls: Any = CODECS.get(name)       # a Codec subclass (the registry holds factories)
    if getattr(cls.declared_models, "__func__", None) is not Codec.__dict__["declared_models"].__func__:
        return list(cls.declared_models(params))
    if getattr(cls, "required_models", Codec.required_models) is not Codec.required_models:
        return list(make_codec(name, params).required_models())
    return []


def _diffusion_dtype(role: str, params: dict, device: str) -> str:
    """dtype the model of ``role`` is loaded in: SD components follow ``diffusion.dtype``
    (``auto``: float16 on CUDA), everything else is loaded in float32."""
    if not role.startswith("diffusion"):
        return "float32"
    diff = params.get("diffusion")
    dtype = diff.get("dtype", "auto") if isinstance(diff, dict) else params.get("dtype", "auto")
    if dtype == "auto":
        return "float16" if str(device).startswith("cuda") else "float32"
    return str(dtype)


def scenario_needs(raw: dict, device: str = "cpu") -> list[dict]:
    """Every model the scenario's codecs and metrics need: ``{"who", "role", "ref", "dtype"}``
    (plus ``"error"`` for a codec setting whose needs could not be read), from the raw mapping
    only: no model is loaded and a missing one does not stop the listing."""
    needs = []
    for c in codec_settings(raw):
        who = f"codec {c['label']}"
        try:
            got = _codec_needs(c["name"], c["params"])
        except Exception as exc:  # noqa: BLE001 - reported per setting, the listing goes on
            needs.append({"who": who, "role": "?", "ref": None, "dtype": None,
                          "error": f"{type(exc).__name__}: {exc}"})
            continue
        for role, ref in got:
            needs.append({"who": who, "role": role, "ref": ref,
                          "dtype": _diffusion_dtype(role, c["params"], device)})
    for entry in raw.get("metrics", ["psnr"]) or []:
        spec = {"name": entry} if isinstance(entry, str) else dict(entry or {})
        params = {k: v for k, v in spec.items() if k != "name"}
        for role, ref in _metric_needs(str(spec.get("name")), params):
            needs.append({"who": f"metric {spec.get('name')}", "role": role, "ref": ref,
                          "dtype": "float32"})
    return needs


def read_raw(path: str) -> dict:
    """The scenario file's mapping (:func:`~semlink.links.scenario.read_scenario_file`: every
    error names the file), with a clear error when it is not a mapping."""
    from .scenario import read_scenario_file

    p = Path(path)
    raw = read_scenario_file(p)
    if not isinstance(raw, dict):
        raise ValueError(f"{p}: a scenario file is a mapping (dataset, codecs, ...), got "
                         f"{type(raw).__name__}")
    return raw


def check_scenario(raw: dict, device: str = "cpu") -> dict:
    """Where every model the scenario needs is (:func:`semlink.models.locate`), which are
    missing, and what their weights take on ``device``.

    :returns: ``{"needs": [row per (who, role, ref)], "models": [row per ref with used_by],
        "missing": [refs], "errors": [codec settings whose needs could not be read]}``.
    """
    from semlink.models import locate

    rows, seen = [], {}
    for need in scenario_needs(raw, device):
        if need.get("error"):
            rows.append({**need, "present": False})
            continue
        if need["ref"] not in seen:
            seen[need["ref"]] = locate(need["ref"])
        rows.append({**need, **{k: v for k, v in seen[need["ref"]].items() if k != "ref"}})
    models: dict[str, dict] = {}
    for r in rows:
        if r.get("error"):
            continue
        m = models.setdefault(r["ref"], {**{k: v for k, v in r.items()
                                           if k not in ("who", "role", "dtype")}, "used_by": []})
        m["used_by"].append(f"{r['who']}: {r['role']}")
    missing = [ref for ref, m in models.items() if not m["present"]]
    errors = [r for r in rows if r.get("error")]
    return {"needs": rows, "models": list(models.values()), "missing": missing, "errors": errors}


def _params(n: int | None) -> str:
    if n is None:
        return "size unknown"
    return f"{n / 1e9:.2f} B params" if n >= 1e9 else f"{n / 1e6:.1f} M params"


def print_check(name: str, report: dict, out=None) -> None:
    """The text form of :func:`check_scenario` (one block per model)."""
    out = out or sys.stdout
    if not report["models"] and not report["errors"]:
        print(f"{name}: needs no pretrained model", file=out)
    for m in report["models"]:
        state = "ok     " if m["present"] else "MISSING"
        flag = (" [STAND-IN, RANDOM INIT]" if m.get("stand_in") else "") \
            + (" [TEST MODEL]" if m.get("test_model") else "")
        sub = f" (as {m['stand_in']})" if m.get("stand_in") and m["stand_in"] != m["ref"] else ""
        disk = f", {_size(m['size_bytes'])} on disk" if m.get("size_bytes") is not None else ""
        print(f"{state} {m['ref']}{sub}{flag}  {_params(m.get('params'))}{disk}", file=out)
        print(f"  used by: {'; '.join(m['used_by'])}", file=out)
        if m["present"]:
            print(f"  at: {m['path']} ({m['source']})", file=out)
        else:
            print(f"  looked in: {'; '.join(m.get('searched') or []) or '-'}", file=out)
            if m.get("why") and not m.get("searched"):
                print(f"  why: {m['why']}", file=out)
            print(f"  get it: {_fetch_hint(m['ref'])}", file=out)
    for e in report["errors"]:
        print(f"ERROR   {e['who']}: its models could not be read: {e['error']}", file=out)


def _fetch_hint(ref: str) -> str:
    from semlink.models import parse_ref

    try:
        r = parse_ref(ref)
    except ValueError as exc:
        return str(exc)
    if r.kind == "path":
        return "a local file or folder: fix the path, or make it (e.g. semlink train NAME)"
    return r.fetch_command()


def cmd_check(args: argparse.Namespace) -> int:
    raw = read_raw(args.scenario)
    from .memory import model_memory_plan

    if args.gpu_gib is not None:        # plan for a CUDA card of that size, present or not
        if not args.gpu_gib > 0:
            raise ValueError(f"--gpu-gib must be > 0, got {args.gpu_gib}")
        report = check_scenario(raw, "cuda")
        plan = model_memory_plan(report["needs"], "cuda", limit_bytes=int(args.gpu_gib * 2**30),
                                 device_name=f"a CUDA device of {args.gpu_gib:g} GiB")
    else:
        device = resolve_device(args.device or raw.get("device"), name="device")
        report = check_scenario(raw, device)
        plan = model_memory_plan(report["needs"], device)
    if args.json:
        needs = [{**r, "fetch": None if r.get("present") or not r.get("ref")
                  else _fetch_hint(r["ref"])} for r in report["needs"]]
        print(json.dumps({"scenario": args.scenario, **report, "needs": needs,
                          "missing_refs": report["missing"], "missing": len(report["missing"]),
                          "memory": plan}, indent=1, default=str))
    else:
        print_check(args.scenario, report)
        print(plan["summary"])
    if report["missing"] or report["errors"]:
        print(f"{len(report['missing'])} model(s) missing"
              + (f", {len(report['errors'])} codec setting(s) unreadable" if report["errors"] else "")
              + ": fetch them on a machine with internet and copy them into $SEMLINK_MODELS, "
              "or run with --allow-download, or use stand-ins (SEMLINK_STAND_INS=1 or "
              "'stand_in:NAME' references; docs/models.md)", file=sys.stderr)
        return 1
    return 0


def cmd_stand_ins(args: argparse.Namespace) -> int:
    """``semlink models stand-ins``: every stand-in, what it stands in for, its size, built?"""
    from semlink import stand_ins
    from semlink.models import models_dir

    rows: list[dict[str, Any]] = []
    for name, entry in stand_ins.CATALOG.items():
        folder = models_dir() / "stand_in" / stand_ins.StandInRef(name).folder_name
        rows.append({"ref": f"stand_in:{name}", "stands_in_for": list(entry.stands_in_for),
                     "description": entry.description, "params": entry.params,
                     "built": (folder / stand_ins.STAND_IN_MARKER).is_file(), "folder": str(folder)})
    if args.json:
        print(json.dumps({"models_dir": str(models_dir()), "stand_ins": rows}, indent=1))
        return 0
    print(f"stand-ins (published architecture, seeded RANDOM weights; built on first use under "
          f"{models_dir() / 'stand_in'}); add ':small' for reduced width, ':full:SEED' for a seed")
    for r in rows:
        size = _params(r["params"]) if r["params"] else "size: the codec's defaults"
        print(f"{r['ref']:<36} {size:<16} {'built' if r['built'] else 'not built'}")
        print(f"  {r['description']}")
        if r["stands_in_for"]:
            print(f"  stands in for: {', '.join(r['stands_in_for'])} (SEMLINK_STAND_INS=1)")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from semlink.models import fetch

    for name in args.names:
        path = fetch(name, into=args.into)
        print(f"{name} -> {path}")
    return 0


class ModelsUnavailable(RuntimeError):
    """Before a run: a codec's model is missing, or the models will not fit on the device."""


def preflight(scenario_path: str, device: str | None = None, raw: dict | None = None) -> dict:
    """The check ``semlink run`` makes before the first point (nothing is loaded).

    Every codec model must be found (a missing metric model only warns: the run skips
    that metric, as it always has), and the models' weights plus the activation
    allowance must fit on the device (:func:`~semlink.links.memory.model_memory_plan`).

    :param raw: the scenario file's mapping when the caller has read it (``semlink run``
        reads the file once); `None`: read here.
    :raises ModelsUnavailable: naming every missing model with where it was looked for,
        or every model with its size when they will not fit.
    :returns: ``{"report", "memory"}`` when the run can go ahead.
    """
    import logging

    from .memory import model_memory_plan

    raw = read_raw(scenario_path) if raw is None else raw
    device = resolve_device(device or raw.get("device"), name="device")
    report = check_scenario(raw, device)
    plan = model_memory_plan(report["needs"], device)
    log = logging.getLogger(__name__)
    bad = []
    for m in report["models"]:
        if m["present"]:
            continue
        codec_users = [u for u in m["used_by"] if u.startswith("codec ")]
        where = "; ".join(m.get("searched") or []) or m.get("why") or "-"
        line = f"{m['ref']} (used by {'; '.join(m['used_by'])}; looked in: {where})"
        if codec_users:
            bad.append(line)
        else:
            log.warning("model missing, the metric will be skipped: %s", line)
    for e in report["errors"]:
        bad.append(f"{e['who']}: its models could not be read: {e['error']}")
    if bad:
        raise ModelsUnavailable(
            f"{scenario_path}: {len(bad)} model(s) the codecs need are not on this machine "
            "(checked before the first point):\n  " + "\n  ".join(bad)
            + "\nFetch them (semlink models fetch NAME on a machine with internet, then copy "
            "them into $SEMLINK_MODELS), run with --allow-download, or use stand-ins "
            "(SEMLINK_STAND_INS=1 or 'stand_in:NAME' references; docs/models.md).")
    if plan["fits"] is False:
        raise ModelsUnavailable(
            f"{scenario_path}: the scenario's models will not fit on {plan['device']} "
            f"(checked before the first point): {plan['summary']}. Use a larger device, fewer "
            "codec settings per run (each keeps its own models), or dtype float16 for diffusion; "
            "--skip-model-check runs anyway.")
    return {"report": report, "memory": plan}
