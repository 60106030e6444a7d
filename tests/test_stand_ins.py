"""Stand-in models: published architectures with seeded random weights (semlink.stand_ins).

Parameter counts are checked on the meta device (no memory) against the
figures the model cards / papers publish; a small stand-in set runs a real
scenario through the model-reference path and is flagged RANDOM INIT in the
results, and ``models check`` lists exactly the models that run loaded.
"""

import json
from pathlib import Path

import pytest
import yaml

from conftest import make_images
from semlink import stand_ins

pytest.importorskip("transformers", reason="stand-ins need the 'vlm' extra (scripts/test.sh installs it)")
pytest.importorskip("diffusers",
                    reason="SD 1.5 stand-ins need the 'diffusion' extra (scripts/test.sh installs it)")
pytest.importorskip("open_clip", reason="CLIP stand-ins need the 'vlm' extra (scripts/test.sh installs it)")

M = 1_000_000

# (stand-in, part) -> (published figure, half a unit of its last published digit or the
# paper's rounding, source). Counts are unique parameters (tied weights once) unless noted.
PUBLISHED = {
    # SD 1.5 model card / diffusers: UNet 859,520,964 parameters (exact)
    ("sd15", "unet"): (859_520_964, 0, "SD 1.5 UNet2DConditionModel, 859,520,964"),
    # kl-f8 VAE of SD 1.5: 83.65 M (diffusers AutoencoderKL, e.g. the SD paper's 84 M class)
    ("sd15", "vae"): (83.65 * M, 0.005 * M, "SD 1.5 VAE, 83.65 M"),
    # CLIP ViT-L/14 text tower (openai/clip-vit-large-patch14 text model): 123.06 M
    ("sd15", "text_encoder"): (123.06 * M, 0.005 * M, "CLIP ViT-L/14 text encoder, 123.06 M"),
    # Ye et al. 2023, IP-Adapter: "a lightweight adapter with only 22M parameters"
    ("ip-adapter-sd15", "adapter"): (22 * M, 0.5 * M, "IP-Adapter paper, 22 M"),
    # open_clip model profile: ViT-H-14 image tower 632.08 M (projection included)
    ("ip-adapter-sd15", "image_encoder"): (632.08 * M, 0.005 * M, "open_clip ViT-H-14 image, 632.08 M"),
    # llava-hf/llava-1.5-7b-hf model card: 7.06 B
    ("llava-1.5-7b", "model"): (7.06e9, 0.005e9, "llava-1.5-7b-hf card, 7.06 B"),
    # BART paper (Lewis et al. 2020) / fairseq README: bart.base 140 M (rounded to 10^6 loosely)
    ("bart-base", "model"): (140 * M, 1 * M, "BART base, 140 M"),
    # open_clip model profile: ViT-B-32 151.28 M (= openai/clip-vit-base-patch32)
    ("clip-vit-b-32", "model"): (151.28 * M, 0.005 * M, "CLIP ViT-B/32, 151.28 M"),
    # open_clip model profile: ViT-B-16 149.62 M
    ("clip-vit-b-16", "model"): (149.62 * M, 0.005 * M, "open_clip ViT-B-16, 149.62 M"),
    # DETR paper (Carion et al. 2020), Table 1: DETR (R50) 41 M (rounded in the paper)
    ("detr-resnet50", "model"): (41 * M, 1 * M, "DETR Table 1, 41 M"),
    # torchvision docs: FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1 num_params 35,322,218
    ("fcn-resnet50", "model"): (35_322_218, 0, "torchvision fcn_resnet50, 35,322,218"),
    # torchvision docs: AlexNet_Weights.IMAGENET1K_V1 num_params 61,100,840
    ("alexnet", "model"): (61_100_840, 0, "torchvision alexnet, 61,100,840"),
}


@pytest.fixture(scope="module")
def counts():
    import semlink.semantic  # noqa: F401  (supplies the builders of the codec's stand-ins: uoisc)

    return {name: stand_ins.param_counts(name) for name in stand_ins.CATALOG}


@pytest.mark.parametrize("key", sorted(PUBLISHED), ids=lambda k: f"{k[0]}.{k[1]}")
def test_stand_in_has_its_published_parameter_count(counts, key):
    value, tol, source = PUBLISHED[key]
    got = counts[key[0]][key[1]]
    assert abs(got - value) <= tol, f"{key}: {got:,} parameters, published {source}"


