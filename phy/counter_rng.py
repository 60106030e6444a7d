"""Counter-based random numbers: the same draws on every device and in every batch.

A counter-based generator computes the ``t``-th random number of a stream
directly from ``(key, t)`` (Salmon et al., "Parallel random numbers: as easy
as 1, 2, 3", SC 2011, the paper behind Philox). semlink keys a stream with an
*item seed* (one stream of one image: the link derives it from the point
seed, i.e. run seed, channel and SNR point, and the profile, stream and image
index) and a *tag* (what is drawn: noise, fading, pilot noise, the per-image
fading coefficient), and counts ``t`` along the item's symbols. Every item's
numbers for a whole chain call come out of one batched computation, and they
do not depend on which other items share the batch.

Generator ``counter-hash-v2`` (:data:`NAME`), defined on 32-bit words
(products taken modulo ``2^32``); :func:`mix32` and :func:`stream_keys` write
it in int64 arithmetic (every intermediate value in ``[0, 2^63)``), the
kernels in int32 lanes (see below), and CPU and CUDA compute bit-identical
integers:

.. code-block:: text

    mix(x)   = x ^= x >> 16; x = (x * 0x21F0AAAD) mod 2^32; x ^= x >> 15;
               x = (x * 0x735A2D97) mod 2^32; x ^= x >> 15          (a bijection of 32-bit words)
    keys     : (lo, hi) = (seed mod 2^32, seed >> 32); T = mix(tag + 0x9E3779B9 mod 2^32)
               4 Feistel rounds  lo, hi = hi, lo ^ mix(hi ^ R_i ^ T),  R = 0x3C6EF372, 0xDAA66D2B,
                                                                  0x78DDE6E4, 0x1715609D
               k0, k1 = lo, hi;  k2 = mix(lo ^ mix(hi ^ 0xB54CDA56))
    bits(c)  = mix(mix(mix(c ^ k0) ^ k1) ^ k2)                       (counter c < 2^32)
    uniform  = (bits + 1/2) * 2^-32            in (0, 1], rounded to the draw's dtype
    CN(0, 1) = sqrt(-ln u(2t)) * exp(j 2 pi u(2t + 1))   (Box-Muller: |n|^2 ~ Exp(1), uniform phase)

The integers, the uniforms **and the Gaussians** are bit-identical on CPU and
CUDA and at every position of a batch: after the integer rounds only IEEE
operations that are correctly rounded everywhere are used (+, -, *, /, sqrt,
int <-> float conversion, bit views; ``sqrt`` from the processor's own
instruction, not ``torch.sqrt``, which is not correctly rounded on either device,
see :func:`_exact_sqrt_`). ``ln u`` is an atanh series on the
mantissa read from the float's bit pattern, ``cos``/``sin`` a Taylor series
on an octant-reduced angle (no ``log``/``sin`` from a device's math library,
whose last bits differ between devices and between vectorised and scalar
code paths). Accuracy: about 1e-8 relative (float32 rounding dominates in
single precision).

The hash is three keyed rounds of a 2-multiply 32-bit mixer (constants from
C. Wellons' hash-prospector), with a Feistel key schedule so distinct
``(seed, tag)`` give distinct 64-bit keys. It is checked in
``tests/test_counter_rng.py`` against stored reference values and an
independent pure-Python implementation, for uniformity (KS), Gaussian
moments and the absence of correlation between neighbouring counters and
items.

Speed (the same numbers as the definition above, bit for bit): the rounds
run in place on int32 lanes (a word ``w`` held as its two's-complement
pattern; int32 multiplication wraps modulo ``2^32`` on CPU vector and scalar
units and on CUDA; right shifts are masked to logical ones), half the memory
traffic of int64 and a native vector multiply; the float32 Box-Muller runs
the reference operations (:func:`_minus_log_uniform`, :func:`_unit_phasor`)
in place on reused buffers, with the 0/1 selections and sign flips done on
bit patterns; scalars are 0-dim tensors on the device; a channel's noise
(:func:`complex_normal_rows`) builds its counters per chunk instead of an
index tensor. On the CPU the work is cut into cache-sized chunks of
``_CPU_CHUNK`` draws (the rounds are memory-bound otherwise); on CUDA into
chunks of ``_GPU_CHUNK`` draws. ``tests/test_counter_rng.py`` checks the
kernels against the reference formulation and the pure-Python definition.
On CUDA with Triton installed, float32 Gaussians come from one fused kernel
(:mod:`semlink.phy.counter_rng_kernels`, the same numbers; :func:`fused_draws`)
instead of the ~100 launches of the torch kernels.
"""

