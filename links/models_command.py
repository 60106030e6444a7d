"""``semlink models list | check SCENARIO | fetch NAME...``: the model layer on the command line.

* ``list``: every model semlink's codecs and metrics use by default
  (:data:`semlink.models.CATALOG`), whether it is on this machine, where,
  its size on disk and a content hash.
* ``check SCENARIO``: before a run, the models the scenario's codecs and
  metrics need and which are missing (exit status 1 when any is).
* ``fetch NAME...``: download into ``$SEMLINK_MODELS`` (or ``--into``);
  needs the network.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list, check and fetch pretrained models (offline first)")
    msub = p.add_subparsers(dest="models_command", required=True)
    lp = msub.add_parser("list", help="models used by codecs and metrics: present?, size, hash")
    lp.add_argument("--json", action="store_true", help="print JSON")
    lp.set_defaults(func=cmd_list)
    cp = msub.add_parser("check", help="what a scenario needs and what is missing")
    cp.add_argument("scenario", help="YAML scenario file")
    cp.add_argument("--json", action="store_true", help="print JSON")
    cp.set_defaults(func=cmd_check)
    fp = msub.add_parser("fetch", help="download models into $SEMLINK_MODELS (needs the network)")
    fp.add_argument("names", nargs="+", help="model references, e.g. facebook/bart-base")
    fp.add_argument("--into", default=None, help="target folder (default: $SEMLINK_MODELS)")
    fp.set_defaults(func=cmd_fetch)


def _size(n: int | None) -> str:
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


def scenario_needs(scenario) -> list[dict]:
    """Every (who, role, model reference) the scenario's codecs and metrics need."""
    needs = []
    for c in scenario.codecs:
        declared = getattr(c.instance, "required_models", None)
        for role, ref in (declared() if callable(declared) else []):
            needs.append({"who": f"codec {c.label}", "role": role, "ref": ref})
    for m in scenario.metrics:
        for role, ref in _metric_needs(m["name"], m["params"]):
            needs.append({"who": f"metric {m['name']}", "role": role, "ref": ref})
    return needs


def cmd_check(args: argparse.Namespace) -> int:
    from semlink.models import describe_ref, parse_ref

    from .scenario import load_scenario

    scenario = load_scenario(args.scenario)
    rows = []
    for need in scenario_needs(scenario):
        d = describe_ref(need["ref"])
        rows.append({**need, "present": d["present"], "path": d["path"],
                     "test_model": d.get("test_model", False),
                     "fetch": None if d["present"] else parse_ref(need["ref"]).fetch_command()})
    missing = [r for r in rows if not r["present"]]
    if args.json:
        print(json.dumps({"scenario": args.scenario, "needs": rows, "missing": len(missing)}, indent=1))
        return 1 if missing else 0
    if not rows:
        print(f"{args.scenario}: needs no pretrained model")
    for r in rows:
        state = "ok     " if r["present"] else "MISSING"
        extra = r["path"] if r["present"] else f"fetch: {r['fetch']}"
        test = " [TEST MODEL]" if r["test_model"] else ""
        print(f"{state} {r['ref']}{test}  ({r['who']}: {r['role']})  {extra}")
    if missing:
        print(f"{len(missing)} model(s) missing: fetch them on a machine with internet and copy "
              "them into $SEMLINK_MODELS, or run with --allow-download", file=sys.stderr)
    return 1 if missing else 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from semlink.models import fetch

    for name in args.names:
        path = fetch(name, into=args.into)
        print(f"{name} -> {path}")
    return 0
