"""What docs/results/symbol_budget.md says about the symbol-budget study, computed from its results.

Used by ``scripts/symbol_budget_report.py`` (the UEP part is in ``scripts/uep_findings.py``).
Every function takes what was loaded from ``results.h5`` (the plan configurations of
:func:`semlink.links.plan.load_configs`, ``semlink plan`` tables, the raw points) and returns
numbers or the sentences that quote them. A qualitative sentence is returned only when the
numbers it rests on hold; otherwise it is left out or phrased after what was measured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from semlink.links.pareto import mean_ci95
from semlink.links.plan import Config, PlanError, PlanTable, best_within, plan

CODEC_NAMES = {"jpeg2000": "JPEG2000", "hevc_intra": "HEVC-intra", "deepjscc": "deep JSCC",
               "jpeg2000_layered": "two-layer JPEG2000"}
MODULATION_NAMES = {"bpsk": "BPSK", "qpsk": "QPSK", "psk8": "8-PSK", "psk16": "16-PSK",
                    "qam16": "16-QAM", "qam64": "64-QAM", "qam256": "256-QAM"}
MODULATION_BITS = {"bpsk": 1, "qpsk": 2, "psk8": 3, "psk16": 4, "qam16": 4, "qam64": 6,
                   "qam256": 8}
JSCC = "deepjscc"


# ----------------------------------------------------------------------------- naming
def fraction(x: float) -> str:
    """0.3333333 -> ``1/3`` (denominators up to 16)."""
    f = Fraction(float(x)).limit_denominator(16)
    return f"{f.numerator}/{f.denominator}" if f.denominator != 1 else f"{f.numerator}"


def snr_list(snrs) -> str:
    """``[0, 5, 10]`` -> ``0, 5 and 10 dB``."""
    items = [f"{s:g}" for s in snrs]
    text = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return text + " dB"


def profile_spec(name: str, scenario: dict) -> dict:
    """The spec of a profile named in a results file (generated profile-grid names included)."""
    from semlink.links.profile_grid import resolve_generated_profile
    from semlink.links.profiles import DEFAULT_PROFILES

    profiles = {**DEFAULT_PROFILES, **(scenario.get("profiles") or {})}
    spec = profiles.get(name) or resolve_generated_profile(name, profiles)
    if spec is None:
        raise ValueError(f"profile {name!r} is neither in the scenario nor a generated name")
    return spec


def spec_text(spec: dict) -> str:
    """``LDPC 1/3 + QPSK`` (code, rate, modulation of a digital profile)."""
    code = {"ldpc5g": "LDPC", "none": "uncoded"}.get(spec.get("code", "ldpc5g"), spec.get("code"))
    rate = f" {fraction(spec['rate'])}" if spec.get("rate") and code != "uncoded" else ""
    return f"{code}{rate} + {MODULATION_NAMES.get(spec.get('modulation'), spec.get('modulation'))}"


def describe(c: Config, scenario: dict) -> str:
    """Short name of a configuration: ``JPEG2000 + LDPC 1/3 + QPSK (6,144 ch. uses)`` (the
    codec's channel-use budget in brackets) or ``deep JSCC k/n = 1/12``."""
    name = CODEC_NAMES.get(c.codec, c.codec)
    if c.codec == JSCC:
        return f"{name} k/n = {fraction(c.params['ratio'])}"
    streams = [spec_text(profile_spec(p, scenario)) for p in c.profiles.values()]
    budget = c.params.get("symbols_per_image")
    return " + ".join([name, *streams]) + (f" ({budget:,} ch. uses)" if budget else "")


def rate_and_bits(c: Config, scenario: dict) -> tuple[float, int] | None:
    """(code rate, bits per symbol) of a one-stream separated configuration, else `None`."""
    if c.codec == JSCC or len(c.profiles) != 1:
        return None
    spec = profile_spec(next(iter(c.profiles.values())), scenario)
    return float(spec["rate"]), MODULATION_BITS[spec["modulation"]]


# ----------------------------------------------------------------------------- paired values
def values_by_image(points: list[dict], metric: str) -> dict[tuple, dict[str, float]]:
    """(codec label, channel label, Es/N0) -> {image: metric value, mean over seeds}."""
    acc: dict[tuple, dict[str, list]] = {}
    for p in points:
        if p["status"] != "ok" or metric not in p["metrics"]:
            continue
        key = (p["codec_label"], p["channel_label"], round(float(p["snr_db"]), 6))
        per = acc.setdefault(key, {})
        for name, v in zip(p["images"], np.asarray(p["metrics"][metric], float), strict=True):
            per.setdefault(name, []).append(float(v))
    return {k: {n: float(np.mean(v)) for n, v in per.items()} for k, per in acc.items()}


def paired_gap(a: dict[str, float], b: dict[str, float]) -> tuple[float, float, float]:
    """Mean and 95 % CI of ``a - b`` over the images both have (per-image differences)."""
    common = sorted(set(a) & set(b))
    if not common:
        raise ValueError("paired_gap: the two configurations share no image")
    return mean_ci95([a[n] - b[n] for n in common])


# ----------------------------------------------------------------------------- comparisons
@dataclass
class Comparison:
    """The best separated configuration vs deep JSCC at one (channel, SNR) within a budget.

    ``gap`` = separated - deep JSCC [dB]: mean and 95 % CI of the per-image differences;
    ``verdict``: ``separated`` / ``deep JSCC`` when the interval excludes 0, else ``tie``.
    """

    channel: str
    snr_db: float
    budget: float
    pick: str
    separated: Config | None
    jscc: Config | None
    gap: tuple[float, float, float] | None
    verdict: str | None


def compare_at_budget(configs: list[Config], table: PlanTable,
                      paired: dict[tuple, dict[str, float]]) -> list[Comparison]:
    """One :class:`Comparison` per row of a ``semlink plan --budget`` table.

    Deep JSCC is taken at its largest ratio within the budget. When the planner picked a
    separated configuration, the best separated one computed here must be that pick
    (a check that this page and ``semlink plan`` agree).
    """
    out = []
    for row in table.rows:
        here = [c for c in configs if c.channel == row["channel"]
                and abs(c.snr_db - row["snr_db"]) < 1e-6]
        sep = best_within([c for c in here if c.codec != JSCC], table.budget)
        jscc = [c for c in here if c.codec == JSCC and c.status == "ok"
                and c.symbols_max <= table.budget + 1e-9]
        jscc = max(jscc, key=lambda c: c.symbols_mean) if jscc else None
        pick = row["label"] if row["status"] == "ok" else None
        picked = next((c for c in here if c.label == pick), None)
        if picked is not None and picked.codec != JSCC and sep is not None and sep.label != pick:
            raise RuntimeError(f"best separated {sep.label!r} differs from the plan's pick {pick!r}")
        gap = verdict = None
        if sep is not None and jscc is not None:
            key = (row["channel"], round(row["snr_db"], 6))
            gap = paired_gap(paired[(sep.label, *key)], paired[(jscc.label, *key)])
            verdict = "separated" if gap[1] > 0 else "deep JSCC" if gap[2] < 0 else "tie"
        out.append(Comparison(row["channel"], row["snr_db"], table.budget, pick or "-", sep,
                              jscc, gap, verdict))
    return out


def comparison_table(comps: list[Comparison], scenario: dict) -> str:
    """Markdown: planner's pick, best separated and deep JSCC per (channel, SNR), the gap."""
    lines = ["| channel | Es/N0 [dB] | planner's pick | best separated: PSNR [95 % CI] | "
             "deep JSCC: PSNR [95 % CI] | separated - deep JSCC [paired 95 % CI] |",
             "|---|---|---|---|---|---|"]

    def est(c: Config | None) -> str:
        if c is None:
            return "-"
        m, lo, hi = mean_ci95(c.values)
        return f"{describe(c, scenario)}: {m:.2f} [{lo:.2f}, {hi:.2f}]"

    for x in comps:
        pick = next((describe(c, scenario) for c in (x.separated, x.jscc)
                     if c is not None and c.label == x.pick), x.pick)
        gap = "-" if x.gap is None else f"{x.gap[0]:+.2f} [{x.gap[1]:+.2f}, {x.gap[2]:+.2f}]"
        lines.append(f"| {x.channel} | {x.snr_db:g} | {pick} | {est(x.separated)} | "
                     f"{est(x.jscc)} | {gap} |")
    return "\n".join(lines)


def versus_bullets(comps: list[Comparison], scenario: dict) -> list[str]:
    """Per channel: where separation (planner's pick) and deep JSCC each win, with the gaps."""
    bullets = []
    for ch in dict.fromkeys(c.channel for c in comps):
        mine = [c for c in comps if c.channel == ch and c.verdict]
        if not mine:
            continue
        head = _headline({c.verdict for c in mine})
        parts = []
        for budget in dict.fromkeys(c.budget for c in mine):
            rows = [c for c in mine if c.budget == budget]
            jscc = describe(rows[0].jscc, scenario)
            pieces = []
            for verdict, word in (("separated", "separation ahead"), ("deep JSCC", "deep JSCC ahead"),
                                  ("tie", "no difference beyond the paired 95 % interval")):
                sel = [c for c in rows if c.verdict == verdict]
                if not sel:
                    continue
                if verdict == "tie":
                    pieces.append(f"{word} at {snr_list([c.snr_db for c in sel])}")
                    continue
                big = max(sel, key=lambda c: abs(c.gap[0]))
                gaps = sorted(abs(c.gap[0]) for c in sel)
                span = f"{gaps[0]:.1f}" if len(gaps) == 1 else f"{gaps[0]:.1f}-{gaps[-1]:.1f}"
                pieces.append(f"{word} at {snr_list([c.snr_db for c in sel])} by {span} dB "
                              f"(largest at {big.snr_db:g} dB: {describe(big.separated, scenario)} "
                              f"{big.separated.mean:.1f} vs {big.jscc.mean:.1f} dB)")
            parts.append(f"at {budget:,.0f} channel uses per image (vs {jscc}): " + "; ".join(pieces))
        bullets.append(f"**{ch}: {head}.** " + _capital("; ".join(parts)) + ".")
    return bullets


def _headline(verdicts: set[str]) -> str:
    """Headline of a channel's comparisons from the set of verdicts found."""
    if verdicts == {"separated"}:
        return "separation with link adaptation beats deep JSCC at every SNR and budget measured"
    if verdicts == {"deep JSCC"}:
        return "deep JSCC beats separation at every SNR and budget measured"
    if verdicts == {"tie"}:
        return "no difference beyond the paired 95 % interval at any SNR or budget measured"
    if "deep JSCC" not in verdicts:
        return "separation ahead or level, never behind"
    if "separated" not in verdicts:
        return "deep JSCC ahead or level, never behind"
    return "the winner depends on the SNR"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def nothing_decodes_bullet(comps: list[Comparison], configs: list[Config]) -> str | None:
    """Points where every separated configuration within the budget falls back on every image."""
    found = []
    for x in comps:
        sep = [c for c in configs if c.codec != JSCC and c.status == "ok" and c.channel == x.channel
               and abs(c.snr_db - x.snr_db) < 1e-6 and c.symbols_max <= x.budget + 1e-9]
        if sep and x.jscc is not None and all(c.fallback_rate >= 1.0 for c in sep):
            found.append((x, max(c.mean for c in sep)))
    if not found:
        return None
    text = "; ".join(f"{x.channel} at {x.snr_db:g} dB within {x.budget:,.0f} channel uses: "
                     f"{best:.1f} dB (fallback) vs {x.jscc.mean:.1f} dB" for x, best in found)
    return ("**Where separation has nothing to offer, deep JSCC still delivers an image.** "
            "Every separated configuration within the budget falls back on every image, while deep "
            f"JSCC degrades gracefully: {text}.")


def cliff_bullet(configs: list[Config], scenario: dict) -> str | None:
    """The price of separation: a fixed rate/modulation decodes at high SNR and falls off a cliff."""
    snrs = sorted({c.snr_db for c in configs})
    lo, hi = snrs[0], snrs[-1]
    parts, fallback_values = [], []
    for ch in dict.fromkeys(c.channel for c in configs):
        by_label: dict[str, dict[float, Config]] = {}
        for c in configs:
            if c.channel == ch and c.codec != JSCC and c.status == "ok":
                by_label.setdefault(c.label, {})[c.snr_db] = c
        cliff = [lab for lab, d in by_label.items() if lo in d and hi in d
                 and d[hi].fallback_rate == 0 and d[lo].fallback_rate >= 1.0]
        fallback_values += [c.mean for d in by_label.values() for c in d.values()
                            if c.fallback_rate >= 1.0]
        if cliff:
            parts.append(f"on {ch} {len(cliff)} of the {len(by_label)} separated configurations "
                         f"that fit decode every image at {hi:g} dB and none at {lo:g} dB")
    if not parts:
        return None
    fb = float(np.median(fallback_values))
    return ("**The price of separation is that the transmitter must know the SNR:** a fixed code "
            "rate and modulation falls off its cliff: " + "; ".join(parts) + ". A failed decode "
            f"gives the mid-grey fallback image (median PSNR of such points: {fb:.1f} dB; the flat "
            "lines in the figures).")


def saturation_sentence(comps: list[Comparison], training: str | None) -> str | None:
    """Deep JSCC gains under 1 dB from the middle to the highest SNR while the best separated
    configuration gains over 1 dB more (per channel and budget where that holds)."""
    out = []
    for (ch, budget) in dict.fromkeys((c.channel, c.budget) for c in comps):
        rows = sorted((c for c in comps if c.channel == ch and c.budget == budget and c.verdict),
                      key=lambda c: c.snr_db)
        if len(rows) < 3:
            continue
        mid, top = rows[len(rows) // 2], rows[-1]
        d_j, d_s = top.jscc.mean - mid.jscc.mean, top.separated.mean - mid.separated.mean
        if d_j < 1.0 and d_s > d_j + 1.0:
            out.append(f"on {ch} at {budget:,.0f} channel uses from {mid.snr_db:g} to "
                       f"{top.snr_db:g} dB deep JSCC gains {d_j:+.1f} dB, the best separated "
                       f"configuration {d_s:+.1f} dB")
    if not out:
        return None
    return ("**Deep JSCC saturates at high SNR here:** " + "; ".join(out) + "."
            + (f" {training}" if training else ""))


def jscc_training(runs: list[dict]) -> str | None:
    """How the deep JSCC checkpoints of a run were trained, from their metadata in results.h5."""
    seen = {}
    for r in runs:
        prov = r.get("provenance")
        if r["codec"] != JSCC or not isinstance(prov, dict):
            continue
        for m in prov["codec"]["models"]:
            args = ((m.get("extra") or {}).get("training") or {})
            a = args.get("arguments") or {}
            if a:
                seen[fraction(a["ratio"])] = (
                    f"k/n = {fraction(a['ratio'])}: {a.get('snr_db'):g} dB {a.get('channel')}, "
                    f"{args.get('num_train_images')} training images, {a.get('steps'):,} steps")
    if not seen:
        return None
    return ("The shipped checkpoints were trained at one SNR (from their metadata in results.h5: "
            + "; ".join(seen.values()) + "; docs/codecs.md).")


# ----------------------------------------------------------------------------- planner choices
def planner_choices_bullet(table: PlanTable, configs: list[Config], scenario: dict,
                           channel_specs: dict[str, dict]) -> str:
    """What the planner picks per SNR on each channel, and how code rate/modulation move."""
    by_label = {(c.label, c.channel, c.snr_db): c for c in configs}
    per_channel, maxima, block_uses = [], {}, {}
    for ch in dict.fromkeys(r["channel"] for r in table.rows):
        rows = [r for r in table.rows if r["channel"] == ch]
        items, rates, bits = [], [], []
        for r in rows:
            if r["status"] != "ok":
                items.append(f"{r['snr_db']:g} dB {r['status']}")
                continue
            c = by_label[(r["label"], ch, r["snr_db"])]
            items.append(f"{r['snr_db']:g} dB {describe(c, scenario)}")
            rb = rate_and_bits(c, scenario)
            if rb:
                rates.append(rb[0])
                bits.append(rb[1])
                spec = profile_spec(next(iter(c.profiles.values())), scenario)
                block_uses.setdefault(ch, []).append(channel_uses_per_block(spec))
        trend = []
        if (len(rates) > 1 and all(b >= a for a, b in zip(rates, rates[1:], strict=False))
                and rates[-1] > rates[0]):
            trend.append(f"code rate rising with SNR from {fraction(rates[0])} to "
                         f"{fraction(rates[-1])}")
        if len(bits) > 1 and all(b >= a for a, b in zip(bits, bits[1:], strict=False)) and bits[-1] > bits[0]:
            trend.append(f"modulation rising from {bits[0]} to {bits[-1]} bits per symbol")
        if rates:
            maxima[ch] = (max(rates), max(bits))
        per_channel.append(f"on {ch}: " + "; ".join(items)
                           + (f" (separated picks: {', '.join(trend)})" if trend else ""))
    text = (f"**What the planner picks at {table.budget:,.0f} channel uses per image.** "
            + ". ".join(s[0].upper() + s[1:] for s in per_channel) + ".")
    fading = [ch for ch in maxima if channel_specs.get(ch, {}).get("name") not in (None, "awgn")]
    awgn = [ch for ch in maxima if channel_specs.get(ch, {}).get("name") == "awgn"]
    for f in fading:
        for a in awgn:
            if maxima[f][0] < maxima[a][0]:
                text += (f" The highest code rate the planner picks is {fraction(maxima[f][0])} on "
                         f"{f} and {fraction(maxima[a][0])} on {a} (highest modulation order: "
                         f"{maxima[f][1]} bits per symbol on {f}, {maxima[a][1]} on {a}).")
                coh = (channel_specs[f].get("coherence") or {})
                shortest = min(block_uses[f]) if block_uses.get(f) else None
                if isinstance(coh, dict) and coh.get("symbols") and shortest \
                        and coh["symbols"] < shortest:
                    text += (f" On {f} a new fading coefficient comes every {coh['symbols']:,} "
                             f"symbols, within every code block picked there (at least "
                             f"{shortest:,} symbols): a block sees deep fades that only a "
                             "low-rate code bridges.")
    return text


# ----------------------------------------------------------------------------- budget floors
def _chain(spec: dict):
    from semlink.links.profiles import build_chain

    key = json.dumps(spec, sort_keys=True)
    if key not in _CHAINS:
        _CHAINS[key] = build_chain(spec, channel="awgn", seed=0, device="cpu")
    return _CHAINS[key]


_CHAINS: dict[str, object] = {}


def channel_uses_per_block(spec: dict) -> int:
    """Channel uses (complex symbols) of one code block of a digital profile."""
    return _chain(spec).channel_uses_per_block


def payload_bits(symbols: int, spec: dict) -> int:
    """Payload bits that fit ``symbols`` channel uses on a digital profile (whole code blocks,
    CRC deducted: what the separated codecs give their file)."""
    chain = _chain(spec)
    return (int(symbols) // chain.channel_uses_per_block) * chain.config.k_info


@dataclass
class Floor:
    """Why a separated codec's settings fail, and the smallest payload budget that fits."""

    codec: str
    settings: int
    failed: list[str]
    needs_bits: list[int]          # bits its lowest quality needs (failed points' error data)
    failed_budgets: list[int]      # payload budgets [bits] of those failures
    below_one_block: int           # settings whose budget is below one code block
    smallest_fit: tuple[int, Config] | None    # (payload budget [bits], configuration)
    image_sizes: list[str]         # the failing images named by the error data, with their sizes


def budget_floors(configs: list[Config], points: list[dict], scenario: dict) -> list[Floor]:
    """Per separated codec: its failed settings with their recorded reasons, and what fits.

    The reasons are the failed points' error data (``error_json``: the codec's
    :class:`~semlink.semantic.classical.BudgetError` figures), never their messages."""
    errors = {p["codec_label"]: json.loads(p.get("error_json") or "{}")
              for p in points if p["status"] != "ok"}
    out = []
    for codec in dict.fromkeys(c.codec for c in configs if c.codec != JSCC):
        mine = {c.label: c for c in configs if c.codec == codec}
        failed = sorted(lab for lab, c in mine.items() if c.status != "ok")
        needs, budgets, sizes, below = [], [], set(), 0
        for lab in failed:
            err = errors.get(lab, {})
            if err.get("reason") == "lowest_quality_too_big":
                needs.append(int(err["needed_bits"]))
                budgets.append(int(err["budget_bits"]))
                sizes.add((f"{err['image']} " if err.get("image") else "")
                          + f"({err['height']}x{err['width']})")
            elif err.get("reason") == "below_one_block":
                below += 1
        fits = []
        for c in mine.values():
            if c.status == "ok" and "symbols_per_image" in c.params and len(c.profiles) == 1:
                spec = profile_spec(next(iter(c.profiles.values())), scenario)
                fits.append((payload_bits(c.params["symbols_per_image"], spec), c))
        smallest = min(fits, key=lambda t: (t[0], t[1].symbols_mean)) if fits else None
        out.append(Floor(codec, len(mine), failed, needs, budgets, below, smallest, sorted(sizes)))
    return out


def floors_bullet(floors: list[Floor], configs: list[Config], scenario: dict) -> str | None:
    """Budget floors: which codec needs how many bits, and which fits at the smallest budget."""
    if not any(f.failed for f in floors):
        return None
    parts = []
    for f in floors:
        name = CODEC_NAMES.get(f.codec, f.codec)
        if not f.failed:
            parts.append(f"every {name} setting fits")
            continue
        text = (f"{len(f.failed)} of {f.settings} {name} settings "
                + ("does" if len(f.failed) == 1 else "do") + " not fit")
        if f.needs_bits:
            text += (f": its lowest quality needs {min(f.needs_bits):,}"
                     + (f"-{max(f.needs_bits):,}" if max(f.needs_bits) != min(f.needs_bits) else "")
                     + f" bits for {' or '.join(f.image_sizes)}, more than payload budgets "
                     f"of up to {max(f.failed_budgets):,} bits")
        if f.below_one_block:
            text += f" ({f.below_one_block} of them have a budget below one code block)"
        if f.smallest_fit:
            bits, c = f.smallest_fit
            text += (f"; the smallest payload budget that fits is {bits:,} bits "
                     f"({describe(c, scenario)})")
        parts.append(text)
    total = sum(len(f.failed) for f in floors)
    text = (f"**Budget floors are real.** {total} separated settings fail at every SNR (listed "
            "below with `semlink plan`'s exclusion): " + "; ".join(parts) + ".")
    smallest = min((c.params["symbols_per_image"] for c in configs
                    if c.codec != JSCC and "symbols_per_image" in c.params), default=None)
    if smallest is not None:
        counts = []
        for f in floors:
            labels = {c.label: c for c in configs if c.codec == f.codec
                      and c.params.get("symbols_per_image") == smallest}
            ok = sum(1 for c in labels.values() if c.status == "ok")
            counts.append((CODEC_NAMES.get(f.codec, f.codec), ok, len(labels)))
        text += (f" At {smallest:,} channel uses " + " and ".join(
            f"{ok} of {n} {name} settings" for name, ok, n in counts) + " fit")
        if any(ok == 0 for _, ok, _ in counts) and any(ok > 0 for _, ok, _ in counts):
            text += (": with a small budget the question is which codec fits at all, not which "
                     "is better")
        text += "."
    return text


# ----------------------------------------------------------------------------- unmeasured
def unmeasured_bullet(target_table: PlanTable, results: str, scenario: dict,
                      configs: list[Config]) -> str:
    """Target not reached -> ``unreachable``; an SNR between measured ones -> refused (run here)."""
    unreachable = [r for r in target_table.rows if r["status"] == "unreachable"]
    head = (f"At {target_table.budget:,.0f} channel uses and a target of {target_table.target:g} dB "
            f"PSNR")
    if unreachable:
        found = []
        for r in unreachable:
            here = [c for c in configs
                    if c.channel == r["channel"] and abs(c.snr_db - r["snr_db"]) < 1e-6]
            best = best_within(here, target_table.budget)
            found.append(f"{r['channel']} at {r['snr_db']:g} dB (best within the budget: "
                         f"{describe(best, scenario)}, {best.mean:.1f} dB)")
        text = (head + " the planner reports the target as unreachable rather than guessing: "
                + "; ".join(found) + ".")
    else:
        text = head + " every measured (channel, SNR) reaches the target."
    snrs = sorted({c.snr_db for c in configs})
    if len(snrs) > 1:
        mid = (snrs[0] + snrs[1]) / 2
        try:
            plan(results, "psnr", budget=target_table.budget, snr_db=[mid])
        except PlanError as exc:
            text += (f" SNRs between the measured ones are not answered: `semlink plan ... "
                     f"--snr {mid:g}` is refused (\"{str(exc).split(' (')[0]}\").")
    return "**Unmeasured is unmeasured.** " + text


# ----------------------------------------------------------------------------- setup facts
def channel_specs(points: list[dict]) -> dict[str, dict]:
    """Channel label -> its spec as recorded in the points."""
    return {p["channel_label"]: json.loads(p["channel_json"]) for p in points}


def channel_text(label: str, spec: dict) -> str:
    """``rayleigh (independent coefficient every 128 symbols, perfect CSI)``."""
    name = spec.get("name", label)
    extra = []
    coh = spec.get("coherence")
    if isinstance(coh, dict) and "symbols" in coh:
        extra.append("a new coefficient every symbol" if coh["symbols"] == 1 else
                     f"an independent coefficient every {coh['symbols']:,} symbols")
    elif coh:
        extra.append(f"one coefficient per {coh}")
    if spec.get("csi"):
        extra.append(f"CSI {spec['csi']}" if spec["csi"] != "perfect" else "perfect CSI")
    return {"awgn": "AWGN", "rayleigh": "Rayleigh fading"}.get(name, name) + \
        (f" ({', '.join(extra)})" if extra else "")


def ci_half_width(configs: list[Config]) -> tuple[float, float] | None:
    """Median 95 % CI half-width [dB] at the highest SNR over configurations without fallback,
    and that SNR (there the spread is the images' own, not the channel's)."""
    top = max(c.snr_db for c in configs)
    halves = [(hi - lo) / 2 for c in configs if c.snr_db == top and c.status == "ok"
              and c.fallback_rate == 0 for _, lo, hi in [mean_ci95(c.values)]]
    return (float(np.median(halves)), top) if halves else None


def budget_example(configs: list[Config], scenario: dict) -> str | None:
    """The configuration that leaves the largest share of its budget unused."""
    cands = [c for c in configs if c.status == "ok" and c.codec != JSCC
             and "symbols_per_image" in c.params]
    if not cands:
        return None
    c = max(cands, key=lambda c: (1 - c.symbols_max / c.params["symbols_per_image"], -c.snr_db))
    return (f"{c.symbols_max:,.0f} of {c.params['symbols_per_image']:,} for "
            f"{describe(c, scenario)}")