from __future__ import annotations

import functools
import math
import os
import zlib
from importlib.util import find_spec

import numpy as np
import torch

from .counter_rng_constants import (
    FEISTEL,
    GOLDEN,
    K2_SALT,
    KERNEL_F32,
    KERNEL_INT,
    LN2,
    MASK29,
    MASK32,
    MUL1,
    MUL2,
)

#: Name recorded in results for noise drawn by this module. ``counter-hash-v1`` (results
#: written before 2026-12-04 18:30 UTC) is the same definition computed with ``torch.sqrt``,
#: whose roots are not correctly rounded (one ulp off for 16 % of float32 roots on AVX512
#: CPUs, and differently on CUDA): its Gaussians differ from v2's in the last bit of some
#: values and were not the same on CPU and CUDA. ``--resume`` keeps the two apart.
NAME = "counter-hash-v2"
#: Name recorded for the earlier scheme (one ``torch.Generator`` per item, device dependent).
LEGACY_NAME = "torch-per-item"

#: Largest counter index ``t`` a stream may use (complex draws use counters 2t, 2t+1).
MAX_INDEX = 2**31 - 1

#: Tags of the built-in draws (what is drawn); plug-ins may use any other int or a string.
TAGS = {"noise": 0, "fading": 1, "pilot_noise": 2, "group_fading": 3}

_CPU_CHUNK = 1 << 15          # draws per chunk on the CPU (its buffers fit the L2 cache)
_GPU_CHUNK = 1 << 24          # draws per chunk elsewhere (bounded temporaries)
_MASK29 = MASK29
_LN2 = LN2
_SQRT_TWO = math.sqrt(2.0)


def tag_value(tag) -> int:
    """A draw tag as a 32-bit int: built-in names, any int, or a string (CRC-32 + 2^31)."""
    if isinstance(tag, bool):
        raise TypeError(f"tag must be an int or a string, got {tag!r}")
    if isinstance(tag, int):
        if not 0 <= tag <= MASK32:
            raise ValueError(f"tag must be in [0, 2^32), got {tag}")
        return tag
    if isinstance(tag, str):
        if tag in TAGS:
            return TAGS[tag]
        return (zlib.crc32(tag.encode()) | 0x80000000) & MASK32
    raise TypeError(f"tag must be an int or a string, got {tag!r}")


def mix32(x):
    """The 32-bit mixing round on an int64 tensor of 32-bit words (new tensor), or on
    one Python int (host side: tags)."""
    x = x ^ (x >> 16)
    x = (x * MUL1) & MASK32
    x = x ^ (x >> 15)
    x = (x * MUL2) & MASK32
    return x ^ (x >> 15)


