"""Cross-modal metric ``clip_similarity``: cosine similarity of CLIP embeddings.

* ``mode: image`` (default): cosine between the CLIP image embeddings of the
  original and of the reconstruction -- the "cosine similarity" of the
  Multi-SC papers (1 = same embedding, 0 = unrelated).
* ``mode: text``: cosine between the CLIP image embedding of the original and
  the CLIP text embedding of each received text (``recon.texts``), averaged
  over the item's texts: does the delivered text still describe the image?

Which CLIP: the Multi-SC papers report "cosine similarity" without naming
the embedding model, and none of the three papers names a CLIP for a score
(UO-ISC's ViT-B/16 is its encoder, not a metric). The default
:data:`DEFAULT_CLIP` is **CLIP ViT-B/32 with OpenAI's weights**, the model of
CLIPScore (Hessel et al., EMNLP 2021) and the usual CLIP-similarity metric;
scenario headers and ``docs/multisc.md`` name the same model (a test checks
them against :data:`DEFAULT_CLIP`). ``model:`` picks another.

The model is a Hugging Face ``CLIPModel`` + ``CLIPProcessor`` (default
``openai/clip-vit-base-patch32``) resolved offline through
:mod:`semlink.models`; when it is not on this machine the metric reports
itself unavailable by name (never a random CLIP). It runs on the scenario's
device. Texts longer than CLIP's 77 tokens are truncated.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from semlink.device import DEFAULT_DEVICE, resolve_device

from .base import METRICS, Metric

#: CLIP ViT-B/32, OpenAI weights (CLIPScore's model; the papers name none, see above)
DEFAULT_CLIP = "openai/clip-vit-base-patch32"
MODES = ("image", "text")


@lru_cache(maxsize=2)
def load_clip(model: str, device: str):
    """``(CLIPModel, CLIPProcessor, ModelRecord)`` through the model layer (cached)."""
    from semlink.extras import require
    from semlink.models import load_hf

    transformers = require("transformers", "the clip_similarity metric")
    return load_hf(model, transformers.CLIPModel, role="clip_similarity",
                   processor_class=transformers.CLIPProcessor, device=device)


def _pil(img: torch.Tensor):
    from PIL import Image

    arr = (img.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    return Image.fromarray(arr.permute(1, 2, 0).numpy())


def _unit(x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):            # newer transformers may return an output object
        x = x.pooler_output
    return torch.nn.functional.normalize(x.float(), dim=-1)


@torch.no_grad()
def image_embeddings(model, processor, images: list, device: str) -> torch.Tensor:
    """[N, D] unit CLIP image embeddings of ``images`` (list of [3, H, W] in [0, 1])."""
    inputs = processor(images=[_pil(i) for i in images], return_tensors="pt")
    return _unit(model.get_image_features(pixel_values=inputs["pixel_values"].to(device)))


@torch.no_grad()
def text_embeddings(model, processor, texts: list[str], device: str) -> torch.Tensor:
    """[N, D] unit CLIP text embeddings (truncated to the model's context length)."""
    inputs = processor(text=list(texts), return_tensors="pt", padding=True, truncation=True)
    return _unit(model.get_text_features(input_ids=inputs["input_ids"].to(device),
                                         attention_mask=inputs["attention_mask"].to(device)))


def make_clip_similarity(model: str = DEFAULT_CLIP, mode: str = "image",
                         device: str = DEFAULT_DEVICE) -> Metric:
    """Build the ``clip_similarity`` metric (see the module docstring)."""
    device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
    if mode not in MODES:
        raise ValueError(f"clip_similarity: mode must be one of {MODES}, got {mode!r}")
    if not isinstance(model, str) or not model:
        raise ValueError(f"clip_similarity: model must be a CLIP model reference, got {model!r}")

    def unavailable() -> str | None:
        try:
            import transformers  # noqa: F401
        except ImportError:
            return "clip_similarity needs transformers: pip install 'semlink[vlm]'"
        from semlink.models import ModelNotFound, resolve

        try:
            resolve(model)
        except (ModelNotFound, ValueError) as exc:
            return f"clip_similarity: {exc}"
        return None

    def compute(originals, recon) -> np.ndarray:
        clip, proc, _ = load_clip(model, device)
        ref = image_embeddings(clip, proc, list(originals), device)
        if mode == "image":
            if len(recon.images) != len(originals):
                raise ValueError(f"clip_similarity (image): {len(recon.images)} reconstructed "
                                 f"images for {len(originals)} originals")
            rec = image_embeddings(clip, proc, list(recon.images), device)
            return (ref * rec).sum(-1).cpu().numpy()
        out = []
        for i, texts in enumerate(recon.texts or [None] * len(originals)):
            if texts is None:
                raise ValueError("clip_similarity (text): the reconstruction carries no texts")
            texts = [texts] if isinstance(texts, str) else list(texts)
            emb = text_embeddings(clip, proc, texts, device)
            out.append(float((emb @ ref[i]).mean()))
        return np.array(out)

    def models() -> list:
        return [load_clip(model, device)[2]]

    return Metric("clip_similarity", "", True, compute,
                  f"CLIP cosine similarity ({mode}) with {model}", unavailable,
                  model_records=models)


def register() -> None:
    """Register ``clip_similarity`` in :data:`~semlink.metrics.base.METRICS`."""
    METRICS.add("clip_similarity", make_clip_similarity,
                "CLIP cosine similarity: image-image (mode: image) or received text-image "
                "(mode: text); params: model, mode")
