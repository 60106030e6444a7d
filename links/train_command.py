"""``semlink train NAME``: every trainer of the trainer registry.

``semlink train`` lists the registered trainers; ``semlink train NAME --help``
shows a trainer's options, built from its
:class:`~semlink.semantic.training.Option` list, plus the shared loop's
options (``--out``, ``--resume``, ``--checkpoint-every``, ``--log-every``,
``--eval-every``).
A trainer registered by a plug-in (entry point group ``semlink.trainers``)
appears here with no change to this file.
"""

from __future__ import annotations

import argparse
import json

_TYPES = {"str": str, "int": int, "float": float}


def _list_of(kind: str):
    conv = {"floats": float, "ints": int, "strs": str}[kind]

    def parse(text: str) -> list:
        try:
            return [conv(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of "
                                             f"{conv.__name__}s, got {text!r}") from None
    return parse


def _add_trainer(tsub, name: str, description: str) -> None:
    from semlink.semantic.training import trainer_options

    p = tsub.add_parser(name, help=description, description=description,
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (last.pt, train_log.csv, ...)")
    p.add_argument("--resume", action="store_true", help="continue OUT/last.pt (same settings)")
    p.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints")
    p.add_argument("--log-every", type=int, default=25, help="steps between log rows")
    p.add_argument("--eval-every", type=int, default=None,
                   help="steps between held-out evaluations (eval_log.csv; a multiple of "
                        "--checkpoint-every; trainers with an evaluation only)")
    for opt in trainer_options(name):
        flag = "--" + opt.name.replace("_", "-")
        if opt.kind == "flag":
            p.add_argument(flag, dest=opt.name, action="store_true", help=opt.help)
            continue
        if opt.kind in ("floats", "ints", "strs"):
            kind = _list_of(opt.kind)
        elif opt.kind in _TYPES:
            kind = _TYPES[opt.kind]
        else:
            raise ValueError(f"trainer {name!r}: option {opt.name!r} has unknown kind {opt.kind!r}")
        p.add_argument(flag, dest=opt.name, type=kind, default=opt.default, required=opt.required,
                       help=opt.help)
    p.set_defaults(func=run, trainer=name,
                   trainer_options=[o.name for o in trainer_options(name)])


def add_parser(sub) -> None:
    """Add ``semlink train`` with one sub-command per registered trainer."""
    from semlink.semantic.training import TRAINERS, trainer_names

    p = sub.add_parser("train", help="train a learned model (semlink train NAME --help)")
    p.set_defaults(func=_list_trainers)
    tsub = p.add_subparsers(dest="model", metavar="NAME")
    descriptions = TRAINERS.describe()
    for name in trainer_names():
        _add_trainer(tsub, name, descriptions.get(name, ""))


def _list_trainers(args: argparse.Namespace) -> int:
    from semlink.semantic.training import TRAINERS

    print("trainers (semlink train NAME --help):")
    for name, desc in TRAINERS.describe().items():
        print(f"  {name:<12} {desc}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Build the trainer from its options and run the shared loop."""
    from semlink.semantic.training import make_trainer, run_training

    options = {k: getattr(args, k) for k in args.trainer_options if getattr(args, k) is not None}
    trainer = make_trainer(args.trainer, options)
    result = run_training(trainer, args.out, resume=args.resume,
                          checkpoint_every=args.checkpoint_every, log_every=args.log_every,
                          eval_every=args.eval_every)
    print(json.dumps(result, indent=1, default=str))
    return 0