def stream_keys(seeds: torch.Tensor, tag) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The three 32-bit round keys of streams ``(seed, tag)``.

    :input seeds: [...] int64, each in ``[0, 2^63)``.
    :output k0, k1, k2: [...] int64 32-bit words.
    """
    t = mix32((tag_value(tag) + GOLDEN) & MASK32)
    lo, hi = seeds & MASK32, seeds >> 32
    for r in FEISTEL:
        lo, hi = hi, lo ^ mix32(hi ^ (r ^ t))
    return lo, hi, mix32(lo ^ mix32(hi ^ K2_SALT))


def _check_seeds(seeds: torch.Tensor) -> torch.Tensor:
    if not isinstance(seeds, torch.Tensor) or seeds.dtype != torch.int64:
        raise TypeError(f"seeds must be an int64 tensor, got {type(seeds).__name__} "
                        f"{getattr(seeds, 'dtype', '')}")
    return seeds


def _chunks(rows: int, per_row: int, device: torch.device):
    """Row ranges of about ``_CPU_CHUNK`` draws on the CPU (cache-sized), of
    ``_GPU_CHUNK`` elsewhere (bounded temporaries, few kernel launches)."""
    size = _CPU_CHUNK if device.type == "cpu" else _GPU_CHUNK
    if rows * per_row <= size:
        yield 0, rows
        return
    step = max(1, size // max(per_row, 1))
    for start in range(0, rows, step):
        yield start, min(rows, start + step)


# -- the kernel: int32 lanes ---------------------------------------------------------------
# A 32-bit word w is held in an int32 lane as w - 2^32 [w >= 2^31] (two's complement). The
# rounds use xor, and, shifts (an arithmetic right shift masked to a logical one; left shifts
# are defined on the unsigned pattern in torch) and int32 multiplication, which wraps modulo
# 2^32 on CPU SIMD/scalar units and on CUDA: the same bits as the int64 definition above.

def _as_i32(words: torch.Tensor) -> torch.Tensor:
    """int64 32-bit words [...] -> int32 lanes holding the same bit patterns."""
    return (words - ((words >> 31) << 32)).to(torch.int32)


class _Consts:
    """The kernels' scalars as 0-dim tensors on one device, with the values torch casts the
    Python scalars to (int32 lanes; float32 for float32 operands, float64 for float64): the
    same results, without a scalar conversion per operation (~1.5 us on a CPU, a third of a
    cache-sized operation)."""

    INT = KERNEL_INT
    F32 = KERNEL_F32

    def __init__(self, device) -> None:
        for name, v in self.INT.items():
            setattr(self, "i_" + name, torch.tensor(v, dtype=torch.int32, device=device))
        for name, x in self.F32.items():
            setattr(self, "f_" + name, torch.tensor(x, dtype=torch.float32, device=device))
        self.d_offset = torch.tensor(2.0**31 + 0.5, dtype=torch.float64, device=device)

    def __getattr__(self, name: str) -> torch.Tensor:
        """Only reached for a name that is not set (the ``i_*``/``f_*`` tensors are instance
        attributes): an AttributeError; tells type checkers that the attributes are tensors."""
        raise AttributeError(f"{type(self).__name__} has no constant {name!r}")


_CONSTS: dict = {}


def _consts(device: torch.device) -> _Consts:
    found = _CONSTS.get(device)
    if found is None:
        found = _CONSTS[device] = _Consts(device)
    return found


def _mix32_i32_(x: torch.Tensor, tmp: torch.Tensor, c: _Consts) -> torch.Tensor:
    """:func:`mix32` in place on int32 lanes (``tmp``: scratch of the same shape)."""
    torch.bitwise_right_shift(x, c.i_s16, out=tmp)
    x.bitwise_xor_(tmp.bitwise_and_(c.i_m16))
    x.mul_(c.i_mul1)
    torch.bitwise_right_shift(x, c.i_s15, out=tmp)
    x.bitwise_xor_(tmp.bitwise_and_(c.i_m17))
    x.mul_(c.i_mul2)
    torch.bitwise_right_shift(x, c.i_s15, out=tmp)
    return x.bitwise_xor_(tmp.bitwise_and_(c.i_m17))


def _rounds_i32_(x: torch.Tensor, tmp: torch.Tensor, k1: torch.Tensor,
                 k2: torch.Tensor) -> torch.Tensor:
    """``mix(mix(mix(x) ^ k1) ^ k2)`` in place (``x`` already holds ``c ^ k0``)."""
    c = _consts(x.device)
    _mix32_i32_(x, tmp, c)
    x.bitwise_xor_(k1)
    _mix32_i32_(x, tmp, c)
    x.bitwise_xor_(k2)
    return _mix32_i32_(x, tmp, c)


class _Keys:
    """Round keys of ``[R]`` streams as int32 lanes, viewed to broadcast over ``[R, ...]``."""

    def __init__(self, seeds: torch.Tensor, tag, dims: int) -> None:
        view = (-1,) + (1,) * dims
        self.k = [_as_i32(k).view(view) for k in stream_keys(seeds, tag)]

    def rows(self, a: int, b: int):
        return [k[a:b] for k in self.k]


def uniform_bits(seeds: torch.Tensor, tag, counters: torch.Tensor) -> torch.Tensor:
    """32 random bits per counter: ``bits(c)`` of stream ``(seeds[r], tag)``.

    :input seeds: [R] int64 in ``[0, 2^63)``, one stream per row.
    :input counters: [R, ...] int64 in ``[0, 2^32)`` (not checked: callers
        bound their indices, see :data:`MAX_INDEX`).
    :output bits: [R, ...] int64 in ``[0, 2^32)``, on the counters' device.
    """
    seeds = _check_seeds(seeds)
    if counters.shape[:1] != seeds.shape:
        raise ValueError(f"counters need one row per seed ({tuple(seeds.shape)}), got shape "
                         f"{tuple(counters.shape)}")
    keys = _Keys(seeds, tag, counters.dim() - 1)
    out = torch.empty(counters.shape, dtype=torch.int64, device=counters.device)
    per_row = counters[0].numel() if counters.shape[0] else 0
    for a, b in _chunks(counters.shape[0], per_row, counters.device):
        k0, k1, k2 = keys.rows(a, b)
        x = torch.bitwise_xor(_as_i32(counters[a:b]), k0)
        _rounds_i32_(x, torch.empty_like(x), k1, k2)
        out[a:b] = x                                   # sign-extended ...
        out[a:b].bitwise_and_(MASK32)                  # ... back to the word
    return out


def bits_to_uniform(bits: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """``(bits + 1/2) 2^-32`` in ``(0, 1]``, rounded to ``dtype`` (bit-identical on every device)."""
    return (bits.to(dtype) + 0.5) * 2.0**-32


def uniform(seeds: torch.Tensor, tag, index: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """U(0, 1] draws ``u(index)`` of streams ``(seeds[r], tag)``.

    :input seeds: [R] int64; :input index: [R, ...] int64 in ``[0, 2^32)``.
    :output u: [R, ...] ``dtype``.
    """
    return bits_to_uniform(uniform_bits(seeds, tag, index), dtype)


# -- Box-Muller: the definition (any dtype; float64 draws use it) ----------------------------

def _minus_log_uniform(bits: torch.Tensor, dtype) -> torch.Tensor:
    """``-ln u`` for ``u = (bits + 1/2) 2^-32``, from +, -, *, / and bit operations only.

    ``v = 2 bits + 1`` (``u = v 2^-33``) is rounded to ``dtype``; its exponent
    and mantissa ``f`` in ``[1, 2)`` are read from the IEEE bit pattern, ``f``
    is halved when ``>= sqrt 2``, and ``ln f = 2 s (1 + s^2/3 + ... + s^8/9)``,
    ``s = (f - 1)/(f + 1)``, ``|s| < 0.172`` (truncation < 3e-9 relative).

    :input bits: [...] int64 in ``[0, 2^32)``. This is the reference formulation;
    float32 draws run the same operations in :func:`_box_muller_f32_`.
    """
    if dtype == torch.float64:
        itype, mant_bits, bias = torch.int64, 52, 1023
    else:
        itype, mant_bits, bias = torch.int32, 23, 127
    v = (bits * 2 + 1).to(dtype).view(itype)
    e = (v >> mant_bits) - bias                          # v >= 1: sign bit clear
    f = ((v & ((1 << mant_bits) - 1)) | (bias << mant_bits)).view(dtype)   # [1, 2)
    high = (f >= _SQRT_TWO).to(dtype)
    f = f * (1 - 0.5 * high)                             # [1/sqrt 2, sqrt 2), exact
    k = (e.to(dtype) + high) - 33
    s = (f - 1) / (f + 1)
    t = s * s
    p = t * (1.0 / 9) + (1.0 / 7)
    p = p * t + (1.0 / 5)
    p = p * t + (1.0 / 3)
    p = p * t + 1.0
    return -(s * p * 2 + k * _LN2)


def _exact_sqrt_(x: torch.Tensor, scratch: torch.Tensor | None = None) -> torch.Tensor:
    """Correctly rounded square root of ``x`` (float32 or float64), in place, on every device.

    ``torch.sqrt`` is not correctly rounded: on this project's CPU machines (torch 2.14,
    AVX512 kernels) 16 % of float32 roots and 1.3 % of float64 roots are one ulp off
    (checked in exact rational arithmetic), and on an H200 CUDA's float32 roots differed
    from those for 0.7 % of the inputs. IEEE 754 requires a correctly rounded sqrt, which
    the processors' own instructions give: on the CPU numpy's ``sqrt`` (the hardware
    instruction), on CUDA the float64 root (NVIDIA: 0 ulp; ``-use_fast_math`` touches only
    single precision); a float32 root is the float64 root rounded to float32 (double
    rounding is innocuous for sqrt: 53 >= 2 * 24 + 2 bits). ``scratch``: an optional float64
    buffer of ``x``'s size (off the CPU, to avoid an allocation). Other devices (MPS: no
    float64) fall back to ``torch.sqrt`` and are not bit-identical.
    """
    if x.device.type == "cpu":
        a = x.numpy()
        np.sqrt(a, out=a)
        return x
    if x.dtype != torch.float32 or x.device.type == "mps":
        return x.sqrt_()
    wide = x.double() if scratch is None else scratch.view(x.shape).copy_(x)
    return x.copy_(wide.sqrt_())

def _unit_phasor(bits: torch.Tensor, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cos, sin)`` of ``2 pi u``: octant from the top 3 bits, the angle in
    ``(0, pi/4)`` from the other 29 (mirrored in odd octants), sine by its
    Taylor series to ``theta^9`` (truncation < 2e-9), cosine = sqrt(1 - sin^2);
    octant swaps and signs by exact multiplications with 0/1 (reference
    formulation, see :func:`_minus_log_uniform`)."""
    octant = bits >> 29
    r = (bits & _MASK29) ^ ((octant & 1) * _MASK29)      # odd octants: 2^29 - 1 - r
    theta = (r.to(dtype) + 0.5) * (math.pi / 4 * 2.0**-29)
    t = theta * theta
    p = t * (1.0 / 362880) - (1.0 / 5040)
    p = p * t + (1.0 / 120)
    p = p * t - (1.0 / 6)
    p = p * t + 1.0
    sin = theta * p
    cos = _exact_sqrt_(1 - sin * sin)
    flags = torch.stack([((octant + 1) >> 1) & 1, ((octant + 2) >> 2) & 1,
                         (octant >> 2) & 1]).to(dtype)
    swap, keep = flags[0], 1 - flags[0]
    first = (cos * keep + sin * swap) * (1 - 2 * flags[1])
    second = (sin * keep + cos * swap) * (1 - 2 * flags[2])
    return first, second


