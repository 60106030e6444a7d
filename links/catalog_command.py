"""``python -m semlink.catalog --write | --check``: the built-in catalog snapshot from the registries.

:mod:`semlink.catalog` (core layer) reads the committed snapshot
:mod:`semlink._builtin_catalog` without importing any implementation; this
module writes and checks that snapshot, which means importing the registries
of every layer (:mod:`semlink.phy`, :mod:`semlink.semantic`,
:mod:`semlink.metrics`): it sits at the top, with the commands.
``tests/test_catalog.py`` runs ``--check``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from semlink.catalog import SNAPSHOT_PATH, WRITE_COMMAND, builtin_snapshot, same_entries


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
    parser = argparse.ArgumentParser(prog="python -m semlink.catalog",
                                     description="regenerate or check the built-in catalog snapshot")
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
    raise SystemExit(main())