def test_blip_base_stored_tensors_match_its_card():
    # the card's 247 M counts stored tensors: BLIP's tied decoder embedding twice
    model = stand_ins.build("blip-base")["model"]
    stored = sum(t.numel() for t in model.state_dict().values())
    assert abs(stored - 247 * M) <= 0.5 * M
    unique = sum(p.numel() for p in model.parameters())
    assert stored - unique == 30524 * (768 + 1)    # tied [vocab, hidden] decoder and its bias


def test_llava_interleave_parts_follow_the_published_config():
    """No total is published that could be checked offline: check each part in closed form
    from llava-interleave-qwen-0.5b-hf's config (Qwen1.5-0.5B LM, SigLIP-so400m, 26 layers)."""
    model = stand_ins.build("llava-interleave-qwen-0.5b")["model"]
    lm = model.model.language_model
    h, f, layers, vocab = 1024, 2816, 24, 152000
    per_layer = 3 * (h * h + h) + h * h + 3 * h * f + 2 * h      # q,k,v (+bias), o, MLP, 2 norms
    assert sum(p.numel() for p in lm.parameters()) == vocab * h + layers * per_layer + h
    vis = model.model.vision_tower
    hv, fv, lv, patch, side = 1152, 4304, 26, 14, 384
    per_vlayer = 4 * (hv * hv + hv) + 2 * hv * fv + fv + hv + 4 * hv
    embed = 3 * patch * patch * hv + hv + (side // patch) ** 2 * hv
    assert sum(p.numel() for p in vis.parameters()) == embed + lv * per_vlayer + 2 * hv
    proj = sum(p.numel() for p in model.model.multi_modal_projector.parameters())
    assert proj == hv * h + h + h * h + h
    assert model.lm_head.weight is lm.embed_tokens.weight           # tied, as configured


def test_uoisc_stand_in_follows_the_codec_defaults(counts):
    from semlink.semantic.uoisc import UOISCModel, build_uoisc

    model = stand_ins.build("uoisc")["model"]
    assert sum(p.numel() for p in model.clip.clip.parameters()) == pytest.approx(149.62 * M, abs=0.005 * M)
    from semlink.semantic.uoisc_stand_in import uoisc_default_config

    cfg = uoisc_default_config("full")
    import inspect

    for fn in (build_uoisc, UOISCModel.__init__):        # every default read from the codec
        for name, p in inspect.signature(fn).parameters.items():
            if p.default is not inspect.Parameter.empty and name not in ("clip_config", "frozen"):
                want = list(p.default) if isinstance(p.default, tuple) else p.default
                assert cfg[name] == want
    assert model.dim == cfg["dim"] and list(model.clip.layers) == list(cfg["layers"])
    assert counts["uoisc"]["model"] == sum(p.numel() for p in model.parameters())


def test_codec_stand_in_needs_its_layer_and_takes_its_builders_once():
    """The core catalog knows stand_in:uoisc (it parses) without importing the codec; building it
    without the semantic layer names the fix; the layer supplies its builders exactly once."""
    import subprocess
    import sys

    probe = ("import sys\nfrom semlink import stand_ins\n"
             "ref = stand_ins.parse('uoisc:small')\n"
             "try:\n    stand_ins.build('uoisc', 'small')\n"
             "except RuntimeError as exc:\n    print(exc)\n"
             "print(sorted(m for m in sys.modules if m.startswith('semlink.semantic')))\n")
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "import semlink.semantic" in res.stdout and res.stdout.strip().endswith("[]")
    from semlink.semantic import uoisc_stand_in

    stand_ins.provide("uoisc", uoisc_stand_in.uoisc_parts, uoisc_stand_in.write_uoisc,
                      uoisc_stand_in.point_clip_at)                        # the same again: fine
    with pytest.raises(ValueError, match="already has its builders"):
        stand_ins.provide("uoisc", lambda scale: {}, uoisc_stand_in.write_uoisc)
    with pytest.raises(ValueError, match="only for entries with provided_by"):
        stand_ins.provide("sd15", lambda scale: {}, uoisc_stand_in.write_uoisc)


def test_catalog_totals_are_the_built_counts(counts):
    for name, entry in stand_ins.CATALOG.items():
        if entry.params is not None:
            assert sum(counts[name].values()) == entry.params, name


def test_tokenizers_have_the_real_vocabulary_sizes(tmp_path):
    import transformers

    from semlink import stand_in_tokenizers as T

    assert T.write_clip_tokenizer(tmp_path / "clip") == 49408
    clip = transformers.CLIPTokenizer.from_pretrained(str(tmp_path / "clip"))
    # CLIP's real BPE: "a photo of a cat" -> <start> a photo of a cat <end>
    assert clip("a photo of a cat")["input_ids"] == [49406, 320, 1125, 539, 320, 2368, 49407]
    qwen = T.qwen_tokenizer()
    assert len(qwen) == 151647 and qwen.convert_tokens_to_ids("<image>") == 151646
    assert qwen.convert_tokens_to_ids("<|im_end|>") == 151645
    bart = T.bart_tokenizer()
    assert len(bart) == 50265 and bart.mask_token_id == 50264 and bart.pad_token_id == 1
    assert bart.decode(bart("a cat on a couch")["input_ids"], skip_special_tokens=True) == "a cat on a couch"
    bert = T.bert_tokenizer()
    assert len(bert) == 30524 and bert.convert_tokens_to_ids("[DEC]") == 30522
    llama = T.llama_tokenizer()
    assert len(llama) == 32002 and llama.convert_tokens_to_ids("<image>") == 32000


def test_unknown_stand_in_lists_the_known_ones():
    from semlink.models import parse_ref

    with pytest.raises(ValueError) as err:
        parse_ref("stand_in:sd21")
    msg = str(err.value)
    assert "'sd21'" in msg and all(n in msg for n in ("sd15", "bart-base", "uoisc", "alexnet"))
    with pytest.raises(ValueError, match="scale must be one of"):
        parse_ref("stand_in:sd15:huge")


def test_weight_bytes_follow_params_and_dtype():
    import torch

    assert stand_ins.weight_bytes("sd15", dtype=torch.float16) == 2 * 1_066_235_307
    assert stand_ins.weight_bytes("llava-1.5-7b", dtype=torch.float32) == 4 * 7_063_427_072


def test_memory_plan_says_7b_llava_sd_and_bart_do_not_fit_24_gb():
    from semlink.links.memory import model_memory_plan

    needs = [{"who": "codec x", "ref": r, "dtype": d, "params": stand_ins.total_params(n)}
             for r, d, n in (("llava-hf/llava-1.5-7b-hf", "float32", "llava-1.5-7b"),
                             ("stable-diffusion-v1-5/stable-diffusion-v1-5", "float16", "sd15"),
                             ("facebook/bart-base", "float32", "bart-base"))]
    plan = model_memory_plan(needs, "cpu", limit_bytes=24 * 2**30)
    assert plan["fits"] is False and "WILL NOT FIT" in plan["summary"]
    assert plan["weights_bytes"] == 4 * 7_063_427_072 + 2 * 1_066_235_307 + 4 * 139_420_416
    assert "llava-hf/llava-1.5-7b-hf 26.3 GiB" in plan["summary"]
    assert model_memory_plan(needs, "cpu", limit_bytes=80 * 2**30)["fits"] is True


def test_memory_plan_counts_a_shared_diffusion_pipeline_once():
    """Settings of an ip_adapter_scale sweep share one SD 1.5 (semantic/diffusion/sd.py):
    the plan holds SD and its adapter once, each setting's captioner and BART once per setting."""
    from semlink.links.memory import model_memory_plan

    sd, bart = stand_ins.total_params("sd15"), stand_ins.total_params("bart-base")
    needs = []
    for lam in (0, 0.25, 0.5, 0.75, 1.0):
        who = f"codec Multi-SC[ip_adapter_scale={lam}]"
        needs += [{"who": who, "role": "diffusion", "dtype": "float16", "params": sd,
                   "ref": "stable-diffusion-v1-5/stable-diffusion-v1-5"},
                  {"who": who, "role": "corrector", "dtype": "float32", "params": bart,
                   "ref": "facebook/bart-base"}]
    plan = model_memory_plan(needs, "cpu", limit_bytes=80 * 2**30)
    assert plan["weights_bytes"] == 2 * sd + 5 * 4 * bart
    # another dtype is another pipeline
    needs.append({**needs[0], "dtype": "float32"})
    assert model_memory_plan(needs, "cpu", 80 * 2**30)["weights_bytes"] == 2 * sd + 4 * sd + 20 * bart


def _scenario(tmp_path) -> Path:
    make_images(tmp_path / "images", count=1, sizes=[(96, 128)])
    raw = {
        "name": "stand_ins_small", "dataset": {"path": "images", "resize": [224, 224]},
        "codecs": [
            {"name": "multisc", "label": "Multi-SC ff", "params": {
                "split": "detect", "detector": "stand_in:detr-resnet50:small",
                "detector_threshold": 0.5,
                "captioner": "stand_in:llava-interleave-qwen-0.5b:small", "max_new_tokens": 4,
                "corrector": "bart:stand_in:bart-base:small",
                "object_model": "stand_in:fcn-resnet50:small", "object_size": 32,
                "diffusion": {"model": "stand_in:sd15:small",
                              "ip_adapter": "stand_in:ip-adapter-sd15:small",
                              "steps": 2, "height": 64, "width": 64}}},
            {"name": "uoisc", "label": "UO-ISC", "params": {"checkpoint": "stand_in:uoisc:small"}}],
        "channels": ["awgn"], "snr_db": [10],
        "metrics": ["psnr", {"name": "clip_similarity", "model": "stand_in:clip-vit-b-32:small",
                             "mode": "image"}],
        "batch_size": 1}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_small_stand_ins_run_through_the_model_layer_flagged_random_init(tmp_path, monkeypatch, capsys):
    """A real scenario with small stand-ins: built on first use, loaded through the model
    references, every record random_init with the stand-in named, summary marked, and
    `models check` lists exactly the stand-ins the run loaded."""
    from semlink.links.cli import main
    from semlink.links.results import load_results
    from semlink.links.summary import format_table, summarize

    monkeypatch.setenv("SEMLINK_MODELS", str(tmp_path / "models"))
    path = _scenario(tmp_path)
    assert main(["models", "check", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    listed = {m["stand_in"] for m in report["models"]}
    assert all(m["present"] and m["params"] > 0 for m in report["models"])

    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--no-plot"]) == 0
    _, points = load_results(tmp_path / "out" / "results.h5")
    assert [p["status"] for p in points] == ["ok", "ok"]
    loaded = set()
    for p in points:
        prov = json.loads(p["provenance_json"])
        records = prov["codec"]["models"] + [r for rs in prov["metrics"].values() for r in rs]
        for r in records:
            assert r["random_init"] is True and not r["test_model"], r["role"]
            info = r["extra"]["stand_in"]
            assert info["seed"] == 0 and info["scale"] == "small"
            loaded.add(f"stand_in:{info['stand_in']}:small")
    assert loaded == listed
    table = format_table(summarize(str(tmp_path / "out" / "results.h5")))
    assert "Multi-SC ff [RANDOM INIT]" in table and "UO-ISC [RANDOM INIT]" in table


def test_building_a_stand_in_is_seeded_and_leaves_the_callers_rng_alone(tmp_path):
    import torch

    from semlink.provenance import hash_path

    torch.manual_seed(1234)
    before = torch.initial_seed()
    a = stand_ins.materialize(stand_ins.parse("fcn-resnet50:small"), tmp_path / "a")
    assert torch.initial_seed() == before and torch.rand(1).item() == pytest.approx(
        torch.manual_seed(1234) and torch.rand(1).item())
    b = stand_ins.materialize(stand_ins.parse("fcn-resnet50:small"), tmp_path / "b")
    c = stand_ins.materialize(stand_ins.parse("fcn-resnet50:small:3"), tmp_path / "b")
    assert hash_path(a / "model.pt") == hash_path(b / "model.pt") != hash_path(c / "model.pt")
    assert stand_ins.materialize(stand_ins.parse("fcn-resnet50:small"), tmp_path / "a") == a
    assert not list((tmp_path / "a").glob("*.partial-*"))
