"""Regenerate docs/results/symbol_budget*.{md,png} from the study's results files.

    semlink run scenarios/symbol_budget.yaml --out out/symbol_budget
    semlink run scenarios/uep_layered.yaml --out out/uep_layered
    .venv/bin/python scripts/symbol_budget_report.py \\
        --study out/symbol_budget --uep out/uep_layered --docs docs/results

Figures: PSNR vs channel uses per image at Es/N0 = 0, 10 and 20 dB (Pareto
front highlighted), PSNR vs SNR at 6,144 channel uses per image, UEP vs EEP.
Tables: `semlink plan` at two budgets, the UEP comparison, the run times.
Everything below the "Numbers" heading of the page is generated; the prose
above it is this script's template (it quotes no number that is not in the
generated part).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path

from semlink.links.budget_plot import plot_fidelity_vs_symbols, plot_metric_vs_snr_at_budget
from semlink.links.plan import load_configs, plan
from semlink.links.results import load_results
from semlink.links.summary import summarize

SNRS = (0.0, 10.0, 20.0)
BUDGETS = (6144, 12288)
PREFIX = "symbol_budget"


def run_seconds(points: list[dict]) -> float:
    return sum(sum(p["timings"].values()) for p in points)


def wall_seconds(out_dir: Path) -> float | None:
    start, end = out_dir.parent / f"{out_dir.name}.start", out_dir.parent / f"{out_dir.name}.end"
    if start.exists() and end.exists():
        return float(end.read_text()) - float(start.read_text())
    return None


def uep_figure(path: str, dest: Path) -> tuple[str, list[dict]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarize(path)
    chans = list(dict.fromkeys(r["channel"] for r in summary["runs"]))
    fig, axes = plt.subplots(1, len(chans), figsize=(5.2 * len(chans), 4.2), squeeze=False,
                             sharey=True)
    for ax, ch in zip(axes[0], chans):
        for r in (r for r in summary["runs"] if r["channel"] == ch):
            ax.plot(r["snr_db"], r["metrics"]["psnr"], marker="o", markersize=3, label=r["label"])
        ax.set_title(f"{ch}, 6,144 channel uses/image")
        ax.set_xlabel("SNR = Es/N0 per channel use [dB]")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("PSNR [dB]")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(dest, dpi=120)
    plt.close(fig)
    return dest.name, summary["runs"]


def uep_table(runs: list[dict]) -> str:
    snrs = runs[0]["snr_db"]
    lines = ["| scheme / channel | " + " | ".join(f"{s:g} dB" for s in snrs) + " |",
             "|---|" + "---|" * len(snrs)]
    for r in runs:
        vals = " | ".join("-" if v is None else f"{v:.2f}" for v in r["metrics"]["psnr"])
        lines.append(f"| {r['label']} / {r['channel']} | {vals} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--study", default="out/symbol_budget")
    parser.add_argument("--uep", default="out/uep_layered")
    parser.add_argument("--docs", default="docs/results")
    args = parser.parse_args()
    study, uep, docs = Path(args.study), Path(args.uep), Path(args.docs)
    results = str(study / "results.h5")
    tmp = study / "report_plots"
    files = plot_fidelity_vs_symbols(results, "psnr", SNRS, str(tmp))
    files += plot_metric_vs_snr_at_budget(results, BUDGETS[0], "psnr", str(tmp))
    figures = []
    for f in files:
        if f.endswith(".png"):
            name = f"{PREFIX}_{Path(f).name}"
            shutil.copy(f, docs / name)
            figures.append(name)
    uep_png, uep_runs = uep_figure(str(uep / "results.h5"), docs / f"{PREFIX}_uep.png")
    attrs, points = load_results(results)
    env = json.loads(attrs["env_json"])
    _, uep_points = load_results(str(uep / "results.h5"))
    failed = sorted({p["codec_label"] for p in points if p["status"] != "ok"})
    configs = load_configs(results, "psnr")
    tables = {b: plan(results, "psnr", budget=b).to_markdown() for b in BUDGETS}
    target = plan(results, "psnr", budget=BUDGETS[1], target=25.0).to_markdown()
    wall, uep_wall = wall_seconds(study), wall_seconds(uep)
    kill = study.parent / f"{study.name}.kill"
    resumed = (f" The run was killed on purpose (SIGKILL, {kill.read_text().strip()}) and "
               "finished with `--resume`; the wall time includes both parts."
               if kill.exists() else "")
    rev = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                         text=True).stdout.strip()
    body = TEMPLATE.format(
        points=len(points), failed=len(failed), configs=len({c.label for c in configs}),
        wall=f"{wall / 60:.1f} min" if wall else "not recorded",
        busy=f"{run_seconds(points) / 60:.1f} min", uep_points=len(uep_points),
        uep_wall=f"{uep_wall / 60:.1f} min" if uep_wall else "not recorded",
        torch=env["packages"].get("torch"), sionna=env["packages"].get("sionna-no-rt"),
        git=env.get("git_revision"), report_rev=rev, resumed=resumed,
        fig_lines="\n\n".join(f"![{n}]({n})" for n in figures),
        plan_a=tables[BUDGETS[0]], plan_b=tables[BUDGETS[1]], plan_target=target,
        budget_a=BUDGETS[0], budget_b=BUDGETS[1], uep_png=uep_png, uep_table=uep_table(uep_runs),
        failed_list="\n".join(f"* {lbl}" for lbl in failed) or "* none")
    (docs / f"{PREFIX}.md").write_text(PROSE + body)
    print(f"wrote {docs / (PREFIX + '.md')} and {len(figures) + 1} figures")


PROSE = (Path(__file__).with_name("symbol_budget_prose.md").read_text()
         if Path(__file__).with_name("symbol_budget_prose.md").exists() else "")

TEMPLATE = """
## Numbers (generated by scripts/symbol_budget_report.py)

Study: `scenarios/symbol_budget.yaml`, {points} points ({configs} codec settings x 2 channels x
5 SNRs), run with `OMP_NUM_THREADS=1 nice -n 10 semlink run scenarios/symbol_budget.yaml --out
out/symbol_budget --no-plot` on this project's shared CPU machine (2 cores, 6 other developers'
jobs running; torch {torch}, sionna-no-rt {sionna}, git {git}). Wall time: **{wall}**; time spent
inside the points (encode + PHY + decode + metrics): {busy}.{resumed} UEP run ({uep_points} points):
{uep_wall}. This page: git {report_rev}.

Codec settings whose file does not fit their budget fail at every SNR (recorded with the
reason in results.h5; `semlink plan` excludes them and says so): {failed} settings,

{failed_list}

### Fidelity vs channel uses per image

{fig_lines}

### `semlink plan out/symbol_budget/results.h5 --metric psnr --budget {budget_a}`

{plan_a}

### `semlink plan out/symbol_budget/results.h5 --metric psnr --budget {budget_b}`

{plan_b}

### `semlink plan out/symbol_budget/results.h5 --metric psnr --budget {budget_b} --target 25`

{plan_target}

### Unequal error protection: `scenarios/uep_layered.yaml`

![UEP vs EEP]({uep_png})

PSNR [dB], mean over the 24 images:

{uep_table}
"""

if __name__ == "__main__":
    main()
