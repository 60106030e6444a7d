"""Query-aware image semantic coding (Chen et al., arXiv 2408.12616) with tiny LLaVA and SD models."""

import pytest
import torch

pytest.importorskip("diffusers", reason="needs the 'diffusion' extra (scripts/test.sh installs it)")

from fixtures.tiny_diffusion import build_tiny_sd  # noqa: E402
from semlink.links.link import Link  # noqa: E402
from semlink.semantic import make_codec  # noqa: E402
from semlink.semantic.vlm import build_tiny_llava  # noqa: E402

PROFILES = {"default": {"kind": "digital", "code": "none", "k": 1024, "modulation": "qpsk", "crc": "CRC16"},
            "ldpc": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.5, "modulation": "qpsk"},
            "analog": {"kind": "analog"}}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("query_aware_models")
    return {"llava": build_tiny_llava(str(root / "llava")), "sd": str(build_tiny_sd(root / "sd"))}


def _codec(models, **over):
    params = {"vlm": models["llava"], "diffusion": models["sd"], "steps": 2, "size": 32,
              "guidance": 3.0, "scheduler": "ddim", "max_answer_tokens": 5, "image_rate_bpp": 1.5,
              **over}
    return make_codec("query_aware", params, {"answer": "ldpc", "image": "default"})


def _images():
    g = torch.Generator().manual_seed(0)
    return [torch.rand(3, 48, 64, generator=g), torch.rand(3, 40, 40, generator=g)]


def test_answer_and_image_streams_with_exact_channel_uses(models, device):
    codec = _codec(models)
    images, queries = _images(), [["What is on the table?"], []]
    payload = codec.encode(images, queries)
    answers = codec.judge.answer(images[0][None], ["What is on the table?"]) + \
        codec.judge.answer(images[1][None], [codec.default_query])
    # the answer stream is the VLM's answer to the image's own query, as UTF-8 bits
    for bits, a, side in zip(payload.streams["answer"].data, answers, payload.side_info, strict=True):
        assert bits.numel() == 8 * len(a.encode()) == side["answer_bits"]
    assert [s["query"] for s in payload.side_info] == ["What is on the table?", codec.default_query]
    # the image stream is a JPEG2000 file within the stated rate
    for bits, img in zip(payload.streams["image"].data, images, strict=True):
        assert 0 < bits.numel() <= 1.5 * img.shape[1] * img.shape[2]
        assert bits.numel() % 8 == 0
    link = Link(PROFILES, "awgn", seed=0, device=device)
    rx = link.transmit(payload, snr_db=40.0)
    for i in range(2):
        want = sum(link.chain(p).channel_uses_for(int(payload.streams[s].data[i].numel()))
                   for s, p in codec.stream_profiles.items())
        assert int(rx.channel_uses()[i]) == want
        assert int(rx.reports["answer"].channel_uses[i]) == \
            link.chain("ldpc").channel_uses_for(int(payload.streams["answer"].data[i].numel()))
    rec = codec.decode(rx)
    assert rec.extras["received_text"] == answers == rec.texts   # error-free at 40 dB
    assert [tuple(r.shape) for r in rec.images] == [(3, 48, 64), (3, 40, 40)]
    assert rec.fallback == [False, False]
    # regeneration is seeded per image: decoding again gives the same images, batch-independent
    again = codec.decode(rx)
    assert all(torch.equal(a, b) for a, b in zip(rec.images, again.images, strict=True))
    p = codec.params()
    assert p["vlm_model"]["test_model"] and p["image_codec"] == "jpeg2000" and p["image_rate_bpp"] == 1.5
    assert any(m["test_model"] for m in p["diffusion_model"]["models"])


def test_noisy_answer_bits_reach_the_text(models, device):
    codec = _codec(models)
    payload = codec.encode(_images()[:1], [["How many people are there?"]])
    rx = Link(PROFILES, "awgn", seed=3, device=device).transmit(payload, snr_db=-2.0)
    rec = codec.decode(rx)
    sent = payload.side_info[0]["eval_sent_text"]
    assert rx.reports["answer"].bit_errors[0] > 0
    assert rec.extras["received_text"][0] != sent and len(rec.extras["received_text"][0]) > 0
    # the text metrics find the answer as sent (extras["sent_texts"], as every text codec gives)
    from semlink.metrics.text import cer, exact_match
    assert exact_match([None], rec)[0] == 0.0 and cer([None], rec)[0] > 0.0
    assert rec.images[0].shape == (3, 48, 64)


def test_bad_parameters_name_the_setting(models):
    with pytest.raises(ValueError, match="image_codec must be one of"):
        _codec(models, image_codec="bpg")
    with pytest.raises(ValueError, match=r"image_rate_bpp must be in \(0, 24\]"):
        _codec(models, image_rate_bpp=0)
    with pytest.raises(ValueError, match="size must be a positive multiple of 8"):
        _codec(models, size=30)
    with pytest.raises(ValueError, match="prompt_template must contain"):
        _codec(models, prompt_template="a photo")
