"""`semlink models list|check` and `semlink train` from the trainer registry."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from semlink.links.cli import main  # noqa: E402


def _scenario(tmp_path, image_dir, corrector, metrics):
    caps = tmp_path / "caps.json"
    caps.write_text(json.dumps({p.name: ["a caption"] for p in image_dir.iterdir()}))
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({
        "dataset": {"path": str(image_dir), "captions": str(caps)},
        "codecs": [{"name": "text", "params": {"corrector": corrector}}],
        "channels": ["awgn"], "snr_db": [10], "metrics": metrics}))
    return path


def test_models_check_names_what_is_missing_and_fails(tmp_path, image_dir, capsys, monkeypatch):
    monkeypatch.setenv("SEMLINK_MODELS", str(tmp_path / "empty"))
    path = _scenario(tmp_path, image_dir, "bart:nobody/no-bart",
                     ["cer", {"name": "clip_similarity", "model": "nobody/no-clip", "mode": "text"}])
    assert main(["models", "check", str(path), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    refs = {r["ref"]: r for r in out["needs"]}
    assert set(refs) == {"nobody/no-bart", "nobody/no-clip"} and out["missing"] == 2
    assert refs["nobody/no-bart"]["fetch"].endswith("semlink models fetch nobody/no-bart")


def test_models_check_passes_with_a_local_model(tmp_path, image_dir, capsys):
    pytest.importorskip("transformers")
    from fixtures.tiny_text_models import build_tiny_bart

    bart = build_tiny_bart(tmp_path / "bart")
    path = _scenario(tmp_path, image_dir, f"bart:{bart}", ["cer"])
    assert main(["models", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ok" in out and str(bart) in out and "[TEST MODEL]" in out


def test_models_list_shows_every_catalog_model(capsys):
    from semlink.models import CATALOG

    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["models"]
    assert [r["ref"] for r in rows] == [e.ref for e in CATALOG]
    assert all({"present", "size_bytes", "sha256", "used_by"} <= set(r) for r in rows)


def test_train_lists_registered_trainers_and_picks_up_a_new_one(tmp_path, capsys):
    from semlink.semantic.training import TRAINERS, Option, Trainer

    assert main(["train"]) == 0
    listed = capsys.readouterr().out
    for name in ("deepjscc", "corrector", "uoisc"):
        assert name in listed

    calls = []

    class Counting(Trainer):
        """counts to N (test trainer)"""

        name = "counting_test"
        OPTIONS = (Option("n", "int", 3, "steps"),)

        def __init__(self, n: int = 3) -> None:
            self.n = n

        def config(self):
            return {"n": self.n, "steps": self.n}

        def total_steps(self):
            return self.n

        def train_step(self, step):
            calls.append(step)
            return {"loss": 1.0 / (step + 1)}

        def save_checkpoint(self, path, step, seconds):
            path.write_text(json.dumps({"step": step, "config": self.config()}))

        def restore(self, path):
            d = json.loads(path.read_text())
            return d["step"], 0.0, d["config"]

    TRAINERS.add("counting_test", Counting)
    assert main(["train", "counting_test", "--n", "4", "--out", str(tmp_path)]) == 0
    assert calls == [0, 1, 2, 3] and (tmp_path / "last.pt").is_file()
    assert json.loads(capsys.readouterr().out)["steps"] == 4


def test_shared_loop_resumes_and_refuses_other_settings(tmp_path):
    from semlink.semantic.training import Trainer, run_training

    class Counting(Trainer):
        name = "counting"

        def __init__(self, n, lr=0.1):
            self.n, self.lr, self.steps_run = n, lr, []

        def config(self):
            return {"lr": self.lr, "steps": self.n}

        def total_steps(self):
            return self.n

        def train_step(self, step):
            self.steps_run.append(step)
            return {"loss": float(step)}

        def save_checkpoint(self, path, step, seconds):
            path.write_text(json.dumps({"step": step, "config": self.config()}))

        def restore(self, path):
            d = json.loads(path.read_text())
            return d["step"], 0.0, d["config"]

    first = Counting(3)
    run_training(first, tmp_path, progress=False, log_every=1)
    assert first.steps_run == [0, 1, 2]
    with pytest.raises(ValueError, match="--resume"):
        run_training(Counting(5), tmp_path, progress=False)
    with pytest.raises(ValueError, match="lr: checkpoint 0.1, now 0.2"):
        run_training(Counting(5, lr=0.2), tmp_path, resume=True, progress=False)
    more = Counting(5)
    result = run_training(more, tmp_path, resume=True, progress=False, log_every=1)
    assert more.steps_run == [3, 4] and result["steps"] == 5
    rows = (tmp_path / "train_log.csv").read_text().splitlines()
    assert rows[0] == "step,loss,seconds" and [r.split(",")[0] for r in rows[1:]] == list("12345")
    assert json.loads((tmp_path / "train_config.json").read_text())["resumed_at_step"] == 3


# --- models check on every scenario of the repository ---------------------------------

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))
#: parameter keys whose values name a model, per codec
_MODEL_KEYS = ("captioner", "detector", "object_model", "vlm", "checkpoint")


def _literal_refs(raw: dict) -> set[str]:
    """Model references written literally in a scenario (an independent reading of the YAML)."""
    from semlink.semantic.captioning import SHORTCUTS

    out = set()
    for entry in raw.get("codecs", []):
        entry = {"name": entry} if isinstance(entry, str) else entry
        p = entry.get("params", {}) or {}
        for k in _MODEL_KEYS:
            v = p.get(k)
            if isinstance(v, str) and v != "builtin" and (k != "detector" or p.get("split") == "detect"):
                ref = SHORTCUTS.get(v, v)
                out.add(f"path:{ref}" if k == "checkpoint" else ref)
        if str(p.get("corrector", "")).startswith("bart:"):
            out.add(p["corrector"][5:])
        diff = p.get("diffusion")
        if isinstance(diff, dict):
            out.update(v for k, v in diff.items() if k in ("model", "ip_adapter") and v)
        elif isinstance(diff, str):
            out.add(diff)
    for m in raw.get("metrics", []) or []:
        if isinstance(m, dict) and isinstance(m.get("model") or m.get("vlm"), str):
            out.add(m.get("model") or m.get("vlm"))
    return out


def expected_roles(entry: dict) -> set[str]:
    """Model roles a codec entry needs, from the papers' pipelines (not from the codecs' code)."""
    name, p = entry["name"], entry.get("params", {}) or {}
    if name in ("multisc", "vlmcsc"):
        roles = {"captioner", "diffusion"}
        has_object = name == "multisc" and p.get("object_codec", "deepjscc") != "none"
        if has_object:
            roles.add("diffusion.ip_adapter")
            if p.get("object_extractor", "fcn") == "fcn":
                roles.add("segmentation")
        if p.get("split") == "detect":
            roles.add("detector")
        if str(p.get("corrector", "none")).startswith("bart"):
            roles.add("corrector")
        return roles
    if name == "query_aware":
        return {"vlm", "diffusion"}
    if name == "uoisc":          # its CLIP is listed when the checkpoint names pretrained weights
        return {"checkpoint"}
    if name == "text" and p.get("source") == "captioner":
        return {"captioner"}
    return set()


def test_there_are_the_papers_scenarios():
    assert len(SCENARIOS) >= 18


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_models_check_lists_every_model_of_every_scenario(path, tmp_path, monkeypatch):
    """Every model named in the file is listed; every Multi-SC-family setting lists its
    captioner and SD 1.5 (+ IP-Adapter and FCN with an object), UO-ISC its checkpoint;
    nothing stops the listing (a missing checkpoint included)."""
    import yaml

    from semlink.links.models_command import check_scenario

    monkeypatch.setenv("SEMLINK_MODELS", str(tmp_path / "empty"))
    raw = yaml.safe_load(path.read_text())
    report = check_scenario(raw)
    assert report["errors"] == []
    listed = {m["ref"] for m in report["models"]}
    assert _literal_refs(raw) <= listed
    roles: dict[str, set] = {}
    for n in report["needs"]:
        roles.setdefault(n["who"], set()).add(n["role"])
    for entry in raw.get("codecs", []):
        entry = {"name": entry} if isinstance(entry, str) else entry
        want = expected_roles(entry)
        label = entry.get("label", entry["name"])
        got = set().union(set(), *[r for who, r in roles.items()
                                   if who == f"codec {label}" or who.startswith(f"codec {label}[")])
        assert want <= got, f"{path.name}: {label}: {sorted(want - got)} not listed"
    assert all(m["present"] is False or m["path"] for m in report["models"])
    assert all(m["searched"] or m["why"] for m in report["models"] if not m["present"])


def test_run_stops_before_the_first_point_naming_every_missing_model(tmp_path, image_dir, capsys,
                                                                     monkeypatch):
    import yaml

    monkeypatch.setenv("SEMLINK_MODELS", str(tmp_path / "empty"))
    raw = {"dataset": {"path": str(image_dir)},
           "codecs": [{"name": "multisc", "params": {
                          "captioner": "nobody/no-llava", "corrector": "bart:nobody/no-bart",
                          "diffusion": {"model": "nobody/no-sd", "ip_adapter": "nobody/no-ip"}}},
                      {"name": "uoisc", "params": {"checkpoint": str(tmp_path / "no.pt")}}],
           "channels": ["awgn"], "snr_db": [10], "metrics": ["psnr"]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    for ref in ("nobody/no-llava", "nobody/no-bart", "nobody/no-sd", "nobody/no-ip",
                "torchvision:FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1", "no.pt",
                "open_clip:ViT-B-16:openai"):
        assert ref in err
    assert "before the first point" in err and not (tmp_path / "out" / "results.h5").exists()


def test_models_stand_ins_lists_every_stand_in(capsys, tmp_path, monkeypatch):
    from semlink.stand_ins import CATALOG

    monkeypatch.setenv("SEMLINK_MODELS", str(tmp_path))
    assert main(["models", "stand-ins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["stand_ins"]
    assert [r["ref"] for r in rows] == [f"stand_in:{n}" for n in CATALOG]
    sd = rows[0]
    assert sd["params"] == 1_066_235_307 and not sd["built"]
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in sd["stands_in_for"]
    assert main(["models", "stand-ins"]) == 0
    assert "stand_in:llava-1.5-7b" in capsys.readouterr().out
