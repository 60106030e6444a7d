"""The results file (``DIR/results.h5``) and its crash-safe journal.

Layout of ``results.h5``::

    /                   attrs: format, semlink_version, scenario_yaml (as given),
                               scenario_json, env_json (versions, device, git), source,
                               phy_profiles_json (the scenario's PHY profiles with the
                               defaults that change results filled in: LDPC ``decoder``)
    /points/<id>/       attrs: id, index, status ('ok' | 'failed'), codec, codec_label,
                               codec_index, params_json, profiles_json, channel_label,
                               channel_index, channel_json, snr_index, snr_db, ebno_db,
                               seed, error, traceback, torch_threads (torch intra-op
                               threads of the process that evaluated the point),
                               error_json (a failed point's error data, the exception's
                               details(), e.g. a BudgetError's figures; "" when none)
        images          [num_images] names
        symbols_per_image  [num_images] int64, channel uses summed over streams
        fallback        [num_images] bool, decoder fell back (cliff effect)
        fallback_reason [num_images] str, why it fell back ('' when it did not)
        decoded_with_errors [num_images] bool, decoded (no fallback) from a stream with
                        failed code blocks or bit errors
        reused          [num_images] bool, error-free reconstruction's metrics reused
        metrics/<name>  [num_images] float64
        phy/<stream>/   attrs kind, profile, ebno_db (digital streams: Eb/N0 [dB] at the
                        point's Es/N0 ``snr_db``); datasets channel_uses, bits, bit_errors,
                        blocks, block_errors, crc_failures  ([num_images] int64)
        timings/        attrs encode_s, phy_s, decode_s, metrics_s (seconds),
                        peak_rss_mb, cuda_max_allocated_mb (MiB; the latter on CUDA)
        attrs provenance_json: {"codec": {"params": resolved Codec.params(), "tools":
                        {name: version}, "models": [ModelRecord], "stream_profiles"},
                        "metrics": {name: [ModelRecord]}} (ModelRecord: role, ref, path,
                        sha256, random_init, test_model, extra)
        examples/       only with the scenario's keep_examples: PNG reconstructions,
                        originals, per-image metrics and texts (see links/examples.py)

Root attrs also hold ``points_planned`` (points of the scenario) and
``dataset_identity_json`` (file list, sizes, hashes, geometry policy); a
file with fewer points than planned is an incomplete run.

Crash safety: every finished point is first written to its own file
``DIR/.points/<id>.h5`` (temporary name + atomic rename), then appended to
``results.h5``. A run killed at any moment (even SIGKILL inside an HDF5
write) loses at most the point in flight: ``--resume`` rebuilds
``results.h5`` from the journal and runs only the missing points; the
finished file is always assembled in point order, so it equals an
uninterrupted run's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

FORMAT = "semlink-results-1"
PHY_FIELDS = ("channel_uses", "bits", "bit_errors", "blocks", "block_errors", "crc_failures")
POINT_ATTRS = ("id", "index", "status", "codec", "codec_label", "codec_index", "params_json",
               "profiles_json", "channel_label", "channel_index", "channel_json", "snr_index",
               "snr_db", "ebno_db", "seed", "error", "traceback", "torch_threads", "error_json")
TIMINGS = ("encode_s", "phy_s", "decode_s", "metrics_s")
PER_IMAGE_FLAGS = ("decoded_with_errors", "reused")


def write_point(group: h5py.Group, part: dict) -> None:
    """Write one point (dict, see :mod:`semlink.links.sweep`) into ``group``."""
    for key in POINT_ATTRS:
        value = part.get(key)
        group.attrs[key] = "" if value is None else value
    group.create_dataset("images", data=np.array(part.get("images", []), dtype=h5py.string_dtype()))
    if part.get("status") == "ok":
        group.create_dataset("symbols_per_image", data=np.asarray(part["symbols_per_image"], np.int64))
        group.create_dataset("fallback", data=np.asarray(part["fallback"], bool))
        _write_per_image_extras(group, part)
        metrics = group.create_group("metrics")
        for name, values in part["metrics"].items():
            metrics.create_dataset(name, data=np.asarray(values, np.float64))
        phy = group.create_group("phy")
        for stream, rep in part["phy"].items():
            g = phy.create_group(stream)
            g.attrs["kind"], g.attrs["profile"] = rep["kind"], rep["profile"]
            if rep.get("ebno_db") is not None:
                g.attrs["ebno_db"] = float(rep["ebno_db"])   # Eb/N0 of a digital stream
            for f in PHY_FIELDS:
                g.create_dataset(f, data=np.asarray(rep[f], np.int64))
    if part.get("examples"):                  # scenario keep_examples (links/examples.py)
        from .examples import write_examples

        write_examples(group, part["examples"])
    timings = group.create_group("timings")
    for key in TIMINGS:
        timings.attrs[key] = float(part.get("timings", {}).get(key, 0.0))
    for key, value in part.get("timings", {}).items():
        if key not in TIMINGS:
            timings.attrs[key] = float(value)
    _write_provenance(group, part)


def _write_per_image_extras(group: h5py.Group, part: dict) -> None:
    """Fallback reasons and per-image flags (absent in files of older versions)."""
    if "fallback_reason" in part:
        group.create_dataset("fallback_reason", data=np.array(
            [str(r) for r in part["fallback_reason"]], dtype=h5py.string_dtype()))
    for name in PER_IMAGE_FLAGS:
        if name in part:
            group.create_dataset(name, data=np.asarray(part[name], bool))


def _write_provenance(group: h5py.Group, part: dict) -> None:
    """Point attr ``provenance_json``: the codec's resolved params, tools and models and
    each metric's models (:func:`semlink.links.sweep.point_provenance`)."""
    if part.get("provenance_json"):
        group.attrs["provenance_json"] = part["provenance_json"]


