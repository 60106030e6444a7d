"""Named test data sets: where they are found, and how they are fetched and checked.

Two data sets are known by name; every file of each is pinned by a SHA-256
committed with the package (``semlink/datasets/NAME.sha256``, the
``SHA256SUMS`` of the project's shared copy):

* ``kodak24``: the Kodak Lossless True Color Image Suite, ``kodim01.png`` to
  ``kodim24.png`` (24 PNGs, 15,394,305 bytes), as distributed by
  ``https://r0k.us/graphics/kodak/kodak/kodimNN.png``.
* ``coco-sample``: 30 COCO 2017 val images (``val2017/<12-digit id>.jpg``,
  4,178,681 bytes) from COCO's image server
  ``http://images.cocodataset.org/val2017/<file>``, with the captions and
  instance annotations of those images (``annotations.json`` and
  ``coco_format/*.json``, CC BY 4.0), which ship inside the package
  (``semlink/datasets/coco-sample/``, licence note ``LICENSE.md``) and are
  copied, not downloaded.

**Where a data set is found** (:func:`find`), in this order, the first folder
``ROOT/NAME`` that holds every file of the data set:

1. ``$SEMLINK_DATA/NAME`` when ``SEMLINK_DATA`` is set;
2. ``../shared/data/NAME`` next to the source checkout (the project's CI);
3. the user cache, ``cache_dir()/NAME``: ``$XDG_CACHE_HOME/semlink/data``
   (default ``~/.cache/semlink/data``) on Linux,
   ``~/Library/Caches/semlink/data`` on macOS,
   ``%LOCALAPPDATA%/semlink/cache/data`` on Windows.

Finding checks that the files exist (no hashing); ``semlink data list
--verify`` hashes them.

**Fetching** (:func:`fetch`) writes into ``$SEMLINK_DATA`` when it is set,
else the user cache (or the ``dest`` given). Each file is downloaded to
``FILE.part`` while its SHA-256 is computed, then renamed into place only
when the digest matches the committed one; a mismatch is an error naming the
file, both digests and the source, and the bad bytes are deleted. Files
already present with the right digest are kept; a failed file does not undo
the others. ``SEMLINK_DATA_MIRROR`` (or ``mirror=``) replaces the public
sources by a mirror laid out like the data folder -- ``MIRROR/NAME/<path>``,
e.g. ``MIRROR/kodak24/kodim01.png`` and
``MIRROR/coco-sample/val2017/000000000139.jpg`` -- given as a folder, a
``file://`` URL or an ``http(s)://`` URL; the same digests are checked, so a
copy of ``../shared/data`` is a valid mirror.

Nothing here touches the network at import time.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files as _package_files
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Seconds a download may stall before it fails.
TIMEOUT_S = 60.0


class DataError(ValueError):
    """A named data set is unknown, cannot be found, or a fetched file is wrong."""


@dataclass(frozen=True)
class DataFile:
    """One file of a data set.

    :param path: path relative to the data set's folder (``/``-separated).
    :param sha256: committed hex digest.
    :param url: public source; `None` for files that ship inside the package.
    """

    path: str
    sha256: str
    url: str | None


@dataclass(frozen=True)
class DataSource:
    """A named data set: its files, where they come from and under which terms."""

    name: str
    description: str
    source: str
    terms: str
    files: tuple[DataFile, ...]

    @property
    def fetch_command(self) -> str:
        """The command that fetches this data set."""
        return f"semlink data fetch {self.name}"


_KODAK_URL = "https://r0k.us/graphics/kodak/kodak/{file}"
_COCO_URL = "http://images.cocodataset.org/val2017/{file}"
_DESCRIPTIONS = {
    "kodak24": ("Kodak Lossless True Color Image Suite: 24 PNGs, 768x512 / 512x768, 14.7 MiB",
                "https://r0k.us/graphics/kodak/",
                "Kodak PhotoCD PCD0992, released by Kodak for unrestricted use (as quoted by "
                "the distribution page); cite the 'Kodak Lossless True Color Image Suite'"),
    "coco-sample": ("30 COCO 2017 val images (4.0 MiB) with their 150 captions and 232 object "
                    "annotations (the annotations ship with semlink)",
                    "http://images.cocodataset.org/val2017/ (images); annotations in the package",
                    "annotations CC BY 4.0 (COCO Consortium); each image under its own Flickr "
                    "licence, named in annotations.json (20 of 30 non-commercial)"),
}


@functools.cache            # package data: read once per process
def _manifest(name: str) -> tuple[DataFile, ...]:
    text = (_package_files("semlink") / "datasets" / f"{name}.sha256").read_text()
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        digest, rel = line.split(None, 1)
        rel = rel.lstrip("*").strip()
        if name == "kodak24":
            url = _KODAK_URL.format(file=rel)
        elif rel.startswith("val2017/"):
            url = _COCO_URL.format(file=rel.split("/", 1)[1])
        else:
            url = None  # annotation JSON shipped in semlink/datasets/coco-sample/
        out.append(DataFile(rel, digest.lower(), url))
    return tuple(out)


def names() -> list[str]:
    """Names of the known data sets."""
    return sorted(_DESCRIPTIONS)


def source(name: str) -> DataSource:
    """The data set ``name`` (its files and their committed digests).

    :raises DataError: unknown name (the message lists the known ones).
    """
    if name not in _DESCRIPTIONS:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(names())} "
                        "(semlink data list)")
    desc, src, terms = _DESCRIPTIONS[name]
    return DataSource(name, desc, src, terms, _manifest(name))


def cache_dir() -> Path:
    """The platform's user cache folder for semlink data (not created)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "semlink" / "cache" / "data"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "semlink" / "data"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "semlink" / "data"


