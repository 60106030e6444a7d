"""CLIP image/text features from open_clip, for UO-ISC (../papers/uo-isc.md, Sec. II).

:class:`ClipFeatures` wraps an open_clip model and returns

* the **patch-token outputs of selected vision transformer layers**
  (``[B, N, width]`` each, ``N = (H/p)(W/p)``, class token dropped), and
* the **text transformer's token features** of the user's query
  (``[B, T, width_text]`` after the final layer norm) and a mask of valid tokens.

Model sources, through open_clip's own loading code:

* ``model="ViT-B-16", pretrained="openai"`` (or another open_clip tag): the
  weights come from open_clip's cache / the hub. Nothing can be downloaded
  here, so a missing file raises an error saying what to fetch.
* ``pretrained="/path/to/open_clip_pytorch_model.bin"``: a local file.
* ``model="local-dir:/path"``: a folder with ``open_clip_config.json`` and weights.
* ``pretrained=None``: random initialisation (the paper's "without pretrained
  VLM" baseline), labelled as such in :meth:`describe`.
* ``config={...}``: an explicit open_clip model config (tiny models for tests,
  reduced models for CPU runs), registered under ``model``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from semlink.extras import require
from semlink.provenance import ModelRecord, is_test_model, state_dict_record

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class ClipFeatures(nn.Module):
    """Frozen (or trainable) open_clip model exposing layer features.

    :param model: open_clip model name (e.g. ``"ViT-B-16"``) or ``"local-dir:PATH"``.
    :param pretrained: open_clip pretrained tag, a weights file, or `None` (random init).
    :param layers: 1-based indices of the vision transformer layers to expose.
    :param frozen: freeze all CLIP parameters (the paper's setting).
    :param config: optional open_clip config dict registered under ``model``.
    """

    mean: torch.Tensor      # buffers: CLIP's pixel normalisation, [1, 3, 1, 1]
    std: torch.Tensor

    def __init__(self, model: str = "ViT-B-16", pretrained: str | None = "openai",
                 layers=(3, 6, 9, 12), frozen: bool = True, config: dict | None = None) -> None:
        super().__init__()
        open_clip = require("open_clip", "UO-ISC (CLIP features)")
        if config is not None:
            open_clip.factory._MODEL_CONFIGS[model] = config  # noqa: SLF001 (open_clip's registry)
        try:
            self.clip = open_clip.create_model(model, pretrained=pretrained,
                                               require_pretrained=bool(pretrained))
        except RuntimeError as exc:
            raise FileNotFoundError(
                f"CLIP model {model!r} with pretrained={pretrained!r} could not be loaded ({exc}). "
                "No download is possible here: on a machine with internet run "
                f"python -c \"import open_clip; "
                f"open_clip.create_model('{model}', pretrained='{pretrained}')\" "
                "and copy the file from the Hugging Face cache, then pass pretrained=/path/to/"
                "open_clip_pytorch_model.bin (or model='local-dir:/path')") from exc
        self.tokenizer = open_clip.get_tokenizer(model)
        self.model_name, self.pretrained = model, pretrained
        self.custom_config = config is not None
        n_layers = len(self.clip.visual.transformer.resblocks)
        layers = sorted(int(i) for i in layers)
        if not layers or layers[0] < 1 or layers[-1] > n_layers or len(set(layers)) != len(layers):
            raise ValueError(f"layers must be distinct indices in 1..{n_layers}, got {layers!r}")
        self.layers = layers
        self.frozen = frozen
        if frozen:
            for p in self.clip.parameters():
                p.requires_grad_(False)
            self.clip.eval()
        size = self.clip.visual.image_size
        self.image_size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        patch = self.clip.visual.patch_size
        self.patch_size = patch[0] if isinstance(patch, (tuple, list)) else patch
        self.grid = (self.image_size[0] // self.patch_size, self.image_size[1] // self.patch_size)
        self.width = self.clip.visual.transformer.width
        self.text_width = self.clip.transformer.width
        self.register_buffer("mean", torch.tensor(CLIP_MEAN, device="cpu").view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD, device="cpu").view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen:
            self.clip.eval()
        return self

    def image_features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """[B, 3, H, W] in [0, 1] (H, W = the model's image size), any device -> per layer
        [B, N, width] on the model's device."""
        if tuple(images.shape[-2:]) != self.image_size:
            raise ValueError(f"images must be {self.image_size[0]}x{self.image_size[1]} for this CLIP "
                             f"model, got {tuple(images.shape[-2:])}; set dataset.resize/crop accordingly")
        x = (images.to(self.mean.device) - self.mean) / self.std     # computed where CLIP lives
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            out = self.clip.visual.forward_intermediates(
                x, indices=[i - 1 for i in self.layers], intermediates_only=True, output_fmt="NLC")
        return list(out["image_intermediates"] if isinstance(out, dict) else out)

    def tokenize(self, queries: list[str]) -> torch.Tensor:
        """Queries -> token ids [B, T] int64 on the host (open_clip's tokenizer builds its
        tensor on torch's default device; it runs here with the CPU named explicitly)."""
        with torch.device("cpu"):
            return self.tokenizer(list(queries))

    def text_features(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids [B, T], any device -> (features [B, T, width_text], valid-token mask
        [B, T]), both on the model's device."""
        c = self.clip
        tokens = tokens.to(c.token_embedding.weight.device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            x = c.token_embedding(tokens) + c.positional_embedding[: tokens.shape[1]]
            x = c.transformer(x, attn_mask=c.attn_mask[: tokens.shape[1], : tokens.shape[1]])
            x = c.ln_final(x)
        return x, tokens != 0

    def describe(self) -> dict:
        return {"model": self.model_name, "pretrained": self.pretrained, "layers": self.layers,
                "frozen": self.frozen, "image_size": list(self.image_size),
                "patch_size": self.patch_size, "width": self.width,
                "random_init": self.pretrained is None, "custom_config": self.custom_config}

    def weights_path(self) -> str | None:
        """The file or folder the weights were loaded from, when known (`None` for an
        open_clip tag resolved in its cache, and for random initialisation)."""
        if self.model_name.startswith("local-dir:"):
            return self.model_name.split(":", 1)[1]
        if self.pretrained and Path(self.pretrained).exists():
            return self.pretrained
        return None

    def models(self, trained_in: str | None = None) -> list[ModelRecord]:
        """The CLIP backbone as run now: hash of its current weights, ``random_init`` when
        ``pretrained`` is `None` (not from pretrained weights).

        :param trained_in: the checkpoint that holds these weights when they were
            trained with a codec (UO-ISC without a pretrained VLM); recorded as the path.
        """
        path = trained_in or self.weights_path()
        ref = f"open_clip:{self.model_name}:{self.pretrained or 'none'}"
        extra = {**self.describe(), "trained_with_codec": trained_in is not None}
        rec = state_dict_record("clip", ref, self.clip.state_dict(), path=path,
                                random_init=self.pretrained is None, extra=extra)
        rec.test_model = rec.test_model or is_test_model(self.weights_path())
        return [rec]
