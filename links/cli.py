"""The ``semlink`` command line.

Commands: ``ber | run | summary | plot | plan | gallery | list | info | train | models | data``.

Heavy modules (torch, Sionna, codecs) are imported only by the command that
needs them: ``semlink --help`` builds the ``ber`` sub-parser (whose module
imports the PHY) only when ``ber`` is the command, so help answers at once;
likewise ``train`` (the trainer registry), ``models``, ``gallery`` and ``data``.

Progress and warnings are semlink's log (:mod:`semlink.log`), shown on stderr
for the duration of a command; ``-q/--quiet`` keeps warnings and errors,
``-v/--verbose`` adds debug messages. A command's product (tables, ``--json``,
file lists) is printed on stdout.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from semlink.log import cli_handler
from semlink.runtime import tune_malloc

from . import plan_command, sweep_commands

#: Sub-commands whose module is imported only when the command runs: name -> (module, help).
LAZY_COMMANDS = {"ber": ("semlink.links.ber_command",
                         "coded/uncoded BER/BLER sweep (like Sionna's sim_ber)"),
                 "train": ("semlink.links.train_command",
                           "train a learned model (semlink train NAME --help)"),
                 "models": ("semlink.links.models_command",
                            "list, check and fetch pretrained models (offline first)"),
                 "gallery": ("semlink.links.gallery",
                             "draw reconstructions kept by keep_examples (PNG grid + HTML)"),
                 "data": ("semlink.links.data_command",
                          "list and fetch the test data sets (Kodak24, COCO sample)")}


def _cmd_list(args: argparse.Namespace) -> int:
    # the generated snapshot of the registries plus plug-in metadata: no torch, Sionna or codec import
    from semlink.catalog import listing

    sections = listing()
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
    from semlink.provenance import environment

    # without --torch, CUDA is probed through the driver, torch not imported (semlink.cuda_probe)
    env = environment(import_torch=args.torch)
    # Sionna's default device, without importing Sionna: the first GPU when present
    env["default_device"] = "cuda:0" if env.get("cuda_available") else "cpu"
    if args.json:
        print(json.dumps(env, indent=2))
        return 0
    print(f"semlink {env['packages'].get('semlink', '?')}  (git {env['git_revision'] or 'n/a'})")
    print(f"python {env['python']} on {env['platform']}")
    for name, ver in env["packages"].items():
        print(f"  {name:<16} {ver}")
    print(f"default device: {env['default_device']}; CUDA available: {env['cuda_available']}"
          + (f" ({', '.join(env['cuda_devices'])})" if env["cuda_devices"] else ""))
    print(f"CUDA: torch built for {env.get('torch_cuda_build') or 'CPU only'}; NVIDIA driver: "
          + (f"CUDA {env['cuda_driver']}" if env.get("cuda_driver") else "none found")
          + ("" if args.torch else "  (checked without importing torch; --torch asks torch)"))
    return 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; lazy sub-commands get their options only when ``command`` names them.

    :param command: the sub-command about to run (`None`: build every sub-parser).
    """
    parser = argparse.ArgumentParser(prog="semlink",
                                     description="Link-level simulation of semantic image communication.")
    parser.add_argument("--allow-download", action="store_true",
                        help="let the model layer download missing models (also "
                             "SEMLINK_ALLOW_DOWNLOAD=1); default: offline, a missing model is an error")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in LAZY_COMMANDS.items():
        if command is None or command == name:
            importlib.import_module(module).add_parser(sub)
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    sweep_commands.add_parsers(sub)
    plan_command.add_parser(sub)
    p = sub.add_parser("list", help="list channels, codecs, codes, modulations and metrics")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("info", help="versions, device and CUDA availability")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--torch", action="store_true",
                   help="import torch (about 2 s) and report its own CUDA check and thread count")
    p.set_defaults(func=_cmd_info)
    _add_verbosity(parser, top=True)
    return parser


def _add_verbosity(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``-q/--quiet`` and ``-v/--verbose`` on ``parser`` and every sub-command under it, so
    they may stand before or after the command (``semlink -q run X`` = ``semlink run X -q``).

    Sub-parsers default to ``SUPPRESS``: a flag given before the command is not reset by
    the sub-command's own default. Placeholders of lazy commands (no ``-h``) are skipped.
    """
    group = parser.add_mutually_exclusive_group()
    default = "normal" if top else argparse.SUPPRESS
    group.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const="quiet",
                       default=default, help="show only warnings and errors (no progress lines)")
    group.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const="verbose",
                       default=default, help="also show debug messages")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in {id(c): c for c in action.choices.values()}.values():
                if child.add_help:
                    _add_verbosity(child)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``semlink`` command.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    :returns: the exit status (0 ok, 1 a check or point failed, 2 an error, 130 interrupted).

    semlink's log (progress, warnings) is shown on stderr while the command runs
    (:func:`semlink.log.cli_handler`; ``--quiet``: warnings and errors only, ``--verbose``:
    also debug); the command's own output (tables, ``--json``) goes to stdout.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in LAZY_COMMANDS else "")
    args = parser.parse_args(argv)
    tune_malloc()      # before any heavy allocation: steady LDPC decoder speed (semlink.runtime)
    if args.allow_download:
        from semlink.models import set_allow_download

        set_allow_download(True)
    with cli_handler(args.verbosity):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command; known errors become one line on stderr and exit status 2."""
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"semlink {args.command}: interrupted", file=sys.stderr)
        return 130
    except MemoryError as exc:
        print(f"semlink {args.command}: error: out of memory: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, KeyError, ImportError, OSError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"semlink {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