# -- Box-Muller in float32: the same operations in place, selections and signs as bit ops ----

class _Scratch:
    """Work buffers of one chunk of ``n`` float32 draws (reused across chunks)."""

    def __init__(self, n: int, device) -> None:
        self.x = torch.empty(2, n, dtype=torch.int32, device=device)    # the two counters' words
        self.t = torch.empty(2, n, dtype=torch.int32, device=device)
        self.f64 = torch.empty(n, dtype=torch.float64, device=device)
        self.f = torch.empty(4, n, dtype=torch.float32, device=device)

    def take(self, n: int):
        return (self.x[:, :n], self.t[:, :n], self.f64[:n]) + tuple(self.f[:, :n])


def _box_muller_f32_(x: torch.Tensor, t: torch.Tensor, f64: torch.Tensor, a: torch.Tensor,
                     b: torch.Tensor, g: torch.Tensor, p: torch.Tensor,
                     out: torch.Tensor) -> None:
    """CN(0, 1) in float32 from the words ``x`` ([2, n] int32: radius, phase) into
    ``out`` ([2, n] float32 view: real, imaginary), bit-identical to
    :func:`_minus_log_uniform` and :func:`_unit_phasor`: the same IEEE operations on
    the same values in the same order, in place; the 0/1 selections and sign flips
    are done on bit patterns (exact, as the multiplications by 0/1 and +-1 are).
    ``t``, ``f64``, ``a``, ``b``, ``g``, ``p``: scratch (clobbered)."""
    c = _consts(x.device)
    s0, s1 = x[0], x[1]
    t0, t1 = t[0], t[1]
    # radius: w = float32(b + 1/2) = float32(2 b + 1) / 2 (b + 1/2 is exact in float64)
    torch.bitwise_xor(s0, c.i_int_min, out=t0)              # b - 2^31
    f64.copy_(t0).add_(c.d_offset)
    a.copy_(f64)
    q = a.view(torch.int32)
    torch.add(q, c.i_carry, out=t0).bitwise_right_shift_(c.i_s23)   # exponent of w + [f >= sqrt 2]
    b.copy_(t0).sub_(c.f_k_off)                             # k = e(2b + 1) + high - 33
    q.sub_(t0.sub_(c.i_bias).bitwise_left_shift_(c.i_s23))  # f, halved when >= sqrt 2
    torch.add(a, c.f_one, out=p)
    a.sub_(c.f_one).div_(p)                                 # s = (f - 1) / (f + 1)
    torch.mul(a, a, out=g)                                  # s^2
    torch.mul(g, c.f_l9, out=p).add_(c.f_l7)
    p.mul_(g).add_(c.f_l5)
    p.mul_(g).add_(c.f_l3)
    p.mul_(g).add_(c.f_one)
    _exact_sqrt_(a.mul_(p).mul_(c.f_two).add_(b.mul_(c.f_ln2)).neg_(), f64)   # radius = sqrt(-ln u)
    # phase: r from the low 29 bits, mirrored in odd octants
    torch.bitwise_left_shift(s1, c.i_two, out=t1).bitwise_right_shift_(c.i_s31)  # -1: odd octant
    t1.bitwise_xor_(s1).bitwise_and_(c.i_m29)
    b.copy_(t1).add_(c.f_half).mul_(c.f_theta)              # theta
    torch.mul(b, b, out=g)
    torch.mul(g, c.f_s9, out=p).sub_(c.f_s7)
    p.mul_(g).add_(c.f_s5)
    p.mul_(g).sub_(c.f_s3)
    p.mul_(g).add_(c.f_one)
    b.mul_(p)                                               # sin theta
    _exact_sqrt_(torch.mul(b, b, out=g).neg_().add_(c.f_one), f64)   # cos theta
    # octant o = top 3 bits: swap = o0 ^ o1, sign of the first = o1 ^ o2, of the second = o2
    gb, sb = g.view(torch.int32), b.view(torch.int32)
    torch.bitwise_left_shift(s1, c.i_one, out=t1).bitwise_xor_(s1)   # bit 31: o2^o1, 30: o1^o0
    torch.bitwise_xor(gb, sb, out=t0)                       # d = cos ^ sin
    torch.bitwise_left_shift(t1, c.i_one, out=s0).bitwise_right_shift_(c.i_s31)
    gb.bitwise_xor_(s0.bitwise_and_(t0))                    # first: sin if swap else cos
    torch.bitwise_xor(gb, t0, out=sb)                       # second: the other one
    gb.bitwise_xor_(t1.bitwise_and_(c.i_int_min))
    sb.bitwise_xor_(torch.bitwise_and(s1, c.i_int_min, out=t0))
    torch.mul(a, g, out=out[0])
    torch.mul(a, b, out=out[1])


