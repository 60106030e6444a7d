"""Classical image codecs over digital streams: JPEG2000, JPEG, HEVC-intra.

The separated baselines of the semantic-communication papers: a standard
image codec produces a file, the file's bits ride a digital PHY profile
(e.g. 5G LDPC rate 1/2 + 8-PSK), and the received bits go back to the real
decoder.

* ``jpeg2000``: OpenJPEG through Pillow, raw J2K codestream, irreversible
  9/7 wavelet **with the colour transform** (``mct=1``; Pillow's default 0
  costs about 3 dB).
* ``jpeg``: libjpeg through Pillow (4:2:0, optimised Huffman tables).
* ``hevc_intra``: HEVC intra coding (x265) through ``pillow-heif`` in a HEIF
  container. This is the codec inside BPG; **no BPG encoder exists on the
  package registries we use**, so the papers' "BPG-LDPC" baseline is
  reproduced as HEVC-intra + LDPC and labelled as such.

Rate control, in order of precedence:

* ``symbols_per_image``: a channel-use budget. With the stream's PHY
  profile, the payload that fits is ``floor(budget / channel uses per code
  block) * payload bits per block`` (CRC and padding already deducted); the
  codec picks the highest quality (bisection) whose file fits.
* ``bandwidth_ratio``: a budget relative to the image, ``k/n`` = channel
  uses per real source dimension (``3*H*W``), as in the deep-JSCC
  literature; ``symbols_per_image = floor(ratio * 3 * H * W)``. This is how
  "equal channel uses" with deep JSCC is set.
* ``rate_bpp``: a target in bits per pixel (same search, budget = bpp*H*W).
* ``quality``: a fixed codec quality (JPEG/HEVC 1..100, JPEG2000 compression
  ratio).

Cliff effect: a received file hit by failed code blocks goes to the real
decoder first. If the decoder raises or returns an image of the wrong size,
the **fallback** is a mid-grey image (0.5), and the image is flagged
(``Reconstruction.fallback``); a sweep never crashes on a corrupted file.
"""

from __future__ import annotations

import io
import math
import warnings
from abc import abstractmethod

import numpy as np
import torch
from PIL import Image

from semlink.extras import require
from semlink.phy import bits_to_bytes, bytes_to_bits

from .codec import CODECS, Codec
from .payload import Payload, ReceivedPayload, Reconstruction, Stream

FALLBACK_VALUE = 0.5


class BudgetError(ValueError):
    """An image does not fit its codec's budget; the figures are attributes, not text to parse.

    :param message: the human-readable error (what to raise, with the fix).
    :param codec: the codec's name.
    :param reason: ``"below_one_byte"`` (a ``rate_bpp`` budget under 8 bits),
        ``"below_one_block"`` (a channel-use budget under one code block) or
        ``"lowest_quality_too_big"`` (the codec's smallest file exceeds the budget).
    :param height, width: the image's size [pixels].
    :param budget_bits: the payload budget [bits] (`None` for ``below_one_block``).
    :param needed_bits: bits of the lowest-quality file (``lowest_quality_too_big``).
    :param budget_symbols: the channel-use budget per image (``below_one_block``).
    :param block_channel_uses: channel uses of one code block (``below_one_block``).

    :attr:`image` is the image's name where the caller knows it (a sweep sets it
    when it names the failing image); :meth:`details` is all of it as a dict,
    which sweeps store in the results (``error_json``).
    """

    REASONS = ("below_one_byte", "below_one_block", "lowest_quality_too_big")

    def __init__(self, message: str, *, codec: str = "", reason: str = "",
                 height: int | None = None, width: int | None = None,
                 budget_bits: int | None = None, needed_bits: int | None = None,
                 budget_symbols: int | None = None, block_channel_uses: int | None = None) -> None:
        super().__init__(message)
        if reason and reason not in self.REASONS:
            raise ValueError(f"BudgetError reason must be one of {self.REASONS}, got {reason!r}")
        self.codec, self.reason = codec, reason
        self.height, self.width = height, width
        self.budget_bits, self.needed_bits = budget_bits, needed_bits
        self.budget_symbols, self.block_channel_uses = budget_symbols, block_channel_uses
        self.image: str | None = None

    def details(self) -> dict:
        """The figures as a JSON-able dict (``type``: ``"BudgetError"``)."""
        return {"type": "BudgetError", "codec": self.codec, "reason": self.reason,
                "image": self.image, "height": self.height, "width": self.width,
                "budget_bits": self.budget_bits, "needed_bits": self.needed_bits,
                "budget_symbols": self.budget_symbols,
                "block_channel_uses": self.block_channel_uses}


