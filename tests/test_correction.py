"""Receiver-side correction: symspell on real text, the fine-tuning set, a tiny BART that learns."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from semlink.metrics.text import error_rate  # noqa: E402
from semlink.semantic.correction import (  # noqa: E402
    BartCorrector,
    SymSpellCorrector,
    build_correction_pairs,
    make_corrector,
)

CAPTIONS = ["A man riding a horse on the beach.", "Two dogs play with a frisbee in the park.",
            "A cat sleeping on a red couch.", "A plate of food with broccoli and rice.",
            "People walking down a city street.", "A train on the tracks next to a station."]


def test_symspell_repairs_misspelt_words_and_leaves_clean_text_alone():
    pytest.importorskip("symspellpy")
    corr = SymSpellCorrector()
    assert corr.correct(CAPTIONS) == CAPTIONS
    fixed = corr.correct(["A man ridimg a horze on the beach.", "Two dOgs play wiht a frisbee."])
    assert fixed == ["A man riding a horse on the beach.", "Two dogs play with a frisbee."]
    assert corr.correct(["", "  ", "3 cats"]) == ["", "  ", "3 cats"]


def test_make_corrector_names_the_choices():
    assert make_corrector("none").correct(["x y"]) == ["x y"]
    assert isinstance(make_corrector("bart:/some/folder"), BartCorrector)
    with pytest.raises(ValueError, match="symspell"):
        make_corrector("spellcheck")


def test_fine_tuning_pairs_come_from_the_chain_and_get_noisier_as_snr_falls():
    profile = {"code": "none", "k": 128, "modulation": "psk8"}
    cers = []
    for snr in (14.0, 9.0, 4.0):
        pairs, cfg = build_correction_pairs(CAPTIONS, "utf8", profile, "awgn", [snr], copies=3,
                                            clean_fraction=0.0, seed=1)
        assert len(pairs) == 3 * len(CAPTIONS) and all(p.snr_db == snr for p in pairs)
        cers.append(error_rate([p.clean for p in pairs], [p.noisy for p in pairs], "char"))
    assert cers[0] < cers[1] < cers[2] and cers[2] > 0.05
    pairs, cfg = build_correction_pairs(CAPTIONS, "ascii7", profile, "awgn", [4.0, 8.0],
                                        clean_fraction=0.5, seed=3)
    clean = [p for p in pairs if p.snr_db is None]
    assert len(clean) == round(0.5 * 2 * len(CAPTIONS)) and all(p.noisy == p.clean for p in clean)
    assert cfg["seed"] == 3 and cfg["encoding"] == {"encoding": "ascii7"}
    assert cfg["profile"]["code"] == "none" and cfg["chain"]
    again, _ = build_correction_pairs(CAPTIONS, "ascii7", profile, "awgn", [4.0, 8.0],
                                      clean_fraction=0.5, seed=3)
    assert [(p.noisy, p.clean) for p in again] == [(p.noisy, p.clean) for p in pairs]


def test_a_tiny_bart_fine_tuned_on_chain_pairs_learns_to_correct_them(tmp_path):
    pytest.importorskip("transformers")
    from fixtures.tiny_text_models import build_tiny_bart
    from semlink.semantic.training import run_training
    from semlink.semantic.training.corrector import CorrectorTrainer

    bart = build_tiny_bart(tmp_path / "bart")
    texts = ["a cat on a couch.", "two dogs play."]
    trainer = CorrectorTrainer(texts=texts, model=str(bart), code="none", k=64, snr_db=[10.0],
                               copies=2, clean_fraction=0.5, holdout=0.0, steps=120, batch_size=8,
                               lr=5e-3, max_length=32, seed=0)
    noisy = [p.noisy for p in trainer.pairs]
    assert any(p.noisy != p.clean for p in trainer.pairs)          # the chain made errors
    before = BartCorrector(str(bart), max_length=32).correct(noisy)
    result = run_training(trainer, tmp_path / "out", progress=False, log_every=20)
    log = (tmp_path / "out" / "train_log.csv").read_text().splitlines()
    assert log[0] == "step,loss,seconds" and float(log[-1].split(",")[1]) < float(log[1].split(",")[1])
    after = BartCorrector(result["model_dir"], max_length=32).correct(noisy)
    clean = [p.clean for p in trainer.pairs]
    assert after == clean and before != clean
    meta = json.loads((Path(result["model_dir"]) / "semlink_corrector.json").read_text())
    assert meta["config"]["seed"] == 0 and meta["chain"]["snr_db"] == [10.0]
    assert meta["base_model"]["test_model"]
    from semlink.provenance import is_test_model

    assert is_test_model(result["model_dir"])               # fine-tuned from a test model: marked
    with pytest.raises(ValueError, match="--resume"):
        run_training(trainer, tmp_path / "out", progress=False)
