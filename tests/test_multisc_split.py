"""Multi-SC split geometry, fusion (eq. 9), oracle boxes and main-object rule: no weights needed."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import shared_data_dir
from semlink.semantic.multisc import split as S
from semlink.semantic.multisc.oracle import OracleBoxes
from semlink.semantic.multisc.segment import main_object_from_labels


def _coco() -> Path:
    """The COCO sample ($SEMLINK_DATA, ../shared/data or the cache; fails naming the fetch)."""
    return shared_data_dir("coco-sample")


@pytest.mark.parametrize("h,w,rows,cols", [(512, 768, 2, 2), (333, 500, 2, 2), (7, 9, 3, 2)])
def test_grid_tiles_the_image_exactly(h, w, rows, cols):
    sp = S.grid_split(h, w, rows, cols)
    cover = np.zeros((h, w), int)
    for x0, y0, x1, y1 in sp.boxes:
        cover[y0:y1, x0:x1] += 1
    assert len(sp.boxes) == rows * cols and (cover == 1).all()


def test_random_split_is_seeded_and_tiles():
    a, b, c = (S.random_split(480, 640, seed=s) for s in (3, 3, 4))
    assert a.boxes == b.boxes and a.boxes != c.boxes
    cover = np.zeros((480, 640), int)
    for x0, y0, x1, y1 in a.boxes:
        cover[y0:y1, x0:x1] += 1
    assert (cover == 1).all()
    assert 0.2 * 640 <= a.stats["cut_x"] <= 0.8 * 640 and 0.2 * 480 <= a.stats["cut_y"] <= 0.8 * 480


def _box(cx, cy, half=10):
    return (cx - half, cy - half, cx + half, cy + half)


# five hand-made boxes (the paper's i_a..i_e): a-b-c chained within 30 px, d, e far apart
FIVE = [_box(100, 100), _box(125, 100), _box(150, 100), _box(400, 300), _box(100, 400)]


def test_fusion_five_boxes_to_three_single_linkage():
    clusters = S.fuse_boxes(FIVE, eps_px=30)
    assert clusters == [[0, 1, 2], [3], [4]]     # a-c are 50 apart but linked through b
    sp = S.fusion_split(FIVE, 500, 600, eps=30, max_parts=4)
    assert len(sp.boxes) == 3
    assert (90, 90, 160, 110) in sp.boxes          # union of a, b, c
    assert sp.stats["boxes_in"] == 5 and sp.stats["clusters"] == 3


def test_fusion_distance_equal_to_eps_stays_separate():
    two = [_box(100, 100), _box(125, 100)]         # centres exactly 25 apart
    assert S.fuse_boxes(two, 25) == [[0], [1]]
    assert S.fuse_boxes(two, 25.0001) == [[0, 1]]


def test_fusion_eps_zero_and_infinity():
    assert S.fuse_boxes(FIVE, 0) == [[i] for i in range(5)]
    assert S.fuse_boxes(FIVE, math.inf) == [[0, 1, 2, 3, 4]]
    whole = S.fusion_split(FIVE, 500, 600, eps=math.inf)
    assert whole.boxes == [(90, 90, 410, 410)]


def test_fusion_eps_as_fraction_of_diagonal():
    h, w = 300, 400                                # diagonal 500
    assert S.resolve_eps(0.05, "diagonal", h, w) == pytest.approx(25.0)
    sp = S.fusion_split(FIVE, h + 200, w + 200, eps=0.0, eps_unit="diagonal")
    assert len(sp.boxes) == 4                      # 5 parts, the 4 largest kept
    assert sp.stats["dropped"] == 1


def test_fusion_orders_by_area_and_caps_max_parts():
    boxes = [(0, 0, 10, 10), (100, 100, 150, 150), (300, 0, 320, 40)]
    sp = S.fusion_split(boxes, 400, 400, eps=0, max_parts=2)
    assert sp.boxes == [(100, 100, 150, 150), (300, 0, 320, 40)]


def test_fusion_fallback_when_nothing_detected():
    sp = S.fusion_split([], 100, 200, eps=10)
    assert sp.boxes == [(0, 0, 200, 100)] and sp.fallback == "no boxes: whole"
    sp = S.fusion_split([], 100, 200, eps=10, fallback="grid")
    assert len(sp.boxes) == 4 and sp.fallback == "no boxes: grid"


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="eps must be >= 0"):
        S.fusion_split(FIVE, 500, 600, eps=-1)
    with pytest.raises(ValueError, match="eps_unit"):
        S.resolve_eps(1, "percent", 10, 10)
    with pytest.raises(ValueError, match="max_parts"):
        S.fusion_split(FIVE, 500, 600, eps=1, max_parts=0)
    with pytest.raises(ValueError, match="x1 > x0"):
        S.fusion_split([(5, 5, 5, 9)], 50, 50, eps=1)


def test_oracle_split_matches_coco_boxes():
    ann = json.loads((_coco() / "annotations.json").read_text())
    entry = ann["images"]["22192"]                 # bed, dog, handbag
    oracle = OracleBoxes(str(_coco() / "annotations.json"))
    h, w = entry["height"], entry["width"]
    boxes = oracle.boxes_for("000000022192.jpg", h, w)
    want = [S.coco_to_xyxy(o["bbox"]) for o in entry["objects"] if not o["iscrowd"]]
    assert boxes == want and len(boxes) == 3
    sp = S.fusion_split(boxes, h, w, eps=0, max_parts=4, method="oracle")
    expect = sorted((S._clip_box(b, h, w) for b in want),
                    key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
    assert sp.boxes == expect
    half = oracle.boxes_for("000000022192.jpg", h // 2, w // 2)       # dataset resized by 1/2
    assert half[0] == pytest.approx(tuple(v / 2 for v in want[0]), rel=0.01)
    with pytest.raises(ValueError, match="aspect ratio"):
        oracle.boxes_for("000000022192.jpg", h, h)
    with pytest.raises(KeyError, match="no entry"):
        oracle.boxes_for("nope.jpg", h, w)


def test_oracle_reads_standard_coco_instances():
    a = OracleBoxes(str(_coco() / "annotations.json"))
    b = OracleBoxes(str(_coco() / "coco_format" / "instances_val2017_subset.json"))
    for name in ("000000000139.jpg", "000000183709.jpg"):
        assert sorted(a.boxes_for(name, 100, 100 * 640 // 426 if name.endswith("139.jpg") else 75)) \
            == sorted(b.boxes_for(name, 100, 100 * 640 // 426 if name.endswith("139.jpg") else 75))


def test_main_object_rule_largest_component_of_largest_class():
    lab = np.zeros((100, 100), int)
    lab[10:20, 10:20] = 15        # class 15: 100 + 400 px in two components
    lab[50:70, 50:70] = 15
    lab[0:5, 80:100] = 7          # class 7: 100 px
    mo = main_object_from_labels(lab, "fcn", min_fraction=0.01, margin=0.0)
    assert mo.label == 15 and mo.box == (50, 50, 70, 70) and not mo.empty
    assert mo.fraction == pytest.approx(0.04)
    mo = main_object_from_labels(lab, "fcn", margin=0.5)
    assert mo.box == (40, 40, 80, 80)
    assert main_object_from_labels(np.zeros((10, 10), int), "fcn").empty
    assert main_object_from_labels(lab, "fcn", min_fraction=0.5).empty


def test_saliency_extractor_finds_a_salient_square():
    pytest.importorskip("cv2", reason="needs the 'saliency' extra (scripts/test.sh installs it)")
    from semlink.semantic.multisc.segment import make_extractor

    g = torch.Generator().manual_seed(0)
    img = 0.5 + 0.02 * torch.randn(3, 96, 128, generator=g)
    img[:, 30:70, 40:90] = torch.tensor([0.9, 0.1, 0.1]).view(3, 1, 1)
    mo = make_extractor("saliency")(img.clamp(0, 1))
    assert mo.extractor == "saliency" and not mo.empty
    x0, y0, x1, y1 = mo.box
    assert x0 <= 45 and y0 <= 35 and x1 >= 85 and y1 >= 65       # covers the square
    assert (x1 - x0) * (y1 - y0) < 0.8 * 96 * 128                # not the whole image
    with pytest.raises(ValueError, match="weight-free fallback"):
        make_extractor("grabcut")
