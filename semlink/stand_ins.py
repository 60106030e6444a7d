"""Stand-in models: every model a scenario can name, at its published size, with seeded random weights.

No pretrained weights can be fetched on some machines, yet shapes, memory
and time do not depend on the weights' values. A stand-in is the published
architecture (configuration shipped in :mod:`semlink.stand_in_configs`, no
weights) with random weights drawn from a seed, written once in the real
checkpoint's on-disk layout so every loader takes it unchanged.

A scenario asks for one with a model reference (see :mod:`semlink.models`)::

    stand_in:NAME            # published size, seed 0
    stand_in:NAME:small      # same classes, reduced width (CPU benchmarks, tests)
    stand_in:NAME:full:SEED  # another seed

e.g. ``diffusion: {model: "stand_in:sd15", ip_adapter: "stand_in:ip-adapter-sd15"}``,
``captioner: "stand_in:llava-interleave-qwen-0.5b"``,
``corrector: "bart:stand_in:bart-base"``,
``checkpoint: "stand_in:uoisc"``. With ``SEMLINK_STAND_INS=1`` (or
:func:`semlink.models.set_stand_ins`) every real reference that has a stand-in
(:attr:`StandIn.stands_in_for`) resolves to it: a scenario written for the
real models runs unchanged at real size.

The folder is built on first use under ``$SEMLINK_MODELS/stand_in/NAME-SCALE-seedSEED``
(full scale stored in fp16: halves the disk; loaders cast) and carries
:data:`STAND_IN_MARKER`; every :class:`~semlink.provenance.ModelRecord` of a
model loaded from it says ``random_init=True`` and names the stand-in and its
seed (``extra["stand_in"]``), so summaries and plots say RANDOM INIT.

Tokenizers have the real vocabulary sizes; only CLIP's is the real tokenizer
(see :mod:`semlink.stand_in_tokenizers`).

:func:`param_counts` builds a stand-in on the meta device (no memory, seconds)
and counts its parameters per part; :func:`weight_bytes` is what its weights
take on a device at a dtype (the pre-run memory check uses it).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from . import stand_in_builders as B
from .provenance import STAND_IN_MARKER, stand_in_info  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

PREFIX = "stand_in:"
SCALES = ("full", "small")


@dataclass(frozen=True)
class StandIn:
    """One model semlink can stand in for.

    :param name: the stand-in's name (``stand_in:NAME``).
    :param stands_in_for: the real model references it replaces.
    :param description: what the real model is.
    :param published: part -> (published parameter count, source); a count of `None`
        means no total is published (the test checks the config-derived count).
    :param parts: ``scale -> {part: nn.Module}`` builder (call under a device context);
        `None` until the layer named by ``provided_by`` supplies it (:func:`provide`).
    :param writer: ``(folder, scale, dtype)`` -> writes the checkpoint layout (same rule).
    :param entry: path inside the folder the reference resolves to (`""`: the folder).
    :param params: total parameters at full scale as built from the configuration
        (tests check it against :func:`param_counts`; `None`: follows the codec's
        defaults, counted on demand). Memory checks use it without building anything.
    :param finalize: ``(tmp_folder, final_folder)`` -> fixes what names the final folder,
        after the writer and before the rename (`None`: nothing to fix).
    :param provided_by: the module that supplies ``parts``/``writer`` when they are built
        by a layer above this one (the UO-ISC stand-in is the codec's model: built by
        :mod:`semlink.semantic.uoisc_stand_in`, imported with :mod:`semlink.semantic`).
    """

    name: str
    stands_in_for: tuple[str, ...]
    description: str
    published: dict
    parts: Callable[..., Any] | None
    writer: Callable[..., Any] | None
    entry: str = ""
    params: int | None = None
    finalize: Callable[..., Any] | None = None
    provided_by: str = ""


CATALOG: dict[str, StandIn] = {s.name: s for s in (
    StandIn("sd15", ("stable-diffusion-v1-5/stable-diffusion-v1-5", "runwayml/stable-diffusion-v1-5"),
            "Stable Diffusion 1.5 (UNet, VAE, CLIP ViT-L/14 text encoder, CLIP tokenizer, PNDM)",
            {"unet": (859_520_964, "SD 1.5 model card / diffusers UNet2DConditionModel: 859.52 M"),
             "vae": (83_653_863, "SD VAE (kl-f8) as loaded by diffusers AutoencoderKL: 83.65 M"),
             "text_encoder": (123_060_480,
                              "CLIP ViT-L/14 text tower (openai/clip-vit-large-patch14): 123.06 M")},
            B.sd15_parts, B.write_sd15, params=1_066_235_307),
    StandIn("ip-adapter-sd15", ("h94/IP-Adapter",),
            "IP-Adapter for SD 1.5 (ip-adapter_sd15) with its OpenCLIP ViT-H/14 image encoder",
            {"adapter": (22_000_000, "Ye et al. 2023, IP-Adapter, Sec. 1/4: 'only 22M parameters'"),
             "image_encoder": (632_080_000, "open_clip model profile, ViT-H-14 image tower "
                                            "(projection included): 632.08 M")},
            B.ip_adapter_parts, B.write_ip_adapter, params=654_396_416),
    StandIn("llava-interleave-qwen-0.5b", ("llava-hf/llava-interleave-qwen-0.5b-hf",),
            "LLaVA-Interleave (SigLIP-so400m vision, Qwen1.5-0.5B LM), captioner and judge",
            {"model": (None, "config.json of llava-hf/llava-interleave-qwen-0.5b-hf (no total "
                             "published on its card that could be checked offline)")},
            B.llava_qwen05_parts, B.write_llava_qwen05, params=864_031_264),
    StandIn("llava-1.5-7b", ("llava-hf/llava-1.5-7b-hf", "liuhaotian/llava-v1.5-7b"),
            "LLaVA-1.5-7B (CLIP ViT-L/14-336 vision, Vicuna-7B LM)",
            {"model": (7_060_000_000, "llava-hf/llava-1.5-7b-hf model card: 7.06 B; LLaMA-7B "
                                      "6.74 B (Touvron et al. 2023) + CLIP ViT-L/14-336 vision "
                                      "0.30 B + projector")},
            B.llava15_7b_parts, B.write_llava15_7b, params=7_063_427_072),
    StandIn("blip-base", ("Salesforce/blip-image-captioning-base",),
            "BLIP base captioner (ViT-B/16 384 px + BERT-base decoder), VLM-CSC's captioner",
            {"model": (247_000_000, "Salesforce/blip-image-captioning-base model card: 247 M "
                                    "(stored tensors: the tied decoder embedding counted twice; "
                                    "224 M unique parameters)")},
            B.blip_parts, B.write_blip, params=223_971_644),
    StandIn("bart-base", ("facebook/bart-base",),
            "BART base (6+6 layers, d=768), the receiver's caption corrector",
            {"model": (140_000_000, "Lewis et al. 2020, BART, Sec. 2.1 / fairseq README: 140 M")},
            B.bart_parts, B.write_bart, params=139_420_416),
    StandIn("clip-vit-b-32", ("openai/clip-vit-base-patch32",),
            "CLIP ViT-B/32 (transformers CLIPModel), clip_similarity metric",
            {"model": (151_277_313, "openai/clip-vit-base-patch32 (151.28 M; open_clip model "
                                    "profile ViT-B-32: 151.28 M)")},
            B.clip_b32_parts, B.write_clip_b32, params=151_277_313),
    StandIn("clip-vit-b-16", ("open_clip:ViT-B-16:openai",),
            "CLIP ViT-B/16 (open_clip), UO-ISC's backbone",
            {"model": (149_620_737, "open_clip model profile ViT-B-16: 149.62 M")},
            B.open_clip_b16_parts, B.write_open_clip_b16, entry="open_clip_model.pt",
            params=149_620_737),
    StandIn("detr-resnet50", ("facebook/detr-resnet-50",),
            "DETR with a ResNet-50 backbone, the feature-fusion split's detector",
            {"model": (41_000_000, "Carion et al. 2020, DETR, Table 1: 41 M")},
            B.detr_parts, B.write_detr, params=41_524_768),
    StandIn("fcn-resnet50", ("torchvision:FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1",),
            "FCN-ResNet50 (21 VOC classes, auxiliary head), Multi-SC's main-object extractor",
            {"model": (35_322_218, "torchvision docs, FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1: "
                                   "num_params 35,322,218")},
            B.fcn_parts, B.write_fcn, params=35_322_218),
    StandIn("alexnet", ("torchvision:AlexNet_Weights.IMAGENET1K_V1",),
            "AlexNet (LPIPS v0.1's backbone)",
            {"model": (61_100_840, "torchvision docs, AlexNet_Weights.IMAGENET1K_V1: num_params "
                                   "61,100,840")},
            B.alexnet_parts, B.write_alexnet, entry="alexnet.pth",
            params=61_100_840),
    StandIn("uoisc", (),
            "UO-ISC at the codec's default size (CLIP ViT-B/16 + projections, FiLM, VQ, decoder)",
            {"model": (None, "no published count: CLIP ViT-B/16 149.62 M + UO-ISC's own modules "
                             "at the codec's defaults (checked in closed form)")},
            None, None, entry="uoisc.pt", provided_by="semlink.semantic.uoisc_stand_in"),
)}

#: real reference -> stand-in name
STANDS_IN_FOR = {ref: s.name for s in CATALOG.values() for ref in s.stands_in_for}


class UnknownStandIn(ValueError):
    """A stand-in name semlink has no configuration for."""


@dataclass(frozen=True)
class StandInRef:
    """A parsed ``stand_in:NAME[:SCALE[:SEED]]`` reference."""

    name: str
    scale: str = "full"
    seed: int = 0

    def __str__(self) -> str:
        tail = "" if (self.scale, self.seed) == ("full", 0) else f":{self.scale}"
        return f"{PREFIX}{self.name}{tail}{f':{self.seed}' if self.seed else ''}"

    @property
    def folder_name(self) -> str:
        return f"{self.name}-{self.scale}-seed{self.seed}"


def get(name: str) -> StandIn:
    """The catalog entry of ``name``; unknown names list the known ones."""
    if name not in CATALOG:
        raise UnknownStandIn(f"no stand-in configuration for {name!r}; known stand-ins: "
                             f"{', '.join(sorted(CATALOG))} (use 'stand_in:NAME', e.g. "
                             "'stand_in:sd15', or 'stand_in:NAME:small')")
    return CATALOG[name]


def provide(name: str, parts, writer, finalize=None) -> None:
    """Supply the builders of catalog entry ``name`` from the layer that owns the model.

    Only for entries with ``provided_by`` (the catalog keeps their name, size and
    layout, so references parse and are listed before that layer is imported).
    Supplying the same functions again is a no-op; different ones are refused.
    """
    entry = get(name)
    if not entry.provided_by:
        raise ValueError(f"stand-in {name!r} is built by semlink.stand_in_builders; "
                         "provide() is only for entries with provided_by")
    if entry.parts is not None and (entry.parts, entry.writer) != (parts, writer):
        raise ValueError(f"stand-in {name!r} already has its builders from {entry.provided_by}")
    CATALOG[name] = replace(entry, parts=parts, writer=writer, finalize=finalize)


def _built(name: str) -> StandIn:
    entry = get(name)
    if entry.parts is None or entry.writer is None:
        raise RuntimeError(f"stand-in {name!r} is built by {entry.provided_by}, which is not "
                           "imported yet: import semlink.semantic (it registers the codec's "
                           "stand-ins) before building it")
    return entry


def parse(spec: str) -> StandInRef:
    """``"NAME[:SCALE[:SEED]]"`` (without the ``stand_in:`` prefix) -> :class:`StandInRef`."""
    parts = str(spec).split(":")
    if not parts[0] or len(parts) > 3:
        raise ValueError(f"stand-in reference 'stand_in:{spec}' must be 'stand_in:NAME', "
                         "'stand_in:NAME:SCALE' or 'stand_in:NAME:SCALE:SEED'")
    get(parts[0])
    scale = parts[1] if len(parts) > 1 else "full"
    if scale not in SCALES:
        raise ValueError(f"stand-in scale must be one of {SCALES}, got {scale!r} in "
                         f"'stand_in:{spec}'")
    try:
        seed = int(parts[2]) if len(parts) > 2 else 0
    except ValueError:
        raise ValueError(f"stand-in seed must be an int >= 0, got {parts[2]!r} in "
                         f"'stand_in:{spec}'") from None
    if seed < 0:
        raise ValueError(f"stand-in seed must be >= 0, got {seed} in 'stand_in:{spec}'")
    return StandInRef(parts[0], scale, seed)


def build(name: str, scale: str = "full", device: str | torch.device = "meta") -> dict:
    """``{part: nn.Module}`` of a stand-in built on ``device`` (default ``meta``: no memory)."""
    entry = _built(name)
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    assert entry.parts is not None                   # _built checked it
    with torch.device(device):
        return entry.parts(scale)


def param_counts(name: str, scale: str = "full") -> dict[str, int]:
    """Parameters per part (unique tensors: tied weights counted once), built on the meta device."""
    return {part: sum(p.numel() for p in m.parameters()) for part, m in build(name, scale).items()}


def total_params(name: str, scale: str = "full") -> int:
    """Total parameters: the catalog's figure at full scale, else counted on the meta device."""
    entry = get(name)
    if scale == "full" and entry.params is not None:
        return entry.params
    return sum(param_counts(name, scale).values())


