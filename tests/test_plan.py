"""`semlink plan` / `semlink.links.plan.plan` on synthetic results files built here.

The files hold configurations whose per-image values are chosen so that the
right answer is known: the best within a budget, ties broken by fewer
channel uses, targets nobody reaches, budgets below every configuration,
and files that must not be combined.
"""

import json
import math

import numpy as np
import pytest

from results_builder import IMAGES, SPREAD, write_results
from semlink.links.cli import main
from semlink.links.pareto import mean_ci95, pareto_front, t_quantile_975
from semlink.links.plan import PlanError, load_configs, plan, scheme_of


@pytest.fixture
def results(tmp_path):
    return write_results(tmp_path / "a", [
        ("jpeg2000[symbols_per_image=1000] | bits: ldpc 1/2 qpsk", 1000, {0.0: 13.0, 10.0: 25.0}),
        ("jpeg2000[symbols_per_image=2000] | bits: ldpc 1/2 qpsk", 2000, {0.0: 13.0, 10.0: 28.0}),
        ("jpeg2000[symbols_per_image=2000] | bits: ldpc 1/3 qpsk", 2000, {0.0: 22.0, 10.0: 27.0}),
        ("deepjscc[ratio=0.0833]", 1500, {0.0: 20.0, 10.0: 26.0}),
        ("big", 4000, {0.0: 24.0, 10.0: 31.0}),
    ])


def rows(table):
    return {(r["channel"], r["snr_db"]): r for r in table.rows}


def test_best_within_budget_per_snr(results):
    r = rows(plan(results, "psnr", budget=2000))
    assert r[("awgn", 0.0)]["label"] == "jpeg2000[symbols_per_image=2000] | bits: ldpc 1/3 qpsk"
    assert r[("awgn", 10.0)]["label"] == "jpeg2000[symbols_per_image=2000] | bits: ldpc 1/2 qpsk"
    assert r[("awgn", 10.0)]["mean"] == pytest.approx(28.0)
    assert r[("awgn", 10.0)]["candidates"] == 4           # 'big' (4000) is over the budget
    # a smaller budget: deep JSCC (1500) wins at 0 dB, the 1000-symbol setting is worse
    r = rows(plan(results, "psnr", budget=1500))
    assert r[("awgn", 0.0)]["label"] == "deepjscc[ratio=0.0833]"
    assert r[("awgn", 10.0)]["label"] == "deepjscc[ratio=0.0833]"


def test_confidence_interval_from_per_image_values(results):
    row = rows(plan(results, "psnr", budget=4000))[("awgn", 10.0)]
    assert row["label"] == "big" and row["num_images"] == 4
    half = t_quantile_975(3) * np.std(31.0 + SPREAD, ddof=1) / 2
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((31.0 - half, 31.0 + half))


def test_ties_go_to_fewer_channel_uses(tmp_path):
    path = write_results(tmp_path / "t", [
        ("expensive", 3000, {0.0: 20.0, 10.0: 30.0}),
        ("cheap", 2000, {0.0: 20.0, 10.0: 30.0}),
        ("cheapest but worse", 1000, {0.0: 19.0, 10.0: 29.0}),
    ])
    r = rows(plan(path, "psnr", budget=5000))
    assert r[("awgn", 0.0)]["label"] == "cheap"
    assert "tie on 2 configurations" in r[("awgn", 0.0)]["note"]
    # target: equally cheap configurations -> the better metric wins
    path2 = write_results(tmp_path / "t2", [("a", 2000, {0.0: 21.0, 10.0: 30.0}),
                                            ("b", 2000, {0.0: 23.0, 10.0: 30.0}),
                                            ("c", 3000, {0.0: 25.0, 10.0: 30.0})])
    r = rows(plan(path2, "psnr", budget=5000, target=20.0))
    assert r[("awgn", 0.0)]["label"] == "b"


