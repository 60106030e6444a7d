"""Sweeps that cannot mix, partial results that say so, errors instead of tracebacks (issue 11)
and no repeated work (issue 12)."""

import io
import json
import os
import shutil
import subprocess
import sys
import time
import warnings

import h5py
import numpy as np
import pytest
import yaml

from conftest import make_images
from semlink.links import progress as progress_mod
from semlink.links.cli import main
from semlink.links.results import load_results
from semlink.links.run_lock import OutputLock
from semlink.links.runner import run_sweep
from semlink.links.scenario import ScenarioError, load_scenario, parse_scenario
from semlink.links.summary import format_table, summarize
from semlink.links.sweep import PointRunner

PROFILE = {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.5, "modulation": "psk8"}


def small_scenario(tmp_path, **overrides):
    """One digital codec, AWGN, three SNR points, three tiny images."""
    if not (tmp_path / "images").exists():
        make_images(tmp_path / "images", count=3)
    raw = {"name": "small", "dataset": {"path": "images"},
           "codecs": [{"name": "raw_pixels", "params": {"downsample": 2, "bit_depth": 4},
                       "profiles": {"pixels": "p"}}],
           "profiles": {"p": PROFILE}, "channels": ["awgn"], "snr_db": [0, 6, 12],
           "metrics": ["psnr", "mse"], "batch_size": 2}
    raw.update(overrides)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def values(path):
    """Per-point metrics and PHY counts of a results file (no timings, flags or env; repr: NaN == NaN)."""
    _, points = load_results(path)
    return [(p["id"], {k: repr(np.asarray(v).tolist()) for k, v in p.get("metrics", {}).items()},
             list(p.get("symbols_per_image", [])), list(p.get("fallback", [])),
             {s: {f: np.asarray(r[f]).tolist() for f in ("bit_errors", "block_errors")}
              for s, r in p.get("phy", {}).items()}) for p in points]


# -- results that must never be wrong silently ------------------------------------------------

def test_resume_refuses_a_changed_dataset_naming_the_files(tmp_path):
    scenario = small_scenario(tmp_path, snr_db=[12])
    out = str(tmp_path / "o")
    run_sweep(load_scenario(scenario), out, progress=False)
    images = tmp_path / "images"
    shutil.copy(images / "img00.png", images / "img99.png")            # added
    with pytest.raises(ValueError, match=r"dataset differs.*added: img99\.png"):
        run_sweep(load_scenario(scenario), out, resume=True, progress=False)
    (images / "img99.png").unlink()
    (images / "img02.png").unlink()                                     # removed
    make_images(tmp_path / "other", count=2, seed=7)
    shutil.copy(tmp_path / "other" / "img01.png", images / "img01.png")  # changed content
    with pytest.raises(ValueError, match=r"removed: img02\.png; changed: img01\.png"):
        run_sweep(load_scenario(scenario), out, resume=True, progress=False)


def test_resume_refuses_a_changed_resize_policy(tmp_path):
    scenario = small_scenario(tmp_path, snr_db=[12])
    out = str(tmp_path / "o")
    run_sweep(load_scenario(scenario), out, progress=False)
    raw = yaml.safe_load(scenario.read_text())
    sc = load_scenario(scenario)
    sc.dataset["multiple_of"] = 4            # same file content, other geometry policy
    sc.raw = raw
    with pytest.raises(ValueError, match="resize/crop policy"):
        run_sweep(sc, out, resume=True, progress=False)


def test_resume_into_a_folder_with_foreign_results_and_no_journal(tmp_path):
    a = small_scenario(tmp_path, snr_db=[12])
    run_sweep(load_scenario(a), str(tmp_path / "a"), progress=False)
    (tmp_path / "b").mkdir()
    shutil.copy(tmp_path / "a" / "results.h5", tmp_path / "b" / "results.h5")
    before = (tmp_path / "b" / "results.h5").read_bytes()
    other = small_scenario(tmp_path, snr_db=[3])
    with pytest.raises(ValueError, match="another scenario but the folder has no run journal"):
        run_sweep(load_scenario(other), str(tmp_path / "b"), resume=True, progress=False)
    assert (tmp_path / "b" / "results.h5").read_bytes() == before


def _interrupt_after(monkeypatch, n):
    original = PointRunner.run
    calls = {"n": 0}

    def run(self, point, on_images=None, on_stage=None):
        calls["n"] += 1
        if calls["n"] > n:
            raise KeyboardInterrupt
        return original(self, point, on_images, on_stage)

    monkeypatch.setattr(PointRunner, "run", run)