def to_pil(img: torch.Tensor) -> Image.Image:
    """[3, H, W] float in [0, 1] -> 8-bit RGB PIL image."""
    arr = (img.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0)
    return Image.fromarray(arr.cpu().numpy(), "RGB")


def from_pil(im: Image.Image) -> torch.Tensor:
    """PIL image -> [3, H, W] float in [0, 1]."""
    arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


class ImageFileCodec(Codec):
    """Base of codecs wrapping an external image codec; one digital stream ``bits``.

    Subclasses implement :meth:`encode_file` (image, quality) -> bytes and
    :meth:`decode_file` (bytes) -> PIL image, set :attr:`quality_range` and
    :attr:`continuous_quality`, and :meth:`check_tool` (availability; name and version).
    """

    stream_kinds = {"bits": "digital"}
    quality_range: tuple[float, float] = (1, 100)
    continuous_quality = False
    deterministic_decode = True     # the file decoder depends only on the bits
    tool = ""
    #: fixed encoder options, recorded in results (see :meth:`params`)
    encoder_settings: dict = {}

    def __init__(self, rate_bpp: float | None = None, symbols_per_image: int | None = None,
                 quality: float | None = None, profile: str = "default",
                 bandwidth_ratio: float | None = None) -> None:
        given = [x is not None for x in (rate_bpp, symbols_per_image, quality, bandwidth_ratio)]
        if sum(given) != 1:
            raise ValueError(f"{self.name}: give exactly one of rate_bpp, symbols_per_image, "
                             f"bandwidth_ratio or quality (got rate_bpp={rate_bpp}, "
                             f"symbols_per_image={symbols_per_image}, bandwidth_ratio="
                             f"{bandwidth_ratio}, quality={quality})")
        if bandwidth_ratio is not None and not (isinstance(bandwidth_ratio, (int, float))
                                                and 0 < bandwidth_ratio <= 10):
            raise ValueError(f"{self.name}: bandwidth_ratio must be in (0, 10], got {bandwidth_ratio!r}")
        self.bandwidth_ratio = bandwidth_ratio
        if rate_bpp is not None and not (isinstance(rate_bpp, (int, float)) and rate_bpp > 0):
            raise ValueError(f"{self.name}: rate_bpp must be > 0, got {rate_bpp!r}")
        if symbols_per_image is not None and (isinstance(symbols_per_image, bool) or
                                              not isinstance(symbols_per_image, int) or
                                              symbols_per_image < 1):
            raise ValueError(f"{self.name}: symbols_per_image must be a positive int, "
                             f"got {symbols_per_image!r}")
        lo, hi = self.quality_range
        if quality is not None and not (isinstance(quality, (int, float)) and lo <= quality <= hi):
            raise ValueError(f"{self.name}: quality must be in [{lo}, {hi}], got {quality!r}")
        self.rate_bpp, self.symbols_per_image, self.quality = rate_bpp, symbols_per_image, quality
        self.stream_profiles = {"bits": profile}
        self._chain = None
        self.tool = self.check_tool()

    @abstractmethod
    def check_tool(self) -> str:
        """Check the external codec is usable (else ImportError with the fix); return its name/version."""

    # -- PHY-aware budget ------------------------------------------------------------
    def attach_phy(self, chains: dict) -> None:
        """Receive the chains of this codec's streams (for symbol budgets)."""
        self._chain = chains.get("bits")

    def budget_bits(self, height: int, width: int) -> int | None:
        """Maximum file size in bits for an image, or `None` (fixed quality)."""
        if self.rate_bpp is not None:
            bits = int(math.floor(self.rate_bpp * height * width))
            if bits < 8:
                raise BudgetError(f"{self.name}: rate_bpp={self.rate_bpp} gives a budget of {bits} "
                                  f"bits for a {height}x{width} image, less than one byte; raise "
                                  "rate_bpp or use larger images", codec=self.name,
                                  reason="below_one_byte", height=height, width=width,
                                  budget_bits=bits)
            return bits
        symbols = self.symbols_per_image
        if self.bandwidth_ratio is not None:
            symbols = int(math.floor(self.bandwidth_ratio * 3 * height * width + 1e-6))
        if symbols is not None:
            if self._chain is None:
                raise ValueError(f"{self.name}: a symbol budget needs the PHY profile; "
                                 "run it through a link (or call attach_phy)")
            per_block = self._chain.channel_uses_per_block
            blocks = symbols // per_block
            if blocks == 0:
                raise BudgetError(f"{self.name}: the budget of {symbols} channel uses for a "
                                  f"{height}x{width} image is below one code block "
                                  f"({per_block} channel uses); raise "
                                  "symbols_per_image/bandwidth_ratio or use larger images",
                                  codec=self.name, reason="below_one_block", height=height,
                                  width=width, budget_symbols=symbols,
                                  block_channel_uses=per_block)
            return blocks * self._chain.config.k_info
        return None

    def encode_key(self):
        """Cache key of the encoding (depends on the PHY budget)."""
        if (self.symbols_per_image is None and self.bandwidth_ratio is None) or self._chain is None:
            return None
        return (self._chain.channel_uses_per_block, self._chain.config.k_info)

    def params(self) -> dict:
        """Rate control as given (one of four is set), the fixed encoder settings and the tool."""
        return {"rate_bpp": self.rate_bpp, "symbols_per_image": self.symbols_per_image,
                "bandwidth_ratio": self.bandwidth_ratio, "quality": self.quality,
                "quality_range": list(self.quality_range),
                "encoder_settings": dict(self.encoder_settings), "tool": self.tool}

    def tools(self) -> dict[str, str]:
        """Library versions behind the encoder/decoder (Pillow, and OpenJPEG/libjpeg/libheif/x265)."""
        return {"pillow": _pillow_version(), **self.tool_versions()}

    @abstractmethod
    def tool_versions(self) -> dict[str, str]:
        """Versions of the codec library itself, e.g. ``{"openjpeg": "2.5.3"}``."""

    # -- search ------------------------------------------------------------------------
    def fit(self, im: Image.Image, budget_bits: int) -> tuple[bytes, float]:
        """Highest quality whose file has at most ``budget_bits`` bits."""
        lo, hi = self.quality_range
        best = None
        if self.continuous_quality:            # quality = compression ratio: lower is better
            # rate-controlled codec: the file is close to raw/ratio, so start there
            raw_bits = 24 * im.width * im.height
            ratio = min(hi, max(lo, raw_bits / budget_bits))
            a = b = None                        # a: ratio too small (too big a file), b: fits
            for _ in range(24):
                data = self.encode_file(im, ratio)
                if len(data) * 8 <= budget_bits:
                    if best is None or len(data) > len(best[0]):
                        best = (data, ratio)
                    b = ratio
                    if budget_bits - len(data) * 8 < 0.005 * budget_bits or ratio <= lo:
                        break
                else:
                    a = ratio
                    if ratio >= hi:
                        break
                if a is not None and b is not None:
                    if b / a < 1.0005:
                        break
                    ratio = math.sqrt(a * b)
                else:
                    ratio = ratio * 1.03 if b is None else ratio / 1.03
                    ratio = min(hi, max(lo, ratio))
        else:
            a, b = int(lo), int(hi)
            while a <= b:
                mid = (a + b) // 2
                data = self.encode_file(im, mid)
                if len(data) * 8 <= budget_bits:
                    best, a = (data, mid), mid + 1
                else:
                    b = mid - 1
        if best is None:
            data = self.encode_file(im, hi if self.continuous_quality else lo)
            if len(data) * 8 > budget_bits:
                raise BudgetError(
                    f"{self.name}: even the lowest quality needs {len(data) * 8} bits, more than "
                    f"the budget of {budget_bits} bits for a {im.height}x{im.width} image; "
                    "raise symbols_per_image/rate_bpp", codec=self.name,
                    reason="lowest_quality_too_big", height=im.height, width=im.width,
                    budget_bits=budget_bits, needed_bits=len(data) * 8)
            best = (data, hi if self.continuous_quality else lo)
        return best

    def encode(self, images, queries=None) -> Payload:
        data, side = [], []
        for img in images:
            im = to_pil(img)
            budget = self.budget_bits(im.height, im.width)
            if budget is None:
                assert self.quality is not None      # without a budget the quality is set
                blob, q = self.encode_file(im, self.quality), self.quality
            else:
                blob, q = self.fit(im, budget)
            data.append(torch.from_numpy(bytes_to_bits(blob).copy()))
            side.append({"size": [im.height, im.width], "quality": q,
                         "budget_bits": budget, "file_bits": len(blob) * 8})
        return Payload({"bits": Stream("digital", data, self.stream_profiles["bits"])}, side)

    def decode(self, received: ReceivedPayload) -> Reconstruction:
        images, fallback = [], []
        for bits, side in zip(received.streams["bits"].data, received.side_info, strict=True):
            h, w = side["size"]
            img = None
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    im = self.decode_file(bits_to_bytes(bits.cpu().numpy()))
                if im is not None and (im.height, im.width) == (h, w):
                    img = from_pil(im)
            except Exception:  # noqa: BLE001 - any decoder failure -> documented fallback
                img = None
            fallback.append(img is None)
            images.append(img if img is not None else torch.full((3, h, w), FALLBACK_VALUE,
                                                                 device="cpu"))
        return Reconstruction(images=images, fallback=fallback)

    # -- to implement ------------------------------------------------------------------
    @abstractmethod
    def encode_file(self, im: Image.Image, quality: float) -> bytes:
        """Encode an 8-bit RGB image at ``quality``; return the file's bytes."""

    @abstractmethod
    def decode_file(self, data: bytes) -> Image.Image:
        """Decode a (possibly corrupted) file; may raise."""


