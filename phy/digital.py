"""Digital chain: bitstreams -> CRC -> 5G LDPC -> mapper -> channel -> demapper -> decoder.

All code blocks of all items in a batch go through **one** CRC encoder, one
LDPC encoder, one channel call and one LDPC decoder call (this is what makes
it fast on a GPU). Variable-length bitstreams are padded per block, never per
item. The per-item :class:`DigitalReport` gives bit errors (genie, against
what was sent), failed code blocks (genie) and the receiver's view of them
(CRC failures), padding and exact channel uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from sionna.phy.fec.crc import CRCDecoder, CRCEncoder
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.mapping import Demapper, Mapper

from .channels import Channel, make_channel
from .coding import CodeConfig, as_bit_tensor, make_code_config, reassemble, segment
from .modulation import make_constellation
from .snr import snr_db_to_no
from .sionna_config import resolve_device, resolve_precision


@dataclass
class DigitalReport:
    """Per-item PHY report of one :meth:`DigitalChain.transmit` call.

    All arrays are numpy, shape ``[num_items]`` unless stated.

    :param info_bits: payload bits of each item.
    :param bit_errors: payload bits received wrongly (genie count).
    :param blocks: code blocks of each item.
    :param block_errors: blocks with any wrong payload/filler bit (genie).
    :param crc_failures: blocks whose CRC failed (what the receiver knows).
    :param padding_bits: filler bits (last block) + symbol padding of codewords.
    :param channel_uses: complex channel symbols sent, pilots included.
    :param block_failed: list of bool arrays, per item, one entry per block:
        the receiver's view (CRC failed; genie errors when there is no CRC).
    :param snr_db: Es/N0 [dB] per item.
    """

    info_bits: np.ndarray
    bit_errors: np.ndarray
    blocks: np.ndarray
    block_errors: np.ndarray
    crc_failures: np.ndarray
    padding_bits: np.ndarray
    channel_uses: np.ndarray
    block_failed: list
    snr_db: np.ndarray

    @property
    def ber(self) -> np.ndarray:
        """Per-item bit error rate (NaN for empty items)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.bit_errors / self.info_bits

    @property
    def bler(self) -> np.ndarray:
        """Per-item block error rate (genie; NaN for empty items)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.block_errors / self.blocks

    def failed_bit_mask(self, item: int, k_info: int) -> np.ndarray:
        """Bool mask over item ``item``'s payload bits lying in failed blocks."""
        mask = np.repeat(self.block_failed[item], k_info)
        return mask[: int(self.info_bits[item])]


