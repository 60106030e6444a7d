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
* Chains call :meth:`Channel.transmit_items` with a
  :class:`~semlink.phy.channels.draws.DrawPlan`: the channel is then run item
  by item (one stream of one image), each item drawing from its own
  generator, so an image's noise and fading never depend on the batch it
  was sent in. A channel only has to draw from :attr:`generator` (and, for
  randomness shared by all streams of an image, :meth:`shared_generator`).
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

from .draws import DrawPlan, derive_seed


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
        self._shared_seed: int | None = None
        self._block_symbols: int | None = None

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

    def shared_generator(self) -> torch.Generator | None:
        """A fresh generator seeded with the current item's *group* seed.

        Inside :meth:`transmit_items` every item of a group (the streams of one
        image) gets an identically seeded generator, so what is drawn from it
        first is the same for all of them (the ``coherence: item`` fading
        coefficient). `None` outside :meth:`transmit_items`.
        """
        if self._shared_seed is None:
            return None
        gen = torch.Generator(device=self.device)
        gen.manual_seed(derive_seed("shared", self._shared_seed))   # never the item's own stream
        return gen

    @property
    def block_symbols(self) -> int | None:
        """Symbols per code block of the item being sent (`None`: rows are not code blocks)."""
        return self._block_symbols

    def transmit_items(self, x: torch.Tensor, no, plan: DrawPlan | None):
        """Send ``x`` item by item, each item with its own random generator.

        :input x: [rows, width], complex; the rows of item ``i`` are consecutive
            and, read row by row, hold ``plan.symbols[i]`` valid symbols.
        :input no: scalar or [rows], noise variance per complex symbol (equal
            on all rows of an item).
        :input plan: :class:`~semlink.phy.channels.draws.DrawPlan`, or `None`
            to send all rows in one call from :attr:`generator`.
        :output y, no_eff: as for a call; padding positions hold ``y = 0``,
            ``no_eff = 1``.
        """
        if plan is None:
            return self(x, no)
        x = self._check_x(x)
        no_row = self._noise_per_row(no, x)[:, 0]
        rows, width = x.shape
        if sum(plan.rows) != rows:
            raise ValueError(f"DrawPlan covers {sum(plan.rows)} rows but x has {rows}")
        y = torch.zeros_like(x)
        no_eff = torch.ones(x.shape, dtype=self.dtype, device=self.device)
        saved = (self._generator, self._shared_seed, self._block_symbols)
        start = 0
        try:
            self._block_symbols = plan.block_symbols
            for r, v, seed, group_seed in zip(plan.rows, plan.symbols, plan.seeds,
                                              plan.group_seeds):
                if v > r * width:
                    raise ValueError(f"DrawPlan: {v} symbols do not fit in {r} rows of {width}")
                if r == 0 or v == 0:
                    start += r
                    continue
                no_item = no_row[start:start + r]
                if r > 1 and not bool((no_item == no_item[0]).all()):
                    raise ValueError("no must be equal on all rows of one item")
                gen = torch.Generator(device=self.device)
                gen.manual_seed(int(seed))
                self._generator = gen
                self._shared_seed = int(group_seed)
                y_i, n_i = self(x[start:start + r].reshape(1, -1)[:, :v], no_item[:1])
                y[start:start + r].view(1, -1)[:, :v] = y_i
                no_eff[start:start + r].view(1, -1)[:, :v] = n_i
                start += r
        finally:
            self._generator, self._shared_seed, self._block_symbols = saved
        return y, no_eff

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
