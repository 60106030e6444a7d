"""The counter-based generator (phy/counter_rng.py): reference values, an independent
pure-Python implementation, statistics, batch and device invariance."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from semlink.phy import counter_rng as cr

# -- an independent implementation, written from the module docstring's definition -----
M32 = 0xFFFFFFFF


def _mix(x: int) -> int:
    x ^= x >> 16
    x = (x * 0x21F0AAAD) & M32
    x ^= x >> 15
    x = (x * 0x735A2D97) & M32
    return x ^ (x >> 15)


def _keys(seed: int, tag: int):
    t = _mix((tag + 0x9E3779B9) & M32)
    lo, hi = seed & M32, seed >> 32
    for r in (0x3C6EF372, 0xDAA66D2B, 0x78DDE6E4, 0x1715609D):
        lo, hi = hi, lo ^ _mix(hi ^ r ^ t)
    return lo, hi, _mix(lo ^ _mix(hi ^ 0xB54CDA56))


def _bits(seed: int, tag: int, counter: int) -> int:
    k0, k1, k2 = _keys(seed, tag)
    return _mix(_mix(_mix(counter ^ k0) ^ k1) ^ k2)


def _box_muller(seed: int, tag: int, t: int) -> complex:
    """CN(0,1) draw t with the math library (float64): the definition, not the kernel."""
    u1 = (_bits(seed, tag, 2 * t) + 0.5) * 2.0**-32
    u2 = (_bits(seed, tag, 2 * t + 1) + 0.5) * 2.0**-32
    return math.sqrt(-math.log(u1)) * complex(math.cos(2 * math.pi * u2),
                                              math.sin(2 * math.pi * u2))


# (seed, tag, counter) -> bits, computed once (pure Python above and the torch kernels agree)
REFERENCE_BITS = [((0, 0, 0), 241454764), ((0, 0, 1), 1378725160), ((1, 0, 0), 2541596065),
                  ((2**62 + 5, 1, 7), 4245177481), ((2**63 - 1, 3, 2**32 - 1), 2298317470),
                  ((12345, 2, 1000), 3927441534)]
# complex_normal(seeds [7, 2^62+1], "noise", [[0, 1, 2], [0, 5, 2^31-1]]), float32, exact
# (counter-hash-v2: correctly rounded roots; also equal to _numpy_normals of the same words)
REFERENCE_NORMALS = [("0x1.f174acp-2", "-0x1.6c2a68p-3"), ("-0x1.40ed8ep-1", "0x1.16570ap-3"),
                     ("-0x1.64c0d8p-2", "-0x1.1c43b6p-3"), ("0x1.4ad4a6p-4", "0x1.5f4a14p-5"),
                     ("0x1.59dc0cp-3", "0x1.e6fe72p-1"), ("0x1.d12194p+0", "0x1.e80792p-4")]


def test_bits_equal_stored_reference_values_and_the_pure_python_implementation(device):
    for (seed, tag, counter), expected in REFERENCE_BITS:
        got = cr.uniform_bits(torch.tensor([seed], device=device), tag,
                              torch.tensor([[counter]], device=device))
        assert int(got.cpu()[0, 0]) == expected == _bits(seed, tag, counter)
    rng = np.random.default_rng(3)
    seeds = [int(s) for s in rng.integers(0, 2**63 - 1, 6, dtype=np.int64)]
    counters = torch.tensor([[0, 1, 2, 3, 1000, 2**31, 2**32 - 2, 2**32 - 1]] * 6, device=device)
    for tag in (0, 1, 2, 3, "phase"):
        got = cr.uniform_bits(torch.tensor(seeds, device=device), tag, counters).cpu()
        t = cr.tag_value(tag)
        want = [[_bits(s, t, int(c)) for c in counters[0].cpu()] for s in seeds]
        assert got.tolist() == want


def test_gaussians_equal_stored_reference_values_and_the_math_library_definition(device):
    seeds = torch.tensor([7, 2**62 + 1], device=device)
    index = torch.tensor([[0, 1, 2], [0, 5, 2**31 - 1]], device=device)
    n = cr.complex_normal(seeds, "noise", index).cpu().flatten()
    want = torch.tensor([complex(float.fromhex(re), float.fromhex(im))
                         for re, im in REFERENCE_NORMALS], dtype=torch.complex64)
    assert torch.equal(n, want)                 # bit for bit, on every device
    pairs = [(7, 0), (7, 1), (7, 2), (2**62 + 1, 0), (2**62 + 1, 5), (2**62 + 1, 2**31 - 1)]
    tag = cr.tag_value("noise")
    words = np.array([[_bits(sd, tag, 2 * t) for sd, t in pairs],
                      [_bits(sd, tag, 2 * t + 1) for sd, t in pairs]], dtype=np.int64)
    independent = torch.from_numpy(_numpy_normals(words))
    assert torch.equal(torch.view_as_real(want).t().contiguous(), independent)
    for k, (s, t) in enumerate([(7, 0), (7, 1), (7, 2), (2**62 + 1, 0), (2**62 + 1, 5),
                                (2**62 + 1, 2**31 - 1)]):
        assert abs(complex(n[k]) - _box_muller(s, 0, t)) < 2e-6
    # float64 Box-Muller: accurate to the series truncation (~1e-8)
    seeds = torch.arange(1, 41, device=device)
    index = torch.arange(50, device=device).expand(40, 50)
    n64 = cr.complex_normal(seeds, 1, index, torch.float64).cpu()
    ref = torch.tensor([[_box_muller(s, 1, t) for t in range(50)] for s in range(1, 41)],
                       dtype=torch.complex128)
    assert (n64 - ref).abs().max() < 5e-8


def _reference_normals(words: torch.Tensor) -> torch.Tensor:
    """float32 CN(0, 1) from [2, n] int64 words by the module's reference formulation."""
    radius = cr._exact_sqrt_(cr._minus_log_uniform(words[0], torch.float32))
    first, second = cr._unit_phasor(words[1], torch.float32)
    return torch.stack([radius * first, radius * second])


