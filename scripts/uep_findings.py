"""Where unequal error protection wins: the UEP part of docs/results/symbol_budget.md, computed.

Used by ``scripts/symbol_budget_report.py``. Input: ``semlink summary`` of a run of
``scenarios/uep_layered.yaml`` (two ``jpeg2000_layered`` settings, one with equal and one with
unequal protection of its two layers, and a single-layer ``jpeg2000`` reference at the same
channel uses). :func:`winner_regions` scans a table of mean PSNR per SNR for the SNR ranges where
one scheme is ahead of all others by at least a tie margin; the bullets quote those ranges with
the values found there.
"""

from __future__ import annotations

from dataclasses import dataclass

from symbol_budget_findings import payload_bits, profile_spec, snr_list, spec_text

#: a scheme "wins" at an SNR when its mean PSNR beats every other scheme's by at least this [dB]
TIE_DB = 0.25


@dataclass
class Region:
    """Consecutive SNR indices with the same winner (``None``: no scheme ahead by ``tie_db``)."""

    winner: str | None
    indices: list[int]


def winner_at(values: dict[str, float | None], tie_db: float = TIE_DB) -> str | None:
    """The scheme whose value beats every other's by at least ``tie_db``, else `None`.

    :param values: scheme -> mean metric at one SNR (higher is better; `None`: not measured,
        which makes the point undecided).
    """
    if tie_db < 0:
        raise ValueError(f"tie_db must be >= 0 dB, got {tie_db!r}")
    if len(values) < 2 or any(v is None for v in values.values()):
        return None
    ranked = sorted(values.items(), key=lambda kv: kv[1], reverse=True)
    return ranked[0][0] if ranked[0][1] - ranked[1][1] >= tie_db else None


def winner_regions(snrs: list[float], series: dict[str, list[float | None]],
                   tie_db: float = TIE_DB) -> list[Region]:
    """Scan a metric table (one row per scheme, one column per SNR) for who wins where.

    :param snrs: [num_snr] Es/N0 [dB], increasing.
    :param series: scheme -> [num_snr] mean metric (higher is better; `None` where missing).
    :returns: the SNR axis cut into maximal runs of equal :func:`winner_at`.
    """
    for name, vals in series.items():
        if len(vals) != len(snrs):
            raise ValueError(f"series {name!r} has {len(vals)} values for {len(snrs)} SNRs")
    if any(b <= a for a, b in zip(snrs, snrs[1:], strict=False)):
        raise ValueError(f"snrs must be increasing, got {snrs}")
    regions: list[Region] = []
    for i in range(len(snrs)):
        w = winner_at({name: vals[i] for name, vals in series.items()}, tie_db)
        if regions and regions[-1].winner == w:
            regions[-1].indices.append(i)
        else:
            regions.append(Region(w, [i]))
    return regions


def roles(runs: list[dict], scenario: dict) -> dict[str, str]:
    """Run label -> ``UEP`` / ``EEP`` / ``single layer`` from the runs' codecs and profiles."""
    out = {}
    for r in runs:
        if r["codec"] != "jpeg2000_layered":
            out[r["label"]] = "single layer"
            continue
        rates = {float(profile_spec(p["name"], scenario)["rate"]) for p in r["profile"].values()}
        out[r["label"]] = "UEP" if len(rates) > 1 else "EEP"
    return out


def setup_text(runs: list[dict], scenario: dict) -> str:
    """The schemes, their profiles, channel uses and payload bits per stream (computed)."""
    role = roles(runs, scenario)
    seen, parts = set(), []
    for r in runs:
        if r["label"] in seen:
            continue
        seen.add(r["label"])
        params = r["params"]
        total = params["symbols_per_image"]
        if r["codec"] == "jpeg2000_layered":
            base = int(total * params["base_share"])
            shares = {"base": base, "refinement": total - base}
            streams = [f"{s} on {spec_text(profile_spec(r['profile'][s]['name'], scenario))} "
                       f"({shares[s]:,} channel uses, "
                       f"{payload_bits(shares[s], profile_spec(r['profile'][s]['name'], scenario)):,}"
                       " payload bits)" for s in ("base", "refinement")]
            desc = "; ".join(streams)
        else:
            spec = profile_spec(r["profile"]["bits"]["name"], scenario)
            desc = f"one file on {spec_text(spec)} ({payload_bits(total, spec):,} payload bits)"
        parts.append(f"**{role[r['label']]}** (`{r['label']}`, {total:,} channel uses per image): "
                     f"{desc}")
    return "; ".join(parts) + "."


