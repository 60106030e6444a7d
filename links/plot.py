"""Plots from a results file: every metric vs SNR, and channel uses vs fidelity.

One curve per (codec setting, channel). PNG and SVG. The x-axis is the
scenario's SNR convention (Es/N0 per channel use, or Eb/N0); each legend entry
gives the other one as an offset (``Eb/N0 = Es/N0 - 1.7 dB``) where it is
defined. Points where images fell back to the codec's fallback are circled in
red, an incomplete run says so in every title, a metric without a single
value gets no figure, and a run whose points all failed is an error.
"""

from __future__ import annotations

from pathlib import Path

from .summary import model_mark, summarize

_LABELS = {"psnr": "PSNR [dB]", "ms_ssim": "MS-SSIM", "ssim": "SSIM", "mse": "MSE",
           "lpips": "LPIPS (lower is better)", "ber": "BER", "bler": "BLER",
           "clip_similarity": "CLIP similarity", "bleu": "BLEU",
           "answer_match": "VQA answer match rate"}
_LOG = {"ber", "bler", "mse"}


def plot_results(path: str, out_dir: str | None = None) -> list[str]:
    """Write the figures of ``results.h5``; return the files written."""
    from semlink.extras import require

    require("matplotlib", "semlink plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarize(path)
    runs = summary["runs"]
    if not any(v is not None for r in runs for ys in r["metrics"].values() for v in ys):
        raise ValueError(f"{path}: no point finished successfully ({summary['points_done']} "
                         "point(s), all failed or none run); nothing to plot - see "
                         "`semlink summary` for the errors")
    out = Path(out_dir) if out_dir else Path(path).resolve().parent / "plots"
    out.mkdir(parents=True, exist_ok=True)
    ebno = summary.get("snr_convention") == "Eb/N0"
    xlabel = "Eb/N0 [dB]" if ebno else "SNR = Es/N0 per channel use [dB]"
    note = _incomplete_note(summary)
    metrics = sorted(m for m in {m for r in runs for m in r["metrics"]}
                     if any(v is not None for r in runs for v in r["metrics"].get(m, [])))
    written = []
    for m in metrics:
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        marked = False
        for r in runs:
            x = r["ebno_db"] if ebno else r["snr_db"]
            y = r["metrics"].get(m)
            if not y:
                continue
            fb = r.get("fallback_images", [0] * len(y))
            pts = [(a, b, f) for a, b, f in zip(x, y, fb, strict=True) if a is not None and b is not None
                   and not (m in _LOG and b <= 0)]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                        label=_legend(r, ebno))
                bad = [p for p in pts if p[2]]
                if bad:
                    marked = True
                    ax.plot([p[0] for p in bad], [p[1] for p in bad], linestyle="none",
                            marker="o", markersize=11, markerfacecolor="none",
                            markeredgecolor="red", label="_nolegend_")
        if m in _LOG:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(_LABELS.get(m, m))
        ax.grid(True, which="both", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
        ax.set_title(f"{_LABELS.get(m, m)} vs SNR{note}")
        if marked:
            fig.text(0.01, 0.01, "red circle: some images fell back (decoder could not decode)",
                     fontsize=7, color="red")
        written += _save(fig, out / f"{m}_vs_snr", plt)
    for m in [m for m in metrics if m not in ("ber", "bler")]:
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for r in runs:
            uses = [(s, v) for s, v in zip(r["symbols_per_image"], r["metrics"][m], strict=True)
                    if s is not None and v is not None] if m in r["metrics"] else []
            if uses:
                ax.plot(*zip(*uses, strict=True), marker="o", linestyle="none", label=_legend(r))
        ax.set_xlabel("channel uses per image [complex symbols]")
        ax.set_ylabel(_LABELS.get(m, m))
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
        ax.set_title(f"symbol budget vs {_LABELS.get(m, m)}{note}")
        written += _save(fig, out / f"symbols_vs_{m}", plt)
    return written


def _incomplete_note(summary: dict) -> str:
    if summary.get("complete", True):
        return ""
    return f"\n(incomplete: {summary['points_done']} of {summary['points_planned']} points)"


def _legend(run: dict, ebno_axis: bool | None = None) -> str:
    """Legend entry of a run: label / channel, plus the test-model / random-init mark and,
    with ``ebno_axis`` given, the other SNR convention as an offset when defined."""
    text = f"{run['label']} / {run['channel']}{model_mark(run)}"
    off = run.get("es_minus_eb_db")
    if off is not None and ebno_axis is not None:
        other = (f"Es/N0 = Eb/N0 {'+' if off >= 0 else '-'} {abs(off):.2f} dB" if ebno_axis else
                 f"Eb/N0 = Es/N0 {'-' if off >= 0 else '+'} {abs(off):.2f} dB")
        text += f" ({other})"
    return text


def _save(fig, stem: Path, plt) -> list[str]:
    fig.tight_layout()
    files = [str(stem.with_suffix(".png")), str(stem.with_suffix(".svg"))]
    for f in files:
        fig.savefig(f, dpi=120)
    plt.close(fig)
    return files
