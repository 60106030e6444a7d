"""Sweeps: every (codec setting x channel x SNR x seed) point over every image.

:func:`run_sweep` drives a sweep with an executor (local or Ray) into a
:class:`~semlink.links.results.ResultsStore`. :class:`PointRunner` evaluates
points; it caches the dataset, codecs, links and -- for codecs with a
deterministic encoder -- the encoded payloads, so a codec setting is encoded
once for all its channels and SNR points.

Seeds: a point's noise depends only on (seed, channel index, SNR index),
not on the codec or the execution order, so codecs are compared on common
random numbers and the local and Ray executors give identical numbers (the
Ray workers run with the driver's torch thread count: some float32 CPU
kernels sum in a thread-count-dependent order; each point records
``torch_threads``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import traceback
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch

from semlink.device import resolve_device  # the one device rule; re-exported for the runner
from semlink.metrics import get_metric
from semlink.phy import DigitalChain
from semlink.semantic import make_codec

from .link import Link
from .memory import PeakMemory, check_point_memory
from .scenario import Point, Scenario


def point_seed(point: Point) -> int:
    """Seed of a point's channel noise (independent of codec and execution order)."""
    key = f"{point.seed}/{point.channel.index}/{point.snr_index}".encode()
    return zlib.crc32(key) + (point.seed << 32)


def built_codecs(runner: PointRunner, scenario: Scenario):
    """``(point, codec)`` for the first point of each codec setting of ``scenario`` whose
    codec ``runner`` builds, for the checks before a sweep (built once, reused by the local
    executor); a codec that fails to build is left to its points, which record the error."""
    seen = set()
    for point in scenario.points():
        if point.codec.index in seen:
            continue
        seen.add(point.codec.index)
        try:
            codec = runner.codec(point)
        except Exception:  # noqa: BLE001 - recorded by the points
            continue
        yield point, codec


