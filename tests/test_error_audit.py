"""Issue 24, section 2: bad input and faults tried as a new user would.

Each test reproduced its case on the code before the fix (a traceback, a silently
wrong number or a late failure) and now checks the clear error or the right result.
"""

import errno
import random
import shutil

import numpy as np
import pytest

from results_builder import write_results
from semlink.links import results as results_mod
from semlink.links.cli import main
from test_sweep_safety import small_scenario, values

# -- a damaged results.h5 ---------------------------------------------------------------------

def _damage(path, fraction, seed=0):
    """Random bytes over 2 KiB at ``fraction`` of the file's length (the issue's ``dd``)."""
    data = bytearray(open(path, "rb").read())
    rng = random.Random(seed)
    off = int(len(data) * fraction)
    n = min(2048, len(data) - off)
    data[off:off + n] = bytes(rng.getrandbits(8) for _ in range(n))
    open(path, "wb").write(bytes(data))


@pytest.mark.parametrize("fraction", [0.2, 0.22, 0.25, 0.27, 0.3])
def test_damaged_results_file_is_one_clear_line_in_every_reader(tmp_path, capsys, fraction):
    path = write_results(tmp_path / "run", [("jpeg q10", 100, {0.0: 20, 10.0: 25}),
                                            ("j2k", 120, {0.0: 21, 10.0: 26})])
    lone = tmp_path / "copy" / "results.h5"          # a copy without its run's journal
    lone.parent.mkdir()
    shutil.copy(path, lone)
    for p in (path, lone):
        _damage(p, fraction)
    for cmd in (["summary", path], ["summary", path, "--timing"], ["plan", path, "--budget", "200"],
                ["plot", path, "--out", str(tmp_path / "plots")], ["gallery", path]):
        assert main(cmd) == 2, cmd
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert "is damaged and cannot be read" in err and str(path) in err
        assert f"semlink run SCENARIO.yaml --out {tmp_path / 'run'} --resume" in err or \
            "--resume" in err
    assert main(["summary", str(lone)]) == 2
    err = capsys.readouterr().err
    assert "damaged" in err and "run the scenario again into a new --out folder" in err


# -- disk full during a run ---------------------------------------------------------------------

