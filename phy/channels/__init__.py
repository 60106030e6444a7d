"""Channels and their registry.

Built-in names: ``awgn``, ``rayleigh``, ``rician``, ``flat_fading``. Your own
channel is usable by name as ``"your_module:YourChannel"`` or through an entry
point in group ``semlink.channels`` (see ``docs/custom_channels.md``).
"""

from __future__ import annotations

from typing import Any

from semlink.registry import Registry

from ..counter_rng import LEGACY_NAME, NAME as COUNTER_NAME
from .awgn import AWGNChannel
from .base import Channel
from .fading import FlatFadingChannel, RayleighChannel, RicianChannel

CHANNELS: Registry[Channel] = Registry("channel", group="semlink.channels")
CHANNELS.add("awgn", AWGNChannel, "complex AWGN, y = x + n")
CHANNELS.add("rayleigh", RayleighChannel,
             "flat Rayleigh fading; coherence symbols|block|item, csi perfect|ls|none, num_pilots")
CHANNELS.add("rician", RicianChannel,
             "flat Rician fading with k_factor; coherence, csi, num_pilots")
CHANNELS.add("flat_fading", FlatFadingChannel, "flat fading, fading=rayleigh|rician, all options")


#: a channel as chains take it: a registered name, ``{"name": ..., **params}`` or an instance
ChannelSpec = str | dict[str, Any] | Channel


def make_channel(spec: Any, seed: int | None = None, precision: str | None = None,
                 device: str | None = None) -> Channel:
    """Build a channel from a name, a ``{"name": ..., **params}`` dict or an instance.

    :param spec: ``"awgn"``, ``"rayleigh"``, ``"my_mod:MyChannel"``,
        ``{"name": "rayleigh", "coherence": {"symbols": 8}, "csi": "ls"}``, or a
        :class:`Channel` instance (returned unchanged).
    """
    if isinstance(spec, Channel):
        return spec
    if isinstance(spec, str):
        name, params = spec, {}
    elif isinstance(spec, dict):
        if "name" not in spec:
            raise ValueError(f"channel spec {spec!r} needs a 'name' key, e.g. {{'name': 'awgn'}}")
        params = {k: v for k, v in spec.items() if k != "name"}
        name = spec["name"]
    else:
        raise TypeError(
            f"channel must be a name, a dict with 'name', or a Channel instance, got {spec!r}"
        )
    factory = CHANNELS.get(name)
    params.setdefault("seed", seed)
    if precision is not None:
        params.setdefault("precision", precision)
    if device is not None:
        params.setdefault("device", device)
    try:
        channel = factory(**params)
    except TypeError as exc:
        raise TypeError(f"channel {name!r}: bad parameters {params!r}: {exc}") from exc
    if not isinstance(channel, Channel):
        raise TypeError(
            f"channel {name!r} built a {type(channel).__name__}, which is not a "
            "semlink.phy.channels.Channel; subclass Channel and implement call(x, no) -> (y, no_eff)"
        )
    return channel


def noise_generator_of(spec: Any) -> str:
    """The scheme that draws a channel's noise in chains, without building it:
    ``"counter-hash-v2"`` (``counter_draws = True``) or ``"torch-per-item"``.

    :param spec: as for :func:`make_channel`.
    """
    if isinstance(spec, Channel):
        return spec.noise_generator
    name = spec if isinstance(spec, str) else spec.get("name") if isinstance(spec, dict) else None
    if name is None:
        raise TypeError(f"channel must be a name, a dict with 'name', or a Channel instance, "
                        f"got {spec!r}")
    factory = CHANNELS.get(name)
    counter = getattr(factory, "counter_draws", False)
    return COUNTER_NAME if counter else LEGACY_NAME


__all__ = ["CHANNELS", "Channel", "AWGNChannel", "FlatFadingChannel", "RayleighChannel",
           "RicianChannel", "make_channel", "noise_generator_of"]
