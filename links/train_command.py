"""``semlink train deepjscc``: train deep JSCC models."""

from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a learned codec")
    tsub = p.add_subparsers(dest="model", required=True)
    d = tsub.add_parser("deepjscc", help="deep JSCC (Bourtsoulatze et al. 2019)",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d.add_argument("--data", required=True, help="training images (folder or glob)")
    d.add_argument("--out", required=True, help="output folder (last.pt, train_log.csv, eval.csv)")
    d.add_argument("--snr-db", type=float, default=10.0, help="training Es/N0 [dB]")
    d.add_argument("--ratio", type=float, default=1 / 6, help="bandwidth ratio k/n = c/96")
    d.add_argument("--channel", default="awgn", help="channel name, e.g. awgn, rayleigh")
    d.add_argument("--steps", type=int, default=3000)
    d.add_argument("--batch-size", type=int, default=16)
    d.add_argument("--crop", type=int, default=64, help="random crop size (multiple of 4)")
    d.add_argument("--lr", type=float, default=1e-3)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    d.add_argument("--eval-data", default=None, help="held-out images evaluated at the end")
    d.add_argument("--eval-snr-db", default="0,5,10,15,20", help="evaluation Es/N0 points")
    d.add_argument("--checkpoint-every", type=int, default=250)
    d.add_argument("--device", default="cpu")
    d.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from semlink.semantic.train_deepjscc import train_deepjscc

    from .ber_command import parse_points

    result = train_deepjscc(args.data, args.out, snr_db=args.snr_db, ratio=args.ratio,
                            channel=args.channel, steps=args.steps, batch_size=args.batch_size,
                            crop=args.crop, lr=args.lr, seed=args.seed, resume=args.resume,
                            eval_data=args.eval_data,
                            eval_snr_db=parse_points(args.eval_snr_db, "--eval-snr-db"),
                            checkpoint_every=args.checkpoint_every, device=args.device)
    print(json.dumps(result, indent=1))
    return 0
