"""Settings shared by every LDPC decoder backend: the iteration bound and the syndrome-check schedule.

One home for what :class:`~semlink.phy.ldpc_decoding.LDPCDecoder` (Sionna),
:class:`~semlink.phy.ldpc_compiled.CompiledBPDecoder` (``ldpc`` package) and
:class:`~semlink.phy.ldpc_triton.TritonBPDecoder` (Triton) check alike, below
all three so that none of them imports another to reach it (the backends and
:func:`~semlink.phy.ldpc_decoding.make_ldpc_decoder` form no import cycle).
Pure Python: imports neither torch nor Sionna.
"""

from __future__ import annotations

#: decoder backends :func:`~semlink.phy.ldpc_decoding.make_ldpc_decoder` builds
DECODERS = ("sionna", "ldpc", "triton", "triton-layered", "triton-fp16", "triton-bf16")


def check_max_iter(max_iter) -> None:
    """Raise ``ValueError`` unless ``max_iter`` (BP iterations at most) is a positive int."""
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive int, got {max_iter!r}")


def check_schedule(max_iter: int) -> list[int]:
    """Iterations per chunk: a check after each of the first 8 iterations, then
    every 2, then every 4 (fewer calls where few code words are left).

    >>> check_schedule(20)
    [1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4]
    """
    chunks, done = [], 0
    while done < max_iter:
        step = 1 if done < 8 else 2 if done < 16 else 4
        step = min(step, max_iter - done)
        chunks.append(step)
        done += step
    return chunks
