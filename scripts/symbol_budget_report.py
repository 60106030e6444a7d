"""Regenerate docs/results/symbol_budget*.{md,png} from the study's results files.

    semlink run scenarios/symbol_budget.yaml --out out/results/symbol_budget --no-plot
    semlink run scenarios/uep_layered.yaml --out out/results/uep_layered --no-plot
    .venv/bin/python scripts/symbol_budget_report.py --study out/results/symbol_budget \\
        --uep out/results/uep_layered --docs docs/results

The page is the template ``scripts/symbol_budget_prose.md`` filled with what
``scripts/symbol_budget_findings.py`` and ``scripts/uep_findings.py`` compute from the two
``results.h5`` (the designer's findings, the UEP scan, the setup), followed by a generated
"Numbers" part: figures (PSNR vs channel uses per image at three SNRs with the Pareto front,
PSNR vs SNR at deep JSCC's smaller budget, UEP vs EEP), `semlink plan` tables, the failed
settings and the UEP table. Every number on the page comes from the results files, from
commands this script runs (``semlink plan``), or from the optional files below.

Refuses to write when this tree or either run's tree was dirty (``git describe``), unless
``--allow-dirty`` (drafts). Optional files next to a run folder ``DIR`` (written by whoever
runs it; absent ones are simply not quoted): ``DIR.start`` / ``DIR.end`` (epoch seconds, for
the wall time), ``DIR.kill`` (text: the run was killed on purpose and resumed), and
``DIR.loadavg`` (load averages sampled during the run, one line each as
``EPOCH LOAD1 LOAD5 LOAD15 ...``, e.g. written by
``while sleep 60; do echo "$(date +%s) $(cat /proc/loadavg)"; done >> DIR.loadavg``).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import symbol_budget_findings as sbf  # noqa: E402
import uep_findings as uf  # noqa: E402

PREFIX = "symbol_budget"
TARGET_DB = 25.0          # the "cheapest configuration reaching a target" question
PROSE = Path(__file__).with_name("symbol_budget_prose.md")


def shown(path: Path) -> str:
    """A path as the page shows it: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def wall_seconds(out_dir: Path) -> float | None:
    start, end = out_dir.parent / f"{out_dir.name}.start", out_dir.parent / f"{out_dir.name}.end"
    if start.exists() and end.exists():
        return float(end.read_text()) - float(start.read_text())
    return None


def load_average(out_dir: Path) -> str | None:
    """Mean and maximum 1-minute load average from ``DIR.loadavg`` (see module doc)."""
    path = out_dir.parent / f"{out_dir.name}.loadavg"
    if not path.exists():
        return None
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    loads = [float(r[1]) for r in rows if len(r) >= 2]
    if not loads:
        return None
    span = (float(rows[-1][0]) - float(rows[0][0])) / 60
    return (f"1-minute load average during the run: mean {sum(loads) / len(loads):.1f}, maximum "
            f"{max(loads):.1f} ({len(loads)} samples over {span:.0f} min, `{path.name}`)")


def run_line(name: str, out_dir: Path, points: list[dict], env: dict) -> str:
    wall = wall_seconds(out_dir)
    def total(keys) -> float:
        return sum(p["timings"].get(k, 0.0) for p in points for k in keys) / 60

    text = (f"{name}: {len(points)} points, wall time "
            + (f"**{wall / 60:.1f} min**" if wall is not None else "not recorded")
            + f"; summed over the points: PHY {total(['phy_s']):.1f} min, decode + metrics "
            f"{total(['decode_s', 'metrics_s']):.1f} min; "
            f"{env.get('torch_threads')} torch thread(s) per process, device {env.get('device')}")
    kill = out_dir.parent / f"{out_dir.name}.kill"
    if kill.exists():
        text += (f"; killed on purpose ({kill.read_text().strip()}) and finished with `--resume`, "
                 "the wall time includes both parts")
    load = load_average(out_dir)
    return text + (f"; {load}" if load else "") + "."


