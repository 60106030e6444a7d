"""UO-ISC settings derived from the paper (docs/uoisc.md), per-l codebooks and bad input."""

import math
from pathlib import Path

import pytest
import torch

from fixtures.tiny_uoisc import TINY_CLIP

pytest.importorskip("open_clip", reason="UO-ISC needs pip install 'semlink[vlm]'")

from semlink.links.link import Link  # noqa: E402
from semlink.links.scenario import ScenarioError, parse_scenario  # noqa: E402
from semlink.phy import DigitalChain  # noqa: E402
from semlink.semantic import make_codec  # noqa: E402
from semlink.semantic.uoisc import build_uoisc, load_uoisc, save_uoisc  # noqa: E402
from semlink.semantic.vq import SegmentVQ  # noqa: E402

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak24"

# ViT with ViT-B/16's geometry (224 px, patch 16: 14 x 14 tokens, 12 layers) but width 16:
# the defaults (L = 3, 6, 9, 12; D = 64; K = 8) give the paper-size bit count cheaply
B16_GEOMETRY = {"embed_dim": 16,
                "vision_cfg": {"image_size": 224, "layers": 12, "width": 16, "patch_size": 16,
                               "head_width": 8},
                "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 16, "heads": 2,
                             "layers": 1}}
TINY = dict(clip_model="semlink-tiny-test-clip", pretrained=None, layers=[2, 4],
            clip_config=TINY_CLIP, dim=32, codebook_size=16, decoder_channels=16,
            text_alignment=False)


def _geometry_model(**kw):
    torch.manual_seed(0)
    return build_uoisc(clip_model="semlink-b16-geometry-test", pretrained=None,
                       clip_config=B16_GEOMETRY, decoder_channels=8, **kw)


def test_defaults_give_the_derived_paper_accounting():
    """|L| N (D/l) log2 K with L = (3, 6, 9, 12), N = 196, D = 64, K = 8, per l of Fig. 5."""
    model = _geometry_model(segment_length=[8, 16, 32, 64], text_alignment=False)
    assert model.clip.layers == [3, 6, 9, 12] and model.dim == 64 and model.vq.K == 8
    assert model.tokens_per_layer == 196
    bits = {}
    for v in (8, 16, 32, 64):
        model.use_segment_length(v)
        bits[v] = model.bits_per_image
    assert bits == {8: 18816, 16: 9408, 32: 4704, 64: 2352}
    # four x2 decoder blocks take 14 x 14 to 224 x 224: the head only convolves
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.head)
    model.use_segment_length(32)
    with torch.no_grad():
        rec, idx, _ = model(torch.rand(1, 3, 224, 224))
    assert rec.shape == (1, 3, 224, 224) and [i.shape for i in idx] == [(1, 196, 2)] * 4


