"""Plots from a results file: every metric vs SNR, and channel uses vs fidelity.

One curve per (codec setting, channel). PNG and SVG. Axis labels carry units
and the SNR convention (Es/N0 per channel use, or Eb/N0).
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
    out = Path(out_dir) if out_dir else Path(path).resolve().parent / "plots"
    out.mkdir(parents=True, exist_ok=True)
    runs = summary["runs"]
    ebno = any("ebno_db" in r for r in runs)
    xlabel = "Eb/N0 [dB]" if ebno else "SNR = Es/N0 per channel use [dB]"
    metrics = sorted({m for r in runs for m in r["metrics"]})
    written = []
    for m in metrics:
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for r in runs:
            x = r["ebno_db"] if ebno else r["snr_db"]
            y = r["metrics"].get(m)
            if not y:
                continue
            pts = [(a, b) for a, b in zip(x, y) if a is not None and b is not None
                   and not (m in _LOG and b <= 0)]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=_legend(r))
        if m in _LOG:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(_LABELS.get(m, m))
        ax.grid(True, which="both", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
        ax.set_title(f"{_LABELS.get(m, m)} vs SNR")
        written += _save(fig, out / f"{m}_vs_snr", plt)
    for m in [m for m in metrics if m not in ("ber", "bler")]:
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for r in runs:
            pts = [(s, v) for s, v in zip(r["symbols_per_image"], r["metrics"][m])
                   if s is not None and v is not None] if m in r["metrics"] else []
            if pts:
                ax.plot(*zip(*pts), marker="o", linestyle="none", label=_legend(r))
        ax.set_xlabel("channel uses per image [complex symbols]")
        ax.set_ylabel(_LABELS.get(m, m))
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
        ax.set_title(f"symbol budget vs {_LABELS.get(m, m)}")
        written += _save(fig, out / f"symbols_vs_{m}", plt)
    return written


def _legend(run: dict) -> str:
    """Legend entry of a run: label / channel, plus the test-model / random-init mark."""
    return f"{run['label']} / {run['channel']}{model_mark(run)}"


def _save(fig, stem: Path, plt) -> list[str]:
    fig.tight_layout()
    files = [str(stem.with_suffix(".png")), str(stem.with_suffix(".svg"))]
    for f in files:
        fig.savefig(f, dpi=120)
    plt.close(fig)
    return files
