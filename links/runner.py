"""Run a scenario into ``DIR/results.h5`` with the local or the Ray executor."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass

import yaml

from semlink.provenance import environment

from .results import ResultsStore
from .scenario import Scenario
from .sweep import PointRunner, resolve_device


@dataclass
class SweepOutcome:
    """What a sweep did: points run now, points already done, failed points."""

    results: str
    total: int
    ran: int
    skipped: int
    failed: list[dict]
    seconds: float


def _header(scenario: Scenario) -> dict:
    env = environment()
    env["device"] = resolve_device(scenario.device)
    from semlink import __version__

    return {"semlink_version": __version__, "source": scenario.source,
            "scenario_yaml": yaml.safe_dump(scenario.raw, sort_keys=False),
            "scenario_json": scenario.canonical_json(), "env_json": json.dumps(env),
            "metrics_unavailable_json": json.dumps(unavailable_metrics(scenario))}


def unavailable_metrics(scenario: Scenario) -> dict[str, str]:
    """Metric name -> why it cannot be computed here (skipped, reported)."""
    from semlink.metrics import get_metric

    return {e["name"]: r for e in scenario.metrics
            if (r := get_metric(e["name"], e["params"],
                                resolve_device(scenario.device)).unavailable_reason())}


def run_sweep(scenario: Scenario, out_dir: str, resume: bool = False, executor: str = "local",
              ray_address: str | None = None, progress: bool | None = None) -> SweepOutcome:
    """Run every point not yet in ``out_dir`` and write ``out_dir/results.h5``.

    :param executor: ``"local"`` (this process) or ``"ray"`` (one Ray task per point).
    :param ray_address: Ray cluster address; `None` starts a local Ray instance.
    :param progress: show a progress bar (default: when stderr is a terminal).
    """
    if executor not in ("local", "ray"):
        raise ValueError(f"--executor must be 'local' or 'ray', got {executor!r}")
    t0 = time.perf_counter()
    store = ResultsStore(out_dir)
    runner = PointRunner(scenario)
    num_images = len(runner.dataset)          # validates the dataset before anything runs
    if getattr(runner.dataset, "counts", None) is not None:     # VQA questions and their split
        print(f"semlink run: {runner.dataset.counts.line()}", file=sys.stderr)
    resolve_device(scenario.device)
    header = _header(scenario)
    for name, reason in json.loads(header["metrics_unavailable_json"]).items():
        print(f"semlink run: metric {name!r} unavailable, skipped: {reason}", file=sys.stderr)
    done = store.start(header, resume)
    points = scenario.points()
    todo = [p for p in points if p.id not in done]
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=len(todo) * num_images, unit="img", desc="sweep", file=sys.stderr,
                   dynamic_ncols=True)
    if executor == "local":
        for point in todo:
            if bar:
                bar.set_postfix_str(f"{point.codec.label} / {point.channel.label} / "
                                    f"{point.snr_db if point.snr_db is not None else point.ebno_db} dB")
            part = runner.run(point, on_images=bar.update if bar else None)
            store.add(point.id, part)
    else:
        from .ray_executor import run_points_on_ray

        for part in run_points_on_ray(scenario, todo, ray_address):
            store.add(part["id"], part)
            if bar:
                bar.update(num_images)
    if bar:
        bar.close()
    parts = store.finish()
    failed = [{"id": p_id, "codec": p["codec_label"], "channel": p["channel_label"],
               "snr_db": p["snr_db"], "error": p["error"]}
              for p_id, p in sorted(parts.items()) if p["status"] != "ok"]
    return SweepOutcome(str(store.path), len(points), len(todo), len(points) - len(todo), failed,
                        time.perf_counter() - t0)