def test_ctrl_c_one_line_exit_130_and_incomplete_results_say_so(tmp_path, monkeypatch, capsys):
    scenario = small_scenario(tmp_path)
    out = tmp_path / "o"
    _interrupt_after(monkeypatch, 2)
    assert main(["run", str(scenario), "--out", str(out), "--no-plot"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (f"interrupted after 2 of 3 points; resume with: semlink run {scenario} --out {out} "
            "--resume") in err
    results = str(out / "results.h5")
    summary = summarize(results)
    assert summary["complete"] is False and summary["points_done"] == 2
    assert summary["points_planned"] == 3 and "--resume" in summary["resume_command"]
    assert main(["summary", results, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["complete"] is False
    assert main(["summary", results]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("INCOMPLETE: 2 of 3 points") and "--resume" in captured.err
    assert main(["plot", results]) == 0
    assert "incomplete run: 2 of 3" in capsys.readouterr().err
    assert "incomplete: 2 of 3 points" in (out / "plots" / "psnr_vs_snr.svg").read_text()
    monkeypatch.undo()
    assert main(["run", str(scenario), "--out", str(out), "--resume", "--no-plot"]) == 0
    done = summarize(results)
    assert done["complete"] is True and done["points_done"] == 3 and "resume_command" not in done


def test_snr_conventions_are_labelled_everywhere(tmp_path, capsys):
    # Eb/N0 scenario: x is Eb/N0, Es/N0 alongside
    scenario = small_scenario(tmp_path, snr_db=None)
    raw = yaml.safe_load(scenario.read_text())
    raw.pop("snr_db")
    raw["ebno_db"] = [4.0, 8.0]
    scenario.write_text(yaml.safe_dump(raw))
    out = tmp_path / "eb"
    assert main(["run", str(scenario), "--out", str(out)]) == 0
    capsys.readouterr()
    summary = summarize(str(out / "results.h5"))
    run = summary["runs"][0]
    offset = 10 * np.log10(256 / 171)       # k = 256 bits per 171 channel uses
    assert summary["snr_convention"] == "Eb/N0" and run["ebno_db"] == [4.0, 8.0]
    assert run["es_minus_eb_db"] == pytest.approx(offset, abs=1e-4)
    table = format_table(summary).splitlines()
    head = table[1].split()
    assert head[:2] == ["Eb/N0[dB]", "Es/N0[dB]"] and "SNR[dB]" not in table[1]
    assert table[2].split()[:2] == ["4.00", f"{4 + offset:.2f}"]
    svg = (out / "plots" / "psnr_vs_snr.svg").read_text()
    assert "Eb/N0 [dB]" in svg and f"Es/N0 = Eb/N0 + {offset:.2f} dB" in svg
    # Es/N0 scenario with a digital codec: Eb/N0 shown alongside
    scenario = small_scenario(tmp_path, snr_db=[6.0])
    out2 = tmp_path / "es"
    run_sweep(load_scenario(scenario), str(out2), progress=False)
    summary = summarize(str(out2 / "results.h5"))
    run = summary["runs"][0]
    assert summary["snr_convention"] == "Es/N0" and run["snr_db"] == [6.0]
    assert run["ebno_db"][0] == pytest.approx(6.0 - offset, abs=1e-6)
    assert format_table(summary).splitlines()[1].split()[:2] == ["Es/N0[dB]", "Eb/N0[dB]"]


# -- errors, not tracebacks -------------------------------------------------------------------

@pytest.mark.parametrize("device", ["cuda", "gpu", "cuda:3"])
def test_gpu_device_without_gpu_is_a_validation_error(image_dir, device):
    import torch

    index = int(device.split(":")[1]) if ":" in device else 0
    if torch.cuda.is_available() and torch.cuda.device_count() > index:
        pytest.skip(f"checks the error for a GPU that is absent; this machine has "
                    f"{torch.cuda.device_count()} CUDA device(s), so {device!r} exists")
    raw = {"dataset": {"path": str(image_dir)}, "channels": ["awgn"], "snr_db": [0],
           "codecs": [{"name": "deepjscc", "params": {"checkpoint": "builtin", "ratio": 0.1666667}},
                      "raw_pixels"], "device": device}
    with pytest.raises(ScenarioError, match=r"^device: .* requested but .*use device: cpu"):
        parse_scenario(raw)


def test_budget_below_one_code_block_names_image_and_budget(tmp_path):
    pytest.importorskip("PIL")
    scenario = small_scenario(tmp_path, snr_db=[12], codecs=[
        {"name": "jpeg", "params": {"symbols_per_image": 100}, "profiles": {"bits": "p"}}])
    outcome = run_sweep(load_scenario(scenario), str(tmp_path / "o"), progress=False)
    (failed,) = outcome.failed
    assert "ZeroDivision" not in failed["error"]
    assert "image 'img00.png' (24x32)" in failed["error"]
    assert "budget of 100 channel uses" in failed["error"] and "one code block (171" in failed["error"]


def test_second_writer_of_a_folder_is_refused(tmp_path):
    scenario = small_scenario(tmp_path, snr_db=[12])
    out = tmp_path / "o"
    with OutputLock(out):
        with pytest.raises(ValueError, match=rf"another semlink run is writing .*o' \(pid {os.getpid()}\)"):
            run_sweep(load_scenario(scenario), str(out), progress=False)
    run_sweep(load_scenario(scenario), str(out), progress=False)   # released: runs


def test_ms_ssim_on_small_images_is_unavailable_once(tmp_path, capsys):
    scenario = small_scenario(tmp_path, snr_db=[12], metrics=["psnr", "ms_ssim"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["run", str(scenario), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert err.count("'ms_ssim' unavailable") == 1 and ">= 161 px" in err
    assert "img00.png" in err and "24x32" in err
    summary = summarize(str(tmp_path / "o" / "results.h5"))
    assert "ms_ssim" in summary["metrics_unavailable"]
    assert "ms_ssim" not in summary["runs"][0]["metrics"]
    assert not list((tmp_path / "o" / "plots").glob("*ms_ssim*"))


def test_plot_of_a_run_whose_points_all_failed_is_an_error(tmp_path, monkeypatch, capsys):
    scenario = small_scenario(tmp_path, snr_db=[0, 12])

    def explode(self, codec, *args):
        raise RuntimeError("decoder exploded")

    monkeypatch.setattr(PointRunner, "_decode_and_measure", explode)
    out = tmp_path / "o"
    assert main(["run", str(scenario), "--out", str(out)]) == 1
    capsys.readouterr()
    assert main(["plot", str(out / "results.h5")]) == 2
    err = capsys.readouterr().err
    assert "no point finished successfully" in err and "Traceback" not in err
    assert not (out / "plots").exists() or not list((out / "plots").iterdir())


def test_memory_estimate_refuses_a_batch_that_cannot_fit(tmp_path):
    sc = load_scenario(small_scenario(tmp_path, snr_db=[12]))
    runner = PointRunner(sc, memory_limit_bytes=10**6)
    part = runner.run(sc.points()[0])
    assert part["status"] == "failed" and part["error"].startswith("MemoryError")
    assert "needs about" in part["error"] and "img01.png" in part["error"]
    assert "batch_size" in part["error"] and "dataset.resize" in part["error"]
    runner = PointRunner(sc, memory_limit_bytes=2**40)
    assert runner.run(sc.points()[0])["status"] == "ok"


def test_progress_lines_without_a_terminal(monkeypatch):
    sc = parse_scenario({"dataset": {"path": "unused"}, "codecs": ["raw_pixels"],
                         "channels": ["awgn"], "snr_db": [0, 5]})
    stream = io.StringIO()
    monkeypatch.setattr(progress_mod, "INNER_EVERY_S", 0.0)
    rep = progress_mod.Progress(total=2, already=0, todo=2, num_images=4, stream=stream)
    for point in sc.points():
        rep.start_point(point)
        rep.images(2)                      # within the point
        rep.images(2)
        rep.finished(point, {"status": "ok"})
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("semlink run: point 1/2 (c000-h00-s000-r0): 2 of 4 images")
    assert lines[1].startswith("semlink run: point 1/2 ok: c000-h00-s000-r0 raw_pixels / awgn / "
                               "0 dB Es/N0; elapsed 0:00, ETA 0:00")
    assert lines[-1].startswith("semlink run: point 2/2 ok") and len(lines) == 4


def test_progress_lines_in_a_log(tmp_path):
    scenario = small_scenario(tmp_path, snr_db=[0, 12])
    res = subprocess.run([sys.executable, "-m", "semlink.links.cli", "run", str(scenario),
                          "--out", str(tmp_path / "o"), "--no-plot"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "point 1/2 ok: c000-h00-s000-r0" in res.stderr and "point 2/2 ok" in res.stderr
    assert "ETA" in res.stderr


def test_a_long_stage_is_named_while_it_runs(tmp_path, monkeypatch, caplog):
    """A point stuck in one long stage (a metric on an 11,000-character caption took
    107 s) prints a line naming the stage while it runs, not only when the point ends."""
    from semlink.links.runner import run_sweep

    monkeypatch.setattr(progress_mod, "INNER_EVERY_S", 0.2)
    scenario = small_scenario(tmp_path, snr_db=[0])
    original = PointRunner._decode_and_measure

    def slow(self, *args, **kwargs):
        stage = args[8] if len(args) > 8 else kwargs["stage"]
        stage("metric psnr")
        time.sleep(1.0)                      # the long stage
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PointRunner, "_decode_and_measure", slow)
    caplog.set_level("INFO", logger="semlink.links.progress")     # progress lines are INFO logs
    run_sweep(load_scenario(scenario), str(tmp_path / "o"), progress=False)
    lines = [r.getMessage() for r in caplog.records if "metric psnr for" in r.getMessage()]
    assert lines and lines[0].startswith("semlink run: point 1/")
    assert "0 of" in lines[0] and "in this point" in lines[0]


def test_help_imports_no_heavy_module():
    code = ("import sys\nfrom semlink.links.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'sionna', 'h5py', 'semlink.phy') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip().splitlines()[-1] == "[]"
    assert "ber" in res.stdout and "coded/uncoded BER/BLER sweep" in res.stdout
    res = subprocess.run([sys.executable, "-m", "semlink.links.cli", "ber", "--help"],
                         capture_output=True, text=True, check=True)
    assert "--ebno-db" in res.stdout or "--snr-db" in res.stdout


# -- make failures visible --------------------------------------------------------------------

def test_fallbacks_and_decoded_with_errors_are_visible(tmp_path, capsys):
    pytest.importorskip("PIL")
    scenario = small_scenario(tmp_path, snr_db=[-2, 20], codecs=[
        {"name": "jpeg", "params": {"quality": 80}, "profiles": {"bits": "p"}},
        {"name": "raw_pixels", "params": {"downsample": 2}, "profiles": {"pixels": "p"}}])
    out = tmp_path / "o"
    assert main(["run", str(scenario), "--out", str(out)]) == 0
    capsys.readouterr()
    _, points = load_results(out / "results.h5")
    jpeg_low = points[0]
    assert jpeg_low["fallback"].all()
    assert all(r.endswith("code blocks failed") and " of " in r for r in jpeg_low["fallback_reason"])
    assert not jpeg_low["decoded_with_errors"].any()
    raw_low = points[2]
    assert raw_low["decoded_with_errors"].all() and not raw_low["fallback"].any()
    assert list(raw_low["fallback_reason"]) == ["", "", ""]
    high = points[1]
    assert not high["fallback"].any() and not high["decoded_with_errors"].any()
    summary = summarize(str(out / "results.h5"))
    assert summary["runs"][0]["fallback_images"] == [3, 0]
    assert summary["runs"][1]["decoded_with_errors_images"] == [3, 0]
    table = format_table(summary).splitlines()
    assert table[1].split()[-2:] == ["fallback", "dec.err"]
    assert table[2].split()[-2:] == ["3/3", "0/3"] and table[3].split()[-2:] == ["0/3", "0/3"]
    assert "fell back" in (out / "plots" / "psnr_vs_snr.svg").read_text()


# -- no repeated work, peak memory ------------------------------------------------------------

def test_error_free_reconstructions_are_reused_with_identical_results(tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    scenario = small_scenario(tmp_path, snr_db=[-2, 15, 20, 25], codecs=[
        {"name": "jpeg", "params": {"quality": 70}, "profiles": {"bits": "p"}},
        {"name": "analog_pixels", "params": {"downsample": 2}}])
    from semlink.semantic.classical import ImageFileCodec

    calls = {"n": 0}
    decode = ImageFileCodec.decode

    def counting(self, received):
        calls["n"] += received.num_images
        return decode(self, received)

    monkeypatch.setattr(ImageFileCodec, "decode", counting)
    sc = load_scenario(scenario)
    plain = run_sweep(sc, str(tmp_path / "plain"), progress=False, reuse_error_free=False)
    decoded_plain, calls["n"] = calls["n"], 0
    reuse = run_sweep(load_scenario(scenario), str(tmp_path / "reuse"), progress=False)
    assert values(plain.results) == values(reuse.results)
    _, points = load_results(reuse.results)
    jpeg = [p for p in points if p["codec"] == "jpeg"]
    assert not jpeg[0]["reused"].any()                 # -2 dB: damaged, decoded
    assert not jpeg[1]["reused"].any()                 # 15 dB: first error-free, decoded once
    assert jpeg[2]["reused"].all() and jpeg[3]["reused"].all()
    assert decoded_plain == 12 and calls["n"] == 6
    analog = [p for p in points if p["codec"] == "analog_pixels"]
    assert not any(p["reused"].any() for p in analog)  # analog streams are never "error-free"
    assert summarize(reuse.results)["runs"][0]["reused_images"] == [0, 0, 3, 3]


def test_peak_memory_is_recorded_next_to_timings(tmp_path):
    outcome = run_sweep(load_scenario(small_scenario(tmp_path, snr_db=[12])), str(tmp_path / "o"),
                        progress=False)
    with h5py.File(outcome.results, "r") as h:
        attrs = dict(h["points/c000-h00-s000-r0/timings"].attrs)
    assert attrs["peak_rss_mb"] > 50 and {"encode_s", "phy_s"} <= set(attrs)
    assert summarize(outcome.results)["runs"][0]["peak_rss_mb"][0] == attrs["peak_rss_mb"]
