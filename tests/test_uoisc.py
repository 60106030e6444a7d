"""UO-ISC on tiny configurations: VQ, bit accounting, PHY round trip, training, checkpoints."""

import math
import os
import shutil

import pytest
import torch

from fixtures.tiny_uoisc import TINY_CLIP

pytest.importorskip("open_clip", reason="UO-ISC needs pip install 'semlink[vlm]'")

from semlink.links.link import Link  # noqa: E402
from semlink.links.profiles import DEFAULT_PROFILES  # noqa: E402
from semlink.semantic import make_codec  # noqa: E402
from semlink.semantic.uoisc import build_uoisc, save_uoisc  # noqa: E402
from semlink.semantic.vq import SegmentVQ  # noqa: E402

CONFIG = dict(clip_model="semlink-tiny-test-clip", pretrained=None, layers=[2, 4],
              clip_config=TINY_CLIP, dim=32, segment_length=8, codebook_size=16,
              decoder_channels=16, text_alignment=True)
PROFILES = {**DEFAULT_PROFILES,
            "uo": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.5, "modulation": "psk8"}}


def tiny(**overrides):
    torch.manual_seed(0)
    return build_uoisc(**{**CONFIG, **overrides})


def test_vq_picks_the_nearest_codeword_per_segment():
    vq = SegmentVQ(dim=12, segment_length=4, codebook_size=8)
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


def test_bit_accounting_phy_round_trip_and_channel_uses(tmp_path, device):
    model = tiny()
    save_uoisc(tmp_path / "m.pt", model, CONFIG)
    codec = make_codec("uoisc", {"checkpoint": str(tmp_path / "m.pt")}, {"indices": "uo"})
    imgs = [torch.rand(3, 32, 32) for _ in range(3)]
    payload = codec.encode(imgs, queries=[["where is the dog?"], [], ["a red car"]])
    bits = 2 * 16 * (32 // 8) * math.ceil(math.log2(16))      # |L| * N * D/l * log2 K
    assert model.bits_per_image == bits
    assert all(b.numel() == bits for b in payload.streams["indices"].data)
    link = Link(PROFILES, "awgn", seed=0, device=device)
    rx = link.transmit(payload, snr_db=30.0)
    chain = link.chain("uo")
    assert list(rx.channel_uses()) == [chain.channel_uses_for(bits)] * 3
    for tx, r in zip(payload.streams["indices"].data, rx.streams["indices"].data, strict=True):
        assert torch.equal(tx.cpu(), r.cpu())                   # exact index recovery
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
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
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


COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0),
           "white": (255, 255, 255), "black": (0, 0, 0)}


def _solid_colour_dataset(folder):
    """Solid-colour 40x40 PNGs with two queries each that name the colour."""
    import json

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    queries = {}
    for name, rgb in COLOURS.items():
        Image.new("RGB", (40, 40), rgb).save(folder / f"{name}.png")
        queries[f"{name}.png"] = [f"{name}", f"is it {name}?"]
    (folder.parent / "queries.json").write_text(json.dumps(queries))
    return folder, folder.parent / "queries.json"


def test_a_loaded_checkpoint_is_on_its_map_location(tmp_path, monkeypatch):
    """load_uoisc(path, map_location=D) returns the model on D (the H200 run found it on the
    CPU next to CUDA images). No CUDA here: the checkpoint is read on the host and the move
    the loader makes is recorded."""
    import semlink.semantic.uoisc as uoisc

    save_uoisc(tmp_path / "m.pt", tiny(), CONFIG)
    real_load, moves = torch.load, []
    monkeypatch.setattr(uoisc.torch, "load", lambda *a, **kw: real_load(*a, **{**kw, "map_location": "cpu"}))
    monkeypatch.setattr(uoisc.UOISCModel, "to", lambda self, *a, **kw: moves.append(a) or self)
    model, _ = uoisc.load_uoisc(tmp_path / "m.pt", map_location="cuda:0")
    assert moves == [("cuda:0",)] and not model.training