@dataclass
class PointRunner:
    """Evaluates sweep points of one scenario; holds the caches."""

    scenario: Scenario
    skip_metrics: frozenset = frozenset()
    _dataset: object = None
    _codecs: dict = field(default_factory=dict)
    _links: dict = field(default_factory=dict)
    _encoded: dict = field(default_factory=dict)
    _metrics: list | None = None
    _clean: dict = field(default_factory=dict)
    reuse_error_free: bool = True
    memory_limit_bytes: int | None = None

    @property
    def dataset(self):
        if self._dataset is None:
            from semlink.vqa import open_dataset  # an ImageDataset, or VQA questions over it

            self._dataset = open_dataset(self.scenario.dataset, key="dataset")
        return self._dataset

    @property
    def metrics(self) -> list:
        """The scenario's metrics that can run here (built once)."""
        if self._metrics is None:
            device = resolve_device(self.scenario.device)
            self._metrics = [m for m in (get_metric(e["name"], e["params"], device)
                                         for e in self.scenario.metrics)
                             if m.unavailable_reason() is None and m.name not in self.skip_metrics]
        return self._metrics

    def codec(self, point: Point):
        c = point.codec
        if c.index not in self._codecs:
            self._codecs[c.index] = c.instance or make_codec(c.name, c.params, c.profiles)
        return self._codecs[c.index]

    def link(self, point: Point) -> Link:
        if point.channel.index not in self._links:
            self._links[point.channel.index] = Link(
                self.scenario.profiles, point.channel.spec, seed=0,
                device=resolve_device(self.scenario.device), precision=self.scenario.precision)
        return self._links[point.channel.index]

    def _encode(self, codec, point: Point, b: int, items):
        key = (point.codec.index, b, codec.encode_key())
        if codec.deterministic_encode and key in self._encoded:
            return self._encoded[key]
        t0 = time.perf_counter()
        try:
            payload = codec.encode_items(items)
        except Exception as exc:
            raise _name_failing_image(codec, items, exc) from exc
        entry = (payload, time.perf_counter() - t0)
        if codec.deterministic_encode:
            # keep only the current codec setting's encodings (points are codec-major)
            for old in [k for k in self._encoded if k[0] != point.codec.index]:
                del self._encoded[old]
            self._encoded[key] = entry
        return entry

    def snr_db(self, point: Point, link: Link, codec) -> float:
        if point.snr_db is not None:
            return point.snr_db
        (profile,) = set(codec.stream_profiles.values())
        chain = link.chain(profile)
        # parse_scenario allows Eb/N0 only for codecs on one digital profile
        assert isinstance(chain, DigitalChain) and point.ebno_db is not None
        return chain.snr_db_from_ebno_db(point.ebno_db)

    def ebno_db(self, point: Point, link: Link, codec, snr_db: float) -> float:
        """Eb/N0 [dB] of the point: given, or from Es/N0 when the codec uses one digital profile.

        NaN when Eb/N0 is undefined (analog streams or several profiles).
        """
        if point.ebno_db is not None:
            return point.ebno_db
        profiles = set(codec.stream_profiles.values())
        if len(profiles) != 1:
            return math.nan
        chain = link.chain(next(iter(profiles)))
        if not hasattr(chain, "ebno_db_from_snr_db"):
            return math.nan
        return chain.ebno_db_from_snr_db(snr_db)

    def _examples(self, point: Point):
        """An ExampleCollector when the scenario keeps example reconstructions, else None."""
        if not getattr(self.scenario, "keep_examples", None):
            return None
        from .examples import ExampleCollector

        return ExampleCollector(self.scenario.keep_examples, self.dataset.names,
                                with_original=point.snr_index == 0)

    def run(self, point: Point, on_images=None, on_stage=None) -> dict:
        """Evaluate one point; never raises for a codec/PHY failure (recorded instead).

        :param on_images: called with the number of images after each batch (progress).
        :param on_stage: called with the name of each stage as it starts (``"encode"``,
            ``"phy"``, ``"decode"``, ``"metric NAME"``), so progress can name a long one.
        :returns: the point dict stored by :class:`~semlink.links.results.ResultsStore`:
            per image ``metrics``, ``fallback``, ``fallback_reason``,
            ``decoded_with_errors``, ``reused``; ``timings`` [s] with peak memory [MiB].
        """
        part = _point_header(point)
        timings = dict.fromkeys(("encode_s", "phy_s", "decode_s", "metrics_s"), 0.0)
        part["timings"] = timings
        per_image = PerImage()
        phy: dict = {}
        peak = PeakMemory(resolve_device(self.scenario.device))
        stage = on_stage or (lambda name: None)
        try:
            codec = self.codec(point)
            link = self.link(point)
            seed = point_seed(point)
            link.reseed(seed)
            torch.manual_seed(seed)
            codec.attach_phy({s: link.chain(p) for s, p in codec.stream_profiles.items()})
            metric_objs = self.metrics
            keep = self._examples(point)
            for b, items in enumerate(self.dataset.batches(self.scenario.batch_size)):
                stage("encode")
                payload, t_enc = self._encode(codec, point, b, items)
                timings["encode_s"] += t_enc
                snr = self.snr_db(point, link, codec)
                part["snr_db"] = snr        # Es/N0 actually used (converted from Eb/N0 if given)
                part["ebno_db"] = self.ebno_db(point, link, codec, snr)
                check_point_memory(payload, link, items, self.memory_limit_bytes)
                stage("phy")
                t0 = time.perf_counter()
                received = link.transmit(payload, snr)
                timings["phy_s"] += time.perf_counter() - t0
                self._decode_and_measure(codec, point, items, received, metric_objs, timings,
                                         per_image, keep, stage)
                for stream, rep in received.reports.items():
                    d = phy.setdefault(stream, {"kind": rep.kind, "profile": rep.profile,
                                                **{f: [] for f in _PHY}})
                    for f in _PHY:
                        d[f].extend(np.asarray(getattr(rep, f)).tolist())
                    if rep.kind == "digital":
                        d["ebno_db"] = stream_ebno_db(rep, link.chain(rep.profile), snr)
                if on_images:
                    on_images(len(items))
            # after the batches: codecs that load models lazily have loaded them by now
            part["provenance_json"] = json.dumps(point_provenance(codec, metric_objs),
                                                 sort_keys=True)
            metrics = per_image.metrics
            metrics.update(_bit_error_rates(phy, len(per_image.names)))
            part.update(status="ok", images=per_image.names, metrics=metrics, phy=phy,
                        symbols_per_image=per_image.symbols, fallback=per_image.fallback,
                        fallback_reason=per_image.fallback_reason,
                        decoded_with_errors=per_image.decoded_with_errors,
                        reused=per_image.reused)
            if keep:
                from .examples import codec_params

                part["examples"] = keep.finish(metrics, codec_params(codec))
        except Exception as exc:  # noqa: BLE001 - a failing point is recorded, the sweep goes on
            details_of = getattr(exc, "details", None)      # an error that carries data (.details())
            details = details_of() if callable(details_of) else {}
            part.update(status="failed", images=per_image.names,
                        error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(),
                        error_json=json.dumps(details, sort_keys=True) if details else "")
        timings.update(peak.result())
        return part

    def _decode_and_measure(self, codec, point: Point, items, received, metric_objs,
                            timings: dict, out: PerImage, keep=None, stage=None) -> None:
        """Decode and measure one batch, reusing error-free reconstructions' metrics.

        An image whose every stream is digital and arrived without a single bit
        error or CRC failure reconstructs exactly as the error-free stream does
        when the codec's decoder is deterministic (``codec.deterministic_decode``):
        its metrics are computed once per (codec setting, encoding, image) and
        reused at every later such point (``reused`` is recorded per image).
        Images kept as examples (``keep``, an ``ExampleCollector``) are always decoded.
        Per-image values a codec reports itself (``recon.extras["per_image_metrics"]``,
        e.g. Multi-SC's stage timings) are stored as metrics.
        """
        n = len(items)
        clean = error_free_images(received)
        reusable = self.reuse_error_free and getattr(codec, "deterministic_decode", False)
        cache_key = (point.codec.index, repr(codec.encode_key()))
        if reusable:
            for old in [k for k in self._clean if k[0] != point.codec.index]:
                del self._clean[old]
        cached = [self._clean.get((*cache_key, it.name))
                  if reusable and clean[i] and not (keep and keep.is_wanted(i)) else None
                  for i, it in enumerate(items)]
        todo = [i for i in range(n) if cached[i] is None]
        fresh: dict[int, dict] = {}
        if todo:
            sub = received if len(todo) == n else subset_received(received, todo)
            stage = stage or (lambda name: None)
            stage("decode")
            t1 = time.perf_counter()
            recon = codec.decode(sub)
            t2 = time.perf_counter()
            originals = [items[i].image for i in todo]
            recon.extras.setdefault("queries", [items[i].queries[0] if items[i].queries else None
                                                for i in todo])
            values = {}
            for m in metric_objs:
                stage(f"metric {m.name}")
                values[m.name] = np.asarray(m.compute(originals, recon), float).tolist()
            for name, vals in recon.extras.get("per_image_metrics", {}).items():
                values[name] = [float(v) for v in vals]
            if keep:
                keep.add_batch(items, recon, decoded=todo)
            timings["decode_s"] += t2 - t1
            timings["metrics_s"] += time.perf_counter() - t2
            fallback = list(recon.fallback or [False] * len(todo))
            reasons = list(recon.extras.get("fallback_reason") or [""] * len(todo))
            for j, i in enumerate(todo):
                fresh[i] = {"metrics": {k: v[j] for k, v in values.items()},
                            "fallback": bool(fallback[j]), "reason": str(reasons[j] or "")}
                if reusable and clean[i]:
                    self._clean[(*cache_key, items[i].name)] = fresh[i]
        if keep and not todo:
            keep.add_batch(items, None, decoded=[])
        symbols = received.channel_uses()
        for i, it in enumerate(items):
            entry = fresh.get(i) or cached[i]
            assert entry is not None                  # each image is fresh or reused
            damaged = damaged_blocks(received, i)
            fb = entry["fallback"]
            reason = entry["reason"] if fb else ""
            if fb and not reason:
                reason = (f"{damaged[0]} of {damaged[1]} code blocks failed" if damaged[0]
                          else "the decoder failed although every code block arrived intact")
            out.add(it.name, entry["metrics"], int(symbols[i]), fb, reason,
                    decoded_with_errors=(not fb) and bool(damaged[0] or damaged[2]),
                    reused=i not in fresh)


