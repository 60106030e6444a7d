"""Stable Diffusion + IP-Adapter regeneration with tiny models loaded through the model layer."""

import pytest
import torch

pytest.importorskip("diffusers", reason="needs the 'diffusion' extra (scripts/test.sh installs it)")

from fixtures.tiny_diffusion import build_tiny_diffusion  # noqa: E402
from semlink.semantic.diffusion import GenerationRequest, StableDiffusion, token_windows  # noqa: E402

SIZE = dict(height=32, width=32, steps=2, guidance=3.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_diffusion(tmp_path_factory.mktemp("tiny_sd"))


@pytest.fixture(scope="module")
def with_adapter(tiny):
    sd, ip = tiny
    return StableDiffusion(model=str(sd), ip_adapter=str(ip), scale=0.0, **SIZE)


@pytest.fixture(scope="module")
def plain(tiny):
    return StableDiffusion(model=str(tiny[0]), ip_adapter=None, **SIZE)


def _object():
    g = torch.Generator().manual_seed(3)
    return torch.rand(3, 20, 28, generator=g)


def test_records_flag_test_models(with_adapter):
    roles = {r.role: r for r in with_adapter.records}
    assert {"diffusion.unet", "diffusion.vae", "diffusion.text_encoder", "diffusion.ip_adapter",
            "diffusion.image_encoder"} <= set(roles)
    assert all(r.test_model and r.sha256.startswith("sha256:") for r in roles.values())


def test_output_size_and_range(with_adapter):
    (img,) = with_adapter.generate([GenerationRequest(["a red car"], seed=1, image_prompt=_object())])
    assert img.shape == (3, 32, 32) and img.dtype == torch.float32
    assert 0 <= img.min() and img.max() <= 1


def test_scale_zero_equals_plain_text_to_image(with_adapter, plain):
    with_adapter.config["scale"] = 0.0
    a = with_adapter.generate([GenerationRequest(["a red car on a road"], 5, _object())])[0]
    b = plain.generate([GenerationRequest(["a red car on a road"], 5)])[0]
    assert torch.allclose(a, b, atol=1e-6)
    with_adapter.config["scale"] = 1.0
    try:
        c = with_adapter.generate([GenerationRequest(["a red car on a road"], 5, _object())])[0]
    finally:
        with_adapter.config["scale"] = 0.0
    assert (c - b).abs().max() > 1e-3


def test_seed_controls_noise_and_batch_does_not_matter(plain):
    r1 = GenerationRequest(["a boat"], 11)
    r2 = GenerationRequest(["a house"], 12)
    plain._cache.clear()
    alone = plain.generate([r1])[0]
    plain._cache.clear()
    batched = plain.generate([r2, r1])[1]
    assert torch.allclose(alone, batched, atol=1e-5)
    other = plain.generate([GenerationRequest(["a boat"], 13)])[0]
    assert (other - alone).abs().max() > 1e-3


def test_long_prompts_are_not_truncated(tiny, plain):
    tok = plain.pipe.tokenizer
    first = "a small boat " * 8                       # one token per letter: 80 tokens (> 75)
    caps = [first, "a tall red lighthouse"]           # 18 tokens
    windows = token_windows(tok, caps, "per_caption")
    assert [len(w) for w in windows] == [75, 5, 18]
    assert len(token_windows(tok, caps, "truncate")) == 1
    a = plain.generate([GenerationRequest(caps[:1], 3)])[0]
    b = plain.generate([GenerationRequest(caps, 3)])[0]
    assert (a - b).abs().max() > 1e-4              # caption 2, beyond token 77, changes the image
    trunc = StableDiffusion(model=str(tiny[0]), ip_adapter=None, prompt_mode="truncate", **SIZE)
    t1 = trunc.generate([GenerationRequest(caps[:1], 3)])[0]
    t2 = trunc.generate([GenerationRequest(caps, 3)])[0]
    assert torch.allclose(t1, t2)                  # a plain pipeline drops it


def test_cache_reuses_identical_inputs(plain):
    plain._cache.clear()
    runs, hits = plain.stats.runs, plain.stats.cache_hits
    req = GenerationRequest(["a green field"], 21)
    a = plain.generate([req, GenerationRequest(["a green field"], 21)])
    b = plain.generate([req])
    assert plain.stats.runs - runs == 1 and plain.stats.cache_hits - hits == 1
    assert torch.equal(a[0], a[1]) and torch.equal(a[0], b[0])


def test_image_to_image(with_adapter):
    init = torch.rand(3, 40, 40)
    out = with_adapter.generate([GenerationRequest(["a cat"], 2, _object(), init_image=init)])[0]
    assert out.shape == (3, 32, 32)


def test_bad_arguments(tiny):
    with pytest.raises(ValueError, match="multiple of 8"):
        StableDiffusion(model=str(tiny[0]), ip_adapter=None, height=30)
    with pytest.raises(ValueError, match="lambda"):
        StableDiffusion(model=str(tiny[0]), ip_adapter=None, scale=-1)


def test_image_prompt_needs_adapter(plain):
    with pytest.raises(ValueError, match="no IP-Adapter"):
        plain.generate([GenerationRequest(["x"], 1, _object())])


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf"), True, "0.5", None])
def test_lambda_outside_0_1_is_refused_before_any_model_loads(bad):
    """diffusers' set_ip_adapter_scale takes any float; semlink keeps the papers' weight in [0, 1]
    and says so before resolving a model (the model reference here does not exist)."""
    with pytest.raises(ValueError, match=r"scale=.*lambda must be a number in \[0, 1\]"):
        StableDiffusion(model="nobody/no-such-sd", ip_adapter=None, scale=bad, **SIZE)


def test_lambda_bounds_and_default_are_accepted():
    from semlink.semantic.diffusion.sd import DEFAULT_IP_ADAPTER_SCALE, check_ip_adapter_scale

    assert [check_ip_adapter_scale(v) for v in (0, 0.25, 1)] == [0.0, 0.25, 1.0]
    assert DEFAULT_IP_ADAPTER_SCALE == 0.5
    with pytest.raises(ValueError, match="ip_adapter_scale=2"):
        check_ip_adapter_scale(2, "ip_adapter_scale")


def test_lambda_reaches_every_adapter_attention_layer(tiny):
    """The configured lambda is what the IP-Adapter attention processors use for an image
    prompt; a text-only request in the same pipeline runs with lambda = 0."""
    from diffusers.models.attention_processor import IPAdapterAttnProcessor2_0

    sd = StableDiffusion(model=str(tiny[0]), ip_adapter=str(tiny[1]), scale=0.25, **SIZE)

    def scales():
        procs = [p for p in sd.pipe.unet.attn_processors.values()
                 if isinstance(p, IPAdapterAttnProcessor2_0)]
        assert procs, "no IP-Adapter attention processor in the tiny UNet"
        return {s for p in procs for s in p.scale}

    sd.generate([GenerationRequest(["a red car"], 4, _object())])
    assert scales() == {0.25}
    sd.generate([GenerationRequest(["a red car"], 4)])
    assert scales() == {0.0}
    assert sd.describe()["scale"] == 0.25


def test_settings_that_differ_in_lambda_share_one_pipeline(tiny):
    """A lambda sweep holds one SD 1.5 in memory: each object sets its own lambda per call."""
    a = StableDiffusion(model=str(tiny[0]), ip_adapter=str(tiny[1]), scale=0.25, **SIZE)
    b = StableDiffusion(model=str(tiny[0]), ip_adapter=str(tiny[1]), scale=0.75, **SIZE)
    assert a.pipe is b.pipe and a.records == b.records
    assert (a.describe()["scale"], b.describe()["scale"]) == (0.25, 0.75)

    def request():
        return GenerationRequest(["a red car"], 6, _object())

    first = a.generate([request()])[0]
    other = b.generate([request()])[0]
    a._cache.clear()
    again = a.generate([request()])[0]
    assert torch.allclose(first, again, atol=1e-6)        # b's lambda did not stay behind
    assert (first - other).abs().max() > 1e-4
    c = StableDiffusion(model=str(tiny[0]), ip_adapter=None, **SIZE)
    assert c.pipe is not a.pipe                           # other weights: its own pipeline
