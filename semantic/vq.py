"""Segment-wise vector quantisation (UO-ISC, ../papers/uo-isc.md eqs. 5-7, 9, 12).

Each D-dimensional token vector is split into ``S = D / l`` segments of length
``l``; segment ``j`` has its own codebook of ``K`` codewords. Encoding picks
the nearest codeword per segment (eq. 7); decoding looks the codewords up
(eq. 9). Gradients pass straight through. The quantisation loss (eq. 12) is
``||sg[z] - e||^2 + beta ||z - sg[e]||^2``; with ``ema=True`` the codebooks
follow an exponential moving average of their assigned segments instead and
only the commitment term is used.

Every index is sent as exactly ``log2 K`` bits, so ``K`` must be a power of
two (a non-power of two would waste code points and make a received bit
pattern name no codeword); :func:`check_vq_settings` checks ``D``, ``l``
and ``K`` before anything is built.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def check_vq_settings(dim: int, segment_lengths, codebook_size: int) -> None:
    """Raise a clear ``ValueError`` when a segment length does not divide ``D`` or ``K``
    is not a power of two (>= 2); ``segment_lengths`` is an int or a list of them."""
    lengths = [segment_lengths] if isinstance(segment_lengths, int) else list(segment_lengths)
    if not lengths:
        raise ValueError("segment_length: give at least one segment length l")
    divisors = [d for d in range(1, dim + 1) if dim % d == 0]
    for l in lengths:
        if isinstance(l, bool) or not isinstance(l, int) or l < 1 or dim % l:
            raise ValueError(f"segment_length must divide the feature dimension D={dim}: got "
                             f"l={l!r}; choose l in {divisors} (or change dim)")
    if len(set(lengths)) != len(lengths):
        raise ValueError(f"segment_length: the segment lengths {lengths} repeat; give each once")
    K = codebook_size
    if isinstance(K, bool) or not isinstance(K, int) or K < 2 or K & (K - 1):
        near = 2 ** max(1, round(math.log2(K))) if isinstance(K, (int, float)) and K > 0 else 2
        raise ValueError(f"codebook_size K must be a power of two >= 2 (each index is sent as "
                         f"log2 K bits): got K={K!r}; use e.g. K={near}")


class SegmentVQ(nn.Module):
    """Segment-wise codebooks.

    :param dim: token dimension ``D``.
    :param segment_length: ``l``; ``D`` must be divisible by ``l``.
    :param codebook_size: ``K`` codewords per segment codebook, a power of two.
    :param beta: commitment weight.
    :param ema: EMA codebook updates (decay ``ema_decay``) instead of the codebook loss.
    """

    ema_count: torch.Tensor    # buffers with ema=True: [S, K] and [S, K, l]
    ema_sum: torch.Tensor

    def __init__(self, dim: int, segment_length: int, codebook_size: int = 256, beta: float = 0.25,
                 ema: bool = False, ema_decay: float = 0.99) -> None:
        super().__init__()
        check_vq_settings(dim, segment_length, codebook_size)
        self.dim, self.l, self.K = dim, segment_length, codebook_size
        self.S = dim // segment_length
        self.beta, self.ema, self.decay = beta, ema, ema_decay
        self.codebooks = nn.Parameter(torch.randn(self.S, codebook_size, segment_length, device="cpu")
                                      / math.sqrt(segment_length))   # built on the host; .to() moves
        if ema:
            self.codebooks.requires_grad_(False)
            self.register_buffer("ema_count", torch.ones(self.S, codebook_size, device="cpu"))
            self.register_buffer("ema_sum", self.codebooks.data.clone())

    @property
    def bits_per_index(self) -> int:
        return int(math.log2(self.K))

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """[..., D] -> [..., S] nearest-codeword indices (eq. 7)."""
        seg = z.reshape(-1, self.S, self.l)                                  # [M, S, l]
        d = (seg.pow(2).sum(-1, keepdim=True) - 2 * torch.einsum("msl,skl->msk", seg, self.codebooks)
             + self.codebooks.pow(2).sum(-1).unsqueeze(0))                  # [M, S, K]
        return d.argmin(-1).reshape(*z.shape[:-1], self.S)

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        """[..., S] indices -> [..., D] codewords (eq. 9); indices are taken modulo K (a
        no-op for the ``log2 K``-bit indices a receiver decodes)."""
        idx = idx.long() % self.K
        flat = idx.reshape(-1, self.S)
        seg = self.codebooks[torch.arange(self.S, device=idx.device).unsqueeze(0), flat]  # [M, S, l]
        return seg.reshape(*idx.shape[:-1], self.dim)

    def forward(self, z: torch.Tensor):
        """z [..., D] -> (quantised with straight-through [..., D], indices [..., S], loss)."""
        idx = self.indices(z.detach())
        q = self.lookup(idx)
        commit = F.mse_loss(z, q.detach())
        if self.ema:
            if self.training:
                self._ema_update(z.detach(), idx)
            loss = self.beta * commit
        else:
            loss = F.mse_loss(q, z.detach()) + self.beta * commit
        return z + (q - z).detach(), idx, loss

    @torch.no_grad()
    def _ema_update(self, z, idx) -> None:
        seg = z.reshape(-1, self.S, self.l)
        onehot = F.one_hot(idx.reshape(-1, self.S), self.K).to(seg.dtype)   # [M, S, K]
        count = onehot.sum(0)
        total = torch.einsum("msk,msl->skl", onehot, seg)
        self.ema_count.mul_(self.decay).add_(count, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(total, alpha=1 - self.decay)
        n = self.ema_count.sum(-1, keepdim=True)
        count = (self.ema_count + 1e-5) / (n + self.K * 1e-5) * n
        self.codebooks.data.copy_(self.ema_sum / count.unsqueeze(-1))
