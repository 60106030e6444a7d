"""Multi-SC, single-text SC and VLM-CSC end to end with tiny models of every class."""

import math

import pytest
import torch

pytest.importorskip("diffusers", reason="needs the 'diffusion' extra (scripts/test.sh installs it)")

from fixtures.tiny_diffusion import build_tiny_diffusion  # noqa: E402
from fixtures.tiny_text_models import build_tiny_bart, build_tiny_blip, build_tiny_clip, build_tiny_llava  # noqa: E402
from fixtures.tiny_vision import build_tiny_detr, build_tiny_fcn  # noqa: E402
from semlink.links.link import Link  # noqa: E402
from semlink.semantic import make_codec  # noqa: E402

# "default" is uncoded QPSK (error-free at 40 dB, and fast on CPU); "strong" is a real LDPC profile
PROFILES = {"default": {"kind": "digital", "code": "none", "k": 1024, "modulation": "qpsk", "crc": "CRC16"},
            "strong": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.25, "modulation": "bpsk"},
            "analog": {"kind": "analog"}}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("multisc_models")
    sd, ip = build_tiny_diffusion(root)
    return {"sd": str(sd), "ip": str(ip), "llava": str(build_tiny_llava(root / "llava")),
            "blip": str(build_tiny_blip(root / "blip")), "bart": str(build_tiny_bart(root / "bart")),
            "clip": str(build_tiny_clip(root / "clip")),
            "fcn": str(build_tiny_fcn(root / "fcn", favour_class=12)),
            "detr": str(build_tiny_detr(root / "detr"))}


def _codec(models, name="multisc", **over):
    diffusion = {"model": models["sd"], "ip_adapter": models["ip"], "steps": 2, "height": 32,
                 "width": 32, "guidance": 3.0}
    if name == "vlmcsc":
        diffusion.pop("ip_adapter")
        params = {"captioner": models["blip"], "max_new_tokens": 6, "diffusion": diffusion}
    else:
        params = {"captioner": models["llava"], "max_new_tokens": 6, "object_extractor": "fcn",
                  "object_model": models["fcn"], "object_size": 32, "diffusion": diffusion}
    params.update(over)
    return make_codec(name, params)


def _images():
    g = torch.Generator().manual_seed(0)
    return [torch.rand(3, 48, 64, generator=g), torch.rand(3, 40, 36, generator=g)]


def _send(codec, images, snr_db=40.0):
    link = Link(PROFILES, "awgn", seed=1)
    codec.attach_phy({s: link.chain(p) for s, p in codec.stream_profiles.items()})
    payload = codec.encode(images)
    received = link.transmit(payload, snr_db)
    return payload, received, codec.decode(received), link


def test_multisc_grid_end_to_end_high_snr(models):
    codec = _codec(models)
    images = _images()
    payload, received, recon, link = _send(codec, images)
    assert sorted(codec.stream_profiles) == ["object", "text_0", "text_1", "text_2", "text_3"]
    sent = [s["_measure"]["captions"] for s in payload.side_info]
    assert all(len(c) == 4 for c in sent)
    # error-free channel: the receiver gets the sent captions exactly
    assert recon.extras["received_captions"] == sent
    assert recon.extras["captions"] == sent
    # images of the requested (original) size
    assert [tuple(i.shape) for i in recon.images] == [(3, 48, 64), (3, 40, 36)]
    # exact channel uses per stream
    for k in range(4):
        rep = received.reports[f"text_{k}"]
        chain = link.chain("default")
        for i, caps in enumerate(sent):
            nbits = payload.streams[f"text_{k}"].data[i].numel()
            assert nbits == codec.text_encoding.num_bits(caps[k])
            assert rep.channel_uses[i] == chain.channel_uses_for(nbits)
            assert rep.bit_errors[i] == 0
    # the tiny FCN favours one class everywhere: the object is the whole image
    assert all(s["_measure"]["object_box"] is not None for s in payload.side_info)
    obj = received.reports["object"].channel_uses
    jscc = codec.objects.inner.model.symbols_for(32, 32)
    assert list(obj) == [jscc, jscc]
    m = recon.extras["per_image_metrics"]
    assert m["parts"] == [4.0, 4.0] and m["object_present"] == [1.0, 1.0]
    assert all(v >= 0 for k, vals in m.items() if k.startswith("time_") for v in vals)


def test_requested_generation_size_and_cache(models):
    # a digital object stream: at high SNR every input of the diffusion is error-free
    codec = _codec(models, output_size="generated", seed=5, object_codec="jpeg2000",
                   object_params={"rate_bpp": 2.0}, object_profile="default",
                   object_size=64)
    images = _images()
    _, _, recon, _ = _send(codec, images)
    assert [tuple(i.shape) for i in recon.images] == [(3, 32, 32)] * 2
    _, _, again, _ = _send(codec, images, snr_db=35.0)            # another SNR, error-free text
    assert again.extras["per_image_metrics"]["diffusion_cached"] == [1.0, 1.0]
    assert all(torch.equal(a, b) for a, b in zip(recon.images, again.images, strict=True))


