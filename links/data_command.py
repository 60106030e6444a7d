"""``semlink data list | fetch NAME... | path NAME``: the named test data sets on the command line.

* ``list``: each data set (:mod:`semlink.data_fetch`), where it is found in the
  resolution order (``$SEMLINK_DATA``, ``../shared/data``, the user cache) or the
  command that fetches it; ``--verify`` hashes every file; ``--check`` exits 1
  when any data set is missing (what ``scripts/test.sh`` asks before fetching).
* ``fetch NAME... | --all``: download (or copy from ``$SEMLINK_DATA_MIRROR``),
  check every file's SHA-256 and keep only good files, into ``--dest``,
  ``$SEMLINK_DATA`` or the user cache. A data set already found somewhere in
  the resolution order is left alone unless ``--dest`` names where to put it.
* ``path NAME``: print the folder the tests and scenarios will use.
"""

from __future__ import annotations

import argparse
import json
import sys

from semlink.log import set_prefix


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="list and fetch the test data sets (Kodak24, COCO sample)")
    dsub = p.add_subparsers(dest="data_command", required=True)
    lp = dsub.add_parser("list", help="data sets, where they are found, how to fetch them")
    lp.add_argument("--json", action="store_true", help="print JSON")
    lp.add_argument("--verify", action="store_true", help="hash every file found (slower)")
    lp.add_argument("--check", action="store_true", help="exit status 1 when a data set is missing")
    lp.set_defaults(func=cmd_list)
    fp = dsub.add_parser("fetch", help="download data sets and check their SHA-256 "
                                       "(SEMLINK_DATA_MIRROR: a local mirror)")
    fp.add_argument("names", nargs="*", help="data set names (semlink data list)")
    fp.add_argument("--all", action="store_true", help="every data set")
    fp.add_argument("--dest", default=None,
                    help="root folder to fetch into, even when the data set is found elsewhere "
                         "(default: $SEMLINK_DATA, else the user cache)")
    fp.add_argument("--mirror", default=None,
                    help="folder or URL laid out as MIRROR/NAME/<files> (default: "
                         "$SEMLINK_DATA_MIRROR, else the public sources)")
    fp.set_defaults(func=cmd_fetch)
    pp = dsub.add_parser("path", help="print the folder a data set is found in")
    pp.add_argument("name", help="data set name")
    pp.set_defaults(func=cmd_path)


def _rows(verify: bool) -> list[dict]:
    from semlink import data_fetch as df

    rows = []
    for name in df.names():
        src, folder = df.source(name), df.find(name)
        row = {"name": name, "description": src.description, "source": src.source,
               "terms": src.terms, "files": len(src.files),
               "path": None if folder is None else str(folder),
               "fetch_command": src.fetch_command, "fetch_into": str(df.fetch_root() / name)}
        if verify and folder is not None:
            row["problems"] = df.verify(name, folder)
        rows.append(row)
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    from semlink import data_fetch as df

    rows = _rows(args.verify)
    if args.json:
        print(json.dumps({"search_order": [[label, str(root)] for label, root in df.search_roots()],
                          "data_sets": rows}, indent=1))
    else:
        print("searched in order: " + "; ".join(f"{label} = {root}"
                                                for label, root in df.search_roots()))
        for r in rows:
            where = r["path"] or f"MISSING: fetch with '{r['fetch_command']}' (into {r['fetch_into']})"
            print(f"{r['name']}  ({r['files']} files)  {r['description']}\n  {where}")
            if "problems" in r:
                print("  verified: all files match their sha256" if not r["problems"] else
                      "  WRONG FILES: " + "; ".join(r["problems"]))
            print(f"  source: {r['source']}\n  terms:  {r['terms']}")
    bad = any(r["path"] is None or r.get("problems") for r in rows)
    return 1 if bad and (args.check or args.verify) else 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from semlink import data_fetch as df

    if not args.names and not args.all:
        raise ValueError(f"semlink data fetch: name a data set ({', '.join(df.names())}) or "
                         "pass --all")
    names = df.names() if args.all else list(dict.fromkeys(args.names))
    for name in names:
        df.source(name)           # every name checked before anything is fetched
    set_prefix("semlink.data_fetch", "semlink data: ")     # the fetcher's lines, as always
    errors = []
    for name in names:
        found = df.find(name) if args.dest is None else None
        if found is not None:
            print(f"{name}: found at {found}; nothing to fetch")
            continue
        try:
            print(f"{name}: {df.fetch(name, dest=args.dest, mirror=args.mirror)}")
        except df.DataError as exc:
            errors.append(str(exc))
    for e in errors:
        print(f"semlink data fetch: error: {e}", file=sys.stderr)
    return 2 if errors else 0


def cmd_path(args: argparse.Namespace) -> int:
    from semlink import data_fetch as df

    print(df.require(args.name))
    return 0
