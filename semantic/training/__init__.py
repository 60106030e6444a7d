"""Trainer registry: ``semlink train NAME`` for every trainable model.

A trainer is a :class:`~semlink.semantic.training.loop.Trainer` subclass
registered in :data:`TRAINERS` with its command-line :class:`Option` list
(:attr:`OPTIONS`). :func:`~semlink.semantic.training.loop.run_training` is
the one shared loop (checkpoints, resume, logs, progress). A new trainable
codec adds one file that registers its trainer (or exposes it as an entry
point in group ``semlink.trainers``) and ``semlink train NAME`` picks it up.

Built in: ``deepjscc`` (:mod:`semlink.semantic.train_deepjscc`), ``uoisc``
(:mod:`semlink.semantic.train_uoisc`) and ``corrector``
(:mod:`semlink.semantic.training.corrector`).
"""

from __future__ import annotations

from .loop import Trainer, run_training
from .registry import TRAINERS, Option


def trainer_options(name: str) -> tuple[Option, ...]:
    """The :class:`Option` list of trainer ``name``."""
    _load_builtin()
    return tuple(getattr(TRAINERS.get(name), "OPTIONS", ()))


def make_trainer(name: str, options: dict) -> Trainer:
    """Build trainer ``name`` from its options: a trainer with a configuration dataclass
    (``CONFIG``, :mod:`~semlink.semantic.training.config`) gets the config built from them,
    any other trainer takes them as constructor keyword arguments."""
    _load_builtin()
    config_cls = getattr(TRAINERS.get(name), "CONFIG", None)
    if config_cls is not None:
        from .config import config_from_options

        trainer = TRAINERS.create(name, config=config_from_options(config_cls, options))
    else:
        trainer = TRAINERS.create(name, **options)
    if not isinstance(trainer, Trainer):
        raise TypeError(f"trainer {name!r} built a {type(trainer).__name__}, not a semlink Trainer")
    return trainer


def trainer_names() -> list[str]:
    """Registered trainer names."""
    _load_builtin()
    return TRAINERS.names()


def _load_builtin() -> None:
    from .. import train_deepjscc, train_uoisc  # noqa: F401  (register deepjscc, uoisc)
    from . import corrector  # noqa: F401  (registers corrector)


__all__ = ["TRAINERS", "Option", "Trainer", "make_trainer", "run_training", "trainer_names",
           "trainer_options"]