def fetch_root() -> Path:
    """Where :func:`fetch` writes by default: ``$SEMLINK_DATA`` when set, else :func:`cache_dir`."""
    env = os.environ.get("SEMLINK_DATA")
    return Path(env).expanduser() if env else cache_dir()


def _checkout_root() -> Path:
    """The source checkout holding this package (``semlink/`` sits at its top)."""
    return Path(__file__).resolve().parent.parent


def search_roots(repo_root: str | Path | None = None) -> list[tuple[str, Path]]:
    """The folders searched, in order, as ``(label, root)``; each holds ``NAME/`` sub-folders.

    :param repo_root: the checkout whose ``../shared/data`` is searched (default: the
        one this package was imported from).
    """
    roots = []
    env = os.environ.get("SEMLINK_DATA")
    if env:
        roots.append(("$SEMLINK_DATA", Path(env).expanduser()))
    repo = Path(repo_root) if repo_root is not None else _checkout_root()
    roots.append(("../shared/data", (repo / ".." / "shared" / "data").resolve()))
    roots.append(("user cache", cache_dir()))
    return roots


def missing_files(name: str, folder: str | Path) -> list[str]:
    """Files of data set ``name`` absent (or empty) in ``folder`` (no hashing)."""
    folder = Path(folder)
    out = []
    for f in source(name).files:
        p = folder / f.path
        if not p.is_file() or p.stat().st_size == 0:
            out.append(f.path)
    return out


def find(name: str, repo_root: str | Path | None = None) -> Path | None:
    """The first complete ``ROOT/name`` of :func:`search_roots`, or `None`."""
    source(name)
    for _, root in search_roots(repo_root):
        folder = root / name
        if folder.is_dir() and not missing_files(name, folder):
            return folder
    return None


def common_root(repo_root: str | Path | None = None) -> Path | None:
    """The first root of :func:`search_roots` that holds every data set completely, or `None`
    (what ``scripts/test.sh`` exports as ``$SEMLINK_DATA`` for the tests)."""
    for _, root in search_roots(repo_root):
        if all((root / n).is_dir() and not missing_files(n, root / n) for n in names()):
            return root
    return None


def not_found_message(name: str, repo_root: str | Path | None = None) -> str:
    """Why ``name`` was not found and the exact command that fetches it."""
    looked = "; ".join(f"{label}: {root / name}" for label, root in search_roots(repo_root))
    return (f"data set {name!r} not found (looked in {looked}); fetch it with: "
            f"semlink data fetch {name}  (into {fetch_root()}; without internet, set "
            "SEMLINK_DATA_MIRROR to a copy laid out as NAME/<files>, or SEMLINK_DATA to a "
            "folder that holds it)")


def require(name: str, repo_root: str | Path | None = None) -> Path:
    """:func:`find`, or a :class:`DataError` naming the folders searched and the fetch command."""
    folder = find(name, repo_root)
    if folder is None:
        raise DataError(not_found_message(name, repo_root))
    return folder


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(name: str, folder: str | Path) -> list[str]:
    """Problems of ``folder`` as a copy of ``name``: one line per missing or wrong file."""
    folder = Path(folder)
    problems = []
    for f in source(name).files:
        p = folder / f.path
        if not p.is_file():
            problems.append(f"{f.path}: missing")
        elif (got := sha256_file(p)) != f.sha256:
            problems.append(f"{f.path}: sha256 {got} != expected {f.sha256}")
    return problems


