"""``semlink plan``, and the budget options of ``semlink plot``.

``semlink plan RESULTS.h5 [RESULTS.h5 ...] --metric psnr --budget SYMBOLS [--target VALUE] [--json]``
prints, per channel and SNR, the best configuration within the channel-use
budget, or the cheapest one reaching the target (:func:`semlink.links.plan.plan`).
"""

from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    p = sub.add_parser("plan", help="best configuration per SNR within a channel-use budget "
                                    "(or cheapest reaching a target)")
    p.add_argument("results", nargs="+", help="results.h5 file(s); combined when their SNR grids "
                                              "and datasets match")
    p.add_argument("--metric", default="psnr", help="metric to optimise (default: psnr)")
    p.add_argument("--budget", type=float, default=None,
                   help="channel uses (complex symbols) per image, every image within it")
    p.add_argument("--target", type=float, default=None,
                   help="metric value to reach: pick the cheapest configuration reaching it")
    p.add_argument("--snr", type=float, nargs="+", default=None,
                   help="only these Es/N0 points [dB] (must be measured)")
    p.add_argument("--channel", nargs="+", default=None, help="only these channel labels")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.set_defaults(func=cmd_plan)


def cmd_plan(args: argparse.Namespace) -> int:
    from .plan import plan

    table = plan(args.results, metric=args.metric, budget=args.budget, target=args.target,
                 snr_db=args.snr, channels=args.channel)
    if args.json:
        print(json.dumps(table.to_dict(), indent=1))
    elif args.markdown:
        print(table.to_markdown())
    else:
        print(table.format())
    return 0


def add_plot_arguments(p: argparse.ArgumentParser) -> None:
    """Budget options of ``semlink plot``."""
    p.add_argument("--snr", type=float, nargs="+", default=None,
                   help="draw metric vs channel uses per image at these Es/N0 [dB] "
                        "(default: every SNR, when the results have a budget axis)")
    p.add_argument("--budget", type=float, default=None,
                   help="also draw metric vs SNR at this many channel uses per image "
                        "(interpolated between measured budgets, marked as such)")
    p.add_argument("--metric", nargs="+", default=None,
                   help="metrics of the budget plots (default: every image metric)")


def plot_budget_figures(args: argparse.Namespace) -> list[str]:
    """The budget figures ``semlink plot`` adds (see :mod:`semlink.links.budget_plot`)."""
    from .budget_plot import has_budget_axis, plot_fidelity_vs_symbols, plot_metric_vs_snr_at_budget
    from .plan import load_configs
    from .results import load_results

    _, points = load_results(args.results)
    metrics = args.metric or sorted({m for p in points if p["status"] == "ok"
                                     for m in p["metrics"] if m not in ("ber", "bler")})
    files = []
    for m in metrics:
        configs = load_configs(args.results, m)
        if args.snr is not None or has_budget_axis(configs):
            files += plot_fidelity_vs_symbols(args.results, m, args.snr, args.out)
        if args.budget is not None:
            files += plot_metric_vs_snr_at_budget(args.results, args.budget, m, args.out)
    return files
