"""CUDA availability without importing torch (which takes about 2 s).

``semlink info`` answers in a fraction of a second by asking

* torch's *build* for its CUDA version: ``torch/version.py`` is read as text
  (``cuda = '13.0'``; `None` for a CPU-only build), torch is not imported;
* the NVIDIA driver, through its management library NVML
  (``libnvidia-ml.so.1``, loaded with :mod:`ctypes`), for the GPUs it sees —
  the same library torch itself consults for its NVML-based device count;
* ``CUDA_VISIBLE_DEVICES``, which hides GPUs from torch (indices or UUID
  prefixes, cut at the first invalid entry, as the CUDA runtime does).

CUDA is reported available when torch is a CUDA build and at least one
visible GPU remains. A driver too old for torch's CUDA version would make
torch say no where this says yes; ``semlink info --torch`` asks torch itself.
"""

from __future__ import annotations

import ast
import ctypes
import importlib.util
import os
import sys
from pathlib import Path

_NVML_LIBRARY = "nvml.dll" if sys.platform == "win32" else "libnvidia-ml.so.1"


def torch_cuda_build() -> str | None:
    """CUDA version torch was built for (``"13.0"``), `None` for a CPU build or no torch.

    Read from ``torch/version.py`` without importing torch.
    """
    spec = importlib.util.find_spec("torch")  # a top-level package is located, not imported
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None
    for node in tree.body:
        if not isinstance(node, (ast.Assign, ast.AnnAssign)):
            continue
        target = node.targets[0] if isinstance(node, ast.Assign) else node.target
        if isinstance(target, ast.Name) and target.id == "cuda" and isinstance(node.value, ast.Constant):
            return node.value.value if isinstance(node.value.value, str) else None
    return None


def nvml_gpus(library: str = _NVML_LIBRARY) -> tuple[list[tuple[str, str]], str | None] | None:
    """GPUs the NVIDIA driver reports: ``([(name, uuid), ...], driver CUDA version)``.

    :param library: the NVML shared library to load.
    :returns: `None` when there is no NVIDIA driver (the library is missing or
        does not initialise); the driver's CUDA version is like ``"12.4"``.
    """
    try:
        nvml = ctypes.CDLL(library)
    except OSError:
        return None
    if nvml.nvmlInit_v2() != 0:
        return None
    try:
        count = ctypes.c_uint(0)
        if nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
            return [], None
        gpus = []
        for index in range(count.value):
            handle = ctypes.c_void_p()
            if nvml.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)) != 0:
                continue
            name, uuid = ctypes.create_string_buffer(96), ctypes.create_string_buffer(96)
            nvml.nvmlDeviceGetName(handle, name, 96)
            nvml.nvmlDeviceGetUUID(handle, uuid, 96)
            gpus.append((name.value.decode(errors="replace"), uuid.value.decode(errors="replace")))
        version = ctypes.c_int(0)
        driver_cuda = (f"{version.value // 1000}.{version.value % 1000 // 10}"
                       if nvml.nvmlSystemGetCudaDriverVersion_v2(ctypes.byref(version)) == 0
                       else None)
        return gpus, driver_cuda
    finally:
        nvml.nvmlShutdown()


def visible_gpus(gpus: list[tuple[str, str]], cuda_visible_devices: str | None) -> list[str]:
    """Names of the GPUs left visible by ``CUDA_VISIBLE_DEVICES``, in its order.

    :param gpus: ``(name, uuid)`` per driver index, as :func:`nvml_gpus` returns.
    :param cuda_visible_devices: the variable's value; `None` (unset) keeps all.
        Entries are indices or UUID prefixes (``GPU-8f2...``); the list ends at
        the first entry that names no GPU (``-1``, ``""``), as in the CUDA runtime.
    """
    if cuda_visible_devices is None:
        return [name for name, _ in gpus]
    out = []
    for entry in (e.strip() for e in cuda_visible_devices.split(",")):
        if entry.isdigit() and int(entry) < len(gpus):
            match = gpus[int(entry)]
        else:
            found = [g for g in gpus if entry and g[1].startswith(entry)]
            if len(found) != 1:
                break
            match = found[0]
        out.append(match[0])
    return out


def cuda_summary() -> dict:
    """What ``semlink info`` reports about CUDA, torch not imported.

    Keys: ``cuda_available`` (bool), ``cuda_devices`` (visible GPU names),
    ``torch_cuda_build`` (torch's build CUDA version; `None`: CPU build),
    ``cuda_version`` (the same, only when available, as :func:`semlink.provenance.device_info`)
    and ``cuda_driver`` (the driver's CUDA version, when a driver is found).
    """
    build = torch_cuda_build()
    driver = nvml_gpus()
    gpus, driver_cuda = driver if driver is not None else ([], None)
    devices = visible_gpus(gpus, os.environ.get("CUDA_VISIBLE_DEVICES"))
    available = build is not None and bool(devices)
    out = {"cuda_available": available, "cuda_devices": devices if available else [],
           "torch_cuda_build": build}
    if available:
        out["cuda_version"] = build
    if driver_cuda is not None:
        out["cuda_driver"] = driver_cuda
    return out