def test_single_text_sc_and_unequal_protection(models):
    codec = _codec(models, split="none", text_profile="strong", corrector=f"bart:{models['bart']}")
    assert sorted(codec.stream_profiles) == ["object", "text_0"]
    payload, received, recon, link = _send(codec, _images())
    assert received.reports["text_0"].profile == "strong"
    assert received.reports["object"].profile == "analog"
    nbits = payload.streams["text_0"].data[0].numel()
    assert received.reports["text_0"].channel_uses[0] == link.chain("strong").channel_uses_for(nbits)
    assert recon.extras["per_image_metrics"]["parts"] == [1.0, 1.0]
    # BART ran on the received captions (a tiny random BART rewrites them)
    assert recon.extras["received_captions"] == [s["_measure"]["captions"] for s in payload.side_info]
    assert len(recon.extras["captions"]) == 2 and all(len(c) == 1 for c in recon.extras["captions"])


def test_detect_split_with_tiny_detector_and_fusion(models):
    codec = _codec(models, split="detect", detector=models["detr"], detector_threshold=0.5,
                   eps=0.05, max_parts=3)
    payload, _, recon, _ = _send(codec, _images())
    for s in payload.side_info:
        assert 1 <= len(s["_measure"]["boxes"]) <= 3
        assert len(s["text_bits"]) == len(s["_measure"]["boxes"])
    # the tiny DETR predicts the same box for every query: fusion merges them into one part
    assert [len(s["_measure"]["boxes"]) for s in payload.side_info] == [1, 1]
    assert recon.extras["captions"] == [s["_measure"]["captions"] for s in payload.side_info]


def test_clip_embed_object_stream(models):
    codec = _codec(models, object_codec="clip_embed")
    payload, received, recon, _ = _send(codec, _images())
    dim = codec.diffusion.pipe.image_encoder.config.projection_dim
    assert list(received.reports["object"].channel_uses) == [math.ceil(dim / 2)] * 2
    assert [tuple(i.shape) for i in recon.images] == [(3, 48, 64), (3, 40, 36)]


def test_hevc_object_stream_rides_a_digital_profile(models):
    pytest.importorskip("pillow_heif")
    codec = _codec(models, object_codec="hevc_intra", object_params={"rate_bpp": 2.0},
                   object_profile="default", object_size=64)
    payload, received, recon, _ = _send(codec, _images())
    assert received.reports["object"].kind == "digital"
    assert all(received.reports["object"].channel_uses > 0)
    assert recon.fallback == [False, False]


def test_vlmcsc_text_only(models):
    codec = _codec(models, "vlmcsc")
    assert sorted(codec.stream_profiles) == ["text_0"]
    payload, received, recon, _ = _send(codec, _images())
    assert codec.diffusion.has_adapter is False
    assert recon.extras["captions"] == [s["_measure"]["captions"] for s in payload.side_info]
    assert received.channel_uses().tolist() == list(received.reports["text_0"].channel_uses)


def test_bad_parameters(models):
    with pytest.raises(ValueError, match="split must be one of"):
        make_codec("multisc", {"split": "quad"})
    with pytest.raises(ValueError, match="needs detector"):
        make_codec("multisc", {"split": "detect"})
    with pytest.raises(ValueError, match="needs oracle_annotations"):
        make_codec("multisc", {"split": "oracle"})
    with pytest.raises(ValueError, match="object_codec must be one of"):
        make_codec("multisc", {"object_codec": "bpg"})
    with pytest.raises(ValueError, match="text-to-image only"):
        make_codec("vlmcsc", {"diffusion": {"ip_adapter": "h94/IP-Adapter"}})


