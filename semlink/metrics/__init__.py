"""semlink.metrics: every metric semlink computes, in one package.

Importing this package registers the built-in metrics in :data:`METRICS`;
the submodules import only :mod:`semlink.metrics.base`, never each other or
:mod:`semlink.links`, so there is no import cycle.
"""

from . import base
from . import image  # noqa: F401  (registers ssim, ms_ssim, lpips)
from . import vlm  # noqa: F401  (registers answer_match, relevance_loss)
from .base import METRICS, PHY_METRICS, Metric, get_metric

__all__ = ["METRICS", "PHY_METRICS", "Metric", "get_metric", "base"]
