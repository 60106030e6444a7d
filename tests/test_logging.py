"""semlink logs through ``logging`` (one logger per module under ``semlink``), configures no
handler as a library, and the ``semlink`` command shows the log on stderr with
``--quiet`` / ``--verbose`` (semlink/log.py, links/cli.py)."""

import io
import logging
import subprocess
import sys

import pytest
import yaml

from conftest import make_images
from semlink.links import progress as progress_mod
from semlink.links.cli import build_parser, main
from semlink.log import CliFormatter, cli_handler


class _Point:
    """What Progress reads of a point."""

    id, snr_db, ebno_db = "c000-h00-s000-r0", 3.0, None

    class codec:
        label = "raw_pixels"

    class channel:
        label = "awgn"


def _one_point_of_progress() -> None:
    rep = progress_mod.Progress(total=1, already=0, todo=1, num_images=2, bar=False)
    try:
        rep.start_point(_Point)
        rep.images(2)
        rep.finished(_Point, {"status": "ok"})
    finally:
        rep.close()


def test_library_progress_is_an_info_record_of_its_module_logger(caplog):
    caplog.set_level(logging.INFO, logger="semlink")
    _one_point_of_progress()
    rec = [r for r in caplog.records if "point 1/1 ok" in r.getMessage()]
    assert len(rec) == 1 and rec[0].name == "semlink.links.progress"
    assert rec[0].levelno == logging.INFO
    assert rec[0].getMessage().startswith("semlink run: point 1/1 ok: c000-h00-s000-r0 raw_pixels "
                                          "/ awgn / 3 dB Es/N0")


def test_a_library_user_silences_or_redirects_semlink(caplog):
    root = logging.getLogger("semlink")
    caplog.set_level(logging.INFO, logger="semlink")
    root.setLevel(logging.WARNING)                         # silence progress
    _one_point_of_progress()
    assert not [r for r in caplog.records if r.name.startswith("semlink")]
    root.setLevel(logging.INFO)
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)                  # redirect into the user's own stream
    root.addHandler(handler)
    try:
        _one_point_of_progress()
    finally:
        root.removeHandler(handler)
    assert "semlink run: point 1/1 ok" in sink.getvalue()


def test_the_library_configures_no_handler_and_prints_nothing():
    """Only a NullHandler on ``semlink``: without logging configured, even a warning is not
    shown (the application decides), and importing the CLI attaches nothing."""
    code = ("import logging, semlink, semlink.links.cli\n"
            "root = logging.getLogger('semlink')\n"
            "print([type(h).__name__ for h in root.handlers])\n"
            "logging.getLogger('semlink.links.memory').warning('should not be shown')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "['NullHandler']"
    assert res.stderr == ""


def test_cli_handler_shows_messages_as_written_and_goes_away(capsys):
    log = logging.getLogger("semlink.test_logging")
    with cli_handler("normal", prefixes={"semlink.test_logging": "semlink x: "}):
        log.info("progress %d", 1)
        log.debug("hidden")
    log.warning("after the command: not shown by the CLI handler")
    err = capsys.readouterr().err
    assert err == "semlink x: progress 1\n"
    assert not [h for h in logging.getLogger("semlink").handlers
                if isinstance(h.formatter, CliFormatter)]


def test_cli_handler_levels_and_bad_verbosity(capsys):
    log = logging.getLogger("semlink.test_logging")
    with cli_handler("quiet"):
        log.info("progress")
        log.warning("a warning")
    with cli_handler("verbose"):
        log.debug("a debug line")
    assert capsys.readouterr().err.splitlines() == ["a warning", "a debug line"]
    with pytest.raises(ValueError, match="verbosity must be one of.*'loud'"):
        with cli_handler("loud"):
            pass


def test_quiet_and_verbose_are_documented_and_accepted_before_or_after_the_command():
    parser = build_parser()
    help_text = parser.format_help()
    assert "--quiet" in help_text and "--verbose" in help_text
    assert parser.parse_args(["-q", "list"]).verbosity == "quiet"
    assert parser.parse_args(["list", "--verbose"]).verbosity == "verbose"
    assert parser.parse_args(["summary", "r.h5", "-q"]).verbosity == "quiet"
    assert parser.parse_args(["list"]).verbosity == "normal"
    with pytest.raises(SystemExit):
        parser.parse_args(["list", "-q", "-v"])              # one or the other
    run_help = build_parser("run")._subparsers._group_actions[0].choices["run"].format_help()
    assert "--quiet" in run_help and "--verbose" in run_help


def _scenario(tmp_path):
    make_images(tmp_path / "images", count=2)             # 24x32: ms_ssim is too small -> warning
    raw = {"name": "log", "dataset": {"path": "images"},
           "codecs": [{"name": "raw_pixels", "params": {"downsample": 2, "bit_depth": 4},
                       "profiles": {"pixels": "p"}}],
           "profiles": {"p": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.5,
                              "modulation": "qpsk"}},
           "channels": ["awgn"], "snr_db": [10], "metrics": ["psnr", "ms_ssim"], "batch_size": 2}
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_run_quiet_drops_progress_keeps_warnings_and_verbose_adds_debug(tmp_path, capsys):
    scenario = _scenario(tmp_path)
    runs = {}
    for flag in ("", "--quiet", "--verbose"):
        argv = ["run", str(scenario), "--out", str(tmp_path / f"o{flag}"), "--no-plot"]
        assert main(argv + ([flag] if flag else [])) == 0
        runs[flag] = capsys.readouterr()
    normal, quiet, verbose = runs[""], runs["--quiet"], runs["--verbose"]
    warning = "semlink run: metric 'ms_ssim' unavailable, skipped: needs images with both sides"
    for out in runs.values():                               # the command's product and warnings
        assert "1 point(s) run, 0 already done, 1 in all" in out.out and "results: " in out.out
        assert warning in out.err
    assert "semlink run: point 1/1 ok: c000-h00-s000-r0" in normal.err
    assert "point 1/1 ok" not in quiet.err and "point 1/1 ok" in verbose.err
    debug = "semlink run: 1 point(s) planned, 0 already done, 1 to run on cpu (executor local"
    assert debug in verbose.err and debug not in normal.err and debug not in quiet.err
    assert [ln for ln in quiet.err.splitlines() if ln.strip()] == [
        ln for ln in quiet.err.splitlines() if "WARNING" in ln or "unavailable" in ln]


def test_cli_lines_are_not_printed_again_by_a_root_handler_a_dependency_installed(capsys):
    # open_clip logs through the root logger at import, which installs a root handler
    # (logging.basicConfig); the command's lines must still appear once
    root = logging.getLogger()
    seen = []
    extra = logging.Handler()
    extra.emit = lambda record: seen.append(record.getMessage())
    root.addHandler(extra)
    try:
        with cli_handler("normal"):
            logging.getLogger("semlink.test_logging").info("once please")
        assert capsys.readouterr().err.count("once please") == 1 and seen == []
        assert logging.getLogger("semlink").propagate      # restored for library users
    finally:
        root.removeHandler(extra)