def _pil_decode(data: bytes, fmt: str) -> Image.Image:
    """Decode ``data`` with Pillow's ``fmt`` plug-in only (raises on failure)."""
    im = Image.open(io.BytesIO(data), formats=[fmt])
    im.load()
    return im


def _pillow_version() -> str:
    import PIL

    return PIL.__version__


@CODECS.register("jpeg2000")
class JPEG2000Codec(ImageFileCodec):
    """JPEG2000 (OpenJPEG via Pillow), irreversible 9/7 + colour transform, raw J2K.

    ``quality`` is the compression ratio (e.g. 24 = 1 bpp for RGB).
    """

    name = "jpeg2000"
    quality_range = (2.0, 2400.0)
    continuous_quality = True
    encoder_settings = {"codestream": "j2k", "wavelet": "irreversible 9/7", "mct": 1,
                        "quality_mode": "rates", "num_resolutions": "min(6, log2(min side) - 1)"}

    def check_tool(self) -> str:
        from PIL import features

        if not features.check("jpg_2000"):
            raise ImportError("jpeg2000 needs Pillow built with OpenJPEG: pip install -U pillow")
        return f"OpenJPEG {features.version('jpg_2000')} via Pillow {_pillow_version()}"

    def tool_versions(self) -> dict[str, str]:
        from PIL import features

        return {"openjpeg": str(features.version("jpg_2000"))}

    def encode_file(self, im, quality):
        levels = max(1, min(6, int(math.log2(max(1, min(im.size)))) - 1))
        buf = io.BytesIO()
        im.save(buf, "JPEG2000", no_jp2=True, irreversible=True, mct=1,
                quality_mode="rates", quality_layers=[float(quality)], num_resolutions=levels)
        return buf.getvalue()

    def decode_file(self, data):
        return _pil_decode(data, "JPEG2000")


