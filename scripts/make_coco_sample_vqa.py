"""Write a small hand-made VQA v2-format question set over the shared COCO sample.

Reads ``coco_format/instances_val2017_subset.json`` of the COCO sample, found
where every semlink tool finds it (``$SEMLINK_DATA``, ``../shared/data``, the
user cache: :func:`semlink.data_fetch.require`; ``semlink data fetch
coco-sample`` gets it) and writes, in VQA v2 format,
``tests/data/coco_sample_vqa/questions.json`` and ``annotations.json``.
Questions per image, generated from its instance annotations (no image is
copied, nothing is downloaded):

* for every category present: "How many PLURAL are there?" -> the number of
  its non-crowd instances, and "Is there a NAME in the picture?" -> "yes";
* one "Is there a NAME in the picture?" -> "no" for a category that is absent
  (the first absent category in id order starting at ``image_id mod 80``), so
  some questions about animals are asked of images without animals.

Usage (from the repository root): ``python scripts/make_coco_sample_vqa.py``.
The committed files are this script's output; ``tests/test_vqa.py`` checks that.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

IRREGULAR = {"person": "people", "mouse": "mice", "knife": "knives", "sheep": "sheep",
             "skis": "pairs of skis", "scissors": "pairs of scissors", "skateboard": "skateboards"}


def plural(name: str) -> str:
    if name in IRREGULAR:
        return IRREGULAR[name]
    return name + ("es" if name.endswith(("s", "sh", "ch", "x")) else "s")


def make(instances: dict) -> tuple[dict, dict]:
    """(questions, annotations) in VQA v2 format from a COCO instances dict."""
    cats = sorted(instances["categories"], key=lambda c: c["id"])
    name = {c["id"]: c["name"] for c in cats}
    questions, annotations = [], []
    for im in sorted(instances["images"], key=lambda i: i["id"]):
        anns = [a for a in instances["annotations"] if a["image_id"] == im["id"]]
        present = sorted({a["category_id"] for a in anns}, key=lambda c: name[c])
        qa = []
        for c in present:
            n = sum(1 for a in anns if a["category_id"] == c and not a.get("iscrowd", 0))
            qa.append((f"How many {plural(name[c])} are there?", str(n), "number"))
            qa.append((f"Is there a {name[c]} in the picture?", "yes", "yes/no"))
        start = im["id"] % len(cats)
        absent = next(c["id"] for c in cats[start:] + cats[:start] if c["id"] not in present)
        qa.append((f"Is there a {name[absent]} in the picture?", "no", "yes/no"))
        for k, (q, a, kind) in enumerate(qa):
            qid = im["id"] * 1000 + k
            questions.append({"image_id": im["id"], "question": q, "question_id": qid})
            annotations.append({"image_id": im["id"], "question_id": qid, "answer_type": kind,
                                "multiple_choice_answer": a,
                                "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": 1}]})
    info = {"description": "semlink hand-made VQA v2-format questions over the COCO 2017 val sample "
                           "(scripts/make_coco_sample_vqa.py)"}
    return ({"info": info, "task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": "val2017",
             "questions": questions},
            {"info": info, "data_type": "mscoco", "data_subtype": "val2017", "annotations": annotations})


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    from semlink.data_fetch import DataError, require

    try:
        src = require("coco-sample") / "coco_format" / "instances_val2017_subset.json"
    except DataError as exc:
        print(f"make_coco_sample_vqa: {exc}", file=sys.stderr)
        return 1
    questions, annotations = make(json.loads(src.read_text()))
    out = root / "tests" / "data" / "coco_sample_vqa"
    out.mkdir(parents=True, exist_ok=True)
    (out / "questions.json").write_text(json.dumps(questions, indent=1) + "\n")
    (out / "annotations.json").write_text(json.dumps(annotations, indent=1) + "\n")
    print(f"wrote {len(questions['questions'])} questions on {len(instances_ids(questions))} images to {out}")
    return 0


def instances_ids(questions: dict) -> set[int]:
    return {q["image_id"] for q in questions["questions"]}


if __name__ == "__main__":
    sys.exit(main())
