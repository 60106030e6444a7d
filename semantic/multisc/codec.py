"""Multi-SC and its baselines as semlink codecs.

Implements Huang & Li, "Exploring textual semantics diversity for image
transmission ... using visual language model" (the Multi-SC letter, 2x2
split) and its feature-fusion version (object-detection split fused by
eq. 9), Algorithm 1 of both:

Transmitter, per image ``i``:

1. main object ``i_m = N_FCN(i)`` (:mod:`.segment`; ``object_extractor``);
2. parts ``i_1..i_P`` (:mod:`.split`; ``split``: ``grid`` | ``random`` |
   ``detect`` | ``oracle`` | ``none``);
3. one caption per part, ``e_n = F_I2T(q, i_n)`` (the captioner of
   :mod:`semlink.semantic.captioning`, the papers' query by default; cached
   by image content, so every SNR point reuses them);
4. streams: ``text_0 .. text_{max_parts-1}`` (one per part: the papers'
   orthogonal channels; a missing part sends an empty stream) through the
   ``text_transport`` (:mod:`semlink.semantic.text_transport`): caption bits
   on a digital profile, or the captioner's token embeddings (the letter's
   ``e_n``) on an analog profile / quantised on a digital one; and the
   object stream(s) (:mod:`.objects`). Every stream can ride its own PHY
   profile (``profiles:`` in a scenario): unequal protection.

Receiver: captions decoded (bits, or nearest-neighbour tokens of the received
embeddings: the letter's eq. 4), corrected
(``corrector``: ``none`` | ``symspell`` | ``bart``; eq. 5), object decoded, then
Stable Diffusion 1.5 + IP-Adapter (:mod:`semlink.semantic.diffusion`)
regenerates the image from all captions and the object (eq. 6;
``ip_adapter_scale`` = lambda of eq. 10, a grid axis; 0.5 by default, semlink's
choice: neither paper states it). With no object (none found, or its classical
decode failed) the
image is generated from the text alone (lambda = 0).

Side information (error-free, no channel uses): the image size, the length
of each caption (bits or tokens; the power scale of analog embeddings) and
the object codec's own side information. Entries
under ``"_measure"`` (sent captions, boxes, stage timings) are for results
only; the decoder never reads them to reconstruct.

Randomness: diffusion seeds are per image, ``crc32(base/image/diffusion)``
with ``base = seed`` or, when ``seed`` is `None`, the sweep's scenario seed
(``torch.initial_seed() >> 32``, see ``links.sweep.point_seed``). The seed
does not depend on the SNR, so all schemes and all SNR points share the same
noise per image, and error-free received text reuses the cached image.

Per-image results (``Reconstruction.extras["per_image_metrics"]``, stored
by sweeps as metrics): ``parts``, ``object_present``, ``object_failed``,
``diffusion_cached`` and the stage timings ``time_<stage>_s`` for
``extract``, ``split``, ``caption``, ``text_code``, ``object_encode``,
``correct``, ``object_decode``, ``diffusion`` (batched stages are shared
equally among the batch's images).
"""

from __future__ import annotations

import time
import zlib
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from semlink.device import DEFAULT_DEVICE, resolve_device

from ..codec import CODECS, Codec
from ..payload import Payload, ReceivedPayload, Reconstruction, Stream
from ..text_codec import bits_encoding
from . import split as splits
from .objects import ObjectChannel
from .oracle import OracleBoxes

if TYPE_CHECKING:
    from ..captioning import Captioner
    from ..correction import Corrector
    from ..diffusion import StableDiffusion
    from ..text import TextEncoding
    from .detect import Detector

STAGES_TX = ("extract", "split", "caption", "text_code", "object_encode")
STAGES_RX = ("correct", "object_decode", "diffusion")


def _resolve_ip_adapter_scale(value, diffusion: dict, object_codec: str) -> float | None:
    """lambda of a Multi-SC codec: validated, the default when `None`; `None` without an object."""
    from ..diffusion.sd import DEFAULT_IP_ADAPTER_SCALE, check_ip_adapter_scale

    if "scale" in diffusion:
        raise ValueError(
            f"diffusion.scale={diffusion['scale']!r}: the IP-Adapter weight lambda is the codec "
            "parameter ip_adapter_scale (so a scenario can sweep it); move it there, e.g. "
            "params: {ip_adapter_scale: 0.5} or grid: {ip_adapter_scale: [0, 0.5, 1]}")
    if object_codec == "none":
        if value is not None:
            raise ValueError(
                f"ip_adapter_scale={value!r} has no effect with object_codec: none (no object "
                "image: the image is generated from the text alone, lambda = 0); remove it")
        return None
    return check_ip_adapter_scale(DEFAULT_IP_ADAPTER_SCALE if value is None else value,
                                  "ip_adapter_scale")