def _numpy_normals(words: np.ndarray) -> np.ndarray:
    """The float32 definition again, in numpy's IEEE float32 arithmetic (numpy's sqrt is the
    processor's correctly rounded one): [2, n] int64 words -> [2, n] float32 (re, im)."""
    f32 = np.float32
    v = (words[0] * 2 + 1).astype(np.float32).view(np.int32)
    e = (v >> 23) - 127
    f = ((v & 0x7FFFFF) | (127 << 23)).view(np.float32)
    high = (f >= f32(math.sqrt(2.0))).astype(np.float32)
    f = f * (f32(1) - f32(0.5) * high)
    k = (e.astype(np.float32) + high) - f32(33)
    s = (f - f32(1)) / (f + f32(1))
    t = s * s
    p = t * f32(1.0 / 9) + f32(1.0 / 7)
    p = p * t + f32(1.0 / 5)
    p = p * t + f32(1.0 / 3)
    p = p * t + f32(1)
    radius = np.sqrt(-(s * p * f32(2) + k * f32(math.log(2.0))))
    octant = words[1] >> 29
    r = (words[1] & (2**29 - 1)) ^ ((octant & 1) * (2**29 - 1))
    theta = (r.astype(np.float32) + f32(0.5)) * f32(math.pi / 4 * 2.0**-29)
    t = theta * theta
    p = t * f32(1.0 / 362880) - f32(1.0 / 5040)
    p = p * t + f32(1.0 / 120)
    p = p * t - f32(1.0 / 6)
    p = p * t + f32(1)
    sin = theta * p
    cos = np.sqrt(f32(1) - sin * sin)
    swap = (((octant + 1) >> 1) & 1).astype(bool)
    first = np.where(swap, sin, cos) * np.where(((octant + 2) >> 2) & 1, f32(-1), f32(1))
    second = np.where(swap, cos, sin) * np.where((octant >> 2) & 1, f32(-1), f32(1))
    return np.stack([radius * first, radius * second])


def test_float32_kernel_equals_the_reference_formulation_bit_for_bit(device):
    """The in-place float32 Box-Muller (int32 lanes, bit-pattern selections) gives the
    bits of the readable reference (_minus_log_uniform, _unit_phasor), signed zeros
    included, on edge words (0, 2^32 - 1, octant borders, the sqrt 2 mantissa
    threshold) and a million random ones."""
    edges = [0, 1, 2, 2**23 - 1, 2**23, 2**24 - 1, 2**24, 2**31 - 1, 2**31, 2**32 - 2,
             2**32 - 1]
    edges += [(o << 29) + d for o in range(8) for d in (0, 1, 2**29 - 2, 2**29 - 1)]
    # words whose 2b + 1 rounds to mantissas next to float32(sqrt 2) = 0x3FB504F3
    for e in range(0, 9):
        for m in (0x3504F2, 0x3504F3, 0x3504F4):
            edges += [((1 << 23 | m) << e) >> 1, (((1 << 23 | m) << e) >> 1) + 1]
    edges = [w for w in edges if 0 <= w < 2**32]
    rng = np.random.default_rng(11)
    rand = rng.integers(0, 2**32, size=(2, 1 << 20), dtype=np.int64)
    grid = np.array([[a for a in edges for _ in edges], [b for _ in edges for b in edges]])
    words = torch.from_numpy(np.concatenate([grid, rand], axis=1)).to(device)
    n = words.shape[1]
    x = cr._as_i32(words)
    f = torch.empty(4, n, dtype=torch.float32, device=device)
    got = torch.empty(n, 2, dtype=torch.float32, device=device)
    cr._box_muller_f32_(x, torch.empty_like(x), torch.empty(n, dtype=torch.float64, device=device),
                        f[0], f[1], f[2], f[3], got.t())
    want = _reference_normals(words)
    assert torch.equal(got.t().contiguous().view(torch.int32), want.view(torch.int32))
    independent = torch.from_numpy(_numpy_normals(words.cpu().numpy()))
    assert torch.equal(want.cpu().view(torch.int32), independent.view(torch.int32))


