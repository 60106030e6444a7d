"""Ray executor: long-lived workers (actors) evaluate points; only the driver writes results.

Each worker rebuilds the scenario once from its validated content (so every
codec setting, with its model, is built once per worker and kept) and holds
one :class:`~semlink.links.sweep.PointRunner` with its caches (dataset,
links, encodings, error-free reconstructions) for the whole sweep. The
driver hands each idle worker the next point in scenario order (codec-major),
so a worker encodes a codec setting once and reuses it across channels and
SNR points. Seeds depend only on the point, and every worker runs torch with
the driver's intra-op thread count (``threads``), so the numbers equal the
local executor's on the same device.

Why the thread count is pinned: several CPU kernels reduce in an order that
depends on the number of threads, so their float32 results differ in the
last bits between thread counts -- ``torch.mean`` (the PSNR metric's MSE)
and ``ConvTranspose2d`` (deep JSCC's decoder) do, on torch 2.14. Ray starts
its workers with ``OMP_NUM_THREADS`` = the actor's CPUs (1 by default),
which gave per-image values that differed from the local executor's. With
the same thread count the two agree bit for bit
(``tests/test_sweep.py::test_ray_executor_matches_local_for_every_codec_kind``).
Workers then use ``threads`` CPU threads each: with ``num_cpus_per_task``
smaller than ``threads`` they oversubscribe the cluster's CPUs.

Workers: ``num_workers`` (argument, or the scenario's ``ray.num_workers``),
else as many as the cluster's free CPUs (or GPUs, for a GPU scenario) allow
at ``ray.num_cpus_per_task`` CPUs / ``ray.num_gpus_per_task`` GPUs each.

A local Ray (no ``address``) started here is shut down at the end, and a
watchdog process (:mod:`~semlink.links.ray_watchdog`) ends its processes
within seconds when the driver is killed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

from semlink.extras import require
from semlink.runtime import tune_malloc

from .ray_watchdog import start_watchdog, stop_watchdog
from .scenario import Point, Scenario, parse_scenario

log = logging.getLogger(__name__)


class PointWorker:
    """The body of a Ray actor: one scenario, one :class:`PointRunner`, many points."""

    def __init__(self, raw: dict, source: str, base_dir: str, reuse_error_free: bool,
                 skip_metrics: list[str], threads: int) -> None:
        import torch

        from .sweep import PointRunner

        torch.set_num_threads(threads)       # the driver's count: same float32 sums as local
        tune_malloc()                        # as the semlink command does (semlink.runtime)
        self.scenario = parse_scenario(raw, source=source, base_dir=base_dir)
        self.points = self.scenario.points()
        self.runner = PointRunner(self.scenario, skip_metrics=frozenset(skip_metrics),
                                  reuse_error_free=reuse_error_free)

    def run(self, index: int) -> dict:
        return self.runner.run(self.points[index])


def _uses_gpu(scenario: Scenario) -> bool:
    if scenario.device.startswith("cuda"):
        return True
    if scenario.device == "auto":
        import torch

        return torch.cuda.is_available()
    return False


def worker_count(ray, scenario: Scenario, gpu: bool, requested: int | None) -> int:
    """Number of actors: requested, or what the cluster's free resources hold (at least 1)."""
    requested = requested or scenario.ray.get("num_workers")
    if requested:
        return int(requested)
    free = ray.available_resources()
    if gpu:
        per = scenario.ray.get("num_gpus_per_task", 1) or 1
        return max(1, int(free.get("GPU", 0) // per))
    per = scenario.ray.get("num_cpus_per_task", 1) or 1
    return max(1, int(free.get("CPU", 1) // per))


def run_points_on_ray(scenario: Scenario, points: list[Point], address: str | None = None,
                      num_workers: int | None = None, reuse_error_free: bool = True,
                      skip_metrics: frozenset = frozenset(),
                      threads: int | None = None) -> Iterator[tuple[Point, dict]]:
    """Yield ``(point, finished point dict)`` as the workers finish them.

    :param threads: torch intra-op threads of every worker (default: this process's
        ``torch.get_num_threads()``, so the numbers equal the local executor's).
    """
    ray = require("ray", "--executor ray")
    if threads is None:
        import torch

        threads = torch.get_num_threads()
    if threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    if not points:
        return
    started_here, watchdog = False, None
    if not ray.is_initialized():
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False)
        started_here = True
    actors = []
    try:
        if started_here and not address:
            # ends this local Ray's processes if the driver is killed (see ray_watchdog)
            watchdog = start_watchdog(os.getpid())
        gpu = _uses_gpu(scenario)
        options = {"num_cpus": scenario.ray.get("num_cpus_per_task", 1),
                   "num_gpus": scenario.ray.get("num_gpus_per_task", 1) if gpu else 0}
        count = min(len(points), worker_count(ray, scenario, gpu, num_workers))
        cpus = ray.cluster_resources().get("CPU", 0)
        if not gpu and cpus and count * threads > cpus:
            log.warning("semlink run: %d Ray worker(s) x %d torch thread(s) > %g CPUs: workers "
                        "share cores (--threads sets the count; the local executor gives "
                        "identical numbers only with the same count)", count, threads, cpus)
        actor_cls = ray.remote(PointWorker).options(**options)
        actors = [actor_cls.remote(scenario.raw, scenario.source, str(scenario.base_dir),
                                   reuse_error_free, sorted(skip_metrics), threads)
                  for _ in range(count)]
        queue = list(points)
        pending = {}
        for actor in actors:
            if queue:
                point = queue.pop(0)
                pending[actor.run.remote(point.index)] = (actor, point)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                actor, point = pending.pop(ref)
                part = ray.get(ref)
                if queue:
                    nxt = queue.pop(0)
                    pending[actor.run.remote(nxt.index)] = (actor, nxt)
                yield point, part
    finally:
        for actor in actors:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - the cluster may already be gone
                pass
        if started_here:
            ray.shutdown()
        if watchdog is not None:
            stop_watchdog(watchdog)