def _series(runs: list[dict], role: dict[str, str], channel: str, key: str) -> dict[str, list]:
    return {role[r["label"]]: (r["metrics"]["psnr"] if key == "psnr" else r[key])
            for r in runs if r["channel"] == channel}


def stream_block_errors(points: list[dict]) -> dict[tuple, dict[str, float]]:
    """(codec label, channel label, Es/N0) -> {stream: failed code blocks / code blocks}."""
    acc: dict[tuple, dict[str, list[int]]] = {}
    for p in points:
        if p["status"] != "ok":
            continue
        key = (p["codec_label"], p["channel_label"], round(float(p["snr_db"]), 6))
        for stream, rep in p["phy"].items():
            tot = acc.setdefault(key, {}).setdefault(stream, [0, 0])
            tot[0] += int(sum(rep["block_errors"]))
            tot[1] += int(sum(rep["blocks"]))
    return {k: {s: e / n for s, (e, n) in v.items() if n} for k, v in acc.items()}


def _span(values: list[float], digits: int = 1) -> str:
    """``12.3`` or ``12.3-14.0``: the range of ``values`` at ``digits`` decimals."""
    lo, hi = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return lo if lo == hi else f"{lo}-{hi}"


ORDER = ("UEP", "EEP", "single layer")


def uep_bullets(runs: list[dict], scenario: dict, blocks: dict[tuple, dict[str, float]],
                tie_db: float = TIE_DB) -> list[str]:
    """Who wins where on each channel, quoting the values there; ties; the cost at the top SNR.

    :param blocks: :func:`stream_block_errors` of the run's points (block error rate per stream,
        quoted for the layered schemes where each scheme wins).
    """
    role = roles(runs, scenario)
    label_of = {(role[r["label"]], r["channel"]): r["label"] for r in runs}
    channels = list(dict.fromkeys(r["channel"] for r in runs))
    snrs = runs[0]["snr_db"]
    names = [n for n in ORDER if n in role.values()]
    scans = {ch: winner_regions(snrs, _series(runs, role, ch, "psnr"), tie_db) for ch in channels}
    bullets = []
    for name in names:
        pieces = []
        for ch in channels:
            psnr = _series(runs, role, ch, "psnr")
            fb = _series(runs, role, ch, "fallback_images")
            n = _series(runs, role, ch, "images_evaluated")
            for reg in (g for g in scans[ch] if g.winner == name):
                idx = reg.indices
                where = (f"{snrs[idx[0]]:g} dB" if len(idx) == 1 else
                         f"{snrs[idx[0]]:g} to {snrs[idx[-1]]:g} dB ({len(idx)} SNRs)")
                vals = ", ".join(f"{o} {_span([psnr[o][i] for i in idx])} dB"
                                 for o in [name, *[o for o in names if o != name]])
                lost = ", ".join(f"{o} {sum(fb[o][i] for i in idx)}/{sum(n[o][i] for i in idx)}"
                                 for o in names)
                bler = []
                for o in names:
                    per = [blocks.get((label_of[(o, ch)], ch, round(snrs[i], 6)), {}) for i in idx]
                    streams = sorted({s for d in per for s in d}, key=["base", "refinement"].index) \
                        if all(set(d) <= {"base", "refinement"} for d in per) else []
                    if streams:
                        bler.append(f"{o} " + ", ".join(
                            f"{s} {_span([100 * d[s] for d in per if s in d], 0)} %"
                            for s in streams))
                pieces.append(f"on {ch} at {where}: {vals}; images lost to the fallback: {lost}"
                              + (f"; failed code blocks: {'; '.join(bler)}" if bler else ""))
        bullets.append(f"**{name[0].upper() + name[1:]} wins** " + (" / ".join(pieces) if pieces else
                                              "nowhere in the measured range") + ".")
    ties = []
    for ch in channels:
        fb = _series(runs, role, ch, "fallback_images")
        n = _series(runs, role, ch, "images_evaluated")
        idx = [i for g in scans[ch] if g.winner is None for i in g.indices]
        if not idx:
            continue
        dead = [i for i in idx if all(fb[o][i] == n[o][i] for o in names)]
        ties.append(f"on {ch} at {snr_list([snrs[i] for i in idx])}"
                    + (f" (at {snr_list([snrs[i] for i in dead])} every scheme loses every image)"
                       if dead else ""))
    if ties:
        bullets.append(f"**No scheme ahead by {tie_db:g} dB or more** " + "; ".join(ties) + ".")
    pair = _pairwise_bullet(runs, role, channels, snrs, ("UEP", "EEP"), tie_db)
    if pair:
        bullets.append(pair)
    top = _top_snr_sentence(runs, role, channels, snrs, tie_db, blocks)
    if top:
        bullets.append(top)
    return bullets