def test_training_pairs_each_image_with_one_of_its_own_queries(tmp_path, monkeypatch):
    """The (image, query) pairs the training step feeds to FiLM match: a solid colour with its name."""
    from semlink.semantic.train_uoisc import train_uoisc
    from semlink.semantic.uoisc import UOISCModel

    images, queries = _solid_colour_dataset(tmp_path / "solid")
    consumed = []
    original = UOISCModel.align

    def recording_align(self, imgs, tokens):
        consumed.append((imgs.detach().cpu(), tokens.cpu(), self))
        return original(self, imgs, tokens)

    monkeypatch.setattr(UOISCModel, "align", recording_align)
    train_uoisc(str(images), str(tmp_path / "run"), queries=str(queries), image_size=32,
                clip_model=CONFIG["clip_model"], pretrained=None, clip_config=TINY_CLIP, layers=[2, 4],
                dim=32, segment_length=8, codebook_size=16, decoder_channels=16, batch_size=6,
                steps_phase1=6, progress=False, checkpoint_every=1000)
    assert len(consumed) == 6
    tokenizer = consumed[0][2].clip
    candidates = [q for name in COLOURS for q in (name, f"is it {name}?")]
    table = tokenizer.tokenize(candidates)
    seen = set()
    for imgs, tokens, _ in consumed:
        for img, tok in zip(imgs, tokens, strict=True):
            mean = img.mean(dim=(1, 2)) * 255
            colour = min(COLOURS, key=lambda c: float(
                ((mean - torch.tensor(COLOURS[c], dtype=torch.float)) ** 2).sum()))
            match = [q for q, row in zip(candidates, table, strict=True) if torch.equal(row, tok)]
            assert match in ([colour], [f"is it {colour}?"]), (colour, match)
            seen.add(match[0])
    # sampling among an image's queries: both phrasings are used over 36 pairs
    assert any(q.startswith("is it") for q in seen) and any(" " not in q for q in seen)


def test_resume_with_other_arguments_is_refused_and_checkpoint_stays_loadable(tmp_path, image_dir):
    from semlink.semantic.train_uoisc import train_uoisc
    from semlink.semantic.uoisc import load_uoisc

    common = dict(clip_model=CONFIG["clip_model"], pretrained=None, clip_config=TINY_CLIP,
                  layers=[2, 4], dim=32, segment_length=8, codebook_size=16, decoder_channels=16,
                  batch_size=2, progress=False, text_alignment=False)
    train_uoisc(str(image_dir), str(tmp_path / "r"), steps_phase1=1, **common)
    with pytest.raises(ValueError, match=r"cannot resume .*segment_length: checkpoint 8, now 16"):
        train_uoisc(str(image_dir), str(tmp_path / "r"), steps_phase1=2, resume=True,
                    **{**common, "segment_length": 16})
    with pytest.raises(ValueError, match=r"cannot resume .*lr: checkpoint 0.0002, now 0.001"):
        train_uoisc(str(image_dir), str(tmp_path / "r"), steps_phase1=2, resume=True, lr=1e-3, **common)
    model, ckpt = load_uoisc(tmp_path / "r" / "last.pt")       # untouched and loadable
    assert ckpt["step"] == 1 and model.vq.l == 8
    # the same folder named another way (a relative path, a symbolic link) is the same data
    link = tmp_path / "same_images"
    link.symlink_to(image_dir, target_is_directory=True)
    train_uoisc(os.path.relpath(link), str(tmp_path / "r"), steps_phase1=2, resume=True, **common)
    assert load_uoisc(tmp_path / "r" / "last.pt")[1]["step"] == 2
    other = tmp_path / "other_images"
    shutil.copytree(image_dir, other)              # equal files elsewhere: not provably the same
    with pytest.raises(ValueError, match=r"cannot resume .*data: checkpoint"):
        train_uoisc(str(other), str(tmp_path / "r"), steps_phase1=3, resume=True, **common)


