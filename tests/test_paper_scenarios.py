"""The scenario files of the three papers: they load, and they say what they run.

* Every ``scenarios/multisc_*.yaml`` and ``scenarios/uoisc_*.yaml`` loads with
  :func:`load_scenario` (every codec built, so its parameters are validated).
  The Multi-SC files need no weights to load (models load on first use); the
  UO-ISC files name checkpoints that training writes (``runs/.../last.pt``,
  relative to where semlink runs), so the test writes tiny UO-ISC checkpoints
  at those paths in a temporary working folder.
* Every Multi-SC entry with an object names the IP-Adapter weight lambda
  (``ip_adapter_scale``, in ``params`` or as a ``grid`` axis), never the
  refused ``diffusion.scale``.
* The CLIP named for ``clip_similarity`` in scenario headers and
  ``docs/multisc.md`` is the metric's default model.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from fixtures.tiny_uoisc import TINY_CLIP
from semlink.links.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
PAPER_FILES = sorted(p.name for p in SCENARIOS.glob("multisc_*.yaml")) + \
    sorted(p.name for p in SCENARIOS.glob("uoisc_*.yaml"))


def _raw(name: str) -> dict:
    return yaml.safe_load((SCENARIOS / name).read_text())


def _header(name: str) -> str:
    """The comment block before the first YAML key."""
    lines = []
    for line in (SCENARIOS / name).read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def test_the_three_papers_have_their_scenarios():
    assert len([f for f in PAPER_FILES if f.startswith("multisc_")]) >= 10
    assert len([f for f in PAPER_FILES if f.startswith("uoisc_")]) >= 3
    assert "multisc_ip_adapter_scale.yaml" in PAPER_FILES


@pytest.fixture(scope="module")
def uoisc_workdir(tmp_path_factory):
    """A working folder holding a tiny UO-ISC checkpoint at every path the UO-ISC files name."""
    pytest.importorskip("open_clip", reason="UO-ISC needs pip install 'semlink[vlm]'")
    import torch

    from semlink.semantic.uoisc import build_uoisc, save_uoisc

    root = tmp_path_factory.mktemp("uoisc_run")
    lengths: dict[str, set] = {}          # checkpoint path -> the segment lengths asked of it
    for name in PAPER_FILES:
        if not name.startswith("uoisc_"):
            continue
        for entry in _raw(name)["codecs"]:
            if not isinstance(entry, dict) or entry.get("name") != "uoisc":
                continue
            rel = entry["params"]["checkpoint"]
            asked = (entry.get("grid") or {}).get("segment_length") or \
                [entry["params"].get("segment_length")]
            match = re.search(r"_l(\d+)/", rel)                 # uoisc_l16/last.pt: l = 16
            lengths.setdefault(rel, set()).update(
                int(v) for v in asked + [int(match.group(1)) if match else 8] if v is not None)
    assert lengths, "the UO-ISC scenarios name no checkpoint"
    for rel, ls in sorted(lengths.items()):
        cfg = dict(clip_model="semlink-tiny-test-clip", pretrained=None, layers=[2, 4],
                   clip_config=TINY_CLIP, dim=64, segment_length=sorted(ls),
                   codebook_size=16, decoder_channels=16, text_alignment="notext" not in rel)
        torch.manual_seed(0)
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        save_uoisc(target, build_uoisc(**cfg), cfg)
    return root


@pytest.fixture(scope="module")
def voc_dir(tmp_path_factory):
    """VOC2012 is not shipped (the files read ``${VOC2012_DIR}/JPEGImages``): a stand-in folder."""
    from PIL import Image

    root = tmp_path_factory.mktemp("voc2012")
    (root / "JPEGImages").mkdir()
    Image.new("RGB", (40, 32), (90, 120, 200)).save(root / "JPEGImages" / "2007_000027.jpg")
    return root


@pytest.mark.parametrize("name", PAPER_FILES)
def test_paper_scenario_loads(name, request, monkeypatch):
    if name.startswith("uoisc_"):
        monkeypatch.chdir(request.getfixturevalue("uoisc_workdir"))
    if "${VOC2012_DIR}" in (SCENARIOS / name).read_text():
        monkeypatch.setenv("VOC2012_DIR", str(request.getfixturevalue("voc_dir")))
    sc = load_scenario(str(SCENARIOS / name))
    raw = _raw(name)
    assert sc.codecs and all(c.instance is not None for c in sc.codecs)
    assert len(sc.codecs) >= len(raw["codecs"])                # grids expand, nothing is dropped
    assert (sc.snr_db or sc.ebno_db) and sc.channels


@pytest.mark.parametrize("name", [f for f in PAPER_FILES if f.startswith("multisc_")])
def test_every_multisc_entry_names_lambda(name):
    raw = _raw(name)
    checked = 0
    for i, entry in enumerate(raw["codecs"]):
        if not isinstance(entry, dict) or entry.get("name") != "multisc":
            continue
        params, grid = entry.get("params") or {}, entry.get("grid") or {}
        assert "scale" not in (params.get("diffusion") or {}), f"{name} codecs[{i}]: diffusion.scale"
        if params.get("object_codec") == "none":
            continue
        assert "ip_adapter_scale" in params or "ip_adapter_scale" in grid, (
            f"{name} codecs[{i}] ({entry.get('label')}): lambda not named; add ip_adapter_scale")
        checked += 1
    assert checked, f"{name}: no Multi-SC entry with an object"
    assert "lambda" in _header(name), f"{name}: the header does not say which lambda and why"


def _uses_default_clip_similarity(raw: dict) -> bool:
    for m in raw.get("metrics") or []:
        if m == "clip_similarity" or (isinstance(m, dict) and m.get("name") == "clip_similarity"
                                      and "model" not in m):
            return True
    return False


def test_clip_named_in_headers_and_docs_is_the_metric_default():
    from semlink.metrics.crossmodal import DEFAULT_CLIP

    users = [p.name for p in sorted(SCENARIOS.glob("*.yaml"))
             if _uses_default_clip_similarity(_raw(p.name))]
    assert users, "no scenario uses clip_similarity"
    for name in users:
        header = _header(name)
        if "Weights: as scenarios/" in header:                  # refers to another file's list
            ref = re.search(r"Weights: as (scenarios/\S+?\.yaml)", header).group(1)
            header = _header(Path(ref).name)
        assert DEFAULT_CLIP in header, f"{name}: header does not name {DEFAULT_CLIP}"
        # the CLIP next to "clip_similarity" in the header is the default, not another one
        for other in re.findall(r"(open_clip:\S+|openai/clip-vit-\S+)\s*\n?#?\s*\(clip_similarity", header):
            assert other.rstrip(",") == DEFAULT_CLIP, f"{name}: header names {other} for clip_similarity"
    docs = (ROOT / "docs" / "multisc.md").read_text()
    assert DEFAULT_CLIP in docs and "ViT-B/32" in docs
    assert DEFAULT_CLIP in (ROOT / "docs" / "text.md").read_text()


def test_a_lambda_outside_0_1_stops_the_scenario_at_load():
    """Before the sweep (nothing loaded, nothing run): the key path, the value and the range."""
    from semlink.links.scenario import ScenarioError, parse_scenario

    raw = _raw("multisc_ip_adapter_scale.yaml")
    raw["codecs"][0]["grid"] = {"ip_adapter_scale": [0.5, 1.5]}
    with pytest.raises(ScenarioError, match=r"codecs\[0\].*ip_adapter_scale=1.5: .*\[0, 1\]"):
        parse_scenario(raw, base_dir=SCENARIOS)
    raw["codecs"][0]["grid"] = {}
    raw["codecs"][0]["params"]["diffusion"]["scale"] = 0.5
    with pytest.raises(ScenarioError, match=r"codecs\[0\].*diffusion.scale=0.5: .*ip_adapter_scale"):
        parse_scenario(raw, base_dir=SCENARIOS)
