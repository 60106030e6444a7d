"""What ``semlink list`` prints, without importing torch, Sionna or any codec.

The registries (:data:`~semlink.phy.CHANNELS`, :data:`~semlink.semantic.CODECS`,
:data:`~semlink.metrics.METRICS`) live in modules that import their
implementations, and those import torch and Sionna (about 3 s). ``semlink list``
reads instead

* the built-in names and one-line descriptions from
  :mod:`semlink._builtin_catalog`, a snapshot *generated* from the registries
  by ``python -m semlink.catalog --write`` (never edited by hand;
  ``tests/test_catalog.py`` fails, naming that command, when it differs from
  the registries), and
* plug-ins (entry points in groups ``semlink.channels``, ``semlink.codecs``,
  ``semlink.metrics``) from the installed packages' metadata, without
  importing them: a plug-in is described by its target and distribution.

Implementations are imported only when a name is used (``semlink run``,
``make_codec``, ...), through the registries as before.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import entry_points
from pathlib import Path

#: listing section -> entry-point group of its registry (`None`: fixed built-in set)
SECTION_GROUPS = {"channels": "semlink.channels", "codecs": "semlink.codecs", "codes": None,
                  "modulations": None, "metrics": "semlink.metrics"}

SNAPSHOT_PATH = Path(__file__).with_name("_builtin_catalog.py")
WRITE_COMMAND = "python -m semlink.catalog --write"


def builtin_from_registries() -> dict[str, dict[str, str]]:
    """Built-in names -> descriptions, read from the registries (imports torch, Sionna, codecs).

    Sections: ``channels``, ``codecs``, ``codes``, ``modulations``, ``metrics``
    (registered metrics, sorted) and ``phy_metrics`` (``ber``, ``bler``,
    ``channel_uses``: computed by the link, not registered).
    Plug-ins are left out: only names registered in code count.
    """
    from semlink.metrics import METRICS, PHY_METRICS
    from semlink.phy import CHANNELS, CODES, MODULATION_NAMES
    from semlink.semantic import CODECS

    return {"channels": CHANNELS.registered(), "codecs": CODECS.registered(),
            "codes": dict(CODES), "modulations": dict(MODULATION_NAMES),
            "metrics": METRICS.registered(), "phy_metrics": dict(PHY_METRICS)}


def builtin_snapshot() -> dict[str, dict[str, str]]:
    """The committed snapshot of :func:`builtin_from_registries` (imports nothing heavy)."""
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

    :param builtin: built-in entries as :func:`builtin_from_registries` returns
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


def write_snapshot(path: Path = SNAPSHOT_PATH) -> None:
    """Regenerate :mod:`semlink._builtin_catalog` from the registries."""
    text = ('"""Built-in registry entries for ``semlink list``: GENERATED, do not edit.\n\n'
            f"Regenerate with ``{WRITE_COMMAND}`` after adding or renaming a built-in\n"
            "channel, codec, code, modulation or metric, or changing its description.\n"
            '"""\n\n'
            f"BUILTIN = {json.dumps(builtin_from_registries(), indent=4, ensure_ascii=False)}\n")
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """``python -m semlink.catalog --write | --check``."""
    parser = argparse.ArgumentParser(prog="python -m semlink.catalog", description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help=f"regenerate {SNAPSHOT_PATH.name}")
    mode.add_argument("--check", action="store_true", help="exit 1 when the snapshot is stale")
    args = parser.parse_args(argv)
    if args.write:
        write_snapshot()
        print(f"wrote {SNAPSHOT_PATH}")
        return 0
    snapshot, live = builtin_snapshot(), builtin_from_registries()
    if same_entries(snapshot, live):
        print(f"{SNAPSHOT_PATH.name} is up to date")
        return 0
    print(f"{SNAPSHOT_PATH.name} is STALE: run {WRITE_COMMAND}")
    for section in sorted(set(snapshot) | set(live)):
        old, new = snapshot.get(section, {}), live.get(section, {})
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                print(f"  {section}.{name}: snapshot {old.get(name)!r}, registry {new.get(name)!r}")
        if list(old) != list(new) and set(old) == set(new):
            print(f"  {section}: order differs")
    return 1

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
