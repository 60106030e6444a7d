"""Scenario files: validation errors name the key path, the value and what is allowed."""

import pytest
import yaml

from semlink.links.scenario import ScenarioError, load_scenario, parse_scenario


def base(image_dir):
    return {"dataset": {"path": str(image_dir)}, "codecs": [{"name": "raw_pixels"}],
            "channels": ["awgn"], "snr_db": [0, 10]}


def test_valid_scenario_expands_points(image_dir):
    raw = base(image_dir)
    raw["codecs"] = [{"name": "raw_pixels", "grid": {"bit_depth": [4, 8]}}, "analog_pixels"]
    raw["channels"] = ["awgn", {"name": "rayleigh", "csi": "ls", "label": "ray-ls"}]
    raw["snr_db"] = {"start": -5, "stop": 20, "step": 5}
    raw["seeds"] = [0, 1]
    sc = parse_scenario(raw)
    assert [c.label for c in sc.codecs] == ["raw_pixels[bit_depth=4]", "raw_pixels[bit_depth=8]",
                                            "analog_pixels"]
    assert sc.snr_db == [-5, 0, 5, 10, 15, 20]
    assert len(sc.points()) == 3 * 2 * 6 * 2
    assert len({p.id for p in sc.points()}) == len(sc.points())


@pytest.mark.parametrize("mutate,match", [
    (lambda r: r.update(colour="red"), r"colour: unknown key; allowed: batch_size"),
    (lambda r: r.update(ray={"num_workers": 0}), r"ray.num_workers: expected a positive integer, got 0"),
    (lambda r: r.update(device="tpu"),
     r"device: expected 'cpu', 'cuda', 'cuda:N', 'gpu' or 'auto', got 'tpu'"),
    (lambda r: r["dataset"].update(shuffle=True), r"dataset.shuffle: unknown key"),
    (lambda r: r.update(snr_db=[0, "ten"]), r"snr_db\[1\]: expected a finite number \(dB\), got 'ten'"),
    (lambda r: r.update(snr_db={"start": 0, "stop": 5}), r"snr_db.step: missing"),
    (lambda r: r.update(batch_size="8"), r"batch_size: expected a positive integer, got '8'"),
    (lambda r: r.update(codecs=[{"name": "jpeg9000"}]),
     r"codecs\[0\].name: unknown codec 'jpeg9000'; available:"),
    (lambda r: r.update(codecs=[{"name": "raw_pixels", "params": {"bit_depth": 12}}]),
     r"codecs\[0\]: codec 'raw_pixels' with params \{'bit_depth': 12\}: bit_depth must be an int in 1..8"),
    (lambda r: r.update(codecs=[{"name": "raw_pixels", "params": {"colour": 1}}]), r"codecs\[0\].*colour"),
    (lambda r: r.update(codecs=[{"name": "raw_pixels", "profiles": {"pixels": "nope"}}]),
     r"codecs\[0\].profiles.pixels: unknown profile 'nope'"),
    (lambda r: r.update(channels=[{"name": "rayleigh", "csi": "mmse"}]),
     r"channels\[0\]: csi must be one of"),
    (lambda r: r.update(channels=["awgn", "awgn"]), r"channels: labels must be unique"),
    (lambda r: r.update(profiles={"p": {"kind": "digital", "modulation": "qam8"}}),
     r"profiles.p: .*QAM order"),
    (lambda r: r.update(profiles={"p": {"kind": "digital", "rate": "half"}}),
     r"profiles.p.rate: expected int or float"),
    (lambda r: r.update(metrics=["psnr", "vibes"]), r"metrics\[1\]: unknown metric 'vibes'"),
    (lambda r: r.update(ebno_db=[1]), r"snr_db: give exactly one of snr_db"),
    (lambda r: (r.pop("snr_db"), r.update(ebno_db=[1], codecs=["analog_pixels"])),
     r"ebno_db: Eb/N0 is defined only when"),
    (lambda r: r.pop("codecs"), r"codecs: missing"),
    (lambda r: r.update(seeds=[-1]), r"seeds: expected a non-empty list of non-negative integers"),
])
def test_bad_scenarios(image_dir, mutate, match):
    raw = base(image_dir)
    mutate(raw)
    with pytest.raises(ScenarioError, match=match):
        parse_scenario(raw)


def test_file_errors_name_the_file(tmp_path, image_dir):
    f = tmp_path / "s.yaml"
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(f)
    f.write_text("dataset: [unclosed")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(f)
    raw = base(image_dir)
    raw["dataset"]["path"] = "images"          # relative to the scenario file
    (image_dir.parent / "s2.yaml").write_text(yaml.safe_dump(raw))
    sc = load_scenario(image_dir.parent / "s2.yaml")
    assert sc.dataset["path"] == str(image_dir)


def test_semlink_run_parses_the_scenario_file_once(image_dir, monkeypatch):
    """precheck, the model check and load_scenario share one read of the file (it was read
    and parsed three times); the run still resolves paths relative to the file."""
    from semlink.links import scenario as scenario_module
    from semlink.links.cli import main

    raw = base(image_dir)
    raw["dataset"] = {"path": "images", "max_images": 1}
    raw["snr_db"] = [10]
    f = image_dir.parent / "once.yaml"
    f.write_text(yaml.safe_dump(raw))
    calls = []
    real = scenario_module.yaml.safe_load
    monkeypatch.setattr(scenario_module.yaml, "safe_load",
                        lambda text: calls.append(1) or real(text))
    assert main(["run", str(f), "--out", str(image_dir.parent / "out"), "--no-plot",
                 "--device", "cpu"]) == 0
    assert len(calls) == 1
    assert (image_dir.parent / "out" / "results.h5").is_file()


def test_models_check_expands_grids_like_the_scenario(image_dir):
    """`semlink models check` lists codec settings without building a codec, by the same
    grid expansion as load_scenario: the same labels and parameters, in the same order."""
    from semlink.links.models_command import codec_settings
    from semlink.links.scenario import grid_settings

    raw = base(image_dir)
    raw["codecs"] = [{"name": "raw_pixels", "label": "raw", "params": {"downsample": 2},
                      "grid": {"bit_depth": [4, 8], "profile": ["default"]}},
                     "analog_pixels"]
    sc = parse_scenario(raw)
    listed = codec_settings(raw)
    assert [c["label"] for c in listed] == [c.label for c in sc.codecs] == [
        "raw[bit_depth=4,profile=default]", "raw[bit_depth=8,profile=default]", "analog_pixels"]
    assert [c["params"] for c in listed] == [c.params for c in sc.codecs]
    assert grid_settings("x", {"a": 1}, {}) == [("x", {"a": 1})]
