"""The model layer: references, offline resolution, errors, records; tiny models loaded back."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from semlink import models  # noqa: E402
from semlink.models import ModelNotFound, ModelRef, parse_ref, resolve  # noqa: E402
from semlink.provenance import hash_path  # noqa: E402


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    folder = tmp_path / "semlink_models"
    folder.mkdir()
    monkeypatch.setenv("SEMLINK_MODELS", str(folder))
    monkeypatch.delenv("SEMLINK_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf_cache"))   # an empty hub cache
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    models.set_allow_download(None)
    yield folder
    models.set_allow_download(None)


def test_references_parse_into_their_kinds(tmp_path):
    assert parse_ref("facebook/bart-base") == ModelRef("hf", "facebook/bart-base")
    assert parse_ref("hf:facebook/bart-base") == ModelRef("hf", "facebook/bart-base")
    assert parse_ref("open_clip:ViT-B-16:openai") == ModelRef("open_clip", "ViT-B-16", "openai")
    assert parse_ref("torchvision:AlexNet_Weights.IMAGENET1K_V1").kind == "torchvision"
    assert parse_ref(str(tmp_path)).kind == "path"
    assert parse_ref("./some/where/model").kind == "path"
    with pytest.raises(ValueError, match="open_clip:MODEL:TAG"):
        parse_ref("open_clip:ViT-B-16")
    with pytest.raises(ValueError, match="non-empty"):
        parse_ref("")


def test_a_missing_model_names_itself_the_folder_and_the_fetch_command(model_dir):
    with pytest.raises(ModelNotFound) as err:
        resolve("nobody/no-such-model")
    msg = str(err.value)
    assert "nobody/no-such-model" in msg
    assert str(model_dir / "nobody" / "no-such-model") in msg
    assert "semlink models fetch nobody/no-such-model" in msg
    assert "--allow-download" in msg
    assert not models.is_available("nobody/no-such-model")


def test_downloads_are_off_unless_allowed(monkeypatch, model_dir):
    assert not models.download_allowed()
    monkeypatch.setenv("SEMLINK_ALLOW_DOWNLOAD", "1")
    assert models.download_allowed()
    models.set_allow_download(False)
    assert not models.download_allowed()


def test_semlink_models_folder_is_searched_by_hf_id(model_dir):
    from fixtures.tiny_text_models import build_tiny_bart

    build_tiny_bart(model_dir / "facebook" / "bart-base")
    r = resolve("facebook/bart-base")
    assert r.source == "semlink_models" and r.path == model_dir / "facebook" / "bart-base"
    rec = r.record("corrector")
    assert rec.ref == "facebook/bart-base" and rec.test_model and not rec.random_init
    assert rec.sha256 == hash_path(r.path)


def test_torchvision_weights_resolve_from_the_models_folder_and_torch_hub(model_dir, tmp_path):
    pytest.importorskip("torchvision")
    ref = "torchvision:AlexNet_Weights.IMAGENET1K_V1"
    with pytest.raises(ModelNotFound, match="alexnet-owt-7be5be79.pth"):
        resolve(ref)
    hub = tmp_path / "torch_home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / "alexnet-owt-7be5be79.pth").write_bytes(b"weights")
    assert resolve(ref).source == "torch_hub"
    local = model_dir / "torchvision" / "alexnet-owt-7be5be79.pth"
    local.parent.mkdir()
    local.write_bytes(b"weights")
    assert resolve(ref).source == "semlink_models" and resolve(ref).path == local


@pytest.mark.parametrize("kind", ["bart", "clip", "blip", "llava"])
def test_every_tiny_model_loads_back_through_the_model_layer(tmp_path, kind, caplog):
    transformers = pytest.importorskip("transformers")
    import fixtures.tiny_text_models as fx

    build = {"bart": fx.build_tiny_bart, "clip": fx.build_tiny_clip, "blip": fx.build_tiny_blip,
             "llava": fx.build_tiny_llava}[kind]
    cls = {"bart": transformers.BartForConditionalGeneration, "clip": transformers.CLIPModel,
           "blip": transformers.BlipForConditionalGeneration,
           "llava": transformers.LlavaForConditionalGeneration}[kind]
    folder = build(tmp_path / kind)
    with caplog.at_level("WARNING", logger="semlink.models"):
        model, processor, rec = models.load_hf(str(folder), cls, role=kind,
                                               processor_class=transformers.AutoProcessor)
    said = [r.getMessage() for r in caplog.records if "TEST model" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(f"{kind}: ")   # once, logged, not a UserWarning
    assert isinstance(model, cls) and processor is not None
    assert rec.test_model and rec.path == str(folder.resolve()) and rec.sha256.startswith("sha256:")
    from semlink.provenance import hash_state_dict

    assert rec.sha256 == hash_state_dict(model.state_dict())


def test_describe_reports_presence_size_and_hash(model_dir, tmp_path):
    from fixtures.tiny_text_models import build_tiny_clip

    folder = build_tiny_clip(tmp_path / "clip")
    d = models.describe_ref(str(folder))
    assert d["present"] and d["size_bytes"] > 0 and d["sha256"] == hash_path(folder) and d["test_model"]
    missing = models.describe_ref("nobody/nothing")
    assert not missing["present"] and "nobody/nothing" in missing["why"]


def test_stand_ins_replace_real_references_only_when_enabled(monkeypatch, tmp_path):
    from semlink import models

    monkeypatch.setenv("SEMLINK_MODELS", str(tmp_path / "m"))
    monkeypatch.delenv("SEMLINK_STAND_INS", raising=False)
    assert models.substitute("facebook/bart-base").kind == "hf"
    assert not models.locate("facebook/bart-base")["present"]
    models.set_stand_ins(True)
    try:
        r = models.substitute("facebook/bart-base")
        assert (r.kind, r.name) == ("stand_in", "bart-base")
        assert models.substitute("nobody/unknown").kind == "hf"          # no stand-in: unchanged
        where = models.locate("torchvision:AlexNet_Weights.IMAGENET1K_V1")
        assert where["present"] and where["stand_in"] == "stand_in:alexnet"
        assert where["params"] == 61_100_840 and where["size_bytes"] is None   # not built yet
        assert not (tmp_path / "m" / "stand_in").exists()
    finally:
        models.set_stand_ins(None)
    monkeypatch.setenv("SEMLINK_STAND_INS", "1")
    assert models.substitute("h94/IP-Adapter").name == "ip-adapter-sd15"
    with pytest.raises(ValueError, match="nothing to fetch"):
        models.fetch("stand_in:sd15")
