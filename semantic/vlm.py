"""LLaVA-family "judge" for user-oriented image semantic coding (UO-ISC).

The UO-ISC paper (Sec. III) scores a reconstruction ``x_hat`` against the source
``x`` for a user query ``q`` with a pretrained LLaVA: both images are paired with
the same query, run through the vision tower + projector + language model, and
the *user-intent relevance loss* (eq. 11) is the mean cosine distance between the
language model's last-layer hidden states at the image-token positions,

.. math::  L_R = \\frac{1}{N}\\sum_{n=1}^{N} \\bigl(1 - \\cos(h_n, \\hat h_n)\\bigr).

Sec. IV reports the *answer match rate*: the fraction of samples whose
(greedy) LLaVA answer on the reconstruction equals the answer on the original.
:class:`LlavaJudge` provides both: :meth:`LlavaJudge.relevance_loss` is
differentiable w.r.t. the reconstruction (image preprocessing is done in torch),
:meth:`LlavaJudge.answer_match` is the evaluation metric.

Models: any ``transformers`` ``LlavaForConditionalGeneration`` checkpoint (a hub
id already in the local Hugging Face cache, or a local directory).  A small one
that transformers loads natively is ``"llava-hf/llava-interleave-qwen-0.5b-hf"``.
The paper used nanoLLaVA (``qnguyen3/nanoLLaVA``), which needs
``trust_remote_code`` custom code; semlink never executes remote code, so it is
not supported.  Nothing is ever downloaded by default (``local_files_only``);
``transformers`` is imported lazily, never at import time of this module.

:func:`build_tiny_llava` writes a tiny *random* LLaVA for tests only; it is
labelled ``semlink-tiny-test-model``. Loading it emits no warning of its own:
its :class:`~semlink.provenance.ModelRecord` says ``test_model=True``, and
``semlink run`` announces every flagged model of the codecs and metrics once,
before the sweep (``links/runner.py``, ``flagged_models``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from semlink.device import DEFAULT_DEVICE, resolve_device
from semlink.provenance import TEST_MODEL_MARKER as PROVENANCE_MARKER, ModelRecord, path_record

DEFAULT_MODEL = "llava-hf/llava-interleave-qwen-0.5b-hf"
TEST_MODEL_MARKER = "semlink-tiny-test-model"

_NUMBERS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten".split())}
_ARTICLES = {"a", "an", "the"}


def normalize_answer(text: str) -> str:
    """VQA-style answer normalisation: lowercase, drop punctuation and articles,
    map number words zero..ten to digits, collapse whitespace."""
    text = re.sub(r"[^\w\s]", " ", str(text).lower().strip())
    words = [_NUMBERS.get(w, w) for w in text.split() if w not in _ARTICLES]
    return " ".join(words)


def _require_transformers():
    try:
        import transformers
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("semlink.semantic.vlm needs Hugging Face transformers: "
                          "pip install 'semlink[vlm]'") from exc
    return transformers


def _missing_model_error(model: str, detail: str = "") -> FileNotFoundError:
    return FileNotFoundError(
        f"LLaVA model {model!r} is neither a local directory nor in the local Hugging Face cache"
        f"{' (' + detail + ')' if detail else ''}; no download is possible here. Fix: on a machine "
        f"with internet run `huggingface-cli download {model}` or `python -c \"from transformers "
        f"import AutoProcessor, LlavaForConditionalGeneration as M; M.from_pretrained('{model}'); "
        f"AutoProcessor.from_pretrained('{model}')\"`, then copy the Hugging Face cache "
        f"(~/.cache/huggingface) here or pass a local directory (e.g. {DEFAULT_MODEL!r} saved with "
        f"save_pretrained).")


def model_dir(model: str) -> Path | None:
    """The folder a LLaVA ``model`` (local folder or hub id in the local cache) loads from."""
    if os.path.isdir(model):
        return Path(model)
    try:
        from huggingface_hub import try_to_load_from_cache
        hit = try_to_load_from_cache(model, "config.json")
    except Exception:  # invalid repo id, hub lib missing, ...
        return None
    return Path(hit).parent if isinstance(hit, str) and os.path.isfile(hit) else None


def llava_model_record(model: str, role: str = "vlm_judge") -> ModelRecord:
    """:class:`~semlink.provenance.ModelRecord` of a LLaVA model, without loading it:
    the folder it loads from and its content hash (weights, config, tokenizer).

    :raises FileNotFoundError: the model is not on this machine.
    """
    folder = model_dir(str(model))
    if folder is None:
        raise _missing_model_error(str(model))
    rec = path_record(role, str(model), folder)
    rec.test_model = rec.test_model or TEST_MODEL_MARKER in _read(folder / "README.md")
    return rec


def in_hf_cache(model: str) -> bool:
    """Whether Hugging Face hub id ``model`` is in the local HF cache (its ``config.json``);
    `False` for an invalid id or without ``huggingface_hub``. Never downloads."""
    try:
        from huggingface_hub import try_to_load_from_cache
        hit = try_to_load_from_cache(model, "config.json")
    except Exception:  # invalid repo id, hub lib missing, ...
        return False
    return isinstance(hit, str) and os.path.isfile(hit)


class LlavaJudge:
    """A ``LlavaForConditionalGeneration`` + its processor, used as UO-ISC judge.

    ``model``: hub id (must already be cached unless ``local_files_only=False``)
    or a local directory.  ``local_files_only=None`` means True (never download);
    pass False explicitly to allow a hub download on a connected machine.
    The model is frozen (eval mode, no parameter gradients).
    """

    def __init__(self, model: str, device: str = DEFAULT_DEVICE, dtype: torch.dtype | None = None,
                 max_new_tokens: int = 16, local_files_only: bool | None = None) -> None:
        device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
        transformers = _require_transformers()
        self.model_id = str(model)
        self.device = torch.device(device)
        self.max_new_tokens = int(max_new_tokens)
        is_dir = os.path.isdir(self.model_id)
        if local_files_only is None:
            local_files_only = True  # also covers HF_HUB_OFFLINE and local dirs
        if local_files_only and not is_dir and not in_hf_cache(self.model_id):
            raise _missing_model_error(self.model_id)
        kw = {"local_files_only": bool(local_files_only)}
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(self.model_id, **kw)
            self.model = transformers.LlavaForConditionalGeneration.from_pretrained(
                self.model_id, dtype=dtype or torch.float32, **kw)
        except OSError as exc:
            raise _missing_model_error(self.model_id, f"loading failed: {exc}") from exc
        except ValueError as exc:  # e.g. custom-code checkpoints such as nanoLLaVA
            raise ValueError(f"{self.model_id!r} is not a native LlavaForConditionalGeneration "
                             f"checkpoint (semlink never runs trust_remote_code): {exc}") from exc
        self.model.to(self.device).eval().requires_grad_(False)
        self.dtype = next(self.model.parameters()).dtype
        self.processor.tokenizer.padding_side = "left"  # decoder-only generation
        self.image_token_id = int(getattr(self.model.config, "image_token_id", None)
                                  or self.model.config.image_token_index)
        self.is_test_model = is_dir and (TEST_MODEL_MARKER in _read(Path(self.model_id) / "README.md")
                                         or (Path(self.model_id) / PROVENANCE_MARKER).exists())
        self._ids_cache: tuple[tuple[str, ...], dict] | None = None

    # ------------------------------------------------------------------ inputs
    def _target_size(self) -> tuple[int, int]:
        ip = self.processor.image_processor
        crop, size = getattr(ip, "crop_size", None), getattr(ip, "size", None)
        if getattr(ip, "do_center_crop", False) and crop is not None:
            return int(crop.get("height")), int(crop.get("width"))
        if size is not None and size.get("height"):
            return int(size.get("height")), int(size.get("width"))
        s = int(self.model.config.vision_config.image_size)
        return s, s

    def pixel_values(self, images: torch.Tensor) -> torch.Tensor:
        """Differentiable torch version of the processor's image pipeline.

        ``images``: [B, 3, H, W] in [0, 1], any size -> [B, 3, h, w] normalised
        ``pixel_values`` for the vision tower (pad-to-square if configured,
        resize (antialiased), centre crop, normalise with image_mean/std)."""
        ip = self.processor.image_processor
        x = images.to(self.device, torch.float32)
        if x.dim() == 3:
            x = x[None]
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"images must be [B, 3, H, W] in [0, 1], got {tuple(images.shape)}")
        mean = torch.tensor(ip.image_mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(ip.image_std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        h, w = x.shape[-2:]
        if getattr(ip, "do_pad", False) and h != w:  # LLaVA pad-to-square with mean colour
            s = max(h, w)
            top, left = (s - h) // 2, (s - w) // 2
            x = F.pad(x - mean, (left, s - w - left, top, s - h - top)) + mean
            h = w = s
        th, tw = self._target_size()
        size = getattr(ip, "size", None)
        if getattr(ip, "do_resize", True) and size is not None:
            if size.get("shortest_edge"):
                short = int(size.get("shortest_edge"))
                rh, rw = ((short, max(1, int(short * w / h))) if h <= w
                          else (max(1, int(short * h / w)), short))
            else:
                rh, rw = th, tw
            mode = "bicubic" if int(getattr(ip, "resample", 3) or 3) == 3 else "bilinear"
            if (rh, rw) != (h, w):
                x = F.interpolate(x, size=(rh, rw), mode=mode, align_corners=False, antialias=True)
        if getattr(ip, "do_center_crop", False) and x.shape[-2:] != (th, tw):
            top, left = max(0, (x.shape[-2] - th) // 2), max(0, (x.shape[-1] - tw) // 2)
            x = x[..., top:top + th, left:left + tw]
        x = x.clamp(0.0, 1.0)  # the processor works on uint8-range images
        if getattr(ip, "do_normalize", True):
            x = (x - mean) / std
        return x.to(self.dtype)

    def prompt(self, query: str) -> str:
        """Prompt text for one query: chat template (image before the query) if
        the processor has one, else ``"<image>\\n{query}"``."""
        if getattr(self.processor, "chat_template", None):
            conv = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": query}]}]
            return self.processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
        return f"{self.processor.image_token}\n{query}"

    def text_inputs(self, queries: list[str]) -> dict:
        """``input_ids``/``attention_mask`` [B, L] with the image tokens expanded
        (the processor is called once with dummy images; its pixels are dropped)."""
        key = tuple(str(q) for q in queries)
        if self._ids_cache is None or self._ids_cache[0] != key:
            from PIL import Image
            th, tw = self._target_size()
            dummy = [Image.new("RGB", (tw, th), (127, 127, 127)) for _ in key]
            with torch.device("cpu"):     # the HF processor builds on the default device
                enc = self.processor(text=[self.prompt(q) for q in key], images=dummy,
                                     return_tensors="pt", padding=True)
            ids = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
            self._ids_cache = (key, ids)
        return {k: v.to(self.device) for k, v in self._ids_cache[1].items()}

    def _check(self, images: torch.Tensor, queries: list[str]) -> None:
        if isinstance(queries, str) or len(queries) != images.shape[0]:
            raise ValueError(f"need one query per image: {images.shape[0]} images, "
                             f"{1 if isinstance(queries, str) else len(queries)} queries")

    # ------------------------------------------------------------------ judge
    def image_token_states(self, images: torch.Tensor, queries: list[str]) -> torch.Tensor:
        """Last-layer LM hidden states at the image-token positions ([B, N, hidden]).

        These are the paper's ``h_n`` (eq. 11) for the prompt built from each
        query; differentiable w.r.t. ``images`` ([B, 3, H, W] in [0, 1])."""
        self._check(images, queries)
        inputs = self.text_inputs(queries)
        out = self.model.model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                               pixel_values=self.pixel_values(images))
        hidden = out[0]  # last_hidden_state (after the LM's final norm), [B, L, D]
        mask = inputs["input_ids"] == self.image_token_id
        n = int(mask[0].sum())
        if n == 0 or bool((mask.sum(1) != n).any()):
            raise RuntimeError("image tokens missing or unequal across the batch")
        return hidden[mask].view(hidden.shape[0], n, hidden.shape[-1])

    def relevance_loss(self, originals: torch.Tensor, reconstructions: torch.Tensor,
                       queries: list[str]) -> torch.Tensor:
        """User-intent relevance loss (paper eq. 11), [B]: mean over image tokens
        of ``1 - cos(h_n, h_hat_n)``.  Originals under no_grad; gradients flow to
        ``reconstructions``."""
        with torch.no_grad():
            ref = self.image_token_states(originals, queries)
        rec = self.image_token_states(reconstructions, queries)
        return (1.0 - F.cosine_similarity(rec.float(), ref.float(), dim=-1)).mean(dim=-1)

    @torch.no_grad()
    def answer(self, images: torch.Tensor, queries: list[str]) -> list[str]:
        """Greedy answers (``do_sample=False``, ``max_new_tokens``): decoded new
        tokens only, special tokens skipped, stripped."""
        self._check(images, queries)
        inputs = self.text_inputs(queries)
        tok = self.processor.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        out = self.model.generate(**inputs, pixel_values=self.pixel_values(images), do_sample=False,
                                  max_new_tokens=self.max_new_tokens, pad_token_id=pad)
        new = out[:, inputs["input_ids"].shape[1]:]
        return [t.strip() for t in tok.batch_decode(new, skip_special_tokens=True)]

    def answer_match(self, originals: torch.Tensor, reconstructions: torch.Tensor,
                     queries: list[str]) -> np.ndarray:
        """[B] float 0/1: normalised answer on the reconstruction equals the one
        on the original (the paper's answer match rate is its mean)."""
        a = self.answer(originals, queries)
        b = self.answer(reconstructions, queries)
        return np.array([float(normalize_answer(x) == normalize_answer(y))
                         for x, y in zip(a, b, strict=True)])

    def describe(self) -> dict:
        """Model id/path, class names, parameter count, device, dtype, test flag."""
        return {"model": self.model_id, "model_class": type(self.model).__name__,
                "processor_class": type(self.processor).__name__,
                "num_parameters": int(sum(p.numel() for p in self.model.parameters())),
                "device": str(self.device), "dtype": str(self.dtype),
                "test_model": bool(self.is_test_model)}

    def models(self) -> list[ModelRecord]:
        """The judge's model: folder, content hash, ``test_model`` flag (see :func:`llava_model_record`)."""
        rec = llava_model_record(self.model_id)
        rec.extra.update(self.describe())
        return [rec]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


_TINY_WORDS = ("what is color of dog cat car red blue green yes no how many there are in image "
               "picture animal 0 1 2 3 4 5 6 7 8 9 10 ? . , : user assistant").split()
_TINY_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {% for c in m['content'] %}"
                  "{% if c['type'] == 'image' %}<image>\n{% else %}{{ c['text'] }}{% endif %}"
                  "{% endfor %}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}")


