"""PHY profiles: named physical-layer configurations that streams ride on.

A digital profile fixes the channel code and modulation; an analog profile
the power. The **channel** (and with it the CSI mode) is normally the sweep's
channel axis; a profile may pin its own channel (``channel: {...}``), e.g. to
model a separate orthogonal link.

.. code-block:: yaml

    profiles:
      ldpc_half_8psk: {kind: digital, code: ldpc5g, rate: 0.5, modulation: psk8}
      uncoded_qpsk:   {kind: digital, code: none, k: 1024, modulation: qpsk, crc: CRC16}
      analog:         {kind: analog, power: 1.0}

Digital profiles also take ``max_iter`` (LDPC iterations at most, default
20), ``early_termination`` (stop converged code words, default true),
``interleaver`` (``auto`` | ``random`` | ``5g`` | ``none``; default ``auto``:
random on fading channels), ``demapping``, ``cn_update`` and ``decoder``
(``sionna``, default, or ``ldpc``: the compiled CPU decoder of the optional
``ldpc`` package, see :mod:`semlink.phy.ldpc_compiled`; ``triton``: the GPU
decoder of :mod:`semlink.phy.ldpc_triton`, with the labelled variants
``triton-layered``, ``triton-fp16``, ``triton-bf16``). ``num_iter`` is
the deprecated spelling of ``max_iter``.
"""

from __future__ import annotations

from typing import Any

from semlink.phy import AnalogChain, DigitalChain

#: a profile key -> the type(s) its value may have
KeyTypes = dict[str, type | tuple[type, ...]]
DIGITAL_KEYS: KeyTypes = {"kind": str, "code": str, "k": int, "n": int, "rate": (int, float),
                          "crc": (str, type(None)), "modulation": str, "points": list,
                          "demapping": str, "max_iter": int, "early_termination": bool,
                          "interleaver": str, "num_iter": int, "cn_update": str, "decoder": str,
                          "channel": (str, dict)}
ANALOG_KEYS: KeyTypes = {"kind": str, "power": (int, float), "normalize": str,
                         "channel": (str, dict)}
DEFAULT_PROFILES = {
    "default": {"kind": "digital", "code": "ldpc5g", "rate": 0.5, "modulation": "qpsk"},
    "analog": {"kind": "analog", "power": 1.0},
}


def check_profile(name: str, spec: Any, where: str = "profiles") -> dict:
    """Validate one profile dict; errors name ``where.name.key``."""
    path = f"{where}.{name}"
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: a profile must be a mapping, got {spec!r}")
    kind = spec.get("kind", "digital")
    if kind not in ("digital", "analog"):
        raise ValueError(f"{path}.kind: must be 'digital' or 'analog', got {kind!r}")
    allowed = DIGITAL_KEYS if kind == "digital" else ANALOG_KEYS
    for key, value in spec.items():
        if key not in allowed:
            raise ValueError(f"{path}.{key}: unknown key for a {kind} profile; allowed: "
                             f"{', '.join(sorted(allowed))}")
        if (isinstance(value, bool) and allowed[key] is not bool) \
                or not isinstance(value, allowed[key]):
            want = allowed[key]
            types = want if isinstance(want, tuple) else (want,)
            raise ValueError(f"{path}.{key}: expected {' or '.join(t.__name__ for t in types)}, "
                             f"got {value!r}")
    if kind == "digital" and "num_iter" in spec and "max_iter" in spec:
        raise ValueError(f"{path}: give max_iter only (num_iter is its deprecated spelling)")
    # the Triton decoders run on a GPU: validate on the default device (cuda:0 when present)
    triton = kind == "digital" and str(spec.get("decoder", "")).startswith("triton")
    try:
        build_chain(spec, channel="awgn", seed=0, device=None if triton else "cpu")
    except (ValueError, TypeError, KeyError) as exc:
        msg = exc.args[0] if exc.args else exc
        raise ValueError(f"{path}: {msg}") from None
    return {"kind": kind, **spec}


def resolved_profile(spec: dict) -> dict:
    """A profile with the defaults that change results filled in, for results files.

    Today: ``decoder`` of 5G LDPC digital profiles (``"sionna"`` when not given),
    so a results file says which LDPC decoder ran.
    """
    out = dict(spec)
    if out.get("kind", "digital") == "digital" and out.get("code", "ldpc5g") == "ldpc5g":
        out.setdefault("decoder", "sionna")
    return out


def build_chain(spec: dict, channel, seed: int | None, device: str | None,
                precision: str | None = None):
    """Build the :class:`DigitalChain` or :class:`AnalogChain` of a profile."""
    params = {k: v for k, v in spec.items() if k not in ("kind", "channel")}
    channel = spec.get("channel", channel)
    if spec.get("kind", "digital") == "analog":
        return AnalogChain(channel=channel, seed=seed, device=device, precision=precision, **params)
    return DigitalChain(channel=channel, seed=seed, device=device, precision=precision, **params)
