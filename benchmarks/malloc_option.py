"""The ``--malloc tuned|default`` option shared by the PHY and LDPC benchmarks."""

from __future__ import annotations

import argparse

from semlink.runtime import tune_malloc


def add_malloc_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--malloc", choices=["tuned", "default"], default="tuned",
                        help="glibc allocator: 'tuned' as semlink commands run "
                             "(semlink.runtime.tune_malloc) or glibc's 'default'")


def apply_malloc_option(args: argparse.Namespace) -> None:
    if args.malloc == "tuned":
        tune_malloc()
