"""Image dataset loader for scenario sweeps.

:class:`ImageDataset` loads a folder (non-recursive) or a glob pattern of
images, decodes every file eagerly in ``__init__`` (so a broken file is
reported before a sweep starts) and caches each one as a float32 tensor of
shape ``[3, H, W]`` in ``[0, 1]``, RGB.

Decoding policy (Pillow):

* EXIF orientation is applied first (``ImageOps.exif_transpose``);
  ``DatasetItem.original_size`` is the ``(H, W)`` after that step and before
  any resize, crop or pad.
* Grayscale (``"1"``, ``"L"``, ``"I;16*"``, ``"I"``, ``"F"``) is replicated to
  3 channels. 16-bit data (``"I;16"``, ``"I;16B"``, ``"I;16L"``) and ``"I"``
  (32-bit int, treated as 16-bit range) are scaled by 1/65535, not truncated
  to 8 bits. ``"F"`` is taken as already in [0, 1]. Everything is clamped.
* Alpha (``"RGBA"``, ``"LA"``, ``"PA"``, ``"P"`` with transparency) is
  **discarded**: the colour channels are kept as stored, not composited onto
  any background.
* ``"P"`` (palette), ``"CMYK"``, ``"YCbCr"`` and other modes go through
  ``PIL.Image.convert("RGB")``.
* Truncated files are an error (Pillow's ``LOAD_TRUNCATED_IMAGES`` is left
  at its default ``False``).

Geometry policy (always on the float tensor, bicubic with antialiasing via
``torch.nn.functional.interpolate``, clamped to [0, 1], so 16-bit precision
is kept):

* ``resize=None`` keeps the size; ``resize=s`` (int) scales so the *shorter*
  side is ``s`` (aspect kept); ``resize=[H, W]`` scales to exactly H x W
  (aspect may change) with ``crop="none"``, or, with ``crop="center"``,
  scales so the image covers H x W (aspect kept) and center-crops to H x W.
* ``crop="center"`` with ``multiple_of=m``: the result is center-cropped so
  H and W are multiples of ``m`` (with ``resize=[H, W]``, H and W must
  already be multiples of ``m``).
* ``crop="none"`` with ``multiple_of=m > 1``: the image is padded at the
  bottom/right by edge replication (``F.pad(mode="replicate")``) up to the
  next multiple of ``m``; ``original_size`` records the size before that.

Annotations (``captions=`` / ``queries=``), matched to images by basename:

* COCO JSON (``{"images": [...], "annotations": [...]}``): the ``caption``
  field (for queries: ``query``, ``question`` or ``caption``). A COCO
  *instances* file (has ``"categories"``) gives one query
  ``"Where is the {category}?"`` per distinct category, sorted by name.
* A plain JSON mapping ``{file_name: [text, ...]}`` (a single string is
  accepted too).
* The ``annotations.json`` layout of the shared coco-sample (``{"images":
  {id: {"file_name", "captions", "objects": [{"category"}]}}}``); objects
  give queries as for COCO instances.
* CSV with a header ``file_name,caption`` (queries: ``file_name,query``),
  one row per text.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
_CROPS = ("none", "center")


def resolve_package_path(path: str) -> str:
    """``pkg://module.name/rel/path`` -> a file inside an installed package;
    ``data://NAME/rel/path`` -> a file of a named test data set (:mod:`semlink.data_fetch`).

    Lets scenario files use images that ship with a dependency, e.g.
    ``pkg://skimage.data/astronaut.png``, or Kodak24 / the COCO sample wherever they
    are found (``$SEMLINK_DATA``, ``../shared/data``, the user cache), e.g.
    ``data://kodak24`` or ``data://coco-sample/annotations.json``; a missing data set is
    an error naming ``semlink data fetch NAME``. Other paths are returned unchanged.
    """
    if isinstance(path, str) and path.startswith("data://"):
        from semlink.data_fetch import DataError, require

        name, _, rel = path[len("data://"):].partition("/")
        try:
            folder = require(name)
        except DataError as exc:
            raise DatasetError(f"{path!r}: {exc}") from exc
        return str(folder / rel) if rel else str(folder)
    if not isinstance(path, str) or not path.startswith("pkg://"):
        return path
    module, _, rel = path[len("pkg://"):].partition("/")
    try:
        from importlib.resources import files

        return str(files(module) / rel)
    except ModuleNotFoundError as exc:
        from semlink.extras import install_hint

        raise DatasetError(f"{path!r}: package {module!r} is not installed "
                           f"({install_hint(module.split('.')[0])})") from exc


class DatasetError(ValueError):
    """Invalid dataset configuration or unreadable dataset file."""


def _local(path: str | os.PathLike[str]) -> str:
    """A captions/queries path as a local file (``~``, ``pkg://``, ``data://`` resolved)."""
    return os.path.expanduser(resolve_package_path(os.fspath(path)))


@dataclass
class DatasetItem:
    """One decoded image with its annotations."""

    name: str  # file name relative to the dataset root
    image: torch.Tensor  # [3, H, W] float32 in [0, 1], RGB
    captions: list[str]
    queries: list[str]
    original_size: tuple[int, int]  # (H, W) after EXIF transpose, before resize/crop/pad


def _is_pos_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and bool(v > 0)


def _decode(img: Image.Image) -> torch.Tensor:
    """Convert a loaded PIL image to a float32 [3, H, W] tensor in [0, 1]."""
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(img).astype(np.float32) / 65535.0
    elif mode == "F":
        arr = np.asarray(img).astype(np.float32)
    elif mode in ("1", "L", "LA"):
        arr = np.asarray(img.getchannel(0).convert("L")).astype(np.float32) / 255.0
    elif mode in ("RGB", "RGBA", "RGBX"):
        arr = np.asarray(img)[..., :3].astype(np.float32) / 255.0
    elif mode in ("P", "PA"):
        rgba = "transparency" in img.info or mode == "PA"
        arr = np.asarray(img.convert("RGBA" if rgba else "RGB"))[..., :3].astype(np.float32) / 255.0
    else:  # CMYK, YCbCr, LAB, HSV, ...
        arr = np.asarray(img.convert("RGB")).astype(np.float32) / 255.0
    t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.ndim == 2:
        t = t.unsqueeze(0).expand(3, -1, -1)
    else:
        t = t.permute(2, 0, 1)
    return t.clamp(0.0, 1.0).contiguous()


def _resize(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    if tuple(x.shape[-2:]) == (h, w):
        return x
    y = F.interpolate(x[None], size=(h, w), mode="bicubic", antialias=True, align_corners=False)
    return y[0].clamp(0.0, 1.0)


def _center_crop(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    H, W = x.shape[-2:]
    top, left = (H - h) // 2, (W - w) // 2
    return x[:, top : top + h, left : left + w]


def _basename(name: str) -> str:
    return os.path.basename(str(name).replace("\\", "/"))


def _load_texts(path: str, kind: str, key: str) -> dict[str, list[str]]:
    """Read captions (kind="caption") or queries (kind="query") into {basename: [text]}."""
    where = f"{key}.{'captions' if kind == 'caption' else 'queries'}"
    if not os.path.isfile(path):
        raise DatasetError(f"{where}: file {path!r} does not exist; fix the path or remove the setting")
    out: dict[str, list[str]] = {}
    if path.lower().endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "file_name" not in reader.fieldnames or kind not in reader.fieldnames:
                raise DatasetError(f"{where}: CSV {path!r} needs a header 'file_name,{kind}' "
                                   f"(got {reader.fieldnames})")
            for row in reader:
                if row["file_name"] and row[kind]:
                    out.setdefault(_basename(row["file_name"]), []).append(row[kind].strip())
        return out
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise DatasetError(f"{where}: cannot read JSON {path!r}: {e}") from e
    bad = DatasetError(
        f"{where}: {path!r} is not a recognised format; expected COCO JSON with 'images' and "
        f"'annotations', a JSON mapping {{file_name: [{kind}s]}}, or a CSV with header 'file_name,{kind}'"
    )
    if not isinstance(data, dict):
        raise bad
    if "images" in data and "annotations" in data:
        files = {im["id"]: _basename(im["file_name"]) for im in data["images"]}
        if "categories" in data:
            if kind == "caption":
                raise DatasetError(f"{where}: {path!r} is a COCO instances file (no captions); "
                                   "use it as queries")
            cats = {c["id"]: c["name"] for c in data["categories"]}
            per: dict[str, set[str]] = {}
            for a in data["annotations"]:
                if a.get("image_id") in files and a.get("category_id") in cats:
                    per.setdefault(files[a["image_id"]], set()).add(cats[a["category_id"]])
            return {f: [f"Where is the {c}?" for c in sorted(cs)] for f, cs in per.items()}
        fields = ("caption",) if kind == "caption" else ("query", "question", "caption")
        for a in data["annotations"]:
            text = next((a[k] for k in fields if k in a), None)
            if text is None:
                raise DatasetError(f"{where}: annotation in {path!r} has none of the fields {fields}: {a}")
            if a.get("image_id") in files:
                out.setdefault(files[a["image_id"]], []).append(str(text).strip())
        return out
    if isinstance(data.get("images"), dict):  # coco-sample annotations.json: {"images": {id: {...}}}
        data = data["images"]
    for k, v in data.items():
        if isinstance(v, dict) and "file_name" in v:  # coco-sample annotations.json entry
            if kind == "caption":
                texts = [str(c) for c in v.get("captions", [])]
            else:
                texts = [f"Where is the {c}?" for c in sorted({o["category"] for o in v.get("objects", [])})]
            out.setdefault(_basename(v["file_name"]), []).extend(texts)
        elif isinstance(v, str):
            out.setdefault(_basename(k), []).append(v)
        elif isinstance(v, list) and all(isinstance(s, str) for s in v):
            out.setdefault(_basename(k), []).extend(v)
        else:
            raise bad
    return out


class ImageDataset:
    """Eagerly decoded, cached image dataset (see the module docstring for policies).

    Args:
        path: folder (non-recursive) or glob pattern of images.
        captions: optional captions file (COCO JSON, JSON mapping or CSV).
        queries: optional queries file (same formats, or COCO instances JSON).
        resize: None, an int (shorter side) or ``[H, W]``.
        crop: ``"none"`` or ``"center"``.
        multiple_of: make H and W multiples of this (crop or replicate-pad).
        max_images: keep only the first N images after sorting.
        key: config key prefix used in error messages (e.g. ``"dataset"``).

    Raises:
        DatasetError: on an invalid setting or an unreadable file.
    """

    def __init__(self, path: str, captions: str | None = None, queries: str | None = None,
                 resize: int | list[int] | None = None, crop: str = "none",
                 multiple_of: int = 1, max_images: int | None = None, key: str = "dataset"):
        self.key = key
        self.path = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
        self.captions_path, self.queries_path = captions, queries
        self.crop, self.multiple_of, self.max_images = crop, multiple_of, max_images
        self.resize = self._check_config(resize)
        files = self._find_files()
        cap = _load_texts(_local(captions), "caption", key) if captions else {}
        qry = _load_texts(_local(queries), "query", key) if queries else {}
        for texts, what in ((cap, "captions"), (qry, "queries")):
            if texts and not any(_basename(n) in texts for n, _ in files):
                warnings.warn(f"{key}.{what}: no image of {self.path!r} has an entry in that file",
                              stacklevel=2)
        self._items: list[DatasetItem] = []
        for name, full in files:
            image, orig = self._load(name, full)
            b = _basename(name)
            self._items.append(DatasetItem(name, image, list(cap.get(b, [])), list(qry.get(b, [])), orig))

    def _check_config(self, resize: Any) -> int | list[int] | None:
        k = self.key
        paths = self.path if isinstance(self.path, list) else [self.path]
        if not paths or not all(isinstance(p, str) and p for p in paths):
            raise DatasetError(f"{k}.path: expected a folder, file or glob pattern (or a list of "
                               f"them), got {self.path!r}")
        if self.crop not in _CROPS:
            raise DatasetError(f"{k}.crop: expected one of {list(_CROPS)}, got {self.crop!r}")
        if not _is_pos_int(self.multiple_of):
            raise DatasetError(f"{k}.multiple_of: expected a positive integer, got {self.multiple_of!r}")
        if self.max_images is not None and not _is_pos_int(self.max_images):
            raise DatasetError(f"{k}.max_images: expected a positive integer or null, "
                               f"got {self.max_images!r}")
        if resize is None or _is_pos_int(resize):
            return None if resize is None else int(resize)
        if isinstance(resize, (list, tuple)) and len(resize) == 2 and all(_is_pos_int(v) for v in resize):
            h, w = int(resize[0]), int(resize[1])
            m = self.multiple_of
            if self.crop == "center" and (h % m or w % m):
                raise DatasetError(f"{k}.resize: {[h, w]} must be multiples of {k}.multiple_of={m} with "
                                   f"crop='center'; change one of them")
            return [h, w]
        raise DatasetError(f"{k}.resize: expected null, a positive integer (shorter side) or a list "
                           f"[H, W] of positive integers, got {resize!r}")

    def _find_files(self) -> list[tuple[str, str]]:
        if isinstance(self.path, list):
            files = []
            for i, one in enumerate(self.path):
                files += self._find_one(resolve_package_path(one), f"{self.key}.path[{i}]")
            names = [n for n, _ in files]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise DatasetError(f"{self.key}.path: several images are named {dup}; "
                                   "give each file a distinct name")
            return files[: self.max_images] if self.max_images else files
        return self._find_one(resolve_package_path(self.path), f"{self.key}.path")

    def _find_one(self, path: str, where: str) -> list[tuple[str, str]]:
        k, p = where, os.path.expanduser(path)
        exts = " ".join(IMAGE_EXTENSIONS)
        if glob.has_magic(p):
            root = p
            while glob.has_magic(root):
                root = os.path.dirname(root)
            found = [f for f in glob.glob(p, recursive=True) if os.path.isfile(f)]
            what = f"glob pattern {self.path!r} matches no image"
        elif os.path.isdir(p):
            root = p
            found = [os.path.join(p, f) for f in os.listdir(p) if os.path.isfile(os.path.join(p, f))]
            what = f"folder {self.path!r} is empty (no image files)"
        elif os.path.isfile(p):
            root, found, what = os.path.dirname(p), [p], f"{self.path!r} is not an image file"
        else:
            raise DatasetError(f"{k}: folder {path!r} does not exist; set {k} to an existing "
                               f"image folder or a glob pattern such as '/data/kodak/*.png'")
        files = sorted((os.path.relpath(f, root or ".").replace(os.sep, "/"), f)
                       for f in found if f.lower().endswith(IMAGE_EXTENSIONS))
        if not files:
            raise DatasetError(f"{k}: {what}; accepted extensions (case-insensitive): {exts}")
        return files[: self.max_images] if self.max_images else files

    def _load(self, name: str, full: str) -> tuple[torch.Tensor, tuple[int, int]]:
        try:
            with Image.open(full) as opened:
                opened.load()
                img = ImageOps.exif_transpose(opened)
                x = _decode(img)
        except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, ...
            raise DatasetError(f"{self.key}.path: cannot decode image {full!r} ({type(e).__name__}: {e}); "
                               f"fix or remove the file") from e
        orig = (int(x.shape[1]), int(x.shape[2]))
        x = self._geometry(x, name)
        return x.contiguous(), orig

    def _geometry(self, x: torch.Tensor, name: str) -> torch.Tensor:
        h, w = x.shape[-2:]
        r, m, center = self.resize, self.multiple_of, self.crop == "center"
        if isinstance(r, int):
            s = r / min(h, w)
            x = _resize(x, r if h <= w else max(1, round(h * s)), r if w < h else max(1, round(w * s)))
        elif isinstance(r, list):
            if center:
                s = max(r[0] / h, r[1] / w)
                x = _resize(x, max(r[0], round(h * s)), max(r[1], round(w * s)))
                x = _center_crop(x, r[0], r[1])
            else:
                x = _resize(x, r[0], r[1])
        if m > 1:
            h, w = x.shape[-2:]
            if center:
                ch, cw = h // m * m, w // m * m
                if ch == 0 or cw == 0:
                    raise DatasetError(f"{self.key}.multiple_of: image {name!r} is {h}x{w} after resizing, "
                                       f"smaller than {self.key}.multiple_of={m}; lower it or raise resize")
                x = _center_crop(x, ch, cw)
            else:
                ph, pw = -h % m, -w % m
                if ph or pw:
                    x = F.pad(x[None], (0, pw, 0, ph), mode="replicate")[0]
        return x

    def __len__(self) -> int:
        """Number of images."""
        return len(self._items)

    def __getitem__(self, i: int) -> DatasetItem:
        """Item ``i`` (negative indices allowed); the image tensor is a copy of the cache."""
        it = self._items[i]
        return DatasetItem(it.name, it.image.clone(), list(it.captions), list(it.queries), it.original_size)

    def __iter__(self) -> Iterator[DatasetItem]:
        """Every item in order (as :meth:`__getitem__` gives them)."""
        return (self[i] for i in range(len(self)))

    @property
    def names(self) -> list[str]:
        """Sorted image file names, relative to the dataset root."""
        return [it.name for it in self._items]

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """``(H, W)`` [pixels] of every image as served (after resize, crop and padding),
        read from the cache: no image is copied (indexing copies the tensor)."""
        return [(int(it.image.shape[-2]), int(it.image.shape[-1])) for it in self._items]

    @property
    def caption_counts(self) -> list[int]:
        """Number of captions of every image (no image is copied)."""
        return [len(it.captions) for it in self._items]

    def batches(self, batch_size: int) -> Iterator[list[DatasetItem]]:
        """Yield consecutive lists of up to ``batch_size`` items (the last may be shorter)."""
        if not _is_pos_int(batch_size):
            raise DatasetError(f"batch_size: expected a positive integer, got {batch_size!r}")
        for start in range(0, len(self), batch_size):
            yield [self[i] for i in range(start, min(start + batch_size, len(self)))]

    def identity(self) -> dict:
        """What makes this dataset what it is, for refusing a resume on changed inputs.

        ``{"files": {name: {"size": bytes, "sha256": hex}}, "annotations": {...same for
        captions/queries files}, "policy": {resize, crop, multiple_of, max_images}}``;
        the files are the ones selected now (after sorting and ``max_images``).
        """
        import hashlib

        def digest(path: str) -> dict:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            return {"size": os.path.getsize(path), "sha256": h.hexdigest()}

        notes = {k: digest(_local(p))
                 for k, p in (("captions", self.captions_path), ("queries", self.queries_path))
                 if p is not None}
        return {"files": {name: digest(full) for name, full in self._find_files()},
                "annotations": notes,
                "policy": {"resize": self.resize, "crop": self.crop,
                           "multiple_of": int(self.multiple_of),
                           "max_images": None if self.max_images is None else int(self.max_images)}}

    def describe(self) -> dict:
        """JSON-able summary: configuration, number of images and their names."""
        return {
            "key": self.key,
            "path": self.path,
            "captions": None if self.captions_path is None else os.fspath(self.captions_path),
            "queries": None if self.queries_path is None else os.fspath(self.queries_path),
            "resize": self.resize,
            "crop": self.crop,
            "multiple_of": int(self.multiple_of),
            "max_images": None if self.max_images is None else int(self.max_images),
            "num_images": len(self),
            "names": self.names,
        }


def load_captions(path: str, key: str = "captions") -> dict[str, list[str]]:
    """Captions file (COCO captions JSON, JSON mapping, coco-sample annotations.json or
    CSV ``file_name,caption``) -> ``{image basename: [captions]}`` (see the module docstring)."""
    return _load_texts(_local(path), "caption", key)
