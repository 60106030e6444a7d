"""What a results file says is what ran: codec params, tools, models with weight hashes and
test/random flags, Eb/N0 per digital stream; summaries, plot legends and `semlink run` mark
tiny or random models."""

import json
import math

import pytest
import torch
import yaml

from conftest import make_images
from semlink.links.cli import main
from semlink.links.results import load_results
from semlink.links.summary import format_table, model_mark, summarize
from semlink.phy.snr import spectral_efficiency
from semlink.provenance import TEST_MODEL_MARKER, ModelRecord, hash_path, hash_state_dict, model_warnings
from semlink.semantic.deepjscc import DeepJSCC, save_checkpoint


def tiny_deepjscc(folder):
    """A random deep JSCC checkpoint in a folder marked as a test model."""
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    model = DeepJSCC(8)
    save_checkpoint(folder / "tiny.pt", model, {"snr_db": 0.0})
    (folder / TEST_MODEL_MARKER).write_text(json.dumps({"builder": "test"}))
    return folder / "tiny.pt", model


@pytest.fixture
def scenario(tmp_path):
    make_images(tmp_path / "images", count=2)
    ckpt, _ = tiny_deepjscc(tmp_path / "models")
    raw = {"name": "prov", "dataset": {"path": "images"},
           "codecs": [{"name": "jpeg", "params": {"quality": 50}, "profiles": {"bits": "q16"}},
                      {"name": "deepjscc", "label": "tiny jscc", "params": {"checkpoint": str(ckpt)}}],
           "profiles": {"q16": {"kind": "digital", "code": "ldpc5g", "k": 1024, "rate": 0.5,
                                "modulation": "qam16"}},
           "channels": ["awgn"], "snr_db": [4, 12], "metrics": ["psnr"], "batch_size": 2}
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path, ckpt


def test_results_record_params_tools_models_and_ebno(tmp_path, scenario, capsys):
    path, ckpt = scenario
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "WARNING" in err and "TEST MODEL" in err and "tiny jscc" in err
    attrs, points = load_results(out / "results.h5")
    assert len(points) == 4 and all(p["status"] == "ok" for p in points)
    for p in points:
        prov = json.loads(p["provenance_json"])
        assert set(prov) == {"codec", "metrics"} and prov["metrics"] == {"psnr": []}
        codec = prov["codec"]
        if p["codec"] == "jpeg":
            assert codec["params"]["quality"] == 50 and codec["params"]["encoder_settings"]
            assert codec["tools"]["pillow"] and codec["models"] == []
            assert codec["stream_profiles"] == {"bits": "q16"}
            # Eb/N0 = Es/N0 - 10 log10(r m): rate 1/2, 16-QAM (4 | n), no pilots
            expected = p["snr_db"] - 10 * math.log10(spectral_efficiency(0.5, 4))
            assert p["phy"]["bits"]["ebno_db"] == pytest.approx(expected, abs=1e-9)
        else:
            (rec,) = [ModelRecord.from_dict(r) for r in codec["models"]]
            state = torch.load(ckpt, weights_only=False)["state_dict"]
            assert rec.test_model and not rec.random_init and rec.path == str(ckpt)
            assert rec.sha256 == hash_state_dict(state)
            assert rec.extra["file_sha256"] == hash_path(ckpt)
            assert "ebno_db" not in p["phy"]["symbols"]          # analog: Es/N0 only

    summary = summarize(str(out / "results.h5"))
    json.dumps(summary)                                           # JSON-able
    jpeg, jscc = summary["runs"]
    assert jpeg["model_flags"] == [] and model_mark(jpeg) == ""
    assert jpeg["stream_ebno_db"]["bits"] == pytest.approx([4 - 10 * math.log10(2),
                                                            12 - 10 * math.log10(2)])
    assert jpeg["provenance"]["codec"]["tools"]["pillow"]
    assert jscc["model_flags"] == ["test_model"] and model_mark(jscc) == " [TEST MODEL]"
    assert jscc["stream_ebno_db"] == {}
    assert any("TEST MODEL" in w for w in jscc["model_warnings"])
    table = format_table(summary)
    assert "tiny jscc [TEST MODEL]" in table and table.startswith("!! 1 of 2 run(s)")

    assert main(["summary", str(out / "results.h5"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["runs"][0]["stream_ebno_db"]["bits"][1] == pytest.approx(12 - 10 * math.log10(2))


def test_plot_legends_carry_the_mark(tmp_path, scenario):
    pytest.importorskip("matplotlib")
    path, _ = scenario
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--no-plot"]) == 0
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    seen = []
    original = plt.Axes.legend

    def spy(ax, *a, **kw):
        seen.extend(line.get_label() for line in ax.lines)
        return original(ax, *a, **kw)

    plt.Axes.legend = spy
    try:
        from semlink.links.plot import plot_results

        plot_results(str(out / "results.h5"))
    finally:
        plt.Axes.legend = original
    assert "tiny jscc / awgn [TEST MODEL]" in seen and "jpeg / awgn" in seen


def test_points_with_different_weights_are_reported(tmp_path, scenario):
    """A run resumed after the weights changed says so instead of mixing silently."""
    path, ckpt = scenario
    out = tmp_path / "out"
    raw = yaml.safe_load(path.read_text())
    raw["codecs"] = raw["codecs"][1:]
    path.write_text(yaml.safe_dump(raw))
    from semlink.links.results import ResultsStore

    assert main(["run", str(path), "--out", str(out), "--no-plot"]) == 0
    # replace one point's journal entry by the same point computed with other weights
    save_checkpoint(ckpt, DeepJSCC(8), {"snr_db": 0.0})
    store = ResultsStore(out)
    (first,) = [f for f in sorted(store.journal.glob("*.h5"))][:1]
    first.unlink()
    assert main(["run", str(path), "--out", str(out), "--no-plot", "--resume"]) == 0
    (run,) = summarize(str(out / "results.h5"))["runs"]
    assert isinstance(run["provenance"], list) and len(run["provenance"]) == 2
    assert any("2 different" in w for w in run["model_warnings"])


def test_model_warnings_name_the_flag():
    recs = [ModelRecord("clip", "open_clip:ViT-B-16:none", random_init=True),
            ModelRecord("judge", "tiny", test_model=True).to_dict(), ModelRecord("x", "real")]
    lines = model_warnings(recs, "codec 'u'")
    assert len(lines) == 2 and "RANDOM INIT" in lines[0] and "TEST MODEL" in lines[1]
    assert all(line.startswith("codec 'u': ") for line in lines)
