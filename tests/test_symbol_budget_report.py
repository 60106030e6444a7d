"""scripts/symbol_budget_report.py's computed findings: the UEP scan, paired gaps, the
planner-consistent 'best within a budget', the budget floors read from error data, and the
dirty-tree refusal."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import symbol_budget_findings as sbf  # noqa: E402
import symbol_budget_report  # noqa: E402
import uep_findings as uf  # noqa: E402

from semlink.links.plan import Config  # noqa: E402


def test_winner_at_needs_a_margin_over_every_other_scheme():
    assert uf.winner_at({"UEP": 20.0, "EEP": 13.2, "single": 13.2}, tie_db=0.25) == "UEP"
    assert uf.winner_at({"UEP": 23.74, "EEP": 23.65, "single": 13.2}, tie_db=0.25) is None
    assert uf.winner_at({"UEP": 23.74, "EEP": 23.65}, tie_db=0.05) == "UEP"
    assert uf.winner_at({"UEP": None, "EEP": 13.0}) is None
    with pytest.raises(ValueError, match="tie_db"):
        uf.winner_at({"a": 1.0, "b": 0.0}, tie_db=-1)


def test_winner_regions_cut_the_snr_axis_where_the_winner_changes():
    snrs = [-1, 0, 1, 2, 3, 4, 20]
    series = {"UEP": [13.2, 19.7, 20.2, 20.2, 20.2, 23.74, 23.74],
              "EEP": [13.2, 13.2, 15.7, 23.7, 23.7, 23.65, 23.65],
              "single layer": [13.2, 13.2, 12.8, 25.0, 25.0, 25.0, 25.0]}
    regions = uf.winner_regions(snrs, series, tie_db=0.25)
    assert [(r.winner, r.indices) for r in regions] == [
        (None, [0]), ("UEP", [1, 2]), ("single layer", [3, 4, 5, 6])]
    with pytest.raises(ValueError, match="increasing"):
        uf.winner_regions([0, 0], {"a": [1, 2], "b": [1, 2]})
    with pytest.raises(ValueError, match="values for"):
        uf.winner_regions([0, 1], {"a": [1], "b": [1, 2]})


def test_paired_gap_uses_per_image_differences_of_common_images():
    a = {"x": 20.0, "y": 30.0, "z": 25.0, "only_a": 99.0}
    b = {"x": 19.0, "y": 29.0, "z": 24.0}
    mean, low, high = sbf.paired_gap(a, b)
    assert mean == pytest.approx(1.0) and low == pytest.approx(1.0) and high == pytest.approx(1.0)
    with pytest.raises(ValueError, match="share no image"):
        sbf.paired_gap({"x": 1.0}, {"y": 1.0})


def _config(label, mean, symbols, codec="jpeg2000", status="ok", fallback=0.0):
    values = np.array([mean - 1.0, mean + 1.0]) if status == "ok" else np.zeros(0)
    return Config(label=label, scheme=label, codec=codec, params={}, channel="awgn", snr_db=0.0,
                  symbols_mean=symbols, symbols_max=symbols, values=values, status=status,
                  source="r.h5", fallback_rate=fallback)


def test_best_within_follows_the_planner_rule():
    cands = [_config("big", 30.0, 6144), _config("tied_cheaper", 25.0, 3000),
             _config("tied", 25.0, 5000), _config("failed", 0.0, 100, status="failed")]
    assert sbf.best_within(cands, 6144).label == "big"
    assert sbf.best_within(cands, 5000).label == "tied_cheaper"   # tie -> fewest channel uses
    assert sbf.best_within(cands, 2000) is None                   # failed points never count


def test_fraction_and_snr_list():
    assert sbf.fraction(0.0833333) == "1/12" and sbf.fraction(0.6666667) == "2/3"
    assert sbf.snr_list([0, 5, 10]) == "0, 5 and 10 dB" and sbf.snr_list([2.5]) == "2.5 dB"


def test_budget_errors_carry_their_figures_and_floors_read_them():
    """The codec's BudgetError carries the figures; a sweep keeps them through the name of the
    failing image and stores them (error_json); budget_floors reads them, never the message."""
    import torch

    from semlink.links.sweep import _name_failing_image
    from semlink.phy import DigitalChain
    from semlink.semantic import make_codec
    from semlink.semantic.classical import BudgetError

    codec = make_codec("jpeg2000", {"symbols_per_image": 100})
    codec.attach_phy({"bits": DigitalChain(code="ldpc5g", k=512, n=1024, modulation="qpsk",
                                           device="cpu")})
    with pytest.raises(BudgetError) as info:
        codec.encode([torch.rand(3, 32, 48)])
    err = info.value
    assert (err.reason, err.height, err.width, err.budget_symbols) == ("below_one_block", 32, 48, 100)
    assert err.block_channel_uses == 512 and err.budget_bits is None

    class Item:
        name, image = "kodim01.png", torch.zeros(3, 32, 48)

    named = _name_failing_image(codec, [Item()], err)
    assert isinstance(named, BudgetError) and str(named).startswith("image 'kodim01.png' (32x48)")
    assert named.details() == {**err.details(), "image": "kodim01.png"}

    codec = make_codec("jpeg2000", {"rate_bpp": 0.01})
    with pytest.raises(BudgetError) as info:
        codec.encode([torch.rand(3, 64, 96)])
    tight = info.value.details()
    assert tight["reason"] == "lowest_quality_too_big"
    assert tight["needed_bits"] > tight["budget_bits"] == int(0.01 * 64 * 96)

    configs = [_config("jpeg2000[a]", 20.0, 512), _config("jpeg2000[b]", 0.0, 100, status="failed"),
               _config("jpeg2000[c]", 0.0, 200, status="failed")]
    points = [{"codec_label": "jpeg2000[b]", "status": "failed", "error": "ValueError: reworded",
               "error_json": json.dumps(named.details())},
              {"codec_label": "jpeg2000[c]", "status": "failed", "error": "ValueError: reworded",
               "error_json": json.dumps({**tight, "image": "kodim02.png"})}]
    (floor,) = sbf.budget_floors(configs, points, {})
    assert floor.failed == ["jpeg2000[b]", "jpeg2000[c]"] and floor.below_one_block == 1
    assert floor.needs_bits == [tight["needed_bits"]] and floor.failed_budgets == [tight["budget_bits"]]
    assert floor.image_sizes == ["kodim02.png (64x96)"]


def test_report_refuses_a_dirty_tree(tmp_path, monkeypatch, capsys):
    # import what main() imports before patching: a module first imported under the patch
    # would keep the stand-ins below (``from .results import load_results``) for later tests
    import semlink.links.budget_plot  # noqa: F401
    import semlink.links.plan  # noqa: F401
    import semlink.links.plot  # noqa: F401
    import semlink.links.summary  # noqa: F401
    import semlink.provenance

    for name in ("study", "uep"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.h5").write_bytes(b"")
    header = {"env_json": '{"git_revision": "abc"}', "scenario_json": "{}"}
    monkeypatch.setattr(symbol_budget_report, "ROOT", tmp_path)
    monkeypatch.setattr("semlink.links.results.load_results", lambda p: (header, []))
    monkeypatch.setattr("semlink.links.summary.summarize",
                        lambda p: {"env": {"git_revision": "abc"}, "runs": [], "complete": True})
    monkeypatch.setattr(semlink.provenance, "git_revision", lambda: "abc-dirty")
    with pytest.raises(SystemExit):
        symbol_budget_report.main(["--study", str(tmp_path / "study"), "--uep",
                                   str(tmp_path / "uep"), "--docs", str(tmp_path / "docs")])
    assert "dirty" in capsys.readouterr().err
    assert not (tmp_path / "docs").exists()


def test_report_end_to_end_on_tiny_runs(tmp_path):
    """Two tiny runs through the real CLI, then the page: every field filled, the comparison
    table agrees with `semlink plan`, the failed settings and the UEP scan are reported."""
    import yaml

    from conftest import make_images
    from semlink.links.cli import main as semlink
    from semlink.links.plan import plan

    make_images(tmp_path / "images", count=2, sizes=[(64, 96)])
    ldpc = {"kind": "digital", "code": "ldpc5g", "k": 1024, "rate": 0.5, "modulation": "qpsk"}
    base = {"dataset": {"path": str(tmp_path / "images")}, "seeds": [0], "metrics": ["psnr"],
            "device": "cpu"}
    study = {**base, "name": "tiny_budget", "snr_db": [0, 20],
             "codecs": [{"name": "jpeg2000", "grid": {"symbols_per_image": [512, 1536, 3072]},
                         "profiles": {"bits": "ldpc"},
                         "profile_grid": {"bits": {"rate": ["1/3", "5/6"], "modulation": ["qpsk"]}}},
                        {"name": "deepjscc", "params": {"checkpoint": "builtin"},
                         "grid": {"ratio": [0.0833333, 0.1666667]}}],
             "profiles": {"ldpc": ldpc},
             "channels": ["awgn", {"name": "rayleigh", "coherence": {"symbols": 128},
                                   "csi": "perfect", "label": "rayleigh"}]}
    uep = {**base, "name": "tiny_uep", "snr_db": [-1, 3, 20], "channels": ["awgn"],
           "codecs": [{"name": "jpeg2000_layered", "label": "EEP",
                       "params": {"symbols_per_image": 6144, "base_share": 0.5},
                       "profiles": {"base": "half", "refinement": "half"}},
                      {"name": "jpeg2000_layered", "label": "UEP",
                       "params": {"symbols_per_image": 6144, "base_share": 0.5},
                       "profiles": {"base": "third", "refinement": "two_thirds"}},
                      {"name": "jpeg2000", "label": "single", "params": {"symbols_per_image": 6144},
                       "profiles": {"bits": "half"}}],
           "profiles": {"half": ldpc, "third": {**ldpc, "rate": 0.3333333},
                        "two_thirds": {**ldpc, "rate": 0.6666667}}}
    for name, spec in (("study", study), ("uep", uep)):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(spec))
        semlink(["run", str(tmp_path / f"{name}.yaml"), "--out", str(tmp_path / name), "--no-plot"])
    docs = tmp_path / "docs"
    assert symbol_budget_report.main(["--study", str(tmp_path / "study"), "--uep",
                                      str(tmp_path / "uep"), "--docs", str(docs),
                                      "--allow-dirty", "--made-by", "make_results X"]) == 0
    page = (docs / "symbol_budget.md").read_text()
    assert "{" not in page.split("## Numbers")[0]              # every template field filled
    assert "# all three run by: make_results X" in page
    assert (docs / "symbol_budget_uep.png").is_file()
    assert "symbol_budget_psnr_vs_symbols_snr0.png" in page
    assert "below one code block" in page                     # 512 channel uses: the floor
    assert "**UEP wins**" in page and "**EEP wins**" in page
    table = plan(str(tmp_path / "study" / "results.h5"), "psnr", budget=1536)
    section = page.split("within 1,536 channel uses per image")[1].split("\n\n")[1]
    for row in table.rows:
        line = next(ln for ln in section.splitlines()
                    if ln.startswith(f"| {row['channel']} | {row['snr_db']:g} |"))
        if row["label"].startswith("jpeg2000"):
            assert f"{row['mean']:.2f}" in line.split("|")[4]   # best separated = plan's pick
