"""Provenance of results: package versions, device, git revision, host."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

_PACKAGES = ("semlink", "sionna-no-rt", "torch", "numpy", "scipy", "h5py", "pyyaml",
             "torchvision", "pillow", "transformers", "open_clip_torch", "diffusers",
             "lpips", "pytorch-msssim", "ray", "ldpc", "triton")


def package_versions() -> dict[str, str]:
    """Installed versions of semlink and its (optional) dependencies."""
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def git_revision(path: str | Path | None = None) -> str | None:
    """``git describe --always --dirty`` of the source tree, or `None`."""
    where = Path(path) if path else Path(__file__).resolve().parent.parent
    try:
        res = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"],
                             cwd=where, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def device_info() -> dict:
    """CUDA availability and device names."""
    import torch

    info = {"cuda_available": torch.cuda.is_available(), "torch_threads": torch.get_num_threads(),
            "cuda_devices": [], "torch_cuda_build": torch.version.cuda}
    if torch.cuda.is_available():
        info["cuda_devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["cuda_version"] = torch.version.cuda
    return info


def environment(import_torch: bool = True) -> dict:
    """Everything a results file records about where it was computed.

    :param import_torch: ask torch about CUDA and its thread count
        (:func:`device_info`, about 2 s when torch is not imported yet);
        `False`: probe CUDA through the driver without importing torch
        (:func:`semlink.cuda_probe.cuda_summary`; no ``torch_threads``).
    """
    if import_torch:
        devices = device_info()
    else:
        from semlink.cuda_probe import cuda_summary

        devices = cuda_summary()
    from semlink.runtime import malloc_tuning

    return {"python": platform.python_version(), "platform": platform.platform(),
            "machine": platform.machine(), "processor": platform.processor(),
            "packages": package_versions(), "git_revision": git_revision(),
            "malloc_tuning": malloc_tuning(), **devices}


# --- model and weight provenance (shared by semlink.models, codecs and metrics) ---

import hashlib  # noqa: E402
import json  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402

#: File written into a model folder built by a test fixture; any model loaded
#: from a folder that holds it is flagged ``test_model=True`` in results.
TEST_MODEL_MARKER = "SEMLINK_TEST_MODEL.json"

_HASH_CHUNK = 1 << 20


def hash_path(path: str | Path) -> str:
    """Content hash of a weight file or a model folder: ``"sha256:<hex>"``.

    A folder hashes the sorted relative names and bytes of all its files
    (hidden files and the test-model marker excluded), so the same weights
    give the same hash wherever they are stored. Results are cached per
    process, keyed on the files' names, sizes and modification times.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"hash_path: {p} does not exist")
    files = _hashed_files(p)
    key = (str(p.resolve()), tuple((str(f), *_stat(f)) for f in files))
    if key not in _HASH_CACHE:
        _HASH_CACHE[key] = _hash_files(p, files)
    return _HASH_CACHE[key]


#: hash_path results by (path, names, sizes, mtimes): a sweep hashes a model once per process
_HASH_CACHE: dict[tuple, str] = {}


def _stat(f: Path) -> tuple[int, int]:
    st = f.stat()
    return st.st_size, st.st_mtime_ns


def _hashed_files(p: Path) -> list[Path]:
    return [p] if p.is_file() else sorted(
        f for f in p.rglob("*")
        if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
        and f.name != TEST_MODEL_MARKER)


def _hash_files(p: Path, files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p).as_posix()).encode() + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                h.update(chunk)
    return "sha256:" + h.hexdigest()


def hash_state_dict(state_dict) -> str:
    """Content hash of in-memory weights (a torch ``state_dict``): ``"sha256:<hex>"``.

    Keys are hashed in sorted order with dtype, shape and raw bytes, so the
    hash identifies the weights actually loaded (after any conversion).
    """
    import torch

    h = hashlib.sha256()
    for key in sorted(state_dict):
        t = state_dict[key]
        t = t.detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return "sha256:" + h.hexdigest()


