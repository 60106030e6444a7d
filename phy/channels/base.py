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
* Built-in channels (``counter_draws = True``) draw noise and fading with the
  counter-based generator of :mod:`semlink.phy.counter_rng` through
  :attr:`Channel.draws`: every number is a function of (item seed, what is
  drawn, symbol index). Chains call :meth:`Channel.transmit_items` with a
  :class:`~semlink.phy.channels.draws.DrawPlan` (which rows belong to which
  item, each item's seed): **one** call for all items, and an image's noise
  and fading never depend on the batch it was sent in, nor on the device.
  A direct ``channel(x, no)`` call treats every row as its own item, with
  fresh item seeds drawn from the channel's own ``torch.Generator``
  (:attr:`generator`, seeded by ``seed`` or, with ``seed=None``, from
  Sionna's global RNG), so direct calls reproduce under a seed and differ
  from call to call.
* Channels without ``counter_draws`` (plug-ins written for the earlier
  scheme, drawing from :attr:`generator`) are run item by item by
  :meth:`transmit_items`, each item with its own generator seeded with the
  item seed (``torch-per-item``): still batch-independent, but one call per
  item and device-dependent numbers.
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

from ..counter_rng import LEGACY_NAME, NAME
from .draws import DrawPlan, RowDraws

#: a noise variance per complex symbol: one value, or one per row (a [rows] tensor)
NoiseLike = float | torch.Tensor


class Channel(Block):
    """Base class: flat channel + receiver CSI processing, called as ``(x, no)``.

    :attr:`counter_draws`: `True` when the channel draws all its randomness
    through :attr:`draws` (the counter-based generator); chains then send all
    items in one call. `False` (the default for your own channels, for
    compatibility) runs :meth:`transmit_items` item by item with a
    per-item :attr:`generator`.

    :attr:`joins_item_rows` (item-by-item mode only): `True` hands the
    channel each item as *one* row (its code blocks one after the other);
    `False` hands it the item's rows as they are (one code block per row on
    the digital chain).

    :param seed: seed of the channel's own random generator (item seeds of
        direct calls; all draws of non-counter channels); `None` draws one
        from Sionna's global generator (reproducible under ``config.seed``).
    :param precision: ``"single"`` | ``"double"`` | `None` (Sionna's default).
    :param device: e.g. ``"cpu"``, ``"cuda:0"``; `None` = Sionna's default.

    :input x: [batch, n], torch.complex. Unit-energy channel symbols.
    :input no: scalar or [batch], torch.float. Noise variance per complex symbol.
    :output y: [batch, n], torch.complex. Equalised received symbols.
    :output no_eff: [batch, n], torch.float. Effective noise variance of ``y``.
    """

    joins_item_rows: bool = False
    counter_draws: bool = False

    def __init__(self, seed: int | None = None, precision: str | None = None,
                 device: str | None = None) -> None:
        super().__init__(precision=precision, device=device)
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,), generator=config.torch_rng("cpu"),
                                     device="cpu").item())
        elif isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        self._generator = torch.Generator(device=self.device)
        self._generator.manual_seed(int(seed))
        self._seed = int(seed)
        self._shared_seed: int | None = None
        self._block_symbols: int | None = None
        self._draws: RowDraws | None = None

    @property
    def generator(self) -> torch.Generator:
        """The channel's own random generator (item seeds of direct calls; all
        draws of channels without :attr:`counter_draws`)."""
        return self._generator

    @property
    def torch_rng(self) -> torch.Generator:  # Sionna blocks draw from this
        return self._generator

    @property
    def noise_generator(self) -> str:
        """Name of the scheme that draws this channel's noise in chains (recorded in results):
        ``"counter-hash-v2"`` or ``"torch-per-item"``."""
        return NAME if self.counter_draws else LEGACY_NAME

    @property
    def draws(self) -> RowDraws:
        """The counter-based draws of the current call (inside ``call`` only).

        ``self.draws.complex_normal(tag, index)`` gives CN(0, 1) numbers
        ``index`` ([rows, ...] int64, e.g. :meth:`RowDraws.symbol_index`) of
        each row's item stream ``tag`` (``"noise"``, ``"fading"``, your own
        string); ``normal`` and ``uniform`` likewise.
        """
        if self._draws is None:
            raise RuntimeError(f"{type(self).__name__}.draws is only available inside call() of "
                               "a channel with counter_draws = True")
        return self._draws

    def reseed(self, seed: int) -> None:
        """Reset the channel's generator to ``seed``."""
        self._seed = int(seed)
        self._generator.manual_seed(self._seed)

    def num_pilot_symbols(self, num_data_symbols: int) -> int:
        """Pilot symbols added to a row of ``num_data_symbols`` data symbols."""
        return 0

    def __call__(self, x: torch.Tensor, no: NoiseLike) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.counter_draws or self._draws is not None:
            return super().__call__(x, no)
        x = self._check_x(torch.as_tensor(x, device=self.device))
        rows = x.shape[0]
        seeds = torch.randint(0, 2**62, (2, rows), generator=self._generator, device=self.device)
        self._draws = RowDraws(seeds[0], seeds[1],
                               torch.zeros(rows, dtype=torch.int64, device=self.device),
                               x.shape[1])
        try:
            return super().__call__(x, no)
        finally:
            self._draws = None

    def shared_generator(self) -> torch.Generator | None:
        """A fresh generator seeded with the current item's *group* seed
        (item-by-item mode, channels without :attr:`counter_draws`).

        Every item of a group (the streams of one image) gets an identically
        seeded generator, so what is drawn from it first is the same for all
        of them. `None` outside :meth:`transmit_items`.
        """
        from .draws import derive_seed

        if self._shared_seed is None:
            return None
        gen = torch.Generator(device=self.device)
        gen.manual_seed(derive_seed("shared", self._shared_seed))   # never the item's own stream
        return gen

    @property
    def block_symbols(self) -> int | None:
        """Symbols per code block of the item being sent (`None`: rows are not code blocks)."""
        if self._draws is not None and self._draws.block_symbols is not None:
            return self._draws.block_symbols
        return self._block_symbols

    def transmit_items(self, x: torch.Tensor, no: NoiseLike,
                       plan: DrawPlan | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Send ``x``, each item's draws from its own seed.

        :input x: [rows, width], complex; the rows of item ``i`` are consecutive
            and, read row by row, hold ``plan.symbols[i]`` valid symbols.
        :input no: scalar or [rows], noise variance per complex symbol.
        :input plan: :class:`~semlink.phy.channels.draws.DrawPlan`, or `None`
            to send all rows as a direct call (every row its own item).
        :output y, no_eff: as for a call; padding positions hold ``y = 0``,
            ``no_eff = 1``.
        """
        if plan is None:
            return self(x, no)
        x = self._check_x(x)
        rows, width = x.shape
        if plan.num_rows != rows:
            raise ValueError(f"DrawPlan covers {plan.num_rows} rows but x has {rows}")
        if not self.counter_draws:
            return self._transmit_item_by_item(x, no, plan)
        if plan.device != x.device:
            plan = plan.to(x.device)
        item, block, seeds, groups = plan.row_views()
        self._draws = RowDraws(seeds, groups, block, width, plan.block_symbols)
        try:
            y, no_eff = self(x, no)
        finally:
            self._draws = None
        if not plan.full_rows:                 # the padding of each item's last row
            valid = (plan.symbols[item] - block * width).clamp(0, width)
            pad = torch.arange(width, device=x.device) >= valid.unsqueeze(1)
            y = y.masked_fill(pad, 0)
            no_eff = no_eff.masked_fill(pad, 1)
        return y, no_eff

    def _transmit_item_by_item(self, x: torch.Tensor, no: NoiseLike,
                               plan: DrawPlan) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``torch-per-item`` scheme: one call and one generator per item."""
        no_row = self._noise_per_row(no, x)[:, 0]
        width = x.shape[1]
        y = torch.zeros_like(x)
        no_eff = torch.ones(x.shape, dtype=self.dtype, device=self.device)
        saved = (self._generator, self._shared_seed, self._block_symbols)
        start = 0
        try:
            self._block_symbols = plan.block_symbols
            for r, v, seed, group_seed in zip(plan.rows.tolist(), plan.symbols.tolist(),
                                              plan.seeds.tolist(), plan.group_seeds.tolist(), strict=True):
                if v > r * width:
                    raise ValueError(f"DrawPlan: {v} symbols do not fit in {r} rows of {width}")
                if r == 0 or v == 0:
                    start += r
                    continue
                no_item = no_row[start:start + r]
                gen = torch.Generator(device=self.device)
                gen.manual_seed(int(seed))
                self._generator = gen
                self._shared_seed = int(group_seed)
                if self.joins_item_rows or v != r * width:
                    y_i, n_i = self(x[start:start + r].reshape(1, -1)[:, :v], no_item[:1])
                    y[start:start + r].view(1, -1)[:, :v] = y_i
                    no_eff[start:start + r].view(1, -1)[:, :v] = n_i
                else:
                    y[start:start + r], no_eff[start:start + r] = self(x[start:start + r], no_item)
                start += r
        finally:
            self._generator, self._shared_seed, self._block_symbols = saved
        return y, no_eff

    # -- helpers for subclasses -------------------------------------------------
    def _noise_per_row(self, no: NoiseLike, x: torch.Tensor) -> torch.Tensor:
        """``no`` as a real tensor of shape [batch, 1], checked."""
        no = torch.as_tensor(no, dtype=self.dtype, device=self.device)
        if no.dim() == 0:
            no = no.expand(x.shape[0])
        if no.dim() != 1 or no.shape[0] != x.shape[0]:
            raise ValueError(
                f"no must be a scalar or have one value per example (shape [{x.shape[0]}]), "
                f"got shape {tuple(no.shape)}"
            )
        if bool(((no < 0) | ~torch.isfinite(no)).any()):
            raise ValueError("no (noise variance) must be finite and >= 0")
        return no.unsqueeze(-1)

    def _complex_noise(self, shape: tuple[int, ...] | torch.Size, no_row: torch.Tensor) -> torch.Tensor:
        """CN(0, no) samples of ``shape``: with :attr:`counter_draws`, the ``"noise"``
        draws of every symbol (``shape`` must be the call's ``[rows, width]``);
        otherwise from the own generator."""
        if self.counter_draws:
            d = self.draws
            if tuple(shape) != (d.seeds.shape[0], d.width):
                raise ValueError(f"_complex_noise draws one value per symbol of the call "
                                 f"({d.seeds.shape[0]}, {d.width}), got shape {tuple(shape)}; "
                                 "draw other shapes with self.draws.complex_normal(tag, index)")
            n = d.symbol_normals("noise", self.dtype)
            return n.mul_(torch.sqrt(no_row).to(self.dtype))
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
