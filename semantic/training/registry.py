"""The trainer registry and the option type of ``semlink train NAME --help``.

Trainer modules (:mod:`semlink.semantic.train_deepjscc`,
:mod:`semlink.semantic.train_uoisc`, :mod:`semlink.semantic.training.corrector`,
plug-ins) import :data:`TRAINERS` and :class:`Option` from here and register
themselves; :mod:`semlink.semantic.training` imports the built-in trainer
modules when a trainer is looked up. Registration goes one way: this module
imports no trainer, so trainers and the package form no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from semlink.registry import Registry

from .loop import Trainer

TRAINERS: Registry[Trainer] = Registry("trainer", group="semlink.trainers")


@dataclass(frozen=True)
class Option:
    """One trainer option, shown by ``semlink train NAME --help``.

    :param name: the trainer's constructor parameter (``snr_db`` -> ``--snr-db``).
    :param kind: ``"str"``, ``"int"``, ``"float"``, ``"flag"`` (boolean switch),
        ``"floats"`` / ``"ints"`` / ``"strs"`` (comma-separated lists).
    :param default: default value (`None`: optional, unset).
    :param help: one-line help, with units.
    :param required: must be given.
    """

    name: str
    kind: str
    default: Any
    help: str
    required: bool = False
