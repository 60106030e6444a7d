"""Zero-shot evaluation of a UO-ISC checkpoint on the VQA animal split (no channel errors).

Evaluates ``evaluate_uoisc`` (PSNR of each image encoded with each of its own
questions, and the mean-colour baseline) on the images the training split saw
(``exclude_animals``) and on the zero-shot animal images (``animals``, rule
``objects``), and prints both as JSON.

Usage (from the repository root)::

    python scripts/eval_uoisc_zero_shot.py out/results/uoisc_novlm_vqa/last.pt \
        [--data data://coco-sample/val2017] [--questions Q --annotations A --instances I]

The COCO sample is found where every semlink tool finds it (``data://coco-sample/...``:
``$SEMLINK_DATA``, ``../shared/data``, the user cache; ``semlink data fetch coco-sample``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("--data", default="data://coco-sample/val2017")
    p.add_argument("--questions", default=str(root / "tests/data/coco_sample_vqa/questions.json"))
    p.add_argument("--annotations", default=str(root / "tests/data/coco_sample_vqa/annotations.json"))
    p.add_argument("--instances",
                   default="data://coco-sample/coco_format/instances_val2017_subset.json")
    p.add_argument("--device", default="auto",
                   help="auto (first CUDA device if any, else cpu), cpu, cuda, cuda:N")
    args = p.parse_args()
    from semlink.data import DatasetError, resolve_package_path

    try:        # data:// -> the data set's folder, or the fetch command (before any model loads)
        for key in ("data", "questions", "annotations", "instances"):
            setattr(args, key, resolve_package_path(getattr(args, key)))
    except DatasetError as exc:
        print(f"eval_uoisc_zero_shot: {exc}", file=sys.stderr)
        return 1
    from semlink.semantic.train_uoisc import evaluate_uoisc

    vqa = {"questions": args.questions, "annotations": args.annotations, "instances": args.instances}
    out = {
        "seen_split_exclude_animals": evaluate_uoisc(
            args.checkpoint, args.data, device=args.device,
            vqa={**vqa, "split": "exclude_animals", "rule": "either"}),
        "zero_shot_animals": evaluate_uoisc(
            args.checkpoint, args.data, device=args.device,
            vqa={**vqa, "split": "animals", "rule": "objects"}),
    }
    for v in out.values():
        v["vqa_split"].pop("categories", None)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")   # semlink's log on stderr
    raise SystemExit(main())
