"""``semlink run``, ``semlink summary`` and ``semlink plot``."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from . import plan_command

log = logging.getLogger(__name__)


def add_parsers(sub) -> None:
    p = sub.add_parser("run", help="run a scenario file into DIR/results.h5")
    p.add_argument("scenario", help="YAML scenario file")
    p.add_argument("--out", default=None, help="output folder (default: the scenario's 'output')")
    p.add_argument("--resume", action="store_true", help="continue a killed run in --out")
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: local Ray)")
    p.add_argument("--ray-workers", type=int, default=None,
                   help="Ray workers (actors; default: scenario ray.num_workers, else one per "
                        "free CPU share / GPU)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads per point, here and in every Ray worker (default: "
                        "torch's default here; the same count gives identical numbers)")
    p.add_argument("--no-plot", action="store_true", help="do not write plots at the end")
    p.add_argument("--device", default=None,
                   help="override the scenario's device: auto (first CUDA device if any, else "
                        "cpu), cpu, cuda, cuda:N; the resolved device is recorded in the results")
    p.add_argument("--skip-model-check", action="store_true",
                   help="do not check, before the first point, that every codec model is here "
                        "and that the models fit on the device")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("summary", help="summarise a results.h5 (table or --json)")
    p.add_argument("results", help="path to results.h5")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--timing", action="store_true",
                   help="seconds per image per scheme (Table II style) instead of metrics")
    p.add_argument("--failed-as-worst", action="store_true",
                   help="score failed classical decodes at the worst value (cosine 0, LPIPS 1)")
    p.set_defaults(func=cmd_summary)
    p = sub.add_parser("plot", help="plot every metric vs SNR from a results.h5")
    p.add_argument("results", help="path to results.h5")
    p.add_argument("--out", default=None, help="folder for PNG/SVG (default: next to results)")
    plan_command.add_plot_arguments(p)
    p.set_defaults(func=cmd_plot)


def cmd_run(args: argparse.Namespace) -> int:
    # validation first, heavy modules last: the options, then the scenario's checks that
    # load no torch, codec or metric, so a wrong file or option fails in under a second
    if args.ray_workers is not None and args.ray_workers < 1:
        raise ValueError(f"--ray-workers must be a positive integer, got {args.ray_workers}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be a positive integer, got {args.threads}")
    from .scenario import load_scenario, precheck_scenario

    raw = precheck_scenario(args.scenario)      # the file is read and parsed once
    from .runner import SweepInterrupted, run_sweep

    if not args.skip_model_check:
        from .models_command import ModelsUnavailable, preflight

        try:
            checked = preflight(args.scenario, device=args.device, raw=raw)
        except ModelsUnavailable as exc:
            print(f"semlink run: {exc}", file=sys.stderr)
            return 2
        if checked["report"]["models"]:
            log.info("semlink run: %s", checked["memory"]["summary"])
    scenario = load_scenario(args.scenario, device=args.device, raw=raw)
    out = args.out or scenario.output
    if not out:
        raise ValueError("--out DIR is required (the scenario has no 'output' key)")
    try:
        outcome = run_sweep(scenario, out, resume=args.resume, executor=args.executor,
                            ray_address=args.ray_address, ray_workers=args.ray_workers,
                            threads=args.threads)
    except SweepInterrupted as stop:
        extra = "" if args.executor == "local" else f" --executor {args.executor}"
        print(f"semlink run: interrupted after {stop.done} of {stop.total} points; resume with: "
              f"semlink run {args.scenario} --out {out} --resume{extra}", file=sys.stderr)
        return 130
    print(f"{outcome.ran} point(s) run, {outcome.skipped} already done, {outcome.total} in all, "
          f"{outcome.seconds:.1f} s")
    print(f"results: {outcome.results}")
    if not args.no_plot:
        try:
            from .plot import plot_results

            files = plot_results(outcome.results)
            print(f"plots:   {len(files)} files in {files[0].rsplit('/', 1)[0] if files else '-'}")
        except (ImportError, ValueError) as exc:
            log.warning("plots skipped: %s", exc)
    if outcome.failed:
        print(f"{len(outcome.failed)} point(s) FAILED:", file=sys.stderr)
        for f in outcome.failed:
            print(f"  {f['id']}: {f['codec']} / {f['channel']} / {f['snr_db']} dB: {f['error']}",
                  file=sys.stderr)
        return 1
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from .summary import format_table, summarize

    if getattr(args, "timing", False):
        return cmd_timing(args)
    summary = summarize(args.results, failed_as_worst=getattr(args, "failed_as_worst", False))
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(format_table(summary))
    if not summary["complete"]:
        log.warning("semlink summary: incomplete run: %s of %s points; finish it with: %s",
                    summary["points_done"], summary["points_planned"], summary["resume_command"])
    return 0


def cmd_timing(args: argparse.Namespace) -> int:
    from .timing import format_timing, timing_summary

    summary = timing_summary(args.results)
    print(json.dumps(summary, indent=1) if args.json else format_timing(summary))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .plot import plot_results
    from .summary import summarize

    files = plot_results(args.results, args.out) + plan_command.plot_budget_figures(args)
    for f in files:
        print(f)
    summary = summarize(args.results)
    if not summary["complete"]:
        log.warning("semlink plot: incomplete run: %s of %s points (marked in the titles); "
                    "finish it with: %s", summary["points_done"], summary["points_planned"],
                    summary["resume_command"])
    return 0
