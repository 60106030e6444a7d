"""Budget plots: fidelity vs channel uses per image, per SNR, and fidelity vs SNR at a budget.

From one or more results files (combined as in :mod:`semlink.links.plan`):

* :func:`plot_fidelity_vs_symbols`: for each requested SNR (Es/N0 per channel
  use) one figure, one panel per channel; x = mean channel uses per image
  (log scale), y = mean metric over images, one curve per **scheme** (a codec
  setting with its budget parameter -- ``symbols_per_image``,
  ``bandwidth_ratio``, ``rate_bpp``, deep JSCC's ``ratio`` -- taken out, so
  the budget axis runs along the curve). The Pareto front of all points of
  the panel (:func:`~semlink.links.pareto.pareto_front`) is drawn on top.
* :func:`plot_metric_vs_snr_at_budget`: y = metric at ``budget`` channel uses
  per image vs SNR, one curve per scheme. A scheme measured at exactly that
  budget is drawn solid with filled markers; otherwise its value is
  **interpolated** linearly in log(channel uses) between its two measured
  settings around the budget and drawn dashed with hollow markers (legend
  says "interpolated"). Budgets outside a scheme's measured range are not
  drawn (never extrapolated).
"""

from __future__ import annotations

import math
from pathlib import Path

from .pareto import pareto_front
from .plan import Config, PlanError, higher_is_better, load_configs

_LABELS = {"psnr": "PSNR [dB]", "ms_ssim": "MS-SSIM", "ssim": "SSIM", "mse": "MSE",
           "lpips": "LPIPS (lower is better)"}
_FAMILY_MAPS = ("Blues", "Oranges", "Greens", "Purples", "Reds", "Greys")
_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
_SNR_TOL = 1e-6
_MODULATIONS = ("bpsk", "qpsk", "psk8", "psk16", "qam16", "qam64", "qam256", "custom")


