"""Numerical precision of the neural parts of codecs: ``precision: fp32 | bf16 | fp16``.

A codec that takes ``precision`` runs its networks' forward passes under
:func:`torch.autocast` with the chosen dtype (convolutions and matrix
products in bf16/fp16, reductions and the channel symbols in fp32). The
default ``fp32`` runs without autocast, so results equal those of a build
without this option. bf16 is the fast choice on recent CPUs and GPUs; fp16
is meant for CUDA. The PSNR cost is measured in ``tests/test_precision.py``
(deep JSCC on real photos: bf16 within 0.5 dB of fp32).
"""

from __future__ import annotations

import contextlib

import torch

PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16,
                                             "fp16": torch.float16}


def check_precision(precision: str) -> str:
    """Validate a ``precision`` value; returns it.

    :raises ValueError: naming the value and the allowed ones.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}; "
                         "use fp32 (default, exact) or bf16 (faster, about 0.1 dB PSNR)")
    return precision


def autocast(precision: str, device: str | torch.device):
    """Context manager running the enclosed forward passes at ``precision`` on ``device``."""
    dtype = PRECISIONS[check_precision(precision)]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)