def test_l32_uses_at_most_a_quarter_of_jpeg2000_at_half_a_bit_per_pixel():
    """Issue 21's target on the shared Kodak24 images at CLIP's 224 x 224 (fails without them)."""
    from semlink.data import ImageDataset

    assert KODAK.is_dir(), f"shared test data missing: {KODAK}"
    chain = DigitalChain(code="ldpc5g", k=1024, rate=0.5, modulation="psk8", channel="awgn", seed=0)
    uo_uses = chain.channel_uses_for(4 * 196 * (64 // 32) * 3)
    assert uo_uses == 5 * math.ceil(2048 / 3)                 # 5 code blocks of 683 symbols
    ds = ImageDataset(str(KODAK), resize=[224, 224], crop="center", max_images=4)
    codec = make_codec("jpeg2000", {"rate_bpp": 0.5}, {"bits": "p"})
    payload = codec.encode([ds[i].image for i in range(len(ds))])
    for bits in payload.streams["bits"].data:
        assert 0.9 * 25088 < bits.numel() <= 25088
        assert uo_uses <= 0.25 * chain.channel_uses_for(bits.numel())


def test_codebook_size_must_be_a_power_of_two_before_clip_is_built(monkeypatch):
    with pytest.raises(ValueError, match=r"power of two .*got K=12; use e.g. K=16"):
        SegmentVQ(64, 32, 12)
    import semlink.semantic.uoisc as uoisc

    def no_clip(*a, **k):
        raise AssertionError("CLIP was built before the settings were checked")

    monkeypatch.setattr(uoisc, "ClipFeatures", no_clip)
    with pytest.raises(ValueError, match=r"got K=6"):
        uoisc.build_uoisc(pretrained=None, codebook_size=6)
    with pytest.raises(ValueError, match=r"must divide the feature dimension D=64: got l=24"):
        uoisc.build_uoisc(pretrained=None, segment_length=[8, 24])


def test_training_refuses_bad_settings_before_loading_data(tmp_path):
    from semlink.semantic.train_uoisc import train_uoisc

    with pytest.raises(ValueError, match=r"D=32: got l=12"):
        train_uoisc(str(tmp_path / "no-such-folder"), str(tmp_path / "o"), segment_length=12,
                    **TINY)
    with pytest.raises(ValueError, match=r"got K=24"):
        train_uoisc(str(tmp_path / "no-such-folder"), str(tmp_path / "o"), segment_length=8,
                    **{**TINY, "codebook_size": 24})


def _checkpoint(tmp_path, lengths):
    torch.manual_seed(0)
    model = build_uoisc(segment_length=lengths, **TINY)
    path = tmp_path / f"l{'_'.join(map(str, lengths))}.pt"
    save_uoisc(path, model, {**TINY, "segment_length": lengths})
    return path


def test_codec_refuses_an_l_its_checkpoint_was_not_trained_at(tmp_path):
    single = _checkpoint(tmp_path, [8])
    with pytest.raises(ValueError, match=r"segment_length=16 asked, but checkpoint .* trained at l = \[8\]"):
        make_codec("uoisc", {"checkpoint": str(single), "segment_length": 16})
    with pytest.raises(ValueError, match=r"segment_length=12 does not divide the feature dimension D=32"):
        make_codec("uoisc", {"checkpoint": str(single), "segment_length": 12})
    multi = _checkpoint(tmp_path, [8, 16])
    with pytest.raises(ValueError,
                       match=r"holds codebooks for segment lengths \[8, 16\]; set params.segment_length"):
        make_codec("uoisc", {"checkpoint": str(multi)})


def test_scenario_with_a_wrong_l_fails_before_the_sweep(tmp_path, image_dir):
    single = _checkpoint(tmp_path, [8])
    raw = {"dataset": {"path": str(image_dir), "resize": [32, 32], "crop": "center"},
           "codecs": [{"name": "uoisc", "params": {"checkpoint": str(single)},
                       "grid": {"segment_length": [8, 16]}}],
           "channels": ["awgn"], "snr_db": [10]}
    with pytest.raises(ScenarioError, match=r"segment_length=16 asked.*trained at l = \[8\]"):
        parse_scenario(raw)
    raw["codecs"][0]["grid"]["segment_length"] = [8]
    assert len(parse_scenario(raw).codecs) == 1


def test_one_checkpoint_serves_every_trained_l_with_its_own_codebooks(tmp_path, device):
    path = _checkpoint(tmp_path, [8, 16])
    img = [torch.rand(3, 32, 32)]
    link = Link({"uo": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.5,
                        "modulation": "psk8"}}, "awgn", seed=0, device=device)
    sent = {}
    for v in (8, 16):
        codec = make_codec("uoisc", {"checkpoint": str(path), "segment_length": v, "device": device},
                           {"indices": "uo"})
        assert codec.params()["segment_length"] == v
        assert codec.params()["trained_segment_lengths"] == [8, 16]
        payload = codec.encode(img)
        bits = payload.streams["indices"].data[0]
        assert bits.numel() == 2 * 16 * (32 // v) * 4 == codec.model.bits_per_image
        rx = link.transmit(payload, snr_db=30.0)
        assert torch.equal(rx.streams["indices"].data[0].cpu(), bits.cpu())
        # the decoder looks the indices up in this l's codebooks
        idx = codec.model.bits_to_indices(bits)
        feats = [codec.model.vqs[(8, 16).index(v)].lookup(i.to(device)).unsqueeze(0) for i in idx]
        ref = codec.model.decode_features(feats)[0].clamp(0, 1)
        assert torch.allclose(codec.decode(rx).images[0].cpu(), ref.cpu())
        sent[v] = bits
    assert sent[8].numel() == 2 * sent[16].numel()


def test_training_cycles_the_segment_lengths(tmp_path, image_dir):
    from semlink.semantic.train_uoisc import train_uoisc

    res = train_uoisc(str(image_dir), str(tmp_path / "t"), segment_length=[8, 16], steps_phase1=4,
                      batch_size=2, progress=False, log_every=1, checkpoint_every=100,
                      **{k: v for k, v in TINY.items() if k != "text_alignment"},
                      text_alignment=False)
    assert res["steps"] == 4
    rows = (tmp_path / "t" / "train_log.csv").read_text().splitlines()
    col = rows[0].split(",").index("segment_length")
    assert [r.split(",")[col] for r in rows[1:]] == ["8", "16", "8", "16"]
    model, ckpt = load_uoisc(tmp_path / "t" / "last.pt")
    assert model.segment_lengths == (8, 16) and ckpt["config"]["segment_length"] == [8, 16]


def test_checkpoints_from_before_per_l_codebooks_still_load(tmp_path):
    torch.manual_seed(0)
    model = build_uoisc(segment_length=8, **TINY)
    state = {("vq." + k[len("vqs.0."):] if k.startswith("vqs.0.") else k): v
             for k, v in model.state_dict().items()}
    torch.save({"format": "semlink-uoisc-1", "config": {**TINY, "segment_length": 8},
                "state_dict": state, "meta": {}}, tmp_path / "old.pt")
    loaded, _ = load_uoisc(tmp_path / "old.pt")
    assert torch.equal(loaded.vq.codebooks, model.vq.codebooks)


def test_batched_decoding_equals_decoding_one_image_at_a_time(tmp_path):
    from semlink.semantic.payload import ReceivedPayload

    path = _checkpoint(tmp_path, [8])
    codec = make_codec("uoisc", {"checkpoint": str(path)}, {"indices": "uo"})
    codec.decode_batch = 2                                    # 5 images: batches of 2, 2 and 1
    torch.manual_seed(1)
    payload = codec.encode([torch.rand(3, 32, 32) for _ in range(5)])
    rx = ReceivedPayload(payload.streams, payload.side_info, {}, 0.0)
    together = codec.decode(rx).images
    codec.decode_batch = 1
    alone = codec.decode(rx).images
    assert len(together) == 5
    for a, b in zip(together, alone, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
