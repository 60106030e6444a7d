"""A two-layer scalable JPEG2000 codec: the test bed of unequal error protection.

``jpeg2000_layered`` sends an image as two digital streams of different
importance:

* ``base``: a JPEG2000 file of the image at a low rate (decodable alone);
* ``refinement``: a JPEG2000 file of the residual ``x - x_base`` (stored
  offset by 0.5 and clipped to [0, 1], i.e. residuals within +-0.5), which
  the receiver adds to the base.

This is semlink's own construction (base + residual layer, the scheme of
SNR-scalable coding), not a standard JPEG2000 feature: OpenJPEG as shipped
with Pillow refuses truncated codestreams, so a quality-layer split of one
codestream cannot be decoded from its prefix.

Receiver (uses the CRC of every code block, as a real receiver would): a
refinement with a failed block is dropped (the image is the base); a base
with a failed block loses the image (mid-grey fallback, flagged). Without
the base the refinement is useless.

Budget: ``symbols_per_image`` channel uses in total, ``base_share`` of them
for the base stream. With the streams' chains (:meth:`attach_phy`) each
stream's payload is ``floor(symbols / channel uses per block) * payload bits
per block``, so two streams on different profiles (unequal error protection)
or on one profile (equal protection) use the same total channel uses.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from semlink.phy import bits_to_bytes, bytes_to_bits

from .classical import FALLBACK_VALUE, JPEG2000Codec, from_pil, to_pil
from .codec import CODECS, Codec
from .payload import Payload, ReceivedPayload, Reconstruction, Stream

STREAMS = ("base", "refinement")


@CODECS.register("jpeg2000_layered")
class LayeredJPEG2000Codec(Codec):
    """Base + residual JPEG2000 layers on two digital streams (``base``, ``refinement``).

    :param symbols_per_image: total channel uses (complex symbols) per image.
    :param base_share: fraction of them for the ``base`` stream, in (0, 1).
    :param profile: default profile of both streams (bind them in the scenario's
        ``profiles: {base: ..., refinement: ...}``).
    """

    name = "jpeg2000_layered"
    stream_kinds = {"base": "digital", "refinement": "digital"}

    def __init__(self, symbols_per_image: int = 6144, base_share: float = 0.5,
                 profile: str = "default") -> None:
        if isinstance(symbols_per_image, bool) or not isinstance(symbols_per_image, int) \
                or symbols_per_image < 2:
            raise ValueError(f"jpeg2000_layered: symbols_per_image must be an int >= 2, "
                             f"got {symbols_per_image!r}")
        if isinstance(base_share, bool) or not isinstance(base_share, (int, float)) \
                or not 0 < base_share < 1:
            raise ValueError(f"jpeg2000_layered: base_share must be in (0, 1), got {base_share!r}")
        self.symbols_per_image = symbols_per_image
        self.base_share = float(base_share)
        self.stream_profiles = {s: profile for s in STREAMS}
        self._file = JPEG2000Codec(quality=10.0)     # file encoder/decoder and rate search
        self.tool = self._file.tool
        self._chains: dict = {}

    def attach_phy(self, chains: dict) -> None:
        """Receive the chains of ``base`` and ``refinement`` (for the budget split)."""
        self._chains = {s: chains.get(s) for s in STREAMS}

    def stream_symbols(self) -> dict:
        """Channel uses per image given to each stream."""
        base = int(math.floor(self.symbols_per_image * self.base_share))
        return {"base": base, "refinement": self.symbols_per_image - base}

    def stream_bits(self) -> dict:
        """Payload bits per image of each stream (whole code blocks within its share)."""
        if any(self._chains.get(s) is None for s in STREAMS):
            raise ValueError("jpeg2000_layered: the budget needs both streams' PHY profiles; "
                             "run it through a link (or call attach_phy)")
        out = {}
        for s, symbols in self.stream_symbols().items():
            chain = self._chains[s]
            out[s] = (symbols // chain.channel_uses_per_block) * chain.config.k_info
        return out

    def encode_key(self):
        if not self._chains:
            return None
        return tuple((c.channel_uses_per_block, c.config.k_info) if c is not None else None
                     for c in (self._chains.get(s) for s in STREAMS))

    def params(self) -> dict:
        return {"symbols_per_image": self.symbols_per_image, "base_share": self.base_share,
                "tool": self.tool}

    def encode(self, images, queries=None) -> Payload:
        bits = self.stream_bits()
        data: dict[str, list] = {s: [] for s in STREAMS}
        side = []
        for img in images:
            im = to_pil(img)
            base_file, _ = self._file.fit(im, bits["base"])
            base = self._decode(base_file)
            if base is None:
                raise ValueError("jpeg2000_layered: the base file does not decode")
            residual = (img.float().clamp(0, 1) - base + 0.5).clamp(0, 1)
            ref_file, _ = self._file.fit(to_pil(residual), bits["refinement"])
            data["base"].append(torch.from_numpy(bytes_to_bits(base_file).copy()))
            data["refinement"].append(torch.from_numpy(bytes_to_bits(ref_file).copy()))
            side.append({"size": [im.height, im.width], "base_bits": len(base_file) * 8,
                         "refinement_bits": len(ref_file) * 8})
        return Payload({s: Stream("digital", data[s], self.stream_profiles[s]) for s in STREAMS},
                       side)

    def _decode(self, blob: bytes) -> torch.Tensor | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return from_pil(self._file.decode_file(blob))
        except Exception:  # noqa: BLE001 - a file that does not decode is a lost layer
            return None

    def decode(self, received: ReceivedPayload) -> Reconstruction:
        images, fallback, layers = [], [], []
        reports = received.reports
        for i, side in enumerate(received.side_info):
            h, w = side["size"]
            ok = {s: not bool(np.any(reports[s].block_failed[i])) for s in STREAMS}
            base = (self._decode(bits_to_bytes(received.streams["base"].data[i].cpu().numpy()))
                    if ok["base"] else None)
            if base is None or tuple(base.shape[-2:]) != (h, w):
                images.append(torch.full((3, h, w), FALLBACK_VALUE, device="cpu"))
                fallback.append(True)
                layers.append(0)
                continue
            img, used = base, 1
            if ok["refinement"]:
                res = self._decode(bits_to_bytes(
                    received.streams["refinement"].data[i].cpu().numpy()))
                if res is not None and tuple(res.shape[-2:]) == (h, w):
                    img, used = (base + res - 0.5).clamp(0, 1), 2
            images.append(img)
            fallback.append(False)
            layers.append(used)
        return Reconstruction(images=images, fallback=fallback, extras={"layers": layers})
