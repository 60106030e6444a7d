"""One configuration dataclass per trainer (issue 24 §3): it drives the CLI options, the trainer
and the recorded train_config.json; old checkpoints keep resuming."""

import dataclasses
import json

import pytest
import torch

from fixtures.tiny_uoisc import TINY_CLIP
from semlink.semantic.train_deepjscc import DeepJSCCConfig, DeepJSCCTrainer
from semlink.semantic.training import make_trainer, trainer_options
from semlink.semantic.training.config import config_options, make_config

pytest.importorskip("open_clip", reason="UO-ISC needs pip install 'semlink[vlm]'")

from semlink.semantic.train_uoisc import UoiscConfig, UoiscTrainer, train_uoisc  # noqa: E402

TINY = dict(clip_model="semlink-tiny-test-clip", pretrained=None, clip_config=TINY_CLIP,
            layers=[2, 4], dim=32, segment_length=8, codebook_size=16, decoder_channels=16,
            batch_size=2, lr=1e-3, text_alignment=False)


@pytest.mark.parametrize("name,config_cls", [("uoisc", UoiscConfig), ("deepjscc", DeepJSCCConfig)])
def test_cli_options_are_the_config_fields(name, config_cls):
    options = {o.name: o for o in trainer_options(name)}
    on_cli = [f for f in dataclasses.fields(config_cls) if f.metadata["kind"]]
    for f in on_cli:
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        assert options[f.name].default == default and options[f.name].kind == f.metadata["kind"]
        assert options[f.name].help == f.metadata["help"]
    extras = {o.name for o in getattr(config_cls, "CLI_EXTRA", ())}
    assert set(options) == {f.name for f in on_cli} | extras
    assert options["data"].required


def test_python_only_settings_stay_off_the_command_line():
    names = {o.name for o in config_options(UoiscConfig)}
    assert {"profile", "vqa", "frozen", "text_alignment"}.isdisjoint(names)
    assert {"no_text_alignment", "segment_lengths", "vqa_questions"} <= names


def test_command_line_spellings_become_config_fields():
    cfg = UoiscConfig.from_cli({"data": "imgs", "segment_length": 32, "segment_lengths": [8, 16],
                                "no_text_alignment": True, "vqa_questions": "q.json",
                                "vqa_annotations": None, "split": "animals",
                                "split_rule": "objects", "pretrained": "none"})
    assert cfg.segment_length == [8, 16] and cfg.text_alignment is False
    assert cfg.vqa == {"questions": "q.json", "annotations": None, "instances": None,
                       "split": "animals", "rule": "objects"}
    assert cfg.pretrained is None
    # without --vqa-questions the split options leave vqa unset
    assert UoiscConfig.from_cli({"data": "imgs", "split": "all", "split_rule": "either"}).vqa is None


def test_bad_settings_fail_when_the_config_is_built():
    with pytest.raises(TypeError, match=r"no setting\(s\) \['stepz'\].*'steps_phase1'"):
        make_config(UoiscConfig, {"data": "imgs", "stepz": 3})
    with pytest.raises(ValueError, match="pixel_loss must be 'l1' or 'l2', got 'l3'"):
        UoiscConfig(data="imgs", pixel_loss="l3")
    with pytest.raises(ValueError, match="l=12"):
        UoiscConfig(data="imgs", dim=64, segment_length=12)
    with pytest.raises(ValueError, match="crop must be a multiple of 4, got 30"):
        DeepJSCCConfig(data="imgs", crop=30)
    with pytest.raises(ValueError, match="ratio must be c/96"):
        DeepJSCCConfig(data="imgs", ratio=0.1)
    with pytest.raises(TypeError, match="takes a UoiscConfig"):
        UoiscTrainer({"data": "imgs"})
    with pytest.raises(TypeError, match="no setting"):
        train_uoisc("imgs", "out", steps=3)                  # deep JSCC's name, not UO-ISC's


def test_train_config_json_records_every_setting(tmp_path, image_dir):
    trainer = make_trainer("uoisc", {"data": str(image_dir), **{k: v for k, v in TINY.items()
                                                                 if k != "text_alignment"},
                                     "no_text_alignment": True, "steps_phase1": 1,
                                     "eval_split": "all", "device": "cpu"})
    assert isinstance(trainer, UoiscTrainer) and trainer.settings.text_alignment is False
    from semlink.semantic.training import run_training

    run_training(trainer, tmp_path / "run", progress=False)
    rec = json.loads((tmp_path / "run" / "train_config.json").read_text())["config"]
    assert rec["settings"]["eval_split"] == "all" and rec["settings"]["device"] == "cpu"
    assert rec["model"]["text_alignment"] is False and rec["model"]["clip_config"] == TINY_CLIP
    assert rec["steps_phase1"] == 1 and rec["lr"] == 1e-3


def test_a_checkpoint_written_before_the_config_object_resumes(tmp_path, image_dir):
    """The checkpoint's build config and ``meta.train_args`` as the earlier trainer wrote them
    (literal keys): the config-driven trainer resumes it and refuses a changed argument."""
    out = tmp_path / "old"
    train_uoisc(str(image_dir), str(out), steps_phase1=2, progress=False, checkpoint_every=2, **TINY)
    ckpt = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
    ckpt["config"] = dict(clip_model=TINY["clip_model"], pretrained=None, layers=[2, 4], frozen=None,
                          clip_config=TINY_CLIP, dim=32, segment_length=8, codebook_size=16,
                          text_alignment=False, decoder_channels=16, beta=0.25)
    ckpt["meta"]["train_args"] = dict(
        data=str(image_dir), queries=None, image_size=None, batch_size=2, lr=1e-3, lambda_rel=0.1,
        gamma_adv=0.01, pixel_loss="l2", vlm=None, channel="none", profile=None, snr_db=10.0,
        seed=0, default_query="What is in the image?", vqa=None)
    torch.save(ckpt, out / "last.pt")
    res = train_uoisc(str(image_dir), str(out), steps_phase1=3, resume=True, progress=False, **TINY)
    assert res["steps"] == 3
    with pytest.raises(ValueError, match=r"lr: checkpoint 0.001, now 0.002"):
        train_uoisc(str(image_dir), str(out), steps_phase1=4, resume=True, progress=False,
                    **{**TINY, "lr": 2e-3})


def test_deepjscc_trainer_takes_its_config(tmp_path, image_dir):
    cfg = DeepJSCCConfig(data=str(image_dir), steps=1, batch_size=1, crop=16, ratio=1 / 12,
                         device="cpu")
    trainer = DeepJSCCTrainer(cfg)
    assert trainer.c == 8 and trainer.meta["ratio"] == 8 / 96 and trainer.meta["crop"] == 16
    assert trainer.provenance["arguments"] == {**dataclasses.asdict(cfg), "device": "cpu"}
    same = make_trainer("deepjscc", {"data": str(image_dir), "steps": 1, "batch_size": 1,
                                     "crop": 16, "ratio": 1 / 12, "device": "cpu"})
    assert same.config() == trainer.config()
