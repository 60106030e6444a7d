"""Image metrics against reference values and reference implementations."""

import math

import numpy as np
import pytest
import torch

from semlink.metrics import get_metric
from semlink.semantic.payload import Reconstruction


def rec(images):
    return Reconstruction(images=images)


def test_psnr_of_known_noise_levels():
    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.uniform(0.2, 0.8, (3, 64, 64)).astype(np.float32))
    psnr = get_metric("psnr").compute
    # a constant offset d gives MSE d^2: PSNR = -20 log10(d)
    assert psnr([a], rec([a + 0.1]))[0] == pytest.approx(20.0, abs=1e-4)
    # uniform noise on [-d, d] has variance d^2/3
    d = 0.05
    noise = torch.from_numpy(rng.uniform(-d, d, (3, 256, 256)).astype(np.float32))
    b = torch.full((3, 256, 256), 0.5)
    assert psnr([b], rec([b + noise]))[0] == pytest.approx(-10 * math.log10(d * d / 3), abs=0.05)
    # identical images hit the documented cap
    assert psnr([a], rec([a.clone()]))[0] == 100.0


def test_ssim_matches_scikit_image_reference():
    skm = pytest.importorskip("skimage.metrics", reason="reference needs scikit-image")
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:96, 0:128] / 128
    a = np.stack([np.sin(8 * xx), np.cos(6 * yy), xx * yy], 0) * 0.4 + 0.5
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    ours = get_metric("ssim").compute([torch.tensor(a, dtype=torch.float32)],
                                      rec([torch.tensor(b, dtype=torch.float32)]))[0]
    ref = skm.structural_similarity(a, b, channel_axis=0, data_range=1.0, gaussian_weights=True,
                                    sigma=1.5, use_sample_covariance=False)
    assert ours == pytest.approx(ref, abs=2e-3)
    assert ours < 0.99


def test_ms_ssim_identity_ordering_and_small_images():
    rng = np.random.default_rng(2)
    a = torch.from_numpy(rng.uniform(0, 1, (3, 192, 192)).astype(np.float32))
    a = torch.nn.functional.avg_pool2d(a[None], 5, 1, 2)[0]
    m = get_metric("ms_ssim").compute
    assert m([a], rec([a.clone()]))[0] == pytest.approx(1.0, abs=1e-5)
    mild = m([a], rec([(a + 0.02 * torch.randn_like(a)).clamp(0, 1)]))[0]
    strong = m([a], rec([(a + 0.2 * torch.randn_like(a)).clamp(0, 1)]))[0]
    assert 1.0 > mild > strong
    with pytest.warns(UserWarning, match="too small"):
        assert np.isnan(m([a[:, :100, :100]], rec([a[:, :100, :100]]))[0])


def test_lpips_unavailable_without_weights(monkeypatch, tmp_path):
    pytest.importorskip("lpips")
    monkeypatch.setenv("SEMLINK_LPIPS_BACKBONE", str(tmp_path / "missing.pth"))
    metric = get_metric("lpips")
    reason = metric.unavailable_reason()
    assert reason and "IMAGENET1K_V1" in reason and "SEMLINK_LPIPS_BACKBONE" in reason
    with pytest.raises(RuntimeError, match="pretrained AlexNet"):
        metric.compute([torch.zeros(3, 8, 8)], rec([torch.zeros(3, 8, 8)]))


def test_lpips_loads_a_local_state_dict_through_the_real_path(monkeypatch, tmp_path):
    pytest.importorskip("lpips")
    tv = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    net = tv.models.alexnet(weights=None)        # same shapes as the ImageNet checkpoint
    path = tmp_path / "alexnet.pth"
    torch.save(net.state_dict(), path)
    monkeypatch.setenv("SEMLINK_LPIPS_BACKBONE", str(path))
    metric = get_metric("lpips")
    assert metric.unavailable_reason() is None
    from semlink.metrics.image import load_lpips

    model = load_lpips(str(path))
    assert torch.equal(model.net.slice1[0].weight, net.features[0].weight)
    assert torch.equal(getattr(model.net.slice5, "10").weight, net.features[10].weight)
    a = torch.rand(3, 64, 64)
    values = metric.compute([a, a], rec([a.clone(), 1 - a]))
    assert values[0] == pytest.approx(0.0, abs=1e-6) and values[1] > values[0]
    bad = tmp_path / "bad.pth"
    state = net.state_dict()
    state["features.0.weight"] = torch.zeros(1, 3, 3, 3)
    torch.save(state, bad)
    with pytest.raises(ValueError, match="features.0.weight has shape"):
        load_lpips(str(bad))