def uep_figure(runs: list[dict], dest: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chans = list(dict.fromkeys(r["channel"] for r in runs))
    fig, axes = plt.subplots(1, len(chans), figsize=(5.2 * len(chans), 4.2), squeeze=False,
                             sharey=True)
    for ax, ch in zip(axes[0], chans, strict=True):
        mine = [r for r in runs if r["channel"] == ch]
        for r in mine:
            ax.plot(r["snr_db"], r["metrics"]["psnr"], marker="o", markersize=3, label=r["label"])
        uses = sorted({round(u) for r in mine for u in r["symbols_per_image"] if u is not None})
        ax.set_title(f"{ch}, {', '.join(f'{u:,}' for u in uses)} channel uses/image (mean)")
        ax.set_xlabel("SNR = Es/N0 per channel use [dB]")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("PSNR [dB]")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(dest, dpi=120)
    plt.close(fig)
    return dest.name


def uep_table(runs: list[dict]) -> str:
    snrs = runs[0]["snr_db"]
    lines = ["| scheme / channel | " + " | ".join(f"{s:g} dB" for s in snrs) + " |",
             "|---|" + "---|" * len(snrs)]
    for r in runs:
        vals = " | ".join("-" if v is None else f"{v:.2f}" for v in r["metrics"]["psnr"])
        lines.append(f"| {r['label'].replace('|', chr(92) + '|')} / {r['channel']} | {vals} |")
    return "\n".join(lines)


def setup_fields(scenario: dict, configs, points, summary_images: list[str]) -> dict:
    """The setup paragraph's facts, from the study's scenario and points."""
    ds = scenario["dataset"]
    name = Path(ds["path"]).name
    resize = ds.get("resize")
    dataset = (f"{name}, {len(summary_images)} images ({summary_images[0]} .. {summary_images[-1]})"
               + (f", resized so the shorter side is {resize} pixels" if isinstance(resize, int)
                  else f", resize {resize}" if resize else ""))
    sep = [c for c in configs if c.codec != sbf.JSCC]
    budgets = sorted({c.params["symbols_per_image"] for c in sep if "symbols_per_image" in c.params})
    specs = {p: sbf.profile_spec(p, scenario) for c in sep for p in c.profiles.values()}
    codes = sorted({f"{'5G NR LDPC' if s.get('code') == 'ldpc5g' else s.get('code')} "
                    f"(k = {s.get('k')})" for s in specs.values()})
    rates = sorted({float(s["rate"]) for s in specs.values() if s.get("rate")})
    mods = list(dict.fromkeys(sbf.MODULATION_NAMES.get(s["modulation"], s["modulation"])
                              for s in specs.values()))
    codecs = list(dict.fromkeys(sbf.CODEC_NAMES.get(c.codec, c.codec) for c in sep))
    separated = (f"{' and '.join(codecs)} at {len(budgets)} channel-use budgets "
                 f"({', '.join(f'{b:,}' for b in budgets)} complex symbols per image) x "
                 f"{', '.join(codes)} at rates {', '.join(sbf.fraction(r) for r in rates)} x Gray "
                 f"{', '.join(mods)}: {len({c.label for c in sep})} separated configurations")
    jscc = {c.label: c for c in configs if c.codec == sbf.JSCC and c.status == "ok"}
    jscc_setup = ", ".join(f"k/n = {sbf.fraction(c.params['ratio'])} ({c.symbols_mean:,.0f} "
                           "channel uses per image)" for c in jscc.values())
    specs_by_channel = sbf.channel_specs(points)
    ci = sbf.ci_half_width(configs)
    example = sbf.budget_example(configs, scenario)
    return {"dataset": dataset, "separated_setup": separated,
            "jscc_setup": (f"its shipped checkpoint(s) at {jscc_setup}" if jscc else "none"),
            "channels": "; ".join(sbf.channel_text(lab, s) for lab, s in specs_by_channel.items()),
            "snrs": sbf.snr_list(sorted({c.snr_db for c in configs})),
            "ci_note": (f"; at {ci[1]:g} dB, where no image falls back, the median half-width is "
                        f"{ci[0]:.1f} dB: that spread is the images' own" if ci else ""),
            "budget_example": f" (e.g. {example})" if example else ""}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--study", default="out/results/symbol_budget",
                        help="folder of the scenarios/symbol_budget.yaml run")
    parser.add_argument("--uep", default="out/results/uep_layered",
                        help="folder of the scenarios/uep_layered.yaml run")
    parser.add_argument("--docs", default="docs/results", help="folder the page is written to")
    parser.add_argument("--allow-dirty", action="store_true",
                        help="write even when this tree or a run's tree was dirty, or a run is "
                             "incomplete (drafts)")
    parser.add_argument("--made-by", default=None,
                        help="the command that ran this script, when a wrapper did (e.g. "
                             "'python scripts/make_results.py symbol_budget'); named on the page")
    args = parser.parse_args(argv)
    from semlink.links.plan import load_configs, plan
    from semlink.links.results import load_results
    from semlink.links.summary import summarize
    from semlink.provenance import git_revision

    study, uep, docs = Path(args.study), Path(args.uep), Path(args.docs)
    results, uep_results = study / "results.h5", uep / "results.h5"
    for path in (results, uep_results):
        if not path.is_file():
            parser.error(f"{path} does not exist; run the scenario first (see --help)")
    attrs, points = load_results(str(results))
    uep_attrs, uep_points = load_results(str(uep_results))
    uep_summary = summarize(str(uep_results))
    uep_source = uep_attrs.get("source")
    env, uep_env = json.loads(attrs["env_json"]), uep_summary["env"]
    report_rev = git_revision()
    revs = (("this tree", report_rev), ("the study run", env.get("git_revision")),
            ("the UEP run", uep_env.get("git_revision")))
    dirty = [what for what, rev in revs if not rev or rev.endswith("-dirty")]
    if dirty and not args.allow_dirty:
        parser.error(f"{' and '.join(dirty)}: git describe is dirty or unknown; commit first "
                     "(or pass --allow-dirty for a draft)")
    study_summary = summarize(str(results))
    incomplete = [str(p) for p, s in ((results, study_summary), (uep_results, uep_summary))
                  if not s["complete"]]
    if incomplete and not args.allow_dirty:
        parser.error(f"{', '.join(incomplete)}: the run is incomplete; finish it with --resume "
                     "(or pass --allow-dirty for a draft)")
    docs.mkdir(parents=True, exist_ok=True)
    scenario = json.loads(attrs["scenario_json"])
    configs = load_configs(str(results), "psnr")
    paired = sbf.values_by_image(points, "psnr")
    budgets = sorted({round(c.symbols_max) for c in configs
                      if c.codec == sbf.JSCC and c.status == "ok"})
    if not budgets:
        parser.error(f"{results}: no deep JSCC point was measured; the page compares the "
                     "separated schemes with deep JSCC at its channel-use budgets")
    snrs = sorted({c.snr_db for c in configs})
    figure_snrs = list(dict.fromkeys([snrs[0], snrs[len(snrs) // 2], snrs[-1]]))

    from semlink.links.budget_plot import plot_fidelity_vs_symbols, plot_metric_vs_snr_at_budget

    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        files = plot_fidelity_vs_symbols(str(results), "psnr", figure_snrs, tmp)
        files += plot_metric_vs_snr_at_budget(str(results), budgets[0], "psnr", tmp)
        for f in files:
            if f.endswith(".png"):
                name = f"{PREFIX}_{Path(f).name}"
                shutil.copy(f, docs / name)
                figures.append(name)
    uep_png = uep_figure(uep_summary["runs"], docs / f"{PREFIX}_uep.png")

    tables = {b: plan(str(results), "psnr", budget=b) for b in budgets}
    target = plan(str(results), "psnr", budget=budgets[-1], target=TARGET_DB)
    comps = {b: sbf.compare_at_budget(configs, tables[b], paired) for b in budgets}
    all_comps = [x for b in budgets for x in comps[b]]
    floors = sbf.budget_floors(configs, points, scenario)
    ch_specs = sbf.channel_specs(points)
    bullets = [*sbf.versus_bullets(all_comps, scenario),
               sbf.nothing_decodes_bullet(all_comps, configs),
               sbf.saturation_sentence(all_comps, sbf.jscc_training(study_summary["runs"])),
               sbf.cliff_bullet(configs, scenario),
               sbf.planner_choices_bullet(tables[budgets[0]], configs, scenario, ch_specs),
               sbf.floors_bullet(floors, configs, scenario),
               sbf.unmeasured_bullet(target, str(results), scenario, configs)]
    res_shown, uep_shown = shown(results), shown(uep_results)
    commands = "\n".join([
        f"semlink run {attrs.get('source')} --out {shown(study)} --no-plot",
        f"semlink run {uep_source} --out {shown(uep)} --no-plot",
        "python scripts/symbol_budget_report.py " + " ".join(
            shlex.quote(a) for a in ["--study", shown(study), "--uep", shown(uep),
                                     "--docs", shown(docs)])]
        + ([f"# all three run by: {args.made_by}"] if args.made_by else []))
    images = sorted({n for p in points for n in p.get("images", [])})
    uep_runs = uep_summary["runs"]
    fields = {
        "study_source": attrs.get("source"), "uep_source": uep_source,
        "commands": commands, "study_results": res_shown, "uep_results": uep_shown,
        "figure_snrs": " ".join(f"{s:g}" for s in figure_snrs), "budget_a": budgets[0],
        **setup_fields(scenario, configs, points, images), "num_images": len(images),
        "runtime": " ".join([run_line("Study", study, points, env),
                             run_line("UEP run", uep, uep_points, uep_env),
                             "(Encode times are not summed: a cached encoding repeats its one "
                             "measured time in every point that reuses it.)"]),
        "designer_bullets": "\n".join(f"* {b}" for b in bullets if b),
        "comparison_tables": "\n\n".join(
            f"Best separated configuration vs deep JSCC within {b:,} channel uses per image "
            f"(PSNR [dB]):\n\n{sbf.comparison_table(comps[b], scenario)}" for b in budgets),
        "uep_images": max(r["num_images"] for r in uep_runs),
        "uep_channels": ", ".join(sbf.channel_text(r["channel"], r["channel_spec"])
                                  for r in {r["channel"]: r for r in uep_runs}.values()),
        "uep_snrs": sbf.snr_list(uep_runs[0]["snr_db"]),
        "uep_setup": uf.setup_text(uep_runs, uep_summary["scenario"]),
        "tie_db": f"{uf.TIE_DB:g}",
        "uep_bullets": "\n".join(f"* {b}" for b in uf.uep_bullets(
            uep_runs, uep_summary["scenario"], uf.stream_block_errors(uep_points))),
    }
    failed = sorted({c.label for c in configs if c.status != "ok"})
    numbers = NUMBERS.format(
        points=len(points), configs=len({c.label for c in configs}),
        channels=len({c.channel for c in configs}), snrs=len(snrs),
        torch=env["packages"].get("torch"), sionna=env["packages"].get("sionna-no-rt"),
        study_rev=env.get("git_revision"), uep_rev=uep_env.get("git_revision"),
        report_rev=report_rev, results=res_shown, failed=len(failed),
        failed_list="\n".join(f"* {lbl}" for lbl in failed) or "* none",
        fig_lines="\n\n".join(f"![{n}]({n})" for n in figures),
        plans="\n\n".join(
            f"### `semlink plan {res_shown} --metric psnr --budget {b}`\n\n{tables[b].to_markdown()}"
            for b in budgets),
        target_cmd=f"semlink plan {res_shown} --metric psnr --budget {budgets[-1]} --target "
                   f"{TARGET_DB:g}",
        plan_target=target.to_markdown(), uep_source=uep_source,
        uep_png=uep_png, uep_images=fields["uep_images"], uep_table=uep_table(uep_runs))
    template = re.sub(r"<!--.*?-->\n*", "", PROSE.read_text(), flags=re.S)
    page = template.format(**fields) + numbers
    (docs / f"{PREFIX}.md").write_text(page)
    print(f"wrote {docs / (PREFIX + '.md')} and {len(figures) + 1} figures")
    return 0


NUMBERS = """
## Numbers (generated by scripts/symbol_budget_report.py)

Study: {points} points ({configs} codec settings x {channels} channels x {snrs} SNRs); torch
{torch}, sionna-no-rt {sionna}; results computed at git {study_rev} (study) and {uep_rev} (UEP
run); this page written at git {report_rev}.

Codec settings whose file does not fit their budget fail at every SNR (recorded with the
reason in results.h5; `semlink plan` excludes them and says so): {failed} settings,

{failed_list}

### Fidelity vs channel uses per image

{fig_lines}

{plans}

### `{target_cmd}`

{plan_target}

### Unequal error protection: `{uep_source}`

![UEP vs EEP]({uep_png})

PSNR [dB], mean over the {uep_images} images:

{uep_table}
"""

if __name__ == "__main__":
    sys.exit(main())
