"""Deep JSCC (Bourtsoulatze, Kurka, Gündüz, "Deep joint source-channel coding
for wireless image transmission", IEEE TCCN 2019 / ICASSP 2019).

Architecture as in the paper (Fig. 2): the encoder is five 5x5 convolutions
with PReLU -- 16 filters stride 2, 32 stride 2, 32, 32, and ``c`` filters
stride 1 -- followed by power normalisation; the decoder mirrors it with
transposed convolutions (32, 32, 32, 16 stride 2, 3 stride 2) and a sigmoid.
The ``c`` real outputs per (H/4 x W/4) position are paired into complex
channel symbols, so the **bandwidth ratio** is

.. math::  k/n = \\frac{c\\,HW/(16\\cdot 2)}{3HW} = c/96

(``c = 8`` -> 1/12, ``c = 16`` -> 1/6). The model is fully convolutional:
images whose sides are not multiples of 4 are padded (edge replication) at
the bottom/right before encoding and the reconstruction is cropped back; the
padding costs channel uses and is counted.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from semlink.device import DEFAULT_DEVICE, resolve_device
from semlink.provenance import ModelRecord, hash_path, state_dict_record

from .codec import CODECS, Codec
from .payload import Payload, ReceivedPayload, Reconstruction, Stream
from .precision import autocast, check_precision

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def channels_for_ratio(ratio: float) -> int:
    """Encoder output channels ``c`` for a bandwidth ratio ``k/n = c/96``."""
    c = ratio * 96
    if ratio <= 0 or abs(c - round(c)) > 1e-3 or round(c) % 2:
        raise ValueError(f"ratio must be c/96 for an even c >= 2 (e.g. 1/12, 1/6), got {ratio!r}")
    return int(round(c))


class DeepJSCCEncoder(nn.Module):
    """[B, 3, H, W] in [0, 1] -> [B, c, H/4, W/4] real, before power normalisation."""

    def __init__(self, c: int) -> None:
        super().__init__()
        layers, cin = [], 3
        for cout, stride in ((16, 2), (32, 2), (32, 1), (32, 1), (c, 1)):
            layers += [nn.Conv2d(cin, cout, 5, stride, 2), nn.PReLU(cout)]
            cin = cout
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DeepJSCCDecoder(nn.Module):
    """[B, c, H/4, W/4] real -> [B, 3, H, W] in [0, 1]."""

    def __init__(self, c: int) -> None:
        super().__init__()
        layers, cin = [], c
        for cout, stride in ((32, 1), (32, 1), (32, 1), (16, 2)):
            layers += [nn.ConvTranspose2d(cin, cout, 5, stride, 2, output_padding=stride - 1),
                       nn.PReLU(cout)]
            cin = cout
        layers += [nn.ConvTranspose2d(cin, 3, 5, 2, 2, output_padding=1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class DeepJSCC(nn.Module):
    """Encoder + decoder; :meth:`to_symbols` / :meth:`from_symbols` map to the channel.

    :param c: encoder output channels (even); bandwidth ratio ``c/96``.
    """

    def __init__(self, c: int = 16) -> None:
        super().__init__()
        if isinstance(c, bool) or not isinstance(c, int) or c < 2 or c % 2:
            raise ValueError(f"c must be an even int >= 2, got {c!r}")
        self.c = c
        self.encoder = DeepJSCCEncoder(c)
        self.decoder = DeepJSCCDecoder(c)

    @staticmethod
    def pad(x: torch.Tensor) -> torch.Tensor:
        """Replicate-pad [B, 3, H, W] at bottom/right to multiples of 4."""
        h, w = x.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4
        return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x

    def to_symbols(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] -> [B, k] complex with unit average power per image."""
        z = self.encoder(self.pad(x)).float().reshape(x.shape[0], -1)
        s = torch.complex(z[:, 0::2], z[:, 1::2])
        power = s.abs().square().mean(dim=1, keepdim=True)
        return s / torch.sqrt(power + 1e-12)

    def from_symbols(self, s: torch.Tensor, size) -> torch.Tensor:
        """[B, k] complex -> [B, 3, H, W] for an original ``size`` (H, W)."""
        h, w = size
        hp, wp = h + (-h) % 4, w + (-w) % 4
        z = torch.stack([s.real, s.imag], dim=-1).reshape(s.shape[0], self.c, hp // 4, wp // 4)
        return self.decoder(z)[..., :h, :w].float()

    def symbols_for(self, height: int, width: int) -> int:
        """Complex channel symbols for an image of height x width (padding included)."""
        return self.c * math.ceil(height / 4) * math.ceil(width / 4) // 2


def save_checkpoint(path, model: DeepJSCC, meta: dict, optimizer=None, step: int = 0) -> None:
    """Save weights, configuration and training metadata (atomic)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"format": "semlink-deepjscc-1", "c": model.c, "state_dict": model.state_dict(),
                "meta": meta, "optimizer": optimizer.state_dict() if optimizer else None,
                "step": step}, tmp)
    tmp.replace(path)


def load_checkpoint(path, map_location="cpu") -> tuple[DeepJSCC, dict]:
    """Load a checkpoint saved by :func:`save_checkpoint` -> (model, checkpoint dict).

    :param map_location: as :func:`torch.load`; a device (``"cpu"``, ``"cuda:0"``) also
        puts the returned model there (in eval mode)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"deep JSCC checkpoint {str(path)!r} not found; train one with "
            f"'semlink train deepjscc --data DIR --out DIR' or use checkpoint='builtin'")
    ckpt = torch.load(path, map_location=map_location, weights_only=False)
    if ckpt.get("format") != "semlink-deepjscc-1":
        raise ValueError(f"{str(path)!r} is not a semlink deep JSCC checkpoint")
    model = DeepJSCC(ckpt["c"])
    model.load_state_dict(ckpt["state_dict"])
    if isinstance(map_location, (str, torch.device)):
        model.to(map_location)            # load_state_dict copies into the CPU-built model
    model.eval()
    return model, ckpt


