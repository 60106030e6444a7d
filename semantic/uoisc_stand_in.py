"""The UO-ISC stand-in (``stand_in:uoisc``): the codec at its own defaults with seeded random weights.

The stand-in catalog (:mod:`semlink.stand_ins`) is part of the core layer and
knows this entry's name, description and checkpoint file; how to build the
model belongs to the codec, so this module supplies the builders
(:func:`semlink.stand_ins.provide`) when :mod:`semlink.semantic` is imported
(:mod:`~semlink.semantic.builtin` imports it). The configuration is read at
call time from the signature defaults of :func:`~semlink.semantic.uoisc.build_uoisc`
and :class:`~semlink.semantic.uoisc.UOISCModel`, so the stand-in follows the
codec (docs/uoisc.md derives those defaults from Zhang et al., UO-ISC).

Written layout: ``uoisc.pt`` (a ``semlink-uoisc-1`` checkpoint) and
``clip_stand_in.pt`` (the random CLIP ViT-B/16 state dict the checkpoint names).
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path

import torch

from semlink import stand_ins
from semlink.stand_in_builders import cast_state
from semlink.stand_in_configs import OPEN_CLIP_B16

from .uoisc import UOISCModel, build_uoisc, save_uoisc

CLIP_FILE = "clip_stand_in.pt"


def uoisc_default_config(scale: str) -> dict:
    """The UO-ISC build config of the stand-in: the codec's defaults (``"small"``: a narrow CLIP,
    ``dim`` 32, 16 decoder channels, segment length at most 32)."""
    out = {}
    for fn in (build_uoisc, UOISCModel.__init__):
        for name, p in inspect.signature(fn).parameters.items():
            if p.default is not inspect.Parameter.empty and name not in ("clip_config", "frozen"):
                out[name] = list(p.default) if isinstance(p.default, tuple) else p.default
    if scale == "small":
        out["clip_model"] = "semlink-stand-in-ViT-B-16-small"
        out["clip_config"] = OPEN_CLIP_B16["small"]
        out["dim"], out["decoder_channels"] = 32, 16
        out["segment_length"] = min(out.get("segment_length", 32), 32)
    return out


def uoisc_parts(scale: str) -> dict:
    """``{"model": UOISCModel}`` at the codec's defaults with a random, frozen CLIP
    (``pretrained=None``), built on the current default device (``meta`` for counts)."""
    import open_clip

    kw = uoisc_default_config(scale)
    create = open_clip.create_model        # open_clip moves its model to a device: the context's
    open_clip.create_model = functools.partial(create, device=torch.get_default_device())
    try:
        return {"model": build_uoisc(**{**kw, "pretrained": None, "frozen": True})}
    finally:
        open_clip.create_model = create


def write_uoisc(folder: Path, scale: str, dtype: torch.dtype) -> None:
    """A ``semlink-uoisc-1`` checkpoint whose CLIP is a stand-in weights file next to it."""
    config = uoisc_default_config(scale)
    model = uoisc_parts(scale)["model"]
    clip_file = folder / CLIP_FILE
    torch.save(cast_state(model.clip.clip.state_dict(), dtype), clip_file)
    config = {**config, "pretrained": str(clip_file.resolve())}
    save_uoisc(folder / "uoisc.pt", model, config,
               meta={"stand_in": True, "note": "random weights, not trained"})


def point_clip_at(tmp: Path, final: Path) -> None:
    """The checkpoint names its CLIP file by absolute path: point it at the final folder
    (the stand-in is written in a temporary folder, then renamed)."""
    ckpt = torch.load(tmp / "uoisc.pt", map_location="cpu", weights_only=False)
    ckpt["config"]["pretrained"] = str((final / CLIP_FILE).resolve())
    torch.save(ckpt, tmp / "uoisc.pt")


stand_ins.provide("uoisc", parts=uoisc_parts, writer=write_uoisc, finalize=point_clip_at)
