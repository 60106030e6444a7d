"""LLaVA judge (UO-ISC relevance loss, eq. 11, and answer match rate) on a tiny random LLaVA."""

import numpy as np
import pytest
import torch

from conftest import TEST_DEVICE

pytest.importorskip("transformers")

from semlink.semantic.vlm import TEST_MODEL_MARKER, LlavaJudge, build_tiny_llava, normalize_answer  # noqa: E402

QUERIES = ["what color is the dog?", "how many cats are there?"]
N_TOKENS = (32 // 8) ** 2  # tiny CLIP: 32x32 input, patch 8, CLS dropped ("default" strategy)


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return build_tiny_llava(str(tmp_path_factory.mktemp("tiny_llava")), seed=0)


def _judge_without_own_warning(path, **kw):
    """A test model is announced once, before the sweep, from its record: loading it warns nothing."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        judge = LlavaJudge(path, **kw)
    assert not [w for w in caught if "test model" in str(w.message).lower()]
    assert judge.is_test_model and judge.models()[0].test_model
    return judge


@pytest.fixture(scope="module")
def judge(tiny_path):
    return _judge_without_own_warning(tiny_path, max_new_tokens=4, device=TEST_DEVICE)


def _images(seed, h=40, w=52):
    return torch.rand(2, 3, h, w, generator=torch.Generator().manual_seed(seed))


def test_tiny_model_is_labelled_and_loads_via_from_pretrained(tiny_path, judge):
    from pathlib import Path

    assert TEST_MODEL_MARKER in (Path(tiny_path) / "README.md").read_text()
    info = judge.describe()
    assert info["model"] == tiny_path
    assert info["model_class"] == "LlavaForConditionalGeneration"
    assert info["processor_class"] == "LlavaProcessor"
    assert info["test_model"] is True and info["device"] == TEST_DEVICE
    assert 0 < info["num_parameters"] < 200_000


def test_image_token_states_shape(judge):
    states = judge.image_token_states(_images(0), QUERIES)
    assert states.shape == (2, N_TOKENS, judge.model.config.text_config.hidden_size)
    assert torch.isfinite(states).all()


def test_pixel_values_match_processor_on_native_size(judge):
    from PIL import Image

    img = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype("uint8")
    ref = judge.processor.image_processor(images=[Image.fromarray(img)], return_tensors="pt")["pixel_values"]
    mine = judge.pixel_values(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255)
    assert mine.shape == ref.shape and mine.device == torch.device(TEST_DEVICE)
    assert torch.allclose(mine.cpu(), ref, atol=1e-5)


def test_relevance_loss_zero_for_identical_positive_otherwise(judge):
    x, y = _images(1), _images(2)
    same = judge.relevance_loss(x, x, QUERIES)
    assert same.shape == (2,)
    assert same.abs().max().item() < 1e-5
    diff = judge.relevance_loss(x, y, QUERIES)
    assert (diff > 1e-3).all()


def test_relevance_loss_is_differentiable(judge):
    x = _images(3)
    recon = (0.5 * x + 0.25).clone().requires_grad_(True)
    loss = judge.relevance_loss(x, recon, QUERIES)
    assert loss.requires_grad
    loss.sum().backward()
    assert recon.grad is not None and recon.grad.shape == recon.shape
    assert recon.grad.abs().sum().item() > 0


def test_answer_and_answer_match(judge):
    x = _images(4)
    answers = judge.answer(x, QUERIES)
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
    assert answers == judge.answer(x, QUERIES)  # greedy decoding is deterministic
    match = judge.answer_match(x, x, QUERIES)
    assert isinstance(match, np.ndarray) and match.shape == (2,)
    np.testing.assert_array_equal(match, np.ones(2))


def test_prompt_fallback_without_chat_template(tiny_path):
    j = _judge_without_own_warning(tiny_path)
    assert "<image>" in j.prompt("q") and j.prompt("q") != "<image>\nq"  # chat template used
    j.processor.chat_template = None
    assert j.prompt("what is it?") == "<image>\nwhat is it?"
    assert j.image_token_states(_images(5)[:1], ["what is it?"]).shape[1] == N_TOKENS


def test_query_count_must_match(judge):
    with pytest.raises(ValueError, match="one query per image"):
        judge.image_token_states(_images(6), ["only one"])


@pytest.mark.parametrize("raw, expected", [
    ("The Dog.", "dog"), ("two cats", "2 cats"), ("  A  red   car ", "red car"),
    ("Yes!", "yes"), ("an apple, the end", "apple end"), ("TEN", "10"),
])
def test_normalize_answer(raw, expected):
    assert normalize_answer(raw) == expected


def test_missing_model_raises_with_fix():
    with pytest.raises(FileNotFoundError) as err:
        LlavaJudge("semlink-test/does-not-exist")
    msg = str(err.value)
    assert "semlink-test/does-not-exist" in msg
    assert "huggingface-cli download" in msg and "no download" in msg


def test_the_metrics_test_judge_is_announced_once_before_the_sweep(tiny_path):
    """The judge's flag reaches the pre-sweep announcement through the metric's records."""
    from types import SimpleNamespace

    from semlink.links.runner import flagged_models
    from semlink.metrics import get_metric

    metric = get_metric("answer_match", {"vlm": tiny_path}, "cpu")
    runner = SimpleNamespace(codec=None, metrics=[metric])
    lines = flagged_models(runner, SimpleNamespace(points=lambda: []))
    assert lines == [f"metric 'answer_match': vlm_judge '{tiny_path}' is TEST MODEL (a tiny model "
                     "built for tests: its numbers mean nothing)"]