def training_metadata(meta: dict) -> dict:
    """A checkpoint's ``meta`` without training state (RNG states), JSON-able, for results."""
    import json

    out = {k: v for k, v in meta.items() if not k.startswith("rng_")}
    return json.loads(json.dumps(out, default=str))


def builtin_checkpoint(ratio: float) -> Path:
    """Path of the checkpoint shipped in the package for ``ratio``."""
    c = channels_for_ratio(ratio)
    path = WEIGHTS_DIR / f"deepjscc_c{c}.pt"
    if not path.is_file():
        shipped = sorted(p.name for p in WEIGHTS_DIR.glob("deepjscc_c*.pt"))
        raise ValueError(f"no built-in deep JSCC checkpoint for ratio {ratio} (c={c}); shipped: "
                         f"{shipped}. Train one with 'semlink train deepjscc' and pass checkpoint=PATH")
    return path


@CODECS.register("deepjscc")
class DeepJSCCCodec(Codec):
    """Deep JSCC (Bourtsoulatze et al. 2019): CNN encoder/decoder over one analog stream.

    :param checkpoint: ``"builtin"`` (shipped weights for ``ratio``) or a path.
    :param ratio: bandwidth ratio k/n = c/96 (used with ``checkpoint="builtin"``).
    :param profile: default PHY profile of stream ``symbols`` (analog).
    :param device: torch device of the network (``"cpu"``, ``"cuda"``).
    :param precision: ``fp32`` (default), ``bf16`` or ``fp16``: autocast dtype of the
        encoder/decoder (:mod:`semlink.semantic.precision`); symbols stay complex64.
    """

    name = "deepjscc"
    stream_kinds = {"symbols": "analog"}

    def __init__(self, checkpoint: str = "builtin", ratio: float = 1 / 6,
                 profile: str = "analog", device: str = DEFAULT_DEVICE, precision: str = "fp32") -> None:
        device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
        self.precision = check_precision(precision)
        path = builtin_checkpoint(ratio) if checkpoint == "builtin" else Path(checkpoint)
        self.model, ckpt = load_checkpoint(path)
        self.model.to(device)
        self.device = device
        self.checkpoint_ref = "builtin" if checkpoint == "builtin" else str(checkpoint)
        self.checkpoint = str(path)
        self.meta = ckpt.get("meta", {})
        self.step = ckpt.get("step")
        self.stream_profiles = {"symbols": profile}
        self._models: list[ModelRecord] | None = None

    @classmethod
    def declared_models(cls, params: dict) -> list[tuple[str, str]]:
        """A checkpoint file other than the shipped ``builtin`` weights."""
        ckpt = cls.param_defaults(params).get("checkpoint", "builtin")
        if ckpt == "builtin":
            return []
        return [("checkpoint", ckpt if str(ckpt).startswith("stand_in:") else f"path:{ckpt}")]

    def params(self) -> dict:
        return {"checkpoint": self.checkpoint, "checkpoint_ref": self.checkpoint_ref,
                "ratio": self.model.c / 96, "c": self.model.c, "device": self.device,
                "precision": self.precision,
                "train_snr_db": self.meta.get("snr_db"), "train_channel": self.meta.get("channel")}

    def models(self) -> list[ModelRecord]:
        """The checkpoint: hash of the loaded weights, file hash, training metadata as stored."""
        if self._models is None:
            ref = (f"builtin:{Path(self.checkpoint).name}" if self.checkpoint_ref == "builtin"
                   else self.checkpoint_ref)
            self._models = [state_dict_record(
                "deepjscc", ref, self.model.state_dict(), path=self.checkpoint,
                extra={"file_sha256": hash_path(self.checkpoint), "step": self.step,
                       "training": training_metadata(self.meta),
                       "meta_written_by_training_command": "written_by" in self.meta})]
        return self._models

    @torch.no_grad()
    def encode(self, images, queries=None) -> Payload:
        data, side = [], []
        for img in images:  # images may differ in size: one forward pass each
            with autocast(self.precision, self.device):
                s = self.model.to_symbols(img[None].float().to(self.device))[0]
            data.append(s)
            side.append({"size": list(img.shape[-2:])})
        return Payload({"symbols": Stream("analog", data, self.stream_profiles["symbols"])}, side)

    @torch.no_grad()
    def decode(self, received: ReceivedPayload) -> Reconstruction:
        images = []
        for s, side in zip(received.streams["symbols"].data, received.side_info, strict=True):
            s = s.to(self.device).to(torch.complex64)
            with autocast(self.precision, self.device):
                rec = self.model.from_symbols(s[None], side["size"])[0]
            images.append(rec.float().clamp(0, 1).cpu())
        return Reconstruction(images=images, fallback=[False] * len(images))
