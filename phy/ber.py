"""Monte-Carlo BER/BLER simulation of a digital chain (like Sionna's ``sim_ber``).

Random payload blocks go through :meth:`DigitalChain.transmit_blocks` in
batches until ``target_block_errors`` block errors or ``max_blocks`` blocks
are reached at each SNR point. Results are exact counts plus rates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import torch

from .digital import DigitalChain
from .snr import snr_db_to_no


@dataclass
class BerPoint:
    """Counts at one SNR point. ``ebno_db`` uses Eb per code input bit (see snr.py).

    ``decoder_iterations`` is the total of LDPC iterations over all blocks
    (0 uncoded); ``skipped`` is empty for a simulated point, otherwise the
    reason it was not simulated (its counts are then 0).
    """

    ebno_db: float
    snr_db: float
    bits: int
    bit_errors: int
    blocks: int
    block_errors: int
    seconds: float
    decoder_iterations: int = 0
    skipped: str = ""

    @property
    def mean_iterations(self) -> float:
        """Mean LDPC iterations per code block (NaN uncoded or without blocks)."""
        return self.decoder_iterations / self.blocks if self.blocks and self.decoder_iterations \
            else float("nan")

    @property
    def ber(self) -> float:
        return self.bit_errors / self.bits if self.bits else float("nan")

    @property
    def bler(self) -> float:
        return self.block_errors / self.blocks if self.blocks else float("nan")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ber"], d["bler"] = self.ber, self.bler
        d["mean_iterations"] = self.mean_iterations
        if not self.skipped:
            del d["skipped"]
        # JSON has no NaN: undefined rates (skipped points, uncoded iterations) are null
        return {key: None if isinstance(v, float) and math.isnan(v) else v
                for key, v in d.items()}


def simulate_ber(chain: DigitalChain, snr_db: Iterable[float] | None = None,
                 ebno_db: Iterable[float] | None = None, batch_size: int = 1000,
                 max_blocks: int = 100_000, target_block_errors: int = 100,
                 seed: int = 0, early_stop: bool = True,
                 on_batch: Callable[[BerPoint], None] | None = None,
                 on_point: Callable[[BerPoint], None] | None = None) -> list[BerPoint]:
    """Sweep SNR points; return one :class:`BerPoint` per point.

    :param snr_db: Es/N0 points [dB] per channel use, or
    :param ebno_db: Eb/N0 points [dB] (exactly one of the two).
    :param batch_size: code blocks per chain call.
    :param max_blocks: stop a point after this many blocks.
    :param target_block_errors: stop a point after this many block errors.
    :param seed: seed of the random payload bits (the channel has its own).
    :param early_stop: after a point with no block error, do not simulate the
        points of higher SNR (they would show none either); they are still
        returned (and passed to ``on_point``) with ``skipped`` set. Points
        may come in any order (ascending, descending or mixed).
    """
    if (snr_db is None) == (ebno_db is None):
        raise ValueError("give exactly one of snr_db or ebno_db")
    for name, v in (("batch_size", batch_size), ("max_blocks", max_blocks),
                    ("target_block_errors", target_block_errors)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if ebno_db is not None:
        pairs = [(float(e), chain.snr_db_from_ebno_db(e)) for e in ebno_db]
    else:
        assert snr_db is not None                 # exactly one of the two, checked above
        pairs = [(chain.ebno_db_from_snr_db(s), float(s)) for s in snr_db]
    gen = torch.Generator(device=chain.device)
    gen.manual_seed(int(seed))
    k_info = chain.config.k_info
    results = []
    error_free_at = math.inf        # lowest Es/N0 seen without a block error
    for eb, es in pairs:
        if not (math.isfinite(eb) and math.isfinite(es)):
            raise ValueError(f"SNR points must be finite, got Eb/N0={eb}, Es/N0={es}")
        point = BerPoint(eb, es, 0, 0, 0, 0, 0.0)
        if early_stop and es >= error_free_at:
            point.skipped = "no block errors at a lower SNR"
            results.append(point)
            if on_point:
                on_point(point)
            continue
        t0 = time.perf_counter()
        while point.blocks < max_blocks and point.block_errors < target_block_errors:
            b = min(batch_size, max_blocks - point.blocks)
            bits = torch.randint(0, 2, (b, k_info), generator=gen, device=chain.device,
                                 dtype=torch.int64).to(torch.float32)
            no = torch.full((b,), snr_db_to_no(es), device=chain.device)
            rx, _ = chain.transmit_blocks(bits, no)
            wrong = rx != bits
            point.bits += b * k_info
            point.bit_errors += int(wrong.sum())
            point.blocks += b
            point.block_errors += int(wrong.any(dim=1).sum())
            if chain.last_iterations is not None:
                point.decoder_iterations += int(chain.last_iterations.sum())
            point.seconds = time.perf_counter() - t0
            if on_batch:
                on_batch(point)
        results.append(point)
        if on_point:
            on_point(point)
        if point.block_errors == 0:
            error_free_at = min(error_free_at, es)
    return results
