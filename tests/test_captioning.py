"""Captioner: the papers' query in the prompt, greedy determinism, batching, cache, BLIP."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

pytest.importorskip("transformers")

from semlink.semantic.captioning import PAPER_QUERY, Captioner, split_image  # noqa: E402


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from fixtures.tiny_text_models import build_tiny_blip, build_tiny_llava

    root = tmp_path_factory.mktemp("captioners")
    return {"llava": build_tiny_llava(root / "llava"), "blip": build_tiny_blip(root / "blip")}


def _images(n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(3, 40 + 4 * i, 48, generator=g) for i in range(n)]


def test_the_papers_exact_query_is_in_the_llava_prompt(tiny_models):
    assert PAPER_QUERY == "Relay a brief, clear account of the picture shown."
    cap = Captioner(str(tiny_models["llava"]), max_new_tokens=4)
    prompt = cap.prompt()
    assert PAPER_QUERY in prompt and "<image>" in prompt
    assert cap.family == "llava" and cap.record().test_model


@pytest.mark.parametrize("family", ["llava", "blip"])
def test_captions_are_deterministic_and_batching_does_not_change_them(tiny_models, family):
    imgs = _images()
    a = Captioner(str(tiny_models[family]), max_new_tokens=5, batch_size=3).caption(imgs)
    b = Captioner(str(tiny_models[family]), max_new_tokens=5, batch_size=1).caption(imgs)
    assert a == b and len(a) == 3 and all(isinstance(t, str) for t in a)


def test_captions_are_cached_by_image_content(tiny_models, monkeypatch):
    cap = Captioner(str(tiny_models["llava"]), max_new_tokens=3)
    imgs = _images(2)
    first = cap.caption(imgs)
    calls = []
    monkeypatch.setattr(cap, "_generate", lambda batch: calls.append(len(batch)) or ["x"] * len(batch))
    assert cap.caption([imgs[1].clone(), imgs[0].clone()]) == first[::-1]
    assert calls == []                                   # the second SNR point reuses the captions
    cap.caption([torch.zeros(3, 8, 8), torch.zeros(3, 8, 8)])
    assert calls == [1]                                  # the same new image is captioned once


def test_a_model_that_is_not_a_captioner_is_refused(tmp_path):
    from fixtures.tiny_text_models import build_tiny_bart

    cap = Captioner(str(build_tiny_bart(tmp_path / "bart")))
    with pytest.raises(ValueError, match="model_type 'bart'"):
        cap.caption(_images(1))


def test_split_image_covers_the_image_in_row_major_parts():
    img = torch.arange(3 * 5 * 7, dtype=torch.float32).view(3, 5, 7)
    parts = split_image(img, 2, 3)
    assert len(parts) == 6
    assert sum(p.shape[-2] * p.shape[-1] for p in parts) == 5 * 7
    top = torch.cat(parts[:3], dim=-1)
    bottom = torch.cat(parts[3:], dim=-1)
    assert torch.equal(torch.cat([top, bottom], dim=-2), img)
    with pytest.raises(ValueError, match="rows"):
        split_image(img, 0, 1)
