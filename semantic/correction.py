"""Receiver-side text correction (Multi-SC papers, eq. (5): ``t_n = N_BART(t'_n)``).

Correctors (:func:`make_corrector`):

* ``none``: the received text as is.
* ``symspell``: dictionary spelling correction with symspellpy and the English
  unigram frequency dictionary it ships (82,765 words). Works offline with no
  model. Each whitespace-separated word keeps its leading/trailing
  punctuation; its core is kept when it is a dictionary word (or a number),
  else replaced by the most frequent dictionary word within edit distance
  ``max_edit_distance`` (default 2), with the original capitalisation of the
  first letter; a core with no candidate is kept. Word boundaries are not
  repaired (a corrupted space stays).
* ``bart`` / ``bart:<model ref>``: a ``BartForConditionalGeneration``
  (default ``facebook/bart-base``, or a folder written by
  ``semlink train corrector``), greedy decoding, resolved offline through
  :mod:`semlink.models`.

:func:`build_correction_pairs` makes the (noisy -> clean) fine-tuning set by
sending clean texts through the **real chain** with the chosen text
transport (:mod:`semlink.semantic.text_transport`): caption bits over a
:class:`semlink.phy.DigitalChain` (encoding, code, modulation), token
embeddings over an :class:`semlink.phy.AnalogChain`, or quantised
embeddings over a digital chain, at a range of SNRs. The clean side of every
pair is the text as sent (before any transliteration), what the metrics
compare with.

A corrector folder written by ``semlink train corrector`` records the
transport it was trained through (``semlink_corrector.json``);
:func:`check_corrector_transport` refuses it for a codec sending through
another transport (bits vs embedding, another encoding), before any sweep.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch

from semlink.device import DEFAULT_DEVICE, resolve_device

DEFAULT_BART = "facebook/bart-base"
_WORD = re.compile(r"^(\W*)(.*?)(\W*)$", re.S)


class Corrector:
    """Maps received texts to corrected texts (same length list)."""

    name = "none"

    def correct(self, texts: list[str]) -> list[str]:
        return list(texts)

    def describe(self) -> dict:
        return {"corrector": self.name}

    def records(self) -> list:
        """ModelRecords of the models this corrector loaded (none by default)."""
        return []


class SymSpellCorrector(Corrector):
    """Word-by-word dictionary correction with symspellpy (see the module docstring).

    :param max_edit_distance: largest edit distance of a correction (1..3).
    """

    name = "symspell"

    def __init__(self, max_edit_distance: int = 2) -> None:
        if isinstance(max_edit_distance, bool) or max_edit_distance not in (1, 2, 3):
            raise ValueError(f"max_edit_distance must be 1, 2 or 3, got {max_edit_distance!r}")
        self.max_edit_distance = max_edit_distance
        self._sym: tuple[Any, Any] | None = None      # (symspellpy module, SymSpell), loaded once

    def _load(self):
        if self._sym is None:
            from importlib.resources import files

            from semlink.extras import require

            symspellpy = require("symspellpy", "the symspell corrector")
            sym = symspellpy.SymSpell(max_dictionary_edit_distance=self.max_edit_distance)
            path = files("symspellpy") / "frequency_dictionary_en_82_765.txt"
            if not sym.load_dictionary(str(path), term_index=0, count_index=1):
                raise FileNotFoundError(f"symspell dictionary not found at {path}")
            self._sym = (symspellpy, sym)
        return self._sym

    def correct_word(self, word: str) -> str:
        """Correct one whitespace-free token, keeping its punctuation and capitalisation."""
        symspellpy, sym = self._load()
        match = _WORD.match(word)
        assert match is not None                 # the pattern matches every string
        lead, core, trail = match.groups()
        low = core.lower()
        if not core or any(ch.isdigit() for ch in core):
            return word
        if low in sym.words:                    # a dictionary word: only repair odd casing
            odd = core[1:] != core[1:].lower() and core != core.upper()
            return lead + (core[:1] + core[1:].lower() if odd else core) + trail
        hits = sym.lookup(low, symspellpy.Verbosity.TOP, max_edit_distance=self.max_edit_distance)
        if not hits:
            return word
        fixed = hits[0].term
        if core[:1].isupper():
            fixed = fixed[:1].upper() + fixed[1:]
        return lead + fixed + trail

    def correct(self, texts: list[str]) -> list[str]:
        return ["".join(self.correct_word(t) if t and not t.isspace() else t
                        for t in re.split(r"(\s+)", text)) for text in texts]

    def describe(self) -> dict:
        return {"corrector": "symspell", "max_edit_distance": self.max_edit_distance,
                "dictionary": "symspellpy frequency_dictionary_en_82_765.txt"}


class BartCorrector(Corrector):
    """BART sequence-to-sequence corrector, greedy decoding.

    :param model: model reference (HF id or folder from ``semlink train corrector``).
    :param max_length: token limit of inputs and outputs.
    :param batch_size: texts per ``generate`` call.
    """

    name = "bart"

    def __init__(self, model: str = DEFAULT_BART, max_length: int = 96, batch_size: int = 16,
                 device: str = DEFAULT_DEVICE) -> None:
        device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
        if not isinstance(model, str) or not model:
            raise ValueError(f"bart corrector: model must be a model reference, got {model!r}")
        self.ref, self.max_length, self.batch_size, self.device = model, max_length, batch_size, device
        self._loaded = None

    def _load(self):
        if self._loaded is None:
            from semlink.extras import require
            from semlink.models import load_hf

            transformers = require("transformers", "the BART corrector")
            self._loaded = load_hf(self.ref, transformers.BartForConditionalGeneration,
                                   role="corrector", processor_class=transformers.AutoTokenizer,
                                   device=self.device)
        return self._loaded

    @torch.no_grad()
    def correct(self, texts: list[str]) -> list[str]:
        model, tok, _ = self._load()
        out: list[str] = []
        for s in range(0, len(texts), self.batch_size):
            batch = list(texts[s:s + self.batch_size])
            enc = tok(batch, return_tensors="pt", padding=True, truncation=True,
                      max_length=self.max_length).to(self.device)
            gen = model.generate(**enc, do_sample=False, num_beams=1, max_length=self.max_length)
            out.extend(tok.batch_decode(gen, skip_special_tokens=True))
        return out

    def records(self) -> list:
        return [self._load()[2]]

    def describe(self) -> dict:
        return {"corrector": "bart", "model": self.ref, "decoding": "greedy",
                "max_length": self.max_length}


def make_corrector(spec: str, device: str = DEFAULT_DEVICE) -> Corrector:
    """``"none"``, ``"symspell"``, ``"bart"`` or ``"bart:<model ref>"`` -> a :class:`Corrector`."""
    device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
    if spec in (None, "none"):
        return Corrector()
    if spec == "symspell":
        return SymSpellCorrector()
    if spec == "bart":
        return BartCorrector(DEFAULT_BART, device=device)
    if isinstance(spec, str) and spec.startswith("bart:") and len(spec) > 5:
        return BartCorrector(spec[5:], device=device)
    raise ValueError(f"corrector must be 'none', 'symspell', 'bart' or 'bart:<model ref>', got {spec!r}")


def trained_transport(ref: str) -> dict | None:
    """The transport signature a ``semlink train corrector`` folder was trained for.

    Reads ``semlink_corrector.json`` without loading weights. `None` when the model is not
    on this machine or was not trained by semlink (e.g. ``facebook/bart-base``). Folders
    from before transports were recorded were trained on caption bits with their
    ``config.encoding``.
    """
    import json

    from semlink.models import ModelNotFound, resolve

    try:
        path = resolve(ref, allow_download=False).path
    except (ModelNotFound, ValueError, ImportError):
        return None
    meta_file = path / "semlink_corrector.json" if path.is_dir() else None
    if meta_file is None or not meta_file.is_file():
        return None
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    if "transport" in meta:
        return meta["transport"]
    return {"transport": "bits", "kind": "digital",
            "encoding": meta.get("config", {}).get("encoding", "utf8")}


def check_corrector_transport(spec: str, used: dict) -> None:
    """Raise when corrector ``spec`` (``bart:<folder>``) was trained for another transport.

    :param used: the codec's :meth:`~semlink.semantic.text_transport.TextTransport.signature`.
    """
    from .text_transport import same_transport

    if not (isinstance(spec, str) and spec.startswith("bart:")):
        return
    trained = trained_transport(spec[5:])
    if trained is not None and not same_transport(trained, used):
        raise ValueError(f"corrector {spec!r} was trained for text transport {trained} but this "
                         f"codec sends through {used}; retrain it with `semlink train corrector "
                         f"--transport {used.get('transport')}` (same encoding / quantiser) or "
                         "use a corrector trained for this transport")


@dataclass
class CorrectionPair:
    """One fine-tuning example: ``noisy`` (received) -> ``clean`` (sent), at ``snr_db`` (Es/N0)."""

    noisy: str
    clean: str
    snr_db: float | None


def build_correction_pairs(texts: list[str], encoding: str = "utf8", profile: dict | None = None,
                           channel="awgn", snr_db=(0.0, 2.0, 4.0, 6.0, 8.0), copies: int = 1,
                           clean_fraction: float = 0.1, seed: int = 0, device: str = DEFAULT_DEVICE,
                           transport=None) -> tuple[list[CorrectionPair], dict]:
    """Send clean ``texts`` through the real chain and pair what arrives with them.

    :param texts: clean texts (dataset captions, or captioner outputs on images and parts).
    :param encoding: text encoding of the bits transport (see
        :func:`semlink.semantic.text.make_text_encoding`); ignored when ``transport`` is given.
    :param profile: digital profile (``code``, ``k``, ``n``, ``rate``, ``modulation``, ...);
        default 5G LDPC rate 1/2, k = 256, 8-PSK; analog transports use an analog chain
        (``power``, default 1) and ignore code and modulation.
    :param transport: a :class:`~semlink.semantic.text_transport.TextTransport`; default
        caption bits with ``encoding``.
    :param channel: channel name or spec (``"awgn"``, ``{"name": "rayleigh", ...}``).
    :param snr_db: Es/N0 points [dB]; every text is sent ``copies`` times at each.
    :param clean_fraction: adds ``round(clean_fraction * len(pairs))`` (clean -> clean) pairs,
        so the corrector learns to leave correct text alone.
    :returns: ``(pairs, config)``; ``config`` records seed, chain and counts.
    """
    device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
    from semlink.phy import AnalogChain, DigitalChain

    from .text_transport import BitsTransport

    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be a non-empty list of strings")
    if not 0.0 <= float(clean_fraction) <= 1.0:
        raise ValueError(f"clean_fraction must be in [0, 1], got {clean_fraction!r}")
    tr = transport if transport is not None else BitsTransport(encoding)
    if tr.kind == "analog":
        spec = {k: v for k, v in (profile or {}).items() if k in ("power", "channel")}
    else:
        spec = dict(profile or {"code": "ldpc5g", "k": 256, "rate": 0.5, "modulation": "psk8"})
    tr.check_kind(str((profile or {}).get("kind", tr.kind)), "build_correction_pairs profile")
    spec.pop("kind", None)
    spec_channel = spec.pop("channel", channel)
    chain: AnalogChain | DigitalChain
    if tr.kind == "analog":
        chain = AnalogChain(channel=spec_channel, seed=seed, device=device, **spec)
    else:
        chain = DigitalChain(channel=spec_channel, seed=seed, device=device, **spec)
    sent = list(texts)                                       # the clean side: what was sent
    coded = [tr.encode(t) for t in texts]
    data, sides = [c[0] for c in coded], [c[1] for c in coded]
    nonempty = [i for i, d in enumerate(data) if d.numel()]
    pairs: list[CorrectionPair] = []
    for snr in snr_db:
        for _ in range(copies):
            received = list(data)
            if nonempty:
                rx, _ = chain.transmit([data[i] for i in nonempty], snr_db=float(snr))
                for i, r in zip(nonempty, rx, strict=True):
                    received[i] = r
            pairs.extend(CorrectionPair(tr.decode(r, sd), c, float(snr))
                         for r, sd, c in zip(received, sides, sent, strict=True))
    gen = torch.Generator(device="cpu").manual_seed(seed)
    n_clean = round(float(clean_fraction) * len(pairs))
    picks = torch.randint(len(sent), (n_clean,), generator=gen, device="cpu").tolist()
    pairs.extend(CorrectionPair(sent[i], sent[i], None) for i in picks)
    config = {"transport": tr.describe(), "signature": tr.signature(),
              **({"encoding": tr.encoding.describe()} if tr.name == "bits" else {}),
              "profile": spec, "channel": spec_channel,
              "chain": (chain.describe() if hasattr(chain, "describe") else
                        {"chain": "analog", "power": chain.power, "normalize": chain.normalize}),
              "snr_db": [float(s) for s in snr_db], "copies": copies,
              "clean_fraction": float(clean_fraction), "seed": seed, "num_texts": len(texts),
              "num_pairs": len(pairs), "num_clean_pairs": n_clean}
    return pairs, config
