"""Image captioning with pretrained vision-language models (Multi-SC and VLM-CSC).

:class:`Captioner` wraps

* a **LLaVA-family** model (``transformers.LlavaForConditionalGeneration`` +
  its processor's chat template), default
  ``llava-hf/llava-interleave-qwen-0.5b-hf`` -- its language model is the
  Qwen1.5-0.5B the Multi-SC papers use (``../papers/multi-sc-letter.md``,
  Sec. II-A) -- prompted with the papers' exact query :data:`PAPER_QUERY`;
* **BLIP** (``transformers.BlipForConditionalGeneration``), default
  ``Salesforce/blip-image-captioning-base``, unconditional captioning, for
  the VLM-CSC baseline.

Decoding is greedy (``do_sample=False``, one beam), so captions are
deterministic; images are captioned in batches; captions are cached by image
content (the same image at every SNR point is captioned once). Models are
resolved offline through :mod:`semlink.models` and loaded on first use.

:func:`split_image` cuts an image into a grid of parts (Multi-SC captions
each part; the corrector's training set uses parts too).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from semlink.device import DEFAULT_DEVICE, resolve_device

#: The Multi-SC papers' captioning query (multi-sc-letter.md, Sec. II-A).
PAPER_QUERY = "Relay a brief, clear account of the picture shown."
DEFAULT_LLAVA = "llava-hf/llava-interleave-qwen-0.5b-hf"
DEFAULT_BLIP = "Salesforce/blip-image-captioning-base"
SHORTCUTS = {"llava": DEFAULT_LLAVA, "blip": DEFAULT_BLIP}


def _pil(img: torch.Tensor):
    from PIL import Image

    if not isinstance(img, torch.Tensor) or img.dim() != 3 or img.shape[0] != 3:
        raise ValueError(f"images must be [3, H, W] tensors in [0, 1], got "
                         f"{getattr(img, 'shape', type(img))}")
    arr = (img.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    return Image.fromarray(arr.permute(1, 2, 0).numpy())


def image_key(img: torch.Tensor) -> str:
    """Content hash of an image tensor (cache key): shape + 8-bit pixels."""
    arr = (img.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    return hashlib.sha256(str(tuple(arr.shape)).encode() + arr.numpy().tobytes()).hexdigest()


def split_image(image: torch.Tensor, rows: int, cols: int) -> list[torch.Tensor]:
    """Cut ``[3, H, W]`` into ``rows x cols`` parts (row-major); edge parts take the remainder."""
    for name, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    h, w = image.shape[-2:]
    if rows > h or cols > w:
        raise ValueError(f"cannot cut a {h}x{w} image into {rows}x{cols} parts")
    ys = [round(i * h / rows) for i in range(rows + 1)]
    xs = [round(j * w / cols) for j in range(cols + 1)]
    return [image[:, ys[i]:ys[i + 1], xs[j]:xs[j + 1]] for i in range(rows) for j in range(cols)]


def _model_type(path: Path) -> str:
    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8")).get("model_type", "")
    except (OSError, ValueError):
        return ""


class Captioner:
    """Greedy, batched, cached image captioner (LLaVA family or BLIP).

    :param model: ``"llava"``, ``"blip"`` or a model reference (HF id or folder;
        see :mod:`semlink.models`); the family is read from its ``config.json``.
    :param query: the LLaVA prompt's question (default: the papers' query);
        ignored by BLIP (unconditional captions).
    :param max_new_tokens: caption length limit in tokens.
    :param batch_size: images per ``generate`` call.
    :param device: torch device of the model.
    """

    def __init__(self, model: str = "llava", query: str = PAPER_QUERY, max_new_tokens: int = 60,
                 batch_size: int = 8, device: str = DEFAULT_DEVICE) -> None:
        device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
        if not isinstance(model, str) or not model:
            raise ValueError(f"captioner model must be 'llava', 'blip' or a model reference, "
                             f"got {model!r}")
        for name, v in (("max_new_tokens", max_new_tokens), ("batch_size", batch_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"query must be a non-empty string, got {query!r}")
        self.ref = SHORTCUTS.get(model, model)
        self.query = query
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.device = str(device)
        self._loaded: tuple[str, Any, Any, Any] | None = None   # (family, model, processor, record)
        self._cache: dict[str, str] = {}

    # -- loading ---------------------------------------------------------------
    def _load(self):
        if self._loaded is None:
            from semlink.extras import require
            from semlink.models import load_hf, resolve

            transformers = require("transformers", "the captioner")
            path = resolve(self.ref).path
            mtype = _model_type(path)
            if mtype == "llava":
                cls, family = transformers.LlavaForConditionalGeneration, "llava"
            elif mtype == "blip":
                cls, family = transformers.BlipForConditionalGeneration, "blip"
            else:
                raise ValueError(f"captioner {self.ref!r}: model_type {mtype!r} is neither 'llava' "
                                 "(LlavaForConditionalGeneration) nor 'blip'")
            model, processor, record = load_hf(self.ref, cls, role="captioner",
                                               processor_class=transformers.AutoProcessor,
                                               device=self.device)
            if family == "llava":
                processor.tokenizer.padding_side = "left"       # decoder-only batched generation
            self._loaded = (family, model, processor, record)
        return self._loaded

    @property
    def family(self) -> str:
        """``"llava"`` or ``"blip"`` (loads the model)."""
        return self._load()[0]

    def record(self):
        """The :class:`~semlink.provenance.ModelRecord` of the loaded model."""
        return self._load()[3]

    def embedding_table(self):
        """The language model's input embedding table with its tokenizer (loads the model).

        :returns: an :class:`~semlink.semantic.text_transport.EmbeddingTable` ``[V, D]``
            on the captioner's device: the LLaVA language model's token embeddings, or
            BLIP's text decoder's word embeddings (what ``transport: embedding`` sends).
        """
        from .text_transport import EmbeddingTable

        family, model, processor, record = self._load()
        owner = model.text_decoder if family == "blip" else model
        weight = owner.get_input_embeddings().weight.detach()
        return EmbeddingTable(weight, processor.tokenizer, self.ref, record)

    def prompt(self) -> str | None:
        """The exact LLaVA prompt (chat template with the image and :attr:`query`); `None` for BLIP."""
        family, _, processor, _ = self._load()
        if family != "llava":
            return None
        conv = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": self.query}]}]
        return processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)

    # -- captioning ------------------------------------------------------------
    @torch.no_grad()
    def _generate(self, images: list[torch.Tensor]) -> list[str]:
        family, model, processor, _ = self._load()
        pils = [_pil(i) for i in images]
        if family == "llava":
            prompt = self.prompt()
            inputs = processor(images=pils, text=[prompt] * len(pils), return_tensors="pt",
                               padding=True)
        else:
            inputs = processor(images=pils, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        tok = processor.tokenizer
        if family == "llava":
            pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
            out = model.generate(**inputs, do_sample=False, num_beams=1,
                                 max_new_tokens=self.max_new_tokens, pad_token_id=pad)
            out = out[:, inputs["input_ids"].shape[1]:]
        else:                                                # BLIP sets its own bos/pad/eos
            out = model.generate(**inputs, do_sample=False, num_beams=1,
                                 max_new_tokens=self.max_new_tokens)
        return [t.strip() for t in tok.batch_decode(out, skip_special_tokens=True)]

    def caption(self, images: list[torch.Tensor]) -> list[str]:
        """One caption per image ([3, H, W] in [0, 1]); cached by image content."""
        keys = [image_key(i) for i in images]
        todo = [(k, img) for k, img in zip(keys, images, strict=True) if k not in self._cache]
        todo = list(dict(todo).items())                      # same image twice: caption once
        for s in range(0, len(todo), self.batch_size):
            chunk = todo[s:s + self.batch_size]
            for (k, _), text in zip(chunk, self._generate([img for _, img in chunk]), strict=True):
                self._cache[k] = text
        return [self._cache[k] for k in keys]

    def describe(self) -> dict:
        return {"model": self.ref, "query": self.query, "max_new_tokens": self.max_new_tokens,
                "decoding": "greedy"}
