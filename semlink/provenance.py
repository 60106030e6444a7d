"""Provenance of results: package versions, device, git revision, host."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

_PACKAGES = ("semlink", "sionna-no-rt", "torch", "numpy", "scipy", "h5py", "pyyaml",
             "torchvision", "pillow", "transformers", "open_clip_torch", "diffusers",
             "lpips", "pytorch-msssim", "ray")


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
            "cuda_devices": []}
    if torch.cuda.is_available():
        info["cuda_devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["cuda_version"] = torch.version.cuda
    return info


def environment() -> dict:
    """Everything a results file records about where it was computed."""
    return {"python": platform.python_version(), "platform": platform.platform(),
            "machine": platform.machine(), "processor": platform.processor(),
            "packages": package_versions(), "git_revision": git_revision(),
            **device_info()}