def _pairwise_bullet(runs, role, channels, snrs, pair: tuple[str, str], tie_db) -> str | None:
    """Two schemes alone (e.g. UEP vs EEP at the same channel uses): who is ahead where."""
    a, b = pair
    if not {a, b} <= set(role.values()):
        return None
    parts = []
    for ch in channels:
        psnr = _series(runs, role, ch, "psnr")
        pieces = []
        for reg in winner_regions(snrs, {a: psnr[a], b: psnr[b]}, tie_db):
            idx = reg.indices
            where = (f"{snrs[idx[0]]:g} dB" if len(idx) == 1 else
                     f"{snrs[idx[0]]:g} to {snrs[idx[-1]]:g} dB")
            values = f"{_span([psnr[a][i] for i in idx])} vs {_span([psnr[b][i] for i in idx])} dB"
            head = f"{reg.winner} ahead" if reg.winner else f"within {tie_db:g} dB"
            pieces.append(f"{head} at {where} ({values})")
        parts.append(f"on {ch} " + ", ".join(pieces))
    return (f"**{a} vs {b} alone** (the same channel uses; {a} value vs {b} value): "
            + "; ".join(parts) + ".")


def _top_snr_sentence(runs, role, channels, snrs, tie_db, blocks) -> str | None:
    """At the highest SNR, when no image is lost and no code block fails: the single layer vs
    the layered schemes (a pure source-coding difference there)."""
    gaps = []
    for ch in channels:
        psnr = _series(runs, role, ch, "psnr")
        fb = _series(runs, role, ch, "fallback_images")
        failed = [rate for r in runs if r["channel"] == ch
                  for rate in blocks.get((r["label"], ch, round(snrs[-1], 6)), {}).values()]
        if "single layer" not in psnr or any(v[-1] for v in fb.values()) or any(failed):
            return None
        layered = [o for o in psnr if o != "single layer"]
        gaps.append((ch, [psnr["single layer"][-1] - psnr[o][-1] for o in layered],
                     psnr["single layer"][-1]))
    if not gaps or not all(min(g) >= tie_db for _, g, _ in gaps):
        return None
    lo = min(min(g) for _, g, _ in gaps)
    hi = max(max(g) for _, g, _ in gaps)
    text = (f"**At {snrs[-1]:g} dB, where no code block fails, the single layer beats both "
            f"layered schemes** by {lo:.1f}-{hi:.1f} dB ("
            + ", ".join(f"{ch} {v:.1f} dB" for ch, _, v in gaps)
            + "): splitting a file into a base and a residual costs compression efficiency.")
    scans = [winner_regions(snrs, _series(runs, role, ch, "psnr"), tie_db) for ch in channels]
    if any(g.winner == "UEP" for scan in scans for g in scan):
        text += (" Layering plus UEP buys graceful degradation at low SNR; it is not free at "
                 "high SNR.")
    return text
