"""Segment-wise vector quantisation (UO-ISC, ../papers/uo-isc.md eqs. 5-7, 9, 12).

Each D-dimensional token vector is split into ``S = D / l`` segments of length
``l``; segment ``j`` has its own codebook of ``K`` codewords. Encoding picks
the nearest codeword per segment (eq. 7); decoding looks the codewords up
(eq. 9). Gradients pass straight through. The quantisation loss (eq. 12) is
``||sg[z] - e||^2 + beta ||z - sg[e]||^2``; with ``ema=True`` the codebooks
follow an exponential moving average of their assigned segments instead and
only the commitment term is used.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class SegmentVQ(nn.Module):
    """Segment-wise codebooks.

    :param dim: token dimension ``D``.
    :param segment_length: ``l``; ``D`` must be divisible by ``l``.
    :param codebook_size: ``K`` codewords per segment codebook.
    :param beta: commitment weight.
    :param ema: EMA codebook updates (decay ``ema_decay``) instead of the codebook loss.
    """

    def __init__(self, dim: int, segment_length: int, codebook_size: int = 256, beta: float = 0.25,
                 ema: bool = False, ema_decay: float = 0.99) -> None:
        super().__init__()
        if segment_length < 1 or dim % segment_length:
            raise ValueError(f"segment_length must divide the feature dimension D={dim}: got "
                             f"l={segment_length}; choose l in "
                             f"{[d for d in range(1, dim + 1) if dim % d == 0]}")
        if codebook_size < 2:
            raise ValueError(f"codebook_size must be >= 2, got {codebook_size}")
        self.dim, self.l, self.K = dim, segment_length, codebook_size
        self.S = dim // segment_length
        self.beta, self.ema, self.decay = beta, ema, ema_decay
        self.codebooks = nn.Parameter(torch.randn(self.S, codebook_size, segment_length) / math.sqrt(segment_length))
        if ema:
            self.codebooks.requires_grad_(False)
            self.register_buffer("ema_count", torch.ones(self.S, codebook_size))
            self.register_buffer("ema_sum", self.codebooks.data.clone())

    @property
    def bits_per_index(self) -> int:
        return math.ceil(math.log2(self.K))

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """[..., D] -> [..., S] nearest-codeword indices (eq. 7)."""
        seg = z.reshape(-1, self.S, self.l)                                  # [M, S, l]
        d = (seg.pow(2).sum(-1, keepdim=True) - 2 * torch.einsum("msl,skl->msk", seg, self.codebooks)
             + self.codebooks.pow(2).sum(-1).unsqueeze(0))                  # [M, S, K]
        return d.argmin(-1).reshape(*z.shape[:-1], self.S)

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        """[..., S] indices -> [..., D] codewords (eq. 9); indices are taken modulo K."""
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