def test_channel_noise_rows_equal_indexed_draws_in_any_chunking(device, monkeypatch):
    """complex_normal_rows (a channel's noise) = complex_normal on the explicit index,
    whatever the chunk size (several rows per chunk, one row, a partial last chunk)."""
    seeds = torch.arange(37, device=device) * 1000003 + 5
    start = (torch.arange(37, device=device) * 611) % 2000 + (2**31 - 2600)   # up to MAX_INDEX
    index = start.unsqueeze(1) + torch.arange(600, device=device)
    want = cr.complex_normal(seeds, "noise", index)
    for chunk in (1 << 15, 4096, 600, 1):
        monkeypatch.setattr(cr, "_CPU_CHUNK", chunk)
        monkeypatch.setattr(cr, "_GPU_CHUNK", chunk)
        got = cr.complex_normal_rows(seeds, "noise", start, 600)
        assert torch.equal(got, want), chunk
        assert torch.equal(cr.complex_normal(seeds, "noise", index), want), chunk
    assert cr.complex_normal_rows(seeds, 0, start, 0).shape == (37, 0)
    with pytest.raises(ValueError, match="start needs one entry per seed"):
        cr.complex_normal_rows(seeds, 0, start[:3], 4)


def test_uniforms_are_uniform_and_neighbours_uncorrelated(device):
    rows, width = 64, 4096
    seeds = torch.arange(1000, 1000 + rows, device=device)
    index = torch.arange(width, device=device).expand(rows, width)
    u = cr.uniform(seeds, "noise", index, torch.float64).cpu().numpy()
    n = u.size
    assert stats.kstest(u.ravel(), "uniform").pvalue > 1e-3
    # neighbouring counters of one stream, neighbouring items (seeds s, s+1), and two tags
    tol = 4.5 / math.sqrt(n)
    assert abs(np.corrcoef(u[:, :-1].ravel(), u[:, 1:].ravel())[0, 1]) < tol
    assert abs(np.corrcoef(u[:-1].ravel(), u[1:].ravel())[0, 1]) < tol
    other = cr.uniform(seeds, "fading", index, torch.float64).cpu().numpy()
    assert abs(np.corrcoef(u.ravel(), other.ravel())[0, 1]) < tol
    # the top and bottom bits are fair (a weak mixer fails one of them)
    bits = cr.uniform_bits(seeds, 0, index).cpu().numpy()
    for b in (0, 1, 16, 31):
        frac = ((bits >> b) & 1).mean()
        assert abs(frac - 0.5) < 4.5 * 0.5 / math.sqrt(n), b


def test_gaussians_have_unit_power_circular_symmetry_and_normal_tails(device):
    rows, width = 50, 4000
    seeds = torch.arange(rows, device=device) * 7919 + 3
    index = torch.arange(width, device=device).expand(rows, width)
    z = cr.complex_normal(seeds, "noise", index).cpu().numpy().ravel()
    n = z.size
    assert abs(np.mean(np.abs(z) ** 2) - 1.0) < 5 / math.sqrt(n)     # E|n|^2 = 1, var(|n|^2) = 1
    for part in (z.real, z.imag):
        assert abs(part.mean()) < 5 * math.sqrt(0.5 / n)
        assert abs(part.var() - 0.5) < 5 * 0.5 * math.sqrt(2 / n)
        assert stats.kstest(part * math.sqrt(2), "norm").pvalue > 1e-3
    assert abs(np.mean(z.real * z.imag)) < 5 * 0.5 / math.sqrt(n)
    # tail: P(|Re| > 3 sigma) = 2 Q(3)
    p3 = 2 * stats.norm.sf(3)
    frac = np.mean(np.abs(z.real) * math.sqrt(2) > 3)
    assert abs(frac - p3) < 5 * math.sqrt(p3 / n)
    real = cr.normal(seeds, "phase", index).cpu().numpy().ravel()
    assert abs(real.var() - 1.0) < 5 * math.sqrt(2 / n)


