"""Profile grids: sweep the PHY of each stream the way ``grid`` sweeps codec parameters.

A codec entry of a scenario may grid over the keys of its streams' PHY
profiles (code rate -- any valid 5G LDPC rate or ``uncoded`` --, modulation,
``k``, ``max_iter``, ``interleaver`` when the profile has such a key, ...), per
stream:

.. code-block:: yaml

    codecs:
      - name: jpeg2000
        grid: {symbols_per_image: [3072, 6144]}        # budget axis (codec parameter)
        profiles: {bits: ldpc}                          # base profile of the stream
        profile_grid:
          bits: {rate: [1/3, 1/2, 2/3, 5/6, uncoded], modulation: [qpsk, psk8, qam16]}

Every combination becomes a **generated profile** derived from the stream's
base profile (the one the entry binds it to in ``profiles:``, else
``default`` for a digital and ``analog`` for an analog stream). Its name
spells the derivation, ``<base>+<key>=<value>,...`` (e.g.
``ldpc+rate=1/3,modulation=qpsk``), so a results file alone resolves it
(:func:`resolve_generated_profile`); its channel noise seed follows from the
name as for any profile (common random numbers for every codec on it).
Labels name the setting: ``jpeg2000[symbols_per_image=3072] | bits: ldpc 1/3 qpsk``.

Rates: a number in (0, 1], a fraction string ``"1/3"`` (YAML reads ``1/3``
as that string) or ``uncoded`` (``code: none``). Gridding ``rate`` drops a
base ``n``; ``uncoded`` drops ``rate`` and ``n``. Every value, and then every
combination, is validated by building its chain before the run; errors name
the key path (``codecs[0].profile_grid.bits.rate[2]: ...``).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import yaml

from semlink.phy.coding import DEFAULT_K

from .profiles import ANALOG_KEYS, DIGITAL_KEYS, check_profile

UNCODED = ("uncoded", "none")
_NOT_GRIDDABLE = {"kind", "channel", "points"}
SEPARATOR = "+"


class ProfileGridError(ValueError):
    """An invalid profile grid; the message starts with the key path."""


@dataclass(frozen=True)
class ProfileChoice:
    """One point of a codec entry's profile grid.

    :param profiles: stream -> (generated) profile name.
    :param label: label suffix, e.g. ``" | bits: ldpc 1/3 qpsk"`` (empty without a grid).
    :param settings: stream -> {key: value as written} (for tables and plans).
    """

    profiles: dict
    label: str
    settings: dict


def parse_rate(value: Any, path: str) -> float | str:
    """A code rate from a scenario: number in (0, 1], ``"a/b"`` or ``"uncoded"``.

    :returns: the rate as a float, or ``"uncoded"``.
    :raises ProfileGridError: naming ``path``.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text in UNCODED:
            return "uncoded"
        try:
            frac = Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise ProfileGridError(f"{path}: expected a code rate (0.5, '1/3') or 'uncoded', "
                                   f"got {value!r}") from None
        rate = float(frac)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        rate = float(value)
    else:
        raise ProfileGridError(f"{path}: expected a code rate (0.5, '1/3') or 'uncoded', "
                               f"got {value!r}")
    if not 0 < rate <= 1:
        raise ProfileGridError(f"{path}: a code rate must be in (0, 1], got {value!r}")
    return rate


def rate_text(rate: float) -> str:
    """``0.3333`` -> ``"1/3"``; rates that are no small fraction keep 4 digits."""
    frac = Fraction(rate).limit_denominator(16)
    if abs(float(frac) - rate) < 2e-3 and frac.denominator > 1:
        return f"{frac.numerator}/{frac.denominator}"
    return f"{rate:.4g}"


def _value_text(key: str, value: Any) -> str:
    if key == "rate" and isinstance(value, str):
        return value.strip().lower() if value.strip().lower() in UNCODED else value.strip()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _apply(base: dict, key: str, value: Any, path: str) -> dict:
    """``base`` with ``key`` set to ``value`` (rate handling as documented)."""
    spec = dict(base)
    if key == "rate":
        rate = parse_rate(value, path)
        spec.pop("n", None)
        if rate == "uncoded":
            spec.pop("rate", None)
            spec["code"] = "none"
        else:
            spec["rate"] = rate
            if spec.get("code") == "none":
                spec["code"] = "ldpc5g"
    elif key == "n":
        spec.pop("rate", None)
        spec[key] = value
    else:
        spec[key] = value
    return spec


def describe_profile(spec: dict) -> str:
    """Short human text of a profile: ``ldpc 1/3 qpsk``, ``uncoded qam16``, ``analog``."""
    if spec.get("kind", "digital") == "analog":
        power = spec.get("power", 1.0)
        return "analog" if power == 1.0 else f"analog power={power:g}"
    parts = []
    code = spec.get("code", "ldpc5g")
    if code == "none":
        parts.append("uncoded")
    else:
        parts.append("ldpc" if code == "ldpc5g" else code)
        if "rate" in spec:
            parts.append(rate_text(float(spec["rate"])))
        elif "k" in spec and "n" in spec:
            parts.append(rate_text(spec["k"] / spec["n"]))
        else:
            parts.append("1/2")
    if "k" in spec and spec["k"] != DEFAULT_K:
        parts.append(f"k={spec['k']}")
    parts.append(str(spec.get("modulation", "qpsk")))
    for key in sorted(spec):
        if key not in ("kind", "code", "rate", "k", "n", "modulation", "channel", "points", "crc"):
            parts.append(f"{key}={_value_text(key, spec[key])}")
    return " ".join(parts)


