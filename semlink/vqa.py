"""VQA-format question files and the animal zero-shot split (UO-ISC, ../papers/uo-isc.md, Sec. IV).

UO-ISC is trained on VQA *without* animal-related samples and evaluated
zero-shot on the animal-related ones. This module reads VQA-format question
files over an image folder and applies that split.

Formats read by :func:`load_vqa` (every record: image, question, answers):

* **VQA v2**: ``questions`` is the questions JSON (``{"questions": [{"image_id",
  "question", "question_id"}, ...]}``) and ``annotations`` the matching
  annotations JSON (``{"annotations": [{"question_id", "answers": [{"answer"}, ...],
  "multiple_choice_answer"}, ...]}``; optional: without it the answers are
  empty). Images are matched to files by COCO image id: the number at the end
  of the file stem (``000000000139.jpg`` and ``COCO_val2014_000000000139.jpg``
  both are id 139).
* **Plain JSON**: a list of ``{"image": FILE, "question": TEXT, "answers":
  [TEXT, ...]}`` (``"answer": TEXT`` is accepted for one answer; ``"file_name"``
  for ``"image"``). Matched by file basename.
* **CSV** with a header ``image,question,answers``; several answers are
  separated by ``|``. Matched by file basename.

The animal split (:func:`animal_split`) is defined by the COCO categories of
supercategory ``animal`` read from a COCO *instances* file (``categories``;
in COCO 2017: bird, cat, dog, horse, sheep, cow, elephant, bear, zebra,
giraffe). A record is *animal-related* when

* ``"objects"``: its image has an instance annotation of one of those
  categories (crowd regions included), or
* ``"question"``: its question contains one of those category names, its
  plural (``+s``/``+es``; ``sheep`` stays ``sheep``) or the word ``animal``/
  ``animals`` as a whole word (case-insensitive), or
* ``"either"`` (default): either of the two.

``split: exclude_animals`` keeps the other records (training set of the
paper), ``split: animals`` keeps the animal-related ones (zero-shot set),
``split: all`` keeps everything.

:class:`VQADataset` wraps an :class:`~semlink.data.ImageDataset` of the image
folder: one item per (image, question) record (``per: question``, item name
``FILE#QUESTION_ID``) or one per image with all its kept questions
(``per: image``); ``item.queries`` are the questions and ``item.answers``
their answer lists. Scenarios use it through ``dataset.vqa`` and
``semlink train uoisc`` through ``--vqa-questions`` (see docs/uoisc.md).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .data import DatasetError, DatasetItem, ImageDataset, _basename, _is_pos_int, resolve_package_path

SPLITS = ("all", "exclude_animals", "animals")
RULES = ("objects", "question", "either")
VQA_KEYS = {"questions", "annotations", "instances", "split", "rule", "per"}


@dataclass
class VQARecord:
    """One question about one image."""

    image: str                # image key: file basename, or "id:N" for VQA v2 (COCO image id)
    question: str
    answers: list[str]
    question_id: str


@dataclass
class VQAItem(DatasetItem):
    """A :class:`DatasetItem` with the answers of each query (``answers[i]`` for ``queries[i]``)."""

    answers: list[list[str]] = field(default_factory=list)
    question_ids: list[str] = field(default_factory=list)


def coco_image_id(file_name: str) -> int | None:
    """COCO image id from a file name: the digits at the end of its stem, else None."""
    m = re.search(r"(\d+)$", os.path.splitext(_basename(file_name))[0])
    return int(m.group(1)) if m else None


def _read_json(path: str, where: str):
    if not os.path.isfile(path):
        raise DatasetError(f"{where}: file {path!r} does not exist; fix the path")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise DatasetError(f"{where}: cannot read JSON {path!r}: {e}") from e


def load_vqa(questions: str, annotations: str | None = None, key: str = "dataset.vqa") -> list[VQARecord]:
    """Read a VQA-format file (see the module docstring) into records, in file order.

    :param questions: VQA v2 questions JSON, plain JSON list, or CSV.
    :param annotations: VQA v2 annotations JSON (answers); only with VQA v2 questions.
    :raises DatasetError: unreadable or unrecognised file, naming ``key``.
    """
    where = f"{key}.questions"
    if questions.lower().endswith(".csv"):
        if annotations:
            raise DatasetError(f"{key}.annotations: only VQA v2 JSON questions take an annotations "
                               "file; CSV rows carry their answers")
        if not os.path.isfile(questions):
            raise DatasetError(f"{where}: file {questions!r} does not exist; fix the path")
        out = []
        with open(questions, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            need = {"image", "question"}
            if not reader.fieldnames or not need <= set(reader.fieldnames):
                raise DatasetError(f"{where}: CSV {questions!r} needs a header 'image,question,answers' "
                                   f"(got {reader.fieldnames})")
            for n, row in enumerate(reader):
                answers = [a.strip() for a in (row.get("answers") or "").split("|") if a.strip()]
                out.append(VQARecord(_basename(row["image"]), row["question"].strip(), answers, str(n)))
        return out
    data = _read_json(questions, where)
    if isinstance(data, dict) and "questions" in data:
        answers_of: dict = {}
        if annotations:
            ann = _read_json(annotations, f"{key}.annotations")
            if not isinstance(ann, dict) or "annotations" not in ann:
                raise DatasetError(f"{key}.annotations: {annotations!r} is not a VQA annotations file "
                                   "(expected {'annotations': [{'question_id', 'answers'}, ...]})")
            for a in ann["annotations"]:
                answers_of[a["question_id"]] = [str(x["answer"]) for x in a.get("answers", [])] or \
                    ([str(a["multiple_choice_answer"])] if "multiple_choice_answer" in a else [])
        out = []
        for q in data["questions"]:
            missing = {"image_id", "question", "question_id"} - set(q)
            if missing:
                raise DatasetError(f"{where}: question in {questions!r} lacks {sorted(missing)}: {q}")
            out.append(VQARecord(f"id:{int(q['image_id'])}", str(q["question"]).strip(),
                                 answers_of.get(q["question_id"], []), str(q["question_id"])))
        return out
    if annotations:
        raise DatasetError(f"{key}.annotations: only VQA v2 JSON questions take an annotations file")
    if not isinstance(data, list):
        raise DatasetError(f"{where}: {questions!r} is not a recognised VQA format; expected VQA v2 "
                           "questions JSON ({'questions': [...]}), a JSON list of {image, question, "
                           "answers}, or a CSV with header 'image,question,answers'")
    out = []
    for n, r in enumerate(data):
        image = r.get("image", r.get("file_name")) if isinstance(r, dict) else None
        if image is None or "question" not in r:
            raise DatasetError(f"{where}: entry {n} of {questions!r} needs 'image' and 'question': {r}")
        ans = r.get("answers", [r["answer"]] if "answer" in r else [])
        ans = [ans] if isinstance(ans, str) else [str(a) for a in ans]
        out.append(VQARecord(_basename(image), str(r["question"]).strip(), ans,
                             str(r.get("question_id", n))))
    return out


def animal_categories(instances: str, key: str = "dataset.vqa") -> list[str]:
    """Names of the COCO categories of supercategory ``animal`` in an instances file."""
    data = _read_json(instances, f"{key}.instances")
    if not isinstance(data, dict) or "categories" not in data:
        raise DatasetError(f"{key}.instances: {instances!r} is not a COCO instances file (no 'categories')")
    names = sorted(c["name"] for c in data["categories"] if c.get("supercategory") == "animal")
    if not names:
        raise DatasetError(f"{key}.instances: {instances!r} has no category of supercategory 'animal'")
    return names


def _plural(word: str) -> str:
    if word in ("sheep",):
        return word
    return word + ("es" if word.endswith(("s", "sh", "ch", "x")) else "s")


def animal_images(instances: str, key: str = "dataset.vqa") -> set[str]:
    """Keys (``"id:N"`` and file basenames) of images with an animal instance annotation."""
    data = _read_json(instances, f"{key}.instances")
    animal_ids = {c["id"] for c in data.get("categories", []) if c.get("supercategory") == "animal"}
    files = {im["id"]: _basename(im["file_name"]) for im in data.get("images", [])}
    out = set()
    for a in data.get("annotations", []):
        if a.get("category_id") in animal_ids:
            out.add(f"id:{int(a['image_id'])}")
            if a["image_id"] in files:
                out.add(files[a["image_id"]])
    return out


def question_mentions(question: str, names: list[str]) -> bool:
    """True when ``question`` contains a name, its plural, or 'animal(s)' as whole words."""
    words = {n.lower() for n in names} | {_plural(n.lower()) for n in names} | {"animal", "animals"}
    text = " " + re.sub(r"[^a-z0-9 ]+", " ", question.lower()) + " "
    return any(f" {w} " in text for w in words)


@dataclass
class SplitCounts:
    """What :func:`animal_split` kept; ``animal_*`` count animal-related records/images."""

    split: str
    rule: str
    records: int
    images: int
    animal_records: int
    animal_images: int
    kept_records: int
    kept_images: int
    categories: list[str]
    unmatched: int = 0        # questions whose image is not in the folder (dropped before the split)

    def line(self) -> str:
        """One human-readable line (printed by ``semlink run`` and ``semlink train uoisc``)."""
        return (f"VQA split {self.split!r} (animal rule {self.rule!r}: {', '.join(self.categories)}): "
                f"{self.records} questions on {self.images} images, {self.animal_records} questions on "
                f"{self.animal_images} images animal-related; kept {self.kept_records} questions on "
                f"{self.kept_images} images" + (f"; {self.unmatched} questions without their image in "
                                                   "the folder dropped" if self.unmatched else ""))


def animal_split(records: list[VQARecord], instances: str | None, split: str = "exclude_animals",
                 rule: str = "either", image_key=None, key: str = "dataset.vqa"
                 ) -> tuple[list[VQARecord], SplitCounts]:
    """Apply the animal zero-shot split; returns the kept records and the counts.

    :param instances: COCO instances JSON (categories and, for ``rule`` objects/either,
        the images' objects). Needed unless ``split="all"``.
    :param split: ``exclude_animals`` (train), ``animals`` (zero-shot test) or ``all``.
    :param rule: ``objects``, ``question`` or ``either`` (see the module docstring).
    :param image_key: maps a record to the image it refers to (for image counts), default ``r.image``.
    """
    if split not in SPLITS:
        raise DatasetError(f"{key}.split: expected one of {list(SPLITS)}, got {split!r}")
    if rule not in RULES:
        raise DatasetError(f"{key}.rule: expected one of {list(RULES)}, got {rule!r}")
    image_key = image_key or (lambda r: r.image)
    if split == "all" and instances is None:
        names, animal = [], [False] * len(records)
    else:
        if instances is None:
            raise DatasetError(f"{key}.instances: split {split!r} needs a COCO instances file "
                               "(e.g. instances_val2017.json) for the animal categories")
        names = animal_categories(instances, key)
        imgs = animal_images(instances, key) if rule in ("objects", "either") else set()
        animal = []
        for r in records:
            by_obj = r.image in imgs or image_key(r) in imgs
            by_q = rule in ("question", "either") and question_mentions(r.question, names)
            animal.append((by_obj and rule != "question") or by_q)
    kept = [r for r, a in zip(records, animal, strict=True)
            if split == "all" or (a if split == "animals" else not a)]
    counts = SplitCounts(split, rule, len(records), len({image_key(r) for r in records}),
                         sum(animal), len({image_key(r) for r, a in zip(records, animal, strict=True) if a}),
                         len(kept), len({image_key(r) for r in kept}), names)
    return kept, counts


class VQADataset:
    """VQA records over an image folder, after the animal split (see the module docstring).

    Has the :class:`ImageDataset` interface used by sweeps and training
    (``len``, indexing, ``names``, ``batches``, ``describe``); items are
    :class:`VQAItem`.

    :param images: the decoded image folder.
    :param questions: VQA-format file (:func:`load_vqa`).
    :param annotations: VQA v2 annotations file, or None.
    :param instances: COCO instances file for the animal split.
    :param split: ``all``, ``exclude_animals`` or ``animals``.
    :param rule: ``objects``, ``question`` or ``either``.
    :param per: ``question`` (one item per question) or ``image`` (one item per image).
    :param max_items: keep the first N items after the split.
    """

    def __init__(self, images: ImageDataset, questions: str, annotations: str | None = None,
                 instances: str | None = None, split: str = "all", rule: str = "either",
                 per: str = "question", max_items: int | None = None, key: str = "dataset.vqa") -> None:
        if per not in ("question", "image"):
            raise DatasetError(f"{key}.per: expected 'question' or 'image', got {per!r}")
        if max_items is not None and not _is_pos_int(max_items):
            raise DatasetError(f"{key}: max_images must be a positive integer, got {max_items!r}")
        self.images, self.key, self.per = images, key, per
        # data://NAME/... (a test data set wherever it is) and pkg:// name files like plain paths
        def local(p: str) -> str:
            return os.path.expanduser(resolve_package_path(os.fspath(p)))

        questions = local(questions)
        annotations = None if annotations is None else local(annotations)
        instances = None if instances is None else local(instances)
        self.config = {"questions": questions, "annotations": annotations, "instances": instances,
                       "split": split, "rule": rule, "per": per}
        by_name = {_basename(n): i for i, n in enumerate(images.names)}
        by_id = {f"id:{coco_image_id(n)}": i for i, n in enumerate(images.names)
                 if coco_image_id(n) is not None}
        records = load_vqa(questions, annotations, key)
        index = {}
        for r in records:
            hit = by_id.get(r.image) if r.image.startswith("id:") else by_name.get(r.image)
            if hit is not None:
                index[id(r)] = hit
        present = [r for r in records if id(r) in index]
        if not present:
            raise DatasetError(f"{key}.questions: no question of {questions!r} refers to an image of "
                               f"{images.path!r} ({len(records)} questions read)")
        image_of = {id(r): images.names[index[id(r)]] for r in present}
        kept, self.counts = animal_split(present, instances, split, rule,
                                         image_key=lambda r: image_of[id(r)], key=key)
        self.counts.unmatched = len(records) - len(present)
        if per == "question":
            self._entries = [(index[id(r)], [r]) for r in kept]
        else:
            grouped: dict[int, list[VQARecord]] = {}
            for r in kept:
                grouped.setdefault(index[id(r)], []).append(r)
            self._entries = sorted(grouped.items())
        if max_items is not None:
            self._entries = self._entries[:max_items]
        if not self._entries:
            raise DatasetError(f"{key}.split: split {split!r} keeps no question "
                               f"({self.counts.line()})")

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, i) -> VQAItem:
        idx, recs = self._entries[i]
        base = self.images[idx]
        name = base.name if self.per == "image" else f"{base.name}#{recs[0].question_id}"
        return VQAItem(name, base.image, base.captions, [r.question for r in recs], base.original_size,
                       answers=[list(r.answers) for r in recs],
                       question_ids=[r.question_id for r in recs])

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """``(H, W)`` [pixels] of every item's image (:attr:`ImageDataset.shapes`, no copy)."""
        shapes = self.images.shapes
        return [shapes[idx] for idx, _ in self._entries]

    @property
    def caption_counts(self) -> list[int]:
        """Number of captions of every item's image (no image is copied)."""
        counts = self.images.caption_counts
        return [counts[idx] for idx, _ in self._entries]

    @property
    def names(self) -> list[str]:
        """Item names: ``FILE#QUESTION_ID`` (per question) or ``FILE`` (per image)."""
        out = []
        for idx, recs in self._entries:
            n = self.images.names[idx]
            out.append(n if self.per == "image" else f"{n}#{recs[0].question_id}")
        return out

    def batches(self, batch_size: int) -> Iterator[list[VQAItem]]:
        """Consecutive lists of up to ``batch_size`` items."""
        if not _is_pos_int(batch_size):
            raise DatasetError(f"batch_size: expected a positive integer, got {batch_size!r}")
        for start in range(0, len(self), batch_size):
            yield [self[i] for i in range(start, min(start + batch_size, len(self)))]

    def identity(self) -> dict:
        """The image folder's identity plus the VQA files' digests and the split (resume checks)."""
        import hashlib

        ident = self.images.identity()
        for key in ("questions", "annotations", "instances"):
            path = self.config.get(key)
            if path is not None:
                with open(path, "rb") as f:
                    ident["annotations"][f"vqa.{key}"] = {"size": os.path.getsize(path),
                                                         "sha256": hashlib.sha256(f.read()).hexdigest()}
        ident["policy"] = {**ident["policy"], "vqa": {k: self.config[k] for k in ("split", "rule", "per")},
                           "max_items": len(self)}
        return ident

    def describe(self) -> dict:
        """JSON-able summary: the image folder, the VQA files, the split and its counts."""
        return {**self.images.describe(), "vqa": {**self.config, "counts": vars(self.counts)},
                "num_items": len(self), "names": self.names}


def open_dataset(spec: dict, key: str = "dataset"):
    """Build the dataset of a scenario ``dataset`` block (with or without ``vqa``).

    ``spec`` holds :class:`ImageDataset` arguments and optionally ``vqa``:
    ``{questions, annotations, instances, split, rule, per}``. With ``vqa``,
    ``max_images`` limits the items after the split (not the image folder).
    """
    spec = dict(spec)
    vqa = spec.pop("vqa", None)
    if vqa is None:
        return ImageDataset(**spec, key=key)
    if not isinstance(vqa, dict) or "questions" not in vqa or set(vqa) - VQA_KEYS:
        raise DatasetError(f"{key}.vqa: expected a mapping with 'questions' and optional "
                           f"{sorted(VQA_KEYS - {'questions'})}, got {vqa!r}")
    if spec.get("queries"):
        raise DatasetError(f"{key}.queries: the queries come from {key}.vqa.questions; remove one")
    max_items = spec.pop("max_images", None)
    images = ImageDataset(**spec, key=key)
    return VQADataset(images, max_items=max_items, key=f"{key}.vqa", **vqa)