def build_tiny_llava(path: str, seed: int = 0) -> str:
    """Write a TINY random ``LlavaForConditionalGeneration`` + ``LlavaProcessor``
    to ``path`` (save_pretrained) and return ``path``.  FOR TESTS ONLY.

    Vision: CLIP 32x32 input, patch 8, hidden 32, 2 layers -> 16 image tokens
    (CLS dropped).  Text: Llama, hidden 32, 2 layers, word-level vocabulary
    built offline with ``tokenizers``.  Labelled ``semlink-tiny-test-model``
    (README.md); :class:`LlavaJudge` records it as ``test_model`` (``is_test_model``)."""
    transformers = _require_transformers()
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    specials = ["<pad>", "<unk>", "<s>", "</s>", "<image>"]
    vocab = {t: i for i, t in enumerate(specials + list(dict.fromkeys(_TINY_WORDS)))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(specials)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B",
                                                       special_tokens=[("<s>", vocab["<s>"])])
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", padding_side="left")
    image_size, patch = 32, 8
    improc = transformers.CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size})
    processor = transformers.LlavaProcessor(
        image_processor=improc, tokenizer=tokenizer, patch_size=patch,
        vision_feature_select_strategy="default", num_additional_image_tokens=1,
        image_token="<image>", chat_template=_TINY_TEMPLATE)
    vision = transformers.CLIPVisionConfig(image_size=image_size, patch_size=patch, hidden_size=32,
                                           intermediate_size=64, num_hidden_layers=2,
                                           num_attention_heads=2, projection_dim=32)
    text = transformers.LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                                    num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                    max_position_embeddings=256, pad_token_id=vocab["<pad>"],
                                    bos_token_id=vocab["<s>"], eos_token_id=vocab["</s>"])
    config = transformers.LlavaConfig(vision_config=vision, text_config=text,
                                      image_token_index=vocab["<image>"],
                                      vision_feature_select_strategy="default",
                                      image_seq_length=(image_size // patch) ** 2)
    config.name_or_path = TEST_MODEL_MARKER
    torch.manual_seed(seed)
    model = transformers.LlavaForConditionalGeneration(config).eval()
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / "README.md").write_text(
        f"# {TEST_MODEL_MARKER}\n\nTiny RANDOM LLaVA written by semlink.semantic.vlm.build_tiny_llava "
        "for tests. Its outputs are meaningless; never use it as a real model.\n", encoding="utf-8")
    (out / PROVENANCE_MARKER).write_text(
        json.dumps({"builder": "semlink.semantic.vlm.build_tiny_llava", "seed": seed}), encoding="utf-8")
    return str(out)