def _name_failing_image(codec, items, exc: Exception) -> Exception:
    """The encoder's error, naming the image that caused it (found by encoding one by one)."""
    culprit = items[0] if len(items) == 1 else None
    for it in items if culprit is None else []:
        try:
            codec.encode_items([it])
        except Exception:  # noqa: BLE001 - this is the image that fails
            culprit = it
            break
    if culprit is None:
        return exc
    h, w = culprit.image.shape[-2:]
    named = type(exc)(f"image {culprit.name!r} ({h}x{w}): {exc}") if isinstance(exc, ValueError) \
        else ValueError(f"image {culprit.name!r} ({h}x{w}): {type(exc).__name__}: {exc}")
    named.__dict__.update(vars(exc), image=culprit.name)   # an error's data (details()) is kept
    return named


@dataclass
class PerImage:
    """Per-image columns of a point, filled batch by batch."""

    names: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    symbols: list = field(default_factory=list)
    fallback: list = field(default_factory=list)
    fallback_reason: list = field(default_factory=list)
    decoded_with_errors: list = field(default_factory=list)
    reused: list = field(default_factory=list)

    def add(self, name: str, metrics: dict, symbols: int, fallback: bool, reason: str,
            decoded_with_errors: bool, reused: bool) -> None:
        self.names.append(name)
        for k, v in metrics.items():
            self.metrics.setdefault(k, []).append(v)
        self.symbols.append(symbols)
        self.fallback.append(fallback)
        self.fallback_reason.append(reason)
        self.decoded_with_errors.append(decoded_with_errors)
        self.reused.append(reused)


