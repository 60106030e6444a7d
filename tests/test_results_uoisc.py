"""scripts/results_uoisc.py: the UO-ISC entries of make_results.py, end to end on tiny models."""

import sys
from pathlib import Path

import pytest
import yaml

from conftest import make_images

pytest.importorskip("open_clip", reason="UO-ISC needs pip install 'semlink[vlm]'")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


def test_uoisc_segment_length_entry_trains_resumes_sweeps_and_writes_its_page(tmp_path, monkeypatch):
    """The whole entry on a tiny CLIP and two small images (the real one takes hours)."""
    import json

    import results_common
    import results_uoisc

    make_images(tmp_path / "train", count=3, sizes=[(40, 40)])
    make_images(tmp_path / "eval", count=2, sizes=[(32, 32)], seed=1)
    (tmp_path / "clip.json").write_text(json.dumps(
        {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 2, "width": 16, "patch_size": 8,
                                         "head_width": 8},
         "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1}}))
    train = ["train", "uoisc", "--data", str(tmp_path / "train"), "--clip-model", "semlink-tiny-sl-clip",
             "--clip-config", str(tmp_path / "clip.json"), "--pretrained", "none",
             "--no-text-alignment", "--layers", "1,2", "--dim", "16", "--segment-lengths", "8,16",
             "--codebook-size", "8", "--decoder-channels", "8", "--steps-phase1", "4",
             "--steps-phase2", "0", "--batch-size", "2", "--lr", "1e-3", "--seed", "0",
             "--eval-data", str(tmp_path / "eval")]
    scenario = tmp_path / "sl.yaml"
    ckpt = "out/results/uoisc_segment_length/train/last.pt"
    scenario.write_text(yaml.safe_dump({
        "name": "sl", "dataset": {"path": str(tmp_path / "eval")},
        "codecs": [{"name": "uoisc", "params": {"checkpoint": str(tmp_path / ckpt)},
                    "grid": {"segment_length": [8, 16]}, "profiles": {"indices": "p"},
                    "profile_grid": {"indices": {"rate": ["1/3", "1/2"], "modulation": ["qpsk"]}}},
                   {"name": "jpeg2000", "params": {"rate_bpp": 4.0}, "profiles": {"bits": "p"}}],
        "profiles": {"p": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.5,
                           "modulation": "qpsk"}},
        "channels": ["awgn", {"name": "rayleigh", "coherence": "item", "csi": "perfect",
                              "label": "rayleigh"}],
        "snr_db": [0, 20], "metrics": ["psnr"], "device": "cpu"}))
    monkeypatch.chdir(tmp_path)
    for mod in (results_common, results_uoisc):
        monkeypatch.setattr(mod, "ROOT", tmp_path)
        monkeypatch.setattr(mod, "OUT", tmp_path / "out" / "results")
        monkeypatch.setattr(mod, "DOCS", tmp_path / "docs")
    monkeypatch.setattr(results_uoisc, "SL_DIR", tmp_path / "out" / "results" / "uoisc_segment_length")
    monkeypatch.setattr(results_uoisc, "SL_TRAIN", train)
    monkeypatch.setattr(results_uoisc, "SL_SCENARIO", str(scenario))
    monkeypatch.setattr(results_uoisc, "SL_BUDGETS", (200, 100000))
    monkeypatch.setattr(results_uoisc, "SL_PLAN_BUDGETS", (100000,))
    (tmp_path / "docs").mkdir()
    written = results_uoisc.uoisc_segment_length("abc123def456")
    assert [p.name for p in written] == [
        "uoisc_segment_length.md", "uoisc_segment_length_training.png",
        "uoisc_segment_length_psnr_vs_channel_uses.png", "uoisc_segment_length_ms_ssim_vs_channel_uses.png"]
    doc = written[0].read_text()
    assert "git abc123def456" in doc and "--segment-lengths 8,16" in doc
    assert "| UO-ISC l = 8" in doc and "| UO-ISC l = 16" in doc and "| JPEG2000 4 bpp" in doc
    assert "LDPC 1/3 + qpsk" in doc and "### rayleigh" in doc
    # the planner's rule among UO-ISC only: with a budget below every configuration, none fits
    assert "| awgn | 20 | 200 | none fits | none fits |" in doc
    assert "| awgn | 20 | 100,000 | l = " in doc
    assert "--metric psnr --budget 100000`" in doc
    # a second regeneration resumes the finished training and sweep instead of redoing them
    mtime = (tmp_path / ckpt).stat().st_mtime
    results_uoisc.uoisc_segment_length("abc123def456")
    assert (tmp_path / ckpt).stat().st_mtime == mtime
