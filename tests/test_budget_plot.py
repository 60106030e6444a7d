"""Budget plots: one figure per requested SNR, Pareto front drawn, interpolation marked."""

import pytest

from results_builder import write_results
from semlink.links.budget_plot import (
    has_budget_axis,
    interpolate_at_budget,
    plot_fidelity_vs_symbols,
    plot_metric_vs_snr_at_budget,
)
from semlink.links.cli import main
from semlink.links.plan import PlanError, load_configs

SNRS = (0.0, 2.5, 5.0, 10.0)


@pytest.fixture
def results(tmp_path):
    def curve(base):
        return lambda snr, channel: base + snr
    return write_results(tmp_path / "r", [
        ("jpeg2000[symbols_per_image=1000] | bits: ldpc 1/2 qpsk", 1000, curve(10)),
        ("jpeg2000[symbols_per_image=4000] | bits: ldpc 1/2 qpsk", 4000, curve(14)),
        ("deepjscc[ratio=0.0833]", 2000, curve(12)),
        ("deepjscc[ratio=0.1667]", 4000, curve(13)),
    ], snrs=SNRS, channels=("awgn", "rayleigh"))


def test_a_figure_for_every_requested_snr(results, tmp_path):
    out = tmp_path / "plots"
    files = plot_fidelity_vs_symbols(results, "psnr", snrs=[0, 5, 10], out_dir=str(out))
    assert sorted(f.rsplit("/", 1)[1] for f in files) == sorted(
        f"psnr_vs_symbols_snr{tag}.{ext}" for tag in ("0", "5", "10") for ext in ("png", "svg"))
    for f in files:
        assert (out / f.rsplit("/", 1)[1]).stat().st_size > 1000
    every = plot_fidelity_vs_symbols(results, "psnr", out_dir=str(out))
    assert len(every) == 2 * len(SNRS)
    assert any(f.endswith("psnr_vs_symbols_snr2p5.png") for f in every)
    with pytest.raises(PlanError, match=r"--snr 7.0: not measured"):
        plot_fidelity_vs_symbols(results, "psnr", snrs=[7.0], out_dir=str(out))


def test_pareto_front_is_drawn(results, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    saved = []
    original = plt.close
    plt.close = lambda fig=None: saved.append(fig)   # keep the figure to inspect it
    try:
        plot_fidelity_vs_symbols(results, "psnr", snrs=[0], out_dir=str(tmp_path))
    finally:
        plt.close = original
    ax = saved[0].axes[0]
    front = [line for line in ax.lines if line.get_label() == "Pareto front"]
    assert len(front) == 1
    # 1000 -> 10, 2000 -> 12 (deep JSCC), 4000 -> 14 (jpeg2000 beats deep JSCC's 13)
    assert list(front[0].get_xdata()) == [1000, 2000, 4000]
    assert list(front[0].get_ydata()) == pytest.approx([10, 12, 14])
    schemes = {line.get_label() for line in ax.lines}
    assert {"jpeg2000 | bits: ldpc 1/2 qpsk", "deepjscc"} <= schemes
    plt.close("all")


def test_interpolation_is_marked_and_never_extrapolated():
    pts = [(1000.0, 10.0), (4000.0, 14.0)]
    assert interpolate_at_budget(pts, 1000.0) == (10.0, False)
    value, interpolated = interpolate_at_budget(pts, 2000.0)
    assert interpolated and value == pytest.approx(12.0)     # halfway in log(channel uses)
    assert interpolate_at_budget(pts, 8000.0) is None
    assert interpolate_at_budget(pts, 500.0) is None


def test_metric_vs_snr_at_budget(results, tmp_path):
    files = plot_metric_vs_snr_at_budget(results, 2000, "psnr", out_dir=str(tmp_path))
    assert [f.rsplit("/", 1)[1] for f in files] == ["psnr_vs_snr_at_2000_symbols.png",
                                                    "psnr_vs_snr_at_2000_symbols.svg"]
    with pytest.raises(PlanError, match="outside the measured channel-use range"):
        plot_metric_vs_snr_at_budget(results, 100, "psnr", out_dir=str(tmp_path))


def test_plot_command_draws_budget_figures(results, tmp_path, capsys):
    assert has_budget_axis(load_configs(results, "psnr"))
    out = tmp_path / "cli"
    assert main(["plot", results, "--out", str(out), "--snr", "0", "10",
                 "--budget", "3000", "--metric", "psnr"]) == 0
    printed = capsys.readouterr().out
    for name in ("psnr_vs_symbols_snr0.png", "psnr_vs_symbols_snr10.png",
                 "psnr_vs_snr_at_3000_symbols.png", "psnr_vs_snr.png"):
        assert name in printed and (out / name).exists()
    assert main(["plot", results, "--out", str(out), "--snr", "3"]) == 2
    assert "not measured" in capsys.readouterr().err
