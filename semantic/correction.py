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
sending clean texts through the **real digital chain**
(:class:`semlink.phy.DigitalChain`: the scenario's text encoding, code and
modulation) over a range of SNRs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

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
        self._sym = None

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
        lead, core, trail = _WORD.match(word).groups()
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
                 device: str = "cpu") -> None:
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


def make_corrector(spec: str, device: str = "cpu") -> Corrector:
    """``"none"``, ``"symspell"``, ``"bart"`` or ``"bart:<model ref>"`` -> a :class:`Corrector`."""
    if spec in (None, "none"):
        return Corrector()
    if spec == "symspell":
        return SymSpellCorrector()
    if spec == "bart":
        return BartCorrector(DEFAULT_BART, device=device)
    if isinstance(spec, str) and spec.startswith("bart:") and len(spec) > 5:
        return BartCorrector(spec[5:], device=device)
    raise ValueError(f"corrector must be 'none', 'symspell', 'bart' or 'bart:<model ref>', got {spec!r}")


@dataclass
class CorrectionPair:
    """One fine-tuning example: ``noisy`` (received) -> ``clean`` (sent), at ``snr_db`` (Es/N0)."""

    noisy: str
    clean: str
    snr_db: float | None


def build_correction_pairs(texts: list[str], encoding: str = "utf8", profile: dict | None = None,
                           channel="awgn", snr_db=(0.0, 2.0, 4.0, 6.0, 8.0), copies: int = 1,
                           clean_fraction: float = 0.1, seed: int = 0,
                           device: str = "cpu") -> tuple[list[CorrectionPair], dict]:
    """Send clean ``texts`` through the real digital chain and pair what arrives with them.

    :param texts: clean texts (dataset captions, or captioner outputs on images and parts).
    :param encoding: text encoding (see :func:`semlink.semantic.text.make_text_encoding`).
    :param profile: digital profile (``code``, ``k``, ``n``, ``rate``, ``modulation``, ...);
        default 5G LDPC rate 1/2, k = 256, 8-PSK.
    :param channel: channel name or spec (``"awgn"``, ``{"name": "rayleigh", ...}``).
    :param snr_db: Es/N0 points [dB]; every text is sent ``copies`` times at each.
    :param clean_fraction: adds ``round(clean_fraction * len(pairs))`` (clean -> clean) pairs,
        so the corrector learns to leave correct text alone.
    :returns: ``(pairs, config)``; ``config`` records seed, chain and counts.
    """
    from semlink.phy import DigitalChain

    from .text import make_text_encoding

    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be a non-empty list of strings")
    if not 0.0 <= float(clean_fraction) <= 1.0:
        raise ValueError(f"clean_fraction must be in [0, 1], got {clean_fraction!r}")
    spec = dict(profile or {"code": "ldpc5g", "k": 256, "rate": 0.5, "modulation": "psk8"})
    spec.pop("kind", None)
    spec_channel = spec.pop("channel", channel)
    enc = make_text_encoding(encoding)
    chain = DigitalChain(channel=spec_channel, seed=seed, device=device, **spec)
    sent = [enc.round_trip_text(t) for t in texts]          # what an error-free link delivers
    bits = [enc.encode(t) for t in texts]
    pairs: list[CorrectionPair] = []
    for snr in snr_db:
        for _ in range(copies):
            received, _ = chain.transmit(bits, snr_db=float(snr))
            pairs.extend(CorrectionPair(enc.decode(r.cpu()), c, float(snr))
                         for r, c in zip(received, sent))
    gen = torch.Generator().manual_seed(seed)
    n_clean = round(float(clean_fraction) * len(pairs))
    picks = torch.randint(len(sent), (n_clean,), generator=gen).tolist()
    pairs.extend(CorrectionPair(sent[i], sent[i], None) for i in picks)
    config = {"encoding": enc.describe(), "profile": spec, "channel": spec_channel,
              "chain": chain.describe(), "snr_db": [float(s) for s in snr_db], "copies": copies,
              "clean_fraction": float(clean_fraction), "seed": seed, "num_texts": len(texts),
              "num_pairs": len(pairs), "num_clean_pairs": n_clean}
    return pairs, config
