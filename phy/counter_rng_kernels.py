"""One fused Triton kernel for the float32 complex Gaussians of :mod:`semlink.phy.counter_rng`.

The torch formulation (:func:`~semlink.phy.counter_rng._box_muller_f32_` after
:func:`~semlink.phy.counter_rng._rounds_i32_`) is about a hundred elementwise
operations, each a kernel launch and a pass over memory on a GPU: 11 ms for
the uncoded ``phy_throughput`` row on an H200, against 0.5 ms for Sionna's
own AWGN. This kernel computes the same numbers, **bit for bit**, in one
pass: the counters, the three keyed hash rounds on int32 lanes (int32
products wrap modulo 2^32; right shifts masked to logical ones), and the
Box-Muller transform with the same IEEE operations in the same order
(float64 for ``b + 1/2``, correctly rounded division and square root
``div_rn``/``sqrt_rn``, no fused multiply-add: launched with
``enable_fp_fusion=False``), the selections and sign flips by exact
``where`` and negation.

Without a GPU it runs in Triton's interpreter (``TRITON_INTERPRET=1`` before
Triton is imported), which is how ``tests/test_counter_rng_kernels.py``
checks it against the torch kernels on the CPU; on CUDA the ``gpu``-marked
CPU == CUDA test of ``tests/test_counter_rng.py`` covers it.
"""

from __future__ import annotations

import numpy as np
import torch
import triton
import triton.language as tl

from .counter_rng_constants import KERNEL_F32, KERNEL_INT


def _f32(name: str) -> tl.constexpr:
    """The torch kernels' float32 constant ``name`` (:data:`KERNEL_F32`),
    rounded to float32 as torch rounds it, held as a Python float that float32 holds
    exactly, so the kernel's constant is not rounded again."""
    return tl.constexpr(float(np.float32(KERNEL_F32[name])))


def _i32(name: str) -> tl.constexpr:
    return tl.constexpr(KERNEL_INT[name])


_MUL1, _MUL2, _INT_MIN = _i32("mul1"), _i32("mul2"), _i32("int_min")
_MASK29, _CARRY = _i32("m29"), _i32("carry")
_LN2, _THETA = _f32("ln2"), _f32("theta")
_L9, _L7, _L5, _L3 = _f32("l9"), _f32("l7"), _f32("l5"), _f32("l3")
_S9, _S7, _S5, _S3 = _f32("s9"), _f32("s7"), _f32("s5"), _f32("s3")


@triton.jit
def _mix(x):
    """``mix32`` on int32 lanes (the torch kernel's ``_mix32_i32_``)."""
    x = x ^ ((x >> 16) & 0xFFFF)
    x = x * _MUL1
    x = x ^ ((x >> 15) & 0x1FFFF)
    x = x * _MUL2
    return x ^ ((x >> 15) & 0x1FFFF)


@triton.jit
def _complex_normal_f32(out_ptr, k0_ptr, k1_ptr, k2_ptr, draws_ptr, n, width,
                        PER_DRAW: tl.constexpr, BLOCK: tl.constexpr):
    """Draws ``i`` in ``[0, n)`` of rows of ``width``: row ``i // width`` with draw number
    ``draws[i]`` (``PER_DRAW``: an index per draw) or ``draws[row] + i % width`` (a start per
    row); writes (real, imaginary) float32 pairs to ``out[2 i], out[2 i + 1]``."""
    i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    live = i < n
    row = i // width
    k0 = tl.load(k0_ptr + row, mask=live, other=0)
    k1 = tl.load(k1_ptr + row, mask=live, other=0)
    k2 = tl.load(k2_ptr + row, mask=live, other=0)
    if PER_DRAW:
        t = tl.load(draws_ptr + i, mask=live, other=0).to(tl.int32)
    else:
        t = (tl.load(draws_ptr + row, mask=live, other=0) + (i - row * width)).to(tl.int32)
    w0 = (t << 1) ^ k0                                   # counter 2t ^ k0
    w1 = w0 ^ 1                                          # counter 2t + 1 ^ k0
    w0 = _mix(_mix(_mix(w0) ^ k1) ^ k2)
    w1 = _mix(_mix(_mix(w1) ^ k1) ^ k2)
    # radius sqrt(-ln u), u = (b + 1/2) 2^-32: w = float32(b + 1/2), b + 1/2 exact in float64
    wide = (w0 ^ _INT_MIN).to(tl.float64) + 2147483648.5
    a = wide.to(tl.float32)
    q = a.to(tl.int32, bitcast=True)
    e = (q + _CARRY) >> 23                               # exponent field + [f >= sqrt 2]
    k = e.to(tl.float32) - 159.0
    f = (q - ((e - 127) << 23)).to(tl.float32, bitcast=True)    # mantissa, halved if >= sqrt 2
    s = tl.math.div_rn(f - 1.0, f + 1.0)
    g = s * s
    p = g * _L9 + _L7
    p = p * g + _L5
    p = p * g + _L3
    p = p * g + 1.0
    radius = tl.math.sqrt_rn(-((s * p) * 2.0 + k * _LN2))
    # phase 2 pi u: octant from the top 3 bits, angle from the low 29 (mirrored in odd octants)
    odd = (w1 << 2) >> 31                                # -1 in odd octants, else 0
    r = (odd ^ w1) & _MASK29
    theta = (r.to(tl.float32) + 0.5) * _THETA
    g = theta * theta
    p = g * _S9 - _S7
    p = p * g + _S5
    p = p * g - _S3
    p = p * g + 1.0
    sin = theta * p
    cos = tl.math.sqrt_rn(-(sin * sin) + 1.0)
    o = (w1 >> 29) & 7
    swap = ((o + 1) >> 1) & 1
    first = tl.where(swap == 1, sin, cos)
    second = tl.where(swap == 1, cos, sin)
    first = tl.where((((o + 2) >> 2) & 1) == 1, -first, first)
    second = tl.where(((o >> 2) & 1) == 1, -second, second)
    tl.store(out_ptr + 2 * i, radius * first, mask=live)
    tl.store(out_ptr + 2 * i + 1, radius * second, mask=live)


_BLOCK = 1024


def complex_normal_f32(keys: list[torch.Tensor], rows: int, width: int,
                       start: torch.Tensor | None = None,
                       index: torch.Tensor | None = None) -> torch.Tensor:
    """CN(0, 1) complex64 draws [rows, width] of the streams with round keys ``keys``
    (three [rows] int32 tensors): draw numbers ``start[r] + arange(width)`` (``start``: [rows]
    int32) or ``index`` ([rows, width] int64 or int32, each <= MAX_INDEX)."""
    k0, k1, k2 = (k.reshape(-1).contiguous() for k in keys)
    device = k0.device
    out = torch.empty((rows, width), dtype=torch.complex64, device=device)
    n = rows * width
    if n == 0:
        return out
    flat = torch.view_as_real(out).view(-1)
    per_draw = index is not None
    draws = index if per_draw else start
    assert draws is not None, "give start or index"
    grid = (triton.cdiv(n, _BLOCK),)
    _complex_normal_f32[grid](flat, k0, k1, k2, draws.reshape(-1).contiguous(), n, width,
                              PER_DRAW=per_draw, BLOCK=_BLOCK, enable_fp_fusion=False)
    return out


def interpreted() -> bool:
    """Whether the kernel runs in Triton's CPU interpreter (``TRITON_INTERPRET=1`` at import)."""
    from triton.runtime.interpreter import InterpretedFunction

    return isinstance(_complex_normal_f32, InterpretedFunction)


__all__ = ["complex_normal_f32", "interpreted"]