def test_target_picks_cheapest_and_reports_unreachable(results):
    table = plan(results, "psnr", budget=5000, target=26.5)
    r = rows(table)
    # 1500 (26.0) misses; both 2000-symbol settings reach it: the better one (28) wins
    assert r[("awgn", 10.0)]["label"] == "jpeg2000[symbols_per_image=2000] | bits: ldpc 1/2 qpsk"
    assert "2 configurations equally cheap" in r[("awgn", 10.0)]["note"]
    r = rows(plan(results, "psnr", budget=5000, target=26.0))
    assert r[("awgn", 10.0)]["label"] == "deepjscc[ratio=0.0833]"     # reaches it exactly
    assert r[("awgn", 0.0)]["status"] == "unreachable"
    assert "best within budget: big at 24" in r[("awgn", 0.0)]["note"]
    assert r[("awgn", 0.0)]["label"] is None
    # no budget: the target alone
    r = rows(plan(results, "psnr", target=30.0))
    assert r[("awgn", 10.0)]["label"] == "big"


def test_budget_below_every_configuration_is_unmeasured(results):
    r = rows(plan(results, "psnr", budget=999))
    for snr in (0.0, 10.0):
        assert r[("awgn", snr)]["status"] == "unmeasured"
        assert "smallest measured: 1000" in r[("awgn", snr)]["note"]
    r = rows(plan(results, "psnr", budget=100_000))
    assert "larger ones unmeasured" in r[("awgn", 0.0)]["note"]


def test_unmeasured_snr_is_refused_not_interpolated(results):
    with pytest.raises(PlanError, match=r"SNR \[5.0\] dB not measured.*measured: \[0.0, 10.0\]"):
        plan(results, "psnr", budget=2000, snr_db=[5.0])
    assert [r["snr_db"] for r in plan(results, "psnr", budget=2000, snr_db=[10.0]).rows] == [10.0]
    with pytest.raises(PlanError, match="give a budget"):
        plan(results, "psnr")
    with pytest.raises(PlanError, match="metric 'lpips' is in none of the files"):
        plan(results, "lpips", budget=2000)


def test_failed_points_are_excluded_and_said(tmp_path):
    path = write_results(tmp_path / "f", [
        ("hevc[symbols_per_image=1000]", 1000, {0.0: None, 10.0: None}),
        ("jpeg2000[symbols_per_image=1000]", 1000, {0.0: 13.0, 10.0: 25.0})])
    row = rows(plan(path, "psnr", budget=1000))[("awgn", 10.0)]
    assert row["label"] == "jpeg2000[symbols_per_image=1000]"
    assert "1 failed point(s) excluded" in row["note"]


def test_files_combine_when_grids_and_datasets_match(tmp_path, results):
    other = write_results(tmp_path / "b", [("uoisc", 1200, {0.0: 23.0, 10.0: 24.0}),
                                           ("big", 3000, {0.0: 10.0, 10.0: 10.0})])
    r = rows(plan([results, other], "psnr", budget=2000))
    assert r[("awgn", 0.0)]["label"] == "uoisc"
    assert r[("awgn", 0.0)]["source"] == other
    assert r[("awgn", 10.0)]["source"] == results
    # a label in both files is kept apart (the second gets its folder name)
    labels = {c.label for c in load_configs([results, other], "psnr")}
    assert {"big", "big (b)", "uoisc"} <= labels
    r = rows(plan([results, other], "psnr", budget=5000))
    assert (r[("awgn", 10.0)]["label"], r[("awgn", 10.0)]["source"]) == ("big", results)


@pytest.mark.parametrize("kwargs,match", [
    ({"snrs": (0.0, 5.0)}, r"SNR grids differ \(\[0.0, 5.0\] vs \[0.0, 10.0\] dB\)"),
    ({"images": IMAGES[:3]}, r"datasets differ \(3 vs 4 images"),
    ({"resize": 128}, r"dataset policies differ: \{'resize': \('128', '64'\)\}"),
])
def test_mismatched_files_are_a_clear_error(tmp_path, results, kwargs, match):
    other = write_results(tmp_path / "m", [("x", 1000, lambda s, c: 20.0)], **kwargs)
    with pytest.raises(PlanError, match="cannot combine .*" + match):
        plan([results, other], "psnr", budget=2000)


