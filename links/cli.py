"""The ``semlink`` command line: ``ber | run | summary | plot | gallery | list | info``."""

from __future__ import annotations

import argparse
import json
import sys

from . import ber_command, gallery, sweep_commands, train_command


def _cmd_list(args: argparse.Namespace) -> int:
    from semlink.metrics import METRICS, PHY_METRICS
    from semlink.phy import CHANNELS, CODES, MODULATION_NAMES
    from semlink.semantic import CODECS

    sections = {"channels": CHANNELS.describe(), "codecs": CODECS.describe(),
                "codes": dict(CODES), "modulations": dict(MODULATION_NAMES),
                "metrics": {**METRICS.describe(), **PHY_METRICS}}
    if args.json:
        print(json.dumps(sections, indent=2))
        return 0
    for title, items in sections.items():
        print(f"{title}:")
        width = max(map(len, items), default=0)
        for name, desc in items.items():
            print(f"  {name:<{width}}  {desc}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from semlink.phy.sionna_config import resolve_device
    from semlink.provenance import environment

    env = environment()
    env["default_device"] = resolve_device(None)
    if args.json:
        print(json.dumps(env, indent=2))
        return 0
    print(f"semlink {env['packages'].get('semlink', '?')}  (git {env['git_revision'] or 'n/a'})")
    print(f"python {env['python']} on {env['platform']}")
    for name, ver in env["packages"].items():
        print(f"  {name:<16} {ver}")
    print(f"default device: {env['default_device']}; CUDA available: {env['cuda_available']}"
          + (f" ({', '.join(env['cuda_devices'])})" if env["cuda_devices"] else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="semlink",
                                     description="Link-level simulation of semantic image communication.")
    sub = parser.add_subparsers(dest="command", required=True)
    ber_command.add_parser(sub)
    sweep_commands.add_parsers(sub)
    train_command.add_parser(sub)
    gallery.add_parser(sub)
    p = sub.add_parser("list", help="list channels, codecs, codes, modulations and metrics")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("info", help="versions, device and CUDA availability")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``semlink`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, KeyError, ImportError, OSError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"semlink {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
