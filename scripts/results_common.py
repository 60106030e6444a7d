"""Helpers shared by ``scripts/make_results.py`` and its entry modules (``results_*.py``).

Paths, running ``semlink`` and the report scripts, and the tables every results
document shares (metric tables, the "what ran" provenance table, the environment line).
"""

from __future__ import annotations

import contextlib
import io
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "results"
OUT = ROOT / "out" / "results"


def git_describe() -> str:
    """``git describe --always --dirty --abbrev=12`` of the repository."""
    res = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return res.stdout.strip()


def semlink(args: list[str], ok_codes: tuple[int, ...] = (0,)) -> str:
    """Run ``semlink ARGS`` in this process; return what it printed (raise when its exit
    code is not in ``ok_codes``)."""
    from semlink.links.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(args)
    if code not in ok_codes:
        raise SystemExit(f"semlink {' '.join(args)} failed with exit code {code}:\n{buf.getvalue()}")
    return buf.getvalue()


def fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    return folder


def fmt(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if digits >= 0 else f"{value:.2g}"


def metric_table(summary: dict, metric: str, digits: int) -> list[str]:
    """Markdown table: one row per (codec, channel) run, one column per SNR point."""
    runs = summary["runs"]
    snrs = runs[0]["snr_db"]
    head = "| scheme / channel | " + " | ".join(f"{s:g} dB" for s in snrs) + " |"
    rows = [head, "|---|" + "---|" * len(snrs)]
    for r in runs:
        values = r["metrics"].get(metric) or [None] * len(snrs)
        rows.append(f"| {r['label']} / {r['channel']}{mark(r)} | "
                    + " | ".join(fmt(v, digits) for v in values) + " |")
    return rows


def mark(run: dict) -> str:
    from semlink.links.summary import model_mark

    return model_mark(run)


def provenance_section(summary: dict) -> list[str]:
    """What ran, from the results file: tools and models (weight hashes, flags) per codec."""
    lines = ["## What ran (from results.h5)", "", "| codec | tools | models (sha256 of the weights loaded) |",
             "|---|---|---|"]
    seen = set()
    for r in summary["runs"]:
        prov = r.get("provenance")
        if not prov or r["label"] in seen or isinstance(prov, list):
            continue
        seen.add(r["label"])
        tools = ", ".join(f"{k} {v}" for k, v in sorted(prov["codec"]["tools"].items())) or "-"
        models = "; ".join(
            f"{m['role']} `{m['ref']}` {m['sha256'][:19]}…"
            + "".join(f" **{f.upper().replace('_', ' ')}**" for f in ("test_model", "random_init")
                      if m.get(f))
            for m in prov["codec"]["models"]) or "-"
        lines.append(f"| {r['label']} | {tools} | {models} |")
    flagged = [r for r in summary["runs"] if r.get("model_flags")]
    lines += ["", ("**Runs marked TEST MODEL / RANDOM INIT used such models.**" if flagged else
                   "No run used a test model or randomly initialised weights."), ""]
    return lines


def environment_line(summary: dict, describe: str) -> str:
    env = summary["env"]
    pk = env.get("packages", {})
    cuda = ", ".join(env.get("cuda_devices") or []) or "no GPU"
    return (f"torch {pk.get('torch')}, sionna-no-rt {pk.get('sionna-no-rt')}, "
            f"{env.get('torch_threads')} torch threads, {cuda}, device {env.get('device')}, "
            f"git {describe}")


def run_script(args: list[str]) -> str:
    """Run ``python ARGS`` (a committed script under scripts/) from the repository root;
    return its standard output (raise, with its output, on failure)."""
    res = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"python {' '.join(args)} failed with exit code {res.returncode}:\n"
                         f"{res.stdout[-4000:]}\n{res.stderr[-4000:]}")
    return res.stdout


def resumable_run(name: str, scenario: str) -> Path:
    """``semlink run SCENARIO --out out/results/NAME --resume`` for long studies: a killed
    regeneration continues where it stopped, and a finished run is reused as it is (its
    ``results.h5`` names the git revision that ran it). Failed points (recorded with their
    reason) are accepted; an incomplete run is not. Wall-clock start/end stamps go
    next to the folder (``NAME.start`` / ``NAME.end``)."""
    out = OUT / name
    out.parent.mkdir(parents=True, exist_ok=True)
    start, end = OUT / f"{name}.start", OUT / f"{name}.end"
    if not start.exists():
        start.write_text(f"{time.time()}\n")
    # exit code 1 = some points failed (recorded with their reason, e.g. a budget a codec
    # cannot meet); the study is still usable when every planned point is recorded
    semlink(["run", scenario, "--out", str(out.relative_to(ROOT)), "--no-plot", "--resume"],
            ok_codes=(0, 1))
    from semlink.links.summary import summarize

    summary = summarize(str(out / "results.h5"))
    if not summary["complete"]:
        raise SystemExit(f"{out}: only {summary['points_done']} of {summary['points_planned']} "
                         "points recorded; rerun this entry to resume")
    if not end.exists():
        end.write_text(f"{time.time()}\n")
    return out


def stamp_generated(doc: Path, entry: str, describe: str) -> None:
    """Put "Generated by ``make_results.py ENTRY``" under the page's title (once)."""
    lines = doc.read_text().split("\n")
    line = (f"*Generated by `python scripts/make_results.py {entry}` from a clean tree "
            f"(git {describe}): it runs the commands named on this page and writes the page "
            "from their outputs; do not edit by hand.*")
    if any("scripts/make_results.py" in ln for ln in lines[:6]):
        return
    at = 1 if lines and lines[0].startswith("# ") else 0
    doc.write_text("\n".join([*lines[:at], "", line, *lines[at:]]))
