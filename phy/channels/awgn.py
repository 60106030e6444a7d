"""Additive white Gaussian noise channel."""

from __future__ import annotations

import torch

from .base import Channel, NoiseLike


class AWGNChannel(Channel):
    """Complex AWGN: ``y = x + n``, ``n ~ CN(0, no)`` (``no/2`` per real dimension).

    :param seed: seed of the channel's own generator (see :class:`Channel`).
    :param precision: ``"single"`` | ``"double"`` | `None`.
    :param device: torch device string or `None`.

    :input x: [batch, n], torch.complex.
    :input no: scalar or [batch], noise variance per complex symbol (Es/N0 = 1/no).
    :output y: [batch, n], torch.complex.
    :output no_eff: [batch, n], torch.float, equal to ``no``.

    >>> ch = AWGNChannel(seed=1)
    >>> y, no_eff = ch(torch.ones(2, 4, dtype=torch.complex64), 0.1)
    >>> tuple(y.shape), tuple(no_eff.shape)
    ((2, 4), (2, 4))
    """

    joins_item_rows = True
    counter_draws = True

    def call(self, x: torch.Tensor, no: NoiseLike) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._check_x(x)
        no_row = self._noise_per_row(no, x)
        y = self._complex_noise(x.shape, no_row).add_(x)     # x + n
        return y, no_row.expand(x.shape)
