"""semlink.metrics: every metric semlink computes, in one package.

========================  ===============================================
module                    metrics
========================  ===============================================
:mod:`.base`              ``psnr``, ``mse``; the PHY metrics ``ber``,
                          ``bler``, ``channel_uses``; :class:`Metric`,
                          :data:`METRICS`, :func:`get_metric`
:mod:`.image`             ``ssim``, ``ms_ssim``, ``lpips``
:mod:`.text`              ``bleu`` (0-1 scale), ``cer``, ``wer``, ``exact_match``
:mod:`.crossmodal`        ``clip_similarity`` (image-image, text-image)
:mod:`.vlm`               ``answer_match``, ``relevance_loss`` (LLaVA judge)
========================  ===============================================

Registration is explicit: importing this package imports the modules above
and calls :func:`~semlink.metrics.text.register` and friends. Submodules
import only :mod:`.base` (and, lazily at compute time, the model layer or
the LLaVA judge), never each other nor :mod:`semlink.links`: no import cycle.
Metrics with a model take the scenario's device (:func:`get_metric`'s
``device``).
"""

from . import base, crossmodal, image, text, vlm  # noqa: F401  (image, vlm register on import)
from .base import METRICS, PHY_METRICS, Metric, get_metric

text.register()
crossmodal.register()

__all__ = ["METRICS", "PHY_METRICS", "Metric", "get_metric"]
