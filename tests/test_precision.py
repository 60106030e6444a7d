"""precision: fp32 | bf16 | fp16 for neural codecs (issue 12): bf16 costs little PSNR."""

import math

import pytest
import torch

from conftest import shared_data_dir
from semlink.semantic import make_codec
from semlink.semantic.precision import autocast, check_precision
from semlink.semantic.train_deepjscc import _images


def _psnr(a, b) -> float:
    return 10 * math.log10(1 / float(torch.mean((a - b) ** 2)))


def test_bf16_stays_within_half_a_db_of_fp32_on_kodak(device):
    images = [torch.nn.functional.interpolate(img[None], scale_factor=0.5, mode="area")[0]
              for img in _images(str(shared_data_dir("kodak24")), "kodak24")[:4]]
    ref = make_codec("deepjscc", {"precision": "fp32", "device": device})
    low = make_codec("deepjscc", {"precision": "bf16", "device": device})
    assert low.params()["precision"] == "bf16"
    gaps, diffs = [], []
    for img in images:
        s32 = ref.encode([img]).streams["symbols"].data[0].to(device)   # the codec's own paths
        s16 = low.encode([img]).streams["symbols"].data[0].to(device)
        assert s16.dtype == torch.complex64            # channel symbols stay fp32
        diffs.append(float((s32 - s16).abs().max()))
        noise = torch.randn(s32.shape, dtype=torch.complex64,
                            generator=torch.Generator().manual_seed(1)).to(device) * math.sqrt(0.1)
        with torch.no_grad():
            r32 = ref.model.from_symbols((s32 + noise)[None], img.shape[-2:])[0].clamp(0, 1)
            with autocast("bf16", device):
                r16 = low.model.from_symbols((s16 + noise)[None], img.shape[-2:])[0]
        assert r16.dtype == torch.float32
        gaps.append(abs(_psnr(r32.cpu(), img) - _psnr(r16.clamp(0, 1).cpu(), img)))
    assert max(diffs) > 0                               # bf16 really ran
    assert max(gaps) < 0.5, gaps


def test_fp32_is_the_unchanged_default_and_bad_values_are_refused():
    codec = make_codec("deepjscc")
    assert codec.params()["precision"] == "fp32"
    with pytest.raises(ValueError, match="precision must be one of .*'fp8'"):
        check_precision("fp8")
    with pytest.raises(Exception, match="precision"):
        make_codec("deepjscc", {"precision": "half"})
