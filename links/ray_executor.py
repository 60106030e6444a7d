"""Ray executor: each sweep point is one Ray task; the driver writes the results.

Workers rebuild the scenario from its validated content and evaluate their
point with the same :class:`~semlink.links.sweep.PointRunner` as the local
executor, so the same seeds give the same numbers. A scenario on a GPU
device asks Ray for ``ray.num_gpus_per_task`` GPUs per task (default 1).
"""

from __future__ import annotations

from typing import Iterator

from semlink.extras import require

from .scenario import Point, Scenario, parse_scenario


def _evaluate(raw: dict, source: str, base_dir: str, index: int) -> dict:
    scenario = parse_scenario(raw, source=source, base_dir=base_dir)
    point = scenario.points()[index]
    from .sweep import PointRunner

    return PointRunner(scenario).run(point)


def run_points_on_ray(scenario: Scenario, points: list[Point],
                      address: str | None = None) -> Iterator[dict]:
    """Yield finished point dicts as Ray tasks complete."""
    ray = require("ray", "--executor ray")
    started_here = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False)
        started_here = True
    try:
        gpu = scenario.device.startswith("cuda") or scenario.device == "auto" and _has_gpu()
        options = {"num_cpus": scenario.ray.get("num_cpus_per_task", 1),
                   "num_gpus": scenario.ray.get("num_gpus_per_task", 1) if gpu else 0}
        task = ray.remote(_evaluate).options(**options)
        pending = [task.remote(scenario.raw, scenario.source, str(scenario.base_dir), p.index)
                   for p in points]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                yield ray.get(ref)
    finally:
        if started_here:
            ray.shutdown()


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()
