"""Text as bits: the text stream encodings used to send captions over the PHY.

Three encodings (:func:`make_text_encoding`), each a bijection between a
string and a bitstream (MSB first), with an exact bit count:

* ``utf8``: the UTF-8 bytes, 8 bits each; ``bits = 8 x bytes`` (a non-ASCII
  character costs 2-4 bytes). Decoding replaces invalid byte sequences with
  U+FFFD (``errors="replace"``), so a bit error never raises.
* ``ascii7``: one 7-bit code per character; ``bits = 7 x characters``.
  Characters outside ASCII are first transliterated (NFKD, combining marks
  dropped: ``"café" -> "cafe"``) and what remains non-ASCII becomes ``"?"``
  (:func:`to_ascii`); :meth:`TextEncoding.round_trip_text` says what the
  receiver can get back at best.
* ``tokens:<tokenizer>``: token ids of a Hugging Face tokenizer (resolved
  through :mod:`semlink.models`, e.g. ``tokens:facebook/bart-base``) at
  ``ceil(log2 V)`` bits each, ``V`` the vocabulary size; special tokens are
  not sent. A received id ``>= V`` (possible when ``V`` is not a power of
  two) decodes as the tokenizer's unknown token.

How channel errors show up depends on the code (measured in
``docs/results/text_over_phy.md``): over an LDPC code, errors arrive as whole
failed code blocks, i.e. a burst of garbled characters in one part of the
text while the rest is exact; uncoded or with short codes they are scattered
single-character errors that a dictionary corrector can often repair.

The receiver knows each text's bit length (error-free side information, a
size like an image's height and width); the content goes over the channel.
"""

from __future__ import annotations

import math
import unicodedata
from abc import ABC, abstractmethod

import torch


def _bytes_to_bits(data: bytes, width: int = 8) -> torch.Tensor:
    return ints_to_bits(list(data), width)


def ints_to_bits(values: list[int], width: int, device: str | torch.device = "cpu") -> torch.Tensor:
    """Non-negative ints -> 1-D uint8 0/1 tensor, ``width`` bits each, MSB first.

    :param device: where the bits are built (default the host: payloads are host data;
        a chain moves its input to its own device).
    :output: ``[len(values) * width]`` uint8 on ``device``.
    """
    if width < 1:
        raise ValueError(f"width must be >= 1 bit, got {width}")
    if not values:
        return torch.zeros(0, dtype=torch.uint8, device=device)
    v = torch.as_tensor(values, dtype=torch.int64, device=device)
    if int(v.min()) < 0 or int(v.max()) >= 1 << width:
        raise ValueError(f"values must lie in 0..{(1 << width) - 1} for {width}-bit symbols")
    shifts = torch.arange(width - 1, -1, -1, dtype=torch.int64, device=device)
    return ((v[:, None] >> shifts) & 1).to(torch.uint8).reshape(-1)


def bits_to_ints(bits: torch.Tensor, width: int) -> list[int]:
    """1-D 0/1 tensor (length a multiple of ``width``; on any device) -> ints, MSB first.

    Computes on the bits' own device (a chain's output stays where the chain ran).
    """
    if not isinstance(bits, torch.Tensor):
        bits = torch.as_tensor(bits, device="cpu")
    b = bits.to(torch.int64).reshape(-1)
    if b.numel() % width:
        raise ValueError(f"{b.numel()} bits is not a multiple of the symbol width {width}")
    if b.numel() == 0:
        return []
    weights = 1 << torch.arange(width - 1, -1, -1, dtype=torch.int64, device=b.device)
    return (b.view(-1, width) * weights).sum(1).tolist()


def to_ascii(text: str) -> str:
    """Transliterate to ASCII: NFKD, drop combining marks, other non-ASCII -> ``"?"``."""
    out = []
    for ch in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(ch):
            continue
        out.append(ch if ord(ch) < 128 else "?")
    return "".join(out)


