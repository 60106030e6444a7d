"""``--threads`` and ``--malloc`` options shared by the PHY and LDPC benchmarks."""

from __future__ import annotations

import argparse

import torch

from semlink.runtime import tune_malloc


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (1 gives stable timings on a shared machine)")
    parser.add_argument("--malloc", choices=["tuned", "default"], default="tuned",
                        help="glibc allocator: 'tuned' as semlink commands run "
                             "(semlink.runtime.tune_malloc) or glibc's 'default'")


def apply_runtime_options(args: argparse.Namespace) -> None:
    """Tune the allocator (unless ``--malloc default``) and set torch's thread count."""
    if args.malloc == "tuned":
        tune_malloc()
    if args.threads:
        torch.set_num_threads(args.threads)
