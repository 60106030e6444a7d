"""Per-item random draws: noise and fading that do not depend on the batch.

A chain sends many *items* (one stream of one image) through a channel in one
call. With a :class:`DrawPlan`, every item draws its noise and fading from its
own generator, seeded by :func:`derive_seed` from keys that describe the item
(the link uses ``(point seed, profile, stream, image index)``), so an image's
received values are the same whatever else shares the batch: batch size 1, 2
or 3 give bit-identical per-image results on the same device.

Items that form one *group* (the streams of one image on one profile) share
a second generator, re-seeded identically for each of them; the fading
channel draws the ``coherence: item`` coefficient from it, so all streams of
an image see the same ``h``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch


def derive_seed(*keys) -> int:
    """A 62-bit seed from any ints/strings (stable across runs, platforms, processes).

    >>> derive_seed(1, "default", "bits", 0) == derive_seed(1, "default", "bits", 0)
    True
    """
    text = "\x1f".join(f"{type(k).__name__}:{k}" for k in keys).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 2


@dataclass(frozen=True)
class DrawPlan:
    """Which rows of a channel input belong to which item, and each item's seeds.

    The rows of ``x`` (shape ``[rows, width]``) are cut into consecutive items.
    Item ``i`` owns ``rows[i]`` rows; read row by row they hold ``symbols[i]``
    valid symbols (the rest of the last row is padding and is not sent).

    :param rows: [num_items] rows per item (>= 0 each; sum = rows of ``x``).
    :param symbols: [num_items] valid symbols per item.
    :param seeds: [num_items] seed of each item's own generator (noise, and
        fading unless ``coherence: item``).
    :param group_seeds: [num_items] seed of the generator that all items of a
        group share (the ``coherence: item`` coefficient).
    :param block_symbols: symbols per code block (the ``coherence: block``
        unit) or `None` when the rows are not code blocks (analog chain).
    """

    rows: tuple
    symbols: tuple
    seeds: tuple
    group_seeds: tuple
    block_symbols: int | None = None

    def __post_init__(self) -> None:
        n = len(self.rows)
        for name in ("symbols", "seeds", "group_seeds"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"DrawPlan.{name} must have one entry per item ({n}), "
                                 f"got {len(getattr(self, name))}")
        if any(int(r) < 0 for r in self.rows) or any(int(v) < 0 for v in self.symbols):
            raise ValueError("DrawPlan.rows and DrawPlan.symbols must be >= 0")

    @property
    def num_items(self) -> int:
        return len(self.rows)

    @classmethod
    def build(cls, rows, symbols, seeds, group_seeds, block_symbols: int | None = None):
        """Plan from array-likes (converted to tuples of Python ints)."""
        def ints(a):
            return tuple(int(v) for v in np.asarray(a, dtype=np.int64).reshape(-1))
        return cls(ints(rows), ints(symbols), ints(seeds), ints(group_seeds),
                   None if block_symbols is None else int(block_symbols))


def item_draw_seeds(channel, num_items: int, draw_seeds, group_seeds):
    """Check, or draw from ``channel.generator``, the per-item seeds of a chain call.

    :returns: ``(draw_seeds, group_seeds)``, lists of ints, one per item;
        ``group_seeds`` defaults to ``draw_seeds`` (every item its own group).
    """
    if draw_seeds is None:
        draw_seeds = torch.randint(0, 2**62, (num_items,), generator=channel.generator,
                                   device=channel.device).tolist() if num_items else []
    draw_seeds = [int(s) for s in draw_seeds]
    if len(draw_seeds) != num_items:
        raise ValueError(f"draw_seeds must have one seed per item ({num_items}), "
                         f"got {len(draw_seeds)}")
    if group_seeds is None:
        group_seeds = draw_seeds
    group_seeds = [int(s) for s in group_seeds]
    if len(group_seeds) != num_items:
        raise ValueError(f"group_seeds must have one seed per item ({num_items}), "
                         f"got {len(group_seeds)}")
    return draw_seeds, group_seeds
