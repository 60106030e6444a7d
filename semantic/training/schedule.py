"""Learning-rate schedules of the trainers: constant, then a cosine tail.

``cosine_tail(step, total, decay_steps, lr)`` is ``lr`` for the first
``total - decay_steps`` steps, then falls along half a cosine to 0 over the
last ``decay_steps`` (step ``total - decay_steps + j`` gets
``lr * (1 + cos(pi * j / decay_steps)) / 2``); ``decay_steps = 0`` is a
constant rate. Annealing the rate at the end of a fixed budget is the usual
way a run of limited length settles (SGDR, Loshchilov & Hutter, ICLR 2017).

:func:`schedules_agree_until` tells a resume whether the steps already
trained had the same rate under the checkpoint's schedule and the new one,
so a run may be extended, or given a tail, only before its tail began.
"""

from __future__ import annotations

import math


def check_decay_steps(decay_steps: object, total: int, name: str = "lr_decay_steps") -> int:
    """``decay_steps`` as an int in ``[0, total]``; a ``ValueError`` naming ``name`` otherwise."""
    if isinstance(decay_steps, bool) or not isinstance(decay_steps, int) or decay_steps < 0:
        raise ValueError(f"{name} must be a non-negative int (0: constant learning rate), "
                         f"got {decay_steps!r}")
    if decay_steps > total:
        raise ValueError(f"{name}={decay_steps} is more than the run's {total} steps; pass at "
                         f"most {total}")
    return decay_steps


def decay_start(total: int, decay_steps: int) -> int:
    """The first step of the cosine tail (``total`` when the rate is constant)."""
    return total - decay_steps


def cosine_tail(step: int, total: int, decay_steps: int, lr: float) -> float:
    """The learning rate of 0-based ``step`` in a run of ``total`` steps (module docstring)."""
    start = decay_start(total, decay_steps)
    if step < start or not decay_steps:
        return lr
    j = min(step - start, decay_steps)
    return lr * 0.5 * (1.0 + math.cos(math.pi * j / decay_steps))


def schedules_agree_until(step: int, old: tuple[int, int], new: tuple[int, int]) -> bool:
    """Whether steps ``0 .. step-1`` had the same rate under the ``(total, decay_steps)``
    schedules ``old`` and ``new``: the same schedule, or ``step`` at or before both tails."""
    if old == new or (old[1] == 0 and new[1] == 0):
        return True
    return step <= min(decay_start(*old), decay_start(*new))


__all__ = ["check_decay_steps", "cosine_tail", "decay_start", "schedules_agree_until"]
