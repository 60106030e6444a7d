"""Reference codecs that exercise links end to end: raw pixels, digital and analog.

* ``raw_pixels``: each pixel channel quantised to ``bit_depth`` bits (MSB
  first) after optional area downsampling by ``downsample``; one digital
  stream ``pixels``. Bit errors show up as pixel noise; failed code blocks
  are decoded as received (no concealment).
* ``analog_pixels``: linear analog transmission (uncoded "pixel JSCC"):
  centred pixel values, two per complex symbol (I and Q), scaled to unit
  average power; one analog stream ``symbols``. The scale factor is side
  information (one float per image).

The image size (and the scale of ``analog_pixels``) is error-free side
information; everything else goes over the channel.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .codec import CODECS, Codec
from .payload import Payload, ReceivedPayload, Reconstruction, Stream


def _check_images(images) -> None:
    if not isinstance(images, (list, tuple)) or not images:
        raise ValueError("images must be a non-empty list of [3, H, W] tensors")
    for i, img in enumerate(images):
        if not isinstance(img, torch.Tensor) or img.dim() != 3 or img.shape[0] != 3:
            raise ValueError(f"images[{i}] must be a [3, H, W] tensor, got "
                             f"{getattr(img, 'shape', type(img))}")


def _down(img: torch.Tensor, factor: int) -> torch.Tensor:
    if factor == 1:
        return img
    h, w = img.shape[-2:]
    size = (max(1, math.ceil(h / factor)), max(1, math.ceil(w / factor)))
    return F.interpolate(img[None], size=size, mode="area")[0]


def _up(img: torch.Tensor, size) -> torch.Tensor:
    if tuple(img.shape[-2:]) == tuple(size):
        return img
    return F.interpolate(img[None], size=tuple(size), mode="bilinear", align_corners=False)[0]


def _check_factor(downsample) -> int:
    if isinstance(downsample, bool) or not isinstance(downsample, int) or downsample < 1:
        raise ValueError(f"downsample must be an int >= 1, got {downsample!r}")
    return downsample


@CODECS.register("raw_pixels")
class RawPixels(Codec):
    """Raw quantised pixels (bit_depth bits per channel) over one digital stream.

    :param bit_depth: bits per pixel channel, 1..8.
    :param downsample: area-downsampling factor before quantisation (>= 1).
    :param profile: default PHY profile name of stream ``pixels``.
    """

    name = "raw_pixels"
    deterministic_decode = True
    stream_kinds = {"pixels": "digital"}

    def __init__(self, bit_depth: int = 8, downsample: int = 1, profile: str = "default") -> None:
        if isinstance(bit_depth, bool) or not isinstance(bit_depth, int) or not 1 <= bit_depth <= 8:
            raise ValueError(f"bit_depth must be an int in 1..8, got {bit_depth!r}")
        self.bit_depth = bit_depth
        self.downsample = _check_factor(downsample)
        self.stream_profiles = {"pixels": profile}

    def params(self) -> dict:
        return {"bit_depth": self.bit_depth, "downsample": self.downsample}

    def bits_for(self, height: int, width: int) -> int:
        """Exact payload bits for an image of ``height`` x ``width``."""
        f = self.downsample
        return 3 * math.ceil(height / f) * math.ceil(width / f) * self.bit_depth

    def encode(self, images, queries=None) -> Payload:
        _check_images(images)
        levels = 2**self.bit_depth - 1
        data, side = [], []
        for img in images:
            small = _down(img.float().clamp(0, 1), self.downsample)
            q = torch.round(small * levels).to(torch.int64)
            shifts = torch.arange(self.bit_depth - 1, -1, -1, device=q.device)
            bits = (q.reshape(-1, 1) >> shifts) & 1
            data.append(bits.reshape(-1).to(torch.uint8))
            side.append({"size": list(img.shape[-2:]), "coded_size": list(small.shape[-2:])})
        return Payload({"pixels": Stream("digital", data, self.stream_profiles["pixels"])}, side)

    def decode(self, received: ReceivedPayload) -> Reconstruction:
        levels = 2**self.bit_depth - 1
        weights = 2 ** torch.arange(self.bit_depth - 1, -1, -1, device="cpu")  # bits moved to host
        images = []
        for bits, side in zip(received.streams["pixels"].data, received.side_info, strict=True):
            h, w = side["coded_size"]
            q = (bits.to(torch.int64).cpu().reshape(-1, self.bit_depth) * weights).sum(dim=1)
            small = (q.to(torch.float32) / levels).reshape(3, h, w)
            images.append(_up(small, side["size"]).clamp(0, 1))
        return Reconstruction(images=images, fallback=[False] * len(images))


@CODECS.register("analog_pixels")
class AnalogPixels(Codec):
    """Linear analog transmission of centred pixels, two per complex symbol.

    :param downsample: area-downsampling factor (>= 1); symbols per image =
        ``ceil(3 * ceil(H/f) * ceil(W/f) / 2)``.
    :param profile: default PHY profile name of stream ``symbols``.
    """

    name = "analog_pixels"
    stream_kinds = {"symbols": "analog"}

    def __init__(self, downsample: int = 1, profile: str = "analog") -> None:
        self.downsample = _check_factor(downsample)
        self.stream_profiles = {"symbols": profile}

    def params(self) -> dict:
        return {"downsample": self.downsample}

    def symbols_for(self, height: int, width: int) -> int:
        f = self.downsample
        return math.ceil(3 * math.ceil(height / f) * math.ceil(width / f) / 2)

    def encode(self, images, queries=None) -> Payload:
        _check_images(images)
        data, side = [], []
        for img in images:
            small = _down(img.float().clamp(0, 1), self.downsample)
            z = (small - 0.5).reshape(-1)
            if z.numel() % 2:
                z = torch.cat([z, z.new_zeros(1)])
            sym = torch.complex(z[0::2], z[1::2])
            scale = float(sym.abs().square().mean().sqrt()) or 1.0
            data.append(sym / scale)
            side.append({"size": list(img.shape[-2:]), "coded_size": list(small.shape[-2:]),
                         "scale": scale})
        return Payload({"symbols": Stream("analog", data, self.stream_profiles["symbols"])}, side)

    def decode(self, received: ReceivedPayload) -> Reconstruction:
        images = []
        for sym, side in zip(received.streams["symbols"].data, received.side_info, strict=True):
            h, w = side["coded_size"]
            y = sym.cpu() * side["scale"]
            z = torch.stack([y.real, y.imag], dim=1).reshape(-1)[: 3 * h * w].float()
            images.append(_up((z + 0.5).reshape(3, h, w), side["size"]).clamp(0, 1))
        return Reconstruction(images=images, fallback=[False] * len(images))
