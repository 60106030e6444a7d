"""The constants of generator ``counter-hash-v2`` (:mod:`semlink.phy.counter_rng`), shared by
its torch kernels and the fused Triton kernel (:mod:`semlink.phy.counter_rng_kernels`), so
the two compute with the same numbers."""

from __future__ import annotations

import math

MASK32 = 0xFFFFFFFF
MUL1, MUL2 = 0x21F0AAAD, 0x735A2D97
GOLDEN = 0x9E3779B9
FEISTEL = (0x3C6EF372, 0xDAA66D2B, 0x78DDE6E4, 0x1715609D)
K2_SALT = 0xB54CDA56
MASK29 = (1 << 29) - 1
INT_MIN = -(1 << 31)          # the sign bit of an int32 lane
#: 2^23 - mantissa of float32(sqrt 2) (0x3FB504F3): a float32 mantissa field plus this carries
#: into the exponent field exactly when ``f >= sqrt 2`` (compared in float32, as torch does)
SQRT2_CARRY = (1 << 23) - 0x3504F3
LN2 = math.log(2.0)

#: the kernels' integer scalars (int32 lanes)
KERNEL_INT = {"m16": 0xFFFF, "m17": 0x1FFFF, "mul1": MUL1, "mul2": MUL2, "one": 1, "two": 2,
              "s15": 15, "s16": 16, "s23": 23, "s31": 31, "bias": 127, "int_min": INT_MIN,
              "m29": MASK29, "carry": SQRT2_CARRY}
#: the kernels' float scalars (rounded to float32 where they meet float32 operands)
KERNEL_F32 = {"one": 1.0, "two": 2.0, "half": 0.5, "k_off": 159.0, "ln2": LN2,
              "theta": math.pi / 4 * 2.0**-29, "l9": 1.0 / 9, "l7": 1.0 / 7, "l5": 1.0 / 5,
              "l3": 1.0 / 3, "s9": 1.0 / 362880, "s7": 1.0 / 5040, "s5": 1.0 / 120,
              "s3": 1.0 / 6}
