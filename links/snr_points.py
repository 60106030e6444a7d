"""Bounds on SNR grids given by the user (``semlink ber --ebno-db``, scenario ``snr_db``).

A range ``start:stop:step`` is counted arithmetically before any list is built,
so ``0:100000:0.001`` (10^8 points, which took 17 GB and minutes to refuse) is
refused at once; repeated values (``snr_db: [5, 5]``) are refused too, since a
repeated point is the same computation again and later reads as a "tie".

Only :mod:`math`: importing it costs nothing (the CLI validates before it loads
torch or Sionna).
"""

from __future__ import annotations

import math

#: Most SNR points one sweep may ask for (a 0.01 dB step over 100 dB).
MAX_SNR_POINTS = 10_000


def range_count(start: float, stop: float, step: float) -> int:
    """Number of points of ``start, start+step, ...`` up to ``stop`` (included within 1e-9
    of a step), the count :func:`semlink.phy.snr.db_range` builds.

    :raises ValueError: the step is 0 or does not lead from ``start`` to ``stop``.
    """
    if step == 0:
        raise ValueError("the step must not be 0")
    if (stop - start) / step < 0:
        raise ValueError(f"step {step:g} does not go from {start:g} to {stop:g}; "
                         f"use step {-step:g} (a negative step runs downwards)")
    return int(math.floor((stop - start) / step + 1e-9)) + 1


def check_range(start: float, stop: float, step: float, where: str) -> int:
    """:func:`range_count`, refused above :data:`MAX_SNR_POINTS` with the fix in the message."""
    n = range_count(start, stop, step)
    if n > MAX_SNR_POINTS:
        span = abs(stop - start)
        raise ValueError(f"{where}: {start:g} to {stop:g} in steps of {step:g} is {n:,} points, more "
                         f"than the {MAX_SNR_POINTS:,} allowed; use a larger step (e.g. "
                         f"{_nice_step(span):g}) or a shorter range")
    return n


def check_values(values: list[float], where: str) -> None:
    """Refuse more than :data:`MAX_SNR_POINTS` values, or a value given twice."""
    if len(values) > MAX_SNR_POINTS:
        raise ValueError(f"{where}: {len(values):,} points, more than the {MAX_SNR_POINTS:,} "
                         "allowed; give fewer")
    seen: dict[float, int] = {}
    for i, v in enumerate(values):
        if v in seen:
            raise ValueError(f"{where}: {v:g} dB is given twice (positions {seen[v]} and {i}); "
                             "give each point once (more statistics: more images, blocks or "
                             "seeds)")
        seen[v] = i


def _nice_step(span: float) -> float:
    """A round step giving at most :data:`MAX_SNR_POINTS` points over ``span``."""
    raw = span / (MAX_SNR_POINTS - 1) if span > 0 else 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag
