"""Precision, device and seed defaults, taken from Sionna's global config."""

from __future__ import annotations

from sionna.phy.config import config

from semlink.device import resolve_device as _resolve


def resolve_precision(precision: str | None) -> str:
    """``None`` -> Sionna's default precision; otherwise checked."""
    if precision is None:
        return config.precision
    if precision not in ("single", "double"):
        raise ValueError(f"precision must be 'single', 'double' or None, got {precision!r}")
    return precision


def resolve_device(device: str | None) -> str:
    """The PHY's device, by semlink's one rule (:func:`semlink.device.resolve_device`).

    ``None``/``"auto"`` -> the first CUDA device when there is one, else ``"cpu"``; an
    explicit ``"cpu"``/``"cuda"``/``"cuda:N"``/``"gpu"`` wins and must exist here.
    :raises ValueError: (:class:`~semlink.device.DeviceError`) for an absent CUDA device.
    """
    return _resolve(device)


def set_seed(seed: int | None) -> None:
    """Seed Sionna's global generators; channels built afterwards are reproducible."""
    config.seed = seed
