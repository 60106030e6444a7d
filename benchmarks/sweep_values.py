"""Helper shared by the sweep benchmarks: per-point metric values of a results file, to
check that two ways of running a sweep give identical numbers."""

from __future__ import annotations

import numpy as np

from semlink.links.results import load_results


def per_point_values(path: str) -> list:
    """``[(point id, {metric: repr(per-image values)})]`` of ``results.h5`` (repr: NaN == NaN)."""
    _, points = load_results(path)
    return [(p["id"], {k: repr(np.asarray(v).tolist()) for k, v in p.get("metrics", {}).items()})
            for p in points]