@CODECS.register("jpeg")
class JPEGCodec(ImageFileCodec):
    """JPEG (libjpeg via Pillow), 4:2:0, optimised Huffman tables; quality 1..95."""

    name = "jpeg"
    quality_range = (1, 95)
    encoder_settings = {"subsampling": "4:2:0", "optimize": True}

    def check_tool(self) -> str:
        return f"libjpeg via Pillow {_pillow_version()}"

    def tool_versions(self) -> dict[str, str]:
        from PIL import features

        turbo = bool(features.check_feature("libjpeg_turbo"))
        return {"libjpeg-turbo" if turbo else "libjpeg": str(features.version("jpg"))}

    def encode_file(self, im, quality):
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=int(quality), optimize=True, subsampling=2)
        return buf.getvalue()

    def decode_file(self, data):
        return _pil_decode(data, "JPEG")


@CODECS.register("hevc_intra")
class HEVCIntraCodec(ImageFileCodec):
    """HEVC intra (x265 via pillow-heif, HEIF container): the codec inside BPG; quality 1..100."""

    name = "hevc_intra"
    quality_range = (1, 100)
    encoder_settings = {"container": "heif", "chroma": "4:2:0", "encoder": "x265"}

    def check_tool(self) -> str:
        heif = require("pillow_heif", "codec hevc_intra")
        info = heif.libheif_info()
        if "x265" not in info.get("encoders", {}):
            raise ImportError("hevc_intra needs pillow-heif with the x265 encoder: "
                              "pip install -U pillow-heif")
        self._heif = heif
        return f"{info['encoders']['x265']} via libheif {info['libheif']}"

    def tool_versions(self) -> dict[str, str]:
        from importlib.metadata import version

        info = self._heif.libheif_info()
        return {"pillow_heif": version("pillow-heif"), "libheif": str(info["libheif"]),
                "x265": str(info["encoders"]["x265"])}

    def encode_file(self, im, quality):
        buf = io.BytesIO()
        self._heif.from_pillow(im).save(buf, quality=int(quality), chroma=420)
        return buf.getvalue()

    def decode_file(self, data):
        return self._heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True).to_pillow()
