"""Text transports: how a caption crosses the PHY, as bits or as token embeddings.

Two transports (:func:`make_transport`), chosen by a codec's ``transport`` param:

* ``bits``: the caption as a bitstream with a text encoding (``utf8``,
  ``ascii7``, ``tokens:<tokenizer>``; :mod:`semlink.semantic.text`) on a
  **digital** profile (code + modulation). Errors arrive as whole failed code
  blocks (LDPC) or scattered bit flips (uncoded).
* ``embedding``: the caption's **token embeddings**, as the Multi-SC letter
  sends them (``../shared/papers/multi-sc-letter.md``, eq. 2 ``e_n =
  F_I2T(q, i_n)`` and eq. 4 ``t'_n = F_I2T(e'_n)``). The caption is tokenised
  (special tokens not sent), each token id ``w`` is replaced by its row
  ``E[w]`` of a language model's **input embedding table** ``E`` ``[V, D]``
  (the captioner's own language model, or the table a scenario names with
  ``embedding_model``), and the ``L x D`` reals go over the channel:

  - **analog** (on an analog profile): the table's mean row ``mu`` (known at
    both ends) is subtracted, the ``L*D`` reals are paired into
    ``ceil(L*D/2)`` complex symbols (real, imaginary = dimensions ``2j``,
    ``2j+1``, exactly as every analog stream of semlink is counted, e.g. the
    object stream's ``clip_embed``), and the caption's symbols are scaled to
    unit average power per complex symbol (**power normalisation per caption**;
    the one real scale factor is error-free side information, like the
    caption's token count ``L``). Channel uses per caption = ``ceil(L*D/2)``
    (+ the channel's pilots). SNR = Es/N0 per complex symbol.
  - **quantised** (on a digital profile): each dimension ``d`` is normalised
    by the table's per-dimension mean and standard deviation
    (``(E[w,d] - mu_d) / sigma_d``, known at both ends: no side information),
    clipped to ``[-clip, +clip]`` and quantised by a uniform ``bits``-bit
    scalar quantiser (``2^bits`` levels, mid-point reconstruction); the
    indices go as ``L * D * bits`` bits, MSB first. Both ``quant_bits`` and
    ``quant_clip`` must be given: an ``embedding`` transport on a digital
    profile without them is refused (:meth:`TextTransport.check_kind`).

  **Receiver**: each received vector ``y`` is mapped to the token whose table
  row is nearest in **Euclidean (L2) distance**, ``argmin_w ||y - E[w]||``,
  over the tokens the transmitter can send (special tokens and rows beyond the
  tokenizer excluded), then the ids are detokenised. L2, not cosine, because
  under AWGN with equiprobable tokens the nearest codeword in L2 is the
  maximum-likelihood decision (the row norms carry information cosine would
  discard); not the LM head, because the head maps the language model's last
  **hidden state** to logits, not a received **input embedding** (for tied
  tables ``logits = y . E^T`` would favour large-norm rows, untied heads live
  in another space). Under fading the channel equalises first (as for every
  analog stream); L2 on the equalised vector is then ML only when the
  effective noise is equal over the vector.

Errors are token substitutions by neighbours in the table: for a trained
language model's table these are often related tokens (graceful,
misspelling-like), unlike bits' bursts; tiny test models have random tables
(errors go to random tokens).

The receiver knows each caption's length (bits, or tokens ``L``) and, for the
analog transport, its power scale: error-free side information per caption.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch

from .text import TextEncoding, bits_to_ints, ints_to_bits, make_text_encoding

TRANSPORTS = ("bits", "embedding")


class TextTransport(ABC):
    """A caption <-> channel data mapping (bits or complex symbols) with per-caption side info.

    :attr kind: ``"digital"`` (1-D uint8 bits) or ``"analog"`` (1-D complex symbols).
    """

    name = "text"
    kind = "digital"

    @abstractmethod
    def encode(self, text: str) -> tuple[torch.Tensor, dict]:
        """Text -> (channel data on the host, side information the receiver knows).

        :output data: ``[n]`` uint8 bits (digital) or complex64 symbols (analog), on the CPU.
        """

    @abstractmethod
    def decode(self, data: torch.Tensor, side: dict) -> str:
        """Received data (same length as sent, any device) + side information -> text.

        Never raises on noise; computes on the table's device (embeddings) or the host (bits).
        """

    @abstractmethod
    def describe(self) -> dict:
        """Resolved settings (JSON-able), as recorded in results."""

    def signature(self) -> dict:
        """What a corrector trained through this transport must match (see :func:`same_transport`)."""
        return {"transport": self.name, "kind": self.kind}

    def records(self) -> list:
        """ModelRecords of the tables/tokenizers this transport uses (loads them if needed)."""
        return []

    @property
    def loaded(self) -> bool:
        """Whether its tables/tokenizers are loaded (a lazy transport loads on first use)."""
        return True

    def loaded_records(self) -> list:
        """:meth:`records` of what is loaded so far, loading nothing (for results written
        before the first caption was sent)."""
        return self.records() if self.loaded else []

    def check_kind(self, profile_kind: str, where: str) -> None:
        """Raise a clear error when this transport cannot ride a profile of ``profile_kind``."""
        if profile_kind != self.kind:
            raise ValueError(f"{where}: text transport {self.name!r} sends {self.kind} data but the "
                             f"profile is {profile_kind}; bind the stream to a {self.kind} profile")


class BitsTransport(TextTransport):
    """Caption bits with a :class:`~semlink.semantic.text.TextEncoding` (digital only).

    :param encoding: ``"utf8"``, ``"ascii7"`` or ``"tokens:<tokenizer ref>"`` (loaded on first use).
    """

    name = "bits"
    kind = "digital"

    def __init__(self, encoding: str = "utf8") -> None:
        if not (encoding in ("utf8", "ascii7")
                or (isinstance(encoding, str) and encoding.startswith("tokens:") and len(encoding) > 7)):
            make_text_encoding(encoding)                    # raises the explanatory error
        self.encoding_spec = encoding
        self._encoding: TextEncoding | None = None

    @property
    def encoding(self) -> TextEncoding:
        if self._encoding is None:
            self._encoding = make_text_encoding(self.encoding_spec)
        return self._encoding

    def encode(self, text: str) -> tuple[torch.Tensor, dict]:
        bits = self.encoding.encode(text)
        return bits, {"bits": int(bits.numel())}

    def decode(self, data: torch.Tensor, side: dict) -> str:
        return self.encoding.decode(data.detach().cpu()[: side["bits"]])

    def describe(self) -> dict:
        return {"transport": "bits", **self.encoding.describe()}

    def signature(self) -> dict:
        return {"transport": "bits", "kind": "digital", "encoding": self.encoding_spec}

    @property
    def loaded(self) -> bool:
        return self._encoding is not None

    def records(self) -> list:
        rec = getattr(self.encoding, "record", None)
        return [rec] if rec is not None else []

    def check_kind(self, profile_kind: str, where: str) -> None:
        if profile_kind != "digital":
            raise ValueError(f"{where}: text transport 'bits' needs a digital profile (code + "
                             f"modulation), got a {profile_kind} one; use transport: embedding for "
                             "an analog profile")


class EmbeddingTable:
    """A language model's input embedding table ``[V, D]`` with its tokenizer.

    :param weight: ``[V, D]`` float tensor (its device is where decoding runs).
    :param tokenizer: the Hugging Face tokenizer of the table.
    :param ref: model reference it came from; ``record``: its ModelRecord.
    """

    def __init__(self, weight: torch.Tensor, tokenizer, ref: str = "", record=None) -> None:
        if weight.dim() != 2 or weight.shape[0] < 2:
            raise ValueError(f"embedding table must be [V >= 2, D], got {tuple(weight.shape)}")
        self.weight = weight.detach().float()
        self.tokenizer, self.ref, self.record = tokenizer, ref, record
        device = self.weight.device
        limit = min(int(self.weight.shape[0]), len(tokenizer))
        special = set(getattr(tokenizer, "all_special_ids", []) or [])
        keep = [i for i in range(limit) if i not in special]
        if len(keep) < 2:
            raise ValueError(f"embedding table {ref!r}: fewer than 2 sendable tokens")
        #: ids the transmitter can send (nearest-neighbour candidates), [C] int64
        self.candidates = torch.tensor(keep, dtype=torch.int64, device=device)
        rows = self.weight[self.candidates]
        self.mean = rows.mean(0)                                       # [D]
        self.std = rows.std(0).clamp_min(1e-8)                         # [D]
        self._rows = rows
        self._norm2 = rows.square().sum(1)                             # [C]

    @property
    def dim(self) -> int:
        return int(self.weight.shape[1])

    def token_ids(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}: {text!r}")
        ids = list(self.tokenizer.encode(text, add_special_tokens=False))
        bad = [i for i in ids if i >= self.weight.shape[0]]
        if bad:
            raise ValueError(f"tokenizer of {self.ref!r} gave id {bad[0]} beyond the table's "
                             f"{self.weight.shape[0]} rows")
        return ids

    def rows(self, ids: list[int]) -> torch.Tensor:
        """``[L, D]`` table rows of ``ids``."""
        return self.weight[torch.tensor(ids, dtype=torch.int64, device=self.weight.device)]

    def nearest(self, vectors: torch.Tensor, chunk: int = 256) -> list[int]:
        """``[L, D]`` received vectors -> token ids, nearest row in L2 over :attr:`candidates`."""
        v = vectors.to(self.weight.device, torch.float32)
        out = []
        for s in range(0, v.shape[0], chunk):
            y = v[s:s + chunk]
            d2 = self._norm2[None, :] - 2.0 * (y @ self._rows.T)   # |y|^2 is common to every row
            out.append(self.candidates[d2.argmin(1)])
        return torch.cat(out).tolist() if out else []

    def detokenize(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False,
                                     clean_up_tokenization_spaces=False)


def load_embedding_table(ref: str, device: str = "auto") -> EmbeddingTable:
    """The input embedding table + tokenizer of the model at ``ref`` (offline, :mod:`semlink.models`).

    Any ``transformers`` model with ``get_input_embeddings()`` (BART, Qwen, LLaVA, ...);
    the tokenizer is the folder's ``AutoTokenizer``.

    :param device: where the table lives and nearest-neighbour decoding runs (``auto``: the
        first CUDA device if any, else the CPU, as every semlink model).
    """
    from semlink.device import resolve_device
    from semlink.extras import require
    from semlink.models import load_hf

    device = resolve_device(device)

    transformers = require("transformers", f"the embedding table of {ref!r}")
    model, tok, rec = load_hf(ref, transformers.AutoModel, role="text_embedding_table",
                              processor_class=transformers.AutoTokenizer, device=device)
    weight = model.get_input_embeddings().weight.detach().to(device)
    return EmbeddingTable(weight, tok, ref, rec)


def embedding_table_loader(transport: str, model: str | None = None, captioner=None,
                           device: str = "auto"):
    """The ``table`` of :func:`make_transport` as every codec and the corrector trainer choose it.

    :param transport: ``"bits"`` (no table: returns `None`) or ``"embedding"``.
    :param model: a model reference whose input embedding table is sent
        (:func:`load_embedding_table` on ``device``); it wins over the captioner.
    :param captioner: without ``model``: a zero-argument callable returning the
        :class:`~semlink.semantic.captioning.Captioner` whose language model's table is sent
        (a callable, so a captioner built on first use is not built here).
    :returns: `None`, or a zero-argument loader of the :class:`EmbeddingTable` (the model
        loads when the transport first needs it; call it to load now).
    :raises ValueError: ``embedding`` with neither a model nor a captioner.
    """
    if transport != "embedding":
        return None
    if model:
        return lambda: load_embedding_table(str(model), device=device)
    if captioner is None:
        raise ValueError("transport: embedding needs an embedding table: embedding_model: "
                         "<model ref>, or a captioner whose language model's table is sent")
    return lambda: captioner().embedding_table()


class EmbeddingTransport(TextTransport):
    """Token embeddings of a caption, analog or scalar-quantised (see the module docstring).

    :param table: an :class:`EmbeddingTable`, or a callable returning one (loaded on first use).
    :param quant_bits: bits per dimension of the quantised variant (1..16); `None`: analog.
    :param quant_clip: clipping range of the quantiser in per-dimension standard deviations (> 0).
    :param table_ref: the table's model reference, for :meth:`describe` before loading.
    """

    name = "embedding"

    def __init__(self, table, quant_bits: int | None = None, quant_clip: float | None = None,
                 table_ref: str = "") -> None:
        if (quant_bits is None) != (quant_clip is None):
            raise ValueError(f"quantised embeddings need both quant_bits and quant_clip, got "
                             f"quant_bits={quant_bits!r}, quant_clip={quant_clip!r}; give both "
                             "(e.g. quant_bits: 4, quant_clip: 3.0) or neither (analog)")
        if quant_bits is not None and (isinstance(quant_bits, bool) or not isinstance(quant_bits, int)
                                       or not 1 <= quant_bits <= 16):
            raise ValueError(f"quant_bits must be an int in 1..16, got {quant_bits!r}")
        if quant_clip is not None and (isinstance(quant_clip, bool)
                                       or not isinstance(quant_clip, (int, float))
                                       or not 0 < float(quant_clip) < math.inf):
            raise ValueError(f"quant_clip must be a positive number of standard deviations, got "
                             f"{quant_clip!r}")
        self._table = table
        self.table_ref = table_ref or getattr(table, "ref", "")
        self.quant_bits = quant_bits
        self.quant_clip = None if quant_clip is None else float(quant_clip)
        self.kind = "analog" if quant_bits is None else "digital"

    @property
    def table(self) -> EmbeddingTable:
        if not isinstance(self._table, EmbeddingTable):
            self._table = self._table()
        return self._table

    # -- quantiser ----------------------------------------------------------------
    def _quantiser(self) -> tuple[int, float]:
        """``(bits, clip)`` of the digital variant."""
        if self.quant_bits is None or self.quant_clip is None:
            raise RuntimeError("the analog embedding transport has no quantiser")
        return self.quant_bits, self.quant_clip

    def _quantise(self, rows: torch.Tensor) -> torch.Tensor:
        t, (b, c) = self.table, self._quantiser()
        x = ((rows - t.mean) / t.std).clamp(-c, c)
        levels = 1 << b
        idx = torch.floor((x + c) / (2 * c) * levels).clamp(0, levels - 1).to(torch.int64)
        return idx.reshape(-1)

    def _dequantise(self, idx: torch.Tensor, n_tokens: int) -> torch.Tensor:
        t, (b, c) = self.table, self._quantiser()
        levels = 1 << b
        x = -c + (idx.to(torch.float32) + 0.5) * (2 * c / levels)
        return x.reshape(n_tokens, t.dim).to(t.weight.device) * t.std + t.mean

    # -- encode / decode ---------------------------------------------------------------
    def encode(self, text: str) -> tuple[torch.Tensor, dict]:
        t = self.table
        ids = t.token_ids(text)
        if not ids:                                    # payloads are host data (chains move them)
            empty = (torch.zeros(0, dtype=torch.uint8, device="cpu") if self.kind == "digital"
                     else torch.zeros(0, dtype=torch.complex64, device="cpu"))
            return empty, {"tokens": 0, "scale": 1.0}
        rows = t.rows(ids)                                             # [L, D]
        if self.kind == "digital":
            bits = ints_to_bits(self._quantise(rows).cpu().tolist(), self._quantiser()[0])
            return bits.to("cpu"), {"tokens": len(ids)}
        x = (rows - t.mean).reshape(-1)
        if x.numel() % 2:
            x = torch.cat([x, x.new_zeros(1)])
        sym = torch.complex(x[0::2], x[1::2])
        scale = float(torch.sqrt(sym.abs().square().mean()).clamp_min(1e-12))
        return (sym / scale).to("cpu", torch.complex64), {"tokens": len(ids), "scale": scale}

    def decode(self, data: torch.Tensor, side: dict) -> str:
        t = self.table
        n = int(side["tokens"])
        if n == 0:
            return ""
        if self.kind == "digital":
            b = self._quantiser()[0]
            ints = bits_to_ints(data.detach()[: n * t.dim * b], b)   # on the bits' device
            idx = torch.tensor(ints, dtype=torch.int64, device=t.weight.device)
            vec = self._dequantise(idx, n)
        else:
            s = data.detach().to(t.weight.device, torch.complex64) * side["scale"]
            x = torch.stack([s.real, s.imag], -1).reshape(-1)[: n * t.dim]
            vec = x.reshape(n, t.dim) + t.mean
        return t.detokenize(t.nearest(vec))

    def describe(self) -> dict:
        d = {"transport": "embedding", "table": self.table_ref, "kind": self.kind,
             "receiver": "nearest neighbour, L2, over sendable tokens",
             "power_normalisation": "per caption, unit average power per complex symbol, "
                                    "table mean row subtracted" if self.kind == "analog" else None}
        if isinstance(self._table, EmbeddingTable):
            d.update({"vocab_size": int(self._table.weight.shape[0]), "dim": self._table.dim,
                      "sendable_tokens": int(self._table.candidates.numel())})
        if self.kind == "digital":
            d["quantiser"] = {"type": "uniform scalar, per-dimension mean/std normalised, "
                                      "mid-point reconstruction",
                              "bits": self.quant_bits, "clip_std": self.quant_clip}
        return d

    def signature(self) -> dict:
        return {"transport": "embedding", "kind": self.kind, "table": self.table_ref}

    @property
    def loaded(self) -> bool:
        return isinstance(self._table, EmbeddingTable)

    def records(self) -> list:
        rec = self.table.record
        return [rec] if rec is not None else []

    def check_kind(self, profile_kind: str, where: str) -> None:
        if self.kind == "analog" and profile_kind == "digital":
            raise ValueError(f"{where}: text transport 'embedding' on a digital profile needs "
                             "quantiser settings: give quant_bits (bits per dimension, e.g. 4) and "
                             "quant_clip (clipping range in standard deviations, e.g. 3.0), or bind "
                             "the stream to an analog profile ({kind: analog})")
        if self.kind == "digital" and profile_kind != "digital":
            raise ValueError(f"{where}: quantised embeddings (quant_bits={self.quant_bits}) are "
                             f"bits and need a digital profile, got {profile_kind}; drop "
                             "quant_bits/quant_clip to send them analog")


def make_transport(transport: str = "bits", encoding: str = "utf8", table=None,
                   table_ref: str = "", quant_bits: int | None = None,
                   quant_clip: float | None = None) -> TextTransport:
    """Build a transport from a codec's params.

    :param transport: ``"bits"`` or ``"embedding"``.
    :param encoding: the text encoding of ``bits``.
    :param table: for ``embedding``: an :class:`EmbeddingTable` or a zero-argument callable
        returning one (so models load on first use).
    :param quant_bits, quant_clip: the quantiser of ``embedding`` on a digital profile.
    """
    if transport == "bits":
        if quant_bits is not None or quant_clip is not None:
            raise ValueError("quant_bits/quant_clip apply to transport: embedding only; remove them "
                             "or set transport: embedding")
        return BitsTransport(encoding)
    if transport == "embedding":
        if table is None:
            raise ValueError("transport: embedding needs an embedding table: the captioner's "
                             "(source: captioner) or embedding_model: <model ref>")
        return EmbeddingTransport(table, quant_bits, quant_clip, table_ref)
    raise ValueError(f"transport must be one of {TRANSPORTS}, got {transport!r}")


def same_transport(trained: dict, used: dict) -> bool:
    """Whether a corrector trained through ``trained`` (a :meth:`TextTransport.signature`)
    fits a codec sending through ``used``: same transport and kind, and for ``bits`` the
    same encoding."""
    keys = ("transport", "kind") + (("encoding",) if used.get("transport") == "bits" else ())
    return all(trained.get(k) == used.get(k) for k in keys)
