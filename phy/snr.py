r"""SNR conventions: Es/N0 (``snr_db``) and Eb/N0 (``ebno_db``), in one place.

All semlink constellations have unit average energy per complex symbol,
``Es = 1``. The channel adds complex Gaussian noise of variance ``no`` per
complex symbol (``no/2`` per real dimension), so

.. math::

    \mathrm{SNR} = E_s/N_0 = 1/n_o, \qquad n_o = 10^{-\mathrm{snr\_db}/10}.

``snr_db`` is the Es/N0 per *transmitted* complex channel symbol (data or
pilot), the x-axis of the semantic-communication papers.

Eb/N0 charges the energy of every transmitted symbol, pilots included, to the
information bits. With code rate :math:`r = k/n` (LDPC ``k`` includes the
per-block CRC, as in Sionna's ``ebnodb2no``; ``r = 1`` uncoded),
:math:`m` bits per symbol and a pilot overhead
:math:`\eta = N_\text{data}/(N_\text{data}+N_\text{pilot})`,

.. math::

    E_b/N_0 = \frac{E_s/N_0}{r\, m\, \eta}
    \quad\Longleftrightarrow\quad
    \mathrm{snr\_db} = \mathrm{ebno\_db} + 10\log_{10}(r\, m\, \eta).

The digital chain uses the exact form: with ``k`` code input bits per block
sent in ``N_sym`` data symbols (``ceil(n/m)``; a codeword whose length is
not a multiple of ``m`` is zero-padded, and that padding is reported) plus
``N_pilot`` pilots,

.. math::

    \mathrm{snr\_db} = \mathrm{ebno\_db} + 10\log_{10}\frac{k}{N_\text{sym} + N_\text{pilot}},

which equals the formula above when ``m`` divides ``n``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import overload

import numpy as np
import torch

#: an SNR in dB: one number, or one per item (a sequence, NumPy array or tensor)
DbLike = float | Sequence[float] | np.ndarray | torch.Tensor


def _check_finite(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number in dB, got {value!r}") from exc
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def spectral_efficiency(coderate: float, bits_per_symbol: int, pilot_fraction: float = 0.0) -> float:
    """Information bits per transmitted complex symbol, ``r * m * eta``.

    :param coderate: code rate ``k/n`` in (0, 1].
    :param bits_per_symbol: bits per constellation point ``m``.
    :param pilot_fraction: fraction of transmitted symbols that are pilots,
        ``N_pilot / (N_data + N_pilot)`` in [0, 1).
    """
    if not 0 < coderate <= 1:
        raise ValueError(f"coderate must be in (0, 1], got {coderate!r}")
    if bits_per_symbol < 1:
        raise ValueError(f"bits_per_symbol must be >= 1, got {bits_per_symbol!r}")
    if not 0 <= pilot_fraction < 1:
        raise ValueError(f"pilot_fraction must be in [0, 1), got {pilot_fraction!r}")
    return coderate * bits_per_symbol * (1.0 - pilot_fraction)


def ebno_db_to_snr_db(
    ebno_db: float, coderate: float, bits_per_symbol: int, pilot_fraction: float = 0.0
) -> float:
    """Eb/N0 [dB] -> Es/N0 [dB] per transmitted complex symbol."""
    ebno_db = _check_finite("ebno_db", ebno_db)
    return ebno_db + 10.0 * math.log10(spectral_efficiency(coderate, bits_per_symbol, pilot_fraction))


def snr_db_to_ebno_db(
    snr_db: float, coderate: float, bits_per_symbol: int, pilot_fraction: float = 0.0
) -> float:
    """Es/N0 [dB] per transmitted complex symbol -> Eb/N0 [dB]."""
    snr_db = _check_finite("snr_db", snr_db)
    return snr_db - 10.0 * math.log10(spectral_efficiency(coderate, bits_per_symbol, pilot_fraction))


@overload
def snr_db_to_no(snr_db: float) -> float: ...
@overload
def snr_db_to_no(snr_db: torch.Tensor) -> torch.Tensor: ...
@overload
def snr_db_to_no(snr_db: np.ndarray | Sequence[float]) -> np.ndarray | float: ...
def snr_db_to_no(snr_db: DbLike) -> float | np.ndarray | torch.Tensor:
    """Es/N0 [dB] -> noise variance ``no`` per complex symbol (``Es = 1``).

    Accepts a scalar or an array (numpy or torch); returns the same kind.
    """
    if isinstance(snr_db, torch.Tensor):
        return 10.0 ** (-snr_db / 10.0)
    arr = np.asarray(snr_db, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"snr_db must be finite, got {snr_db!r}")
    out = 10.0 ** (-arr / 10.0)
    return float(out) if out.ndim == 0 else out


def no_to_snr_db(no: float) -> float:
    """Noise variance per complex symbol -> Es/N0 [dB] (``Es = 1``)."""
    if no <= 0:
        raise ValueError(f"no must be > 0, got {no!r}")
    return -10.0 * math.log10(no)


def db_range(start: float, stop: float, step: float) -> list[float]:
    """``start, start+step, ...`` up to and including ``stop`` (within 1e-9 of a step).

    :raises ValueError: ``step`` is 0 or does not lead from ``start`` to ``stop``.
    """
    if step == 0:
        raise ValueError("the step must not be 0")
    if (stop - start) / step < 0:
        raise ValueError(f"step {step:g} does not go from {start:g} to {stop:g}; "
                         f"use step {-step:g} (a negative step runs downwards)")
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    return [round(start + i * step, 10) for i in range(count)]