def generated_name(base_name: str, settings: dict) -> str:
    """Name of the profile derived from ``base_name`` with ``settings`` (key -> value)."""
    body = ",".join(f"{k}={_value_text(k, v)}" for k, v in settings.items())
    return f"{base_name}{SEPARATOR}{body}"


def resolve_generated_profile(name: str, profiles: dict) -> dict | None:
    """The spec of a generated profile name (see module doc), or `None` if ``name`` is not one.

    :param profiles: the named profiles of the scenario (defaults included).
    """
    if SEPARATOR not in name:
        return None
    base_name, body = name.split(SEPARATOR, 1)
    if base_name not in profiles:
        return None
    spec = dict(profiles[base_name])
    for item in body.split(","):
        key, _, text = item.partition("=")
        value = text if key == "rate" else yaml.safe_load(text)
        try:
            spec = _apply(spec, key, value, name)
        except ProfileGridError:
            return None
    return spec


def _stream_defaults(codec_name: str) -> dict:
    """stream -> kind of a codec class (its declared streams), or {} when unknown."""
    from semlink.semantic import CODECS

    try:
        factory = CODECS.get(codec_name)
    except (KeyError, ValueError, ImportError):
        return {}
    kinds = getattr(factory, "stream_kinds", None)
    return dict(kinds) if isinstance(kinds, dict) else {}


def expand_profile_grid(grid: Any, codec_name: str, bindings: dict, profiles: dict,
                        path: str) -> list[ProfileChoice]:
    """Expand one codec entry's ``profile_grid`` into choices; register generated profiles.

    :param grid: the entry's ``profile_grid`` value (`None`: no grid).
    :param codec_name: the codec (its declared streams are checked).
    :param bindings: the entry's ``profiles:`` (stream -> base profile name).
    :param profiles: the scenario's profiles (name -> validated spec); generated
        profiles are **added** to it.
    :param path: key path of ``profile_grid`` for errors.
    :returns: one :class:`ProfileChoice` per combination, streams in the order given,
        keys in the order given (last key varies fastest).
    """
    if grid is None or grid == {}:
        return [ProfileChoice({}, "", {})]
    if not isinstance(grid, dict):
        raise ProfileGridError(f"{path}: expected a mapping stream -> {{key: [values]}}, "
                               f"got {grid!r}")
    kinds = _stream_defaults(codec_name)
    per_stream = []
    for stream, keys in grid.items():
        spath = f"{path}.{stream}"
        if kinds and stream not in kinds:
            raise ProfileGridError(f"{spath}: codec {codec_name!r} has no stream {stream!r}; "
                                   f"its streams: {', '.join(sorted(kinds))}")
        base_name = bindings.get(stream) or ("analog" if kinds.get(stream) == "analog"
                                             else "default")
        if base_name not in profiles:
            raise ProfileGridError(f"{spath}: base profile {base_name!r} is not defined; "
                                   f"defined: {', '.join(sorted(profiles))}")
        base = profiles[base_name]
        per_stream.append((stream, base_name, base, _stream_combos(keys, base, spath)))
    choices = []
    for combo in itertools.product(*(s[3] for s in per_stream)):
        names, labels, settings = {}, [], {}
        for (stream, base_name, _base, _), (values, spec) in zip(per_stream, combo, strict=True):
            name = generated_name(base_name, values)
            profiles[name] = spec
            names[stream] = name
            settings[stream] = dict(values)
            labels.append(f"{stream}: {describe_profile(spec)}")
        choices.append(ProfileChoice(names, " | " + "; ".join(labels), settings))
    return choices


def _stream_combos(keys: Any, base: dict, path: str) -> list[tuple[dict, dict]]:
    """[(values as written, validated spec)] for one stream's grid."""
    if not isinstance(keys, dict) or not keys:
        raise ProfileGridError(f"{path}: expected a mapping profile key -> list of values, "
                               f"got {keys!r}")
    kind = base.get("kind", "digital")
    allowed = set(DIGITAL_KEYS if kind == "digital" else ANALOG_KEYS) - _NOT_GRIDDABLE
    checked: dict[str, dict] = {}

    def check(spec: dict, where: str, what: str) -> dict:
        key = json.dumps(spec, sort_keys=True, default=str)
        if key not in checked:
            try:
                checked[key] = check_profile("grid", spec, where="grid")
            except ValueError as exc:
                msg = str(exc).split(": ", 1)[-1]
                raise ProfileGridError(f"{where}: {what} is invalid: {msg}") from None
        return checked[key]

    for key, values in keys.items():
        kpath = f"{path}.{key}"
        if key not in allowed:
            raise ProfileGridError(f"{kpath}: not a griddable key of a {kind} profile; allowed: "
                                   f"{', '.join(sorted(allowed))}")
        if not isinstance(values, list) or not values:
            raise ProfileGridError(f"{kpath}: expected a non-empty list of values, got {values!r}")
        same = [json.dumps(_apply(base, key, v, f"{kpath}[{i}]"), sort_keys=True, default=str)
                for i, v in enumerate(values)]
        if len(set(same)) != len(same):
            raise ProfileGridError(f"{kpath}: values repeat: {values!r}")
        for i, value in enumerate(values):
            spec = _apply(base, key, value, f"{kpath}[{i}]")
            check(spec, f"{kpath}[{i}]", f"{key}={value!r}")
    out = []
    names = list(keys)
    for combo in itertools.product(*(keys[k] for k in names)):
        spec = dict(base)
        for key, value in zip(names, combo, strict=True):
            spec = _apply(spec, key, value, path)
        values = dict(zip(names, combo, strict=True))
        shown = ", ".join(f"{k}={_value_text(k, v)}" for k, v in values.items())
        out.append((values, check(spec, path, f"the combination {{{shown}}}")))
    return out
