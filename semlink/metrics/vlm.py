"""VLM-judged metrics (UO-ISC paper, Sec. IV): ``answer_match`` and ``relevance_loss``.

Both pair each original and reconstruction with the image's user query (the
first query of the dataset item, else ``default_query``) and ask a
LLaVA-family model (:class:`semlink.semantic.vlm.LlavaJudge`):

* ``answer_match``: 1 when the greedy answers on original and reconstruction
  agree after VQA-style normalisation, else 0; the mean is the answer match rate.
* ``relevance_loss``: the user-intent relevance loss, mean cosine distance of
  the language model's hidden states at the image tokens (eq. 11; lower is better).

Scenario entry: ``{name: answer_match, vlm: llava-hf/llava-interleave-qwen-0.5b-hf}``
(a hub id in the local Hugging Face cache, or a local folder). When the model
is not on disk the metric is reported unavailable, naming the model and how
to get it; it never falls back to another model.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from semlink.device import DEFAULT_DEVICE, resolve_device

from .base import METRICS, Metric

DEFAULT_QUERY = "What is in the image?"


@lru_cache(maxsize=2)
def _judge(vlm: str, device: str):
    from semlink.semantic.vlm import LlavaJudge

    return LlavaJudge(vlm, device=device)


def _unavailable(vlm: str):
    def check() -> str | None:
        try:
            import transformers  # noqa: F401
        except ImportError:
            return "needs transformers: pip install 'semlink[vlm]'"
        from semlink.semantic.vlm import in_hf_cache

        if Path(vlm).expanduser().is_dir() or in_hf_cache(vlm):
            return None
        return (f"VLM {vlm!r} is not on this machine (no download is possible here). On a machine "
                f"with internet run: huggingface-cli download {vlm} , then copy the Hugging Face "
                "cache here or give the metric a local folder: {name: ..., vlm: /path/to/model}")
    return check


def _pairs(originals, recon):
    queries = recon.extras.get("queries") or [None] * len(originals)
    for a, b, q in zip(originals, recon.images, queries, strict=True):
        yield a.float()[None], b.float().clamp(0, 1)[None], q or DEFAULT_QUERY


def _factory(kind: str):
    def make(vlm: str, device: str = DEFAULT_DEVICE) -> Metric:
        device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
        if not isinstance(vlm, str) or not vlm:
            raise ValueError(f"metric {kind!r} needs vlm: a LLaVA model id or folder")

        def compute(originals, recon) -> np.ndarray:
            judge = _judge(vlm, device)
            out = []
            for a, b, q in _pairs(originals, recon):
                with torch.no_grad():
                    if kind == "answer_match":
                        out.append(float(judge.answer_match(a, b, [q])[0]))
                    else:
                        out.append(float(judge.relevance_loss(a, b, [q])[0]))
            return np.array(out)

        def models() -> list:
            from semlink.semantic.vlm import llava_model_record

            return [llava_model_record(vlm)]

        higher = kind == "answer_match"
        return Metric(kind, "", higher, compute, f"{kind} judged by {vlm}", _unavailable(vlm),
                      model_records=models)
    return make


METRICS.add("answer_match", _factory("answer_match"),
            "VQA answer match rate judged by a LLaVA-family model (params: vlm)")
METRICS.add("relevance_loss", _factory("relevance_loss"),
            "user-intent relevance loss (UO-ISC eq. 11) from a LLaVA-family model (params: vlm)")
