"""UO-ISC on tiny configurations: VQ, bit accounting, PHY round trip, training, checkpoints."""

import math

import pytest
import torch

pytest.importorskip("open_clip", reason="UO-ISC needs pip install 'semlink[vlm]'")

from semlink.links.link import Link  # noqa: E402
from semlink.links.profiles import DEFAULT_PROFILES  # noqa: E402
from semlink.semantic import make_codec  # noqa: E402
from semlink.semantic.uoisc import build_uoisc, save_uoisc  # noqa: E402
from semlink.semantic.vq import SegmentVQ  # noqa: E402

TINY_CLIP = {"embed_dim": 32,
             "vision_cfg": {"image_size": 32, "layers": 4, "width": 32, "patch_size": 8, "head_width": 16},
             "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}}
CONFIG = dict(clip_model="semlink-tiny-test-clip", pretrained=None, layers=[2, 4],
              clip_config=TINY_CLIP, dim=32, segment_length=8, codebook_size=16,
              decoder_channels=16, text_alignment=True)
PROFILES = {**DEFAULT_PROFILES,
            "uo": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.5, "modulation": "psk8"}}


def tiny(**overrides):
    torch.manual_seed(0)
    return build_uoisc(**{**CONFIG, **overrides})


def test_vq_picks_the_nearest_codeword_per_segment():
    vq = SegmentVQ(dim=12, segment_length=4, codebook_size=5)
    z = torch.randn(7, 12)
    idx = vq.indices(z)
    assert idx.shape == (7, 3)
    for s in range(3):
        seg = z[:, 4 * s:4 * s + 4]
        brute = torch.cdist(seg, vq.codebooks[s]).argmin(dim=1)
        assert torch.equal(idx[:, s], brute)
    q, idx2, loss = vq(z)
    assert torch.equal(idx, idx2) and torch.allclose(q, vq.lookup(idx)) and loss > 0
    # straight-through: gradients reach the input
    z.requires_grad_(True)
    vq(z)[0].sum().backward()
    assert torch.allclose(z.grad, torch.ones_like(z))


def test_segment_length_must_divide_d_with_a_clear_error():
    with pytest.raises(ValueError, match=r"segment_length must divide the feature dimension D=32: got l=12"):
        SegmentVQ(32, 12)


def test_ema_updates_move_codebooks():
    vq = SegmentVQ(8, 4, 4, ema=True)
    before = vq.codebooks.clone()
    vq.train()
    vq(torch.randn(64, 8) + 3)
    assert not torch.allclose(before, vq.codebooks)