def test_sweep_oracle_split_timing_and_worst_scoring(models, tmp_path):
    import numpy as np
    import yaml

    from conftest import shared_data_dir
    from semlink.links.runner import run_sweep
    from semlink.links.scenario import load_scenario
    from semlink.links.summary import summarize
    from semlink.links.timing import apply_failed_as_worst, format_timing, timing_summary

    coco = shared_data_dir("coco-sample")   # fails naming `semlink data fetch` when absent
    diffusion = {"model": models["sd"], "ip_adapter": models["ip"], "steps": 1, "height": 32,
                 "width": 32, "guidance": 1.0}
    scenario = {
        "name": "multisc_tiny", "dataset": {"path": str(coco / "val2017"), "resize": 48, "max_images": 2},
        "codecs": [{"name": "multisc", "label": "Multi-SC oracle",
                    "params": {"split": "oracle", "oracle_annotations": str(coco / "annotations.json"),
                               "eps": 0.1, "captioner": models["llava"], "max_new_tokens": 4,
                               "object_extractor": "saliency", "object_size": 32,
                               "diffusion": diffusion}},
                   {"name": "raw_pixels", "params": {"bit_depth": 2, "downsample": 4}}],
        "profiles": PROFILES, "channels": ["awgn"], "snr_db": [-10, 30], "seeds": [0],
        "metrics": ["psnr", {"name": "clip_similarity", "model": models["clip"]}],
        "batch_size": 2, "device": "cpu"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    outcome = run_sweep(load_scenario(str(path)), str(tmp_path / "out"))
    # a failed point names its error (on the H200: no cv2.saliency, opencv-contrib missing)
    assert not outcome.failed, [(f.get("id"), f.get("error")) for f in outcome.failed]
    summary = summarize(str(tmp_path / "out" / "results.h5"))
    multisc = summary["runs"][0]
    assert multisc["metrics"]["parts"][1] >= 1 and "time_diffusion_s" in multisc["metrics"]
    # the lazily loaded tiny models are in the results, flagged as test models
    roles = {m["role"] for m in multisc["provenance"]["codec"]["models"]}
    assert "captioner" in roles and any(r.startswith("diffusion.") for r in roles), roles
    assert "test_model" in multisc["model_flags"]
    assert 0 <= multisc["metrics"]["clip_similarity"][1] <= 1
    timing = timing_summary(str(tmp_path / "out" / "results.h5"))
    assert [r["label"] for r in timing["runs"]] == ["Multi-SC oracle", "raw_pixels"]
    assert timing["runs"][1]["samples"] == 2 and not timing["runs"][1]["stages"]   # per point
    stages = timing["runs"][0]["stages"]
    assert {"extract", "split", "caption", "diffusion", "phy"} <= set(stages)
    assert timing["runs"][0]["mean_s"] == pytest.approx(sum(v["mean_s"] for v in stages.values()), rel=1e-6)
    assert "device: CPU" in format_timing(timing)
    # worst-value scoring touches only fallback images
    p = {"status": "ok", "fallback": np.array([True, False]),
         "metrics": {"lpips": [0.3, 0.4], "clip_similarity": [0.8, 0.9], "psnr": [20.0, 21.0]}}
    (q,) = apply_failed_as_worst([p])
    assert list(q["metrics"]["lpips"]) == [1.0, 0.4] and list(q["metrics"]["clip_similarity"]) == [0.0, 0.9]
    assert q["metrics"]["psnr"] == [20.0, 21.0] and p["metrics"]["lpips"] == [0.3, 0.4]


def test_ip_adapter_scale_sweep_reaches_the_pipeline(models, monkeypatch):
    """scenarios/multisc_ip_adapter_scale.yaml: one codec setting per lambda, and each
    setting's lambda is the scale the IP-Adapter layers get (tiny models swapped in for
    the scenario's real ones; everything else as the file says)."""
    from pathlib import Path

    from semlink.links.scenario import load_scenario

    path = Path(__file__).resolve().parents[1] / "scenarios" / "multisc_ip_adapter_scale.yaml"
    sc = load_scenario(str(path))
    lambdas = [c.params["ip_adapter_scale"] for c in sc.codecs]
    assert lambdas == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert [c.label for c in sc.codecs] == [f"Multi-SC[ip_adapter_scale={v}]" for v in lambdas]
    tiny = {"model": models["sd"], "ip_adapter": models["ip"], "steps": 2, "height": 32,
            "width": 32, "guidance": 3.0}
    from semlink.semantic.diffusion import GenerationRequest

    pipes = set()
    for setting, lam in zip(sc.codecs, lambdas, strict=True):
        codec = setting.instance
        assert codec.params()["ip_adapter_scale"] == lam and "scale" not in codec.params()["diffusion"]
        codec.diffusion_kwargs = dict(tiny)                 # the real SD 1.5 is not on this machine
        sd = codec.diffusion
        pipes.add(id(sd.pipe))
        seen = []
        real = type(sd.pipe).set_ip_adapter_scale.__get__(sd.pipe)
        monkeypatch.setattr(sd.pipe, "set_ip_adapter_scale", lambda s: (seen.append(s), real(s)))
        sd.generate([GenerationRequest(["a dog"], 1, image_prompt=torch.rand(3, 16, 16))])
        assert sd.config["scale"] == lam and seen == [lam]
    assert len(pipes) == 1                                  # one SD 1.5 for the five settings


def test_ip_adapter_scale_end_to_end_and_bad_values(models):
    codec = _codec(models, ip_adapter_scale=0.75)
    _send(codec, _images())
    assert codec.diffusion.config["scale"] == 0.75
    assert _codec(models).params()["ip_adapter_scale"] == 0.5       # semlink's default
    assert _codec(models, "vlmcsc").params()["ip_adapter_scale"] is None
    for bad in (1.5, -0.25, "half", float("nan")):
        with pytest.raises(ValueError, match=r"ip_adapter_scale=.*lambda must be a number in \[0, 1\]"):
            _codec(models, ip_adapter_scale=bad)
    with pytest.raises(ValueError, match="diffusion.scale=0.5: .* codec parameter ip_adapter_scale"):
        make_codec("multisc", {"diffusion": {"scale": 0.5}})
    with pytest.raises(ValueError, match="ip_adapter_scale=0.3 has no effect with object_codec: none"):
        make_codec("multisc", {"object_codec": "none", "ip_adapter_scale": 0.3})
