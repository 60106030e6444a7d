"""Profile grids and budget axes: expansion, labels, generated profiles, key-path errors."""

import numpy as np
import pytest

from semlink.links.link import Link
from semlink.links.profile_grid import describe_profile, parse_rate, resolve_generated_profile
from semlink.links.scenario import ScenarioError, parse_scenario


def scenario(image_dir, codecs, profiles=None):
    return {"dataset": {"path": str(image_dir)}, "codecs": codecs,
            "profiles": profiles or {"ldpc": {"kind": "digital", "code": "ldpc5g", "k": 512,
                                              "rate": 0.5, "modulation": "qpsk"}},
            "channels": ["awgn"], "snr_db": [0, 10]}


def test_profile_grid_expands_budget_x_rate_x_modulation_with_labels(image_dir):
    raw = scenario(image_dir, [{
        "name": "raw_pixels", "params": {"downsample": 4},
        "grid": {"bit_depth": [4, 8]}, "profiles": {"pixels": "ldpc"},
        "profile_grid": {"pixels": {"rate": ["1/3", 0.5, "uncoded"],
                                    "modulation": ["qpsk", "qam16"]}}}])
    sc = parse_scenario(raw)
    labels = [c.label for c in sc.codecs]
    assert len(labels) == 2 * 3 * 2
    assert labels[:6] == [
        "raw_pixels[bit_depth=4] | pixels: ldpc 1/3 k=512 qpsk",
        "raw_pixels[bit_depth=4] | pixels: ldpc 1/3 k=512 qam16",
        "raw_pixels[bit_depth=4] | pixels: ldpc 1/2 k=512 qpsk",
        "raw_pixels[bit_depth=4] | pixels: ldpc 1/2 k=512 qam16",
        "raw_pixels[bit_depth=4] | pixels: uncoded k=512 qpsk",
        "raw_pixels[bit_depth=4] | pixels: uncoded k=512 qam16"]
    assert labels[6].startswith("raw_pixels[bit_depth=8] | pixels: ldpc 1/3")
    assert len(sc.points()) == 12 * 1 * 2
    first = sc.codecs[0]
    assert first.params == {"downsample": 4, "bit_depth": 4}
    name = first.profiles["pixels"]
    assert name == "ldpc+rate=1/3,modulation=qpsk"
    assert first.instance.stream_profiles == {"pixels": name}
    # the generated profile is real: the link builds its chain with the gridded code
    assert sc.profiles[name]["rate"] == pytest.approx(1 / 3)
    chain = Link(sc.profiles, "awgn", device="cpu").chain(name)
    assert (chain.config.k, chain.config.n) == (512, 1536)
    assert chain.bits_per_symbol == 2
    uncoded = Link(sc.profiles, "awgn", device="cpu").chain(sc.codecs[5].profiles["pixels"])
    assert uncoded.config.code == "none" and chain.config.code == "ldpc5g"
    assert uncoded.bits_per_symbol == 4


def test_generated_profiles_resolve_from_their_names_alone(image_dir):
    raw = scenario(image_dir, [{"name": "raw_pixels", "profiles": {"pixels": "ldpc"},
                                "profile_grid": {"pixels": {"modulation": ["psk8"],
                                                            "k": [256, 1024]}}}])
    sc = parse_scenario(raw)
    user = {"ldpc": sc.profiles["ldpc"]}
    for c in sc.codecs:
        name = c.profiles["pixels"]
        assert resolve_generated_profile(name, user) == {
            k: v for k, v in sc.profiles[name].items()}
    assert resolve_generated_profile("ldpc", user) is None
    assert [c.label for c in sc.codecs] == ["raw_pixels | pixels: ldpc 1/2 k=256 psk8",
                                            "raw_pixels | pixels: ldpc 1/2 psk8"]


def test_budget_axis_and_default_base_profile(image_dir):
    """A budget parameter swept over a list; a stream without a binding grids from 'default'."""
    raw = scenario(image_dir, [{"name": "jpeg2000", "grid": {"symbols_per_image": [3000, 6000]},
                                "profile_grid": {"bits": {"rate": ["5/6"]}}}])
    sc = parse_scenario(raw)
    assert [c.label for c in sc.codecs] == [
        "jpeg2000[symbols_per_image=3000] | bits: ldpc 5/6 qpsk",
        "jpeg2000[symbols_per_image=6000] | bits: ldpc 5/6 qpsk"]
    assert [c.instance.symbols_per_image for c in sc.codecs] == [3000, 6000]
    assert sc.codecs[0].profiles == {"bits": "default+rate=5/6"}


