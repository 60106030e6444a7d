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

Generator ``counter-hash-v1`` (:data:`NAME`), all in int64 tensor arithmetic
on the chain's device, every intermediate value in ``[0, 2^63)`` (32-bit
words; every product is of a 32-bit word with a constant below ``2^31``), so
no signed overflow occurs and CPU and CUDA compute bit-identical integers:

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
CUDA and at every position of a batch: after the int64 rounds only IEEE
operations that are correctly rounded everywhere are used (+, -, *, /, sqrt,
int <-> float conversion, bit views). ``ln u`` is an atanh series on the
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
items. On the CPU the work is cut into cache-sized chunks (the integer rounds
are memory-bound otherwise); on CUDA into chunks of 2^25 counters.
"""

from __future__ import annotations

import math
import zlib

import torch

#: Name recorded in results for noise drawn by this module.
NAME = "counter-hash-v1"
#: Name recorded for the earlier scheme (one ``torch.Generator`` per item, device dependent).
LEGACY_NAME = "torch-per-item"

MASK32 = 0xFFFFFFFF
MUL1, MUL2 = 0x21F0AAAD, 0x735A2D97
GOLDEN = 0x9E3779B9
FEISTEL = (0x3C6EF372, 0xDAA66D2B, 0x78DDE6E4, 0x1715609D)
K2_SALT = 0xB54CDA56
#: Largest counter index ``t`` a stream may use (complex draws use counters 2t, 2t+1).
MAX_INDEX = 2**31 - 1

#: Tags of the built-in draws (what is drawn); plug-ins may use any other int or a string.
TAGS = {"noise": 0, "fading": 1, "pilot_noise": 2, "group_fading": 3}

_CPU_CHUNK = 1 << 16          # elements per chunk on the CPU (fits the L2 cache)
_GPU_CHUNK = 1 << 25          # elements per chunk elsewhere (256 MiB of int64 counters)
_MASK29 = (1 << 29) - 1
_LN2 = math.log(2.0)
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


def _mix32_(x: torch.Tensor, tmp: torch.Tensor) -> torch.Tensor:
    """:func:`mix32` in place (``tmp``: scratch of the same shape)."""
    torch.bitwise_right_shift(x, 16, out=tmp)
    x.bitwise_xor_(tmp)
    x.mul_(MUL1).bitwise_and_(MASK32)
    torch.bitwise_right_shift(x, 15, out=tmp)
    x.bitwise_xor_(tmp)
    x.mul_(MUL2).bitwise_and_(MASK32)
    torch.bitwise_right_shift(x, 15, out=tmp)
    return x.bitwise_xor_(tmp)


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
    """Row ranges of about ``_CPU_CHUNK`` elements on the CPU (cache-sized), of
    ``_GPU_CHUNK`` elsewhere (bounded temporaries, few kernel launches)."""
    size = _CPU_CHUNK if device.type == "cpu" else _GPU_CHUNK
    if rows * per_row <= size:
        yield 0, rows
        return
    step = max(1, size // max(per_row, 1))
    for start in range(0, rows, step):
        yield start, min(rows, start + step)


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
    k0, k1, k2 = stream_keys(seeds, tag)
    view = (-1,) + (1,) * (counters.dim() - 1)
    out = torch.empty(counters.shape, dtype=torch.int64, device=counters.device)
    per_row = counters[0].numel() if counters.shape[0] else 0
    for a, b in _chunks(counters.shape[0], per_row, counters.device):
        x = out[a:b]
        torch.bitwise_xor(counters[a:b], k0[a:b].view(view), out=x)
        tmp = torch.empty_like(x)
        _mix32_(x, tmp)
        x.bitwise_xor_(k1[a:b].view(view))
        _mix32_(x, tmp)
        x.bitwise_xor_(k2[a:b].view(view))
        _mix32_(x, tmp)
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


def _minus_log_uniform(bits: torch.Tensor, dtype) -> torch.Tensor:
    """``-ln u`` for ``u = (bits + 1/2) 2^-32``, from +, -, *, / and bit operations only.

    ``v = 2 bits + 1`` (``u = v 2^-33``) is rounded to ``dtype``; its exponent
    and mantissa ``f`` in ``[1, 2)`` are read from the IEEE bit pattern, ``f``
    is halved when ``>= sqrt 2``, and ``ln f = 2 s (1 + s^2/3 + ... + s^8/9)``,
    ``s = (f - 1)/(f + 1)``, ``|s| < 0.172`` (truncation < 3e-9 relative).
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


def _unit_phasor(bits: torch.Tensor, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cos, sin)`` of ``2 pi u``: octant from the top 3 bits, the angle in
    ``(0, pi/4)`` from the other 29 (mirrored in odd octants), sine by its
    Taylor series to ``theta^9`` (truncation < 2e-9), cosine = sqrt(1 - sin^2);
    octant swaps and signs by exact multiplications with 0/1."""
    octant = bits >> 29
    r = (bits & _MASK29) ^ ((octant & 1) * _MASK29)      # odd octants: 2^29 - 1 - r
    theta = (r.to(dtype) + 0.5) * (math.pi / 4 * 2.0**-29)
    t = theta * theta
    p = t * (1.0 / 362880) - (1.0 / 5040)
    p = p * t + (1.0 / 120)
    p = p * t - (1.0 / 6)
    p = p * t + 1.0
    sin = theta * p
    cos = torch.sqrt(1 - sin * sin)
    flags = torch.stack([((octant + 1) >> 1) & 1, ((octant + 2) >> 2) & 1,
                         (octant >> 2) & 1]).to(dtype)
    swap, keep = flags[0], 1 - flags[0]
    first = (cos * keep + sin * swap) * (1 - 2 * flags[1])
    second = (sin * keep + cos * swap) * (1 - 2 * flags[2])
    return first, second


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
    cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    out = torch.empty(index.shape, dtype=cdtype, device=index.device)
    k0, k1, k2 = stream_keys(seeds, tag)
    view = (-1,) + (1,) * (index.dim() - 1)
    per_row = 2 * (index[0].numel() if index.shape[0] else 0)
    for a, b in _chunks(index.shape[0], per_row, index.device):
        x = torch.stack([index[a:b] * 2, index[a:b] * 2 + 1])      # [2, r, ...] counters
        tmp = torch.empty_like(x)
        x.bitwise_xor_(k0[a:b].view(view))
        _mix32_(x, tmp)
        x.bitwise_xor_(k1[a:b].view(view))
        _mix32_(x, tmp)
        x.bitwise_xor_(k2[a:b].view(view))
        _mix32_(x, tmp)
        radius = torch.sqrt(_minus_log_uniform(x[0], dtype))
        cos, sin = _unit_phasor(x[1], dtype)
        out[a:b] = torch.complex(radius * cos, radius * sin)
    return out


def normal(seeds: torch.Tensor, tag, index: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """N(0, 1) real draws: ``sqrt(2) Re`` of :func:`complex_normal` (same arguments)."""
    return complex_normal(seeds, tag, index, dtype).real * math.sqrt(2.0)
