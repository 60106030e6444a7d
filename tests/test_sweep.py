"""Sweeps: results file, kill + resume, failing points, Ray, summary and plots."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
import torch
import yaml

from conftest import TEST_DEVICE, make_images
from semlink.links.cli import main
from semlink.links.results import load_results
from semlink.links.runner import run_sweep
from semlink.links.scenario import load_scenario
from semlink.links.summary import summarize

FAILING_CODEC = '''
from semlink.semantic.raw import RawPixels

class FailsAtLowSnr(RawPixels):
    """raw_pixels whose decoder raises below 7 dB (to test failure isolation)."""
    def decode(self, received):
        if received.snr_db < 7:
            raise RuntimeError("decoder exploded at low SNR")
        return super().decode(received)
'''


def write_scenario(tmp_path, **overrides):
    make_images(tmp_path / "images", count=3)
    raw = {"name": "t", "dataset": {"path": "images"},
           "codecs": [{"name": "raw_pixels", "params": {"downsample": 2},
                       "grid": {"bit_depth": [3, 6]}, "profiles": {"pixels": "p"}},
                      {"name": "analog_pixels", "params": {"downsample": 2}}],
           "profiles": {"p": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.5,
                              "modulation": "psk8"}},
           "channels": ["awgn", {"name": "rayleigh", "coherence": "item", "csi": "ls",
                                 "num_pilots": 2, "label": "rayleigh-ls"}],
           "snr_db": [0, 6, 12], "metrics": ["psnr", "mse"], "batch_size": 2,
           "device": TEST_DEVICE}
    raw.update(overrides)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def comparable(path):
    """Everything in results.h5 except timings, the environment and the per-image ``reused``
    flags (which images reused a cached error-free reconstruction depends on what the
    process had seen: a resumed run or a Ray worker starts with an empty cache)."""
    out = {}
    with h5py.File(path, "r") as h:
        out["scenario"] = h.attrs["scenario_json"]

        def visit(name, obj):
            if "timings" in name or name.endswith("/reused"):
                return
            if isinstance(obj, h5py.Dataset):
                out[name] = repr(obj[()].tolist())      # repr: NaN compares equal
            out[name + "@attrs"] = {k: repr(v.tolist() if hasattr(v, "tolist") else v)
                                    for k, v in obj.attrs.items()}
        h.visititems(visit)
    return out


def test_results_file_contents(tmp_path):
    sc = load_scenario(write_scenario(tmp_path))
    outcome = run_sweep(sc, str(tmp_path / "out"), progress=False)
    assert outcome.total == 3 * 2 * 3 and outcome.ran == 18 and not outcome.failed
    attrs, points = load_results(outcome.results)
    env = json.loads(attrs["env_json"])
    assert "torch" in env["packages"] and env["device"] == TEST_DEVICE and "git_revision" in env
    assert env["malloc_tuning"]["applied"] is True      # glibc: semlink.runtime.tune_malloc ran
    assert yaml.safe_load(attrs["scenario_yaml"])["name"] == "t"
    profiles = json.loads(attrs["phy_profiles_json"])      # which LDPC decoder ran
    assert profiles["default"]["decoder"] == "sionna"
    p = points[0]
    assert p["status"] == "ok" and len(p["images"]) == 3
    assert set(p["metrics"]) == {"psnr", "mse", "ber", "bler"}
    assert set(p["phy"]["pixels"]) >= {"channel_uses", "bits", "bit_errors", "blocks", "block_errors"}
    assert all(p["timings"][k] >= 0 for k in ("encode_s", "phy_s", "decode_s", "metrics_s"))
    # channel uses in the results equal the analytic count
    from semlink.links.link import Link
    from semlink.semantic import RawPixels

    chain = Link(sc.profiles, "awgn").chain("p")
    codec = RawPixels(bit_depth=3, downsample=2)
    sizes = [(24, 32), (26, 32), (28, 32)]
    assert list(p["symbols_per_image"]) == [chain.channel_uses_for(codec.bits_for(*s)) for s in sizes]
    # analog over rayleigh-ls: symbols + 2 pilots (one coherence block per image)
    a = [q for q in points if q["codec"] == "analog_pixels" and q["channel_label"] == "rayleigh-ls"][0]
    assert list(a["symbols_per_image"]) == [int(np.ceil(3 * (h // 2) * (w // 2) / 2)) + 2 for h, w in sizes]


def test_killed_sweep_resumes_to_identical_file(tmp_path):
    scenario = write_scenario(tmp_path, snr_db=[0, 3, 6, 9, 12, 15])
    ref = tmp_path / "ref"
    # one torch thread count for the three processes: each point records it (torch_threads),
    # and a CLI process otherwise takes one per core (16 on the H200 machine, 2 in pytest)
    threads = ["--threads", str(torch.get_num_threads())]
    assert main(["run", str(scenario), "--out", str(ref), "--no-plot", *threads]) == 0
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "semlink.links.cli", "run", str(scenario),
                             "--out", str(out), "--no-plot", *threads], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / ".points"
    deadline = time.time() + 120
    while time.time() < deadline:
        if journal.exists() and len(list(journal.glob("*.h5"))) >= 5:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(journal.glob("*.h5")))
    assert 5 <= done_before < 36, "the kill must land mid-run"
    # without --resume the folder is protected
    res = subprocess.run([sys.executable, "-m", "semlink.links.cli", "run", str(scenario),
                          "--out", str(out)], capture_output=True, text=True)
    assert res.returncode == 2 and "--resume" in res.stderr
    res = subprocess.run([sys.executable, "-m", "semlink.links.cli", "run", str(scenario),
                          "--out", str(out), "--resume", "--no-plot", *threads],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert f"{done_before} already done" in res.stdout
    assert comparable(out / "results.h5") == comparable(ref / "results.h5")
    _, points = load_results(out / "results.h5")
    assert len(points) == 36 and len({p["id"] for p in points}) == 36


def test_resume_refuses_a_changed_scenario(tmp_path):
    scenario = write_scenario(tmp_path, snr_db=[0])
    assert main(["run", str(scenario), "--out", str(tmp_path / "o"), "--no-plot"]) == 0
    scenario2 = write_scenario(tmp_path, snr_db=[1])
    with pytest.raises(ValueError, match="scenario differs"):
        run_sweep(load_scenario(scenario2), str(tmp_path / "o"), resume=True, progress=False)


def test_resume_refuses_a_run_whose_noise_came_from_another_generator(tmp_path):
    """A folder started before the counter-based draws (its journal header names no
    generator: per-item torch generators) is not continued with the new draws."""
    scenario = write_scenario(tmp_path, snr_db=[0])
    assert main(["run", str(scenario), "--out", str(tmp_path / "o"), "--no-plot"]) == 0
    header_file = tmp_path / "o" / ".points" / "header.json"
    header = json.loads(header_file.read_text())
    assert header["noise_generator"] == "counter-hash-v2"
    del header["noise_generator"]
    header_file.write_text(json.dumps(header))
    with pytest.raises(ValueError, match="'torch-per-item' generator.*'counter-hash-v2'"):
        run_sweep(load_scenario(scenario), str(tmp_path / "o"), resume=True, progress=False)
    # a folder of the first counter-based scheme (torch.sqrt roots) is not continued either
    header["noise_generator"] = "counter-hash-v1"
    header_file.write_text(json.dumps(header))
    with pytest.raises(ValueError, match="'counter-hash-v1' generator.*'counter-hash-v2'"):
        run_sweep(load_scenario(scenario), str(tmp_path / "o"), resume=True, progress=False)


def test_threads_are_recorded_restored_and_checked_on_resume(tmp_path, capsys, caplog):
    import torch

    before = torch.get_num_threads()
    scenario = write_scenario(tmp_path, snr_db=[0, 6], channels=["awgn"])
    assert main(["run", str(scenario), "--out", str(tmp_path / "o"), "--threads", "0"]) == 2
    assert "--threads must be a positive integer, got 0" in capsys.readouterr().err
    sc = load_scenario(scenario)
    first = [p for p in sc.points() if p.snr_index == 0]
    partial = dataclasses.replace(sc, raw=sc.raw)
    partial.points = lambda: first          # a run that stopped after the 0 dB points
    run_sweep(partial, str(tmp_path / "o"), progress=False, threads=1)
    assert torch.get_num_threads() == before
    caplog.clear()
    run_sweep(sc, str(tmp_path / "o"), resume=True, progress=False, threads=2)   # warns in the log
    assert [r for r in caplog.records if r.levelname == "WARNING"
            and "started with 1 torch thread(s), this one uses 2" in r.getMessage()]
    attrs, points = load_results(str(tmp_path / "o" / "results.h5"))
    assert {p["snr_index"]: p["torch_threads"] for p in points} == {0: 1, 1: 2}


def test_failing_codec_point_is_isolated(tmp_path, monkeypatch, capsys):
    (tmp_path / "failmod.py").write_text(FAILING_CODEC)
    monkeypatch.syspath_prepend(str(tmp_path))
    scenario = write_scenario(tmp_path, codecs=[
        {"name": "failmod:FailsAtLowSnr", "label": "fragile", "params": {"downsample": 2}},
        {"name": "raw_pixels", "params": {"downsample": 2}}], channels=["awgn"])
    assert main(["run", str(scenario), "--out", str(tmp_path / "o"), "--no-plot"]) == 1
    err = capsys.readouterr().err
    assert "2 point(s) FAILED" in err and "decoder exploded at low SNR" in err
    summary = summarize(str(tmp_path / "o" / "results.h5"))
    fragile, raw = summary["runs"]
    assert [f["snr_db"] for f in fragile["failed_points"]] == [0.0, 6.0]
    assert fragile["metrics"]["psnr"][0] is None and fragile["metrics"]["psnr"][2] > 20
    assert raw["failed_points"] == [] and all(v is not None for v in raw["metrics"]["psnr"])
    _, points = load_results(tmp_path / "o" / "results.h5")
    failed = [p for p in points if p["status"] == "failed"]
    assert "Traceback" in failed[0]["traceback"] and "RuntimeError" in failed[0]["error"]


def test_summary_json_and_plots(tmp_path, capsys):
    scenario = write_scenario(tmp_path)
    out = tmp_path / "o"
    assert main(["run", str(scenario), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["summary", str(out / "results.h5"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) >= {"scenario", "env", "runs"}
    run = summary["runs"][0]
    assert run["codec"] == "raw_pixels" and run["params"] == {"bit_depth": 3, "downsample": 2}
    assert run["channel"] == "awgn" and run["snr_db"] == [0.0, 6.0, 12.0]
    assert run["profile"]["pixels"]["name"] == "p" and run["profile"]["pixels"]["modulation"] == "psk8"
    assert set(run["metrics"]) == {"psnr", "mse", "ber", "bler"}
    assert len(run["symbols_per_image"]) == 3
    # the digital scheme improves with SNR; BER falls
    assert run["metrics"]["ber"][0] > run["metrics"]["ber"][2]
    analog = [r for r in summary["runs"] if r["codec"] == "analog_pixels"][0]
    assert analog["metrics"]["ber"] == [None, None, None]
    assert main(["summary", str(out / "results.h5")]) == 0
    table = capsys.readouterr().out
    assert "raw_pixels[bit_depth=3]" in table and "psnr" in table
    plots = out / "plots"
    for name in ("psnr_vs_snr", "ber_vs_snr", "symbols_vs_psnr"):
        assert (plots / f"{name}.png").stat().st_size > 1000
        assert (plots / f"{name}.svg").exists()


def test_bad_dataset_in_scenario_fails_before_running(tmp_path):
    scenario = write_scenario(tmp_path, dataset={"path": "missing_folder"})
    res = subprocess.run([sys.executable, "-m", "semlink.links.cli", "run", str(scenario),
                          "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert res.returncode == 2 and "dataset.path" in res.stderr
    (tmp_path / "empty").mkdir()
    scenario = write_scenario(tmp_path, dataset={"path": "empty"})
    res = subprocess.run([sys.executable, "-m", "semlink.links.cli", "run", str(scenario),
                          "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert res.returncode == 2 and "empty" in res.stderr
    assert not (tmp_path / "o" / "results.h5").exists()
    make_images(tmp_path / "trunc", count=2)
    f = tmp_path / "trunc" / "img01.png"
    f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
    scenario = write_scenario(tmp_path, dataset={"path": "trunc"})
    res = subprocess.run([sys.executable, "-m", "semlink.links.cli", "run", str(scenario),
                          "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert res.returncode == 2 and "img01.png" in res.stderr


def test_ray_executor_matches_local_for_every_codec_kind(tmp_path):
    """Digital raw pixels, analog pixels, a classical codec (JPEG2000 over LDPC) and deep
    JSCC give bit-identical results with the local executor and with 2 Ray workers.

    The images are large enough (3x128x128 values) for torch to split float32 reductions
    (PSNR's mean) and deep JSCC's transposed convolutions over threads: a Ray worker left at
    its default single thread gives different last bits than a 2-thread driver."""
    pytest.importorskip("ray", reason="ray is an extra: pip install 'semlink[ray]'")
    make_images(tmp_path / "large", count=2, sizes=[(128, 128)])
    scenario = write_scenario(
        tmp_path, dataset={"path": "large"}, snr_db=[0, 12], channels=["awgn"],
        metrics=["psnr", "ssim"],
        codecs=[{"name": "raw_pixels", "params": {"downsample": 2, "bit_depth": 3},
                 "profiles": {"pixels": "p"}},
                {"name": "analog_pixels", "params": {"downsample": 2}},
                {"name": "jpeg2000", "params": {"bandwidth_ratio": 1 / 6},
                 "profiles": {"bits": "p"}},
                {"name": "deepjscc", "params": {"checkpoint": "builtin", "ratio": 1 / 6}}])
    sc = load_scenario(scenario)
    local = run_sweep(sc, str(tmp_path / "local"), progress=False, threads=2)
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    remote = run_sweep(sc, str(tmp_path / "ray"), executor="ray", ray_workers=2,
                       progress=False, threads=2)
    assert remote.ran == local.ran == 8 and not local.failed and not remote.failed
    a, b = comparable(local.results), comparable(remote.results)
    assert a == b
    _, points = load_results(remote.results)
    assert {p["torch_threads"] for p in points} == {2}
    assert json.loads(load_results(remote.results)[0]["env_json"])["torch_threads"] == 2


def test_ebno_scenario_records_the_es_no_used(tmp_path):
    scenario = write_scenario(tmp_path, snr_db=None, codecs=[
        {"name": "raw_pixels", "params": {"downsample": 2}, "profiles": {"pixels": "p"}}],
        channels=["awgn"])
    raw = yaml.safe_load(scenario.read_text())
    raw.pop("snr_db")
    raw["ebno_db"] = [2.0]
    scenario.write_text(yaml.safe_dump(raw))
    outcome = run_sweep(load_scenario(scenario), str(tmp_path / "o"), progress=False)
    summary = summarize(outcome.results)
    run = summary["runs"][0]
    # p: k=256, rate 1/2, 8-PSK -> n=512 -> 171 symbols per block carry k=256 bits
    assert run["ebno_db"] == [2.0]
    assert run["snr_db"][0] == pytest.approx(2.0 + 10 * np.log10(256 / 171))