def _mirror_location(mirror: str, name: str, rel: str) -> str:
    """``MIRROR/name/rel`` as a URL (``http(s)://``, ``file://``) or a local path."""
    if "://" in mirror:
        return mirror.rstrip("/") + "/" + urllib.parse.quote(f"{name}/{rel}")
    return str(Path(mirror).expanduser() / name / rel)


def _open(location: str):
    if "://" in location:
        req = urllib.request.Request(location, headers={"User-Agent": "semlink-data-fetch"})
        return urllib.request.urlopen(req, timeout=TIMEOUT_S)  # noqa: S310 - http(s)/file only
    return open(location, "rb")


def _copy_checked(reader, target: Path, expected: str, origin: str) -> None:
    """Stream ``reader`` into ``target`` via ``target.part``; keep it only when its sha256 matches."""
    part = target.with_name(target.name + ".part")
    h = hashlib.sha256()
    try:
        with open(part, "wb") as out:
            for chunk in iter(lambda: reader.read(1 << 20), b""):
                h.update(chunk)
                out.write(chunk)
        got = h.hexdigest()
        if got != expected:
            raise DataError(f"{target.name} from {origin}: sha256 {got} does not match the "
                            f"committed {expected}; the file was not kept (a corrupt or changed "
                            "source: try again, or use another SEMLINK_DATA_MIRROR)")
        os.replace(part, target)
    finally:
        if part.exists():
            part.unlink()


def fetch(name: str, dest: str | Path | None = None, mirror: str | None = None) -> Path:
    """Fetch every file of data set ``name`` into ``DEST/name`` and check its SHA-256.

    :param name: ``"kodak24"`` or ``"coco-sample"`` (:func:`names`).
    :param dest: root folder (default :func:`fetch_root`: ``$SEMLINK_DATA`` or the cache).
    :param mirror: folder or URL laid out as ``MIRROR/NAME/<path>`` replacing the public
        sources (default: ``$SEMLINK_DATA_MIRROR``; empty: the public sources).
    :return: the data set's folder ``DEST/name``, complete and checked.
    :raises DataError: unknown name, or files that could not be fetched or had a wrong
        digest (all listed; the good ones are kept, the bad ones deleted).
    """
    src = source(name)
    mirror = os.environ.get("SEMLINK_DATA_MIRROR") if mirror is None else mirror
    folder = Path(dest if dest is not None else fetch_root()).expanduser() / name
    folder.mkdir(parents=True, exist_ok=True)
    failures, fetched = [], 0
    for f in src.files:
        target = folder / f.path
        if target.is_file() and sha256_file(target) == f.sha256:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if f.url is None:
            origin = f"semlink package data (semlink/datasets/{name}/{f.path})"
            reader_src = _package_files("semlink") / "datasets" / name / f.path
            opener: Callable[..., Any] = reader_src.open
            args: tuple = ("rb",)
        else:
            origin = _mirror_location(mirror, name, f.path) if mirror else f.url
            opener, args = _open, (origin,)
        log.info("fetching %s/%s from %s", name, f.path, origin)
        try:
            with opener(*args) as reader:
                _copy_checked(reader, target, f.sha256, origin)
            fetched += 1
        except DataError as exc:
            failures.append(str(exc))
        except (OSError, ValueError) as exc:   # URLError is an OSError
            failures.append(f"{f.path} from {origin}: {type(exc).__name__}: {exc}")
    sums = (_package_files("semlink") / "datasets" / f"{name}.sha256").read_bytes()
    (folder / "SHA256SUMS").write_bytes(sums)          # same layout as a shared data folder
    if failures:
        hint = ("" if mirror else "; without internet, set SEMLINK_DATA_MIRROR to a folder or "
                "file:// URL laid out as NAME/<files> (a copy of a complete data folder)")
        raise DataError(f"data set {name!r}: {len(failures)} of {len(src.files)} file(s) not "
                        f"fetched into {folder} ({fetched} fetched, the rest already there); "
                        + " | ".join(failures[:5])
                        + (f" | and {len(failures) - 5} more" if len(failures) > 5 else "")
                        + f"; rerun 'semlink data fetch {name}' to retry only those{hint}")
    log.info("%s: %d file(s) fetched, %d already there, all checked, in %s",
             name, fetched, len(src.files) - fetched, folder)
    return folder