def image_fingerprint(img: torch.Tensor) -> int:
    """crc32 of the image's 8-bit pixels (keys seeds and caches; not sent)."""
    pixels = (img.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
    return zlib.crc32(pixels.cpu().numpy().tobytes())


@CODECS.register("multisc")
class MultiSCCodec(Codec):
    """Multi-SC (Huang & Li): captions of image parts + main object -> SD 1.5 + IP-Adapter.

    :param split: ``"grid"`` (letter), ``"detect"`` (feature-fusion paper), ``"random"``
        (its random-split baseline), ``"oracle"`` (dataset boxes as the detector), ``"none"``
        (single-text SC).
    :param max_parts: text streams (parts kept after fusion; grid: rows x cols).
    :param grid: ``[rows, cols]`` of the grid split.
    :param eps, eps_unit: fusion threshold (eq. 9), pixels or fraction of the diagonal.
    :param split_fallback: ``"whole"`` or ``"grid"`` when detection finds nothing.
    :param detector: HF object-detection model (e.g. ``"facebook/detr-resnet-50"``) for ``detect``.
    :param detector_threshold: detection score threshold.
    :param oracle_annotations: annotation JSON with boxes for ``oracle`` (COCO instances or
        semlink's ``annotations.json``); images are matched by file name.
    :param random_seed: seed of the random split (per image: with the image's fingerprint).
    :param captioner: ``"llava"``, ``"blip"`` or a model reference; ``query``: its prompt.
    :param max_new_tokens: caption length limit.
    :param text_transport: ``"bits"`` or ``"embedding"`` (the captioner's language-model token
        embeddings; see :mod:`semlink.semantic.text_transport`).
    :param text_encoding: ``bits``: ``"utf8"``, ``"ascii7"`` or ``"tokens:<ref>"``.
    :param text_embedding_model: ``embedding``: another model's table instead of the captioner's.
    :param text_quant_bits, text_quant_clip: ``embedding`` on a digital profile: quantiser bits
        per dimension and clipping range in standard deviations.
    :param text_profile: default profile of every text stream.
    :param object_extractor: ``"fcn"`` or ``"saliency"`` (explicit weight-free fallback).
    :param object_model: FCN weights reference (default torchvision FCN-ResNet50 COCO/VOC).
    :param object_codec: see :data:`.objects.OBJECT_CODECS`; ``object_params`` its parameters.
    :param object_profile: profile of the object stream (default: the inner codec's).
    :param object_size: side of the square the object crop is coded at, pixels.
    :param object_margin, min_object_fraction: main-object rule (see :mod:`.segment`).
    :param corrector: ``"none"``, ``"symspell"``, ``"bart"`` or ``"bart:<ref>"``.
    :param diffusion: keyword arguments of :class:`~semlink.semantic.diffusion.StableDiffusion`
        (``model``, ``ip_adapter``, ``steps``, ``guidance``, ``height``, ``width``,
        ``scheduler``, ``prompt_mode``, ``dtype``, ``batch_size``, ...); lambda is not among
        them: it is ``ip_adapter_scale``.
    :param ip_adapter_scale: the IP-Adapter weight lambda (letter eq. 10, feature-fusion
        paper eq. 12: ``Z_new = Z_text + lambda Z_img``), a number in [0, 1]; `None`:
        :data:`~semlink.semantic.diffusion.sd.DEFAULT_IP_ADAPTER_SCALE` (0.5, semlink's
        choice; neither paper states it). A codec parameter so scenarios can sweep it
        (``grid: {ip_adapter_scale: [0, 0.25, 0.5, 0.75, 1.0]}``). Refused with
        ``object_codec: none`` (no image prompt: lambda has no effect).
    :param output_size: ``"original"`` (resize the generated image to the input size, so
        full-reference metrics compare like with like) or ``"generated"``.
    :param seed: base seed of diffusion noise; `None`: the sweep's scenario seed.
    :param device: torch device of all models.
    """

    name = "multisc"
    deterministic_encode = True

    def __init__(self, split: str = "grid", max_parts: int = 4, grid=(2, 2), eps: float = 0.1,
                 eps_unit: str = "diagonal", split_fallback: str = "whole",
                 detector: str | None = None, detector_threshold: float = 0.7,
                 oracle_annotations: str | None = None, random_seed: int = 0,
                 captioner: str = "llava", query: str | None = None, max_new_tokens: int = 60,
                 text_encoding: str = "utf8", text_profile: str = "default",
                 text_transport: str = "bits", text_embedding_model: str | None = None,
                 text_quant_bits: int | None = None, text_quant_clip: float | None = None,
                 object_extractor: str = "fcn", object_model: str | None = None,
                 object_codec: str = "deepjscc", object_params: dict | None = None,
                 object_profile: str | None = None, object_size: int = 128,
                 object_margin: float = 0.05, min_object_fraction: float = 0.01,
                 corrector: str = "none", diffusion: dict | None = None,
                 ip_adapter_scale: float | None = None,
                 output_size: str = "original", seed: int | None = None,
                 device: str = DEFAULT_DEVICE) -> None:
        device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
        if split not in splits.SPLIT_METHODS:
            raise ValueError(f"split must be one of {splits.SPLIT_METHODS}, got {split!r}")
        if not isinstance(max_parts, int) or isinstance(max_parts, bool) or max_parts < 1:
            raise ValueError(f"max_parts must be an int >= 1, got {max_parts!r}")
        rows, cols = (int(v) for v in grid)
        if split in ("grid", "random") and max_parts < (4 if split == "random" else rows * cols):
            raise ValueError(f"split {split!r} makes {4 if split == 'random' else rows * cols} parts "
                             f"but max_parts={max_parts}; raise max_parts")
        if split == "none":
            max_parts = 1
        if split == "detect" and not detector:
            raise ValueError("split 'detect' needs detector=<HF object-detection model>, e.g. "
                             "'facebook/detr-resnet-50'")
        if split == "oracle" and not oracle_annotations:
            raise ValueError("split 'oracle' needs oracle_annotations=<annotation JSON with boxes>")
        if output_size not in ("original", "generated"):
            raise ValueError(f"output_size must be 'original' or 'generated', got {output_size!r}")
        splits.resolve_eps(eps, eps_unit, 1, 1)            # validates eps / eps_unit
        if split_fallback not in ("whole", "grid"):
            raise ValueError(f"split_fallback must be 'whole' or 'grid', got {split_fallback!r}")
        self.split, self.max_parts, self.grid = split, max_parts, (rows, cols)
        self.eps, self.eps_unit, self.split_fallback = float(eps), eps_unit, split_fallback
        self.detector_ref, self.detector_threshold = detector, float(detector_threshold)
        self.oracle = (OracleBoxes(oracle_annotations) if split == "oracle" and oracle_annotations
                       else None)                  # oracle without annotations refused above
        self.random_seed = int(random_seed)
        self.captioner_ref, self.max_new_tokens = captioner, int(max_new_tokens)
        self.query = query
        self.text_encoding_spec = text_encoding
        self.object_extractor_name, self.object_model = object_extractor, object_model
        self.object_margin, self.min_object_fraction = float(object_margin), float(min_object_fraction)
        self.corrector_spec = corrector
        self.diffusion_kwargs = dict(diffusion or {})
        self.ip_adapter_scale = _resolve_ip_adapter_scale(ip_adapter_scale, self.diffusion_kwargs,
                                                          object_codec)
        self.output_size, self.seed, self.device = output_size, seed, device
        if object_codec != "none" and object_extractor not in ("fcn", "saliency"):
            raise ValueError(f"object_extractor must be 'fcn' or 'saliency', got {object_extractor!r}")
        self.objects = ObjectChannel(object_codec, object_params, object_size,
                                     embedder=self._embed if object_codec == "clip_embed" else None,
                                     device=device)
        from ..correction import check_corrector_transport
        from ..text_transport import embedding_table_loader, make_transport

        self.text_embedding_model = text_embedding_model
        table = embedding_table_loader(text_transport, text_embedding_model,
                                       lambda: self.captioner, self.device)
        self.text_transport = make_transport(text_transport, text_encoding, table,
                                             text_embedding_model or captioner,
                                             text_quant_bits, text_quant_clip)
        check_corrector_transport(corrector, self.text_transport.signature())
        self.text_streams = [f"text_{k}" for k in range(self.max_parts)]
        self.stream_kinds = {**{s: self.text_transport.kind for s in self.text_streams},
                             **{o: kind for o, (kind, _) in self.objects.streams.items()}}
        self.stream_profiles = {**{s: text_profile for s in self.text_streams},
                                **{o: object_profile or prof
                                   for o, (_, prof) in self.objects.streams.items()}}
        self.objects.bind({o: self.stream_profiles[o] for o in self.objects.streams})
        self._extractor: Any = None
        self._captioner: Captioner | None = None
        self._corrector: Corrector | None = None
        self._sd: StableDiffusion | None = None
        self._detector: Detector | None = None
        self._names: list | None = None

    # ---------------------------------------------------------------- models --

    def bind_profiles(self, mapping: dict[str, str] | None) -> None:
        super().bind_profiles(mapping)
        if hasattr(self, "objects"):
            self.objects.bind({o: self.stream_profiles[o] for o in self.objects.streams})

    def check_profiles(self, profiles: dict[str, dict]) -> None:
        """Refuse text streams bound to a profile kind the text transport cannot ride."""
        for s in self.text_streams:
            if s in profiles:
                self.text_transport.check_kind(profiles[s].get("kind", "digital"), f"stream {s!r}")

    def attach_phy(self, chains: dict) -> None:
        from semlink.phy import AnalogChain

        self.check_profiles({s: {"kind": "analog" if isinstance(chains[s], AnalogChain) else "digital"}
                             for s in self.text_streams if s in chains})
        self.objects.attach_phy({o: chains[o] for o in self.objects.streams if o in chains})

    def encode_key(self):
        return self.objects.encode_key()

    @property
    def extractor(self):
        if self._extractor is None:
            from .segment import make_extractor

            self._extractor = make_extractor(self.object_extractor_name, self.object_model,
                                             self.device, self.min_object_fraction, self.object_margin)
        return self._extractor

    @property
    def captioner(self):
        if self._captioner is None:
            from ..captioning import PAPER_QUERY, Captioner

            self._captioner = Captioner(self.captioner_ref, query=self.query or PAPER_QUERY,
                                        max_new_tokens=self.max_new_tokens, device=self.device)
        return self._captioner

    @property
    def corrector(self):
        if self._corrector is None:
            from ..correction import make_corrector

            self._corrector = make_corrector(self.corrector_spec, device=self.device)
        return self._corrector

    @property
    def diffusion(self):
        if self._sd is None:
            from ..diffusion import StableDiffusion

            kw = {"device": self.device, **self.diffusion_kwargs}
            if self.ip_adapter_scale is not None:
                kw["scale"] = self.ip_adapter_scale
            if self.objects.name == "none":
                kw.setdefault("ip_adapter", None)
            self._sd = StableDiffusion(**kw)
        return self._sd

    @property
    def detector(self):
        if self._detector is None:
            from .detect import Detector

            assert self.detector_ref is not None        # split 'detect' without a detector is refused
            self._detector = Detector(self.detector_ref, self.detector_threshold, self.device)
        return self._detector

    def _embed(self, images):
        return self.diffusion.embed_images(images)

    @classmethod
    def declared_models(cls, params: dict) -> list[tuple[str, str]]:
        """Captioner, detector (``split: detect``), FCN, corrector, tokenizer, SD 1.5 and
        IP-Adapter (its image encoder inside) named by ``params`` or the defaults."""
        from ..captioning import SHORTCUTS
        from ..codec import text_models
        from ..diffusion.sd import DEFAULT_IP_ADAPTER, DEFAULT_SD
        from .segment import DEFAULT_FCN

        p = cls.param_defaults(params)
        out = [("captioner", SHORTCUTS.get(p["captioner"], p["captioner"]))]
        if p.get("split") == "detect" and p.get("detector"):
            out.append(("detector", p["detector"]))
        has_object = p.get("object_codec", "none") != "none"
        if has_object and p.get("object_extractor") == "fcn":
            out.append(("segmentation", p.get("object_model") or DEFAULT_FCN))
        out += text_models(p.get("corrector"), p.get("text_encoding"),
                           p.get("text_transport", "bits"), p.get("text_embedding_model"))
        diff = dict(p.get("diffusion") or {})
        out.append(("diffusion", diff.get("model", DEFAULT_SD)))
        ip = diff.get("ip_adapter", DEFAULT_IP_ADAPTER if has_object else None)
        if ip:
            out.append(("diffusion.ip_adapter", ip))
        return out

    def params(self) -> dict:
        """Resolved parameters (models are described once loaded, see :meth:`describe_models`)."""
        return {"split": self.split, "max_parts": self.max_parts, "grid": list(self.grid),
                "eps": self.eps, "eps_unit": self.eps_unit, "split_fallback": self.split_fallback,
                "detector": self.detector_ref, "detector_threshold": self.detector_threshold,
                "oracle_annotations": None if self.oracle is None else self.oracle.path,
                "random_seed": self.random_seed, "captioner": self.captioner_ref,
                "query": self.query, "max_new_tokens": self.max_new_tokens,
                "text_transport": self.text_transport.describe(),
                "object_extractor": None if self.objects.name == "none" else self.object_extractor_name,
                "object_model": self.object_model, "object": self.objects.describe(),
                "object_margin": self.object_margin, "min_object_fraction": self.min_object_fraction,
                "corrector": self.corrector_spec, "diffusion": self.diffusion_kwargs,
                "ip_adapter_scale": self.ip_adapter_scale,
                "output_size": self.output_size, "seed": self.seed}

    def models(self) -> list:
        """ModelRecords of every model loaded so far (object extractor, captioner,
        detector, corrector, diffusion); sweeps record them after a point ran."""
        out = []
        record = getattr(self._extractor, "record", None)
        if record is not None:
            out.append(record)
        if self._captioner is not None and self._captioner._loaded is not None:
            out.append(self._captioner.record())
        if self._detector is not None:
            out.append(self._detector.record)
        if self._corrector is not None:
            out += list(self._corrector.records())
        out += [r for r in self._transport_records() if r not in out]
        if self._sd is not None:
            out += list(self._sd.records)
        return out

    @property
    def text_encoding(self) -> TextEncoding:
        """The text encoding of the ``bits`` transport (loads a ``tokens:`` tokenizer)."""
        return bits_encoding(self.text_transport, "multisc")

    def _transport_records(self) -> list:
        """Records of the text transport's tokenizer / embedding table, once loaded."""
        return self.text_transport.loaded_records()

    def describe_models(self) -> dict:
        """Model records of every model loaded so far (JSON-able)."""
        out: dict = {}
        if self._extractor is not None:
            out["object_extractor"] = self._extractor.describe()
        if self._captioner is not None and self._captioner._loaded is not None:
            out["captioner"] = self._captioner.record().to_dict()
        if self._sd is not None:
            out["diffusion"] = self._sd.describe()
        if self._detector is not None:
            out["detector"] = self._detector.record.to_dict()
        return out

    # ----------------------------------------------------------------- split --

    def _split(self, img: torch.Tensor, fp: int, name: str | None) -> splits.Split:
        h, w = img.shape[-2:]
        if self.split == "grid":
            return splits.grid_split(h, w, *self.grid)
        if self.split == "random":
            return splits.random_split(h, w, zlib.crc32(f"{self.random_seed}/{fp}".encode()))
        if self.split == "none":
            return splits.none_split(h, w)
        if self.split == "oracle":
            assert self.oracle is not None             # built for split 'oracle'
            boxes = self.oracle.boxes_for(name, h, w)
        else:
            boxes = self.detector.boxes(img)
        return splits.fusion_split(boxes, h, w, self.eps, self.eps_unit, self.max_parts,
                                   self.split_fallback, method=self.split)

    # ---------------------------------------------------------------- encode --

    def encode_items(self, items: list) -> Payload:
        """Encode dataset items (their names give the ``oracle`` split its boxes)."""
        self._names = [it.name for it in items]
        try:
            return self.encode([it.image for it in items])
        finally:
            self._names = None

    def encode(self, images, queries=None) -> Payload:
        if not images:
            raise ValueError("images must be a non-empty list of [3, H, W] tensors")
        names = self._names or [None] * len(images)
        if self.split == "oracle" and self._names is None:
            raise ValueError("split 'oracle' needs image names: encode through encode_items(items) "
                             "(sweeps do), not encode(images)")
        n = len(images)
        t = {s: 0.0 for s in STAGES_TX}
        fps = [image_fingerprint(img) for img in images]
        t0 = time.perf_counter()
        objects = [None] * n
        if self.objects.name != "none":
            objects = [self.extractor(img) for img in images]
        t["extract"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        parts = [self._split(img, fp, name) for img, fp, name in zip(images, fps, names, strict=True)]
        t["split"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        crops = [splits.crop(img, b) for img, p in zip(images, parts, strict=True) for b in p.boxes]
        flat = self.captioner.caption(crops)
        t["caption"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        captions, k = [], 0
        for p in parts:
            captions.append(flat[k:k + len(p.boxes)])
            k += len(p.boxes)
        text_data: dict[str, list] = {s: [] for s in self.text_streams}
        text_side = []
        tr = self.text_transport
        empty_dtype = torch.uint8 if tr.kind == "digital" else torch.complex64
        for caps in captions:
            coded = [tr.encode(c) for c in caps]
            text_side.append([c[1] for c in coded])
            for j, s in enumerate(self.text_streams):
                text_data[s].append(coded[j][0] if j < len(coded)
                                    else torch.zeros(0, dtype=empty_dtype, device="cpu"))
        t["text_code"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        obj_crops = [None if o is None or o.empty else splits.crop(img, o.box)
                     for img, o in zip(images, objects, strict=True)]
        obj_streams, obj_side = self.objects.encode(
            obj_crops, {o: self.stream_profiles[o] for o in self.objects.streams})
        t["object_encode"] = time.perf_counter() - t0
        streams = {s: Stream(tr.kind, text_data[s], self.stream_profiles[s]) for s in self.text_streams}
        streams.update(obj_streams)
        side = []
        for i, img in enumerate(images):
            o = objects[i]
            side.append({
                "size": list(img.shape[-2:]), "text_side": text_side[i],
                "text_bits": [int(text_data[s][i].numel()) for s in self.text_streams[:len(text_side[i])]],
                "object": obj_side[i],
                "_measure": {"fingerprint": fps[i], "captions": captions[i],
                             "boxes": [list(map(int, b)) for b in parts[i].boxes],
                             "split_fallback": parts[i].fallback, "split_stats": parts[i].stats,
                             "object_box": None if o is None or o.empty else list(o.box),
                             "object_extractor": None if o is None else o.extractor,
                             "object_empty": o is None or o.empty,
                             "timing": {f"time_{s}_s": v / n for s, v in t.items()}}})
        return Payload(streams, side)

    # ---------------------------------------------------------------- decode --

    def _base_seed(self) -> int:
        return int(self.seed) if self.seed is not None else int(torch.initial_seed()) >> 32

    def decode(self, received: ReceivedPayload) -> Reconstruction:
        n = received.num_images
        side = received.side_info
        t = {s: 0.0 for s in STAGES_RX}
        raw = []
        for i in range(n):
            raw.append([self.text_transport.decode(received.streams[self.text_streams[j]].data[i], sd)
                        for j, sd in enumerate(side[i]["text_side"])])
        t0 = time.perf_counter()
        flat = self.corrector.correct([c for caps in raw for c in caps]) if any(raw) else []
        corrected, k = [], 0
        for caps in raw:
            corrected.append(list(flat[k:k + len(caps)]))
            k += len(caps)
        t["correct"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        objs, failed = self.objects.decode(received, [s["object"] for s in side])
        t["object_decode"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        from ..diffusion import GenerationRequest

        base = self._base_seed()
        reqs = []
        for i in range(n):
            fp = side[i].get("_measure", {}).get("fingerprint", i)
            seed = zlib.crc32(f"{base}/{fp}/diffusion".encode())
            obj = None if failed[i] else objs[i]
            is_embed = self.objects.name == "clip_embed"
            reqs.append(GenerationRequest(corrected[i], seed,
                                          image_prompt=None if is_embed else obj,
                                          image_embed=obj if is_embed else None))
        cached = [float(self.diffusion.is_cached(r)) for r in reqs]
        images = self.diffusion.generate(reqs)
        t["diffusion"] = time.perf_counter() - t0
        if self.output_size == "original":
            images = [F.interpolate(img[None], size=tuple(s["size"]), mode="bilinear",
                                    align_corners=False, antialias=True)[0].clamp(0, 1)
                      if tuple(img.shape[-2:]) != tuple(s["size"]) else img
                      for img, s in zip(images, side, strict=True)]
        per_image = {"parts": [float(len(s["text_side"])) for s in side],
                     "object_present": [float(s["object"] is not None) for s in side],
                     "object_failed": [float(f) for f in failed], "diffusion_cached": cached}
        for s in STAGES_TX:
            per_image[f"time_{s}_s"] = [x.get("_measure", {}).get("timing", {}).get(f"time_{s}_s", 0.0)
                                        for x in side]
        for s, v in t.items():
            per_image[f"time_{s}_s"] = [v / n] * n
        sent = [s.get("_measure", {}).get("captions") for s in side]
        return Reconstruction(images=images, texts=corrected, fallback=[bool(f) for f in failed],
                              extras={"captions": corrected, "received_captions": raw,
                                      "sent_texts": sent, "per_image_metrics": per_image})
