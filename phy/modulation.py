"""Constellations by name: QAM, Gray-labelled PSK, PAM and custom points.

Every constellation is a :class:`sionna.phy.mapping.Constellation` with unit
average energy; the index of a point *is* its bit label (MSB first), which is
the convention of Sionna's :class:`~sionna.phy.mapping.Mapper` and
:class:`~sionna.phy.mapping.Demapper`.

* ``qam4`` ... ``qam256`` (``qpsk`` = ``qam4``): Sionna's 3GPP Gray QAM.
* ``pam2`` ... (``bpsk`` = ``pam2``): Sionna's Gray PAM.
* ``psk2``, ``psk4``, ``psk8``, ``psk16`` (``8psk`` etc. also accepted):
  Sionna has no PSK type, so the points are built here with a **binary
  reflected Gray code** around the circle: the point at angle
  ``2*pi*i/M + phase_offset`` carries label ``i ^ (i >> 1)``. Neighbours on
  the circle therefore differ in exactly one bit (a natural-labelled 8-PSK
  costs several dB after LDPC decoding).
* ``custom``: user points (``2**m`` complex values, label = index), centred
  and normalised to unit energy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sionna.phy.mapping import Constellation

_ALIASES = {"bpsk": "pam2", "qpsk": "qam4", "8psk": "psk8", "16psk": "psk16",
            "4psk": "psk4", "2psk": "psk2", "16qam": "qam16", "64qam": "qam64",
            "256qam": "qam256", "4pam": "pam4", "8pam": "pam8"}

MODULATION_NAMES = {
    "bpsk": "BPSK (= pam2), 1 bit/symbol",
    "qpsk": "Gray QPSK (= qam4), 2 bits/symbol",
    "psk8": "Gray 8-PSK, 3 bits/symbol",
    "psk16": "Gray 16-PSK, 4 bits/symbol",
    "qam16": "Gray 16-QAM (3GPP labelling), 4 bits/symbol",
    "qam64": "Gray 64-QAM, 6 bits/symbol",
    "qam256": "Gray 256-QAM, 8 bits/symbol",
    "pamM": "Gray M-PAM on the real axis, M = 2, 4, 8, ...",
    "custom": "user-given points (2**m complex values, label = index)",
}


def gray_code(i: np.ndarray) -> np.ndarray:
    """Binary reflected Gray code ``i ^ (i >> 1)``."""
    i = np.asarray(i, dtype=np.int64)
    return i ^ (i >> 1)


def psk_points(num_bits_per_symbol: int, phase_offset: float = 0.0) -> np.ndarray:
    """Unit-energy Gray-labelled M-PSK points, indexed by bit label.

    :param num_bits_per_symbol: ``m``; ``M = 2**m`` points.
    :param phase_offset: rotation in radians of the point with label 0.
    :output points: [2**m], complex128; ``points[label]``.
    """
    m = int(num_bits_per_symbol)
    M = 2**m
    positions = np.arange(M)
    labels = gray_code(positions)
    points = np.empty(M, dtype=np.complex128)
    points[labels] = np.exp(1j * (2 * np.pi * positions / M + phase_offset))
    return points


@dataclass(frozen=True)
class ModulationSpec:
    """A parsed modulation name: family (qam/psk/pam/custom) and bits per symbol."""

    family: str
    bits_per_symbol: int
    name: str


def parse_modulation(name: str) -> ModulationSpec:
    """Parse ``bpsk``, ``qpsk``, ``psk8``, ``qam16``, ``pam4``, ... into a spec."""
    if not isinstance(name, str):
        raise TypeError(f"modulation must be a string such as 'qpsk' or 'psk8', got {name!r}")
    key = _ALIASES.get(name.lower(), name.lower())
    match = re.fullmatch(r"(qam|psk|pam)(\d+)", key)
    if not match:
        raise ValueError(
            f"unknown modulation {name!r}. Use bpsk, qpsk, psk2/4/8/16, qam4..qam256 "
            "(square, power of 4), pam2/4/8/..., or modulation='custom' with points=..."
        )
    family, order = match.group(1), int(match.group(2))
    m = order.bit_length() - 1
    if order < 2 or 2**m != order:
        raise ValueError(f"modulation {name!r}: the order {order} must be a power of two")
    if family == "qam" and (m % 2 or not 2 <= m <= 8):
        raise ValueError(f"modulation {name!r}: QAM order must be 4, 16, 64 or 256")
    if family == "psk" and m > 4:
        raise ValueError(f"modulation {name!r}: PSK order must be 2, 4, 8 or 16")
    return ModulationSpec(family, m, f"{family}{order}")


def make_constellation(
    modulation: str,
    points: Sequence[complex] | np.ndarray | None = None,
    phase_offset: float = 0.0,
    precision: str | None = None,
    device: str | None = None,
) -> Constellation:
    """Build a unit-energy Sionna constellation from a modulation name.

    :param modulation: name (see module docstring) or ``"custom"``.
    :param points: for ``"custom"`` only: ``2**m`` complex points, label =
        index; they are centred and normalised to unit average energy.
    :param phase_offset: rotation of PSK constellations in radians.
    :output: :class:`sionna.phy.mapping.Constellation`.

    >>> make_constellation("psk8").num_bits_per_symbol
    3
    """
    if isinstance(modulation, str) and modulation.lower() == "custom":
        if points is None:
            raise ValueError("modulation='custom' needs points=[...] (2**m complex values)")
        pts = np.asarray(points, dtype=np.complex128).reshape(-1)
        m = pts.size.bit_length() - 1
        if pts.size < 2 or 2**m != pts.size:
            raise ValueError(
                f"points: a custom constellation needs 2**m points, got {pts.size}"
            )
        if len(np.unique(np.round(pts, 12))) != pts.size:
            raise ValueError("points: custom constellation points must be distinct")
        return Constellation("custom", m, points=pts, normalize=True, center=True,
                             precision=precision, device=device)
    if points is not None:
        raise ValueError(f"points is only allowed with modulation='custom', not {modulation!r}")
    spec = parse_modulation(modulation)
    if spec.family == "qam":
        return Constellation("qam", spec.bits_per_symbol, precision=precision, device=device)
    if spec.family == "pam":
        return Constellation("pam", spec.bits_per_symbol, precision=precision, device=device)
    pts = psk_points(spec.bits_per_symbol, phase_offset)
    return Constellation("custom", spec.bits_per_symbol, points=pts,
                         precision=precision, device=device)


def bits_per_symbol(modulation: str, points: Sequence[complex] | np.ndarray | None = None) -> int:
    """Bits per symbol of a modulation name (or of custom points)."""
    if isinstance(modulation, str) and modulation.lower() == "custom":
        return int(np.asarray(points).size).bit_length() - 1
    return parse_modulation(modulation).bits_per_symbol