#: ``SEMLINK_FUSED_DRAWS``: ``auto`` (default: the fused Triton kernel for float32 draws on
#: CUDA when Triton is installed), ``0`` (never: the torch kernels), ``1`` (always, also on
#: CPU tensors, which needs Triton's interpreter: for tests)
FUSED_ENV = "SEMLINK_FUSED_DRAWS"


@functools.cache
def _triton_installed() -> bool:
    return find_spec("triton") is not None


def fused_draws(device: torch.device, dtype) -> bool:
    """Whether float32 Gaussians on ``device`` come from the fused Triton kernel
    (:mod:`semlink.phy.counter_rng_kernels`: the same numbers, one launch) rather than the
    torch kernels (:data:`FUSED_ENV`)."""
    mode = os.environ.get(FUSED_ENV, "auto").strip().lower()
    if mode not in ("auto", "0", "1"):
        raise ValueError(f"{FUSED_ENV}={mode!r}: use auto, 0 (torch kernels) or 1 (the Triton "
                         "kernel, also on the CPU in Triton's interpreter)")
    if dtype != torch.float32 or mode == "0":
        return False
    if mode == "1":
        return True
    return torch.device(device).type == "cuda" and _triton_installed()


def _complex_normal_chunks(seeds: torch.Tensor, tag, shape, device, dtype, fill,
                           start: torch.Tensor | None = None,
                           index: torch.Tensor | None = None) -> torch.Tensor:
    """CN(0, 1) draws of ``shape`` = [R, ...]: ``fill(x0, a, b)`` writes the draw
    numbers of rows ``a:b`` (int32, flat) into ``x0``; counters ``2t``, ``2t + 1``.
    The fused kernel (:func:`fused_draws`) reads the same draw numbers from ``start``
    ([R] int32: ``start[r] + arange``) or ``index`` ([R, ...])."""
    cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    rows = shape[0]
    per_row = math.prod(shape[1:]) if rows else 0
    keys = _Keys(seeds, tag, 1)
    if rows and per_row and fused_draws(device, dtype):
        from .counter_rng_kernels import complex_normal_f32

        return complex_normal_f32(keys.k, rows, per_row, start=start,
                                  index=index).view(shape)
    out = torch.empty(shape, dtype=cdtype, device=device)
    if out.numel() == 0:
        return out
    chunks = list(_chunks(rows, per_row, device))
    scratch = _Scratch(max(b - a for a, b in chunks) * per_row, device)
    for a, b in chunks:
        n = (b - a) * per_row
        x, t, f64, fa, fb, fc, fp = scratch.take(n)
        k0, k1, k2 = keys.rows(a, b)
        xv, tv = x.view(2, b - a, per_row), t.view(2, b - a, per_row)
        fill(x[0], a, b)
        xv[0].bitwise_left_shift_(1).bitwise_xor_(k0)       # counter 2t ^ k0
        torch.bitwise_xor(xv[0], 1, out=xv[1])              # counter 2t + 1 ^ k0
        _rounds_i32_(xv, tv, k1, k2)
        o = torch.view_as_real(out[a:b]).view(n, 2)
        if dtype == torch.float64:
            bits = x.to(torch.int64).bitwise_and_(MASK32)
            radius = _exact_sqrt_(_minus_log_uniform(bits[0], dtype))
            first, second = _unit_phasor(bits[1], dtype)
            torch.mul(radius, first, out=o[:, 0])
            torch.mul(radius, second, out=o[:, 1])
        else:
            _box_muller_f32_(x, t, f64, fa, fb, fc, fp, o.t())
    return out


