"""Run a scenario into ``DIR/results.h5`` with the local or the Ray executor."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import yaml

from semlink.provenance import environment
from semlink.runtime import tune_malloc

from .link import noise_generator_label
from .memory_preflight import check_sweep_memory
from .profiles import resolved_profile
from .progress import Progress
from .results import ResultsStore
from .run_lock import OutputLock
from .scenario import Scenario
from .sweep import PointRunner, built_codecs, resolve_device

if TYPE_CHECKING:
    from semlink.data import ImageDataset
    from semlink.semantic.codec import Codec
    from semlink.vqa import VQADataset

    from .scenario import Point

log = logging.getLogger(__name__)


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
            "phy_profiles_json": json.dumps({name: resolved_profile(spec) for name, spec
                                             in scenario.profiles.items()}, sort_keys=True),
            "metrics_unavailable_json": json.dumps(unavailable_metrics(scenario)),
            "noise_generator": noise_generator_label(scenario)}


def unavailable_metrics(scenario: Scenario) -> dict[str, str]:
    """Metric name -> why it cannot be computed here (skipped, reported)."""
    from semlink.metrics import get_metric

    return {e["name"]: r for e in scenario.metrics
            if (r := get_metric(e["name"], e["params"],
                                resolve_device(scenario.device)).unavailable_reason())}


def flagged_models(runner: PointRunner, scenario: Scenario) -> list[str]:
    """One line per tiny test model or randomly initialised model the scenario runs
    (codecs, built once per setting here and reused by the local executor, and metrics).

    A codec that fails to build is left to its points, which record the error.
    """
    from semlink.provenance import model_warnings

    lines = []
    for point, codec in built_codecs(runner, scenario):
        try:
            records = list(codec.models())
            records += _declared_flagged(codec, records)
        except Exception:  # noqa: BLE001 - recorded by the point itself
            continue
        lines += model_warnings(records, f"codec {point.codec.label!r}")
    for metric in runner.metrics:
        lines += model_warnings(metric.models(), f"metric {metric.name!r}")
    return lines


def _declared_flagged(codec: Codec, loaded: list) -> list:
    """Records of the test / stand-in models a codec *will* load (its declared models,
    located without loading): codecs that load lazily (Multi-SC's and VLM-CSC's captioner)
    report nothing in :meth:`models` before their first image."""
    from semlink.models import locate
    from semlink.provenance import ModelRecord

    have = {(r.role, r.ref) for r in loaded} | {r.ref for r in loaded}
    out = []
    for role, ref in codec.required_models():
        if (role, str(ref)) in have or str(ref) in have:
            continue
        info = locate(ref)
        if info.get("test_model") or info.get("stand_in"):
            out.append(ModelRecord(role=role, ref=str(ref), path=info.get("path"),
                                   random_init=bool(info.get("stand_in")),
                                   test_model=bool(info.get("test_model"))))
    return out


def check_dataset_captions(runner: PointRunner, scenario: Scenario) -> None:
    """Before the sweep: codecs that send the dataset's captions (``source: captions``) get
    ``captions_per_image`` captions for every image, or a clear error that says whether
    ``dataset.captions`` is missing or lacks entries (it used to suggest setting it when
    it was set)."""
    for point, codec in built_codecs(runner, scenario):
        if getattr(codec, "source", None) != "captions":
            continue
        k = int(getattr(codec, "captions_per_image", 1))
        ds = runner.dataset
        short = [n for n, c in zip(ds.names, ds.caption_counts, strict=True) if c < k]   # no image copied
        if not short:
            continue
        where = f"codec {point.codec.label!r} (source: captions, captions_per_image={k})"
        given = scenario.dataset.get("captions")
        if not given:
            raise ValueError(f"{where} sends the dataset's captions, but the scenario has no "
                             "dataset.captions; set it to a captions file (COCO captions JSON, "
                             "JSON mapping or CSV)")
        raise ValueError(f"{where}: dataset.captions {given!r} has fewer than {k} caption(s) "
                         f"for {len(short)} of {len(ds)} image(s) (e.g. {short[0]!r}); add "
                         "them to that file, lower captions_per_image, or leave those images "
                         "out of dataset.path")


def _failed_provenance(runner: PointRunner, point: Point, part: dict) -> None:
    """A failed point records what it ran with too (the codec setting's resolved params,
    tools, models so far, the metrics' models), unless the codec itself could not be built."""
    if part.get("status") == "ok" or part.get("provenance_json"):
        return
    from .sweep import point_provenance

    try:
        part["provenance_json"] = json.dumps(point_provenance(runner.codec(point), runner.metrics),
                                             sort_keys=True)
    except Exception:  # noqa: BLE001 - the codec's own error is the point's record
        pass


class SweepInterrupted(Exception):
    """Ctrl-C during a sweep; finished points are safe in the folder's journal."""

    def __init__(self, done: int, total: int, out_dir: str) -> None:
        super().__init__(f"interrupted after {done} of {total} points")
        self.done, self.total, self.out_dir = done, total, out_dir


def dataset_change(old: dict, new: dict) -> str | None:
    """What differs between two :meth:`ImageDataset.identity` dicts (`None` when equal)."""
    if old == new:
        return None
    of, nf = old.get("files", {}), new.get("files", {})
    parts = []
    for what, names in (("added", sorted(set(nf) - set(of))),
                        ("removed", sorted(set(of) - set(nf))),
                        ("changed", sorted(n for n in set(of) & set(nf) if of[n] != nf[n]))):
        if names:
            shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
            parts.append(f"{what}: {shown}")
    for key in sorted(set(old.get("annotations", {})) | set(new.get("annotations", {}))):
        if old.get("annotations", {}).get(key) != new.get("annotations", {}).get(key):
            parts.append(f"the {key} file changed")
    if old.get("policy") != new.get("policy"):
        parts.append(f"resize/crop policy {old.get('policy')} -> {new.get('policy')}")
    return "; ".join(parts) or "the dataset changed"


def metrics_too_small(scenario: Scenario, dataset: ImageDataset | VQADataset) -> dict[str, str]:
    """Metric name -> why it is undefined on this dataset's image sizes."""
    from semlink.metrics import get_metric

    sizes = dict(zip(dataset.names, dataset.shapes, strict=True))       # no image copied
    return {e["name"]: r for e in scenario.metrics
            if (r := get_metric(e["name"], e["params"],
                                resolve_device(scenario.device)).too_small(sizes))}


def run_sweep(scenario: Scenario, out_dir: str, resume: bool = False, executor: str = "local",
              ray_address: str | None = None, progress: bool | None = None,
              ray_workers: int | None = None, reuse_error_free: bool = True,
              threads: int | None = None) -> SweepOutcome:
    """Run every point not yet in ``out_dir`` and write ``out_dir/results.h5``.

    :param executor: ``"local"`` (this process) or ``"ray"`` (long-lived Ray actors).
    :param ray_address: Ray cluster address; `None` starts a local Ray instance.
    :param progress: progress bar (default: when stderr is a terminal); without a
        terminal a line per finished point goes to stderr either way.
    :param ray_workers: number of Ray actors (default: scenario ``ray.num_workers``, else
        one per ``ray.num_cpus_per_task`` CPUs / ``num_gpus_per_task`` GPUs of the cluster).
    :param reuse_error_free: reuse the metrics of error-free reconstructions (see
        :class:`~semlink.links.sweep.PointRunner`); results are identical either way.
    :param threads: torch intra-op CPU threads that evaluate each point, in this process
        (local executor; restored afterwards) and in every Ray worker (default: this
        process's ``torch.get_num_threads()``). Recorded as the environment's
        ``torch_threads`` and per point in its timings. float32 sums in some CPU kernels
        depend on the thread count, so identical numbers need the same count.
    :raises ValueError: the folder is in use, holds other results, or the dataset changed.
    :raises SweepInterrupted: Ctrl-C; finished points are kept for ``--resume``.

    Fixes glibc's allocator thresholds for this process first
    (:func:`semlink.runtime.tune_malloc`; steadier, faster LDPC decoding on a CPU;
    ``SEMLINK_MALLOC_TUNING=0`` opts out); the results header records it
    (``env_json`` ``malloc_tuning``).
    """
    tune_malloc()
    if executor not in ("local", "ray"):
        raise ValueError(f"--executor must be 'local' or 'ray', got {executor!r}")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"--threads must be a positive integer, got {threads!r}")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _run_sweep(scenario, out_dir, resume, executor, ray_address, progress,
                          ray_workers, reuse_error_free)
    finally:
        torch.set_num_threads(before)


