"""Analog chain: complex symbols per item -> power normalisation -> channel -> equalisation.

Used by analog (JSCC-style) codecs. Each item's symbols are scaled to the
average power ``power`` (per complex symbol, ``Es = power``; the SNR is Es/N0
with ``Es = 1`` when ``power = 1``), sent through the channel (which
equalises, unless its ``csi`` is ``"none"``; see :mod:`semlink.phy.channels`)
and returned with the effective noise variance per symbol. Channel uses =
symbols + pilots, exactly. Each item draws its noise and fading from its own
seed (``draw_seeds``), so its received symbols do not depend on the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .channels import Channel, make_channel
from .channels.draws import DrawPlan, item_draw_seeds
from .sionna_config import resolve_device, resolve_precision
from .snr import snr_db_to_no


@dataclass
class AnalogReport:
    """Per-item report of :meth:`AnalogChain.transmit` (numpy arrays, ``[num_items]``).

    :param symbols: data symbols sent.
    :param channel_uses: symbols + pilot symbols.
    :param input_power: mean |x|^2 before normalisation.
    :param snr_db: Es/N0 [dB].
    :param no_eff: list of [symbols] arrays, effective noise variance after equalisation.
    """

    symbols: np.ndarray
    channel_uses: np.ndarray
    input_power: np.ndarray
    snr_db: np.ndarray
    no_eff: list


class AnalogChain:
    """Power-normalised analog transmission of complex symbols per item.

    :param channel: channel name, dict or :class:`~semlink.phy.channels.Channel`.
    :param power: average power per complex symbol after normalisation.
    :param normalize: ``"per_item"`` (each item meets the power exactly) or
        ``"none"`` (the codec already did it; the power is only reported).
    :param seed, precision, device: as in :class:`~semlink.phy.digital.DigitalChain`.

    :input symbols: list of 1-D complex tensors (one per item, any lengths).
    :output received: list of 1-D complex tensors, equalised, same lengths.
    """

    def __init__(self, channel="awgn", power: float = 1.0, normalize: str = "per_item",
                 seed: int | None = None, precision: str | None = None,
                 device: str | None = None) -> None:
        self.precision = resolve_precision(precision)
        self.device = resolve_device(device)
        if not (isinstance(power, (int, float)) and power > 0):
            raise ValueError(f"power must be a positive number, got {power!r}")
        if normalize not in ("per_item", "none"):
            raise ValueError(f"normalize must be 'per_item' or 'none', got {normalize!r}")
        self.power = float(power)
        self.normalize = normalize
        self.channel: Channel = make_channel(channel, seed=seed, precision=self.precision,
                                             device=self.device)
        if getattr(self.channel, "coherence_unit", None) == "block":
            raise ValueError("channel coherence: block means one coefficient per code block, and "
                             "an analog stream has no code blocks; use coherence: item (one per "
                             "image) or {symbols: L}")

    def channel_uses_for(self, num_symbols: int) -> int:
        """Exact channel uses (symbols + pilots) for ``num_symbols`` data symbols."""
        return int(num_symbols) + self.channel.num_pilot_symbols(int(num_symbols))

    def transmit(self, symbols, snr_db, draw_seeds=None, group_seeds=None):
        """Send each item's symbols at Es/N0 = ``snr_db`` (scalar or one per item).

        :param draw_seeds, group_seeds: per-item seeds of noise/fading and of
            the shared ``coherence: item`` coefficient, as in
            :meth:`~semlink.phy.digital.DigitalChain.transmit`.
        """

        if not isinstance(symbols, (list, tuple)):
            raise TypeError("symbols must be a list of 1-D complex tensors (one per item)")
        cdtype = self.channel.cdtype
        xs = []
        for i, s in enumerate(symbols):
            t = torch.as_tensor(s, device=self.device)
            if t.dim() != 1:
                raise ValueError(f"symbols[{i}] must be 1-D, got shape {tuple(t.shape)}")
            xs.append(t.to(cdtype))
        lengths = np.array([x.numel() for x in xs], dtype=np.int64)
        snr = np.broadcast_to(np.asarray(snr_db, dtype=float), (len(xs),)).copy()
        if not np.all(np.isfinite(snr)):
            raise ValueError(f"snr_db must be finite, got {snr_db!r}")
        width = int(lengths.max()) if len(xs) else 0
        batch = torch.zeros(len(xs), width, dtype=cdtype, device=self.device)
        power_in = np.zeros(len(xs))
        for i, x in enumerate(xs):
            if x.numel():
                p = x.abs().square().mean()
                power_in[i] = float(p)
                if self.normalize == "per_item":
                    if float(p) == 0.0:
                        raise ValueError(f"symbols[{i}] are all zero; cannot normalise power")
                    x = x * torch.sqrt(self.power / p)
                batch[i, : x.numel()] = x
        no = torch.as_tensor(snr_db_to_no(snr) * self.power, dtype=self.channel.dtype,
                             device=self.device)
        if len(xs) and width:
            seeds, groups = item_draw_seeds(self.channel, len(xs), draw_seeds, group_seeds)
            plan = DrawPlan.build(np.ones(len(xs)), lengths, seeds, groups)
            y, no_eff = self.channel.transmit_items(batch, no, plan)
        else:
            y, no_eff = batch, torch.zeros(batch.shape, device=self.device)
        received = [y[i, : lengths[i]] for i in range(len(xs))]
        report = AnalogReport(
            symbols=lengths,
            channel_uses=np.array([self.channel_uses_for(n) for n in lengths], dtype=np.int64),
            input_power=power_in, snr_db=snr,
            no_eff=[no_eff[i, : lengths[i]].cpu().numpy() for i in range(len(xs))])
        return received, report
