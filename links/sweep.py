"""Sweeps: every (codec setting x channel x SNR x seed) point over every image.

:func:`run_sweep` drives a sweep with an executor (local or Ray) into a
:class:`~semlink.links.results.ResultsStore`. :class:`PointRunner` evaluates
points; it caches the dataset, codecs, links and -- for codecs with a
deterministic encoder -- the encoded payloads, so a codec setting is encoded
once for all its channels and SNR points.

Seeds: a point's noise depends only on (seed, channel index, SNR index),
not on the codec or the execution order, so codecs are compared on common
random numbers and the local and Ray executors give identical numbers.
"""

from __future__ import annotations

import json
import math
import time
import traceback
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch

from semlink.semantic import make_codec

from .link import Link
from semlink.metrics import get_metric
from .scenario import Point, Scenario


def point_seed(point: Point) -> int:
    """Seed of a point's channel noise (independent of codec and execution order)."""
    key = f"{point.seed}/{point.channel.index}/{point.snr_index}".encode()
    return zlib.crc32(key) + (point.seed << 32)


def resolve_device(device: str) -> str:
    from semlink.phy import resolve_device as _resolve

    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    return _resolve(device)


@dataclass
class PointRunner:
    """Evaluates sweep points of one scenario; holds the caches."""

    scenario: Scenario
    _dataset: object = None
    _codecs: dict = field(default_factory=dict)
    _links: dict = field(default_factory=dict)
    _encoded: dict = field(default_factory=dict)
    _metrics: list | None = None

    @property
    def dataset(self):
        if self._dataset is None:
            from semlink.vqa import open_dataset   # an ImageDataset, or VQA questions over it

            self._dataset = open_dataset(self.scenario.dataset, key="dataset")
        return self._dataset

    @property
    def metrics(self) -> list:
        """The scenario's metrics that can run here (built once)."""
        if self._metrics is None:
            device = resolve_device(self.scenario.device)
            self._metrics = [m for m in (get_metric(e["name"], e["params"], device)
                                         for e in self.scenario.metrics)
                             if m.unavailable_reason() is None]
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
        payload = codec.encode_items(items)
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
        return link.chain(profile).snr_db_from_ebno_db(point.ebno_db)

    def _examples(self, point: Point):
        """An ExampleCollector when the scenario keeps example reconstructions, else None."""
        if not getattr(self.scenario, "keep_examples", None):
            return None
        from .examples import ExampleCollector

        return ExampleCollector(self.scenario.keep_examples, self.dataset.names,
                                with_original=point.snr_index == 0)

    def run(self, point: Point, on_images=None) -> dict:
        """Evaluate one point; never raises for a codec/PHY failure (recorded instead)."""
        part = _point_header(point)
        timings = dict.fromkeys(("encode_s", "phy_s", "decode_s", "metrics_s"), 0.0)
        part["timings"] = timings
        names, metrics, phy, symbols, fallback = [], {}, {}, [], []
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
                payload, t_enc = self._encode(codec, point, b, items)
                timings["encode_s"] += t_enc
                snr = self.snr_db(point, link, codec)
                part["snr_db"] = snr        # Es/N0 actually used (converted from Eb/N0 if given)
                t0 = time.perf_counter()
                received = link.transmit(payload, snr)
                t1 = time.perf_counter()
                recon = codec.decode(received)
                t2 = time.perf_counter()
                originals = [it.image for it in items]
                recon.extras.setdefault("queries", [it.queries[0] if it.queries else None
                                                    for it in items])
                for m in metric_objs:
                    metrics.setdefault(m.name, []).extend(m.compute(originals, recon).tolist())
                # per-image values a codec reports itself (e.g. Multi-SC stage timings, parts)
                for name, vals in recon.extras.get("per_image_metrics", {}).items():
                    metrics.setdefault(name, []).extend(float(v) for v in vals)
                if keep:
                    keep.add_batch(items, recon)
                t3 = time.perf_counter()
                timings["phy_s"] += t1 - t0
                timings["decode_s"] += t2 - t1
                timings["metrics_s"] += t3 - t2
                names.extend(it.name for it in items)
                symbols.extend(received.channel_uses().tolist())
                fallback.extend(recon.fallback or [False] * len(items))
                for stream, rep in received.reports.items():
                    d = phy.setdefault(stream, {"kind": rep.kind, "profile": rep.profile,
                                                **{f: [] for f in _PHY}})
                    for f in _PHY:
                        d[f].extend(np.asarray(getattr(rep, f)).tolist())
                if on_images:
                    on_images(len(items))
            metrics.update(_bit_error_rates(phy, len(names)))
            if keep:
                from .examples import codec_params

                part["examples"] = keep.finish(metrics, codec_params(codec))
            part.update(status="ok", images=names, metrics=metrics, phy=phy,
                        symbols_per_image=symbols, fallback=fallback)
        except Exception as exc:  # noqa: BLE001 - a failing point is recorded, the sweep goes on
            part.update(status="failed", images=names, error=f"{type(exc).__name__}: {exc}",
                        traceback=traceback.format_exc())
        return part


_PHY = ("channel_uses", "bits", "bit_errors", "blocks", "block_errors", "crc_failures")


def _bit_error_rates(phy: dict, num_images: int) -> dict:
    """Per-image BER and BLER over all digital streams (NaN without digital streams)."""
    digital = [d for d in phy.values() if d["kind"] == "digital"]
    if not digital:
        return {"ber": [math.nan] * num_images, "bler": [math.nan] * num_images}
    total = {f: sum(np.asarray(d[f]) for d in digital)
             for f in ("bits", "bit_errors", "blocks", "block_errors")}
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"ber": (total["bit_errors"] / total["bits"]).tolist(),
                "bler": (total["block_errors"] / total["blocks"]).tolist()}


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
            "seed": point.seed, "error": "", "traceback": ""}
