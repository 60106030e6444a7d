"""Object detector of the ``detect`` split (the feature-fusion paper's ``N_detection``, eq. 2).

Any Hugging Face object-detection model (``AutoModelForObjectDetection``:
DETR, Conditional/Deformable DETR, YOLOS, ...) loaded through
:mod:`semlink.models`, e.g. ``facebook/detr-resnet-50``. Boxes with a score
above ``threshold`` are returned in pixels of the input image; the fusion of
eq. 9 is done by :func:`.split.fusion_split`.
"""

from __future__ import annotations

import numpy as np
import torch

from semlink.device import DEFAULT_DEVICE, resolve_device
from semlink.extras import require


class Detector:
    """HF object detector -> boxes ``(x0, y0, x1, y1)`` in pixels.

    :param model: model reference (HF id or local folder).
    :param threshold: minimum detection score in (0, 1).
    :param device: torch device.
    """

    def __init__(self, model: str, threshold: float = 0.7, device: str = DEFAULT_DEVICE) -> None:
        device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
        if not 0 < threshold < 1:
            raise ValueError(f"detector_threshold must be in (0, 1), got {threshold!r}")
        transformers = require("transformers", "the object detector of split 'detect'")
        from semlink.models import load_hf

        self.model, self.processor, self.record = load_hf(
            model, transformers.AutoModelForObjectDetection, role="detector",
            processor_class=transformers.AutoImageProcessor, device=device)
        self.threshold = float(threshold)
        self.device = device

    @torch.no_grad()
    def boxes(self, image: torch.Tensor) -> list[tuple]:
        """[3, H, W] in [0, 1] -> boxes above the threshold, highest score first."""
        h, w = image.shape[-2:]
        arr = (image.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
        inputs = self.processor(images=arr, return_tensors="pt")
        out = self.model(**{k: v.to(self.device) for k, v in inputs.items()})
        res = self.processor.post_process_object_detection(out, threshold=self.threshold,
                                                           target_sizes=[(h, w)])[0]
        order = torch.argsort(res["scores"], descending=True)
        boxes = []
        for b in res["boxes"][order].tolist():
            x0, y0, x1, y1 = (min(max(v, 0.0), lim) for v, lim in zip(b, (w, h, w, h), strict=True))
            if x1 > x0 and y1 > y0:
                boxes.append((x0, y0, x1, y1))
        return boxes