#: File in a stand-in model folder (published architecture, seeded random weights;
#: :mod:`semlink.stand_ins`): anything loaded from it is flagged ``random_init``.
STAND_IN_MARKER = "SEMLINK_STAND_IN.json"


def stand_in_info(path: str | Path | None) -> dict | None:
    """The stand-in marker of the folder holding ``path`` (itself or up to 3 levels up), or `None`."""
    if path is None:
        return None
    p = Path(path)
    for folder in ([p] if p.is_dir() else []) + list(p.parents)[:3]:
        f = folder / STAND_IN_MARKER
        if f.is_file():
            try:
                return json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {"stand_in": "?", "seed": None}
    return None


def is_test_model(path: str | Path | None) -> bool:
    """True when `path` (a model folder or a file inside one) carries the test-model marker."""
    if path is None:
        return False
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    return (folder / TEST_MODEL_MARKER).exists()


@dataclass
class ModelRecord:
    """What a results file records about one model that produced a number.

    :param role: what the model does here (e.g. ``"captioner"``, ``"lpips"``)
    :param ref: the reference the user gave (HF id, open_clip name:tag, path, ...)
    :param path: where the weights were loaded from (`None` for random init)
    :param sha256: content hash of the weights actually loaded
    :param random_init: weights were randomly initialised, not loaded
    :param test_model: a tiny model built for tests (folder carries the marker)
    """

    role: str
    ref: str
    path: str | None = None
    sha256: str | None = None
    random_init: bool = False
    test_model: bool = False
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> ModelRecord:
        """Inverse of :meth:`to_dict` (unknown keys are an error)."""
        return cls(**data)

    @property
    def flags(self) -> list[str]:
        """``["test_model"]``, ``["random_init"]``, both or none."""
        return [f for f in ("test_model", "random_init") if getattr(self, f)]


#: how a flag is shown in summaries, plot legends and warnings
FLAG_MARKS = {"test_model": "TEST MODEL", "random_init": "RANDOM INIT"}


def model_warnings(records: list[ModelRecord | dict], where: str) -> list[str]:
    """One line per flagged model of ``records`` (dicts or :class:`ModelRecord`), naming ``where``.

    A model flagged ``test_model`` is a tiny model built for tests: its
    numbers mean nothing. ``random_init`` means the weights were not loaded
    from a pretrained source (e.g. UO-ISC's "without pretrained VLM"
    baseline, or a random backbone).
    """
    out = []
    for r in records:
        rec = r if isinstance(r, ModelRecord) else ModelRecord.from_dict(r)
        for flag in rec.flags:
            what = ("a tiny model built for tests: its numbers mean nothing"
                    if flag == "test_model" else "randomly initialised, not pretrained weights")
            out.append(f"{where}: {rec.role} {rec.ref!r} is {FLAG_MARKS[flag]} ({what})")
    return out


def state_dict_record(role: str, ref: str, state_dict, path: str | Path | None = None,
                      random_init: bool = False, extra: dict | None = None) -> ModelRecord:
    """A :class:`ModelRecord` for weights held in memory (hash of ``state_dict``).

    ``test_model`` comes from the marker next to ``path`` (:func:`is_test_model`).
    """
    stand_in = stand_in_info(path)
    return ModelRecord(role=role, ref=str(ref), path=None if path is None else str(path),
                       sha256=hash_state_dict(state_dict),
                       random_init=bool(random_init) or stand_in is not None,
                       test_model=is_test_model(path),
                       extra={**dict(extra or {}), **({"stand_in": stand_in} if stand_in else {})})


def path_record(role: str, ref: str, path: str | Path, extra: dict | None = None) -> ModelRecord:
    """A :class:`ModelRecord` for weights loaded from ``path`` (file or folder; :func:`hash_path`)."""
    stand_in = stand_in_info(path)
    return ModelRecord(role=role, ref=str(ref), path=str(path), sha256=hash_path(path),
                       random_init=stand_in is not None, test_model=is_test_model(path),
                       extra={**dict(extra or {}), **({"stand_in": stand_in} if stand_in else {})})
