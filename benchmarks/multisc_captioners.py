"""Table I of the Multi-SC papers: BLEU and caption length of captioners (e.g. two LLaVA models).

The papers compare LLaVA with Qwen1.5-0.5B (BLEU 0.1485, 42 "text length")
and with Vicuna-1.5-7B (BLEU 0.1451, 190) on "some samples". Here every
captioner captions every image of a dataset with reference captions (default:
the COCO sample) with the papers' query, and the script prints, per
captioner: corpus BLEU against all reference captions (sacrebleu, 0-1
scale), mean caption length in words and in characters, and seconds per
image. Training time (the table's last column) is not reproduced::

    python benchmarks/multisc_captioners.py \\
        --captioner llava-hf/llava-interleave-qwen-0.5b-hf --captioner llava-hf/llava-1.5-7b-hf

Missing weights stop the script with a message naming them. ``--json`` prints
the numbers and the model records (hashes, test-model flags).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def caption_table(captioner_refs: list[str], data: Path, max_images: int | None, device: str,
                  max_new_tokens: int) -> list[dict]:
    """Per captioner: BLEU vs the dataset's reference captions, caption lengths, seconds/image."""
    import numpy as np
    import torch
    from PIL import Image

    from semlink.extras import require
    from semlink.semantic.captioning import PAPER_QUERY, Captioner

    sacrebleu = require("sacrebleu", "caption BLEU")
    ann = json.loads((data / "annotations.json").read_text())["images"]
    ids = sorted(ann, key=int)[:max_images]
    images = [torch.from_numpy(np.array(Image.open(data / ann[i]["file_name"]).convert("RGB")))
              .permute(2, 0, 1).float() / 255 for i in ids]
    refs = [ann[i]["captions"] for i in ids]
    n_refs = min(len(r) for r in refs)
    out = []
    for ref in captioner_refs:
        cap = Captioner(ref, query=PAPER_QUERY, max_new_tokens=max_new_tokens, device=device)
        cap.caption(images[:1])                       # load + warm up
        cap._cache.clear()
        t0 = time.perf_counter()
        hyps = cap.caption(images)
        secs = (time.perf_counter() - t0) / len(images)
        bleu = sacrebleu.corpus_bleu(hyps, [[r[k] for r in refs] for k in range(n_refs)]).score / 100
        out.append({"captioner": ref, "bleu": bleu, "references_per_image": n_refs,
                    "words": float(np.mean([len(h.split()) for h in hyps])),
                    "characters": float(np.mean([len(h) for h in hyps])),
                    "seconds_per_image": secs, "images": len(images),
                    "model": cap.record().to_dict(), "examples": hyps[:3]})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captioner", action="append", required=True,
                    help="captioner reference ('llava', 'blip', HF id or folder); repeat")
    ap.add_argument("--data", default="data://coco-sample",
                    help="folder with annotations.json (default: the COCO sample, wherever "
                         "semlink finds it; 'semlink data fetch coco-sample' gets it)")
    ap.add_argument("--max-images", type=int, default=None)
    ap.add_argument("--max-new-tokens", type=int, default=200)
    ap.add_argument("--device", default=None, help="default: cuda:0 when present, else cpu")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from semlink.data import DatasetError, resolve_package_path

    try:
        data = Path(resolve_package_path(args.data)).expanduser()
    except DatasetError as exc:
        print(f"multisc_captioners: {exc}", file=sys.stderr)
        return 2
    if not (data / "annotations.json").is_file():
        print(f"no annotations.json in {data}", file=sys.stderr)
        return 2

    from semlink.device import resolve_device

    device = resolve_device(args.device, name="--device")   # None/auto: cuda:0 when present
    rows = caption_table(args.captioner, data, args.max_images, device, args.max_new_tokens)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"device {device}")
    print(f"{'captioner':<48} {'BLEU':>7} {'words':>7} {'chars':>7} {'s/img':>7}")
    for r in rows:
        flag = "  (TEST MODEL)" if r["model"]["test_model"] else ""
        print(f"{r['captioner'][-48:]:<48} {r['bleu']:7.4f} {r['words']:7.1f} {r['characters']:7.1f} "
              f"{r['seconds_per_image']:7.2f}{flag}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