def test_disk_full_is_one_line_with_file_cause_and_resume_and_leaves_no_damaged_file(
        tmp_path, capsys, monkeypatch):
    scenario = small_scenario(tmp_path)
    assert main(["run", str(scenario), "--out", str(tmp_path / "ref"), "--no-plot"]) == 0
    capsys.readouterr()
    out = tmp_path / "o"
    real = results_mod.write_point
    calls = {"append": 0}

    def full_disk(group, part):
        if group.file.filename.endswith("results.h5"):
            calls["append"] += 1
            if calls["append"] == 2:       # the second point's append to results.h5
                real(group, part)          # half written, then the device is full
                raise OSError(errno.ENOSPC, "No space left on device")
        real(group, part)

    monkeypatch.setattr(results_mod, "write_point", full_disk)
    assert main(["run", str(scenario), "--out", str(out), "--no-plot"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if "point 1/3 ok" not in ln]
    assert len(err) == 1, err                   # progress of the first point, then one line
    line = err[0]
    assert line.startswith("semlink run: error: cannot write ")
    assert str(out / "results.h5") in line and "No space left on device (errno 28)" in line
    assert f"resume after freeing space with: semlink run {scenario} --out {out} --resume" in line
    assert not (out / "results.h5").exists()        # no half-written file left to read
    assert main(["summary", str(out / "results.h5")]) == 2
    err = capsys.readouterr().err
    assert "journal holds 2 finished point(s)" in err and f"--out {out} --resume" in err
    monkeypatch.setattr(results_mod, "write_point", real)
    assert main(["run", str(scenario), "--out", str(out), "--resume", "--no-plot"]) == 0
    assert values(out / "results.h5") == values(tmp_path / "ref" / "results.h5")


def test_disk_full_in_the_journal_deletes_the_partial_point(tmp_path, monkeypatch):
    from semlink.links.results import ResultsStore, ResultsWriteError

    store = ResultsStore(tmp_path / "o")
    store.start({"scenario_json": "{}", "scenario_yaml": "", "env_json": "{}",
                 "source": "s.yaml"}, resume=False)

    def broken(group, part):
        group.attrs["id"] = "x"
        raise RuntimeError("Can't write data (file write failed: errno = 28, error message = "
                           "'No space left on device')")

    monkeypatch.setattr(results_mod, "write_point", broken)
    with pytest.raises(ResultsWriteError, match=r"No space left on device \(errno 28\).*"
                                                r"semlink run s\.yaml --out .* --resume"):
        store.add("p0", {"id": "p0", "index": 0})
    assert not list((tmp_path / "o" / ".points").glob("p0*"))


# -- text metrics on an empty caption ---------------------------------------------------------

def test_empty_caption_received_exactly_scores_bleu_1_like_cer_and_exact_match():
    pytest.importorskip("sacrebleu", reason="BLEU needs the 'text' extra (scripts/test.sh installs it)")
    from types import SimpleNamespace

    from semlink.metrics.text import bleu, cer, exact_match

    sent = [["a dog runs on the beach"], [""], ["two cats"], [" "]]
    recon = SimpleNamespace(extras={"sent_texts": sent},
                            texts=[["a dog runs on the beach"], [""], [""], ["a word"]])
    originals = [None] * 4
    assert bleu(originals, recon) == pytest.approx([1.0, 1.0, 0.0, 0.0], abs=1e-12)
    assert cer(originals, recon).tolist()[:3] == [0.0, 0.0, 1.0]
    assert exact_match(originals, recon).tolist()[:2] == [1.0, 1.0]
    # the case: three exact captions, one of them empty: mean BLEU 1 (was 0.667)
    three = SimpleNamespace(extras={"sent_texts": [["a cat"], [""], ["red car parked"]]},
                            texts=[["a cat"], [""], ["red car parked"]])
    assert float(np.mean(bleu([None] * 3, three))) == pytest.approx(1.0, abs=1e-12)


# -- repeated SNR points and repeated files ----------------------------------------------------

def test_scenario_refuses_a_repeated_snr_point(tmp_path):
    from semlink.links.scenario import ScenarioError, precheck_scenario

    scenario = small_scenario(tmp_path, snr_db=[5, 0, 5])
    with pytest.raises(ScenarioError, match=r"snr_db: 5 dB is given twice \(positions 0 and 2\)"):
        precheck_scenario(scenario)
    scenario = small_scenario(tmp_path, snr_db=[0], seeds=[1, 1])
    with pytest.raises(ScenarioError, match=r"seeds: \[1, 1\] repeats a seed"):
        precheck_scenario(scenario)


def test_plan_refuses_the_same_file_twice_and_repeated_points_instead_of_a_tie(tmp_path, capsys):
    path = write_results(tmp_path / "a", [("jpeg q10", 100, {0.0: 20, 10.0: 25})])
    copy = tmp_path / "b" / "results.h5"
    copy.parent.mkdir()
    shutil.copy(path, copy)
    for twice in ([path, path], [path, str(tmp_path / "a" / ".." / "a" / "results.h5")],
                  [path, str(copy)]):
        assert main(["plan", *twice, "--budget", "200"]) == 2
        err = capsys.readouterr().err
        assert "is given twice" in err and "give each results file once" in err, err
    # a file written before scenarios refused snr_db: [5, 5] (the point ran twice)
    dup = write_results(tmp_path / "d", [("jpeg q10", 100, {5.0: 20})], snrs=(5.0, 5.0))
    assert main(["plan", dup, "--budget", "200"]) == 2
    err = capsys.readouterr().err
    assert "2 points at 5 dB" in err and "jpeg q10" in err and "tie" not in err


# -- runaway SNR grids --------------------------------------------------------------------------

def test_ber_refuses_a_runaway_grid_before_building_it(capsys):
    import time

    from semlink.links.ber_command import parse_points
    from semlink.links.snr_points import MAX_SNR_POINTS, range_count

    t0 = time.process_time()
    with pytest.raises(ValueError, match=r"10,000,001 points, more than the 10,000 allowed; "
                                         r"use a larger step \(e\.g\. 2\)"):
        parse_points("0:10000:0.001", "--ebno-db")
    assert time.process_time() - t0 < 0.5     # counted, not built (building took 23 s, 1.2 GB)
    assert range_count(0, 99.99, 0.01) == MAX_SNR_POINTS == len(parse_points("0:99.99:0.01", "x"))
    assert range_count(6, 0, -2) == 4 and parse_points("6:0:-2", "x") == [6.0, 4.0, 2.0, 0.0]
    assert main(["ber", "--k", "64", "--n", "128", "--ebno-db", "0:100000:0.001",
                 "--max-blocks", "10"]) == 2
    assert "100,000,001 points" in capsys.readouterr().err
    assert main(["ber", "--ebno-db", "5,5"]) == 2
    assert "5 dB is given twice" in capsys.readouterr().err


def test_scenario_refuses_a_runaway_range(tmp_path):
    from semlink.links.scenario import ScenarioError, precheck_scenario

    scenario = small_scenario(tmp_path, snr_db={"start": 0, "stop": 10000, "step": 0.001})
    with pytest.raises(ScenarioError, match=r"snr_db\.step: 0 to 10000 in steps of 0\.001 is "
                                            r"10,000,001 points"):
        precheck_scenario(scenario)


# -- validation before heavy modules -------------------------------------------------------------

_FAST_RUN = """
import sys, time
t0 = time.perf_counter()
from semlink.links.cli import main
rc = main(["run", sys.argv[1], "--out", sys.argv[2]])
heavy = sorted(m for m in ("torch", "sionna", "semlink.phy", "semlink.semantic") if m in sys.modules)
print(rc, repr(heavy), f"{time.perf_counter() - t0:.2f}")
"""


@pytest.mark.parametrize("content,expected", [
    (None, "scenario file {path!r} not found"),
    (b"\\x89PNG\\r\\n\\x1a\\n\\x00\\xff\\xfe", "{path}: not a text file (byte 0 is not UTF-8)"),
    (b"dataset: {path: .}\\ncodecs: [jpeg]\\nchannels: [awgn]\\nsnr_db: [5, 5]\\n",
     "{path}: snr_db: 5 dB is given twice"),
    (b"dataset: {path: no/such/kodak24}\\ncodecs: [jpeg]\\nchannels: [awgn]\\nsnr_db: [5]\\n",
     "fetch it with 'semlink data fetch kodak24'"),
    (b"dataset: {path: .}\\ncodecs: [jpeg]\\nchannels: [awgn]\\nsnr_db: [5]\\nbatchsize: 2\\n",
     "{path}: batchsize: unknown key"),
])
def test_run_validation_errors_load_no_heavy_module(tmp_path, content, expected):
    """Every scenario error findable without codecs fails before torch, Sionna or a codec loads
    (a missing file took 8.7 s before; the timing is printed, the assertion is on imports)."""
    import subprocess
    import sys

    path = tmp_path / "s.yaml"
    if content is not None:
        path.write_bytes(content.decode("unicode_escape").encode("latin-1"))
    proc = subprocess.run([sys.executable, "-c", _FAST_RUN, str(path), str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=tmp_path)
    rc, heavy, seconds = proc.stdout.split(" ", 2)
    assert rc == "2" and heavy == "[]", (proc.stdout, proc.stderr)
    assert expected.format(path=str(path)) in proc.stderr
    print(f"validation error in {seconds.strip()} s")


# -- a huge image without resize: refused before it is encoded -------------------------------------

def test_huge_image_is_refused_before_any_full_size_encode(tmp_path, monkeypatch):
    from PIL import Image

    from semlink.links import memory_preflight as mp
    from semlink.links.memory import estimate_batch_bytes
    from semlink.links.runner import run_sweep
    from semlink.links.scenario import load_scenario
    from semlink.links.sweep import PointRunner

    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    Image.fromarray(rng.integers(0, 256, (1024, 1280, 3), dtype=np.uint8)).save(
        tmp_path / "images" / "big.png")
    scenario = load_scenario(small_scenario(
        tmp_path, codecs=[{"name": "raw_pixels", "params": {"downsample": 1, "bit_depth": 8},
                           "profiles": {"pixels": "p"}}], snr_db=[12], batch_size=1))
    runner = PointRunner(scenario)
    point = scenario.points()[0]
    codec, link = runner.codec(point), runner.link(point)
    codec.attach_phy({s: link.chain(p) for s, p in codec.stream_profiles.items()})
    item = runner.dataset[0]
    true = estimate_batch_bytes(codec.encode_items([item]), link, [item])   # after a full encode
    guess = mp.estimate_full_batch(codec, link, item, 1)                     # from two crops
    assert guess == pytest.approx(true, rel=0.02)
    # the sweep: 1.3 Mpx counts as large here, and 1 GiB is all there is
    monkeypatch.setattr(mp, "PROXY_PIXELS", 1000 * 1000)
    monkeypatch.setattr(mp, "available_bytes", lambda: 2**30)
    sizes = []
    real_encode = type(codec).encode_items
    monkeypatch.setattr(type(codec), "encode_items",
                        lambda self, items: sizes.append(tuple(items[0].image.shape[-2:]))
                        or real_encode(self, items))
    with pytest.raises(MemoryError, match=r"image 'big\.png' is 1024x1280: a batch of 1 .*"
                                          r"'raw_pixels' needs about \d+\.\d GiB .*before "
                                          r"encoding.*1\.0 GiB are available; set dataset\.resize"):
        run_sweep(scenario, str(tmp_path / "o"), progress=False)
    assert sizes == [(256, 256), (512, 512)]          # crops only, never the full image
    assert not (tmp_path / "o" / "results.h5").exists()


# -- test and stand-in models announced before the sweep ---------------------------------------------

def test_lazily_loaded_test_models_are_announced_before_the_sweep(tmp_path):
    from types import SimpleNamespace

    from semlink.links.runner import flagged_models
    from semlink.provenance import TEST_MODEL_MARKER, ModelRecord

    tiny = tmp_path / "tiny-llava"
    tiny.mkdir()
    (tiny / TEST_MODEL_MARKER).write_text("{}")
    (tiny / "config.json").write_text("{}")

    class LazyCaptioner:                    # like Multi-SC: models() empty until the first image
        def models(self):
            return []

        def required_models(self):
            return [("captioner", str(tiny)), ("corrector", "facebook/bart-base")]

    class Loaded(LazyCaptioner):            # the same model already loaded: announced once
        def models(self):
            return [ModelRecord("captioner", str(tiny), test_model=True)]

    setting = [SimpleNamespace(index=0, label="multisc"), SimpleNamespace(index=1, label="vlmcsc")]
    points = [SimpleNamespace(codec=setting[0]), SimpleNamespace(codec=setting[1])]
    codecs = {0: LazyCaptioner(), 1: Loaded()}
    runner = SimpleNamespace(codec=lambda p: codecs[p.codec.index], metrics=[])
    lines = flagged_models(runner, SimpleNamespace(points=lambda: points))
    assert lines == [f"codec 'multisc': captioner '{tiny}' is TEST MODEL (a tiny model built for "
                     "tests: its numbers mean nothing)",
                     f"codec 'vlmcsc': captioner '{tiny}' is TEST MODEL (a tiny model built for "
                     "tests: its numbers mean nothing)"]


# -- failed points keep what they measured ------------------------------------------------------

def test_failed_points_report_their_provenance_and_peak_memory(tmp_path, monkeypatch):
    from semlink.links.link import Link
    from semlink.links.summary import summarize

    def boom(self, payload, snr_db):
        raise RuntimeError("the PHY broke")

    monkeypatch.setattr(Link, "transmit", boom)
    scenario = small_scenario(tmp_path, snr_db=[0, 12])
    assert main(["run", str(scenario), "--out", str(tmp_path / "o"), "--no-plot"]) == 1
    summary = summarize(str(tmp_path / "o" / "results.h5"))
    (run,) = summary["runs"]
    assert [f["error"] for f in run["failed_points"]] == ["RuntimeError: the PHY broke"] * 2
    assert run["provenance"] is not None                        # was null for failed points
    assert run["provenance"]["codec"]["params"]["bit_depth"] == 4
    peaks = run["peak_rss_mb"]
    assert len(peaks) == 2 and all(v is not None and v > 10 for v in peaks)     # MiB, measured
    assert [f["peak_rss_mb"] for f in run["failed_points"]] == peaks


def test_timing_reports_the_metrics_stage_beside_inference(tmp_path):
    from semlink.links.results import ResultsStore
    from semlink.links.timing import format_timing, timing_summary

    store = ResultsStore(tmp_path / "o")
    store.start({"scenario_json": "{}", "scenario_yaml": "", "env_json": "{}"}, resume=False)
    for s, metrics_s in enumerate((107.0, 93.0)):          # a slow metric on 2 images
        store.add(f"p{s}", {"id": f"p{s}", "index": s, "status": "ok", "codec": "text",
                            "codec_label": "text", "codec_index": 0, "channel_label": "awgn",
                            "channel_index": 0, "snr_index": s, "snr_db": float(s), "seed": 0,
                            "images": ["a.png", "b.png"], "symbols_per_image": [10, 10],
                            "fallback": [False, False], "metrics": {"bleu": [1.0, 1.0]}, "phy": {},
                            "timings": {"encode_s": 0.2, "phy_s": 1.0, "decode_s": 0.12,
                                        "metrics_s": metrics_s}})
    (run,) = timing_summary(str(store.path))["runs"]
    assert run["mean_s"] == pytest.approx(0.66)                 # inference: (0.2+1+0.12)/2
    assert run["metrics"]["mean_s"] == pytest.approx(50.0)      # (107/2 + 93/2) / 2, per image
    text = format_timing(timing_summary(str(store.path)))
    assert "metrics (evaluation, not in mean)" in text and "50" in text


# -- captions: the message says what is wrong with dataset.captions ------------------------------

def test_missing_captions_name_the_captions_file_when_it_is_set(tmp_path, image_dir):
    import json

    from semlink.links.runner import run_sweep
    from semlink.links.scenario import parse_scenario

    names = sorted(p.name for p in image_dir.iterdir())
    (tmp_path / "caps.json").write_text(json.dumps({names[0]: ["a red gradient"]}))
    raw = {"dataset": {"path": str(image_dir), "captions": str(tmp_path / "caps.json")},
           "codecs": [{"name": "text", "profiles": {"caption0": "ldpc"}}],
           "profiles": {"ldpc": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.5,
                                 "modulation": "qpsk"}},
           "channels": ["awgn"], "snr_db": [20], "metrics": ["cer"]}
    with pytest.raises(ValueError) as err:
        run_sweep(parse_scenario(raw), str(tmp_path / "o"), progress=False)
    msg = str(err.value)
    assert f"dataset.captions {str(tmp_path / 'caps.json')!r} has fewer than 1 caption(s) for 3 " \
           f"of 4 image(s) (e.g. {names[1]!r})" in msg and "set dataset.captions" not in msg
    del raw["dataset"]["captions"]
    with pytest.raises(ValueError, match="the scenario has no dataset.captions; set it"):
        run_sweep(parse_scenario(raw), str(tmp_path / "o2"), progress=False)
    assert not (tmp_path / "o" / "results.h5").exists()
