"""Perceptual image metrics: SSIM, MS-SSIM (pytorch-msssim) and LPIPS (lpips).

* ``ssim`` / ``ms_ssim``: :mod:`pytorch_msssim` with an 11x11 Gaussian window
  (sigma 1.5), data range 1, per image. MS-SSIM uses 5 scales and needs both
  sides > 160 pixels; smaller images get NaN (and a warning), not a number
  from a different definition.
* ``lpips``: the :mod:`lpips` package (Zhang et al. 2018, v0.1, AlexNet).
  Its linear heads ship with the package, but the **ImageNet-pretrained
  AlexNet backbone** must be on disk: ``$SEMLINK_LPIPS_BACKBONE`` (a
  torchvision AlexNet state dict) or torch hub's cache
  (``<torch.hub.get_dir()>/checkpoints/alexnet-owt-7be5be79.pth``, where
  ``torchvision.models.alexnet(weights="IMAGENET1K_V1")`` stores it). When
  absent, the metric reports itself unavailable with these instructions; it
  is **never** computed on a random backbone.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .base import Metric, _pairs, _register

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"


def _stack_pairs(originals, recon):
    return list(_pairs(originals, recon))


def ssim(originals, recon) -> np.ndarray:
    """SSIM per image (pytorch-msssim, 11x11 Gaussian window, data range 1)."""
    from pytorch_msssim import ssim as _ssim

    return np.array([float(_ssim(a[None], b[None], data_range=1.0, size_average=True))
                     for a, b in _stack_pairs(originals, recon)])


def ms_ssim(originals, recon) -> np.ndarray:
    """MS-SSIM per image (5 scales); NaN for images with a side <= 160 pixels."""
    from pytorch_msssim import ms_ssim as _ms_ssim

    out = []
    for a, b in _stack_pairs(originals, recon):
        if min(a.shape[-2:]) <= 160:
            warnings.warn(f"ms_ssim: image of size {tuple(a.shape[-2:])} is too small for 5 "
                          "scales (needs sides > 160); recorded as NaN", stacklevel=2)
            out.append(float("nan"))
            continue
        out.append(float(_ms_ssim(a[None], b[None], data_range=1.0, size_average=True)))
    return np.array(out)


ALEXNET_REF = "torchvision:AlexNet_Weights.IMAGENET1K_V1"


def lpips_backbone_path() -> Path:
    """Where the AlexNet backbone weights are: ``$SEMLINK_LPIPS_BACKBONE``, else the model
    layer's resolution of ``torchvision:AlexNet_Weights.IMAGENET1K_V1`` (``$SEMLINK_MODELS``,
    torch hub's cache), else torch hub's default location (for the error message)."""
    env = os.environ.get("SEMLINK_LPIPS_BACKBONE")
    if env:
        return Path(env).expanduser()
    from semlink.models import ModelNotFound, resolve

    try:
        return resolve(ALEXNET_REF).path
    except (ModelNotFound, ValueError, ImportError):
        return Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILE


def lpips_unavailable() -> str | None:
    """`None` if LPIPS can run here, else what is missing and how to get it."""
    try:
        import lpips  # noqa: F401
    except ImportError:
        return "lpips needs the 'lpips' package: pip install 'semlink[metrics]' (or: pip install lpips)"
    path = lpips_backbone_path()
    if not path.is_file():
        return (f"lpips needs the ImageNet-pretrained AlexNet weights, not found at {path}. On a "
                "machine with internet run: python -c \"import torchvision; "
                "torchvision.models.alexnet(weights='IMAGENET1K_V1')\" (this stores "
                f"{ALEXNET_FILE} in torch hub's cache), or `semlink models fetch {ALEXNET_REF}`, "
                "or copy that file here, or set SEMLINK_LPIPS_BACKBONE=/path/to/alexnet_state_dict.pth")
    return None


@lru_cache(maxsize=2)
def load_lpips(backbone: str):
    """LPIPS(alex, v0.1) with the backbone loaded from ``backbone`` (strict)."""
    import lpips

    model = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    state = torch.load(backbone, map_location="cpu", weights_only=True)
    targets = dict(model.net.named_parameters())
    loaded = set()
    for name, param in targets.items():           # sliceK.<i>.weight <- features.<i>.weight
        _, idx, kind = name.split(".")
        key = f"features.{idx}.{kind}"
        if key not in state:
            raise ValueError(f"LPIPS backbone {backbone!r}: missing {key!r}; expected a "
                             "torchvision AlexNet state dict")
        if tuple(state[key].shape) != tuple(param.shape):
            raise ValueError(f"LPIPS backbone {backbone!r}: {key} has shape "
                             f"{tuple(state[key].shape)}, expected {tuple(param.shape)}")
        with torch.no_grad():
            param.copy_(state[key])
        loaded.add(key)
    if not loaded:
        raise ValueError(f"LPIPS backbone {backbone!r}: nothing loaded")
    return model.eval()


def lpips_metric(originals, recon) -> np.ndarray:
    """LPIPS distance per image (AlexNet, v0.1); lower is better."""
    reason = lpips_unavailable()
    if reason:
        raise RuntimeError(reason)
    model = load_lpips(str(lpips_backbone_path()))
    with torch.no_grad():
        return np.array([float(model(a[None] * 2 - 1, b[None] * 2 - 1).reshape(()))
                         for a, b in _stack_pairs(originals, recon)])


def lpips_models() -> list:
    """ModelRecords of LPIPS: the AlexNet backbone file and the package's linear heads."""
    import lpips

    from semlink.provenance import path_record

    heads = Path(lpips.__file__).resolve().parent / "weights" / "v0.1" / "alex.pth"
    backbone = lpips_backbone_path()
    return [path_record("lpips_backbone", "torchvision alexnet IMAGENET1K_V1", backbone),
            path_record("lpips_linear_heads", "lpips v0.1 alex", heads)]


_register(Metric("ssim", "", True, ssim, "structural similarity (pytorch-msssim), per image"))
_register(Metric("ms_ssim", "", True, ms_ssim,
                 "multi-scale SSIM (pytorch-msssim, 5 scales; needs sides > 160 px)",
                 min_image_side=161))
_register(Metric("lpips", "", False, lpips_metric,
                 "LPIPS v0.1 AlexNet (needs pretrained backbone weights on disk)",
                 unavailable=lpips_unavailable, model_records=lpips_models))
