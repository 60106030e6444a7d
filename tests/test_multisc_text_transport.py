"""Multi-SC and VLM-CSC sending their captions as the captioner's token embeddings (the
Multi-SC letter's e_n, eq. 2) instead of bits, with tiny models of every class."""

import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

pytest.importorskip("diffusers", reason="needs the 'diffusion' extra (scripts/test.sh installs it)")

from fixtures.tiny_diffusion import build_tiny_diffusion  # noqa: E402
from fixtures.tiny_text_models import build_tiny_blip, build_tiny_llava  # noqa: E402
from semlink.links.link import Link  # noqa: E402
from semlink.semantic import make_codec  # noqa: E402

PROFILES = {"default": {"kind": "digital", "code": "none", "k": 1024, "modulation": "qpsk",
                        "crc": "CRC16"},
            "analog": {"kind": "analog"}}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("multisc_transport_models")
    sd, _ = build_tiny_diffusion(root)
    return {"sd": str(sd), "llava": str(build_tiny_llava(root / "llava")),
            "blip": str(build_tiny_blip(root / "blip"))}


def _codec(models, name, **over):
    diffusion = {"model": models["sd"], "steps": 2, "height": 32, "width": 32, "guidance": 3.0}
    params = {"captioner": models["blip" if name == "vlmcsc" else "llava"], "max_new_tokens": 6,
              "diffusion": diffusion, "text_transport": "embedding"}
    if name == "multisc":
        params.update(object_codec="none", split="grid")
    params.update(over)
    return make_codec(name, params)


def _images():
    g = torch.Generator(device="cpu").manual_seed(0)
    return [torch.rand(3, 48, 64, generator=g, device="cpu"),
            torch.rand(3, 40, 36, generator=g, device="cpu")]


@pytest.mark.parametrize("name", ["multisc", "vlmcsc"])
def test_captions_cross_as_token_embeddings(models, name):
    codec = _codec(models, name)
    codec.bind_profiles({s: "analog" for s in codec.text_streams})
    assert all(codec.stream_kinds[s] == "analog" for s in codec.text_streams)
    link = Link(PROFILES, "awgn", seed=1)
    codec.attach_phy({s: link.chain(p) for s, p in codec.stream_profiles.items()})
    payload = codec.encode(_images())
    received = link.transmit(payload, 40.0)
    recon = codec.decode(received)
    table = codec.text_transport.table
    _, model, _, _ = codec.captioner._load()
    owner = model.text_decoder if name == "vlmcsc" else model
    assert torch.equal(table.weight, owner.get_input_embeddings().weight.detach().float())
    sent = [s["_measure"]["captions"] for s in payload.side_info]
    assert sum(len(table.token_ids(c)) for caps in sent for c in caps) > 4      # text was sent
    # error-free at 40 dB, up to the tokenizer's own round trip
    assert recon.extras["received_captions"] == [[table.detokenize(table.token_ids(c)) for c in caps]
                                                 for caps in sent]
    for j, s in enumerate(codec.text_streams):
        for i, caps in enumerate(sent):
            n = len(table.token_ids(caps[j])) if j < len(caps) else 0
            assert received.reports[s].channel_uses[i] == math.ceil(n * table.dim / 2)
    assert codec.params()["text_transport"]["transport"] == "embedding"
    assert any(r.role == "captioner" for r in codec.models())
    assert len(recon.images) == 2


def test_embeddings_on_a_digital_profile_need_the_quantiser(models):
    codec = _codec(models, "multisc")
    with pytest.raises(ValueError, match="quant_bits.*quant_clip"):
        codec.check_profiles({s: PROFILES["default"] for s in codec.text_streams})
    link = Link(PROFILES, "awgn", seed=1)
    with pytest.raises(ValueError, match="quant_bits"):       # direct API users: before encoding
        codec.attach_phy({s: link.chain("default") for s in codec.text_streams})
    quantised = _codec(models, "multisc", text_quant_bits=4, text_quant_clip=3.0)
    quantised.check_profiles({s: PROFILES["default"] for s in quantised.text_streams})
    assert quantised.stream_kinds["text_0"] == "digital"
    bits = _codec(models, "vlmcsc", text_transport="bits")
    with pytest.raises(ValueError, match="digital profile"):
        bits.check_profiles({"text_0": PROFILES["analog"]})
