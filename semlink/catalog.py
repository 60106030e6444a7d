"""What ``semlink list`` prints, without importing torch, Sionna or any codec.

The registries (:data:`~semlink.phy.CHANNELS`, :data:`~semlink.semantic.CODECS`,
:data:`~semlink.metrics.METRICS`) live in modules that import their
implementations, and those import torch and Sionna (about 3 s). ``semlink list``
reads instead

* the built-in names and one-line descriptions from
  :mod:`semlink._builtin_catalog`, a snapshot *generated* from the registries
  by ``python -m semlink.catalog --write`` (never edited by hand; the command
  lives in :mod:`semlink.links.catalog_command`, as reading the registries
  imports every layer above this one;
  ``tests/test_catalog.py`` fails, naming that command, when it differs from
  the registries), and
* plug-ins (entry points in groups ``semlink.channels``, ``semlink.codecs``,
  ``semlink.metrics``) from the installed packages' metadata, without
  importing them: a plug-in is described by its target and distribution.

Implementations are imported only when a name is used (``semlink run``,
``make_codec``, ...), through the registries as before.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path

#: listing section -> entry-point group of its registry (`None`: fixed built-in set)
SECTION_GROUPS = {"channels": "semlink.channels", "codecs": "semlink.codecs", "codes": None,
                  "modulations": None, "metrics": "semlink.metrics"}

SNAPSHOT_PATH: Path = Path(__file__).with_name("_builtin_catalog.py")
WRITE_COMMAND = "python -m semlink.catalog --write"


def builtin_snapshot() -> dict[str, dict[str, str]]:
    """The committed snapshot of
    :func:`~semlink.links.catalog_command.builtin_from_registries` (imports nothing heavy)."""
    from semlink._builtin_catalog import BUILTIN

    return BUILTIN


def plugin_descriptions(group: str) -> dict[str, str]:
    """Entry points of ``group`` -> ``"plug-in module:attr from dist version"``, none imported."""
    out = {}
    for ep in entry_points(group=group):
        dist = getattr(ep, "dist", None)
        origin = f" from {dist.metadata['Name']} {dist.version}" if dist is not None else ""
        out[ep.name] = f"plug-in {ep.value}{origin}"
    return out


def listing(builtin: dict[str, dict[str, str]] | None = None) -> dict[str, dict[str, str]]:
    """Sections of ``semlink list``: name -> one-line description, plug-ins included.

    :param builtin: built-in entries as :func:`~semlink.links.catalog_command.builtin_from_registries` returns
        them; `None`: the committed snapshot (fast, imports no implementation).
    A plug-in whose name is also built in is hidden, as the registries
    resolve the built-in first. Registry sections are sorted by name; the
    PHY metrics follow the registered metrics.
    """
    builtin = builtin_snapshot() if builtin is None else builtin
    out = {}
    for section, group in SECTION_GROUPS.items():
        items = dict(builtin[section])
        if group is not None:
            items = dict(sorted({**plugin_descriptions(group), **items}.items()))
        out[section] = items
    out["metrics"].update(builtin["phy_metrics"])
    return out


def same_entries(a: dict[str, dict[str, str]], b: dict[str, dict[str, str]]) -> bool:
    """Whether two listings hold the same sections, names, descriptions, in the same order."""
    return [(k, list(v.items())) for k, v in a.items()] == [(k, list(v.items())) for k, v in b.items()]


if __name__ == "__main__":  # pragma: no cover - the command; an entry point above every layer
    from semlink.links.catalog_command import main

    sys.exit(main())
