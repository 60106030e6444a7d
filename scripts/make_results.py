"""Regenerate the documents of ``docs/results/`` from a clean tree, one entry per document.

    .venv/bin/python scripts/make_results.py kodak24_baselines     # ~7 min on 2 CPU cores
    .venv/bin/python scripts/make_results.py uoisc_cpu_run         # ~6 min (training + sweep)
    .venv/bin/python scripts/make_results.py --list

Each entry runs the commands behind its document (scenario runs, training) into
``out/results/<entry>/`` (a fresh folder), then writes the document and its figures from
the results files only: tables, the numbers in the text and the figures all come from
``results.h5`` / the training command's output. The script refuses to run when
``git describe --dirty`` says the tree is dirty, and every document names the command and
the git revision that made it. Run long entries with ``nice -n 10``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "results"
OUT = ROOT / "out" / "results"
KODAK24_SCENARIO = "scenarios/kodak24_baselines.yaml"


def git_describe() -> str:
    """``git describe --always --dirty --abbrev=12`` of the repository."""
    res = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return res.stdout.strip()


def semlink(args: list[str]) -> str:
    """Run ``semlink ARGS`` in this process; return what it printed (raise on failure)."""
    from semlink.links.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(args)
    if code:
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


# --------------------------------------------------------------------------- kodak24
def kodak24_baselines(describe: str) -> list[Path]:
    """Kodak24: JPEG2000 / HEVC-intra + LDPC + 8-PSK vs deep JSCC at k/n = 1/6."""
    from semlink.links.plot import plot_results
    from semlink.links.summary import summarize

    scenario = KODAK24_SCENARIO
    out = fresh(OUT / "kodak24_baselines")
    t0 = time.perf_counter()
    semlink(["run", scenario, "--out", str(out), "--no-plot"])
    wall = time.perf_counter() - t0
    results = out / "results.h5"
    summary = summarize(str(results))
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        plot_results(str(results), tmp)
        for m in ("psnr", "ms_ssim", "bler"):
            target = DOCS / f"kodak24_{m}_vs_snr.png"
            shutil.copyfile(Path(tmp) / f"{m}_vs_snr.png", target)
            figures.append(target)
    runs = summary["runs"]
    separated = [r for r in runs if r["stream_ebno_db"]]
    analog = [r for r in runs if not r["stream_ebno_db"]]
    num_points = sum(len(r["snr_db"]) for r in runs)
    uses = {r["label"]: r["symbols_per_image"][0] for r in runs if r["channel"] == "awgn"}
    low = runs[0]["snr_db"][0]
    fallback_psnr = [r["metrics"]["psnr"][0] for r in separated if r["fallback_rate"][0] == 1.0]
    text = [
        "# Kodak24 baselines: separated coding vs deep JSCC at equal channel uses", "",
        f"Scenario: `{scenario}`. Generated by `python scripts/make_results.py kodak24_baselines` "
        "(which runs the commands below, then writes this page and its figures from "
        "`results.h5`):", "", "```bash",
        f"semlink run {scenario} --out out/results/kodak24_baselines",
        "semlink summary out/results/kodak24_baselines/results.h5", "```", "",
        f"Run: {num_points} points in {wall:.0f} s ({environment_line(summary, describe)}).", "",
        "Setup: all 24 Kodak images at half resolution (shorter side 256: 384x256 or 256x384); "
        "JPEG2000 and HEVC-intra (the codec inside BPG; see docs/codecs.md) with a channel-use "
        "budget of k/n = 1/6 (3HW/6 = 49,152 channel uses per image), each + 5G NR LDPC "
        "(k = 1024 with CRC16, rate 1/2) + Gray 8-PSK; deep JSCC (shipped checkpoint, trained "
        "at 10 dB AWGN, k/n = 1/6); AWGN and Rayleigh fading with independent coefficients "
        "every 128 symbols and perfect CSI. SNR = Es/N0 per channel use; the Eb/N0 of each "
        "digital stream is in `semlink summary --json` (`stream_ebno_db`). Values are means "
        f"over the {runs[0]['num_images']} images"
        + (f"; a failed decode falls back to mid-grey (PSNR {fallback_psnr[0]:.2f} dB here)."
           if fallback_psnr else "."), "",
        "Channel uses per image (mean): " + ", ".join(f"{k} {v:,.0f}" for k, v in uses.items())
        + ". The separated schemes use at most the budget: whole code blocks, and the largest "
        "file that fits.", "",
    ]
    for title, metric, digits in (("PSNR [dB]", "psnr", 2), ("MS-SSIM", "ms_ssim", 3),
                                  ("BLER", "bler", -1)):
        text += [f"## {title}", "", *metric_table(summary, metric, digits), ""]
    text += [f"![PSNR vs SNR]({figures[0].name})", "", f"![MS-SSIM vs SNR]({figures[1].name})", "",
             f"![BLER vs SNR]({figures[2].name})", "", *provenance_section(summary),
             "## Reading (computed from the tables)", ""]
    for r in separated:
        bler, snrs, psnr = r["metrics"]["bler"], r["snr_db"], r["metrics"]["psnr"]
        ok = [i for i in range(len(snrs)) if all(b is not None and b < 0.01 for b in bler[i:])]
        if ok:
            i = ok[0]
            below = (f"; at {snrs[i - 1]:g} dB BLER {bler[i - 1]:.2g}, PSNR {psnr[i - 1]:.2f} dB"
                     if i else "")
            text.append(f"* {r['label']} / {r['channel']}: BLER below 1 % from {snrs[i]:g} dB "
                        f"(PSNR {psnr[i]:.2f} dB, {psnr[-1]:.2f} dB at {snrs[-1]:g} dB){below}.")
        else:
            text.append(f"* {r['label']} / {r['channel']}: BLER never stays below 1 % in this range.")
    for r in analog:
        psnr, snrs = r["metrics"]["psnr"], r["snr_db"]
        monotone = all(b >= a - 0.05 for a, b in zip(psnr, psnr[1:]))
        text.append(f"* {r['label']} / {r['channel']}: {psnr[0]:.2f} dB at {snrs[0]:g} dB to "
                    f"{psnr[-1]:.2f} dB at {snrs[-1]:g} dB"
                    + (", no cliff (PSNR never drops as SNR rises)." if monotone else "."))
    awgn = {r["label"]: r["metrics"]["psnr"][0] for r in runs if r["channel"] == "awgn"}
    if analog and separated and all(awgn[a["label"]] > awgn[s["label"]]
                                    for a in analog for s in separated):
        text.append(f"* At {low:g} dB every separated scheme has lost its images while deep "
                    "JSCC still reconstructs them: the cliff effect vs graceful degradation of "
                    "Bourtsoulatze et al. (2019, Figs. 4-6).")
    doc = DOCS / "kodak24_baselines.md"
    doc.write_text("\n".join(text) + "\n")
    return [doc, *figures]


# --------------------------------------------------------------------------- UO-ISC
UOISC_TRAIN = ["train", "uoisc", "--data", "../shared/data/coco-sample/val2017",
               "--clip-model", "semlink-clip-small-cpu", "--clip-config",
               "docs/examples/clip_small_cpu.json", "--pretrained", "none", "--no-text-alignment",
               "--layers", "2,4", "--dim", "64", "--segment-length", "16", "--codebook-size", "64",
               "--decoder-channels", "64", "--steps-phase1", "2000", "--steps-phase2", "300",
               "--batch-size", "16", "--lr", "1e-3", "--eval-data", "../shared/data/kodak24",
               "--seed", "0"]


def uoisc_cpu_run(describe: str) -> list[Path]:
    """UO-ISC without pretrained VLM: short CPU training + evaluation through the PHY."""
    from semlink.links.summary import summarize

    train_out = fresh(OUT / "uoisc_novlm_cpu")
    t0 = time.perf_counter()
    trained = json.loads(semlink([*UOISC_TRAIN, "--out", str(train_out.relative_to(ROOT))]))
    train_wall = time.perf_counter() - t0
    ev = trained["eval"]
    scenario = "docs/results/uoisc_cpu_eval.yaml"
    sweep_out = fresh(OUT / "uoisc_cpu_eval")
    semlink(["run", scenario, "--out", str(sweep_out), "--no-plot"])
    summary = summarize(str(sweep_out / "results.h5"))
    snrs = summary["runs"][0]["snr_db"]
    rows = ["| Es/N0 [dB] | " + " | ".join(f"{s:g}" for s in snrs) + " |", "|---|" + "---|" * len(snrs)]
    for r in summary["runs"]:
        rows.append(f"| {r['label']}, {r['channel']}{mark(r)} | "
                    + " | ".join(fmt(v, 2) for v in r["metrics"]["psnr"]) + " |")
    uses = ", ".join(f"{r['label']} {r['symbols_per_image'][0]:,.0f}"
                     for r in summary["runs"] if r["channel"] == "awgn")
    cmd = " ".join(["semlink", *UOISC_TRAIN[:2], "--out", "out/results/uoisc_novlm_cpu",
                    *UOISC_TRAIN[2:]])
    text = [
        '# UO-ISC "without pretrained VLM": a real short CPU training run', "",
        "The paper's baseline \"UO-ISC without text alignment and pretrained VLM\" (same CLIP "
        "architecture, random initialisation, trained end to end), trained on CPU at small "
        "resolution on real photos. No pretrained CLIP or LLaVA weights can be obtained here, so "
        "this is the variant that can be trained honestly; the full model needs the weights "
        "listed in docs/uoisc.md. Its CLIP backbone is marked RANDOM INIT in the results.", "",
        "Generated by `python scripts/make_results.py uoisc_cpu_run`, which runs the two commands "
        f"below ({environment_line(summary, describe)}).", "",
        "**Reduced architecture** (labelled, not ViT-B/16): the open_clip config "
        "`docs/examples/clip_small_cpu.json` (ViT with 64x64 input, patch 8, width 128, "
        f"4 layers); layers L = {{2, 4}}; D = 64, l = 16, K = 64; {ev['bits_per_image']:,} bits "
        "per image.", "",
        f"## Training ({train_wall:.0f} s wall time)", "", "```bash", cmd, "```", "",
        "Training data: the 30 COCO 2017 val images of the shared sample; phase I 2,000 steps "
        "(L2 + VQ loss), phase II 300 steps (+ adversarial loss, PatchGAN discriminator).", "",
        f"## Result on held-out Kodak24 ({ev['images']} images, 64x64 centre crops)", "",
        "From the command's `--eval-data` step (no channel errors):", "",
        "| | PSNR [dB] |", "|---|---|",
        f"| UO-ISC w/o pretrained VLM, CPU run | **{ev['psnr_db']:.2f}** |",
        f"| trivial baseline: each image's mean colour | {ev['mean_image_psnr_db']:.2f} |", "",
        "Through the PHY (Rayleigh: 128-symbol coherence, perfect CSI; LDPC k = 1024, rate 1/2, "
        f"Gray 8-PSK; channel uses per image: {uses}):", "", "```bash",
        f"semlink run {scenario} --out out/results/uoisc_cpu_eval", "```", "", *rows, "",
        *provenance_section(summary)]
    doc = DOCS / "uoisc_cpu_run.md"
    doc.write_text("\n".join(text) + "\n")
    return [doc]


ENTRIES = {"kodak24_baselines": kodak24_baselines, "uoisc_cpu_run": uoisc_cpu_run}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("entries", nargs="*", help=f"documents to regenerate: {', '.join(ENTRIES)}")
    parser.add_argument("--list", action="store_true", help="list the entries and exit")
    args = parser.parse_args(argv)
    if args.list or not args.entries:
        for name, fn in ENTRIES.items():
            print(f"{name:20s} {fn.__doc__.splitlines()[0]}")
        return 0
    unknown = [e for e in args.entries if e not in ENTRIES]
    if unknown:
        parser.error(f"unknown entries {unknown}; known: {sorted(ENTRIES)}")
    os.chdir(ROOT)                 # scenario files name checkpoints relative to the repository
    describe = git_describe()
    if describe.endswith("-dirty"):
        print(f"make_results: the tree is dirty ({describe}); commit or stash first, so the "
              "documents name the revision that made them", file=sys.stderr)
        return 2
    for name in args.entries:
        for path in ENTRIES[name](describe):
            print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
