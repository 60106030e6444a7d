"""Dataset boxes as the detector of the ``oracle`` split.

Reads object boxes from either a standard COCO instances file
(``{"images": [...], "annotations": [{"image_id", "bbox", "iscrowd"}]}``) or
semlink's sample-data ``annotations.json`` (``{"images": {id: {"file_name",
"width", "height", "objects": [{"bbox", "iscrowd"}]}}}``). Images are
matched by file basename; boxes (COCO ``[x, y, w, h]``) are scaled from the
annotated ``width x height`` to the size of the image actually encoded, which
must keep the aspect ratio (a resize, not a crop). Crowd regions
(``iscrowd: 1``) are skipped.
"""

from __future__ import annotations

import json
import os

from semlink.data import resolve_package_path

from .split import coco_to_xyxy


def _basename(name: str) -> str:
    return os.path.basename(str(name).replace("\\", "/"))


class OracleBoxes:
    """File name -> COCO boxes, scaled to the encoded image size.

    :param path: annotation JSON (see the module docstring); ``data://NAME/...`` names a
        file of a test data set wherever it is found (e.g.
        ``data://coco-sample/annotations.json``), ``pkg://`` a file of a package.
    """

    def __init__(self, path: str) -> None:
        path = os.path.expanduser(resolve_package_path(os.fspath(path)))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"oracle_annotations {path!r} does not exist; give a COCO "
                                    "instances JSON or a semlink annotations.json")
        self.path = path
        with open(path) as f:
            data = json.load(f)
        self.entries: dict[str, dict] = {}
        images = data.get("images")
        if isinstance(images, dict):
            for v in images.values():
                self.entries[_basename(v["file_name"])] = {
                    "size": (int(v["height"]), int(v["width"])),
                    "boxes": [o["bbox"] for o in v.get("objects", []) if not o.get("iscrowd")]}
        elif isinstance(images, list) and "annotations" in data:
            by_id = {im["id"]: _basename(im["file_name"]) for im in images}
            for im in images:
                self.entries[by_id[im["id"]]] = {"size": (int(im["height"]), int(im["width"])),
                                                 "boxes": []}
            for a in data["annotations"]:
                if "bbox" in a and not a.get("iscrowd") and a.get("image_id") in by_id:
                    self.entries[by_id[a["image_id"]]]["boxes"].append(a["bbox"])
        else:
            raise ValueError(f"oracle_annotations {path!r}: expected COCO instances "
                             "({'images': [...], 'annotations': [...]}) or semlink's "
                             "annotations.json ({'images': {id: {..., 'objects': [...]}}})")

    def boxes_for(self, name: str | None, height: int, width: int) -> list[tuple]:
        """``(x0, y0, x1, y1)`` boxes of image ``name`` at the encoded ``height x width``."""
        if name is None:
            raise ValueError("the oracle split needs the image's file name")
        key = _basename(name)
        if key not in self.entries:
            raise KeyError(f"oracle split: image {key!r} has no entry in {self.path!r}")
        e = self.entries[key]
        h0, w0 = e["size"]
        sy, sx = height / h0, width / w0
        if abs(sy - sx) > 0.02 * max(sx, sy) + 1.0 / min(h0, w0):
            raise ValueError(f"oracle split: image {key!r} is {height}x{width} but annotated "
                             f"{h0}x{w0}; boxes only follow a resize that keeps the aspect ratio "
                             "(use dataset resize, not crop)")
        return [coco_to_xyxy(b, sx, sy) for b in e["boxes"]]