def weight_bytes(name: str, scale: str = "full", dtype: torch.dtype = torch.float16) -> int:
    """Bytes the stand-in's weights take on a device at ``dtype``."""
    item = torch.empty((), dtype=dtype, device="meta").element_size()
    return total_params(name, scale) * item


def materialize(ref: StandInRef, root: str | Path) -> Path:
    """Write the stand-in's folder under ``root`` (once; later calls reuse it); returns the path
    the reference resolves to (the folder, or its :attr:`StandIn.entry` file)."""
    entry = _built(ref.name)
    folder = Path(root) / ref.folder_name
    if not (folder / STAND_IN_MARKER).is_file():
        # each process builds in its own folder and renames it into place (Ray workers may
        # build the same stand-in at once: the first rename wins, the others are dropped)
        tmp = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        dtype = torch.float16 if ref.scale == "full" else torch.float32
        log.info("building stand-in %s (%s, seed %d) in %s", ref.name, ref.scale, ref.seed, folder)
        with torch.random.fork_rng(devices=[]):      # the caller's RNG (and initial_seed) untouched
            torch.manual_seed(ref.seed)
            assert entry.writer is not None          # _built checked it
            entry.writer(tmp, ref.scale, dtype)
        (tmp / STAND_IN_MARKER).write_text(json.dumps({
            "stand_in": ref.name, "scale": ref.scale, "seed": ref.seed,
            "stands_in_for": list(entry.stands_in_for), "random_init": True,
            "storage_dtype": str(dtype).replace("torch.", ""),
            "note": "published architecture with seeded RANDOM weights, not a pretrained model"},
            indent=1))
        if entry.finalize is not None:
            entry.finalize(tmp, folder)
        if (folder / STAND_IN_MARKER).is_file():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)     # a half-written folder of a killed build
            try:
                tmp.rename(folder)
            except OSError:                               # another process renamed first
                shutil.rmtree(tmp, ignore_errors=True)
                if not (folder / STAND_IN_MARKER).is_file():
                    raise
    return folder / entry.entry if entry.entry else folder
