"""Base class of semlink channels: a Sionna ``Block`` called as ``(x, no)``.

A semlink channel models propagation *and* the receiver's channel-state
processing for flat (single-tap) channels. It returns the equalised
observation of ``x`` and the effective noise variance per symbol that a
demapper must use:

.. code-block:: text

    y, no_eff = channel(x, no)        # x, y: [batch, n] complex; no_eff: [batch, n]

* ``no`` is the noise variance per complex symbol (``Es = 1``), given per call:
  a scalar or one value per example (shape ``[batch]``), never fixed at
  construction.
* Noise and fading are drawn from the block's **own** ``torch.Generator``
  (:attr:`generator`). With ``seed=None`` that generator is seeded from
  Sionna's global RNG, so ``sionna.phy.config.seed`` (or
  :func:`semlink.phy.set_seed`) makes every channel reproducible.
* Channels with pilots report how many pilot symbols they add to a row of
  ``n`` data symbols via :meth:`num_pilot_symbols`; chains count them as
  channel uses.

Write your own channel by subclassing :class:`Channel` and implementing
``call(x, no) -> (y, no_eff)``; see ``docs/custom_channels.md``.
"""

from __future__ import annotations

import torch
from sionna.phy import Block
from sionna.phy.config import config


class Channel(Block):
    """Base class: flat channel + receiver CSI processing, called as ``(x, no)``.

    :param seed: seed of the channel's own random generator; `None` draws one
        from Sionna's global generator (reproducible under ``config.seed``).
    :param precision: ``"single"`` | ``"double"`` | `None` (Sionna's default).
    :param device: e.g. ``"cpu"``, ``"cuda:0"``; `None` = Sionna's default.

    :input x: [batch, n], torch.complex. Unit-energy channel symbols.
    :input no: scalar or [batch], torch.float. Noise variance per complex symbol.
    :output y: [batch, n], torch.complex. Equalised received symbols.
    :output no_eff: [batch, n], torch.float. Effective noise variance of ``y``.
    """

    def __init__(self, seed: int | None = None, precision: str | None = None,
                 device: str | None = None) -> None:
        super().__init__(precision=precision, device=device)
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,), generator=config.torch_rng("cpu")).item())
        elif isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        self._generator = torch.Generator(device=self.device)
        self._generator.manual_seed(int(seed))
        self._seed = int(seed)

    @property
    def generator(self) -> torch.Generator:
        """The channel's own random generator (noise and fading)."""
        return self._generator

    @property
    def torch_rng(self) -> torch.Generator:  # Sionna blocks draw from this
        return self._generator

    def reseed(self, seed: int) -> None:
        """Reset the channel's generator to ``seed``."""
        self._seed = int(seed)
        self._generator.manual_seed(self._seed)

    def num_pilot_symbols(self, num_data_symbols: int) -> int:
        """Pilot symbols added to a row of ``num_data_symbols`` data symbols."""
        return 0

    # -- helpers for subclasses -------------------------------------------------
    def _noise_per_row(self, no, x: torch.Tensor) -> torch.Tensor:
        """``no`` as a real tensor of shape [batch, 1], checked."""
        no = torch.as_tensor(no, dtype=self.dtype, device=self.device)
        if no.dim() == 0:
            no = no.expand(x.shape[0])
        if no.dim() != 1 or no.shape[0] != x.shape[0]:
            raise ValueError(
                f"no must be a scalar or have one value per example (shape [{x.shape[0]}]), "
                f"got shape {tuple(no.shape)}"
            )
        if bool((no < 0).any()) or not bool(torch.isfinite(no).all()):
            raise ValueError("no (noise variance) must be finite and >= 0")
        return no.unsqueeze(-1)

    def _complex_noise(self, shape, no_row: torch.Tensor) -> torch.Tensor:
        """CN(0, no) samples of ``shape`` drawn from the own generator."""
        std = torch.sqrt(no_row / 2).to(self.dtype)
        re = torch.randn(shape, generator=self._generator, device=self.device, dtype=self.dtype)
        im = torch.randn(shape, generator=self._generator, device=self.device, dtype=self.dtype)
        return torch.complex(re * std, im * std)

    def _check_x(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_complex(x) or x.dim() != 2:
            raise ValueError(
                f"x must be a complex tensor of shape [batch, n], got dtype {x.dtype} "
                f"and shape {tuple(x.shape)}"
            )
        return x
