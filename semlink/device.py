"""The one device rule of semlink, written once.

Every layer -- the PHY chains (:mod:`semlink.phy`), codecs (:mod:`semlink.semantic`),
metrics (:mod:`semlink.metrics`), trainers, links, scenarios, the command line and the
benchmarks -- resolves a requested device with :func:`resolve_device`:

* ``None`` or ``"auto"`` (:data:`DEFAULT_DEVICE`, the default everywhere): the first CUDA
  device when one is visible, else the CPU;
* an explicit device always wins: ``"cpu"``, ``"cuda:N"``, or a :class:`torch.device`;
* ``"cuda"`` and ``"gpu"`` mean ``"cuda:0"``;
* ``"cuda"``/``"gpu"`` without a GPU, and ``"cuda:N"`` beyond the device count, are a
  :class:`DeviceError` (a :class:`ValueError`) that names the value, what this machine has
  and the fix.

The result is a canonical string (``"cpu"`` or ``"cuda:N"``) that results files record.

Tensors follow the rule "chains return tensors on their device; each consumer moves what
it uses": :func:`on_host` is the one way library code brings a tensor to NumPy.

This module sits below every other semlink layer and imports nothing from them; torch is
imported lazily so that ``semlink list`` / ``semlink info`` stay light.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:                    # torch and NumPy are imported lazily (semlink list stays light)
    import numpy as np
    import torch

__all__ = ["DEFAULT_DEVICE", "DEVICE_CHOICES", "DeviceError", "resolve_device", "is_device_spec",
           "cuda_summary_line", "on_host"]

#: The default device everywhere: the first CUDA device when there is one, else the CPU.
DEFAULT_DEVICE = "auto"

#: What a device argument may be, in words (for help texts and errors).
DEVICE_CHOICES = "'auto' (first CUDA device if any, else cpu), 'cpu', 'cuda', 'cuda:N' or 'gpu'"

_SPEC = re.compile(r"auto|cpu|gpu|cuda(:\d+)?")


class DeviceError(ValueError):
    """A device that is malformed or not present on this machine."""


def is_device_spec(device: Any) -> bool:
    """Whether ``device`` is a well-formed device request (presence not checked; no torch import)."""
    return device is None or (isinstance(device, str) and _SPEC.fullmatch(device) is not None)


def cuda_summary_line() -> str:
    """``"this machine has N CUDA device(s) (cuda:0..cuda:N-1)"`` or why none is visible."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count:
        return f"this machine has {count} CUDA device(s) (cuda:0..cuda:{count - 1})"
    return (f"no CUDA GPU is visible here (torch {torch.__version__}, "
            f"CUDA build: {torch.version.cuda or 'none'})")


def resolve_device(device: Any = None, *, name: str = "device") -> str:
    """The canonical device string for a request, by semlink's one device rule.

    :param device: ``None``/``"auto"`` (first CUDA device if any, else ``"cpu"``), ``"cpu"``,
        ``"cuda"``/``"gpu"`` (= ``"cuda:0"``), ``"cuda:N"``, or a :class:`torch.device`.
    :param name: the argument's name, used in the error message (e.g. ``"--device"``).
    :returns: ``"cpu"`` or ``"cuda:N"``.
    :raises DeviceError: malformed request, or a CUDA device that this machine does not have
        (the message names the value, the number of CUDA devices and the fix).

    >>> resolve_device("cpu")
    'cpu'
    """
    import torch

    if isinstance(device, torch.device):
        device = str(device) if device.type != "cuda" or device.index is not None else "cuda"
    if device is None or device == DEFAULT_DEVICE:
        return "cuda:0" if torch.cuda.is_available() and torch.cuda.device_count() > 0 else "cpu"
    if not is_device_spec(device):
        raise DeviceError(f"{name} {device!r} is not a device; use {DEVICE_CHOICES}")
    if device == "cpu":
        return "cpu"
    asked = device
    index = int(device.split(":")[1]) if ":" in device else 0       # cuda, gpu -> index 0
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if index >= count:
        raise DeviceError(
            f"{name} {asked!r} is not available: {cuda_summary_line()}; use "
            + (f"one of cuda:0..cuda:{count - 1}, " if count else "")
            + "'cpu', or 'auto' (the first CUDA device when there is one, else the CPU)")
    return f"cuda:{index}"


def on_host(tensor: torch.Tensor) -> np.ndarray:
    """``tensor`` as a NumPy array, copied to the host first when it lives on a GPU."""
    return tensor.detach().cpu().numpy()
