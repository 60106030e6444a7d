"""``semlink gallery``: reconstructions side by side, from the examples in ``results.h5``.

Needs a run whose scenario set ``keep_examples`` (see
:mod:`semlink.links.examples`). For each kept image one grid:

* rows: the schemes (codec setting label; with several channels or seeds,
  ``label / channel [seed s]``), flagged ``[TEST MODEL]`` or ``[RANDOM INIT]``
  when the codec's recorded parameters say so;
* columns: the original first, then the SNR points (Es/N0 [dB], or Eb/N0
  when the scenario swept Eb/N0) in increasing order;
* each cell captioned with the asked metrics (default: PSNR and LPIPS when
  recorded) and, for codecs that return text, the received text.

Writes ``gallery_<image>.png`` per image and ``index.html`` (a table per
image with every cell as its own PNG under ``cells/`` and the full captions).
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from .results import load_results

_UNITS = {"psnr": ("PSNR", "{:.2f} dB"), "lpips": ("LPIPS", "{:.3f}"), "ms_ssim": ("MS-SSIM", "{:.3f}"),
          "ssim": ("SSIM", "{:.3f}"), "clip_similarity": ("CLIP sim", "{:.3f}"),
          "answer_match": ("answer match", "{:.0f}"), "relevance_loss": ("rel. loss", "{:.3f}"),
          "ber": ("BER", "{:.2e}"), "bler": ("BLER", "{:.2f}")}


@dataclass
class Cell:
    """One grid cell: PNG bytes (None: no example at this point) and its caption lines."""

    png: bytes | None
    caption: list[str] = field(default_factory=list)


@dataclass
class Row:
    """One scheme: its label, flags and one cell per column (original first)."""

    label: str
    flags: list[str]
    cells: list[Cell]


@dataclass
class Grid:
    """The gallery of one image: ``columns`` (``"original"`` then SNR labels) and ``rows``."""

    image: str
    columns: list[str]
    rows: list[Row]


def _model_flags(params) -> list[str]:
    """``TEST MODEL`` / ``RANDOM INIT`` when any nested key says so (or a name says test model)."""
    flags = set()

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ("test_model", "is_test_model") and x is True:
                    flags.add("TEST MODEL")
                elif k == "random_init" and x is True:
                    flags.add("RANDOM INIT")
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        elif isinstance(v, str) and "semlink-tiny-test" in v:
            flags.add("TEST MODEL")

    walk(params)
    return sorted(flags)


def format_metric(name: str, value) -> str:
    """``"PSNR 23.41 dB"`` style caption of one metric value (``n/a`` when missing)."""
    label, fmt = _UNITS.get(name, (name, "{:.4g}"))
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return f"{label} n/a"
    return f"{label} {fmt.format(value)}"


def build_grids(path: str, snrs: list[float] | None = None, images: list[str] | None = None,
                metrics: list[str] | None = None) -> list[Grid]:
    """Read ``results.h5`` and arrange its examples into one :class:`Grid` per image.

    :param snrs: SNR points (dB) to show, default all; each must be in the file.
    :param images: kept image names to show, default all kept.
    :param metrics: metric names for the captions, default psnr and lpips when recorded.
    :raises ValueError: no examples in the file, or an asked SNR/image is not there.
    """
    attrs, points = load_results(path)
    points = [p for p in points if p.get("status") == "ok" and p.get("examples")]
    if not points:
        raise ValueError(f"{path}: no example reconstructions stored; set keep_examples: N in the "
                         "scenario and run it again")
    ebno = all(not math.isnan(float(p.get("ebno_db", math.nan))) for p in points)
    axis = "ebno_db" if ebno else "snr_db"
    unit = "Eb/N0" if ebno else "Es/N0"

    def x_of(p):
        return round(float(p[axis]), 6)

    have = sorted({x_of(p) for p in points})
    if snrs is not None:
        missing = [s for s in snrs if round(float(s), 6) not in have]
        if missing:
            raise ValueError(f"--snr {missing} not in {path}; its points are {have} dB")
        have = [s for s in have if s in {round(float(v), 6) for v in snrs}]
    kept = []
    for p in points:
        for ex in p["examples"]["items"]:
            if ex["name"] not in kept:
                kept.append(ex["name"])
    if images:
        not_kept = [n for n in images if n not in kept]
        if not_kept:
            raise ValueError(f"--images {not_kept} were not kept in {path}; kept: {kept}")
        kept = [n for n in kept if n in images]
    if metrics is None:
        recorded = {m for p in points for ex in p["examples"]["items"] for m in ex["metrics"]}
        metrics = [m for m in ("psnr", "lpips") if m in recorded]
    channels = sorted({p["channel_label"] for p in points})
    seeds = sorted({int(p["seed"]) for p in points})
    schemes: dict[tuple, list[dict]] = {}
    for p in points:
        schemes.setdefault((int(p["codec_index"]), p["channel_label"], int(p["seed"])), []).append(p)
    grids = []
    for name in kept:
        rows = []
        for (_ci, ch, seed), pts in sorted(schemes.items()):
            label = pts[0]["codec_label"]
            if len(channels) > 1:
                label += f" / {ch}"
            if len(seeds) > 1:
                label += f" [seed {seed}]"
            original, cells = None, []
            by_x = {x_of(p): p for p in pts}
            for x in have:
                at_x = by_x.get(x)
                ex = next((e for e in at_x["examples"]["items"] if e["name"] == name),
                          None) if at_x else None
                if ex is None:
                    cells.append(Cell(None, ["(not run)" if p is None else "(not kept)"]))
                    continue
                original = original or ex.get("original_png")
                caption = [format_metric(m, ex["metrics"].get(m)) for m in metrics]
                if ex.get("fallback"):
                    caption.append("decoder fallback (cliff effect)")
                shown = set()
                for key in ("queries", "received_text", "received_raw", "corrected_text", "text"):
                    value = ex["texts"].get(key)
                    if value and value not in shown:          # the same text is shown once
                        what = "query" if key == "queries" else key.replace("_", " ")
                        caption.append(f"{what}: {value}")
                        shown.add(value)
                cells.append(Cell(ex["png"], caption))   # png None: a text-only codec
            if original is None:   # the snr_index-0 point may be filtered out by --snr
                original = next((e.get("original_png") for p in pts for e in p["examples"]["items"]
                                 if e["name"] == name and e.get("original_png")), None)
            flags = _model_flags(pts[0]["examples"]["codec_params"]) + \
                _model_flags(json.loads(pts[0].get("params_json") or "{}"))
            rows.append(Row(label, sorted(set(flags)), [Cell(original, ["original"])] + cells))
        grids.append(Grid(name, ["original"] + [f"{unit} {x:g} dB" for x in have], rows))
    return grids


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def render_png(grid: Grid, path: Path, cell_inches: float = 2.2) -> None:
    """Draw ``grid`` with matplotlib into ``path`` (PNG)."""
    from semlink.extras import require

    require("matplotlib", "semlink gallery")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .examples import from_png

    nr, nc = len(grid.rows), len(grid.columns)
    fig, axes = plt.subplots(nr, nc, figsize=(cell_inches * nc + 1.2, (cell_inches + 0.9) * nr),
                             squeeze=False)
    for r, row in enumerate(grid.rows):
        for c, cell in enumerate(row.cells):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if cell.png is not None:
                ax.imshow(from_png(cell.png))
            else:
                ax.set_facecolor("0.9")
            lines = [textwrap.shorten(s, 60) for s in cell.caption if s != "original"]
            ax.set_xlabel("\n".join(textwrap.fill(s, 30) for s in lines), fontsize=7)
            if r == 0:
                ax.set_title(grid.columns[c], fontsize=9)
            if c == 0:
                flags = "".join(f"\n[{f}]" for f in row.flags)
                ax.set_ylabel(textwrap.fill(row.label, 22) + flags, fontsize=8,
                              color="firebrick" if row.flags else "black")
    fig.suptitle(grid.image, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_gallery(path: str, out_dir: str | None = None, snrs: list[float] | None = None,
                  images: list[str] | None = None, metrics: list[str] | None = None) -> list[str]:
    """Write ``gallery_<image>.png`` per kept image, ``cells/`` and ``index.html``; return the files."""
    grids = build_grids(path, snrs, images, metrics)
    out = Path(out_dir) if out_dir else Path(path).parent / "gallery"
    (out / "cells").mkdir(parents=True, exist_ok=True)
    written = []
    page = ["<!doctype html><html><head><meta charset='utf-8'><title>semlink gallery</title>",
            "<style>body{font-family:sans-serif}td,th{vertical-align:top;padding:4px;font-size:12px}"
            "img{width:180px}.flag{color:#b22}</style></head><body>",
            f"<h1>Reconstructions: {html.escape(Path(path).name)}</h1>"]
    for g in grids:
        png = out / f"gallery_{_slug(g.image)}.png"
        render_png(g, png)
        written.append(str(png))
        page.append(f"<h2>{html.escape(g.image)}</h2><p><img style='width:auto;max-width:100%' "
                    f"src='{png.name}'></p><table><tr><th>scheme</th>"
                    + "".join(f"<th>{html.escape(c)}</th>" for c in g.columns) + "</tr>")
        for r, row in enumerate(g.rows):
            flags = "".join(f"<br><span class='flag'>[{html.escape(f)}]</span>" for f in row.flags)
            page.append(f"<tr><th>{html.escape(row.label)}{flags}</th>")
            for c, cell in enumerate(row.cells):
                src = ""
                if cell.png is not None:
                    f = out / "cells" / f"{_slug(g.image)}_r{r}_c{c}.png"
                    f.write_bytes(cell.png)
                    src = f"<img src='cells/{f.name}'><br>"
                page.append(f"<td>{src}{'<br>'.join(html.escape(s) for s in cell.caption)}</td>")
            page.append("</tr>")
        page.append("</table>")
    page.append("</body></html>")
    (out / "index.html").write_text("\n".join(page))
    written.append(str(out / "index.html"))
    return written


def add_parser(sub) -> None:
    p = sub.add_parser("gallery", help="grid of kept example reconstructions (scenario keep_examples)")
    p.add_argument("results", help="results.h5 of a run with keep_examples")
    p.add_argument("--snr", default=None, help="comma-separated SNR points [dB] (default: all)")
    p.add_argument("--images", default=None, help="comma-separated kept image names (default: all)")
    p.add_argument("--metrics", default=None, help="caption metrics, e.g. psnr,lpips (default)")
    p.add_argument("--out", default=None, help="output folder (default: RESULTS_DIR/gallery)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    def split(v):
        return [s.strip() for s in v.split(",") if s.strip()] if v else None

    snrs = None
    if args.snr:
        try:
            snrs = [float(s) for s in split(args.snr)]
        except ValueError:
            raise ValueError(f"--snr: expected comma-separated numbers in dB, got {args.snr!r}") from None
    files = write_gallery(args.results, args.out, snrs, split(args.images), split(args.metrics))
    for f in files:
        print(f)
    return 0
