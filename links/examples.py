"""Example reconstructions kept in ``results.h5`` (scenario key ``keep_examples``).

``keep_examples: N`` keeps the first N dataset items of every point,
``keep_examples: [name, ...]`` the items with those names (a name is the
item's file name, or ``FILE#QUESTION_ID`` for VQA items); absent or 0 keeps
none and writes nothing. For each kept item a point stores:

* the reconstruction, quantised to 8 bits (``round(255 x)``) and stored as PNG
  bytes (lossless: decoding the bytes gives that 8-bit image exactly);
* at the point with ``snr_index == 0`` of each codec setting, channel and
  seed, the original, the same way (so every gallery row has its original);
* the item's per-image metrics at that point (the same numbers as
  ``metrics/<name>`` of the point);
* the codec's texts: the decoded text (``Reconstruction.texts``) and, for text
  streams, every per-image string list the codec returns in
  ``Reconstruction.extras`` (e.g. ``received_text`` and ``corrected_text``),
  and the query the item was encoded with;
* the codec's resolved parameters (``Codec.params()``), so a gallery can flag
  test and random-init models.

Layout under ``/points/<id>/examples/`` (absent without ``keep_examples``)::

    attrs   codec_params_json
    <k>/    attrs name, dataset_index, metrics_json, texts_json
            reconstruction_png   uint8 [bytes]   (absent for text-only codecs)
            original_png         uint8 [bytes]   (only at snr_index 0)
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import torch


def check_keep_examples(value: Any, fail) -> int | list[str] | None:
    """Validate ``keep_examples``; ``fail(path, message)`` raises the scenario error."""
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not (isinstance(value, int) and value > 0 or
                                       isinstance(value, list) and value and
                                       all(isinstance(v, str) and v for v in value)):
        fail("keep_examples", f"expected a positive integer (the first N images) or a non-empty "
                              f"list of image names, got {value!r}")
    return value


def selected_indices(keep: int | list[str] | None, names: list[str]) -> list[int]:
    """Dataset indices of the kept items, in dataset order.

    :raises ValueError: a listed name is not in the dataset (the message lists some names).
    """
    if not keep:
        return []
    if isinstance(keep, int):
        return list(range(min(keep, len(names))))
    missing = [n for n in keep if n not in names]
    if missing:
        raise ValueError(f"keep_examples: {missing} not in the dataset; its first names are "
                         f"{names[:5]}")
    wanted = set(keep)
    return [i for i, n in enumerate(names) if n in wanted]


def to_png(image: torch.Tensor) -> bytes:
    """[3, H, W] float in [0, 1] -> PNG bytes of ``round(255 x)`` (8-bit RGB)."""
    from PIL import Image

    arr = (image.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr.permute(1, 2, 0).numpy()).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def from_png(data: bytes) -> np.ndarray:
    """PNG bytes -> uint8 array [H, W, 3]."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _as_text(v) -> str | None:
    """A per-image text entry: a string, or a list of strings (several texts, joined with ' | ')."""
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, str) for x in v):
        return " | ".join(v)
    return None


def _texts(recon, j: int, batch: int) -> dict:
    out = {}
    if recon.texts is not None and j < len(recon.texts) and _as_text(recon.texts[j]) is not None:
        out["text"] = _as_text(recon.texts[j])
    for key, value in (recon.extras or {}).items():
        if isinstance(value, (list, tuple)) and len(value) == batch and _as_text(value[j]) is not None:
            out[key] = _as_text(value[j])
    return out


class ExampleCollector:
    """Collects a point's kept examples batch by batch (used by :class:`PointRunner`).

    :param keep: the scenario's ``keep_examples``.
    :param names: all dataset item names.
    :param with_original: store the originals too (point with ``snr_index == 0``).
    """

    def __init__(self, keep, names: list[str], with_original: bool) -> None:
        self.wanted = set(selected_indices(keep, names))
        self.with_original = with_original
        self.examples: list[dict] = []
        self.seen = 0

    def is_wanted(self, j: int) -> bool:
        """Whether item ``j`` of the batch about to be added is kept."""
        return self.seen + j in self.wanted

    def add_batch(self, items, recon, decoded: list[int] | None = None) -> None:
        """Keep the wanted items of a batch (``items``: dataset items, in order).

        :param decoded: positions in ``items`` that ``recon`` covers, in ``recon``'s
            order (default: all); the runner always decodes wanted items.
        """
        decoded = list(range(len(items))) if decoded is None else list(decoded)
        row = {j: r for r, j in enumerate(decoded)}
        for j, it in enumerate(items):
            index = self.seen + j
            if index in self.wanted:
                r = row[j]
                has_image = r < len(recon.images or [])      # text-only codecs return no image
                ex = {"name": it.name, "dataset_index": index,
                      "png": to_png(recon.images[r]) if has_image else None,
                      "texts": _texts(recon, r, len(decoded))}
                if self.with_original:
                    ex["original_png"] = to_png(it.image)
                self.examples.append(ex)
        self.seen += len(items)

    def finish(self, metrics: dict, codec_params: dict) -> dict | None:
        """The point's ``examples`` entry (None when nothing is kept)."""
        if not self.wanted:
            return None
        for ex in self.examples:
            ex["metrics"] = {m: _finite(v[ex["dataset_index"]]) for m, v in metrics.items()
                             if ex["dataset_index"] < len(v)}
        return {"codec_params": codec_params, "items": self.examples}


def _finite(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def codec_params(codec) -> dict:
    """``codec.params()`` made JSON-able (``{"error": ...}`` if it fails)."""
    try:
        return json.loads(json.dumps(codec.params(), default=str))
    except Exception as exc:  # noqa: BLE001 - recorded, never fails a sweep
        return {"error": f"{type(exc).__name__}: {exc}"}


def write_examples(group, examples: dict) -> None:
    """Write a point's examples (see the module docstring) into ``group`` (an h5py group)."""
    g = group.create_group("examples")
    g.attrs["codec_params_json"] = json.dumps(examples["codec_params"])
    for k, ex in enumerate(examples["items"]):
        e = g.create_group(str(k))
        e.attrs["name"] = ex["name"]
        e.attrs["dataset_index"] = int(ex["dataset_index"])
        e.attrs["metrics_json"] = json.dumps(ex.get("metrics", {}))
        e.attrs["texts_json"] = json.dumps(ex.get("texts", {}))
        if ex.get("png") is not None:
            e.create_dataset("reconstruction_png", data=np.frombuffer(ex["png"], np.uint8))
        if ex.get("original_png") is not None:
            e.create_dataset("original_png", data=np.frombuffer(ex["original_png"], np.uint8))


def read_examples(group) -> dict:
    """Inverse of :func:`write_examples` (``group`` is the point's group)."""
    g = group["examples"]
    items = []
    for k in sorted(g, key=int):
        e = g[k]
        name = e.attrs["name"]
        items.append({"name": name.decode() if isinstance(name, bytes) else str(name),
                      "dataset_index": int(e.attrs["dataset_index"]),
                      "metrics": json.loads(e.attrs["metrics_json"]),
                      "texts": json.loads(e.attrs["texts_json"]),
                      "png": e["reconstruction_png"][()].tobytes() if "reconstruction_png" in e else None,
                      "original_png": e["original_png"][()].tobytes() if "original_png" in e else None})
    return {"codec_params": json.loads(g.attrs["codec_params_json"]), "items": items}
