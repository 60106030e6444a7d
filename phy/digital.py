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
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sionna.phy.fec.crc import CRCDecoder, CRCEncoder
from sionna.phy.fec.ldpc import LDPC5GEncoder
from sionna.phy.mapping import Demapper, Mapper

from .channels import AWGNChannel, Channel, ChannelSpec, make_channel
from .channels.draws import DrawPlan, item_draw_seeds
from .coding import (
    BitsLike,
    CodeConfig,
    Segmentation,
    concat_bitstreams,
    make_code_config,
    reassemble,
    segment,
)
from .counter_rng import MAX_INDEX
from .interleaving import INTERLEAVERS, BitInterleaver
from .ldpc_decoding import DECODERS, check_max_iter, make_ldpc_decoder
from .modulation import make_constellation
from .sionna_config import resolve_device, resolve_precision
from .snr import DbLike, snr_db_to_no


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
    :param snr_db: Es/N0 [dB] per item (per transmitted complex symbol).
    :param ebno_db: Eb/N0 [dB] per item, ``Eb`` per code input bit (CRC
        included) with pilots charged to the bits, see :mod:`semlink.phy.snr`.
    :param decoder_iterations: mean LDPC BP iterations per code block of each
        item (NaN uncoded or without blocks).
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
    ebno_db: np.ndarray
    decoder_iterations: np.ndarray

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
    :param max_iter: LDPC belief-propagation iterations at most (default 20).
    :param early_termination: stop decoding each code word once its syndrome
        is zero (see :mod:`semlink.phy.ldpc_decoding`); default on.
    :param interleaver: bit interleaver between LDPC encoder and mapper:
        ``"random"`` (a fixed seeded permutation of the codeword, any ``n``
        and bits per symbol, see :mod:`semlink.phy.interleaving`), ``"5g"``
        (38.212 Sec. 5.4.2.2 row-column, needs ``m | n``), ``"none"``, or
        ``"auto"`` (default): ``"random"`` on every channel except AWGN, where
        it keeps the 5G interleaver when ``m | n`` and none otherwise.
    :param num_iter: deprecated spelling of ``max_iter``.
    :param cn_update: Sionna check-node rule (``"boxplus-phi"``, ``"boxplus"``,
        ``"minsum"``, ``"offset-minsum"``, ...).
    :param decoder: LDPC decoder backend: ``"sionna"`` (default; torch, CPU or
        GPU) or ``"ldpc"`` (the compiled CPU decoder of the optional ``ldpc``
        package, same graph and flooding sum-product schedule, see
        :mod:`semlink.phy.ldpc_compiled`; ``pip install 'semlink[ldpc-cpu]'``).
    :param seed: seed of the channel's generator (`None`: from Sionna's config).
    :param precision, device: as in Sionna blocks.

    >>> chain = DigitalChain(k=512, n=1024, modulation="psk8", channel="awgn", seed=0)
    >>> rx, rep = chain.transmit([np.ones(1000, np.uint8)], snr_db=10.0)
    >>> int(rep.bit_errors[0]), int(rep.channel_uses[0])
    (0, 1026)
    """

    def __init__(self, code: str = "ldpc5g", k: int | None = None, n: int | None = None,
                 rate: float | None = None, crc: str | None = "auto",
                 modulation: str = "qpsk", points: Sequence[complex] | np.ndarray | None = None,
                 channel: ChannelSpec = "awgn",
                 demapping: str = "app", max_iter: int = 20, early_termination: bool = True,
                 interleaver: str = "auto", cn_update: str = "boxplus-phi",
                 decoder: str = "sionna", seed: int | None = None, precision: str | None = None,
                 device: str | None = None, num_iter: int | None = None) -> None:
        self.precision = resolve_precision(precision)
        self.device = resolve_device(device)
        self.config: CodeConfig = make_code_config(code, k, n, rate, crc)
        if demapping not in ("app", "maxlog"):
            raise ValueError(f"demapping must be 'app' or 'maxlog', got {demapping!r}")
        if num_iter is not None:
            warnings.warn("num_iter is deprecated; use max_iter", FutureWarning, stacklevel=2)
            max_iter = num_iter
        check_max_iter(max_iter)
        if interleaver not in INTERLEAVERS:
            raise ValueError(f"interleaver must be one of {sorted(INTERLEAVERS)}, "
                             f"got {interleaver!r}")
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {list(DECODERS)}, got {decoder!r}")
        kw: dict[str, Any] = dict(precision=self.precision, device=self.device)
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
        self._check_channel_fits()
        item_pilots = (getattr(self.channel, "coherence_unit", None) == "item"
                       and getattr(self.channel, "csi", None) == "ls")
        #: pilots sent once per item (``coherence: item`` with ``csi: ls``), else 0
        self.pilots_per_item = self.channel.num_pilots if item_pilots else 0
        self.pilots_per_block = 0 if item_pilots else self.channel.num_pilot_symbols(
            self.symbols_per_block)
        self.crc_encoder = CRCEncoder(cfg.crc, k=cfg.k_info, **kw) if cfg.crc else None
        self.crc_decoder = CRCDecoder(self.crc_encoder, **kw) if cfg.crc else None
        self.max_iter = max_iter
        self.early_termination = bool(early_termination)
        self.decoder_name = decoder if cfg.code == "ldpc5g" else None
        self.interleaver = self._resolve_interleaver(interleaver)
        self.bit_interleaver = None
        if cfg.code == "ldpc5g":
            five_g = m if self.interleaver == "5g" else None
            self.encoder = LDPC5GEncoder(cfg.k, cfg.n, num_bits_per_symbol=five_g, **kw)
            self.decoder = make_ldpc_decoder(self.encoder, decoder, max_iter=max_iter,
                                             early_termination=early_termination,
                                             cn_update=cn_update, **kw)
            if self.interleaver == "random":
                self.bit_interleaver = BitInterleaver(cfg.n + self.symbol_padding,
                                                      device=self.device)
        else:
            self.encoder = self.decoder = None
        self.last_iterations: torch.Tensor | None = None
        self.mapper = Mapper(constellation=self.constellation, **kw)
        self.demapper = Demapper(demapping, constellation=self.constellation, **kw)

    def _check_channel_fits(self) -> None:
        """Digital profiles need CSI, and LS pilots must fit the code blocks."""
        csi = getattr(self.channel, "csi", "perfect")
        if csi == "none":
            raise ValueError(
                "channel csi: none is for analog streams only: a digital demapper computes LLRs "
                "from distances to the constellation, which an unknown fading coefficient "
                "(random phase and gain) makes meaningless; use csi: perfect or csi: ls")
        if csi != "ls":
            return
        unit = getattr(self.channel, "coherence_unit", "symbols")
        L = getattr(self.channel, "coherence_symbols", None)
        if unit == "symbols" and L and self.symbols_per_block % L:
            raise ValueError(
                f"channel coherence: {{symbols: {L}}} with csi: ls needs L to divide the "
                f"{self.symbols_per_block} symbols of a code block (so pilots are counted per "
                f"block); choose such an L, coherence: block, or csi: perfect")

    def _resolve_interleaver(self, interleaver: str) -> str:
        cfg, m = self.config, self.bits_per_symbol
        if cfg.code != "ldpc5g" or m == 1:
            return "none"
        if interleaver == "auto":
            if isinstance(self.channel, AWGNChannel):
                return "5g" if self.symbol_padding == 0 else "none"
            return "random"
        if interleaver == "5g" and self.symbol_padding:
            raise ValueError(
                f"interleaver '5g' (38.212) needs bits per symbol {m} to divide n={cfg.n}; "
                "use interleaver: random, which works for every n")
        return interleaver

    # -- accounting --------------------------------------------------------------
    @property
    def channel_uses_per_block(self) -> int:
        """Complex symbols per code block, per-block pilots included."""
        return self.symbols_per_block + self.pilots_per_block

    @property
    def info_bits_per_channel_use(self) -> float:
        """``k / channel uses per block``: equals ``r * m * eta`` when ``m | n``.

        Pilots sent once per item (``coherence: item`` with ``csi: ls``) are
        counted in :meth:`channel_uses_for` and the reports, but not here: their
        share depends on the number of blocks of an image.
        """
        return self.config.k / self.channel_uses_per_block

    def blocks_for(self, num_bits: int) -> int:
        """Code blocks needed for a bitstream of ``num_bits`` payload bits."""
        return math.ceil(num_bits / self.config.k_info)

    def channel_uses_for(self, num_bits: int) -> int:
        """Exact channel uses (complex symbols incl. pilots) for ``num_bits`` payload bits."""
        blocks = self.blocks_for(num_bits)
        return blocks * self.channel_uses_per_block + (self.pilots_per_item if blocks else 0)

    def snr_db_from_ebno_db(self, ebno_db: float) -> float:
        """Es/N0 [dB] for an Eb/N0 [dB], see :mod:`semlink.phy.snr` (``Eb`` per k bit)."""
        return float(ebno_db) + 10.0 * math.log10(self.info_bits_per_channel_use)

    def ebno_db_from_snr_db(self, snr_db: float) -> float:
        """Eb/N0 [dB] for an Es/N0 [dB] per channel use."""
        return float(snr_db) - 10.0 * math.log10(self.info_bits_per_channel_use)

    def _resolve_snr(self, num_items: int, snr_db: DbLike | None, ebno_db: DbLike | None) -> np.ndarray:
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
            raise ValueError(f"snr_db/ebno_db must be finite numbers, got "
                             f"{snr_db if ebno_db is None else ebno_db!r}")
        return np.array(values, dtype=float)

    # -- core --------------------------------------------------------------------
    def transmit_blocks(self, blocks: torch.Tensor, no: torch.Tensor,
                        plan: DrawPlan | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Send a ``[num_blocks, k_info]`` bit matrix through the PHY in one pass.

        :input blocks: [B, k_info], 0/1 as float or uint8 (uint8 saves the
            conversions on the uncoded path: the mapper reads integers).
        :input no: [B], noise variance per complex symbol for each block.
        :input plan: which blocks form which item and each item's seeds
            (:class:`~semlink.phy.channels.draws.DrawPlan`); `None`: every block
            is its own item and all draws come from the channel's generator.
        :output rx: [B, k_info], 0/1 decoded payload bits, of the dtype of ``blocks``.
        :output crc_ok: [B] bool, or `None` without CRC.

        After the call, :attr:`last_iterations` holds the BP iterations of
        every block ([B] int64; `None` uncoded).
        """
        cfg = self.config
        num_blocks = blocks.shape[0]
        if num_blocks == 0:
            self.last_iterations = (torch.zeros(0, dtype=torch.int64, device=self.device)
                                    if self.decoder else None)
            return blocks.clone(), (torch.ones(0, dtype=torch.bool, device=self.device)
                                    if self.crc_encoder else None)
        as_bytes = blocks.dtype == torch.uint8
        coded = self.crc_encoder is not None or self.encoder is not None
        u = blocks.to(torch.float32) if as_bytes and coded else blocks
        u = self.crc_encoder(u) if self.crc_encoder else u
        c = self.encoder(u) if self.encoder else u
        if self.symbol_padding:
            c = torch.nn.functional.pad(c, (0, self.symbol_padding))
        if self.bit_interleaver is not None:
            c = self.bit_interleaver.interleave(c)
        x = self.mapper(c)
        y, no_eff = self.channel.transmit_items(x, no, plan)
        if no_eff.dim() == 2 and no_eff.shape[1] > 1 and no_eff.stride(1) == 0:
            no_eff = no_eff[:, :1]       # one value per row (AWGN): the demapper broadcasts it
        llr = self.demapper(y, no_eff)
        if self.bit_interleaver is not None:
            llr = self.bit_interleaver.deinterleave(llr)
        if self.symbol_padding:
            llr = llr[:, : cfg.n]
        if self.decoder:
            u_hat, self.last_iterations = self.decoder(llr)
        elif as_bytes and not self.crc_decoder:
            u_hat, self.last_iterations = (llr > 0).view(torch.uint8), None
        else:
            u_hat, self.last_iterations = (llr > 0).to(llr.dtype), None
        if self.crc_decoder:
            rx, crc_ok = self.crc_decoder(u_hat)
            return rx.to(blocks.dtype), crc_ok.reshape(-1)
        return u_hat.to(blocks.dtype), None

    def transmit(self, bitstreams: Sequence[BitsLike], snr_db: DbLike | None = None,
                 ebno_db: DbLike | None = None, draw_seeds: Sequence[int] | np.ndarray | None = None,
                 group_seeds: Sequence[int] | np.ndarray | None = None,
                 ) -> tuple[list[torch.Tensor], DigitalReport]:
        """Transmit a batch of variable-length bitstreams.

        :param bitstreams: list of 1-D 0/1 arrays/tensors (any length, 0 allowed).
        :param snr_db: Es/N0 [dB] per channel use, scalar or one per item.
        :param ebno_db: Eb/N0 [dB] instead of ``snr_db`` (``Eb`` per code input bit).
        :param draw_seeds: one int per item: the seed of that item's noise and
            fading, so an item's received bits do not depend on the rest of
            the batch. `None`: drawn from the channel's generator (reproducible
            per call, but then an item's noise depends on its batch).
        :param group_seeds: one int per item; items with the same value share
            the ``coherence: item`` fading coefficient (the streams of one
            image). `None`: every item is its own group.
        :returns: ``(received, report)``: list of uint8 tensors (same lengths),
            and a :class:`DigitalReport`.
        """
        if not isinstance(bitstreams, (list, tuple)):
            raise TypeError("bitstreams must be a list of 1-D bit arrays (one per item)")
        flat, lengths = concat_bitstreams(bitstreams, self.device)       # one conversion, one check
        num_items = len(lengths)
        snr = self._resolve_snr(num_items, snr_db, ebno_db)
        cfg = self.config
        nb = (lengths + cfg.k_info - 1) // cfg.k_info
        if nb.size and int(nb.max()) * self.symbols_per_block > MAX_INDEX:
            raise ValueError(f"bitstreams: a stream of {int(lengths.max())} bits needs more than "
                             f"{MAX_INDEX} channel symbols (the draw counter range); split it")
        seeds, groups = item_draw_seeds(self.channel, num_items, draw_seeds, group_seeds)
        blocks, seg = segment(flat, cfg.k_info, device=self.device, lengths=lengths,
                              dtype=torch.uint8)
        no_item = torch.as_tensor(snr_db_to_no(snr), dtype=torch.float32, device=self.device)
        no_block = no_item[seg.block_item]
        counts = torch.stack([seg.blocks_per_item, seg.blocks_per_item * self.symbols_per_block])
        plan = DrawPlan(counts[0], counts[1], seeds, groups, int(nb.sum()),
                        block_symbols=self.symbols_per_block, full_rows=True)
        rx_blocks, crc_ok = self.transmit_blocks(blocks, no_block, plan)
        received = reassemble(rx_blocks, seg)                            # one split
        return received, self._report(blocks, rx_blocks, crc_ok, seg, snr)

    @property
    def noise_generator(self) -> str:
        """Scheme that draws this chain's noise (``counter-hash-v2`` or ``torch-per-item``)."""
        return self.channel.noise_generator

    def _report(self, blocks: torch.Tensor, rx_blocks: torch.Tensor, crc_ok: torch.Tensor | None,
                seg: Segmentation, snr: np.ndarray) -> DigitalReport:
        num_items = seg.lengths.numel()
        dev = blocks.device
        wrong = blocks ^ rx_blocks                 # uint8 0/1
        mask = seg.payload_mask()
        payload_wrong = wrong if mask is None else wrong & mask
        block_wrong = wrong.any(dim=1)             # payload or filler bit (genie)
        failed = ~crc_ok if crc_ok is not None else block_wrong
        # per-block counts summed per item: bit errors, block errors, CRC failures, iterations
        per_block = torch.stack([payload_wrong.sum(dim=1, dtype=torch.float64),
                                 block_wrong.to(torch.float64),
                                 failed.to(torch.float64) if crc_ok is not None else
                                 torch.zeros(seg.num_blocks, dtype=torch.float64, device=dev),
                                 self.last_iterations.to(torch.float64)
                                 if self.last_iterations is not None else
                                 torch.zeros(seg.num_blocks, dtype=torch.float64, device=dev)],
                                dim=1)
        counts_dev = torch.zeros(num_items, 4, dtype=torch.float64, device=dev)
        counts_dev.index_add_(0, seg.block_item, per_block)
        counts = counts_dev.cpu().numpy()                                # one transfer
        failed_np = failed.cpu().numpy()                                 # per block
        nb, lengths = seg.blocks_host, seg.lengths_host
        pad = nb * self.config.k_info - lengths + nb * self.symbol_padding
        splits = np.split(failed_np, np.cumsum(nb)[:-1]) if num_items else []
        iters = np.full(num_items, np.nan)
        if self.last_iterations is not None and num_items:
            with np.errstate(invalid="ignore", divide="ignore"):
                iters = counts[:, 3] / nb
        return DigitalReport(
            info_bits=lengths.copy(), bit_errors=counts[:, 0].astype(np.int64),
            blocks=nb.copy(), block_errors=counts[:, 1].astype(np.int64),
            crc_failures=counts[:, 2].astype(np.int64), padding_bits=pad,
            channel_uses=nb * self.channel_uses_per_block + self.pilots_per_item * (nb > 0),
            block_failed=splits, snr_db=snr,
            ebno_db=snr - 10.0 * math.log10(self.info_bits_per_channel_use),
            decoder_iterations=iters)

    def describe(self) -> dict:
        """Plain-dict description for results files."""
        cfg = self.config
        return {"code": cfg.code, "k": cfg.k, "n": cfg.n, "crc": cfg.crc, "k_info": cfg.k_info,
                "rate": cfg.rate, "modulation": self.modulation,
                "bits_per_symbol": self.bits_per_symbol,
                "max_iter": self.max_iter if self.decoder else None,
                "early_termination": self.early_termination if self.decoder else None,
                "decoder": self.decoder_name,
                "interleaver": self.interleaver,
                "channel": type(self.channel).__name__,
                "noise_generator": self.noise_generator,
                "symbols_per_block": self.symbols_per_block,
                "pilots_per_block": self.pilots_per_block}

