"""A link transmits every stream of a payload through its PHY profile.

All streams bound to the same profile, for all images of the batch, go
through **one** chain call (one LDPC encoder/decoder call for digital
profiles). The link returns a
:class:`~semlink.semantic.payload.ReceivedPayload` with a per-stream,
per-image :class:`~semlink.semantic.payload.StreamReport`; the channel uses
of an image are the exact sum over its streams.

**Per-image randomness.** The noise and fading of image ``i`` on stream
``s`` of profile ``p`` are drawn by the counter-based generator
(:mod:`semlink.phy.counter_rng`) keyed with the item seed
``derive_item_seeds(derive_seed(seed, p, s), [i])`` (and the ``coherence:
item`` coefficient, shared by all streams of the image on ``p``, with
``derive_item_seeds(derive_seed(seed, p), [i])``), where ``seed`` is the link's
seed (a sweep sets it per point from the run seed, channel and SNR point) and
``i`` the image's index in the dataset. So an image's received streams are a
function of (seed, channel, SNR point, image index, stream, symbol index)
only: identical for any batch size, and the same integers on the CPU and on
CUDA. One blake2b hash per (profile, stream) and one vectorised integer mix
per call give every item's seed.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from semlink.phy import AnalogChain, DigitalChain
from semlink.phy.channels import ChannelSpec, noise_generator_of
from semlink.phy.channels.draws import derive_item_seeds, derive_seed
from semlink.phy.counter_rng import NAME as NOISE_GENERATOR
from semlink.semantic.payload import Payload, ReceivedPayload, Stream, StreamReport

from .profiles import build_chain

if TYPE_CHECKING:
    from .scenario import Scenario


class Link:
    """Streams -> PHY profiles -> received streams + reports.

    :param profiles: profile name -> profile dict (see :mod:`semlink.links.profiles`).
    :param channel: the channel of profiles that do not pin their own
        (name, dict or :class:`~semlink.phy.channels.Channel` spec).
    :param seed: base seed; profile ``p`` gets ``seed + crc32(p)`` so streams on
        different profiles see independent noise.
    :param device, precision: as for the chains.
    """

    def __init__(self, profiles: dict[str, dict], channel: ChannelSpec = "awgn", seed: int = 0,
                 device: str | None = None, precision: str | None = None) -> None:
        self.profiles = profiles
        self.channel = channel
        self.device = device
        self.precision = precision
        self._chains: dict[str, DigitalChain | AnalogChain] = {}
        self.seed = int(seed)
        self._next_image = 0

    def chain(self, profile: str) -> DigitalChain | AnalogChain:
        """The (cached) chain of ``profile``."""
        if profile not in self.profiles:
            raise KeyError(f"unknown PHY profile {profile!r}; defined: {sorted(self.profiles)}")
        if profile not in self._chains:
            self._chains[profile] = build_chain(self.profiles[profile], self.channel,
                                                self._profile_seed(profile), self.device,
                                                self.precision)
        return self._chains[profile]

    def _profile_seed(self, profile: str) -> int:
        return (self.seed + zlib.crc32(profile.encode())) % 2**62

    def reseed(self, seed: int) -> None:
        """Set the seed of all per-image draws and restart the image count at 0.

        A sweep calls this once per point; the images of the following
        :meth:`transmit` calls are then numbered 0, 1, 2, ... in order, unless
        the calls pass ``image_indices``.
        """
        self.seed = int(seed)
        self._next_image = 0
        for name, chain in self._chains.items():
            chain.channel.reseed(self._profile_seed(name))

    def transmit(self, payload: Payload, snr_db: float,
                 image_indices: list[int] | None = None) -> ReceivedPayload:
        """Send every stream at Es/N0 = ``snr_db`` [dB] per channel use.

        :param payload: the streams of a batch of images.
        :param snr_db: Es/N0 [dB] per transmitted complex symbol.
        :param image_indices: the dataset index of each image of the batch (its
            noise and fading depend on it, not on the batch). Default: images
            are numbered consecutively from 0 since the last :meth:`reseed`
            (the sweep's order), so a sweep that sends its images in dataset
            order needs not pass them.
        """
        payload.check()
        n = payload.num_images
        if image_indices is None:
            image_indices = list(range(self._next_image, self._next_image + n))
        image_indices = [int(i) for i in image_indices]
        if len(image_indices) != n:
            raise ValueError(f"image_indices must have one index per image ({n}), "
                             f"got {len(image_indices)}")
        self._next_image = max(self._next_image, max(image_indices, default=-1) + 1)
        by_profile: dict[str, list[str]] = {}
        for name, stream in payload.streams.items():
            by_profile.setdefault(stream.profile, []).append(name)
        received, reports = {}, {}
        for profile, names in by_profile.items():
            chain = self.chain(profile)
            kind = "analog" if isinstance(chain, AnalogChain) else "digital"
            for name in names:
                if payload.streams[name].kind != kind:
                    raise ValueError(f"stream {name!r} is {payload.streams[name].kind} but profile "
                                     f"{profile!r} is {kind}")
            flat = [d for name in names for d in payload.streams[name].data]
            draw = np.concatenate([derive_item_seeds(derive_seed(self.seed, profile, name),
                                                     image_indices) for name in names])
            group = np.tile(derive_item_seeds(derive_seed(self.seed, profile), image_indices),
                            len(names))
            rx, rep = chain.transmit(flat, snr_db=snr_db, draw_seeds=draw, group_seeds=group)
            for j, name in enumerate(names):
                sl = slice(j * n, (j + 1) * n)
                received[name] = Stream(kind, rx[sl], profile)
                reports[name] = _stream_report(kind, profile, rep, sl, chain)
        return ReceivedPayload(received, payload.side_info, reports, float(snr_db))


def noise_generator_label(scenario: Scenario) -> str:
    """What draws the noise of a scenario's channels, for the results header:
    ``"counter-hash-v2"``, or the sorted names joined by commas when a plug-in
    channel without counter draws (``"torch-per-item"``) takes part.

    :param scenario: a :class:`~semlink.links.scenario.Scenario` (its channel
        axis and the channels pinned by profiles).
    """
    specs = [c.spec for c in scenario.channels]
    specs += [p["channel"] for p in scenario.profiles.values() if "channel" in p]
    return ",".join(sorted({noise_generator_of(spec) for spec in specs} or {NOISE_GENERATOR}))


def _stream_report(kind: str, profile: str, rep: Any, sl: slice, chain: Any) -> StreamReport:
    """One stream's slice ``sl`` of a chain's report (a DigitalReport or an AnalogReport)."""
    if kind == "analog":
        zeros = np.zeros(sl.stop - sl.start, dtype=np.int64)
        nan = np.full(len(zeros), np.nan)
        return StreamReport(kind, profile, rep.channel_uses[sl].copy(), zeros, zeros, zeros,
                            zeros, zeros, [np.zeros(0, bool)] * len(zeros),
                            snr_db=rep.snr_db[sl].copy(), ebno_db=nan, decoder_iterations=nan)
    return StreamReport(kind, profile, rep.channel_uses[sl].copy(), rep.info_bits[sl].copy(),
                        rep.bit_errors[sl].copy(), rep.blocks[sl].copy(),
                        rep.block_errors[sl].copy(), rep.crc_failures[sl].copy(),
                        rep.block_failed[sl], chain.config.k_info,
                        snr_db=rep.snr_db[sl].copy(), ebno_db=rep.ebno_db[sl].copy(),
                        decoder_iterations=rep.decoder_iterations[sl].copy())
