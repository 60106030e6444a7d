"""One configuration object per trainer: a dataclass that drives the CLI, the trainer and the records.

A trainer's settings are written once, as the fields of a dataclass (e.g.
:class:`~semlink.semantic.train_uoisc.UoiscConfig`). Each field declared with
:func:`setting` carries its one-line help and its command-line kind, so

* ``semlink train NAME --help`` lists :func:`config_options` of the dataclass
  (plus the class's ``CLI_EXTRA`` options: command-line spellings such as
  ``--no-text-alignment`` that its ``from_cli`` classmethod turns into fields);
* the trainer takes the config object (``Trainer(config)``);
* what the trainer records (``train_config.json``, the checkpoint's training
  arguments) is derived from it.

:func:`make_config` builds a config from keyword settings and names an unknown
setting together with the valid ones (the error a misspelt option deserves).
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, fields
from typing import Any

from .registry import Option

_KINDS = ("str", "int", "float", "flag", "floats", "ints", "strs")


def setting(default: Any = MISSING, help: str = "", *, kind: str | None = None,
            required: bool = False, default_factory: Any = MISSING) -> Any:
    """A config field: ``default`` (or ``default_factory`` for a list), its one-line ``help``
    (with units) and its command-line ``kind`` (one of ``str``, ``int``, ``float``, ``flag``,
    ``floats``, ``ints``, ``strs``; ``None``: a Python-only setting, e.g. a dict, not on the
    command line). ``required``: must be given (a field without default)."""
    if kind is not None and kind not in _KINDS:
        raise ValueError(f"kind={kind!r} is not a command-line kind; use one of {list(_KINDS)} "
                         "or None for a Python-only setting")
    meta = {"help": help, "kind": kind, "required": required}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


def config_options(config_cls: type) -> tuple[Option, ...]:
    """The :class:`Option` list of ``semlink train NAME`` from a config dataclass: one per field
    with a command-line kind, then the class's ``CLI_EXTRA`` options."""
    out = [Option(f.name, f.metadata["kind"], _default(f), f.metadata["help"],
                  required=f.metadata.get("required", False))
           for f in fields(config_cls) if f.metadata.get("kind")]
    return (*out, *getattr(config_cls, "CLI_EXTRA", ()))


def make_config(config_cls: type, settings: dict) -> Any:
    """``config_cls(**settings)``, naming an unknown setting and the valid ones (TypeError)."""
    names = [f.name for f in fields(config_cls)]
    unknown = sorted(set(settings) - set(names))
    if unknown:
        raise TypeError(f"{config_cls.__name__} has no setting(s) {unknown}; its settings are "
                        f"{names}")
    return config_cls(**settings)


def config_from_call(config_cls: type, config: Any, settings: dict, caller: str) -> Any:
    """The config of a ``train_NAME(config, out, **settings)`` call: ``config`` itself when it
    is a ``config_cls`` (extra ``settings`` then raise a ``TypeError`` naming them), else
    ``config_cls(data=config, **settings)`` through :func:`make_config`."""
    if isinstance(config, config_cls):
        if settings:
            raise TypeError(f"{caller}: settings {sorted(settings)} given next to a "
                            f"{config_cls.__name__}; set them in the config "
                            "(dataclasses.replace(config, ...))")
        return config
    return make_config(config_cls, {"data": config, **settings})


def config_from_options(config_cls: type, options: dict) -> Any:
    """A config from command-line options (``semlink train``): the class's ``from_cli`` when it
    has command-line spellings of its own (``CLI_EXTRA``), else :func:`make_config`."""
    from_cli = getattr(config_cls, "from_cli", None)
    return from_cli(options) if from_cli else make_config(config_cls, options)


__all__ = ["config_from_call", "config_from_options", "config_options", "make_config", "setting"]