def _pyplot():
    from semlink.extras import require

    require("matplotlib", "semlink plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _styles(configs: list[Config]) -> dict[str, dict]:
    """scheme -> matplotlib style.

    A colour family per codec; within it, when the labels name a profile
    (``| bits: ldpc 1/3 qpsk``), the modulation picks the line style and the
    code rate the marker and shade, so a 4 x 3 grid stays readable;
    otherwise styles cycle.
    """
    import matplotlib

    families: dict[str, list[str]] = {}
    for c in configs:
        members = families.setdefault(c.codec, [])
        if c.scheme not in members:
            members.append(c.scheme)
    out = {}
    for f, (_codec, schemes) in enumerate(families.items()):
        cmap = matplotlib.colormaps[_FAMILY_MAPS[f % len(_FAMILY_MAPS)]]
        tokens = [_profile_tokens(s) for s in schemes]
        mods = list(dict.fromkeys(t[1] for t in tokens if t[1]))
        rates = list(dict.fromkeys(t[0] for t in tokens if t[0]))
        for j, (scheme, (rate, mod)) in enumerate(zip(schemes, tokens, strict=True)):
            if rate and mod:
                r, m = rates.index(rate), mods.index(mod)
                shade = 0.95 if len(rates) == 1 else 0.4 + 0.55 * r / (len(rates) - 1)
                style = {"linestyle": _STYLES[m % len(_STYLES)],
                         "marker": _MARKERS[r % len(_MARKERS)]}
            else:
                shade = 0.95 if len(schemes) == 1 else 0.45 + 0.5 * j / (len(schemes) - 1)
                style = {"linestyle": _STYLES[j % len(_STYLES)],
                         "marker": _MARKERS[(j // len(_STYLES)) % len(_MARKERS)]}
            out[scheme] = {"color": cmap(shade), **style}
    return out


def _profile_tokens(scheme: str) -> tuple[str | None, str | None]:
    """(rate text, modulation) named by a scheme label's first profile, else Nones."""
    if "|" not in scheme:
        return None, None
    words = scheme.split("|", 1)[1].replace(";", " ").split()
    rate = next((w for w in words if "/" in w or w == "uncoded"), None)
    mod = next((w for w in words if w in _MODULATIONS or w.startswith("pam")), None)
    return rate, mod


def _resolve_snrs(configs: list[Config], snrs) -> list[float]:
    grid = sorted({c.snr_db for c in configs})
    if snrs is None:
        return grid
    out = []
    for s in snrs:
        match = [g for g in grid if abs(g - float(s)) < _SNR_TOL]
        if not match:
            raise PlanError(f"--snr {s}: not measured (plots never interpolate over SNR); "
                            f"measured: {grid}")
        out.append(match[0])
    return out


def plot_fidelity_vs_symbols(paths, metric: str = "psnr", snrs=None, out_dir: str | None = None,
                             channels=None) -> list[str]:
    """One figure per SNR: ``metric`` vs channel uses per image, Pareto front highlighted.

    :param paths: results file(s).  :param metric: metric name.
    :param snrs: Es/N0 values [dB] to plot (each must be measured); `None`: all.
    :param out_dir: folder (default: ``plots/`` next to the first file).
    :param channels: channel labels to show; `None`: all.
    :returns: the files written (PNG and SVG per SNR).
    """
    plt = _pyplot()
    configs, chans = _measured(paths, metric, channels)
    styles = _styles(configs)
    better = higher_is_better(metric)
    out = _out_dir(paths, out_dir)
    written = []
    for snr in _resolve_snrs(configs, snrs):
        fig, axes = plt.subplots(1, len(chans), figsize=(5.2 * len(chans) + 2.8, 4.6),
                                 squeeze=False, sharey=True)
        for ax, ch in zip(axes[0], chans, strict=True):
            here = [c for c in configs if c.channel == ch and abs(c.snr_db - snr) < _SNR_TOL]
            for scheme in dict.fromkeys(c.scheme for c in here):
                pts = sorted((c.symbols_mean, c.mean) for c in here if c.scheme == scheme)
                ax.plot(*zip(*pts, strict=True), label=scheme, markersize=4, linewidth=1.2, **styles[scheme])
            front = pareto_front([c.symbols_mean for c in here], [c.mean for c in here], better)
            if front:
                fx = [here[i].symbols_mean for i in front]
                fy = [here[i].mean for i in front]
                ax.plot(fx, fy, color="black", linewidth=3, alpha=0.35, zorder=5,
                        label="Pareto front")
                ax.plot(fx, fy, linestyle="none", marker="o", markersize=10, markerfacecolor="none",
                        markeredgecolor="black", zorder=6)
            ax.set_xscale("log")
            ax.set_xlabel("channel uses per image [complex symbols]")
            ax.set_title(f"{ch}, Es/N0 = {snr:g} dB")
            ax.grid(True, which="both", alpha=0.3)
        axes[0][0].set_ylabel(_LABELS.get(metric, metric))
        handles, labels = _legend_entries(axes[0])
        if handles:
            fig.legend(handles, labels, loc="center right", fontsize=6, frameon=False)
        fig.tight_layout(rect=(0, 0, 1 - 2.8 / (5.2 * len(chans) + 2.8), 1))
        written += _save(fig, out / f"{metric}_vs_symbols_snr{_snr_tag(snr)}", plt)
    return written


def interpolate_at_budget(points: list[tuple[float, float]], budget: float
                          ) -> tuple[float, bool] | None:
    """A scheme's metric at ``budget`` from its measured (channel uses, metric) points.

    :returns: ``(value, interpolated)``; ``interpolated`` is False when a point
        sits exactly at the budget (within 0.5 %). `None` when the budget is
        outside the measured range (never extrapolated).
    Notes: linear in log(channel uses) between the two neighbours.
    """
    pts = sorted(p for p in points if not (math.isnan(p[0]) or math.isnan(p[1])))
    for x, y in pts:
        if abs(x - budget) <= 0.005 * budget:
            return y, False
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        if x0 < budget < x1:
            t = (math.log(budget) - math.log(x0)) / (math.log(x1) - math.log(x0))
            return y0 + t * (y1 - y0), True
    return None


def plot_metric_vs_snr_at_budget(paths, budget: float, metric: str = "psnr",
                                 out_dir: str | None = None, channels=None) -> list[str]:
    """``metric`` vs SNR at ``budget`` channel uses per image, interpolation marked.

    :param budget: channel uses (complex symbols) per image.
    :returns: the files written (PNG and SVG).
    """
    if not (isinstance(budget, (int, float)) and budget > 0):
        raise PlanError(f"budget must be > 0 channel uses per image, got {budget!r}")
    plt = _pyplot()
    configs, chans = _measured(paths, metric, channels)
    styles = _styles(configs)
    fig, axes = plt.subplots(1, len(chans), figsize=(5.2 * len(chans) + 2.8, 4.6),
                             squeeze=False, sharey=True)
    drawn = 0
    for ax, ch in zip(axes[0], chans, strict=True):
        here = [c for c in configs if c.channel == ch]
        for scheme in dict.fromkeys(c.scheme for c in here):
            series = []
            for snr in sorted({c.snr_db for c in here if c.scheme == scheme}):
                pts = [(c.symbols_mean, c.mean) for c in here
                       if c.scheme == scheme and abs(c.snr_db - snr) < _SNR_TOL]
                got = interpolate_at_budget(pts, budget)
                if got is not None:
                    series.append((snr, *got))
            if not series:
                continue
            drawn += 1
            interp = any(s[2] for s in series)
            style = dict(styles[scheme])
            ax.plot([s[0] for s in series], [s[1] for s in series],
                    label=scheme + (" (interpolated)" if interp else ""),
                    markersize=4, linewidth=1.2,
                    **{**style, "linestyle": "--" if interp else "-"},
                    markerfacecolor="none" if interp else style["color"])
        ax.set_xlabel("SNR = Es/N0 per channel use [dB]")
        ax.set_title(f"{ch}, {budget:g} channel uses/image")
        ax.grid(True, alpha=0.3)
    if not drawn:
        plt.close(fig)
        raise PlanError(f"budget {budget:g}: outside the measured channel-use range of every "
                        "scheme (nothing is extrapolated)")
    axes[0][0].set_ylabel(_LABELS.get(metric, metric))
    handles, labels = _legend_entries(axes[0])
    fig.legend(handles, labels, loc="center right", fontsize=6, frameon=False)
    fig.tight_layout(rect=(0, 0, 1 - 2.8 / (5.2 * len(chans) + 2.8), 1))
    return _save(fig, _out_dir(paths, out_dir) / f"{metric}_vs_snr_at_{budget:g}_symbols", plt)


def _legend_entries(axes) -> tuple[list, list]:
    """Legend handles of all panels, each label once (the Pareto front last)."""
    seen: dict = {}
    for ax in axes:
        for h, lbl in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(lbl, h)
    labels = [lbl for lbl in seen if lbl != "Pareto front"] + (
        ["Pareto front"] if "Pareto front" in seen else [])
    return [seen[lbl] for lbl in labels], labels


def _snr_tag(snr: float) -> str:
    return f"{snr:g}".replace("-", "m").replace(".", "p")


def _out_dir(paths, out_dir) -> Path:
    first = paths if isinstance(paths, (str, Path)) else paths[0]
    out = Path(out_dir) if out_dir else Path(first).resolve().parent / "plots"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _save(fig, stem: Path, plt) -> list[str]:
    files = [str(stem.with_suffix(".png")), str(stem.with_suffix(".svg"))]
    for f in files:
        fig.savefig(f, dpi=120)
    plt.close(fig)
    return files


def has_budget_axis(configs: list[Config]) -> bool:
    """True when some scheme was measured at several channel-use budgets."""
    counts: dict[tuple, set] = {}
    for c in configs:
        counts.setdefault((c.scheme, c.channel, c.snr_db), set()).add(round(c.symbols_mean))
    return any(len(v) > 1 for v in counts.values())


__all__ = ["plot_fidelity_vs_symbols", "plot_metric_vs_snr_at_budget", "interpolate_at_budget",
           "has_budget_axis"]


def _measured(paths, metric: str, channels) -> tuple[list, list[str]]:
    """The successfully measured configurations and the channel labels to draw (in file order)."""
    configs = [c for c in load_configs(paths, metric) if c.status == "ok"]
    chans = list(dict.fromkeys(c.channel for c in configs))
    if channels is not None:
        chans = [ch for ch in chans if ch in channels]
    return configs, chans
