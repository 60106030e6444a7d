"""Levenshtein distance and the character / word error rates built on it.

Below every layer: the text metrics (:mod:`semlink.metrics.text`, ``cer`` and
``wer``) and the corrector trainer's evaluation
(:mod:`semlink.semantic.training.corrector`) use the same definitions.

* ``levenshtein(a, b)``: minimum number of insertions, deletions and
  substitutions turning sequence ``a`` into ``b`` (Levenshtein 1966), by the
  two-row dynamic programme, O(len(a) * len(b)) time, O(min) memory.
* ``error_rate(refs, hyps, unit)``: sum of the distances over the pairs divided
  by the number of reference units (characters or whitespace-separated words);
  it can exceed 1. With no reference unit at all it is 0 when every hypothesis
  is empty too, else 1.
"""

from __future__ import annotations


def levenshtein(a, b) -> int:
    """Edit distance between two sequences (strings or lists of words).

    >>> levenshtein("kitten", "sitting")
    3
    """
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def error_rate(refs: list[str], hyps: list[str], unit: str) -> float:
    """CER (``unit="char"``) or WER (``unit="word"``) of ``hyps`` against ``refs`` (paired)."""
    if unit not in ("char", "word"):
        raise ValueError(f"unit must be 'char' or 'word', got {unit!r}")
    split = (lambda s: list(s)) if unit == "char" else (lambda s: s.split())
    edits = sum(levenshtein(split(r), split(h)) for r, h in zip(refs, hyps, strict=True))
    total = sum(len(split(r)) for r in refs)
    if total == 0:
        return 0.0 if all(not split(h) for h in hyps) else 1.0
    return edits / total
