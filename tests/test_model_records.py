"""ModelRecords of every model user: UO-ISC (checkpoint + CLIP backbone), the LLaVA judge and
its metrics, LPIPS. Hashes identify the weights actually loaded; flags mark random and
test models."""

import json
from importlib.util import find_spec

import pytest
import torch

from fixtures.tiny_uoisc import tiny_clip
from semlink.provenance import TEST_MODEL_MARKER, hash_path, hash_state_dict, is_test_model


def test_hash_path_is_cached_but_sees_changes(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    first = hash_path(f)
    assert hash_path(f) == first
    f.write_bytes(b"abcd")
    assert hash_path(f) != first
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a").write_bytes(b"1")
    h = hash_path(tmp_path / "d")
    (tmp_path / "d" / TEST_MODEL_MARKER).write_text("{}")   # the marker does not change the weights
    assert hash_path(tmp_path / "d") == h and is_test_model(tmp_path / "d" / "a")


@pytest.mark.skipif(find_spec("open_clip") is None, reason="UO-ISC needs pip install 'semlink[vlm]'")
class TestUOISC:
    TINY_CLIP = tiny_clip(vision_layers=2, text_layers=1)
    CONFIG = dict(clip_model="semlink-records-clip", layers=[1, 2], clip_config=TINY_CLIP, dim=16,
                  segment_length=8, codebook_size=4, decoder_channels=8, text_alignment=False)

    def test_random_init_clip_trained_with_the_codec(self, tmp_path):
        from semlink.semantic import make_codec
        from semlink.semantic.uoisc import build_uoisc, save_uoisc

        torch.manual_seed(0)
        config = {**self.CONFIG, "pretrained": None}
        save_uoisc(tmp_path / "u.pt", build_uoisc(**config), config, meta={"steps": 3})
        codec = make_codec("uoisc", {"checkpoint": str(tmp_path / "u.pt")})
        own, clip = codec.models()
        assert own.role == "uoisc" and own.path == str(tmp_path / "u.pt") and not own.random_init
        assert own.sha256 == hash_state_dict(codec.model.state_dict())   # CLIP trained: all saved
        assert clip.role == "clip" and clip.random_init and clip.ref.endswith(":none")
        assert clip.path == str(tmp_path / "u.pt") and clip.extra["trained_with_codec"]
        assert clip.sha256 == hash_state_dict(codec.model.clip.clip.state_dict())
        assert own.extra["training"] == {"steps": 3}
        json.dumps(codec.provenance())

    def test_frozen_clip_from_a_weights_file_in_a_test_folder(self, tmp_path):
        from semlink.semantic import make_codec
        from semlink.semantic.clip_features import ClipFeatures
        from semlink.semantic.uoisc import build_uoisc, save_uoisc

        torch.manual_seed(1)
        folder = tmp_path / "clip"
        folder.mkdir()
        source = ClipFeatures("semlink-records-clip", None, [1, 2], True, self.TINY_CLIP)
        torch.save(source.clip.state_dict(), folder / "open_clip_pytorch_model.bin")
        (folder / TEST_MODEL_MARKER).write_text("{}")
        weights = str(folder / "open_clip_pytorch_model.bin")
        config = {**self.CONFIG, "pretrained": weights, "frozen": True}
        save_uoisc(tmp_path / "u.pt", build_uoisc(**config), config)
        own, clip = make_codec("uoisc", {"checkpoint": str(tmp_path / "u.pt")}).models()
        assert clip.path == weights and clip.test_model and not clip.random_init
        assert clip.sha256 == hash_state_dict(source.clip.state_dict())  # the file's weights
        assert not clip.extra["trained_with_codec"]
        assert not own.test_model                     # the UO-ISC checkpoint itself is not marked


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from semlink.semantic.vlm import build_tiny_llava

    return build_tiny_llava(str(tmp_path_factory.mktemp("llava")), seed=0)


@pytest.mark.skipif(find_spec("transformers") is None, reason="needs pip install 'semlink[vlm]'")
class TestLlava:
    def test_judge_and_metrics_record_the_model_folder(self, tiny):
        from semlink.metrics import get_metric
        from semlink.semantic.vlm import LlavaJudge, llava_model_record

        rec = llava_model_record(tiny)
        assert rec.test_model and rec.path == tiny and rec.sha256 == hash_path(tiny)
        judge = LlavaJudge(tiny)               # flagged in its record, announced by the sweep
        assert judge.is_test_model
        (jrec,) = judge.models()
        assert jrec.sha256 == rec.sha256 and jrec.extra["model_class"] == "LlavaForConditionalGeneration"
        for name in ("answer_match", "relevance_loss"):
            (mrec,) = get_metric(name, {"vlm": tiny}).models()
            assert mrec.to_dict() == rec.to_dict()

    def test_missing_model_is_an_error_not_an_empty_record(self, tmp_path):
        from semlink.semantic.vlm import llava_model_record

        with pytest.raises(FileNotFoundError, match="huggingface-cli download"):
            llava_model_record("nobody/no-such-llava")


def test_lpips_records_backbone_and_heads(tmp_path, monkeypatch):
    pytest.importorskip("lpips")
    torchvision = pytest.importorskip("torchvision")
    from semlink.metrics import get_metric

    folder = tmp_path / "alex"
    folder.mkdir()
    torch.save(torchvision.models.alexnet().state_dict(), folder / "alexnet.pth")
    (folder / TEST_MODEL_MARKER).write_text("{}")
    monkeypatch.setenv("SEMLINK_LPIPS_BACKBONE", str(folder / "alexnet.pth"))
    backbone, heads = get_metric("lpips").models()
    assert backbone.role == "lpips_backbone" and backbone.test_model
    assert backbone.sha256 == hash_path(folder / "alexnet.pth")
    assert heads.role == "lpips_linear_heads" and not heads.test_model and heads.sha256
    assert get_metric("psnr").models() == []
