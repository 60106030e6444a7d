"""``semlink train NAME``: every trainer of the trainer registry.

``semlink train`` lists the registered trainers; ``semlink train NAME --help``
shows a trainer's options, built from its
:class:`~semlink.semantic.training.Option` list, plus the shared loop's
options (``--out``, ``--resume``, ``--checkpoint-every``, ``--log-every``).
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
    if "uoisc" not in trainer_names():
        _add_uoisc(tsub)


def _add_uoisc(tsub) -> None:
    """UO-ISC keeps its own loop and options until it is ported onto the shared loop."""
    u = tsub.add_parser("uoisc", help="UO-ISC (user-oriented image semantic coding), two phases",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    u.add_argument("--data", required=True, help="training images (folder, glob)")
    u.add_argument("--queries", default=None,
                   help="queries: COCO captions/instances JSON, {file: [queries]} JSON or CSV")
    u.add_argument("--out", required=True)
    u.add_argument("--clip-model", default="ViT-B-16", help="open_clip model name or local-dir:PATH")
    u.add_argument("--pretrained", default="openai",
                   help="open_clip tag, weights file, or 'none' (random init, trained)")
    u.add_argument("--clip-config", default=None, help="JSON file with an open_clip model config")
    u.add_argument("--layers", default="4,8,12", help="1-based ViT layers to transmit")
    u.add_argument("--dim", type=int, default=256, help="projection dimension D")
    u.add_argument("--segment-length", type=int, default=32, help="VQ segment length l")
    u.add_argument("--codebook-size", type=int, default=256, help="codewords K per segment")
    u.add_argument("--decoder-channels", type=int, default=128)
    u.add_argument("--no-text-alignment", action="store_true", help="baseline without FiLM/relevance")
    u.add_argument("--steps-phase1", type=int, default=1000)
    u.add_argument("--steps-phase2", type=int, default=0)
    u.add_argument("--batch-size", type=int, default=8)
    u.add_argument("--lr", type=float, default=2e-4)
    u.add_argument("--lambda-rel", type=float, default=0.1, help="weight of the relevance loss")
    u.add_argument("--gamma-adv", type=float, default=0.01, help="weight of the adversarial loss")
    u.add_argument("--pixel-loss", choices=["l2", "l1"], default="l2")
    u.add_argument("--vlm", default=None, help="LLaVA-family model id or folder (relevance loss)")
    u.add_argument("--channel", default="none", help="none | indices:P | phy")
    u.add_argument("--snr-db", type=float, default=10.0, help="training Es/N0 with --channel phy")
    u.add_argument("--vqa-questions", default=None,
                   help="VQA-format questions over --data (VQA v2 JSON, JSON list or CSV); "
                        "instead of --queries")
    u.add_argument("--vqa-annotations", default=None, help="VQA v2 annotations JSON (answers)")
    u.add_argument("--instances", default=None,
                   help="COCO instances JSON: animal categories and image objects for --split")
    u.add_argument("--split", default="all", choices=["all", "exclude_animals", "animals"],
                   help="animal zero-shot split of the VQA questions (training: exclude_animals)")
    u.add_argument("--split-rule", default="either", choices=["objects", "question", "either"],
                   help="animal-related = image has an animal object / question names one / either")
    u.add_argument("--eval-split", default="animals", choices=["all", "exclude_animals", "animals"],
                   help="split of the VQA questions on --eval-data (zero-shot: animals)")
    u.add_argument("--eval-data", default=None, help="held-out images: PSNR vs mean-image baseline")
    u.add_argument("--eval-queries", default=None,
                   help="queries of the held-out images (default: --queries)")
    u.add_argument("--seed", type=int, default=0)
    u.add_argument("--resume", action="store_true")
    u.add_argument("--checkpoint-every", type=int, default=200)
    u.add_argument("--device", default="cpu")
    u.set_defaults(func=run_uoisc)


def _list_trainers(args: argparse.Namespace) -> int:
    from semlink.semantic.training import TRAINERS

    print("trainers (semlink train NAME --help):")
    for name, desc in TRAINERS.describe().items():
        print(f"  {name:<12} {desc}")
    if "uoisc" not in TRAINERS:
        print(f"  {'uoisc':<12} UO-ISC (user-oriented image semantic coding), two phases")
    return 0


def run(args: argparse.Namespace) -> int:
    """Build the trainer from its options and run the shared loop."""
    from semlink.semantic.training import make_trainer, run_training

    options = {k: getattr(args, k) for k in args.trainer_options if getattr(args, k) is not None}
    trainer = make_trainer(args.trainer, options)
    result = run_training(trainer, args.out, resume=args.resume,
                          checkpoint_every=args.checkpoint_every, log_every=args.log_every)
    print(json.dumps(result, indent=1, default=str))
    return 0


def run_uoisc(args: argparse.Namespace) -> int:
    from semlink.semantic.train_uoisc import evaluate_uoisc, train_uoisc

    clip_config = None
    if args.clip_config:
        with open(args.clip_config) as f:
            clip_config = json.load(f)
    pretrained = None if args.pretrained.lower() == "none" else args.pretrained
    vqa = None
    if args.vqa_questions:
        vqa = {"questions": args.vqa_questions, "annotations": args.vqa_annotations,
               "instances": args.instances, "split": args.split, "rule": args.split_rule}
    result = train_uoisc(
        args.data, args.out, queries=args.queries, clip_model=args.clip_model,
        pretrained=pretrained, clip_config=clip_config,
        layers=[int(v) for v in args.layers.split(",")], dim=args.dim,
        segment_length=args.segment_length, codebook_size=args.codebook_size,
        decoder_channels=args.decoder_channels, text_alignment=not args.no_text_alignment,
        steps_phase1=args.steps_phase1, steps_phase2=args.steps_phase2,
        batch_size=args.batch_size, lr=args.lr, lambda_rel=args.lambda_rel,
        gamma_adv=args.gamma_adv, pixel_loss=args.pixel_loss, vlm=args.vlm,
        channel=args.channel, snr_db=args.snr_db, seed=args.seed, resume=args.resume,
        checkpoint_every=args.checkpoint_every, device=args.device, vqa=vqa)
    if args.eval_data:
        eval_vqa = None if vqa is None else {**vqa, "split": args.eval_split}
        result["eval"] = evaluate_uoisc(result["checkpoint"], args.eval_data,
                                        queries=None if vqa else (args.eval_queries or args.queries),
                                        device=args.device, vqa=eval_vqa)
    print(json.dumps(result, indent=1))
    return 0
