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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .channels import Channel, ChannelSpec, make_channel
from .channels.draws import DrawPlan, item_draw_seeds
from .counter_rng import MAX_INDEX
from .sionna_config import resolve_device, resolve_precision
from .snr import DbLike, snr_db_to_no


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


def item_power(batch: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean ``|x|^2`` of each row's first ``lengths[i]`` symbols (the rest are zeros).

    ``re^2 + im^2`` summed by halving (pairwise, zero-padded to a power of two):
    with exact zeros after an item's symbols this equals the same tree over the
    item alone, so the power, like the noise, does not depend on the batch
    (nor on the device: only elementwise IEEE operations).

    :input batch: [num, width] complex, zero after each row's length.
    :input lengths: [num] int64.
    :output power: [num] real.
    """
    v = torch.view_as_real(batch)
    v = v[..., 0] * v[..., 0] + v[..., 1] * v[..., 1]
    width = v.shape[1]
    size = 1 << max(0, (width - 1).bit_length()) if width else 1
    if size != width:
        v = torch.nn.functional.pad(v, (0, size - width))
    while v.shape[1] > 1:
        half = v.shape[1] // 2
        v = v[:, :half] + v[:, half:]
    return v[:, 0] / lengths.clamp_min(1).to(v.dtype)


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

    def __init__(self, channel: ChannelSpec = "awgn", power: float = 1.0, normalize: str = "per_item",
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

    def transmit(self, symbols: Sequence[np.ndarray | torch.Tensor], snr_db: DbLike,
                 draw_seeds: Sequence[int] | np.ndarray | None = None,
                 group_seeds: Sequence[int] | np.ndarray | None = None,
                 ) -> tuple[list[torch.Tensor], AnalogReport]:
        """Send each item's symbols at Es/N0 = ``snr_db`` (scalar or one per item).

        :param draw_seeds, group_seeds: per-item seeds of noise/fading and of
            the shared ``coherence: item`` coefficient, as in
            :meth:`~semlink.phy.digital.DigitalChain.transmit`.
        """

        if not isinstance(symbols, (list, tuple)):
            raise TypeError("symbols must be a list of 1-D complex tensors (one per item)")
        cdtype = self.channel.cdtype
        parts, lengths = [], np.empty(len(symbols), dtype=np.int64)
        for i, s in enumerate(symbols):
            t = s if isinstance(s, torch.Tensor) else torch.from_numpy(np.asarray(s))
            if t.dim() != 1:
                raise ValueError(f"symbols[{i}] must be 1-D, got shape {tuple(t.shape)}")
            parts.append(t)
            lengths[i] = t.shape[0]
        num = len(parts)
        snr = np.broadcast_to(np.asarray(snr_db, dtype=float), (num,)).copy()
        if not np.all(np.isfinite(snr)):
            raise ValueError(f"snr_db must be finite, got {snr_db!r}")
        if num and int(lengths.max()) > MAX_INDEX:
            raise ValueError(f"symbols: an item of {int(lengths.max())} symbols exceeds the draw "
                             f"counter range ({MAX_INDEX}); split it")
        dev = self.device
        if len({p.device for p in parts}) > 1:
            parts = [p.to(dev) for p in parts]
        flat = (torch.cat([p.to(cdtype) for p in parts]) if num else
                torch.zeros(0, dtype=cdtype, device=dev)).to(dev)                 # one conversion
        width, total = (int(lengths.max()) if num else 0), int(lengths.sum())
        lengths_t = torch.from_numpy(lengths).to(dev)
        item = torch.repeat_interleave(torch.arange(num, device=dev), lengths_t, output_size=total)
        start = torch.cumsum(lengths_t, 0) - lengths_t
        positions = item * width + torch.arange(total, device=dev) - start[item]
        batch = torch.zeros(num * width, dtype=cdtype, device=dev)
        batch[positions] = flat
        batch = batch.view(num, width)
        power = item_power(batch, lengths_t)                            # [num], batch-independent
        if self.normalize == "per_item" and num:
            empty = (power == 0) & (lengths_t > 0)
            if bool(empty.any()):                                       # one check
                i = int(torch.nonzero(empty)[0, 0])
                raise ValueError(f"symbols[{i}] are all zero; cannot normalise power")
            scale = torch.sqrt(self.power / power.clamp_min(torch.finfo(power.dtype).tiny))
            batch = torch.view_as_complex(torch.view_as_real(batch) * scale.view(-1, 1, 1))
        no = torch.as_tensor(snr_db_to_no(snr) * self.power, dtype=self.channel.dtype, device=dev)
        if num and width:
            seeds, groups = item_draw_seeds(self.channel, num, draw_seeds, group_seeds)
            plan = DrawPlan(torch.ones(num, dtype=torch.int64, device=dev), lengths_t, seeds,
                            groups, num)
            y, no_eff = self.channel.transmit_items(batch, no, plan)
        else:
            y, no_eff = batch, torch.zeros(batch.shape, device=dev)
        sizes = lengths.tolist()
        received = list(torch.split(y.reshape(-1)[positions], sizes))          # one split
        no_eff_host = no_eff.reshape(-1)[positions].cpu().numpy()
        report = AnalogReport(
            symbols=lengths,
            channel_uses=np.array([self.channel_uses_for(n) for n in sizes], dtype=np.int64),
            input_power=power.cpu().numpy().astype(np.float64), snr_db=snr,
            no_eff=np.split(no_eff_host, np.cumsum(lengths)[:-1]) if num else [])
        return received, report

    @property
    def noise_generator(self) -> str:
        """Scheme that draws this chain's noise (``counter-hash-v2`` or ``torch-per-item``)."""
        return self.channel.noise_generator
