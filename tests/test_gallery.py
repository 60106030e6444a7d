"""keep_examples in results.h5 and ``semlink gallery`` (links/examples.py, links/gallery.py)."""

import io

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from semlink.data import ImageDataset
from semlink.links.cli import main
from semlink.links.gallery import build_grids, write_gallery
from semlink.links.results import load_results
from semlink.links.runner import run_sweep
from semlink.links.scenario import ScenarioError, parse_scenario
from semlink.semantic.codec import CODECS
from semlink.semantic.payload import Reconstruction
from semlink.semantic.raw import RawPixels


@CODECS.register("test_texting_pixels")
class TextingPixels(RawPixels):
    """raw_pixels that also returns a received and a corrected text per image (a text stream stand-in).

    Its texts number the images by their position in the decoded batch, so its
    decode is not a per-image function: error-free reuse must not apply.
    """

    deterministic_decode = False

    def params(self):
        return {**super().params(), "captioner": {"ref": "semlink-tiny-test-model", "test_model": True}}

    def decode(self, received):
        rec = super().decode(received)
        n = len(rec.images)
        return Reconstruction(rec.images, texts=[f"text {i}" for i in range(n)], fallback=rec.fallback,
                              extras={"received_text": [f"a dgo {i}" for i in range(n)],
                                      "corrected_text": [f"a dog {i}" for i in range(n)]})


def scenario(image_dir, **extra):
    return parse_scenario({
        "dataset": {"path": str(image_dir), "resize": [16, 16], "crop": "center"},
        "codecs": [{"name": "raw_pixels", "label": "raw 4 bit", "params": {"downsample": 2, "bit_depth": 4},
                    "profiles": {"pixels": "ldpc_half"}},
                   {"name": "analog_pixels", "label": "analog", "params": {"downsample": 2}},
                   {"name": "test_texting_pixels", "label": "texting", "params": {"downsample": 2}}],
        "profiles": {"ldpc_half": {"kind": "digital", "code": "ldpc5g", "rate": 0.5, "modulation": "qpsk"}},
        "channels": ["awgn"], "snr_db": [0, 10, 20], "metrics": ["psnr"], **extra})


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory):
    from conftest import make_images

    tmp = tmp_path_factory.mktemp("gallery")
    images = make_images(tmp / "images", count=4)
    out = run_sweep(scenario(images, keep_examples=["img01.png", "img03.png"]), str(tmp / "run"),
                    progress=False)
    return images, out.results


def test_examples_round_trip_bit_exactly_with_their_metrics(kept_run):
    images, results = kept_run
    _, points = load_results(results)
    assert len(points) == 9
    ds = ImageDataset(str(images), resize=[16, 16], crop="center")
    for p in points:
        ex = p["examples"]["items"]
        assert [e["name"] for e in ex] == ["img01.png", "img03.png"]
        for e in ex:
            i = p["images"].index(e["name"])
            assert e["metrics"]["psnr"] == pytest.approx(float(p["metrics"]["psnr"][i]))
            # the original PNG decodes to exactly the 8-bit quantised dataset image
            if p["snr_index"] == 0:
                orig = np.asarray(Image.open(io.BytesIO(e["original_png"])))
                want = (ds[ds.names.index(e["name"])].image * 255).round().to(torch.uint8)
                assert np.array_equal(orig, want.permute(1, 2, 0).numpy())
            else:
                assert e["original_png"] is None
    # stored bytes are exactly what the file holds (no re-encoding on read)
    with h5py.File(results) as h:
        g = h["points"][points[4]["id"]]["examples"]["1"]
        assert g["reconstruction_png"][()].tobytes() == points[4]["examples"]["items"][1]["png"]
    # the reconstruction PNG equals the 8-bit quantised decoder output (digital at 20 dB: exact 4-bit pixels)
    raw20 = next(p for p in points if p["codec_label"] == "raw 4 bit" and p["snr_db"] == 20)
    rec = np.asarray(Image.open(io.BytesIO(raw20["examples"]["items"][0]["png"]))).astype(float) / 255
    assert 10 * np.log10(1 / np.mean((rec - orig_of(ds, "img01.png")) ** 2)) == pytest.approx(
        raw20["examples"]["items"][0]["metrics"]["psnr"], abs=0.05)
    texting = next(p for p in points if p["codec_label"] == "texting")
    assert texting["examples"]["items"][1]["texts"] == {"text": "text 3", "received_text": "a dgo 3",
                                                        "corrected_text": "a dog 3"}


def orig_of(ds, name):
    return ds[ds.names.index(name)].image.permute(1, 2, 0).numpy()


def test_grid_has_one_row_per_scheme_and_original_then_snr_columns(kept_run, tmp_path):
    _, results = kept_run
    grids = build_grids(results)
    assert [g.image for g in grids] == ["img01.png", "img03.png"]
    g = grids[0]
    assert g.columns == ["original", "Es/N0 0 dB", "Es/N0 10 dB", "Es/N0 20 dB"]
    assert [r.label for r in g.rows] == ["raw 4 bit", "analog", "texting"]
    assert [r.flags for r in g.rows] == [[], [], ["TEST MODEL"]]
    assert all(len(r.cells) == 4 and r.cells[0].png is not None for r in g.rows)
    assert g.rows[0].cells[1].caption[0].startswith("PSNR ") and g.rows[0].cells[1].caption[0].endswith(" dB")
    assert any(c.startswith("corrected text: a dog ") for c in g.rows[2].cells[3].caption)
    sub = build_grids(results, snrs=[0, 20], images=["img03.png"])
    assert len(sub) == 1 and sub[0].columns == ["original", "Es/N0 0 dB", "Es/N0 20 dB"]
    assert sub[0].rows[1].cells[0].png is not None
    with pytest.raises(ValueError, match=r"--snr \[5\] not in"):
        build_grids(results, snrs=[5])
    # the command writes a PNG per image and the HTML page
    assert main(["gallery", results, "--snr", "0,10", "--out", str(tmp_path / "g")]) == 0
    png = Image.open(tmp_path / "g" / "gallery_img01.png.png")
    assert png.format == "PNG" and min(png.size) > 200
    page = (tmp_path / "g" / "index.html").read_text()
    assert page.count("<tr>") == 2 * 4 and "TEST MODEL" in page and "a dog 1" in page
    assert len(list((tmp_path / "g" / "cells").glob("*.png"))) == 2 * 3 * 3


def small(image_dir, **extra):
    return parse_scenario({"dataset": {"path": str(image_dir)},
                           "codecs": [{"name": "analog_pixels", "params": {"downsample": 2}}],
                           "channels": ["awgn"], "snr_db": [10], "metrics": ["psnr"], **extra})


def test_run_without_keep_examples_stores_none(tmp_path):
    from conftest import make_images

    images = make_images(tmp_path / "images", count=2)
    out = run_sweep(small(images), str(tmp_path / "run"), progress=False)
    with h5py.File(out.results) as h:
        assert not any("examples" in g for g in h["points"].values())
    with pytest.raises(ValueError, match="no example reconstructions stored; set keep_examples"):
        write_gallery(out.results)
    for bad in (-1, "all", [], [3]):
        with pytest.raises(ScenarioError, match="keep_examples: expected a positive integer"):
            small(images, keep_examples=bad)
    out = run_sweep(small(images, keep_examples=["nope.png"]), str(tmp_path / "bad"), progress=False)
    assert out.failed and "keep_examples: ['nope.png'] not in the dataset" in out.failed[0]["error"]
