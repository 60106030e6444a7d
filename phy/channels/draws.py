"""Per-item random draws: noise and fading that do not depend on the batch.

A chain sends many *items* (one stream of one image) through a channel in one
call. A :class:`DrawPlan` says which rows of the channel input belong to
which item, and gives each item a seed (the link derives it from the point
seed, profile, stream and image index). Built-in channels draw every number
with the counter-based generator of :mod:`semlink.phy.counter_rng`, keyed by
the item's seed and counted along the item's symbols: all items in one
batched computation, and an image's received values are the same whatever
else shares the batch (batch size 1, 2 or 3 give bit-identical per-image
results), on the CPU and on CUDA alike (up to the math library's rounding of
the Box-Muller transform).

Items that form one *group* (the streams of one image on one profile) share
a group seed; the fading channel draws the ``coherence: item`` coefficient
from it, so all streams of an image see the same ``h``.

Channels that do not declare ``counter_draws = True`` (plug-ins written for
the earlier scheme) are still run item by item, each item drawing from its
own ``torch.Generator`` seeded with the item seed (``torch-per-item``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from ..counter_rng import MAX_INDEX, complex_normal, complex_normal_rows, normal, uniform

_MASK64 = (1 << 64) - 1


def derive_seed(*keys) -> int:
    """A 62-bit seed from any ints/strings (stable across runs, platforms, processes).

    >>> derive_seed(1, "default", "bits", 0) == derive_seed(1, "default", "bits", 0)
    True
    """
    text = "\x1f".join(f"{type(k).__name__}:{k}" for k in keys).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 2


def derive_item_seeds(base: int, indices) -> np.ndarray:
    """62-bit seeds of items ``indices`` under ``base``, vectorised (splitmix64 finaliser).

    ``seed_i = splitmix64(base ^ splitmix64(index_i + golden)) >> 2`` in numpy
    uint64 (wrapping arithmetic, the same on every platform); distinct indices
    give distinct seeds under one base.

    :param base: int in ``[0, 2^64)`` (e.g. :func:`derive_seed` of the point
        seed, profile and stream).
    :param indices: [n] non-negative ints (image indices).
    :returns: [n] int64 numpy array.
    """
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and int(idx.min()) < 0:
        raise ValueError(f"item indices must be >= 0, got {int(idx.min())}")
    with np.errstate(over="ignore"):
        z = _splitmix64(idx.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
        z = _splitmix64(z ^ np.uint64(int(base) & _MASK64))
    return (z >> np.uint64(2)).astype(np.int64)


def _splitmix64(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def seed_tensor(seeds, num_items: int, name: str, device) -> torch.Tensor:
    """Per-item seeds as one int64 tensor on ``device``, checked on the host.

    :param seeds: list/array/tensor of ``num_items`` ints in ``[0, 2^63)``.
    :raises ValueError: naming ``name``, the count or the bad value.
    """
    if isinstance(seeds, torch.Tensor):
        if seeds.dtype != torch.int64 or seeds.dim() != 1 or seeds.numel() != num_items:
            raise ValueError(f"{name} must be {num_items} int64 seeds (one per item), got a "
                             f"{seeds.dtype} tensor of shape {tuple(seeds.shape)}")
        return seeds.to(device)
    values = list(seeds)
    if len(values) != num_items:
        raise ValueError(f"{name} must have one seed per item ({num_items}), got {len(values)}")
    try:
        arr = np.asarray(values, dtype=np.int64) if values else np.zeros(0, np.int64)
    except OverflowError:
        arr = None
    if arr is None or (arr.size and int(arr.min()) < 0):
        raise ValueError(f"{name} must be ints in [0, 2^63), got {values[:5]}...; "
                         "derive them with semlink.phy.channels.draws.derive_seed")
    return torch.from_numpy(arr).to(device)


@dataclass(frozen=True)
class DrawPlan:
    """Which rows of a channel input belong to which item, and each item's seeds.

    The rows of ``x`` (shape ``[rows, width]``) are cut into consecutive items.
    Item ``i`` owns ``rows[i]`` rows; read row by row they hold ``symbols[i]``
    valid symbols (the rest of its last row is padding and is not sent).

    :param rows: [num_items] int64 tensor, rows per item (>= 0).
    :param symbols: [num_items] int64 tensor, valid symbols per item.
    :param seeds: [num_items] int64 tensor, seed of each item's draws (noise,
        and fading unless ``coherence: item``), in ``[0, 2^63)``.
    :param group_seeds: [num_items] int64 tensor, seed shared by the items of
        a group (the ``coherence: item`` coefficient).
    :param block_symbols: symbols per code block (the ``coherence: block``
        unit) or `None` when the rows are not code blocks (analog chain).
    :param num_rows: rows of ``x`` (the sum of ``rows``), known on the host.
    :param full_rows: `True` when every row is full (``symbols = rows * width``,
        the digital chain): no padding to mask.

    All tensors live on the channel's device. Per-row views
    (:attr:`row_item`, :attr:`row_seeds`, :attr:`row_block`) are computed
    once, on that device.
    """

    rows: torch.Tensor
    symbols: torch.Tensor
    seeds: torch.Tensor
    group_seeds: torch.Tensor
    num_rows: int
    block_symbols: int | None = None
    full_rows: bool = False

    @classmethod
    def build(cls, rows, symbols, seeds, group_seeds, block_symbols: int | None = None,
              device=None) -> DrawPlan:
        """Plan from host array-likes (checked here, then moved to ``device`` at once)."""
        r = np.asarray(rows, dtype=np.int64).reshape(-1)
        v = np.asarray(symbols, dtype=np.int64).reshape(-1)
        n = r.size
        for name, a in (("symbols", v), ("seeds", seeds), ("group_seeds", group_seeds)):
            if len(a) != n:
                raise ValueError(f"DrawPlan.{name} must have one entry per item ({n}), got {len(a)}")
        if (r < 0).any() or (v < 0).any():
            raise ValueError("DrawPlan.rows and DrawPlan.symbols must be >= 0")
        if v.size and int(v.max()) > MAX_INDEX:
            raise ValueError(f"DrawPlan: an item of {int(v.max())} symbols exceeds the counter "
                             f"range ({MAX_INDEX} symbols per item); send it as several streams")
        dev = torch.device(device) if device is not None else torch.device("cpu")
        full = block_symbols is not None and bool(np.all(v == r * int(block_symbols)))
        counts = torch.from_numpy(np.stack([r, v])).to(dev)      # one transfer
        return cls(counts[0], counts[1], seed_tensor(seeds, n, "DrawPlan.seeds", dev),
                   seed_tensor(group_seeds, n, "DrawPlan.group_seeds", dev),
                   int(r.sum()), None if block_symbols is None else int(block_symbols), full)

    @property
    def num_items(self) -> int:
        return int(self.rows.numel())

    @property
    def device(self) -> torch.device:
        return self.rows.device

    @property
    def row_item(self) -> torch.Tensor:
        """[num_rows] index of the item each row belongs to."""
        items = torch.arange(self.num_items, device=self.device)
        return torch.repeat_interleave(items, self.rows, output_size=self.num_rows)

    def row_views(self):
        """``(row_item, row_block, row_seeds, row_group_seeds)``, each [num_rows] int64.

        ``row_block`` is the row's number among its item's rows (0, 1, ...).
        """
        item = self.row_item
        start = torch.cumsum(self.rows, 0) - self.rows
        block = torch.arange(self.num_rows, device=self.device) - start[item]
        return item, block, self.seeds[item], self.group_seeds[item]

    def to(self, device) -> DrawPlan:
        """The same plan on ``device``."""
        return DrawPlan(self.rows.to(device), self.symbols.to(device), self.seeds.to(device),
                        self.group_seeds.to(device), self.num_rows, self.block_symbols,
                        self.full_rows)


class RowDraws:
    """The counter-based draws of one channel call: one stream of numbers per row's item.

    Built by :meth:`~semlink.phy.channels.Channel.transmit_items` from a
    :class:`DrawPlan` (or, for a direct ``channel(x, no)`` call, with every row
    its own item and fresh seeds from the channel's generator). Inside
    ``call`` a channel reads it as ``self.draws``.

    :param seeds: [rows] int64, the seed of each row's item.
    :param group_seeds: [rows] int64, the group seed of each row's item.
    :param block: [rows] int64, the row's number among its item's rows.
    :param width: symbols per row; row ``r`` holds the item's symbols
        ``block[r] * width ... block[r] * width + width - 1``.
    :param block_symbols: symbols per code block, or `None`.
    """

    def __init__(self, seeds, group_seeds, block, width: int,
                 block_symbols: int | None = None) -> None:
        self.seeds, self.group_seeds, self.block = seeds, group_seeds, block
        self.width, self.block_symbols = int(width), block_symbols

    @property
    def offsets(self) -> torch.Tensor:
        """[rows] index (within its item) of each row's first symbol."""
        return self.block * self.width

    def symbol_index(self) -> torch.Tensor:
        """[rows, width] index of every symbol within its item."""
        cols = torch.arange(self.width, dtype=torch.int64, device=self.seeds.device)
        return self.offsets.unsqueeze(1) + cols

    def symbol_normals(self, tag, dtype=torch.float32) -> torch.Tensor:
        """[rows, width] CN(0, 1): one draw per symbol of the call, draw numbers
        :meth:`symbol_index` of each row's item stream ``tag`` (the same numbers as
        ``complex_normal(tag, symbol_index())``, without building the index)."""
        return complex_normal_rows(self.seeds, tag, self.offsets, self.width, dtype)

    def complex_normal(self, tag, index: torch.Tensor, dtype=torch.float32, group=False):
        """CN(0, 1) draws number ``index`` ([rows, ...] int64) of each row's item (or
        group, ``group=True``) stream ``tag``; see :func:`~semlink.phy.counter_rng.complex_normal`."""
        return complex_normal(self.group_seeds if group else self.seeds, tag, index, dtype)

    def normal(self, tag, index: torch.Tensor, dtype=torch.float32, group=False):
        """N(0, 1) real draws, as :meth:`complex_normal`."""
        return normal(self.group_seeds if group else self.seeds, tag, index, dtype)

    def uniform(self, tag, index: torch.Tensor, dtype=torch.float32, group=False):
        """U(0, 1] draws, as :meth:`complex_normal`."""
        return uniform(self.group_seeds if group else self.seeds, tag, index, dtype)


def item_draw_seeds(channel, num_items: int, draw_seeds, group_seeds):
    """Check, or draw from ``channel.generator``, the per-item seeds of a chain call.

    :returns: ``(draw_seeds, group_seeds)``, [num_items] int64 tensors on the
        channel's device; ``group_seeds`` defaults to ``draw_seeds`` (every item
        its own group).
    """
    device = channel.device
    if draw_seeds is None:
        draws = torch.randint(0, 2**62, (num_items,), generator=channel.generator, device=device)
    else:
        draws = seed_tensor(draw_seeds, num_items, "draw_seeds", device)
    groups = draws if group_seeds is None else seed_tensor(group_seeds, num_items,
                                                           "group_seeds", device)
    return draws, groups