def test_evaluation_uses_each_images_own_queries(tmp_path, monkeypatch):
    from semlink.semantic.train_uoisc import evaluate_uoisc
    from semlink.semantic.uoisc import UOISCModel

    images, queries = _solid_colour_dataset(tmp_path / "solid")
    save_uoisc(tmp_path / "m.pt", tiny(), CONFIG)
    seen = []
    original = UOISCModel.align

    def recording_align(self, imgs, tokens):
        seen.append((imgs.mean(dim=(2, 3)).cpu() * 255, tokens.cpu(), self.clip))
        return original(self, imgs, tokens)

    monkeypatch.setattr(UOISCModel, "align", recording_align)
    res = evaluate_uoisc(str(tmp_path / "m.pt"), str(images), queries=str(queries))
    assert res["images"] == 6 and res["pairs"] == 12 and res["default_query_images"] == 0
    for means, tokens, clip in seen:
        colour = next(c for c, rgb in COLOURS.items()
                      if torch.allclose(means[0], torch.tensor(rgb, dtype=torch.float), atol=1))
        assert torch.equal(tokens, clip.tokenize([colour, f"is it {colour}?"]))
    res = evaluate_uoisc(str(tmp_path / "m.pt"), str(images))
    assert res["pairs"] == 6 and res["default_query_images"] == 6


def test_training_and_zero_shot_evaluation_on_the_vqa_animal_split(tmp_path, monkeypatch, caplog):
    """Training sees only animal-free images with their own questions; evaluation the animal ones."""
    from pathlib import Path

    from semlink.semantic.train_uoisc import evaluate_uoisc, train_uoisc
    from semlink.semantic.uoisc import UOISCModel

    root = Path(__file__).resolve().parent.parent
    from conftest import shared_data_dir

    coco = shared_data_dir("coco-sample")   # fails naming `semlink data fetch` when absent
    vqa = {"questions": str(root / "tests/data/coco_sample_vqa/questions.json"),
           "annotations": str(root / "tests/data/coco_sample_vqa/annotations.json"),
           "instances": str(coco / "coco_format/instances_val2017_subset.json"),
           "split": "exclude_animals", "rule": "either"}
    consumed = []
    original = UOISCModel.align

    def recording_align(self, imgs, tokens):
        consumed.append((tokens.cpu(), self.clip))
        return original(self, imgs, tokens)

    monkeypatch.setattr(UOISCModel, "align", recording_align)
    import logging

    with caplog.at_level(logging.INFO, logger="semlink"):      # the split is logged (INFO)
        res = train_uoisc(str(coco / "val2017"), str(tmp_path / "vqa"), image_size=32, vqa=vqa,
                          clip_model=CONFIG["clip_model"], pretrained=None, clip_config=TINY_CLIP,
                          layers=[2, 4], dim=32, segment_length=8, codebook_size=16,
                          decoder_channels=16, batch_size=4, steps_phase1=2, progress=False)
    assert res["steps"] == 2
    assert "kept 218 questions on 26 images" in caplog.text
    import json

    questions = [q["question"] for q in json.loads(Path(vqa["questions"]).read_text())["questions"]]
    animal_words = ("dog", "cat", "bird", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe")
    for tokens, clip in consumed:
        for tok in tokens:
            match = [q for q in questions if torch.equal(clip.tokenize([q])[0], tok)]
            assert match and not any(w in match[0].lower() for w in animal_words), match
    ev = evaluate_uoisc(str(tmp_path / "vqa" / "last.pt"), str(coco / "val2017"),
                        vqa={**vqa, "split": "animals", "rule": "objects"})
    assert ev["images"] == 4 and ev["pairs"] == 32 and ev["vqa_split"]["kept_images"] == 4
