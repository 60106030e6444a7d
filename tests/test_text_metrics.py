"""Text metrics against hand-computed values and sacrebleu; the metric registry."""

import math

import pytest
import torch

from semlink.metrics import METRICS, get_metric
from semlink.metrics.text import bleu01, error_rate, levenshtein
from semlink.semantic.payload import Reconstruction


def _recon(sent, got):
    return Reconstruction(images=[], texts=got, extras={"sent_texts": sent})


def test_bleu_equals_the_hand_computed_value_on_a_0_1_scale():
    ref, hyp = "the cat sat on the mat", "the cat sat on a mat"
    # clipped n-gram precisions 5/6, 3/5, 2/4, 1/3; equal lengths -> brevity penalty 1
    expected = (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    assert bleu01([ref], [hyp]) == pytest.approx(expected, abs=1e-4)
    sacrebleu = pytest.importorskip("sacrebleu")
    assert bleu01([ref], [hyp]) == pytest.approx(
        sacrebleu.sentence_bleu(hyp, [ref]).score / 100, abs=1e-12)
    assert bleu01([ref], [hyp]) == pytest.approx(
        sacrebleu.corpus_bleu([hyp], [[ref]]).score / 100, abs=1e-12)   # one sentence: the same
    assert bleu01([ref], [ref]) == pytest.approx(1.0)


def test_bleu_metric_is_per_item_and_identical_text_scores_one():
    m = get_metric("bleu")
    out = m.compute([None, None], _recon([["a dog runs"], ["the cat sat on the mat"]],
                                         [["a dog runs"], ["the cat sat on a mat"]]))
    assert out[0] == pytest.approx(1.0) and 0 < out[1] < 1


def test_cer_and_wer_hand_computed():
    assert levenshtein("kitten", "sitting") == 3
    assert error_rate(["kitten"], ["sitting"], "char") == pytest.approx(3 / 6)
    assert error_rate(["a b c"], ["a x c d"], "word") == pytest.approx(2 / 3)
    # summed over an item's texts: (1 + 0) edits / (3 + 2) reference characters
    assert get_metric("cer").compute([None], _recon([["abc", "de"]], [["abd", "de"]]))[0] == \
        pytest.approx(1 / 5)
    assert error_rate([""], [""], "char") == 0.0


def test_exact_match_counts_texts_received_exactly():
    out = get_metric("exact_match").compute([None], _recon([["a", "b", "c", "d"]],
                                                           [["a", "b", "x", "d"]]))
    assert out[0] == pytest.approx(0.75)


def test_text_metrics_are_nan_for_a_codec_that_sends_no_text():
    # an image codec in the same scenario as a text codec: undefined, not an error
    img = torch.zeros(3, 2, 2)
    for name in ("cer", "wer", "bleu", "exact_match"):
        out = get_metric(name).compute([img, img], Reconstruction(images=[img, img]))
        assert out.shape == (2,) and all(math.isnan(v) for v in out)


def test_text_metrics_refuse_texts_on_one_side_only():
    img = torch.zeros(3, 2, 2)
    with pytest.raises(ValueError, match="sent texts"):
        get_metric("cer").compute([img], Reconstruction(images=[img], texts=[["a"]]))


def test_registry_lists_every_metric_of_the_package():
    for name in ("psnr", "mse", "ssim", "ms_ssim", "lpips", "bleu", "cer", "wer", "exact_match",
                 "clip_similarity", "answer_match", "relevance_loss"):
        assert name in METRICS, name


def test_metrics_with_models_follow_the_given_device():
    from semlink.metrics import Metric

    def factory(device: str = "cpu"):
        return Metric("device_probe", "", True, lambda o, r: None, description=device)

    METRICS.add("device_probe_test", factory)
    assert get_metric("device_probe_test", {}, device="cuda:3").description == "cuda:3"
    assert get_metric("device_probe_test", {"device": "cpu"}, device="cuda:3").description == "cpu"
    m = get_metric("clip_similarity", {"model": "no-such-org/no-such-clip"}, device="cpu")
    reason = m.unavailable_reason()
    assert reason and "no-such-org/no-such-clip" in reason and "semlink models fetch" in reason
    assert not math.isnan(get_metric("psnr", None, device="cpu").compute(
        [torch.zeros(3, 2, 2)], Reconstruction(images=[torch.full((3, 2, 2), 0.5)]))[0])


def test_clip_similarity_through_a_tiny_clip(tmp_path):
    pytest.importorskip("transformers")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from fixtures.tiny_text_models import build_tiny_clip

    folder = str(build_tiny_clip(tmp_path / "clip"))
    g = torch.Generator().manual_seed(0)
    a = [torch.rand(3, 40, 40, generator=g), torch.rand(3, 36, 44, generator=g)]
    img = get_metric("clip_similarity", {"model": folder})
    assert img.unavailable_reason() is None
    same = img.compute(a, Reconstruction(images=[x.clone() for x in a]))
    assert same == pytest.approx([1.0, 1.0], abs=1e-5)
    other = img.compute(a, Reconstruction(images=[1 - x for x in a]))
    assert (other < 0.9999).all()
    txt = get_metric("clip_similarity", {"model": folder, "mode": "text"})
    vals = txt.compute(a, Reconstruction(images=[], texts=[["a dog"], ["a cat", "two cats"]]))
    assert vals.shape == (2,) and ((vals >= -1) & (vals <= 1)).all()
    (rec,) = img.models()
    assert rec.test_model and rec.role == "clip_similarity"
    with pytest.raises(ValueError, match="mode"):
        get_metric("clip_similarity", {"model": folder, "mode": "audio"})


def test_metrics_compare_with_what_the_user_sent_not_the_transliterated_text():
    """Issue 24 (2b): with ascii7 the encoding's own loss must show in the metrics."""
    from types import SimpleNamespace

    from semlink.links.link import Link
    from semlink.semantic import make_codec

    caption = "Un café 🐕 au lait — naïve façade 東京"
    profiles = {"ldpc": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.5,
                         "modulation": "qpsk"}}
    items = [SimpleNamespace(name="0.jpg", image=torch.zeros(3, 4, 4), captions=[caption],
                             queries=[])]
    scores = {}
    for encoding in ("ascii7", "utf8"):
        codec = make_codec("text", {"transport": "bits", "encoding": encoding}, {"caption0": "ldpc"})
        received = Link(profiles, "awgn", seed=0, device="cpu").transmit(codec.encode_items(items), 30.0)
        recon = codec.decode(received)
        assert received.reports["caption0"].bit_errors[0] == 0          # error-free channel
        assert recon.extras["sent_texts"] == [[caption]]
        scores[encoding] = {m: float(get_metric(m).compute([None], recon)[0])
                            for m in ("cer", "exact_match")}
        if encoding == "ascii7":
            assert recon.texts == [["Un cafe ? au lait ? naive facade ??"]]
    # the transliteration makes 7 substitutions (é, 🐕, —, ï, ç, 東, 京), one character each,
    # nothing inserted or deleted: CER 7/35; before the fix it scored CER 0, exact match 1
    assert scores["ascii7"]["cer"] == pytest.approx(7 / len(caption))
    assert scores["ascii7"]["exact_match"] == 0.0
    assert scores["utf8"] == {"cer": 0.0, "exact_match": 1.0}
