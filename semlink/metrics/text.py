"""Text metrics: ``bleu``, ``cer``, ``wer``, ``exact_match``.

They compare, per image, the texts a codec sent (``recon.extras["sent_texts"]``:
one list of strings per image) with the texts it delivered (``recon.texts``:
one list of strings per image, after any correction). A single string per
image is accepted for either.

* ``cer``: character error rate = Levenshtein distance (insertions,
  deletions, substitutions) over characters, summed over the image's texts,
  divided by the number of reference characters. Can exceed 1.
* ``wer``: the same over whitespace-separated words.
* ``bleu``: sacrebleu's sentence BLEU (Papineni et al. 2002; up to
  4-grams, brevity penalty, ``13a`` tokenisation, ``exp`` smoothing,
  effective order for texts shorter than 4 words) of each text against its
  reference, averaged over the image's texts and **divided by 100**: the
  0-1 scale the Multi-SC papers plot (sacrebleu reports 0-100). A corpus
  BLEU over a whole dataset is not the mean of these per-image values. An
  empty sent text (no word) scores 1 when the received text is empty too, 0
  otherwise (sacrebleu alone gives 0 to an empty text received exactly).
* ``exact_match``: fraction of the image's texts received exactly.

All need no model and no network; ``bleu`` needs ``sacrebleu``
(``pip install 'semlink[text]'``).
"""

from __future__ import annotations

import numpy as np

from semlink.edit_distance import error_rate, levenshtein  # noqa: F401  (re-exported)

from .base import METRICS, Metric


def bleu01(refs: list[str], hyps: list[str]) -> float:
    """Mean sentence BLEU of ``hyps`` vs ``refs`` (one reference each), 0-1 scale.

    sacrebleu's ``sentence_bleu`` (``13a`` tokens, ``exp`` smoothing, effective
    order, so a correct 3-word caption scores 1, not 0), divided by 100."""
    from semlink.extras import require

    sacrebleu = require("sacrebleu", "the bleu metric")
    scores = [_sentence_bleu01(sacrebleu, r, h) for r, h in zip(refs, hyps, strict=True)]
    return float(sum(scores) / len(scores)) if scores else 1.0


def _sentence_bleu01(sacrebleu, ref: str, hyp: str) -> float:
    """One sentence's BLEU, 0-1. An empty reference (no word) has no n-gram to match, where
    sacrebleu answers 0 even for an empty hypothesis: received exactly (empty) scores 1,
    anything else 0 -- the convention of ``cer``/``wer`` (0 and 1) and ``exact_match``."""
    if not ref.split():
        return 1.0 if not hyp.split() else 0.0
    return sacrebleu.sentence_bleu(hyp, [ref]).score / 100.0


def _as_lists(value, what: str, n: int) -> list[list[str]]:
    if value is None or len(value) != n:
        raise ValueError(f"text metrics need {what} for each of the {n} items (a text codec "
                         f"sets them); got {None if value is None else len(value)}")
    return [[v] if isinstance(v, str) else [str(t) for t in v] for v in value]


def text_pairs(originals, recon) -> list[tuple[list[str], list[str]]] | None:
    """Per item ``(sent texts, received texts)`` from a text reconstruction.

    `None` when the codec sent no text at all (neither ``sent_texts`` nor
    ``texts``): text metrics are then undefined (NaN), so one scenario can
    compare text and image codecs. Texts on only one side is an error.
    """
    n = len(originals)
    if recon.extras.get("sent_texts") is None and recon.texts is None:
        return None
    sent = _as_lists(recon.extras.get("sent_texts"), "sent texts (recon.extras['sent_texts'])", n)
    got = _as_lists(recon.texts, "received texts (recon.texts)", n)
    for i, (s, g) in enumerate(zip(sent, got, strict=True)):
        if len(s) != len(g):
            raise ValueError(f"item {i}: {len(s)} texts sent but {len(g)} received")
    return list(zip(sent, got, strict=True))


def cer(originals, recon) -> np.ndarray:
    """Character error rate per item."""
    pairs = text_pairs(originals, recon)
    if pairs is None:
        return np.full(len(originals), np.nan)
    return np.array([error_rate(s, g, "char") for s, g in pairs])


def wer(originals, recon) -> np.ndarray:
    """Word error rate per item."""
    pairs = text_pairs(originals, recon)
    if pairs is None:
        return np.full(len(originals), np.nan)
    return np.array([error_rate(s, g, "word") for s, g in pairs])


def bleu(originals, recon) -> np.ndarray:
    """BLEU per item, 0-1 scale (sacrebleu score / 100)."""
    pairs = text_pairs(originals, recon)
    if pairs is None:
        return np.full(len(originals), np.nan)
    return np.array([bleu01(s, g) for s, g in pairs])


def exact_match(originals, recon) -> np.ndarray:
    """Fraction of each item's texts received exactly."""
    pairs = text_pairs(originals, recon)
    if pairs is None:
        return np.full(len(originals), np.nan)
    return np.array([float(np.mean([a == b for a, b in zip(s, g, strict=True)])) if s else 1.0
                     for s, g in pairs])


def _sacrebleu_unavailable() -> str | None:
    try:
        import sacrebleu  # noqa: F401
    except ImportError:
        return "bleu needs sacrebleu: pip install 'semlink[text]' (or: pip install sacrebleu)"
    return None


TEXT_METRICS = (
    Metric("cer", "", False, cer, "character error rate of received vs sent text (Levenshtein)"),
    Metric("wer", "", False, wer, "word error rate of received vs sent text (Levenshtein on words)"),
    Metric("bleu", "", True, bleu, "BLEU of received vs sent text, sacrebleu score / 100 (0-1 scale)",
           unavailable=_sacrebleu_unavailable),
    Metric("exact_match", "", True, exact_match, "fraction of texts received exactly"),
)


def register() -> None:
    """Register the text metrics in :data:`~semlink.metrics.base.METRICS`."""
    for m in TEXT_METRICS:
        METRICS.add(m.name, (lambda m=m: m), m.description)