def complex_normal(seeds: torch.Tensor, tag, index: torch.Tensor,
                   dtype=torch.float32) -> torch.Tensor:
    """CN(0, 1) draws (``E|n|^2 = 1``, variance 1/2 per real dimension) by Box-Muller.

    Draw ``t`` of a stream uses counters ``2t`` (radius ``sqrt(-ln u)``) and
    ``2t + 1`` (phase ``2 pi u``). The transform uses only IEEE-exact
    operations (+, -, *, /, sqrt, frexp, comparisons), no ``log``/``sin``
    from a math library, so the Gaussians too are bit-identical on every
    device and at every position in a batch.

    :input seeds: [R] int64 in ``[0, 2^63)``, one stream per row.
    :input tag: what is drawn (``"noise"``, ``"fading"``, ... or your own int/str).
    :input index: [R, ...] int64 in ``[0, MAX_INDEX]``, the draw numbers.
    :output n: [R, ...] complex of ``dtype`` (float32 -> complex64), on the index's device.

    >>> seeds = torch.tensor([1, 2], dtype=torch.int64, device="cpu")
    >>> complex_normal(seeds, "noise", torch.arange(3, device="cpu").expand(2, 3)).shape
    torch.Size([2, 3])
    """
    seeds = _check_seeds(seeds)
    if index.shape[:1] != seeds.shape:
        raise ValueError(f"index needs one row per seed ({tuple(seeds.shape)}), got shape "
                         f"{tuple(index.shape)}")

    def fill(x0, a, b):
        x0.view(index[a:b].shape).copy_(index[a:b])        # < 2^31: exact in int32

    return _complex_normal_chunks(seeds, tag, tuple(index.shape), index.device, dtype, fill,
                                  index=index)


