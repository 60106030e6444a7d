"""Bit interleaving between the LDPC encoder and the mapper (BICM).

With ``m`` bits per symbol, the code bits ``m t, ..., m t + m - 1`` of a
codeword share symbol ``t`` and therefore its fading coefficient; with slow
enough fading, runs of consecutive code bits see the same deep fade. A bit
interleaver spreads them over the codeword.

* ``"random"`` -- :class:`BitInterleaver`: a fixed pseudo-random permutation
  of the ``n + p`` bits of a (symbol-padded) codeword, drawn once from
  ``numpy.random.default_rng(SEED)`` with ``SEED = 38212 + n + p``. It works
  for every ``n`` and bits per symbol (the ``p`` zero bits that fill the
  last symbol are interleaved too, and dropped after de-interleaving). The
  same permutation is used for every code block, so it is a property of the
  profile, known to the receiver.
* ``"5g"`` -- the 38.212 Sec. 5.4.2.2 row-column interleaver (Sionna's
  ``LDPC5GEncoder(num_bits_per_symbol=m)``): it puts the systematic bits on
  the most reliable bit levels of a QAM symbol, but it is only defined when
  ``m`` divides ``n`` and it does not spread bursts (the bits of ``m``
  consecutive symbols come from ``m`` runs of consecutive code bits).
* ``"none"``.

:class:`~semlink.phy.digital.DigitalChain` picks ``"random"`` by default on
every channel except AWGN (on AWGN, where all symbols are alike, it keeps
the 5G interleaver when ``m | n``, as before). Uncoded profiles are never
interleaved (it cannot change their bit error rate).
"""

from __future__ import annotations

import numpy as np
import torch

INTERLEAVERS = ("auto", "random", "5g", "none")
SEED_BASE = 38212


class BitInterleaver:
    """Fixed pseudo-random permutation of the ``length`` bits of each codeword.

    :param length: codeword bits per row (``n`` plus symbol padding).
    :param device: torch device of the index tensors.

    :input bits: [batch, length] (any dtype) -- :meth:`interleave`.
    :input llr: [batch, length] -- :meth:`deinterleave` (inverse permutation).
    """

    def __init__(self, length: int, device: str | torch.device | None = None) -> None:
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be a positive int, got {length!r}")
        perm = np.random.default_rng(SEED_BASE + length).permutation(length)
        self.length = length
        self.permutation = torch.as_tensor(perm, dtype=torch.int64, device=device)
        self.inverse = torch.argsort(self.permutation)

    def interleave(self, bits: torch.Tensor) -> torch.Tensor:
        """Bit ``j`` of the output is bit ``permutation[j]`` of the input."""
        return bits[..., self.permutation]

    def deinterleave(self, llr: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`interleave` (for bits or LLRs)."""
        return llr[..., self.inverse]
