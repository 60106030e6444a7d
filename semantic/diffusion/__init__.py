"""Stable Diffusion 1.5 (+ IP-Adapter) regeneration for generative semantic codecs.

See :mod:`.sd` (the generator) and :mod:`.prompts` (captions beyond 77 tokens).
Needs the ``diffusion`` extra (``pip install 'semlink[diffusion]'``).
"""

from .prompts import PROMPT_MODES, encode_captions, token_windows
from .sd import (
    DEFAULT_IP_ADAPTER,
    DEFAULT_IP_WEIGHT,
    DEFAULT_SD,
    SCHEDULERS,
    GenerationRequest,
    StableDiffusion,
)

__all__ = ["PROMPT_MODES", "encode_captions", "token_windows", "DEFAULT_IP_ADAPTER",
           "DEFAULT_IP_WEIGHT", "DEFAULT_SD", "SCHEDULERS", "GenerationRequest", "StableDiffusion"]