def test_channels_are_planned_separately(tmp_path):
    path = write_results(tmp_path / "c", [
        ("separated", 1000, lambda s, c: 30.0 if c == "awgn" else 13.0),
        ("jscc", 1000, lambda s, c: 25.0)], channels=("awgn", "rayleigh"))
    table = plan(path, "psnr", budget=1000)
    r = rows(table)
    assert r[("awgn", 0.0)]["label"] == "separated"
    assert r[("rayleigh", 0.0)]["label"] == "jscc"
    assert [row["label"] for row in plan(path, "psnr", budget=1000,
                                         channels=["rayleigh"]).rows] == ["jscc", "jscc"]
    assert "| rayleigh | 0 | jscc | 1000 | 25 [" in table.to_markdown()


def test_cli_plan_json_and_table(results, capsys):
    assert main(["plan", results, "--metric", "psnr", "--budget", "2000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["budget"] == 2000 and out["higher_is_better"] is True
    assert [r["label"] for r in out["rows"]] == [
        "jpeg2000[symbols_per_image=2000] | bits: ldpc 1/3 qpsk",
        "jpeg2000[symbols_per_image=2000] | bits: ldpc 1/2 qpsk"]
    assert main(["plan", results, "--budget", "500", "--target", "20"]) == 0
    text = capsys.readouterr().out
    assert "UNMEASURED" in text and "no configuration measured within 500" in text
    assert main(["plan", results]) == 2
    assert "give a budget" in capsys.readouterr().err


def test_lower_is_better_metrics(tmp_path):
    store_path = write_results(tmp_path / "l", [("a", 1000, {0.0: 5.0, 10.0: 5.0}),
                                                ("b", 1000, {0.0: 3.0, 10.0: 3.0})])
    import h5py

    with h5py.File(store_path, "a") as h:          # rename the metric: lower is better
        for g in h["points"].values():
            g["metrics"].move("psnr", "lpips")
    assert rows(plan(store_path, "lpips", budget=1000))[("awgn", 0.0)]["label"] == "b"
    r = rows(plan(store_path, "lpips", budget=1000, target=4.0))
    assert r[("awgn", 0.0)]["label"] == "b"


def test_scheme_strips_only_budget_parameters():
    assert scheme_of("jpeg2000[symbols_per_image=3072] | bits: ldpc 1/3 qpsk") == \
        "jpeg2000 | bits: ldpc 1/3 qpsk"
    assert scheme_of("raw_pixels[bit_depth=4,rate_bpp=0.5]") == "raw_pixels[bit_depth=4]"
    assert scheme_of("deepjscc[ratio=0.1666667]") == "deepjscc"
    assert scheme_of("uoisc") == "uoisc"


def test_pareto_front_of_a_hand_made_set():
    costs = [1, 2, 2, 3, 4, 5, 5, 6]
    values = [10, 9, 12, 12, 15, 14, 15, math.nan]
    # (1,10) on; (2,9) dominated by (1,10); (2,12) on; (3,12) same value, costs more: off;
    # (4,15) on; (5,14) and (5,15) dominated by (4,15); NaN never
    assert pareto_front(costs, values) == [0, 2, 4]
    assert pareto_front(costs, values, higher_is_better=False) == [0, 1]
    assert pareto_front([3, 1, 2], [1, 1, 1]) == [1]
    assert pareto_front([], []) == []
    with pytest.raises(ValueError, match="same length"):
        pareto_front([1, 2], [1])


def test_mean_ci95_against_a_t_table():
    # t_{0.975, 9} = 2.262, t_{0.975, 29} = 2.045, t_{0.975, 120} = 1.980 (standard tables)
    assert t_quantile_975(9) == pytest.approx(2.262, abs=1e-3)
    assert t_quantile_975(29) == pytest.approx(2.045, abs=1e-3)
    assert t_quantile_975(120) == pytest.approx(1.980, abs=1e-3)
    mean, low, high = mean_ci95([1.0, 2.0, 3.0, np.nan])
    assert mean == 2.0 and high - mean == pytest.approx(4.303 / math.sqrt(3))
    assert mean_ci95([5.0]) == (5.0, 5.0, 5.0)
