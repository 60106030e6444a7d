"""The fused Triton kernel of the counter-based Gaussians gives the torch kernels' numbers bit for bit.

Without a GPU the kernel runs in Triton's interpreter on CPU tensors (conftest sets
``TRITON_INTERPRET=1`` before Triton is imported); with ``SEMLINK_TEST_DEVICE=cuda`` it runs
compiled, and the ``gpu``-marked CPU == CUDA test of ``test_counter_rng.py`` covers it too."""

import pytest
import torch

pytest.importorskip("triton", reason="the fused kernel needs pip install 'semlink[ldpc-gpu]'")

from semlink.phy import counter_rng  # noqa: E402
from semlink.phy.counter_rng import (  # noqa: E402
    FUSED_ENV,
    complex_normal,
    complex_normal_rows,
    fused_draws,
)


def _bits(x: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(x).contiguous().view(torch.int32)


def _draws(monkeypatch, fused: str, fn, *args):
    monkeypatch.setenv(FUSED_ENV, fused)
    return fn(*args)


def test_rows_are_bit_identical_to_the_torch_kernels(monkeypatch, device):
    gen = torch.Generator().manual_seed(7)
    seeds = torch.randint(0, 2**62, (37,), generator=gen, dtype=torch.int64).to(device)
    start = torch.randint(0, 2**31 - 2000, (37,), generator=gen, dtype=torch.int64).to(device)
    seeds[0], start[0] = 0, 0                      # edge: seed 0, the first draw
    start[1] = 2**31 - 1 - 129                     # edge: up to MAX_INDEX
    ref = _draws(monkeypatch, "0", complex_normal_rows, seeds, "noise", start, 130)
    got = _draws(monkeypatch, "1", complex_normal_rows, seeds, "noise", start, 130)
    assert got.dtype == torch.complex64 and got.shape == (37, 130) and got.device == ref.device
    assert torch.equal(_bits(got), _bits(ref))


def test_indexed_draws_are_bit_identical_for_any_tag_and_shape(monkeypatch, device):
    gen = torch.Generator().manual_seed(3)
    seeds = torch.randint(0, 2**62, (5,), generator=gen, dtype=torch.int64).to(device)
    index = torch.randint(0, 2**31 - 1, (5, 3, 17), generator=gen, dtype=torch.int64).to(device)
    for tag in ("fading", "group_fading", 12345, "my-plugin-draw"):
        ref = _draws(monkeypatch, "0", complex_normal, seeds, tag, index)
        got = _draws(monkeypatch, "1", complex_normal, seeds, tag, index)
        assert got.shape == (5, 3, 17)
        assert torch.equal(_bits(got), _bits(ref)), tag


def test_every_octant_and_radius_branch_is_covered_and_equal(monkeypatch, device):
    """Enough draws that all 8 phase octants and both mantissa branches (f >= sqrt 2) occur."""
    seeds = torch.arange(64, dtype=torch.int64, device=device)
    start = torch.zeros(64, dtype=torch.int64, device=device)
    ref = _draws(monkeypatch, "0", complex_normal_rows, seeds, "noise", start, 256)
    got = _draws(monkeypatch, "1", complex_normal_rows, seeds, "noise", start, 256)
    angle = torch.atan2(ref.imag, ref.real)
    octants = torch.floor((angle % (2 * torch.pi)) / (torch.pi / 4)).long()
    assert set(octants.flatten().tolist()) == set(range(8))
    assert torch.equal(_bits(got), _bits(ref))


def test_float64_and_empty_draws_keep_the_torch_kernels(monkeypatch, device):
    monkeypatch.setenv(FUSED_ENV, "1")
    assert not fused_draws(torch.device(device), torch.float64)
    seeds = torch.arange(3, dtype=torch.int64, device=device)
    start = torch.zeros(3, dtype=torch.int64, device=device)
    assert complex_normal_rows(seeds, "noise", start, 0).shape == (3, 0)
    assert complex_normal_rows(seeds, "noise", start, 4, torch.float64).dtype == torch.complex128


def test_the_switch_defaults_to_cuda_only_and_names_bad_values(monkeypatch):
    monkeypatch.delenv(FUSED_ENV, raising=False)
    assert not fused_draws(torch.device("cpu"), torch.float32)
    monkeypatch.setenv(FUSED_ENV, "0")
    assert not fused_draws(torch.device("cuda:0"), torch.float32)
    monkeypatch.setenv(FUSED_ENV, "yes")
    with pytest.raises(ValueError, match=r"SEMLINK_FUSED_DRAWS='yes': use auto, 0 .* or 1"):
        fused_draws(torch.device("cpu"), torch.float32)
    assert counter_rng.NAME == "counter-hash-v2"   # the same numbers: the generator's name stays
