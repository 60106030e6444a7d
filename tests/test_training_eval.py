"""Held-out evaluation during training (``run_training(eval_every=...)``, ``--eval-every``).

A fake trainer whose "model" is a number pins the loop's behaviour: rows at the multiples and
at the end, appended on resume, training unchanged by the evaluation's random numbers, and
clear errors; then UO-ISC's evaluation writes one PSNR column per segment length."""

import csv
import json
from pathlib import Path

import pytest
import torch

from fixtures.tiny_uoisc import tiny_clip
from semlink.semantic.training.loop import Trainer, run_training


class Walk(Trainer):
    """x += a torch.randn draw per step; evaluation reads the checkpoint and burns random numbers."""

    name = "walk"
    log_fields = ("x",)

    def __init__(self, steps: int, with_eval: bool = True) -> None:
        self.steps, self.x = steps, 0.0
        self.eval_fields = ("x_eval",) if with_eval else ()
        torch.manual_seed(0)

    def config(self) -> dict:
        return {"steps": self.steps}

    def total_steps(self) -> int:
        return self.steps

    def train_step(self, step: int) -> dict[str, float]:
        self.x += float(torch.randn(()))
        return {"x": self.x}

    def save_checkpoint(self, path: Path, step: int, seconds: float) -> None:
        path.write_text(json.dumps({"x": self.x, "step": step, "seconds": seconds,
                                    "rng": torch.get_rng_state().tolist()}))

    def restore(self, path: Path) -> tuple[int, float, dict]:
        ck = json.loads(path.read_text())
        self.x = ck["x"]
        torch.set_rng_state(torch.tensor(ck["rng"], dtype=torch.uint8))
        return ck["step"], ck["seconds"], self.config()

    def evaluate(self, checkpoint: Path) -> dict[str, float]:
        torch.randn(1000)                        # an evaluation that draws random numbers
        return {"x_eval": json.loads(checkpoint.read_text())["x"]}


def _rows(path: Path) -> list[dict]:
    return list(csv.DictReader(path.open()))


def test_evaluations_land_at_the_multiples_and_the_end_and_change_no_training_step(tmp_path):
    plain = run_training(Walk(10), tmp_path / "plain", checkpoint_every=2, progress=False)
    res = run_training(Walk(10), tmp_path / "ev", checkpoint_every=2, eval_every=4, progress=False)
    assert res["x"] == plain["x"]                # bit for bit: evaluation's draws are forked off
    rows = _rows(tmp_path / "ev" / "eval_log.csv")
    assert [int(r["step"]) for r in rows] == [4, 8, 10]
    assert float(rows[-1]["x_eval"]) == pytest.approx(res["x"], rel=1e-5)
    assert not (tmp_path / "plain" / "eval_log.csv").exists()


def test_a_resumed_run_appends_to_the_evaluation_log(tmp_path):
    run_training(Walk(4), tmp_path / "r", checkpoint_every=2, eval_every=2, progress=False)
    run_training(Walk(8), tmp_path / "r", resume=True, checkpoint_every=2, eval_every=4,
                 progress=False)
    rows = _rows(tmp_path / "r" / "eval_log.csv")
    assert [int(r["step"]) for r in rows] == [2, 4, 8]
    assert list(rows[0]) == ["step", "x_eval"]


def test_eval_every_must_be_a_multiple_of_checkpoint_every(tmp_path):
    with pytest.raises(ValueError, match=r"eval_every=3 is not a multiple of checkpoint_every=2"):
        run_training(Walk(4), tmp_path / "m", checkpoint_every=2, eval_every=3, progress=False)
    with pytest.raises(ValueError, match=r"eval_every must be a positive int, got 0"):
        run_training(Walk(4), tmp_path / "m", checkpoint_every=2, eval_every=0, progress=False)
    assert not (tmp_path / "m" / "last.pt").exists()                   # refused before training


def test_a_trainer_without_evaluation_says_so(tmp_path):
    with pytest.raises(ValueError, match=r"trainer 'walk' has no held-out evaluation; leave out"):
        run_training(Walk(4, with_eval=False), tmp_path / "n", checkpoint_every=2, eval_every=2,
                     progress=False)


pytest.importorskip("open_clip", reason="UO-ISC needs pip install 'semlink[vlm]'")

TINY_CLIP = tiny_clip(vision_layers=2, text_layers=1)
COMMON = dict(clip_model="semlink-tiny-test-clip", pretrained=None, clip_config=TINY_CLIP,
              layers=[1, 2], dim=32, codebook_size=16, decoder_channels=16, batch_size=2,
              progress=False, text_alignment=False, checkpoint_every=1)


def test_uoisc_logs_held_out_psnr_per_segment_length(tmp_path, image_dir):
    from semlink.semantic.train_uoisc import evaluate_uoisc, train_uoisc

    out = tmp_path / "u"
    train_uoisc(str(image_dir), str(out), steps_phase1=2, segment_length=[8, 16],
                eval_data=str(image_dir), eval_every=1, **COMMON)
    rows = _rows(out / "eval_log.csv")
    assert list(rows[0]) == ["step", "psnr_db_l8", "psnr_db_l16", "mean_image_psnr_db"]
    assert [int(r["step"]) for r in rows] == [1, 2]
    ev = evaluate_uoisc(str(out / "last.pt"), str(image_dir), device="cpu")
    for v in ("8", "16"):
        assert float(rows[-1][f"psnr_db_l{v}"]) == pytest.approx(
            ev["psnr_db_by_segment_length"][v], abs=1e-4)


def test_uoisc_eval_every_without_eval_data_is_refused(tmp_path, image_dir):
    from semlink.semantic.train_uoisc import train_uoisc

    with pytest.raises(ValueError, match=r"--eval-every\) needs held-out images: pass eval_data"):
        train_uoisc(str(image_dir), str(tmp_path / "v"), steps_phase1=1, segment_length=8,
                    eval_every=1, **COMMON)
