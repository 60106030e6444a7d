"""The object stream of Multi-SC: how the main-object crop ``i_m`` crosses the channel.

The papers send "a slice of the main part of the image" without saying how
it is coded; :data:`OBJECT_CODECS` makes that a choice:

* ``deepjscc`` (default): the shipped deep JSCC checkpoint (analog stream);
* ``hevc_intra`` (the codec inside BPG) or ``jpeg2000``, + the digital profile's LDPC;
* ``analog``: ``analog_pixels`` (uncoded linear pixels, analog stream);
* ``clip_embed``: the IP-Adapter's CLIP image embedding itself (the adapter's
  input), ``D`` reals as ``D/2`` complex analog symbols at unit average power;
  the per-image scale is side information;
* ``none``: no object stream (VLM-CSC, text-only ablations).

The crop is letterboxed (padded with mid-grey) to a square and resized to
``object_size`` x ``object_size`` pixels before coding, so every image's
object stream has the same size for the pixel codecs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ..payload import ReceivedPayload, Stream

if TYPE_CHECKING:
    from ..codec import Codec

OBJECT_CODECS = ("deepjscc", "hevc_intra", "jpeg2000", "analog", "clip_embed", "none")
_REGISTERED = {"deepjscc": "deepjscc", "hevc_intra": "hevc_intra", "jpeg2000": "jpeg2000",
               "analog": "analog_pixels"}


def letterbox(img: torch.Tensor, size: int) -> torch.Tensor:
    """[3, h, w] -> [3, size, size]: pad to a square with 0.5 (centred), then area/bilinear resize."""
    _, h, w = img.shape
    side = max(h, w)
    out = torch.full((3, side, side), 0.5, dtype=img.dtype, device=img.device)
    y0, x0 = (side - h) // 2, (side - w) // 2
    out[:, y0:y0 + h, x0:x0 + w] = img
    mode = "area" if side > size else "bilinear"
    kw = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(out[None], size=(size, size), mode=mode, **kw)[0].clamp(0, 1)


class ObjectChannel:
    """Wraps an inner codec for the object crop; images without an object send nothing.

    :param name: one of :data:`OBJECT_CODECS`.
    :param params: parameters of the inner codec (e.g. ``{"ratio": 1/6}`` for deep JSCC,
        ``{"rate_bpp": 0.5}`` for HEVC-intra).
    :param size: side of the square the crop is letterboxed and resized to.
    :param embedder: for ``clip_embed``: a callable ``list[[3, h, w]] -> [N, D]`` tensor.
    :param device: the Multi-SC codec's device, given to an inner codec that takes one
        (``deepjscc``) unless ``params`` names its own; without it such a codec would follow
        the ``auto`` default (a GPU) while Multi-SC runs where it was asked to.
    """

    def __init__(self, name: str, params: dict | None = None, size: int = 128, embedder=None,
                 device: str | None = None) -> None:
        if name not in OBJECT_CODECS:
            raise ValueError(f"object_codec must be one of {OBJECT_CODECS}, got {name!r}")
        if not isinstance(size, int) or size < 8:
            raise ValueError(f"object_size must be an int >= 8, got {size!r}")
        self.name, self.size, self.params = name, size, dict(params or {})
        self.embedder = embedder
        self.inner: Codec | None = None
        if name in _REGISTERED:
            import inspect

            from ..codec import CODECS, make_codec

            inner_params = dict(self.params)
            if device is not None and "device" in inspect.signature(
                    CODECS.get(_REGISTERED[name])).parameters:
                inner_params.setdefault("device", device)
            self.inner = make_codec(_REGISTERED[name], inner_params)
        elif name == "clip_embed" and self.params:
            raise ValueError(f"object_codec 'clip_embed' takes no object_params, got {self.params}")

    def _inner_codec(self) -> Codec:
        """The registered codec that carries the crops (every object codec but clip_embed/none)."""
        if self.inner is None:
            raise RuntimeError(f"object codec {self.name!r} has no inner codec")
        return self.inner

    # stream names as seen by the Multi-SC payload
    @property
    def streams(self) -> dict[str, tuple[str, str]]:
        """Outer stream name -> (kind, default profile)."""
        if self.name == "none":
            return {}
        if self.name == "clip_embed":
            return {"object": ("analog", "analog")}
        inner = self._inner_codec()
        names = list(inner.stream_profiles)
        outer = ["object"] if len(names) == 1 else [f"object_{n}" for n in names]
        return {o: (inner.stream_kinds[n], inner.stream_profiles[n])
                for o, n in zip(outer, names, strict=True)}

    def _inner_name(self, outer: str) -> str:
        names = list(self._inner_codec().stream_profiles)
        return names[0] if outer == "object" else outer[len("object_"):]

    def bind(self, profiles: dict[str, str]) -> None:
        """Outer stream -> profile, forwarded to the inner codec."""
        if self.inner is not None:
            self.inner.bind_profiles({self._inner_name(o): p for o, p in profiles.items()})

    def attach_phy(self, chains: dict) -> None:
        if self.inner is not None:
            self.inner.attach_phy({self._inner_name(o): c for o, c in chains.items()})

    def encode_key(self):
        return None if self.inner is None else self.inner.encode_key()

    def describe(self) -> dict:
        d = {"codec": self.name, "size": self.size, "params": self.params}
        if self.inner is not None:
            d["resolved"] = self.inner.params()
        return d

    def encode(self, crops: list, profiles: dict[str, str]):
        """``crops``: per image a [3, h, w] crop or `None` -> (streams, per-image side info)."""
        n = len(crops)
        present = [i for i, c in enumerate(crops) if c is not None]
        streams = {o: Stream(kind, [_empty(kind) for _ in range(n)], profiles[o])
                   for o, (kind, _) in self.streams.items()}
        side: list[dict | None] = [None] * n
        if not present or self.name == "none":
            return streams, side
        boxed = [letterbox(crops[i], self.size) for i in present]
        if self.name == "clip_embed":
            emb = self.embedder(boxed).float().cpu()                      # [N, D]
            for i, e in zip(present, emb, strict=True):
                sym, scale = _reals_to_symbols(e)
                streams["object"].data[i] = sym
                side[i] = {"scale": scale, "dim": int(e.numel())}
            return streams, side
        payload = self._inner_codec().encode(boxed)
        for o in self.streams:
            data = payload.streams[self._inner_name(o)].data
            for i, d in zip(present, data, strict=True):
                streams[o].data[i] = d
        for i, s in zip(present, payload.side_info, strict=True):
            side[i] = s
        return streams, side

    def decode(self, received: ReceivedPayload, side: list) -> tuple[list, list]:
        """-> (per image: object image [3, size, size] / CLIP embedding [D] / `None`, failed flags)."""
        n = received.num_images
        present = [i for i in range(n) if side[i] is not None]
        out: list = [None] * n
        failed = [False] * n
        if not present:
            return out, failed
        if self.name == "clip_embed":
            for i in present:
                out[i] = _symbols_to_reals(received.streams["object"].data[i], side[i])
            return out, failed
        streams = {self._inner_name(o): Stream(received.streams[o].kind,
                                               [received.streams[o].data[i] for i in present],
                                               received.streams[o].profile)
                   for o in self.streams}
        sub = ReceivedPayload(streams, [side[i] for i in present], {}, received.snr_db)
        recon = self._inner_codec().decode(sub)
        for k, i in enumerate(present):
            out[i] = recon.images[k]
            failed[i] = bool(recon.fallback[k]) if recon.fallback else False
        return out, failed


def _empty(kind: str) -> torch.Tensor:
    return torch.zeros(0, dtype=torch.uint8 if kind == "digital" else torch.complex64, device="cpu")


def _reals_to_symbols(e: torch.Tensor) -> tuple[torch.Tensor, float]:
    x = e.flatten().float()
    if x.numel() % 2:
        x = torch.cat([x, x.new_zeros(1)])
    sym = torch.complex(x[0::2], x[1::2])
    scale = float(torch.sqrt((sym.abs() ** 2).mean()).clamp_min(1e-12))
    return (sym / scale).to(torch.complex64), scale


def _symbols_to_reals(sym: torch.Tensor, side: dict) -> torch.Tensor:
    """Received symbols (on the chain's device) -> the embedding's reals, on the host."""
    s = sym.detach().cpu().to(torch.complex64) * side["scale"]
    x = torch.stack([s.real, s.imag], -1).flatten()
    return x[: side["dim"]]


def symbols_for_embedding(dim: int) -> int:
    """Complex channel symbols of a ``dim``-dimensional CLIP embedding."""
    return math.ceil(dim / 2)
