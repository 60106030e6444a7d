"""Link adaptation from results files: which configuration to use at each SNR.

:func:`plan` answers, for every channel and SNR point measured, one of two
designer questions from one or more ``results.h5`` files:

* **best within a budget** (``budget`` given, no ``target``): among the
  configurations whose channel uses per image stay within ``budget`` (every
  image: the maximum over images counts), the one with the best mean metric;
* **cheapest reaching a target** (``target`` given): among those (within
  ``budget`` too if one is given), the one with the fewest mean channel uses
  per image whose mean metric reaches ``target``.

Ties (equal mean metric in the first question, equal channel uses in the
second) go to fewer channel uses, then to the better metric, then to the
order in the files. Each answer carries a 95 % confidence interval of the
mean from the per-image values (:func:`~semlink.links.pareto.mean_ci95`).
Nothing is extrapolated: an SNR that was not measured is refused, a budget
below every measured configuration is answered ``unmeasured`` (with the
smallest measured cost), a target no configuration reaches is
``unreachable`` (with the best value measured).

Several files combine (different codecs, runs, machines) when their SNR
grids and datasets (image names, resize/crop policy) are the same; otherwise
:class:`PlanError` says what differs. Configuration labels that repeat
across files get the file's name appended.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .pareto import mean_ci95
from .results import load_results

#: metrics where lower is better (everything else: higher is better)
LOWER_IS_BETTER = {"mse", "lpips", "relevance_loss", "ber", "bler", "cer", "wer"}
#: codec parameters that set a channel-use budget (the budget axis of a scheme)
BUDGET_PARAMS = ("symbols_per_image", "bandwidth_ratio", "rate_bpp", "ratio")
_DATASET_KEYS = ("resize", "crop", "multiple_of", "max_images")
_TIE = 1e-9


class PlanError(ValueError):
    """Results files that cannot be combined or a question that cannot be asked."""


@dataclass
class Config:
    """One configuration measured at one (channel, SNR) point.

    :param label: codec setting label (unique over the combined files).
    :param scheme: the label without its budget parameters (one curve per scheme).
    :param channel: channel label.  :param snr_db: Es/N0 [dB] per channel use.
    :param symbols_mean, symbols_max: channel uses per image (mean / max over images).
    :param values: [num_images x seeds] per-image metric values.
    :param status: ``ok`` or ``failed`` (the point raised; no values).
    """

    label: str
    scheme: str
    codec: str
    params: dict
    channel: str
    snr_db: float
    symbols_mean: float
    symbols_max: float
    values: np.ndarray
    status: str
    source: str
    profiles: dict = field(default_factory=dict)
    fallback_rate: float = 0.0

    @property
    def mean(self) -> float:
        return mean_ci95(self.values)[0]


def scheme_of(label: str) -> str:
    """``jpeg2000[symbols_per_image=3072] | bits: ldpc 1/3 qpsk`` -> ``jpeg2000 | bits: ldpc 1/3 qpsk``."""
    m = re.match(r"^(?P<name>[^\[|]*)(\[(?P<grid>[^\]]*)\])?(?P<rest>.*)$", label)
    if not m or m.group("grid") is None:
        return label
    kept = [item for item in m.group("grid").split(",")
            if item.split("=", 1)[0].strip() not in BUDGET_PARAMS]
    return m.group("name") + (f"[{','.join(kept)}]" if kept else "") + m.group("rest")


def higher_is_better(metric: str) -> bool:
    """Whether larger values of ``metric`` are better (see :data:`LOWER_IS_BETTER`)."""
    return metric not in LOWER_IS_BETTER


def load_configs(paths: list[str] | str, metric: str) -> list[Config]:
    """Every (configuration, channel, SNR) of the files, seeds pooled.

    :raises PlanError: files whose SNR grids or datasets differ, or a metric
        no file measured.
    """
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise PlanError("give at least one results file")
    _check_distinct(paths)
    files = [(str(p), *load_results(p)) for p in paths]
    _check_compatible(files)
    out: list[Config] = []
    seen_labels: dict[str, str] = {}
    found_metric = False
    for path, _attrs, points in files:
        groups: dict[tuple, list[dict]] = {}
        for p in points:
            groups.setdefault((int(p["codec_index"]), int(p["channel_index"]),
                               int(p["snr_index"])), []).append(p)
        rename = {}
        for p in points:
            label = p["codec_label"]
            if label in seen_labels and seen_labels[label] != path and label not in rename:
                rename[label] = f"{label} ({Path(path).parent.name or Path(path).stem})"
        for p in points:
            seen_labels.setdefault(p["codec_label"], path)
        _check_one_point_per_snr(path, groups)
        for key in sorted(groups):
            pts = groups[key]
            ok = [p for p in pts if p["status"] == "ok"]
            first = pts[0]
            label = rename.get(first["codec_label"], first["codec_label"])
            values = [np.asarray(p["metrics"][metric], float) for p in ok if metric in p["metrics"]]
            found_metric |= bool(values)
            symbols = [np.asarray(p["symbols_per_image"], float) for p in ok]
            fallback = [np.asarray(p["fallback"], float) for p in ok]
            sym = np.concatenate(symbols) if symbols else np.array([math.nan])
            out.append(Config(
                label=label, scheme=scheme_of(label), codec=first["codec"],
                params=json.loads(first["params_json"] or "{}"),
                channel=first["channel_label"], snr_db=float(first["snr_db"]),
                symbols_mean=float(np.mean(sym)), symbols_max=float(np.max(sym)),
                values=np.concatenate(values) if values else np.zeros(0),
                status="ok" if values else "failed", source=path,
                profiles=json.loads(first.get("profiles_json") or "{}"),
                fallback_rate=float(np.mean(np.concatenate(fallback))) if fallback else 0.0))
    if not found_metric:
        raise PlanError(f"metric {metric!r} is in none of the files; measured: "
                        f"{', '.join(_metric_names(files)) or 'none'}")
    return out


def _check_distinct(paths: list) -> None:
    """The same results file given twice (same path, another spelling, or a byte-identical
    copy) would enter every configuration twice and read as a tie: refused."""
    from semlink.data_fetch import sha256_file

    seen: dict[str, str] = {}
    for p in paths:
        p = str(p)
        if not os.path.isfile(p):
            continue                      # load_results names a missing file
        key = sha256_file(p)
        if key in seen:
            same = os.path.realpath(p) == os.path.realpath(seen[key])
            raise PlanError(f"results file {p!r} is given twice ("
                            + ("the same file as " if same else "a byte-identical copy of ")
                            + f"{seen[key]!r}); its configurations would enter twice and tie "
                            "with themselves: give each results file once")
        seen[key] = p


def _check_one_point_per_snr(path: str, groups: dict[tuple, list[dict]]) -> None:
    """Refuse a file whose configuration has several points at one SNR (a scenario that
    listed an SNR twice, accepted before scenarios refused it): they would tie."""
    at: dict[tuple, list[int]] = {}
    for (codec, channel, snr_index), pts in groups.items():
        at.setdefault((codec, channel, round(float(pts[0]["snr_db"]), 9)), []).append(snr_index)
    for (codec, channel, snr), indices in sorted(at.items()):
        if len(indices) > 1:
            first = groups[(codec, channel, indices[0])][0]
            raise PlanError(f"{path!r}: {first['codec_label']!r} on {first['channel_label']!r} "
                            f"has {len(indices)} points at {snr:g} dB (its scenario listed that "
                            "SNR more than once); plan needs one point per SNR: rerun with each "
                            "SNR once")


def _metric_names(files) -> list[str]:
    return sorted({m for _, _, pts in files for p in pts if p["status"] == "ok"
                   for m in p["metrics"]})


def _fingerprint(attrs: dict, points: list[dict]) -> tuple[tuple, tuple]:
    scenario = json.loads(attrs.get("scenario_json", "{}"))
    dataset = scenario.get("dataset", {}) or {}
    policy = tuple((k, json.dumps(dataset.get(k))) for k in _DATASET_KEYS)
    images = tuple(sorted({name for p in points for name in p.get("images", [])}))
    snrs = tuple(sorted({round(float(p["snr_db"]), 6) for p in points}))
    return (policy, images), snrs


def _check_compatible(files) -> None:
    ref_path, ref_attrs, ref_points = files[0]
    (ref_policy, ref_images), ref_snrs = _fingerprint(ref_attrs, ref_points)
    for path, attrs, points in files[1:]:
        (policy, images), snrs = _fingerprint(attrs, points)
        if snrs != ref_snrs:
            raise PlanError(f"cannot combine {path!r} with {ref_path!r}: SNR grids differ "
                            f"({list(snrs)} vs {list(ref_snrs)} dB); rerun one of them on the "
                            "other's snr_db")
        if images != ref_images:
            only_a = sorted(set(images) - set(ref_images))[:5]
            only_b = sorted(set(ref_images) - set(images))[:5]
            raise PlanError(f"cannot combine {path!r} with {ref_path!r}: datasets differ "
                            f"({len(images)} vs {len(ref_images)} images; only in the first: "
                            f"{only_a}, only in the second: {only_b})")
        if policy != ref_policy:
            diff = {k: (a, b) for (k, a), (_, b) in zip(policy, ref_policy, strict=False) if a != b}
            raise PlanError(f"cannot combine {path!r} with {ref_path!r}: dataset policies "
                            f"differ: {diff}")


@dataclass
class PlanTable:
    """The answer of :func:`plan`: one row per (channel, SNR).

    ``rows`` are dicts with the keys of :attr:`COLUMNS`; ``status`` is ``ok``,
    ``unreachable`` (target not reached within the budget) or ``unmeasured``
    (no configuration measured within the budget).
    """

    metric: str
    budget: float | None
    target: float | None
    rows: list[dict]
    sources: list[str]

    COLUMNS = ("channel", "snr_db", "status", "label", "scheme", "symbols_per_image",
               "symbols_max", "mean", "ci_low", "ci_high", "num_images", "fallback_rate",
               "candidates", "note",
               "source")

    def to_dict(self) -> dict:
        """JSON-ready (``semlink plan --json``)."""
        return {"metric": self.metric, "higher_is_better": higher_is_better(self.metric),
                "budget": self.budget, "target": self.target, "confidence": 0.95,
                "sources": self.sources, "rows": [_json_row(r) for r in self.rows]}

    def to_pandas(self):
        """The rows as a pandas DataFrame (needs pandas)."""
        from semlink.extras import require

        pd = require("pandas", "PlanTable.to_pandas")
        return pd.DataFrame(self.rows, columns=list(self.COLUMNS))

    def to_markdown(self) -> str:
        """A Markdown table (what docs/results/ shows)."""
        head = ["channel", "Es/N0 [dB]", "configuration", "ch. uses/image",
                f"{self.metric} (95 % CI)", "note"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        def cell(text) -> str:
            return str(text).replace("|", "\\|")

        for r in self.rows:
            if r["status"] == "ok":
                value = f"{r['mean']:.3g} [{r['ci_low']:.3g}, {r['ci_high']:.3g}]"
                lines.append(f"| {cell(r['channel'])} | {r['snr_db']:g} | {cell(r['label'])} | "
                             f"{r['symbols_per_image']:.0f} | {value} | {cell(r['note'])} |")
            else:
                lines.append(f"| {cell(r['channel'])} | {r['snr_db']:g} | *{r['status']}* | - | - "
                             f"| {cell(r['note'])} |")
        return "\n".join(lines)

    def format(self) -> str:
        """Plain-text table for the terminal."""
        cond = []
        if self.budget is not None:
            cond.append(f"budget {self.budget:g} channel uses/image")
        if self.target is not None:
            cond.append(f"target {self.metric} {'>=' if higher_is_better(self.metric) else '<='} "
                        f"{self.target:g}")
        lines = [f"plan: {'best' if self.target is None else 'cheapest'} configuration, "
                 f"{', '.join(cond)}; {self.metric} mean [95 % CI] over images"]
        width = max([len(r["label"] or "") for r in self.rows] + [13])
        lines.append(f"{'channel':<10} {'SNR[dB]':>7}  {'configuration':<{width}} {'sym/img':>9} "
                     f"{self.metric:>9} {'95% CI':>17}  note")
        for r in self.rows:
            if r["status"] == "ok":
                ci = f"[{r['ci_low']:.4g}, {r['ci_high']:.4g}]"
                lines.append(f"{r['channel']:<10} {r['snr_db']:7.2f}  {r['label']:<{width}} "
                             f"{r['symbols_per_image']:9.0f} {r['mean']:9.4g} {ci:>17}  {r['note']}")
            else:
                lines.append(f"{r['channel']:<10} {r['snr_db']:7.2f}  {r['status'].upper():<{width}} "
                             f"{'-':>9} {'-':>9} {'-':>17}  {r['note']}")
        return "\n".join(lines)


def _json_row(row: dict) -> dict:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def plan(paths: list[str] | str, metric: str = "psnr", budget: float | None = None,
         target: float | None = None, snr_db: list[float] | None = None,
         channels: list[str] | None = None) -> PlanTable:
    """Best configuration within a channel-use budget, or cheapest reaching a target.

    :param paths: one or more ``results.h5`` (combined; see module doc).
    :param metric: metric name as recorded (``psnr``, ``ms_ssim``, ``lpips``, ...).
    :param budget: channel uses (complex symbols) per image; `None`: no limit.
    :param target: metric value to reach (``>=``, or ``<=`` for lower-is-better
        metrics); `None`: maximise the metric within ``budget``.
    :param snr_db: restrict to these Es/N0 [dB] (each must have been measured).
    :param channels: restrict to these channel labels (each must exist).
    :returns: a :class:`PlanTable`, rows ordered by channel (as in the files) then SNR.
    :raises PlanError: neither budget nor target, unknown SNR/channel, files that
        cannot be combined.
    """
    if budget is None and target is None:
        raise PlanError("give a budget (channel uses per image), a target, or both")
    for name, value in (("budget", budget), ("target", target)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            raise PlanError(f"{name} must be a finite number, got {value!r}")
    if budget is not None and budget <= 0:
        raise PlanError(f"budget must be > 0 channel uses per image, got {budget!r}")
    configs = load_configs(paths, metric)
    channel_order = list(dict.fromkeys(c.channel for c in configs))
    snr_grid = sorted({c.snr_db for c in configs})
    if channels is not None:
        unknown = [ch for ch in channels if ch not in channel_order]
        if unknown:
            raise PlanError(f"channel(s) {unknown} not in the results; measured: {channel_order}")
        channel_order = [ch for ch in channel_order if ch in channels]
    if snr_db is not None:
        missing = [s for s in snr_db if not any(abs(s - g) < 1e-6 for g in snr_grid)]
        if missing:
            raise PlanError(f"SNR {missing} dB not measured (nothing is interpolated or "
                            f"extrapolated); measured: {snr_grid}")
        snr_grid = [g for g in snr_grid if any(abs(s - g) < 1e-6 for s in snr_db)]
    better = higher_is_better(metric)
    rows = []
    for ch in channel_order:
        for snr in snr_grid:
            here = [c for c in configs if c.channel == ch and abs(c.snr_db - snr) < 1e-6]
            rows.append(_answer(here, ch, snr, budget, target, better))
    return PlanTable(metric, budget, target, rows, [str(p) for p in
                                                     ([paths] if isinstance(paths, (str, Path))
                                                      else paths)])


def _best_of(fits: list[Config], score) -> tuple[Config, list[Config]]:
    """The planner's pick among ``fits``: the best ``score`` (ties within a relative 1e-9:
    fewest mean channel uses); returns ``(pick, tied)``."""
    best = max(score(c) for c in fits)
    tied = [c for c in fits if score(c) >= best - _TIE * max(1.0, abs(best))]
    return min(tied, key=lambda c: c.symbols_mean), tied


def best_within(configs: list[Config], budget: float, better: bool = True) -> Config | None:
    """What ``semlink plan --budget`` picks among ``configs`` (one channel and SNR): the best
    mean of the measured ones using at most ``budget`` channel uses per image (max over
    images), ties to the fewest channel uses; ``None`` when none fits."""
    fits = [c for c in configs if c.status == "ok" and c.symbols_max <= budget + 1e-9]
    if not fits:
        return None
    sign = 1.0 if better else -1.0
    return _best_of(fits, lambda c: sign * c.mean)[0]


def _answer(here: list[Config], channel: str, snr: float, budget, target, better: bool) -> dict:
    row = dict.fromkeys(PlanTable.COLUMNS, None)
    row.update(channel=channel, snr_db=snr, note="", candidates=0)
    measured = [c for c in here if c.status == "ok"]
    failed = [c for c in here if c.status != "ok"]
    fits = [c for c in measured if budget is None or c.symbols_max <= budget + 1e-9]
    row["candidates"] = len(fits)
    notes = [f"{len(failed)} failed point(s) excluded"] if failed else []
    if not fits:
        smallest = min((c.symbols_max for c in measured), default=math.nan)
        row.update(status="unmeasured", note="; ".join(
            [f"no configuration measured within {budget:g} channel uses/image (smallest "
             f"measured: {smallest:.0f})"] + notes))
        return row
    sign = 1.0 if better else -1.0
    stats = {id(c): mean_ci95(c.values) for c in fits}

    def score(c: Config) -> float:
        return sign * stats[id(c)][0]

    if target is None:
        pick, tied = _best_of(fits, score)
        if len(tied) > 1:
            notes.append(f"tie on {len(tied)} configurations: fewest channel uses chosen")
    else:
        reach = [c for c in fits if sign * stats[id(c)][0] >= sign * target - 1e-12]
        if not reach:
            best = max(fits, key=score)
            row.update(status="unreachable", note="; ".join(
                [f"target not reached; best within budget: {best.label} at "
                 f"{stats[id(best)][0]:.4g}"] + notes))
            return row
        cheapest = min(c.symbols_mean for c in reach)
        tied = [c for c in reach if c.symbols_mean <= cheapest + 1e-9]
        pick = max(tied, key=score)
        if len(tied) > 1:
            notes.append(f"{len(tied)} configurations equally cheap: best {'' if better else '(lowest) '}"
                         "metric chosen")
    mean, low, high = stats[id(pick)]
    if pick.fallback_rate > 0:
        notes.insert(0, f"decoder fallback on {pick.fallback_rate:.0%} of images")
    largest = max(c.symbols_max for c in measured)
    if budget is not None and budget > 1.1 * largest and target is None:
        notes.append(f"budget above every measured configuration (largest: "
                     f"{largest:.0f}); larger ones unmeasured")
    row.update(status="ok", label=pick.label, scheme=pick.scheme,
               symbols_per_image=pick.symbols_mean, symbols_max=pick.symbols_max, mean=mean,
               ci_low=low, ci_high=high, num_images=int(np.sum(~np.isnan(pick.values))),
               fallback_rate=pick.fallback_rate,
               note="; ".join(notes), source=pick.source)
    return row
