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
    pytest.importorskip("sacrebleu")
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
