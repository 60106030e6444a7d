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
    (lambda r: r.update(device="tpu"), r"device: expected 'cpu', 'cuda', 'cuda:N', 'gpu' or 'auto', got 'tpu'"),
    (lambda r: r["dataset"].update(shuffle=True), r"dataset.shuffle: unknown key"),
    (lambda r: r.update(snr_db=[0, "ten"]), r"snr_db\[1\]: expected a finite number \(dB\), got 'ten'"),
    (lambda r: r.update(snr_db={"start": 0, "stop": 5}), r"snr_db.step: missing"),
    (lambda r: r.update(batch_size="8"), r"batch_size: expected a positive integer, got '8'"),
    (lambda r: r.update(codecs=[{"name": "jpeg9000"}]), r"codecs\[0\].name: unknown codec 'jpeg9000'; available:"),
    (lambda r: r.update(codecs=[{"name": "raw_pixels", "params": {"bit_depth": 12}}]),
     r"codecs\[0\]: codec 'raw_pixels' with params \{'bit_depth': 12\}: bit_depth must be an int in 1..8"),
    (lambda r: r.update(codecs=[{"name": "raw_pixels", "params": {"colour": 1}}]), r"codecs\[0\].*colour"),
    (lambda r: r.update(codecs=[{"name": "raw_pixels", "profiles": {"pixels": "nope"}}]),
     r"codecs\[0\].profiles.pixels: unknown profile 'nope'"),
    (lambda r: r.update(channels=[{"name": "rayleigh", "csi": "mmse"}]), r"channels\[0\]: csi must be one of"),
    (lambda r: r.update(channels=["awgn", "awgn"]), r"channels: labels must be unique"),
    (lambda r: r.update(profiles={"p": {"kind": "digital", "modulation": "qam8"}}), r"profiles.p: .*QAM order"),
    (lambda r: r.update(profiles={"p": {"kind": "digital", "rate": "half"}}), r"profiles.p.rate: expected int or float"),
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