def error_free_images(received) -> np.ndarray:
    """[num_images] bool: every stream is digital and arrived with no bit error and no CRC failure."""
    clean = np.ones(received.num_images, bool)
    for rep in received.reports.values():
        if rep.kind != "digital":
            return np.zeros(received.num_images, bool)
        clean &= (np.asarray(rep.bit_errors) == 0) & (np.asarray(rep.crc_failures) == 0) \
            & (np.asarray(rep.block_errors) == 0)
    return clean


def damaged_blocks(received, i: int) -> tuple[int, int, int]:
    """(failed code blocks, code blocks, bit errors) of image ``i`` over its digital streams."""
    failed = blocks = errors = 0
    for rep in received.reports.values():
        if rep.kind == "digital":
            failed += int(max(rep.crc_failures[i], rep.block_errors[i]))
            blocks += int(rep.blocks[i])
            errors += int(rep.bit_errors[i])
    return failed, blocks, errors


def subset_received(received, idx: list[int]):
    """The received payload restricted to images ``idx`` (streams, side info and reports)."""
    from semlink.semantic.payload import Stream

    n = received.num_images

    def pick(value):
        if isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == n:
            return value[idx]
        if isinstance(value, list) and len(value) == n:
            return [value[i] for i in idx]
        return value

    streams = {k: Stream(s.kind, [s.data[i] for i in idx], s.profile)
               for k, s in received.streams.items()}
    reports = {k: dataclasses.replace(r, **{f.name: pick(getattr(r, f.name))
                                            for f in dataclasses.fields(r)})
               for k, r in received.reports.items()}
    return dataclasses.replace(received, streams=streams,
                               side_info=[received.side_info[i] for i in idx], reports=reports)


def point_provenance(codec, metrics: list) -> dict:
    """What a point records about what ran: the codec's resolved params, tools and
    models (:meth:`Codec.provenance`) and each metric's models (as dicts)."""
    return {"codec": codec.provenance(),
            "metrics": {m.name: [r.to_dict() for r in m.models()] for m in metrics}}


def stream_ebno_db(report, chain, snr_db: float) -> float:
    """Eb/N0 [dB] of a digital stream at Es/N0 ``snr_db``: the PHY report's ``ebno_db``
    when it has one, else from the chain's code rate, bits per symbol and pilots
    (:mod:`semlink.phy.snr`; ``Eb`` per code input bit)."""
    value = getattr(report, "ebno_db", None)
    if value is not None and np.size(value):
        return float(np.mean(value))
    return float(chain.ebno_db_from_snr_db(snr_db))


_PHY = ("channel_uses", "bits", "bit_errors", "blocks", "block_errors", "crc_failures")


def _bit_error_rates(phy: dict, num_images: int) -> dict:
    """Per-image BER and BLER over all digital streams (NaN without digital streams)."""
    digital = [d for d in phy.values() if d["kind"] == "digital"]
    if not digital:
        return {"ber": [math.nan] * num_images, "bler": [math.nan] * num_images}
    total = {f: sum(np.asarray(d[f]) for d in digital)
             for f in ("bits", "bit_errors", "blocks", "block_errors")}
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"ber": np.asarray(total["bit_errors"] / total["bits"]).tolist(),
                "bler": np.asarray(total["block_errors"] / total["blocks"]).tolist()}


def _point_header(point: Point) -> dict:
    return {"id": point.id, "index": point.index, "codec": point.codec.name,
            "codec_label": point.codec.label, "codec_index": point.codec.index,
            "params_json": json.dumps(point.codec.params, sort_keys=True),
            "profiles_json": json.dumps(point.codec.profiles, sort_keys=True),
            "channel_label": point.channel.label, "channel_index": point.channel.index,
            "channel_json": json.dumps(point.channel.spec, sort_keys=True),
            "snr_index": point.snr_index,
            "snr_db": math.nan if point.snr_db is None else point.snr_db,
            "ebno_db": math.nan if point.ebno_db is None else point.ebno_db,
            "seed": point.seed, "error": "", "traceback": "",
            "torch_threads": torch.get_num_threads()}