def complex_normal_rows(seeds: torch.Tensor, tag, start: torch.Tensor, width: int,
                        dtype=torch.float32) -> torch.Tensor:
    """CN(0, 1) draws ``start[r], ..., start[r] + width - 1`` of each row's stream:
    :func:`complex_normal` with ``index = start[:, None] + arange(width)`` (the same
    numbers), without building the index (what a channel's noise uses).

    :input seeds: [R] int64; :input start: [R] int64, ``start + width - 1 <= MAX_INDEX``.
    :output n: [R, width] complex of ``dtype``, on the seeds' device.
    """
    seeds = _check_seeds(seeds)
    if start.shape != seeds.shape:
        raise ValueError(f"start needs one entry per seed ({tuple(seeds.shape)}), got shape "
                         f"{tuple(start.shape)}")
    width = int(width)
    if width < 0:
        raise ValueError(f"width must be >= 0, got {width}")
    device = seeds.device
    start32 = start.to(torch.int32).view(-1, 1)
    cols = torch.arange(width, dtype=torch.int32, device=device)

    def fill(x0, a, b):
        torch.add(start32[a:b], cols, out=x0.view(b - a, width))

    return _complex_normal_chunks(seeds, tag, (seeds.shape[0], width), device, dtype, fill,
                                  start=start32)


def normal(seeds: torch.Tensor, tag, index: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """N(0, 1) real draws: ``sqrt(2) Re`` of :func:`complex_normal` (same arguments)."""
    return complex_normal(seeds, tag, index, dtype).real * math.sqrt(2.0)
