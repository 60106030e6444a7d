"""Precision, device and seed defaults, taken from Sionna's global config."""

from __future__ import annotations

import torch
from sionna.phy.config import config


def resolve_precision(precision: str | None) -> str:
    """``None`` -> Sionna's default precision; otherwise checked."""
    if precision is None:
        return config.precision
    if precision not in ("single", "double"):
        raise ValueError(f"precision must be 'single', 'double' or None, got {precision!r}")
    return precision


def resolve_device(device: str | None) -> str:
    """``None`` -> Sionna's default device (``cuda:0`` if present, else ``cpu``)."""
    if device is None:
        return config.device
    if device == "cuda":
        device = "cuda:0"
    if device not in config.available_devices:
        hint = "" if torch.cuda.is_available() else " (no CUDA device is visible here)"
        raise ValueError(
            f"device {device!r} is not available{hint}; choose one of {config.available_devices}"
        )
    return device


def set_seed(seed: int | None) -> None:
    """Seed Sionna's global generators; channels built afterwards are reproducible."""
    config.seed = seed