class TextEncoding(ABC):
    """A string <-> bits encoding. Subclasses define :meth:`encode`, :meth:`decode`."""

    name = "text"

    @abstractmethod
    def encode(self, text: str) -> torch.Tensor:
        """String -> 1-D uint8 0/1 tensor (MSB first)."""

    @abstractmethod
    def decode(self, bits: torch.Tensor) -> str:
        """Received bits (same length as sent) -> string; never raises on bit errors."""

    def num_bits(self, text: str) -> int:
        """Exact number of bits :meth:`encode` produces for ``text``."""
        return int(self.encode(text).numel())

    def round_trip_text(self, text: str) -> str:
        """What an error-free channel delivers for ``text`` (``text`` itself if lossless)."""
        return self.decode(self.encode(text))

    def describe(self) -> dict:
        return {"encoding": self.name}


class Utf8Encoding(TextEncoding):
    """UTF-8 bytes, 8 bits each; invalid sequences decode to U+FFFD."""

    name = "utf8"

    def encode(self, text: str) -> torch.Tensor:
        return _bytes_to_bits(_check_text(text).encode("utf-8"))

    def decode(self, bits: torch.Tensor) -> str:
        return bytes(bits_to_ints(bits, 8)).decode("utf-8", errors="replace")


class Ascii7Encoding(TextEncoding):
    """7 bits per character after :func:`to_ascii` transliteration."""

    name = "ascii7"

    def encode(self, text: str) -> torch.Tensor:
        return ints_to_bits([ord(c) for c in to_ascii(_check_text(text))], 7)

    def decode(self, bits: torch.Tensor) -> str:
        return "".join(map(chr, bits_to_ints(bits, 7)))


class TokenEncoding(TextEncoding):
    """Tokenizer ids at ``ceil(log2 V)`` bits each (special tokens not sent).

    :param tokenizer: a Hugging Face tokenizer object (``len(tokenizer)`` = V).
    :param ref: the model reference it was loaded from (recorded in results).
    :param record: its :class:`~semlink.provenance.ModelRecord` (hash of the tokenizer files).
    """

    def __init__(self, tokenizer, ref: str = "", record=None) -> None:
        self.tokenizer = tokenizer
        self.ref = ref
        self.record = record
        self.vocab_size = len(tokenizer)
        if self.vocab_size < 2:
            raise ValueError(f"tokenizer {ref!r} has a vocabulary of {self.vocab_size}; need >= 2")
        self.bits_per_token = max(1, math.ceil(math.log2(self.vocab_size)))
        self.name = f"tokens:{ref}" if ref else "tokens"

    def token_ids(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(_check_text(text), add_special_tokens=False))

    def encode(self, text: str) -> torch.Tensor:
        return ints_to_bits(self.token_ids(text), self.bits_per_token)

    def decode(self, bits: torch.Tensor) -> str:
        unk = self.tokenizer.unk_token_id
        ids = [i if i < self.vocab_size else (unk if unk is not None else 0)
               for i in bits_to_ints(bits, self.bits_per_token)]
        return self.tokenizer.decode(ids, skip_special_tokens=False,
                                     clean_up_tokenization_spaces=False)

    def describe(self) -> dict:
        return {"encoding": "tokens", "tokenizer": self.ref, "vocab_size": self.vocab_size,
                "bits_per_token": self.bits_per_token}


def _check_text(text) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}: {text!r}")
    return text


def make_text_encoding(spec: str) -> TextEncoding:
    """``"utf8"``, ``"ascii7"`` or ``"tokens:<model ref>"`` -> a :class:`TextEncoding`.

    The tokenizer of ``tokens:`` is found offline through :func:`semlink.models.resolve`.
    """
    if spec == "utf8":
        return Utf8Encoding()
    if spec == "ascii7":
        return Ascii7Encoding()
    if isinstance(spec, str) and spec.startswith("tokens:") and len(spec) > 7:
        from semlink.extras import require
        from semlink.models import resolve

        transformers = require("transformers", f"text encoding {spec!r}")
        ref = spec[7:]
        resolved = resolve(ref)
        tok = transformers.AutoTokenizer.from_pretrained(str(resolved.path), local_files_only=True)
        return TokenEncoding(tok, ref, record=resolved.record("tokenizer"))
    raise ValueError(f"text encoding must be 'utf8', 'ascii7' or 'tokens:<tokenizer ref>' "
                     f"(e.g. 'tokens:facebook/bart-base'), got {spec!r}")
