"""scripts/make_results.py: refuses a dirty tree; an entry writes its document from results."""

import sys
from pathlib import Path

import yaml

from conftest import make_images

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import make_results  # noqa: E402


def test_refuses_a_dirty_tree(monkeypatch, capsys):
    monkeypatch.setattr(make_results, "git_describe", lambda: "v1-3-gabc-dirty")
    called = []
    monkeypatch.setitem(make_results.ENTRIES, "kodak24_baselines", lambda d: called.append(d))
    assert make_results.main(["kodak24_baselines"]) == 2
    assert not called and "dirty" in capsys.readouterr().err


def test_kodak_entry_writes_tables_figures_command_and_revision(tmp_path, monkeypatch):
    make_images(tmp_path / "images", count=2, sizes=[(32, 48)])
    scenario = tmp_path / "small.yaml"
    scenario.write_text(yaml.safe_dump({
        "name": "small", "dataset": {"path": str(tmp_path / "images")},
        "codecs": [{"name": "jpeg2000", "params": {"bandwidth_ratio": 0.5}, "profiles": {"bits": "p"}},
                   {"name": "deepjscc", "params": {"ratio": 1 / 6}}],
        "profiles": {"p": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.5,
                           "modulation": "qpsk"}},
        "channels": ["awgn"], "snr_db": [-5, 20], "metrics": ["psnr", "ms_ssim"]}))
    monkeypatch.setattr(make_results, "KODAK24_SCENARIO", str(scenario))
    monkeypatch.setattr(make_results, "DOCS", tmp_path / "docs")
    monkeypatch.setattr(make_results, "OUT", tmp_path / "out")
    (tmp_path / "docs").mkdir()
    written = make_results.kodak24_baselines("abc123def456")
    # ms_ssim is unavailable on 32x48 images: no table, no figure, no crash
    assert [p.name for p in written] == ["kodak24_baselines.md", "kodak24_psnr_vs_snr.png",
                                         "kodak24_bler_vs_snr.png"]
    doc = written[0].read_text()
    assert "python scripts/make_results.py kodak24_baselines" in doc and "git abc123def456" in doc
    assert "| jpeg2000 / awgn |" in doc and "| deepjscc / awgn |" in doc
    assert "builtin:deepjscc_c16.pt" in doc                  # models from results.h5
    assert "deepjscc / awgn: " in doc                        # reading computed from the data
    assert "## MS-SSIM" not in doc and "![psnr_vs_snr](kodak24_psnr_vs_snr.png)" in doc


def test_generated_stamp_goes_under_the_title_once(tmp_path):
    import results_common

    doc = tmp_path / "page.md"
    doc.write_text("# Title\n\nbody\n")
    results_common.stamp_generated(doc, "text_over_phy", "abc123")
    results_common.stamp_generated(doc, "text_over_phy", "abc123")
    lines = doc.read_text().split("\n")
    assert lines[0] == "# Title"
    assert sum("python scripts/make_results.py text_over_phy" in ln for ln in lines) == 1
    assert "git abc123" in lines[2] and lines[-2] == "body"


def test_written_lists_the_page_and_its_fresh_figures_only(tmp_path, monkeypatch):
    import os
    import time

    import pytest

    monkeypatch.setattr(make_results, "DOCS", tmp_path)
    old = tmp_path / "text_old.png"
    old.write_text("x")
    os.utime(old, (1, 1))
    since = time.time() - 1
    with pytest.raises(SystemExit, match="did not write"):
        make_results.written("text_over_phy.md", since)
    for name in ("text_over_phy.md", "text_over_phy_cer_vs_snr.png", "symbol_budget.png"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in make_results.written("text_over_phy.md", since)] == [
        "text_over_phy.md", "text_over_phy_cer_vs_snr.png"]