class DigitalChain:
    """Coded (5G LDPC) or uncoded digital link for variable-length bitstreams.

    :param code: ``"ldpc5g"`` | ``"none"``.
    :param k, n, rate, crc: code parameters, see :func:`~semlink.phy.coding.make_code_config`.
    :param modulation: ``"bpsk"``, ``"qpsk"``, ``"psk8"``, ``"qam16"``, ..., or ``"custom"``.
    :param points: custom constellation points (``modulation="custom"``).
    :param channel: channel name, ``{"name": ..., **params}`` or a
        :class:`~semlink.phy.channels.Channel`.
    :param demapping: ``"app"`` | ``"maxlog"``.
    :param num_iter: LDPC belief-propagation iterations.
    :param cn_update: Sionna check-node rule (``"boxplus-phi"``, ``"boxplus"``,
        ``"minsum"``, ``"offset-minsum"``, ...).
    :param seed: seed of the channel's generator (`None`: from Sionna's config).
    :param precision, device: as in Sionna blocks.

    >>> chain = DigitalChain(k=512, n=1024, modulation="psk8", channel="awgn", seed=0)
    >>> rx, rep = chain.transmit([np.ones(1000, np.uint8)], snr_db=10.0)
    >>> int(rep.bit_errors[0]), int(rep.channel_uses[0])
    (0, 1026)
    """

    def __init__(self, code: str = "ldpc5g", k: int | None = None, n: int | None = None,
                 rate: float | None = None, crc: str | None = "auto",
                 modulation: str = "qpsk", points=None, channel="awgn",
                 demapping: str = "app", num_iter: int = 20, cn_update: str = "boxplus-phi",
                 seed: int | None = None, precision: str | None = None,
                 device: str | None = None) -> None:
        self.precision = resolve_precision(precision)
        self.device = resolve_device(device)
        self.config: CodeConfig = make_code_config(code, k, n, rate, crc)
        if demapping not in ("app", "maxlog"):
            raise ValueError(f"demapping must be 'app' or 'maxlog', got {demapping!r}")
        if isinstance(num_iter, bool) or not isinstance(num_iter, int) or num_iter < 1:
            raise ValueError(f"num_iter must be a positive int, got {num_iter!r}")
        kw = dict(precision=self.precision, device=self.device)
        self.modulation = modulation
        self.constellation = make_constellation(modulation, points=points, **kw)
        self.bits_per_symbol = self.constellation.num_bits_per_symbol
        self.channel: Channel = make_channel(channel, seed=seed, **kw)
        if self.channel.device != self.device:
            raise ValueError(
                f"channel is on device {self.channel.device!r} but the chain on {self.device!r}; "
                f"build both on the same device, e.g. device={self.device!r}"
            )
        cfg = self.config
        m = self.bits_per_symbol
        self.symbol_padding = (-cfg.n) % m
        self.symbols_per_block = (cfg.n + self.symbol_padding) // m
        self.pilots_per_block = self.channel.num_pilot_symbols(self.symbols_per_block)
        self.crc_encoder = CRCEncoder(cfg.crc, k=cfg.k_info, **kw) if cfg.crc else None
        self.crc_decoder = CRCDecoder(self.crc_encoder, **kw) if cfg.crc else None
        if cfg.code == "ldpc5g":
            interleave = m if self.symbol_padding == 0 and m > 1 else None
            self.encoder = LDPC5GEncoder(cfg.k, cfg.n, num_bits_per_symbol=interleave, **kw)
            self.decoder = LDPC5GDecoder(self.encoder, cn_update=cn_update, num_iter=num_iter,
                                         hard_out=True, return_infobits=True, **kw)
        else:
            self.encoder = self.decoder = None
        self.mapper = Mapper(constellation=self.constellation, **kw)
        self.demapper = Demapper(demapping, constellation=self.constellation, **kw)

    # -- accounting --------------------------------------------------------------
    @property
    def channel_uses_per_block(self) -> int:
        """Complex symbols per code block, pilots included."""
        return self.symbols_per_block + self.pilots_per_block

    @property
    def info_bits_per_channel_use(self) -> float:
        """``k / channel uses per block``: equals ``r * m * eta`` when ``m | n``."""
        return self.config.k / self.channel_uses_per_block

    def blocks_for(self, num_bits: int) -> int:
        """Code blocks needed for a bitstream of ``num_bits`` payload bits."""
        return math.ceil(num_bits / self.config.k_info)

    def channel_uses_for(self, num_bits: int) -> int:
        """Exact channel uses (complex symbols incl. pilots) for ``num_bits`` payload bits."""
        return self.blocks_for(num_bits) * self.channel_uses_per_block

    def snr_db_from_ebno_db(self, ebno_db: float) -> float:
        """Es/N0 [dB] for an Eb/N0 [dB], see :mod:`semlink.phy.snr` (``Eb`` per k bit)."""
        return float(ebno_db) + 10.0 * math.log10(self.info_bits_per_channel_use)

    def ebno_db_from_snr_db(self, snr_db: float) -> float:
        """Eb/N0 [dB] for an Es/N0 [dB] per channel use."""
        return float(snr_db) - 10.0 * math.log10(self.info_bits_per_channel_use)

    def _resolve_snr(self, num_items: int, snr_db, ebno_db) -> np.ndarray:
        if (snr_db is None) == (ebno_db is None):
            raise ValueError("give exactly one of snr_db (Es/N0 per channel use) or ebno_db (Eb/N0)")
        if ebno_db is not None:
            eb = np.broadcast_to(np.asarray(ebno_db, dtype=float), (num_items,))
            values = eb + 10.0 * math.log10(self.info_bits_per_channel_use)
        else:
            values = np.asarray(snr_db, dtype=float)
            if values.ndim and values.shape != (num_items,):
                raise ValueError(
                    f"snr_db must be a scalar or have one value per item ({num_items}), "
                    f"got shape {values.shape}"
                )
            values = np.broadcast_to(values, (num_items,))
        if not np.all(np.isfinite(values)):
            raise ValueError(f"snr_db/ebno_db must be finite numbers, got {snr_db if ebno_db is None else ebno_db!r}")
        return np.array(values, dtype=float)

    # -- core --------------------------------------------------------------------
    def transmit_blocks(self, blocks: torch.Tensor, no: torch.Tensor):
        """Send a ``[num_blocks, k_info]`` bit matrix through the PHY in one pass.

        :input blocks: [B, k_info], float 0/1.
        :input no: [B], noise variance per complex symbol for each block.
        :output rx: [B, k_info], float 0/1, decoded payload bits.
        :output crc_ok: [B] bool, or `None` without CRC.
        """
        cfg = self.config
        num_blocks = blocks.shape[0]
        if num_blocks == 0:
            return blocks.clone(), (torch.ones(0, dtype=torch.bool, device=self.device)
                                    if self.crc_encoder else None)
        u = self.crc_encoder(blocks) if self.crc_encoder else blocks
        c = self.encoder(u) if self.encoder else u
        if self.symbol_padding:
            c = torch.nn.functional.pad(c, (0, self.symbol_padding))
        x = self.mapper(c)
        y, no_eff = self.channel(x, no)
        llr = self.demapper(y, no_eff)
        if self.symbol_padding:
            llr = llr[:, : cfg.n]
        u_hat = self.decoder(llr) if self.decoder else (llr > 0).to(llr.dtype)
        if self.crc_decoder:
            rx, crc_ok = self.crc_decoder(u_hat)
            return rx, crc_ok.reshape(-1)
        return u_hat, None

    def transmit(self, bitstreams, snr_db=None, ebno_db=None):
        """Transmit a batch of variable-length bitstreams.

        :param bitstreams: list of 1-D 0/1 arrays/tensors (any length, 0 allowed).
        :param snr_db: Es/N0 [dB] per channel use, scalar or one per item.
        :param ebno_db: Eb/N0 [dB] instead of ``snr_db`` (``Eb`` per code input bit).
        :returns: ``(received, report)``: list of uint8 tensors (same lengths),
            and a :class:`DigitalReport`.
        """
        if not isinstance(bitstreams, (list, tuple)):
            raise TypeError("bitstreams must be a list of 1-D bit arrays (one per item)")
        streams = [as_bit_tensor(b, f"bitstreams[{i}]", self.device) for i, b in enumerate(bitstreams)]
        snr = self._resolve_snr(len(streams), snr_db, ebno_db)
        cfg = self.config
        blocks, seg = segment(streams, cfg.k_info, device=self.device)
        no_item = torch.as_tensor(snr_db_to_no(snr), dtype=blocks.dtype, device=self.device)
        no_block = no_item[seg.block_item]
        rx_blocks, crc_ok = self.transmit_blocks(blocks, no_block)
        received = reassemble(rx_blocks, seg)
        return received, self._report(blocks, rx_blocks, crc_ok, seg, snr)

    def _report(self, blocks, rx_blocks, crc_ok, seg, snr) -> DigitalReport:
        num_items = seg.lengths.numel()
        wrong = (blocks != rx_blocks)
        bit_wrong = wrong.reshape(-1)[seg.positions].to(torch.long)
        item_of_bit = torch.repeat_interleave(torch.arange(num_items, device=self.device), seg.lengths)
        bit_errors = torch.zeros(num_items, dtype=torch.long, device=self.device)
        bit_errors.index_add_(0, item_of_bit, bit_wrong)
        block_wrong = wrong.any(dim=1)
        block_errors = torch.zeros(num_items, dtype=torch.long, device=self.device)
        block_errors.index_add_(0, seg.block_item, block_wrong.to(torch.long))
        failed = ~crc_ok if crc_ok is not None else block_wrong
        crc_fail = torch.zeros(num_items, dtype=torch.long, device=self.device)
        if crc_ok is not None:
            crc_fail.index_add_(0, seg.block_item, failed.to(torch.long))
        nb = seg.blocks_per_item.cpu().numpy()
        pad = seg.padding_bits.cpu().numpy() + nb * self.symbol_padding
        failed_np = failed.cpu().numpy()
        splits = np.split(failed_np, np.cumsum(nb)[:-1]) if num_items else []
        return DigitalReport(
            info_bits=seg.lengths.cpu().numpy(), bit_errors=bit_errors.cpu().numpy(),
            blocks=nb, block_errors=block_errors.cpu().numpy(), crc_failures=crc_fail.cpu().numpy(),
            padding_bits=pad, channel_uses=nb * self.channel_uses_per_block,
            block_failed=splits, snr_db=snr)

    def describe(self) -> dict:
        """Plain-dict description for results files."""
        cfg = self.config
        return {"code": cfg.code, "k": cfg.k, "n": cfg.n, "crc": cfg.crc, "k_info": cfg.k_info,
                "rate": cfg.rate, "modulation": self.modulation,
                "bits_per_symbol": self.bits_per_symbol,
                "channel": type(self.channel).__name__,
                "symbols_per_block": self.symbols_per_block,
                "pilots_per_block": self.pilots_per_block}
