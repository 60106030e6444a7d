"""Payload, streams and reconstructions: what codecs hand to links and get back.

A **Payload** is a set of named **streams**. A digital stream holds a
bitstream per image (1-D uint8 0/1 tensor, any length); an analog stream
holds complex channel symbols per image (1-D complex tensor). Each stream is
bound to a **PHY profile** by name (code, rate, modulation, ...; see
:mod:`semlink.links.profiles`). Different streams may ride different
profiles: unequal error protection and orthogonal channels are the same
mechanism.

``side_info`` (one dict per image) is error-free side information that the
receiver is assumed to know, e.g. the image size. It costs **no** channel
uses, so codecs must keep it to what a real system fixes in advance
(configuration, sizes), never content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

STREAM_KINDS = ("digital", "analog")


@dataclass
class Stream:
    """One named stream of a payload.

    :param kind: ``"digital"`` (bits) or ``"analog"`` (complex symbols).
    :param data: per image: 1-D uint8 0/1 tensor (digital) or 1-D complex tensor (analog).
    :param profile: name of the PHY profile the stream rides on.
    """

    kind: str
    data: list
    profile: str

    def __post_init__(self) -> None:
        if self.kind not in STREAM_KINDS:
            raise ValueError(f"stream kind must be one of {STREAM_KINDS}, got {self.kind!r}")


@dataclass
class Payload:
    """Named streams for a batch of images plus error-free side information.

    :param streams: name -> :class:`Stream`; every stream has one entry per image.
    :param side_info: one dict per image (sizes, ...), assumed known at the receiver.
    """

    streams: dict[str, Stream]
    side_info: list[dict] = field(default_factory=list)

    @property
    def num_images(self) -> int:
        return len(self.side_info) if self.side_info else len(next(iter(self.streams.values())).data)

    def check(self) -> None:
        """Every stream has one entry per image, of the right kind and shape."""
        n = self.num_images
        for name, s in self.streams.items():
            if len(s.data) != n:
                raise ValueError(f"payload stream {name!r} has {len(s.data)} entries for {n} images")
            for i, d in enumerate(s.data):
                if not isinstance(d, torch.Tensor) or d.dim() != 1:
                    raise ValueError(f"payload stream {name!r}[{i}] must be a 1-D tensor")
                if s.kind == "analog" and not torch.is_complex(d):
                    raise ValueError(f"analog stream {name!r}[{i}] must be complex")
                if s.kind == "digital" and d.dtype != torch.uint8:
                    raise ValueError(f"digital stream {name!r}[{i}] must be uint8 bits")


@dataclass
class StreamReport:
    """Per-image PHY report of one stream (numpy arrays, ``[num_images]``).

    ``bits``/``bit_errors``/``blocks``/``block_errors``/``crc_failures`` are
    zero for analog streams; ``channel_uses`` counts complex symbols incl.
    pilots; ``block_failed`` lists the receiver's per-block failure flags.
    ``snr_db`` is the Es/N0 [dB] per transmitted complex symbol; ``ebno_db``
    the Eb/N0 [dB] of a digital stream (``Eb`` per code input bit, pilots
    charged to the bits; NaN for analog streams); ``decoder_iterations`` the
    mean LDPC iterations per code block (NaN when not LDPC-coded).
    """

    kind: str
    profile: str
    channel_uses: np.ndarray
    bits: np.ndarray
    bit_errors: np.ndarray
    blocks: np.ndarray
    block_errors: np.ndarray
    crc_failures: np.ndarray
    block_failed: list
    k_info: int = 0
    snr_db: np.ndarray | None = None
    ebno_db: np.ndarray | None = None
    decoder_iterations: np.ndarray | None = None


@dataclass
class ReceivedPayload:
    """What a link returns: received streams, side info and per-stream reports."""

    streams: dict[str, Stream]
    side_info: list[dict]
    reports: dict[str, StreamReport]
    snr_db: float

    @property
    def num_images(self) -> int:
        return len(self.side_info)

    def channel_uses(self) -> np.ndarray:
        """[num_images] total channel uses over all streams."""
        total = np.zeros(self.num_images, dtype=np.int64)
        for rep in self.reports.values():
            total += rep.channel_uses
        return total


@dataclass
class Reconstruction:
    """What a codec's ``decode`` returns.

    :param images: list of [3, H, W] float tensors in [0, 1].
    :param texts: optional per-image texts (captions, answers, ...).
    :param fallback: per image, True when the decoder could not decode and a
        documented fallback was used (cliff effect).
    :param extras: any other side outputs (name -> per-image list).
    """

    images: list
    texts: list | None = None
    fallback: list | None = None
    extras: dict[str, Any] = field(default_factory=dict)