def test_two_streams_grid_independently(image_dir):
    from semlink.semantic import CODECS  # noqa: F401  (registers built-ins)

    raw = scenario(image_dir, [{"name": "analog_pixels", "params": {"downsample": 4},
                                "profile_grid": {"symbols": {"power": [0.5, 1.0]}}}])
    sc = parse_scenario(raw)
    assert [c.label for c in sc.codecs] == ["analog_pixels | symbols: analog power=0.5",
                                            "analog_pixels | symbols: analog"]


@pytest.mark.parametrize("grid,match", [
    ({"pixels": {"rate": ["1/3", "1/9"]}},
     r"codecs\[0\].profile_grid.pixels.rate\[1\]: rate='1/9' is invalid: "
     r".*rate k/n must be in \[1/5, 0.95\]"),
    ({"pixels": {"rate": ["half"]}},
     r"codecs\[0\].profile_grid.pixels.rate\[0\]: expected a code rate"),
    ({"pixels": {"rate": [1.5]}}, r"codecs\[0\].profile_grid.pixels.rate\[0\]: a code rate must be in"),
    ({"pixels": {"modulation": ["qpsk", "qam8"]}},
     r"codecs\[0\].profile_grid.pixels.modulation\[1\]: modulation='qam8' is invalid"),
    ({"pixels": {"k": [512, 9000]}},
     r"codecs\[0\].profile_grid.pixels.k\[1\]: k=9000 is invalid: .*k must be in \[12, 8448\]"),
    ({"pixels": {"colour": ["red"]}}, r"codecs\[0\].profile_grid.pixels.colour: not a griddable key"),
    ({"pixels": {"rate": []}}, r"codecs\[0\].profile_grid.pixels.rate: expected a non-empty list"),
    ({"pixels": {"rate": [0.5, "1/2"]}}, r"codecs\[0\].profile_grid.pixels.rate: values repeat"),
    ({"video": {"rate": [0.5]}}, r"codecs\[0\].profile_grid.video: codec 'raw_pixels' has no stream 'video'"),
    ({"pixels": {"k": [24], "rate": ["19/20"]}},    # each valid alone, not together
     r"codecs\[0\].profile_grid.pixels: the combination \{k=24, rate=19/20\} is invalid: "
     r".*rate k/n must be in"),
    (["rate"], r"codecs\[0\].profile_grid: expected a mapping"),
])
def test_invalid_grid_values_fail_before_the_run_with_the_key_path(image_dir, grid, match):
    raw = scenario(image_dir, [{"name": "raw_pixels", "profiles": {"pixels": "ldpc"},
                                "profile_grid": grid}])
    with pytest.raises(ScenarioError, match=match):
        parse_scenario(raw)


def test_rates_and_descriptions():
    assert parse_rate("1/3", "x") == pytest.approx(1 / 3)
    assert parse_rate("Uncoded", "x") == "uncoded"
    assert parse_rate(0.75, "x") == 0.75
    with pytest.raises(ValueError, match="x: a code rate must be in"):
        parse_rate(0, "x")
    assert describe_profile({"kind": "digital", "code": "ldpc5g", "rate": 5 / 6,
                             "modulation": "psk8"}) == "ldpc 5/6 psk8"
    assert describe_profile({"kind": "digital", "code": "none", "modulation": "qam16"}) == \
        "uncoded qam16"
    assert describe_profile({"kind": "digital", "code": "ldpc5g", "rate": 0.41,
                             "modulation": "qpsk"}) == "ldpc 0.41 qpsk"


def test_grid_sweep_runs_end_to_end(image_dir, tmp_path):
    """A gridded scenario runs; results and summary carry the generated profiles."""
    from semlink.links.runner import run_sweep
    from semlink.links.summary import summarize

    raw = scenario(image_dir, [{"name": "raw_pixels", "params": {"downsample": 4},
                                "profiles": {"pixels": "ldpc"},
                                "profile_grid": {"pixels": {"modulation": ["qpsk", "qam16"]}}}])
    raw["dataset"]["max_images"] = 2
    raw["snr_db"] = [20]
    out = run_sweep(parse_scenario(raw), tmp_path / "run")
    runs = summarize(out.results)["runs"]
    assert [r["label"] for r in runs] == ["raw_pixels | pixels: ldpc 1/2 k=512 qpsk",
                                          "raw_pixels | pixels: ldpc 1/2 k=512 qam16"]
    assert runs[1]["profile"]["pixels"]["modulation"] == "qam16"
    # same payload, twice the bits per symbol: half the channel uses
    assert runs[0]["symbols_per_image"][0] == pytest.approx(2 * runs[1]["symbols_per_image"][0],
                                                            rel=0.01)
    assert np.isfinite(runs[0]["metrics"]["psnr"][0])