def test_draws_do_not_depend_on_the_batch_or_the_chunking(device):
    """A row's numbers are a function of (seed, tag, index) only: the same in a batch
    of 3 rows, of 300 rows (cut into cache-sized chunks on the CPU), or alone."""
    seeds = torch.arange(300, device=device) + 11
    index = torch.arange(777, device=device).expand(300, 777) + 5
    big = cr.complex_normal(seeds, "noise", index)
    for rows in (slice(0, 1), slice(140, 143), slice(299, 300)):
        small = cr.complex_normal(seeds[rows], "noise", index[rows])
        assert torch.equal(small, big[rows])
    part = cr.complex_normal(seeds[5:6], "noise", index[5:6, 333:400])
    assert torch.equal(part, big[5:6, 333:400])          # same position-free values


def test_bad_arguments():
    with pytest.raises(TypeError, match="int64"):
        cr.uniform_bits(torch.tensor([1.0]), 0, torch.zeros(1, 1, dtype=torch.int64))
    with pytest.raises(ValueError, match="one row per seed"):
        cr.complex_normal(torch.tensor([1, 2]), 0, torch.zeros(3, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"\[0, 2\^32\)"):
        cr.tag_value(-1)
    with pytest.raises(TypeError, match="int or a string"):
        cr.tag_value(True)
    assert cr.tag_value("noise") == 0 and cr.tag_value("phase") == cr.tag_value("phase") >= 2**31


@pytest.mark.gpu
def test_cpu_and_cuda_draw_bit_identical_numbers():
    seeds = torch.randint(0, 2**62, (257,), generator=torch.Generator().manual_seed(0),
                          device="cpu")
    index = torch.arange(3001, device="cpu").expand(257, 3001)
    for dtype in (torch.float32, torch.float64):
        cpu = cr.complex_normal(seeds, "noise", index, dtype)
        gpu = cr.complex_normal(seeds.to("cuda"), "noise", index.to("cuda"), dtype)
        assert torch.equal(cpu, gpu.cpu()), dtype
    assert torch.equal(cr.uniform_bits(seeds, 2, index),
                       cr.uniform_bits(seeds.cuda(), 2, index.cuda()).cpu())


def test_draws_take_correctly_rounded_roots_that_torch_sqrt_does_not_give():
    # torch.sqrt is not correctly rounded (16 % of float32 roots one ulp off on this
    # project's AVX512 CPUs; CUDA's float32 roots differ again): _exact_sqrt_ must give the
    # correctly rounded root, checked in exact rational arithmetic against the midpoints to
    # the neighbouring floats, and off the CPU it rounds the float64 root to float32, which
    # is the same value (checked here on the CPU with numpy's float64 root).
    from fractions import Fraction

    gen = torch.Generator().manual_seed(3)
    mant = torch.randint(0, 2**23, (1 << 16,), generator=gen, device="cpu", dtype=torch.int32)
    expo = torch.randint(1, 254, (1 << 16,), generator=gen, device="cpu", dtype=torch.int32)
    x = ((expo << 23) | mant).view(torch.float32)
    got = cr._exact_sqrt_(x.clone())
    via64 = np.sqrt(x.numpy().astype(np.float64)).astype(np.float32)
    assert np.array_equal(got.numpy().view(np.int32), via64.view(np.int32))
    for xv, yv in zip(x[:400].tolist(), got[:400].tolist(), strict=True):
        y = np.float32(yv)
        up = Fraction(float(np.nextafter(y, np.float32(np.inf))))
        down = Fraction(float(np.nextafter(y, np.float32(0))))
        assert ((Fraction(yv) + down) / 2) ** 2 <= Fraction(xv) <= ((Fraction(yv) + up) / 2) ** 2
    x64 = torch.rand(1 << 12, dtype=torch.float64, generator=gen, device="cpu") * 30
    for xv, yv in zip(x64.tolist(), cr._exact_sqrt_(x64.clone()).tolist(), strict=True):
        up, down = Fraction(math.nextafter(yv, math.inf)), Fraction(math.nextafter(yv, 0.0))
        assert ((Fraction(yv) + down) / 2) ** 2 <= Fraction(xv) <= ((Fraction(yv) + up) / 2) ** 2


def test_exact_sqrt_takes_the_float64_route_off_the_cpu(monkeypatch):
    # no CUDA here: a meta tensor stands in for "not the CPU" and records the route taken
    x = torch.empty(8, dtype=torch.float32, device="meta")
    seen = []
    real_double = torch.Tensor.double
    monkeypatch.setattr(torch.Tensor, "double",
                        lambda self: seen.append(self.device.type) or real_double(self))
    out = cr._exact_sqrt_(x)
    assert out is x and seen == ["meta"]
    seen.clear()
    cr._exact_sqrt_(torch.ones(4, device="cpu"))
    assert seen == []
