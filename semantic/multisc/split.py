"""Splitting an image into parts for Multi-SC (one caption per part).

Boxes are ``(x0, y0, x1, y1)`` in pixels, half-open, origin at the top-left
corner, ``0 <= x0 < x1 <= W`` and ``0 <= y0 < y1 <= H``.

Splitters (all return a :class:`Split`):

* ``grid``: the letter's split (Huang & Li, Multi-SC letter, Alg. 1 step 2):
  ``rows x cols`` tiles (2 x 2 by default) that tile the image exactly.
* ``random``: the feature-fusion paper's "random split" baseline: one random
  horizontal and one random vertical cut (uniform in the middle
  ``[margin, 1 - margin]`` of each side) -> 4 tiles, seeded per image.
* ``detect`` / ``oracle``: boxes from an object detector (``detect``) or the
  dataset's own annotation boxes (``oracle``), then the feature fusion of the
  feature-fusion paper (eq. 9, Alg. 1 step 2): two boxes are linked when the
  Euclidean distance of their centres is **strictly** below ``eps``; linked
  boxes are fused transitively (single-linkage clusters) into their union
  box. ``eps`` is in pixels, or a fraction of the image diagonal when
  ``eps_unit="diagonal"``. Parts are ordered by decreasing area (ties: top,
  then left) and the first ``max_parts`` are kept. With no box at all the
  documented fallback is the whole image as one part (``fallback="whole"``)
  or the 2 x 2 grid (``fallback="grid"``); :attr:`Split.fallback` says so.
* ``none``: the whole image as one part (single-text SC).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

SPLIT_METHODS = ("grid", "random", "detect", "oracle", "none")


@dataclass
class Split:
    """The parts of one image.

    :param boxes: ``[(x0, y0, x1, y1)]`` in pixels, the order of the text streams.
    :param method: the splitter that produced them.
    :param fallback: `None`, or why the documented fallback was used.
    :param stats: splitter statistics (e.g. boxes before / after fusion).
    """

    boxes: list
    method: str
    fallback: str | None = None
    stats: dict = field(default_factory=dict)


def _check_size(height: int, width: int) -> None:
    if int(height) < 1 or int(width) < 1:
        raise ValueError(f"image size must be positive, got height={height}, width={width}")


def grid_split(height: int, width: int, rows: int = 2, cols: int = 2) -> Split:
    """``rows x cols`` tiles covering the image exactly (integer edges, no overlap)."""
    _check_size(height, width)
    if rows < 1 or cols < 1 or rows > height or cols > width:
        raise ValueError(f"grid rows/cols must be in 1..height/width, got rows={rows}, cols={cols} "
                         f"for a {height}x{width} image")
    ys = [round(i * height / rows) for i in range(rows + 1)]
    xs = [round(j * width / cols) for j in range(cols + 1)]
    boxes = [(xs[j], ys[i], xs[j + 1], ys[i + 1]) for i in range(rows) for j in range(cols)]
    return Split(boxes, "grid", stats={"rows": rows, "cols": cols})


def random_split(height: int, width: int, seed: int, margin: float = 0.2) -> Split:
    """One random horizontal and one random vertical cut -> 4 tiles (seeded).

    The cuts are uniform in ``[margin, 1 - margin]`` of the height / width, so
    no tile is thinner than ``margin`` of the side.
    """
    _check_size(height, width)
    if not 0.0 <= margin < 0.5:
        raise ValueError(f"random split margin must be in [0, 0.5), got {margin!r}")
    if height < 2 or width < 2:
        raise ValueError(f"random split needs an image of at least 2x2, got {height}x{width}")
    rng = np.random.default_rng(int(seed) % 2**63)
    cy = int(np.clip(round(rng.uniform(margin, 1 - margin) * height), 1, height - 1))
    cx = int(np.clip(round(rng.uniform(margin, 1 - margin) * width), 1, width - 1))
    boxes = [(0, 0, cx, cy), (cx, 0, width, cy), (0, cy, cx, height), (cx, cy, width, height)]
    return Split(boxes, "random", stats={"cut_x": cx, "cut_y": cy, "seed": int(seed)})


def image_seed(base_seed: int, index: int, key: str = "") -> int:
    """Per-image seed derived from a base seed, the image index and a purpose key."""
    return zlib.crc32(f"{int(base_seed)}/{int(index)}/{key}".encode())


def box_center(box) -> tuple[float, float]:
    x0, y0, x1, y1 = box
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0


def resolve_eps(eps: float, eps_unit: str, height: int, width: int) -> float:
    """The fusion threshold in pixels (``eps_unit``: ``"px"`` or ``"diagonal"``)."""
    if eps_unit not in ("px", "diagonal"):
        raise ValueError(f"eps_unit must be 'px' or 'diagonal', got {eps_unit!r}")
    eps = float(eps)
    if math.isnan(eps) or eps < 0:
        raise ValueError(f"eps must be >= 0 (inf allowed), got {eps!r}")
    return eps * math.hypot(height, width) if eps_unit == "diagonal" else eps


def fuse_boxes(boxes, eps_px: float) -> list[list[int]]:
    """Feature fusion (eq. 9): single-linkage clusters of boxes whose centres are < eps apart.

    :param boxes: sequence of ``(x0, y0, x1, y1)``.
    :param eps_px: threshold in pixels; a pair at distance exactly ``eps_px`` is
        **not** linked (the paper fuses when ``d < eps``). ``0`` never fuses,
        ``inf`` fuses everything into one cluster.
    :returns: clusters as lists of box indices (each sorted, clusters by first index).
    """
    n = len(boxes)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    centres = [box_center(b) for b in boxes]
    for i in range(n):
        for j in range(i + 1, n):
            d = math.hypot(centres[i][0] - centres[j][0], centres[i][1] - centres[j][1])
            if d < eps_px:
                parent[find(j)] = find(i)
    clusters: dict[int, list[int]] = {}
    for i in range(n):
        clusters.setdefault(find(i), []).append(i)
    return sorted(clusters.values(), key=lambda c: c[0])


def union_box(boxes) -> tuple:
    """Smallest box containing all ``boxes``."""
    arr = np.asarray(boxes, dtype=float)
    return (arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max())


def _clip_box(box, height: int, width: int):
    x0, y0, x1, y1 = box
    x0 = int(np.clip(math.floor(x0), 0, width - 1))
    y0 = int(np.clip(math.floor(y0), 0, height - 1))
    x1 = int(np.clip(math.ceil(x1), x0 + 1, width))
    y1 = int(np.clip(math.ceil(y1), y0 + 1, height))
    return (x0, y0, x1, y1)


def _order(boxes) -> list:
    return sorted(boxes, key=lambda b: (-(b[2] - b[0]) * (b[3] - b[1]), b[1], b[0]))


def fusion_split(boxes, height: int, width: int, eps: float, eps_unit: str = "px",
                 max_parts: int = 4, fallback: str = "whole", method: str = "detect") -> Split:
    """Fuse detected / annotated boxes (eq. 9) into at most ``max_parts`` ordered parts.

    :param boxes: ``(x0, y0, x1, y1)`` boxes in pixels (COCO ``[x, y, w, h]`` must be
        converted first, see :func:`coco_to_xyxy`).
    :param eps: fusion threshold (pixels or fraction of the diagonal, see ``eps_unit``).
    :param max_parts: keep the ``max_parts`` largest fused parts (>= 1).
    :param fallback: ``"whole"`` or ``"grid"``: the split used when ``boxes`` is empty.
    """
    _check_size(height, width)
    if not isinstance(max_parts, int) or isinstance(max_parts, bool) or max_parts < 1:
        raise ValueError(f"max_parts must be an int >= 1, got {max_parts!r}")
    if fallback not in ("whole", "grid"):
        raise ValueError(f"fallback must be 'whole' or 'grid', got {fallback!r}")
    eps_px = resolve_eps(eps, eps_unit, height, width)
    boxes = [tuple(float(v) for v in b) for b in boxes]
    for b in boxes:
        if len(b) != 4 or b[2] <= b[0] or b[3] <= b[1]:
            raise ValueError(f"boxes must be (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {b}")
    if not boxes:
        base = grid_split(height, width) if fallback == "grid" else none_split(height, width)
        return Split(base.boxes, method, fallback=f"no boxes: {fallback}",
                     stats={"boxes_in": 0, "clusters": 0, "eps_px": eps_px})
    clusters = fuse_boxes(boxes, eps_px)
    fused = [_clip_box(union_box([boxes[i] for i in c]), height, width) for c in clusters]
    parts = _order(fused)
    return Split(parts[:max_parts], method,
                 stats={"boxes_in": len(boxes), "clusters": len(clusters), "eps_px": eps_px,
                        "dropped": max(0, len(parts) - max_parts)})


def none_split(height: int, width: int) -> Split:
    """The whole image as one part (single-text SC)."""
    _check_size(height, width)
    return Split([(0, 0, int(width), int(height))], "none")


def coco_to_xyxy(bbox, scale_x: float = 1.0, scale_y: float = 1.0) -> tuple:
    """COCO ``[x, y, w, h]`` -> ``(x0, y0, x1, y1)``, optionally rescaled."""
    x, y, w, h = (float(v) for v in bbox)
    return (x * scale_x, y * scale_y, (x + w) * scale_x, (y + h) * scale_y)


def crop(image, box):
    """[3, H, W] tensor -> the [3, y1-y0, x1-x0] crop of ``box``."""
    x0, y0, x1, y1 = (int(v) for v in box)
    return image[:, y0:y1, x0:x1]