def test_bit_accounting_phy_round_trip_and_channel_uses(tmp_path):
    model = tiny()
    save_uoisc(tmp_path / "m.pt", model, CONFIG)
    codec = make_codec("uoisc", {"checkpoint": str(tmp_path / "m.pt")}, {"indices": "uo"})
    imgs = [torch.rand(3, 32, 32) for _ in range(3)]
    payload = codec.encode(imgs, queries=[["where is the dog?"], [], ["a red car"]])
    bits = 2 * 16 * (32 // 8) * math.ceil(math.log2(16))      # |L| * N * D/l * log2 K
    assert model.bits_per_image == bits
    assert all(b.numel() == bits for b in payload.streams["indices"].data)
    link = Link(PROFILES, "awgn", seed=0)
    rx = link.transmit(payload, snr_db=30.0)
    chain = link.chain("uo")
    assert list(rx.channel_uses()) == [chain.channel_uses_for(bits)] * 3
    for tx, r in zip(payload.streams["indices"].data, rx.streams["indices"].data):
        assert torch.equal(tx, r)                               # exact index recovery
    rec = codec.decode(rx)
    assert rec.images[0].shape == (3, 32, 32)
    # the decoded images equal a noiseless decode of the same indices
    ref = codec.decode(type(rx)(payload.streams, payload.side_info, {}, 0.0))
    assert torch.allclose(rec.images[1], ref.images[1])
    # bad segment errors are kept, not crashed on
    noisy = link.transmit(payload, snr_db=-3.0)
    assert noisy.reports["indices"].bit_errors.sum() > 0
    assert codec.decode(noisy).images[2].shape == (3, 32, 32)


def test_query_changes_the_transmitted_indices_only_with_text_alignment(tmp_path):
    for aligned in (True, False):
        model = tiny(text_alignment=aligned)
        cfg = {**CONFIG, "text_alignment": aligned}
        save_uoisc(tmp_path / f"{aligned}.pt", model, cfg)
        codec = make_codec("uoisc", {"checkpoint": str(tmp_path / f"{aligned}.pt")})
        img = torch.rand(3, 32, 32)
        a = codec.encode([img], [["where is the dog?"]]).streams["indices"].data[0]
        b = codec.encode([img], [["how many cars are there?"]]).streams["indices"].data[0]
        assert torch.equal(a, b) != aligned


def test_training_step_lowers_the_loss_and_relevance_loss_runs_offline(tmp_path, image_dir):
    from semlink.semantic.train_uoisc import train_uoisc
    from semlink.semantic.vlm import build_tiny_llava

    llava = build_tiny_llava(str(tmp_path / "tiny_llava"))
    common = dict(clip_model=CONFIG["clip_model"], pretrained=None, clip_config=TINY_CLIP,
                  layers=[2, 4], dim=32, segment_length=8, codebook_size=16, decoder_channels=16,
                  batch_size=4, lr=2e-3, progress=False, log_every=1, checkpoint_every=1000)
    res = train_uoisc(str(image_dir), str(tmp_path / "a"), steps_phase1=2, steps_phase2=1,
                      vlm=llava, lambda_rel=1.0, channel="indices:0.05", **common)
    assert res["steps"] == 3 and res["relevance"] > 0 and math.isfinite(res["relevance"])
    assert res["disc"] > 0                                      # phase II ran the discriminator
    log = (tmp_path / "a" / "train_log.csv").read_text().splitlines()
    assert len(log) == 4 and log[-1].split(",")[1] == "2"
    # a fixed batch: a few phase-I steps lower the pixel loss
    res0 = train_uoisc(str(image_dir), str(tmp_path / "b"), steps_phase1=1, text_alignment=False,
                       **{**common, "log_every": 1})
    res1 = train_uoisc(str(image_dir), str(tmp_path / "c"), steps_phase1=25, text_alignment=False,
                       **{**common, "log_every": 1})
    assert res1["pixel"] < res0["pixel"]


def test_uoisc_training_resumes_from_its_checkpoint(tmp_path, image_dir):
    from semlink.semantic.train_uoisc import train_uoisc
    from semlink.semantic.uoisc import load_uoisc

    common = dict(clip_model=CONFIG["clip_model"], pretrained=None, clip_config=TINY_CLIP,
                  layers=[2, 4], dim=32, segment_length=8, codebook_size=16, decoder_channels=16,
                  batch_size=2, lr=1e-3, progress=False, text_alignment=False, checkpoint_every=2)
    train_uoisc(str(image_dir), str(tmp_path / "full"), steps_phase1=4, **common)
    train_uoisc(str(image_dir), str(tmp_path / "part"), steps_phase1=2, **common)
    with pytest.raises(ValueError, match="resume"):
        train_uoisc(str(image_dir), str(tmp_path / "part"), steps_phase1=4, **common)
    res = train_uoisc(str(image_dir), str(tmp_path / "part"), steps_phase1=4, resume=True, **common)
    assert res["steps"] == 4
    a, _ = load_uoisc(tmp_path / "full" / "last.pt")
    b, _ = load_uoisc(tmp_path / "part" / "last.pt")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(p, q, atol=1e-5), name


def test_training_with_the_phy_in_the_loop(tmp_path, image_dir):
    from semlink.semantic.train_uoisc import train_uoisc

    res = train_uoisc(str(image_dir), str(tmp_path / "phy"), clip_model=CONFIG["clip_model"],
                      pretrained=None, clip_config=TINY_CLIP, layers=[2, 4], dim=32,
                      segment_length=8, codebook_size=16, decoder_channels=16, batch_size=2,
                      steps_phase1=2, text_alignment=False, channel="phy", snr_db=-5.0,
                      profile={"code": "ldpc5g", "k": 128, "rate": 0.5, "modulation": "qpsk"},
                      progress=False)
    assert res["steps"] == 2 and math.isfinite(res["pixel"])
    with pytest.raises(ValueError, match="channel must be"):
        train_uoisc(str(image_dir), str(tmp_path / "bad"), channel="fading", pretrained=None,
                    clip_model=CONFIG["clip_model"], clip_config=TINY_CLIP, layers=[2, 4])
