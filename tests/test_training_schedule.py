"""The learning-rate schedule of the trainers: a constant rate, then a cosine tail to 0.

Checked against the closed form lr * (1 + cos(pi * j / N)) / 2 of the tail, and on the UO-ISC
trainer: the optimiser runs at that rate, a tail added on resume before it begins reproduces
the uninterrupted run, and one that would re-rate steps already trained is refused."""

import math

import pytest
import torch

from fixtures.tiny_uoisc import tiny_clip
from semlink.semantic.training.schedule import (
    check_decay_steps,
    cosine_tail,
    decay_start,
    schedules_agree_until,
)


def test_the_tail_follows_the_closed_form_and_is_constant_before_it():
    lr, total, n = 1e-3, 100, 40
    assert [cosine_tail(s, total, n, lr) for s in (0, 30, 59, 60)] == [lr, lr, lr, lr]
    assert cosine_tail(80, total, n, lr) == pytest.approx(lr / 2, rel=1e-12)     # half-way
    assert cosine_tail(70, total, n, lr) == pytest.approx(lr * (1 + math.cos(math.pi / 4)) / 2)
    assert cosine_tail(99, total, n, lr) == pytest.approx(lr * (1 + math.cos(math.pi * 39 / 40)) / 2)
    assert cosine_tail(99, total, n, lr) < 1e-2 * lr
    rates = [cosine_tail(s, total, n, lr) for s in range(total)]
    assert all(b <= a for a, b in zip(rates, rates[1:], strict=False))       # never rises
    assert all(cosine_tail(s, total, 0, lr) == lr for s in range(total))    # 0: constant
    assert decay_start(100, 0) == 100 and decay_start(100, 40) == 60


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_a_bad_number_of_decay_steps_is_named(bad):
    with pytest.raises(ValueError, match=rf"lr_decay_steps must be a non-negative int.*{bad!r}"):
        check_decay_steps(bad, 100)


def test_a_tail_longer_than_the_run_is_refused():
    with pytest.raises(ValueError, match=r"lr_decay_steps=101 is more than the run's 100 steps"):
        check_decay_steps(101, 100)


def test_schedules_agree_only_on_steps_before_either_tail():
    assert schedules_agree_until(50, (100, 0), (200, 0))          # constant, extended
    assert schedules_agree_until(50, (100, 0), (200, 100))        # tail added after step 50 ...
    assert schedules_agree_until(100, (100, 0), (200, 100))       # ... or exactly at it
    assert not schedules_agree_until(101, (100, 0), (200, 100))   # ... not once it would have begun
    assert not schedules_agree_until(80, (100, 40), (200, 40))    # a tail already begun, moved
    assert schedules_agree_until(80, (100, 40), (100, 40))        # the same schedule


open_clip = pytest.importorskip("open_clip", reason="UO-ISC needs pip install 'semlink[vlm]'")

TINY_CLIP = tiny_clip(vision_layers=2, text_layers=1)
COMMON = dict(clip_model="semlink-tiny-test-clip", pretrained=None, clip_config=TINY_CLIP,
              layers=[1, 2], dim=32, segment_length=8, codebook_size=16, decoder_channels=16,
              batch_size=2, lr=1e-3, progress=False, text_alignment=False, checkpoint_every=2)


def test_uoisc_config_refuses_a_tail_longer_than_its_steps(image_dir):
    from semlink.semantic.train_uoisc import UoiscConfig

    with pytest.raises(ValueError, match=r"lr_decay_steps=5 is more than the run's 4 steps"):
        UoiscConfig(data=str(image_dir), steps_phase1=3, steps_phase2=1, lr_decay_steps=5)


def test_uoisc_trainer_runs_at_the_scheduled_rate(image_dir):
    from semlink.semantic.train_uoisc import UoiscConfig, UoiscTrainer

    kw = {k: v for k, v in COMMON.items() if k not in ("progress", "checkpoint_every")}
    trainer = UoiscTrainer(UoiscConfig(data=str(image_dir), steps_phase1=6, lr_decay_steps=4,
                                       device="cpu", **kw))
    seen = []
    for step in range(6):
        trainer.train_step(step)
        seen.append(trainer.opt.param_groups[0]["lr"])
    want = [1e-3, 1e-3, 1e-3, 1e-3 * (1 + math.cos(math.pi / 4)) / 2, 5e-4,
            1e-3 * (1 + math.cos(3 * math.pi / 4)) / 2]
    assert seen == pytest.approx(want, rel=1e-12)


def test_a_tail_added_on_resume_before_it_begins_equals_the_uninterrupted_run(tmp_path, image_dir):
    from semlink.semantic.train_uoisc import train_uoisc
    from semlink.semantic.uoisc import load_uoisc

    train_uoisc(str(image_dir), str(tmp_path / "full"), steps_phase1=6, lr_decay_steps=4, **COMMON)
    train_uoisc(str(image_dir), str(tmp_path / "part"), steps_phase1=2, **COMMON)   # constant
    train_uoisc(str(image_dir), str(tmp_path / "part"), steps_phase1=6, lr_decay_steps=4,
                resume=True, **COMMON)
    a, ckpt = load_uoisc(tmp_path / "full" / "last.pt")
    b, _ = load_uoisc(tmp_path / "part" / "last.pt")
    assert ckpt["meta"]["lr_schedule"] == {"total_steps": 6, "lr_decay_steps": 4}
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.allclose(p, q, atol=1e-6), name


def test_a_resume_that_would_re_rate_trained_steps_is_refused(tmp_path, image_dir):
    from semlink.semantic.train_uoisc import train_uoisc
    from semlink.semantic.uoisc import load_uoisc

    train_uoisc(str(image_dir), str(tmp_path / "r"), steps_phase1=4, **COMMON)       # constant
    with pytest.raises(ValueError, match=r"cannot resume .* at step 4 with lr_decay_steps=4 over "
                                         r"6 steps.*start the new tail at or after step 4"):
        train_uoisc(str(image_dir), str(tmp_path / "r"), steps_phase1=6, lr_decay_steps=4,
                    resume=True, **COMMON)
    assert load_uoisc(tmp_path / "r" / "last.pt")[1]["step"] == 4           # untouched
    train_uoisc(str(image_dir), str(tmp_path / "r"), steps_phase1=6, lr_decay_steps=2,
                resume=True, **COMMON)                                       # the tail starts at 4
    assert load_uoisc(tmp_path / "r" / "last.pt")[1]["step"] == 6
