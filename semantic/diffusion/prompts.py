"""Prompt encoding beyond CLIP's 77-token window.

SD 1.5's text encoder sees 77 tokens (BOS + 75 + EOS); a plain pipeline
truncates longer prompts, which silently drops captions 2-4 of Multi-SC.
Here each caption is tokenised without truncation and cut into windows of
75 tokens; every window is wrapped in BOS/EOS, padded to 77 and encoded on
its own, and the encoder outputs are concatenated along the sequence axis
([K*77, D] for K windows). The UNet's cross-attention accepts any sequence
length, so every token of every caption conditions the image.

Modes (:data:`PROMPT_MODES`):

* ``"per_caption"`` (default): each caption starts its own window(s);
* ``"joined"``: captions joined with ``". "``, then cut into windows (fewer windows);
* ``"truncate"``: what a plain pipeline does (joined, first 77 tokens only);
  for ablations, it drops text.
"""

from __future__ import annotations

import torch

PROMPT_MODES = ("per_caption", "joined", "truncate")


def token_windows(tokenizer, captions: list[str], mode: str = "per_caption") -> list[list[int]]:
    """Captions -> token-id windows of at most ``model_max_length - 2`` ids (no BOS/EOS).

    An empty caption list (or only empty captions) gives one empty window
    (the unconditional prompt).
    """
    if mode not in PROMPT_MODES:
        raise ValueError(f"prompt mode must be one of {PROMPT_MODES}, got {mode!r}")
    if isinstance(captions, str):
        raise ValueError("captions must be a list of strings, got a single string")
    width = tokenizer.model_max_length - 2
    captions = [c.strip() for c in captions if c and c.strip()]
    texts = captions if mode == "per_caption" else [". ".join(captions)] if captions else []
    windows: list[list[int]] = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False, truncation=False, verbose=False).input_ids
        chunks = [ids[i:i + width] for i in range(0, len(ids), width)] or [[]]
        windows.extend(chunks[:1] if mode == "truncate" else chunks)
    return windows or [[]]


def _window_ids(tokenizer, window: list[int]) -> list[int]:
    n = tokenizer.model_max_length
    ids = [tokenizer.bos_token_id, *window, tokenizer.eos_token_id]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return ids + [pad] * (n - len(ids))


@torch.no_grad()
def encode_windows(tokenizer, text_encoder, windows: list[list[int]], device, dtype) -> torch.Tensor:
    """Token windows -> [K * 77, D] concatenated text-encoder hidden states."""
    ids = torch.tensor([_window_ids(tokenizer, w) for w in windows], device=device)
    hidden = text_encoder(ids)[0]                       # [K, 77, D]
    return hidden.to(dtype).reshape(-1, hidden.shape[-1])


def encode_captions(tokenizer, text_encoder, captions: list[str], mode: str, device,
                    dtype) -> tuple[torch.Tensor, int]:
    """Captions -> ([K * 77, D] embeddings, number of windows K)."""
    windows = token_windows(tokenizer, captions, mode)
    return encode_windows(tokenizer, text_encoder, windows, device, dtype), len(windows)
