"""Text over the PHY: encodings, exact bit counts, the chain, the text codec."""

import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from semlink.links.link import Link  # noqa: E402
from semlink.metrics.text import error_rate  # noqa: E402
from semlink.phy import DigitalChain  # noqa: E402
from semlink.semantic import make_codec  # noqa: E402
from semlink.semantic.text import (  # noqa: E402
    Ascii7Encoding,
    TokenEncoding,
    Utf8Encoding,
    bits_to_ints,
    ints_to_bits,
    make_text_encoding,
)

SAMPLES = ["", "A man riding a horse.", "café naïve Ünïcödé", "emoji ☕🐶 ok", "日本語"]
PROFILES = {"ldpc": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.5, "modulation": "psk8"},
            "uncoded": {"kind": "digital", "code": "none", "k": 256, "modulation": "psk8"}}


@pytest.mark.parametrize("text", SAMPLES)
def test_utf8_round_trip_and_bit_count(text):
    enc = Utf8Encoding()
    bits = enc.encode(text)
    assert bits.dtype == torch.uint8 and bits.numel() == 8 * len(text.encode("utf-8"))
    assert enc.decode(bits) == text


@pytest.mark.parametrize("text", SAMPLES)
def test_ascii7_costs_7_bits_per_character_and_transliterates(text):
    enc = Ascii7Encoding()
    bits = enc.encode(text)
    out = enc.decode(bits)
    assert bits.numel() == 7 * len(out)
    assert all(ord(c) < 128 for c in out)
    if text.isascii():
        assert out == text
    assert Ascii7Encoding().decode(Ascii7Encoding().encode("café naïve")) == "cafe naive"
    assert enc.decode(enc.encode("☕")) == "?"


def test_utf8_decoding_never_raises_on_corrupted_bytes():
    bits = Utf8Encoding().encode("é")
    bits[0] ^= 1                                   # 0xC3 -> 0x43 leaves a lone continuation byte
    assert "\ufffd" in Utf8Encoding().decode(bits)


def test_ints_bits_round_trip_msb_first():
    assert ints_to_bits([5], 3).tolist() == [1, 0, 1]
    assert bits_to_ints(ints_to_bits([0, 7, 300], 9), 9) == [0, 7, 300]
    with pytest.raises(ValueError, match="0..7"):
        ints_to_bits([8], 3)


@pytest.fixture(scope="module")
def tiny_bart(tmp_path_factory):
    from fixtures.tiny_text_models import build_tiny_bart

    return build_tiny_bart(tmp_path_factory.mktemp("models") / "bart")


@pytest.mark.parametrize("text", SAMPLES)
def test_token_encoding_uses_ceil_log2_v_bits_per_token(tiny_bart, text):
    enc = make_text_encoding(f"tokens:{tiny_bart}")
    assert isinstance(enc, TokenEncoding)
    v = len(enc.tokenizer)
    assert enc.bits_per_token == math.ceil(math.log2(v))
    ids = enc.token_ids(text)
    assert enc.encode(text).numel() == enc.bits_per_token * len(ids)
    assert enc.decode(enc.encode(text)) == text        # byte-level BPE: lossless


def test_unknown_encoding_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="utf8.*ascii7.*tokens"):
        make_text_encoding("latin1")


def _items(captions):
    return [SimpleNamespace(name=f"{i}.jpg", image=torch.zeros(3, 4, 4), captions=c, queries=[])
            for i, c in enumerate(captions)]


CAPTIONS = [["A man riding a horse on the beach."], ["Two dogs play with a frisbee in the park."],
            ["A cat sleeping on a red couch."], ["A plate of food with broccoli and rice."]]


def _send(profile, snr_db, corrector="none", seed=0):
    codec = make_codec("text", {"corrector": corrector}, {"caption0": profile})
    link = Link(PROFILES, "awgn", seed=seed, device="cpu")
    payload = codec.encode_items(_items(CAPTIONS))
    received = link.transmit(payload, snr_db)
    return codec, payload, received, codec.decode(received)


def test_text_codec_recovers_captions_exactly_at_high_snr_with_exact_channel_uses(device):
    codec, payload, received, recon = _send("ldpc", 20.0)
    sent = [c[0] for c in CAPTIONS]
    assert [t[0] for t in recon.texts] == sent
    assert recon.extras["sent_texts"] == CAPTIONS
    chain = DigitalChain(code="ldpc5g", k=256, rate=0.5, modulation="psk8", device=device)
    expected = [chain.channel_uses_for(8 * len(s.encode())) for s in sent]
    assert received.channel_uses().tolist() == expected
    assert [int(b.numel()) for b in payload.streams["caption0"].data] == [8 * len(s) for s in sent]


def test_uncoded_text_has_character_errors_at_low_snr():
    _, _, _, recon = _send("uncoded", 4.0)
    cer = error_rate([c[0] for c in CAPTIONS], [t[0] for t in recon.texts], "char")
    assert cer > 0.05


def test_text_codec_needs_enough_captions_and_refuses_bad_params():
    codec = make_codec("text", {"captions_per_image": 2})
    with pytest.raises(ValueError, match="captions_per_image=2") as err:
        codec.encode_items(_items(CAPTIONS))
    # every image has a caption, just too few: the fix is not "set dataset.captions"
    assert "add their captions" in str(err.value) and "set dataset.captions" not in str(err.value)
    with pytest.raises(ValueError, match="set dataset.captions to a captions file"):
        make_codec("text", {}).encode_items(_items([[] for _ in CAPTIONS]))
    with pytest.raises(ValueError, match="source"):
        make_codec("text", {"source": "speech"})
    with pytest.raises(ValueError, match="corrector"):
        make_codec("text", {"corrector": "gpt"})


def test_semlink_run_sweeps_the_text_codec_like_any_other(tmp_path, image_dir):
    import json

    from semlink.links.runner import run_sweep
    from semlink.links.scenario import parse_scenario
    from semlink.links.summary import summarize

    names = sorted(p.name for p in image_dir.iterdir())
    caps = {n: [CAPTIONS[i % len(CAPTIONS)][0]] for i, n in enumerate(names)}
    (tmp_path / "caps.json").write_text(json.dumps(caps))
    scenario = parse_scenario({
        "dataset": {"path": str(image_dir), "captions": str(tmp_path / "caps.json")},
        "codecs": [{"name": "text", "profiles": {"caption0": "ldpc"}}],
        "profiles": {"ldpc": PROFILES["ldpc"]},
        "channels": ["awgn"], "snr_db": [-5, 20], "metrics": ["cer", "wer", "bleu", "exact_match"]})
    outcome = run_sweep(scenario, str(tmp_path / "out"), progress=False)
    assert not outcome.failed
    (run,) = summarize(outcome.results)["runs"]
    assert run["metrics"]["cer"][1] == 0 and run["metrics"]["exact_match"][1] == 1
    assert run["metrics"]["bleu"][1] == pytest.approx(1.0)
    assert run["metrics"]["cer"][0] > 0.1 and run["metrics"]["exact_match"][0] < 1