def _run_sweep(scenario: Scenario, out_dir: str, resume: bool, executor: str,
               ray_address: str | None, progress: bool | None, ray_workers: int | None,
               reuse_error_free: bool) -> SweepOutcome:
    """:func:`run_sweep` with this process's torch thread count already set."""
    t0 = time.perf_counter()
    store = ResultsStore(out_dir)
    runner = PointRunner(scenario, reuse_error_free=reuse_error_free)
    num_images = len(runner.dataset)          # validates the dataset before anything runs
    if getattr(runner.dataset, "counts", None) is not None:     # VQA questions and their split
        log.info("semlink run: %s", runner.dataset.counts.line())
    device = resolve_device(scenario.device)
    header = _header(scenario)
    identity = runner.dataset.identity()
    header["dataset_identity_json"] = json.dumps(identity, sort_keys=True)
    points = scenario.points()
    header["points_planned"] = len(points)
    unavailable = json.loads(header["metrics_unavailable_json"])
    small = metrics_too_small(scenario, runner.dataset)
    unavailable.update(small)
    header["metrics_unavailable_json"] = json.dumps(unavailable)
    runner.skip_metrics = frozenset(small)
    with OutputLock(store.dir):
        if resume:
            old = store.journal_header()
            if old and "dataset_identity_json" in old:
                change = dataset_change(json.loads(old["dataset_identity_json"]), identity)
                if change:
                    raise ValueError(f"--resume: the dataset differs from the one that started "
                                     f"{str(store.dir)!r} ({change}); restore it or use another "
                                     "--out folder")
            was = json.loads(old.get("env_json") or "{}").get("torch_threads") if old else None
            if was is not None and was != torch.get_num_threads():
                log.warning("semlink run: WARNING: the run in %r started with %s torch thread(s), "
                            "this one uses %d: float32 sums in some CPU kernels depend on it "
                            "(resume with --threads %s for numbers identical to an uninterrupted "
                            "run)", str(store.dir), was, torch.get_num_threads(), was)
        for name, reason in unavailable.items():
            log.warning("semlink run: metric %r unavailable, skipped: %s", name, reason)
        for line in flagged_models(runner, scenario):
            log.warning("semlink run: WARNING: %s", line)
        check_dataset_captions(runner, scenario)
        check_sweep_memory(runner, scenario)      # largest batch, before any full-size encode
        done = store.start(header, resume)
        todo = [p for p in points if p.id not in done]
        log.debug("semlink run: %d point(s) planned, %d already done, %d to run on %s "
                  "(executor %s, %d torch thread(s), %d image(s) per point) into %s",
                  len(points), len(done), len(todo), device, executor,
                  torch.get_num_threads(), num_images, store.path)
        report = Progress(len(points), len(done), len(todo), num_images, progress)
        ran = 0
        try:
            if executor == "local":
                for point in todo:
                    report.start_point(point)
                    part = runner.run(point, on_images=report.images, on_stage=report.stage)
                    _failed_provenance(runner, point, part)
                    store.add(point.id, part)
                    ran += 1
                    report.finished(point, part)
            else:
                from .ray_executor import run_points_on_ray

                for point, part in run_points_on_ray(scenario, todo, ray_address, ray_workers,
                                                     reuse_error_free=reuse_error_free,
                                                     skip_metrics=runner.skip_metrics,
                                                     threads=torch.get_num_threads()):
                    _failed_provenance(runner, point, part)
                    store.add(part["id"], part)
                    ran += 1
                    report.images(num_images)
                    report.finished(point, part)
        except KeyboardInterrupt:
            report.close()
            try:
                store.finish()
            except Exception:  # noqa: BLE001 - the journal is the record; results.h5 is rebuilt on --resume
                pass
            raise SweepInterrupted(len(done) + ran, len(points), str(store.dir)) from None
        report.close()
        parts = store.finish()
    failed = [{"id": p_id, "codec": p["codec_label"], "channel": p["channel_label"],
               "snr_db": p["snr_db"], "error": p["error"]}
              for p_id, p in sorted(parts.items()) if p["status"] != "ok"]
    return SweepOutcome(str(store.path), len(points), len(todo), len(points) - len(todo), failed,
                        time.perf_counter() - t0)
