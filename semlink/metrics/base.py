"""Per-image metrics and their registry.

Image metrics compare each original image with its reconstruction and
return one value per image. PHY metrics (``ber``, ``bler``,
``channel_uses``) come from the link's reports and are always recorded.

* ``psnr`` [dB]: ``10 log10(1 / MSE)`` on images in [0, 1] (peak 1, i.e.
  255 for 8-bit), computed on the float images; identical images give the
  cap of 100 dB so that results stay finite and JSON-valid.
* ``mse``: mean squared error on [0, 1] images.
* ``ssim``, ``ms_ssim``, ``lpips``: see :mod:`semlink.metrics.image`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from semlink.registry import Registry

if TYPE_CHECKING:
    from semlink.semantic.payload import Reconstruction

PSNR_CAP_DB = 100.0


@dataclass(frozen=True)
class Metric:
    """A per-image metric: ``compute(originals, reconstruction) -> [num_images]``.

    :param name: registry name.
    :param unit: unit for plots (e.g. ``"dB"``), may be empty.
    :param higher_is_better: direction, for plots and summaries.
    """

    name: str
    unit: str
    higher_is_better: bool
    compute: Callable[[Sequence[torch.Tensor], Reconstruction], np.ndarray]
    description: str = ""
    unavailable: Callable[[], str | None] = lambda: None
    model_records: Callable[[], list] = lambda: []
    min_image_side: int = 0     # smallest height/width [px] the metric is defined for

    def too_small(self, sizes: dict[str, tuple[int, int]]) -> str | None:
        """Why the metric is undefined on images of ``sizes`` (name -> (H, W)), or `None`."""
        small = {n: s for n, s in sizes.items() if min(s) < self.min_image_side}
        if not small:
            return None
        name, (h, w) = min(small.items(), key=lambda kv: min(kv[1]))
        return (f"needs images with both sides >= {self.min_image_side} px; {len(small)} of "
                f"{len(sizes)} image(s) are smaller (smallest: {name!r}, {h}x{w}); "
                "set dataset.resize to at least that size or drop the metric")

    def unavailable_reason(self) -> str | None:
        """`None` when the metric can be computed here, else why not and how to fix it."""
        return self.unavailable()

    def models(self) -> list:
        """:class:`~semlink.provenance.ModelRecord` of every model behind this metric (may be empty)."""
        return list(self.model_records())


METRICS: Registry[Metric] = Registry("metric", group="semlink.metrics")


def _pairs(originals: Sequence[torch.Tensor],
           recon: Reconstruction) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    if len(originals) != len(recon.images):
        raise ValueError(f"reconstruction has {len(recon.images)} images for {len(originals)} originals")
    for i, (a, b) in enumerate(zip(originals, recon.images, strict=True)):
        if tuple(a.shape) != tuple(b.shape):
            raise ValueError(f"image {i}: reconstruction shape {tuple(b.shape)} differs from "
                             f"original {tuple(a.shape)}")
        yield a.float().cpu(), b.float().cpu().clamp(0, 1)


def mse(originals: Sequence[torch.Tensor], recon: Reconstruction) -> np.ndarray:
    """Mean squared error per image, images in [0, 1]."""
    return np.array([float(torch.mean((a - b) ** 2)) for a, b in _pairs(originals, recon)])


def psnr(originals: Sequence[torch.Tensor], recon: Reconstruction) -> np.ndarray:
    """PSNR [dB] per image, peak 1, capped at 100 dB."""
    m = mse(originals, recon)
    with np.errstate(divide="ignore"):
        return np.minimum(10 * np.log10(1.0 / m), PSNR_CAP_DB)


def _register(metric: Metric) -> None:
    METRICS.add(metric.name, lambda: metric, metric.description)


_register(Metric("psnr", "dB", True, psnr, "peak signal-to-noise ratio [dB], images in [0, 1]"))
_register(Metric("mse", "", False, mse, "mean squared error, images in [0, 1]"))

PHY_METRICS = {
    "ber": "bit error rate over the image's digital streams (genie)",
    "bler": "code block error rate over the image's digital streams (genie)",
    "channel_uses": "complex channel symbols per image, all streams, pilots included",
}


def get_metric(name: str, params: dict | None = None, device: str | None = None) -> Metric:
    """Build the metric registered as ``name``.

    :param params: the metric's parameters from the scenario (e.g. ``{"vlm": ...}``).
    :param device: the scenario's device (``"cpu"``, ``"cuda:0"``), passed to metrics whose
        factory takes ``device`` (models run where the scenario runs) unless ``params`` sets it.
    """
    import inspect

    params = dict(params or {})
    factory = METRICS.get(name)
    if device is not None and "device" not in params:
        try:
            takes_device = "device" in inspect.signature(factory).parameters
        except (TypeError, ValueError):
            takes_device = False
        if takes_device:
            params["device"] = device
    return METRICS.create(name, **params)