def _read_provenance(group: h5py.Group, part: dict) -> None:
    if "provenance_json" in group.attrs:
        part["provenance_json"] = _str(group.attrs["provenance_json"])


def _str(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_point(group: h5py.Group) -> dict:
    """Inverse of :func:`write_point`."""
    part = {key: group.attrs[key] for key in POINT_ATTRS if key in group.attrs}
    for key, value in list(part.items()):
        if isinstance(value, (bytes, str)):
            part[key] = _str(value)
        elif isinstance(value, np.generic):
            part[key] = value.item()
    part["images"] = [_str(x) for x in group["images"][()]]
    part["timings"] = {k: float(v) for k, v in group["timings"].attrs.items()}
    if "examples" in group:
        from .examples import read_examples

        part["examples"] = read_examples(group)
    if part.get("status") == "ok":
        part["symbols_per_image"] = group["symbols_per_image"][()]
        part["fallback"] = group["fallback"][()]
        if "fallback_reason" in group:
            part["fallback_reason"] = [_str(x) for x in group["fallback_reason"][()]]
        for name in PER_IMAGE_FLAGS:
            if name in group:
                part[name] = group[name][()]
        part["metrics"] = {k: v[()] for k, v in group["metrics"].items()}
        part["phy"] = {s: {"kind": _str(g.attrs["kind"]), "profile": _str(g.attrs["profile"]),
                           **{f: g[f][()] for f in PHY_FIELDS},
                           **({"ebno_db": float(g.attrs["ebno_db"])} if "ebno_db" in g.attrs else {})}
                       for s, g in group["phy"].items()}
    _read_provenance(group, part)
    return part


class ResultsStore:
    """``DIR/results.h5`` plus its journal ``DIR/.points/``.

    :param out_dir: output folder (created).
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.dir = Path(out_dir)
        self.path = self.dir / "results.h5"
        self.journal = self.dir / ".points"

    def exists(self) -> bool:
        return self.path.exists() or (self.journal.exists() and any(self.journal.glob("*.h5")))

    def start(self, header: dict, resume: bool) -> dict[str, dict]:
        """Prepare the folder; return the finished points (id -> part) when resuming.

        :param header: attrs of the root group (scenario, env, ...).
        :raises ValueError: results exist without ``resume``, or the scenario changed.
        """
        if self.exists() and not resume:
            raise ValueError(f"--out {str(self.dir)!r} already holds results; pass --resume to "
                             "continue that run, or choose another --out folder")
        header_file = self.journal / "header.json"
        if resume and self.path.exists() and not header_file.exists():
            raise ValueError(_foreign_results_message(self.path, header["scenario_json"]))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.journal.mkdir(exist_ok=True)
        if header_file.exists():
            old = json.loads(header_file.read_text())
            if old.get("scenario_json") != header["scenario_json"]:
                raise ValueError(f"--resume: the scenario differs from the one that started "
                                 f"{str(self.dir)!r}; use the same file or another --out folder")
            # runs started before the counter-based draws recorded no generator: they drew
            # each item's noise from its own torch.Generator ("torch-per-item")
            was = old.get("noise_generator", "torch-per-item")
            now = header.get("noise_generator", was)
            if was != now:
                raise ValueError(
                    f"--resume: the points in {str(self.dir)!r} drew their noise with the "
                    f"{was!r} generator, this semlink draws with {now!r}; resuming would mix "
                    f"the two in one file. Finish the run with the semlink version that "
                    f"started it, or run again with another --out folder")
            header = {**header, "env_json": old.get("env_json", header["env_json"])}
        else:
            _atomic_write_text(header_file, json.dumps(header))
        self.header = header
        done = {}
        for f in sorted(self.journal.glob("*.h5")):
            try:
                with h5py.File(f, "r") as h:
                    part = read_point(h["point"])
                done[f.stem] = part
            except (OSError, KeyError):
                f.unlink()  # a partial journal file cannot exist (atomic rename), but be safe
        for tmp in self.journal.glob("*.tmp"):
            tmp.unlink()
        self.assemble(done)
        return done

    def journal_header(self) -> dict | None:
        """The header of the run that started this folder (``None`` when there is none)."""
        header_file = self.journal / "header.json"
        return json.loads(header_file.read_text()) if header_file.exists() else None

    def add(self, point_id: str, part: dict) -> None:
        """Journal a finished point (atomic), then append it to results.h5.

        :raises ResultsWriteError: a write failed (e.g. disk full): the partial journal
            file is deleted, and so is ``results.h5`` when the append failed, so no
            damaged file is left behind; ``--resume`` rebuilds it from the journal.
        """
        tmp = self.journal / f"{point_id}.h5.tmp"
        try:
            with h5py.File(tmp, "w") as h:
                write_point(h.create_group("point"), part)
            os.replace(tmp, self.journal / f"{point_id}.h5")
        except (OSError, RuntimeError) as exc:
            _unlink(tmp)
            raise ResultsWriteError(self, tmp, exc) from exc
        try:
            with h5py.File(self.path, "a") as h:
                points = h.require_group("points")
                if point_id in points:
                    del points[point_id]
                write_point(points.create_group(point_id), part)
        except (OSError, RuntimeError) as exc:
            _unlink(self.path)            # possibly half-written: the journal is the record
            raise ResultsWriteError(self, self.path, exc) from exc

    def assemble(self, parts: dict[str, dict]) -> None:
        """Write results.h5 from scratch (atomic), points in index order.

        :raises ResultsWriteError: the write failed; the previous results.h5 is untouched.
        """
        tmp = self.dir / "results.h5.tmp"
        try:
            with h5py.File(tmp, "w") as h:
                h.attrs["format"] = FORMAT
                for key, value in self.header.items():
                    h.attrs[key] = value
                points = h.create_group("points")
                for pid, part in sorted(parts.items(), key=lambda kv: int(kv[1]["index"])):
                    write_point(points.create_group(pid), part)
            os.replace(tmp, self.path)
        except (OSError, RuntimeError) as exc:
            _unlink(tmp)
            raise ResultsWriteError(self, self.path, exc) from exc

    def finish(self) -> dict[str, dict]:
        """Reassemble results.h5 in canonical order from the journal; return all parts."""
        parts = {}
        for f in sorted(self.journal.glob("*.h5")):
            with h5py.File(f, "r") as h:
                parts[f.stem] = read_point(h["point"])
        self.assemble(parts)
        return parts


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def resume_command(out_dir: str | Path) -> str:
    """``semlink run SCENARIO --out DIR --resume`` for the run journalled in ``out_dir``."""
    header = Path(out_dir) / ".points" / "header.json"
    source = "SCENARIO.yaml"
    try:
        source = json.loads(header.read_text()).get("source") or source
    except (OSError, ValueError):
        pass
    return f"semlink run {source} --out {out_dir} --resume"


def _cause(exc: BaseException) -> str:
    """The OS reason of an h5py/OS error, e.g. ``'No space left on device (errno 28)'``."""
    text = str(exc)
    errno = getattr(exc, "errno", None)
    if errno is None and "errno = " in text:
        try:
            errno = int(text.split("errno = ", 1)[1].split(",", 1)[0])
        except ValueError:
            errno = None
    if errno:
        return f"{os.strerror(errno)} (errno {errno})"
    return f"{type(exc).__name__}: {text}"


class ResultsWriteError(OSError):
    """Writing the results folder failed (disk full, permissions, ...); finished points are
    safe in the journal and ``--resume`` continues after the cause is fixed."""

    def __init__(self, store: ResultsStore, path: Path, exc: BaseException) -> None:
        errno = getattr(exc, "errno", None)
        free = " after freeing space" if errno == 28 or "errno = 28" in str(exc) else ""
        super().__init__(f"cannot write {str(path)!r}: {_cause(exc)}; the finished points are "
                         f"kept in {str(store.journal)!r}; resume{free} with: "
                         f"{resume_command(store.dir)}")


def _foreign_results_message(path: Path, scenario_json: str) -> str:
    """Why ``--resume`` refuses a results.h5 that has no journal next to it."""
    try:
        with h5py.File(path, "r") as h:
            theirs = _str(h.attrs.get("scenario_json", ""))
    except OSError as exc:
        return (f"--resume: {str(path)!r} exists but is not a readable results file ({exc}) and "
                "the folder has no run journal (.points/header.json); move it away or choose "
                "another --out folder")
    same = theirs == scenario_json
    what = ("of this scenario" if same else
            "of another scenario" if theirs else "that semlink did not write")
    return (f"--resume: {str(path)!r} holds results {what} but the folder has no run journal "
            "(.points/header.json), so there is no run to continue and resuming would replace "
            "that file; move it away or choose another --out folder")


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def load_results(path: str | Path) -> tuple[dict, list[dict]]:
    """Read results.h5: ``(root attrs, list of point dicts in index order)``."""
    path = Path(path)
    journal = path.parent / ".points"
    if not path.is_file():
        if (journal / "header.json").is_file():
            n = len(list(journal.glob("*.h5")))
            raise ValueError(f"results file {str(path)!r} not found, but its run's journal holds "
                             f"{n} finished point(s); rebuild it with: {resume_command(path.parent)}")
        raise ValueError(f"results file {str(path)!r} not found")
    try:
        with h5py.File(path, "r") as h:
            if h.attrs.get("format") != FORMAT:
                raise ValueError(f"{str(path)!r} is not a semlink results file")
            attrs = {k: _str(v) if isinstance(v, (bytes, str)) else v for k, v in h.attrs.items()}
            points = [read_point(g) for g in h.get("points", {}).values()]
        points.sort(key=lambda p: int(p["index"]))
    except (OSError, RuntimeError, KeyError, AttributeError, TypeError, ValueError) as exc:
        if isinstance(exc, ValueError) and "not a semlink results file" in str(exc):
            raise
        # HDF5 damaged in the middle (a crash, disk full, a bad copy) fails in many ways:
        # a group that reads as None, bad signatures, addresses past the end of the file
        nxt = (f"rebuild it from the run's journal with: {resume_command(path.parent)}"
               if (journal / "header.json").is_file() else
               "restore a copy, or run the scenario again into a new --out folder")
        raise ValueError(f"results file {str(path)!r} is damaged and cannot be read "
                         f"({type(exc).__name__}: {exc}); {nxt}") from exc
    return attrs, points
