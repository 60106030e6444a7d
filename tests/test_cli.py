"""The semlink command line: ber, list, info, and its error messages."""

import json
import subprocess
import sys

import pytest

from semlink.links.ber_command import parse_points
from semlink.links.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "semlink.links.cli", *args],
                          capture_output=True, text=True)


def test_parse_points():
    assert parse_points("0:6:0.5", "--x") == [i * 0.5 for i in range(13)]
    assert parse_points("1,2,3", "--x") == [1.0, 2.0, 3.0]
    assert parse_points("-5", "--x") == [-5.0]
    assert parse_points("6:0:-2", "--x") == [6.0, 4.0, 2.0, 0.0]
    for bad in ("a,b", "0:6", "0:6:0", "6:0:1", "nan"):
        with pytest.raises(ValueError, match="--x"):
            parse_points(bad, "--x")


def test_ber_json_lines(capsys):
    assert main(["ber", "--code", "ldpc5g", "--k", "128", "--n", "256", "--modulation", "psk8",
                 "--channel", "rayleigh", "--ebno-db", "0:4:2", "--max-blocks", "200",
                 "--target-block-errors", "20", "--batch-size", "100", "--seed", "3",
                 "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    header, points = lines[0], lines[1:]
    assert header["config"]["k"] == 128 and header["config"]["modulation"] == "psk8"
    assert [p["ebno_db"] for p in points] == [0.0, 2.0, 4.0][: len(points)]
    for p in points:
        for key in ("ebno_db", "snr_db", "ber", "bler", "bits", "blocks", "bit_errors", "block_errors"):
            assert key in p
        assert p["bits"] == p["blocks"] * 128
        assert p["bler"] == pytest.approx(p["block_errors"] / p["blocks"])
        # Es/N0 = Eb/N0 + 10 log10(k / symbols per block); 256/3 -> 86 symbols
        assert p["snr_db"] == pytest.approx(p["ebno_db"] + 10 * __import__("math").log10(128 / 86))
    assert points[0]["bler"] > points[-1]["bler"]


def test_ber_table_and_snr_db(capsys):
    assert main(["ber", "--code", "none", "--k", "500", "--modulation", "bpsk",
                 "--snr-db", "2,4", "--max-blocks", "50"]) == 0
    out = capsys.readouterr().out
    assert "EbNo[dB]" in out and "BLER" in out
    assert len([ln for ln in out.splitlines() if ln.strip() and ln.split()[0][0].isdigit()]) == 2


@pytest.mark.parametrize("args,match", [
    (["--ebno-db", "x"], "--ebno-db 'x' is not a list"),
    (["--modulation", "qam8"], "QAM order"),
    (["--channel", "nope"], "unknown channel 'nope'. Available: awgn"),
    (["--k", "100", "--n", "50"], "rate k/n"),
    (["--device", "cuda:99"], "device 'cuda:99' is not available"),   # absent on any machine
])
def test_bad_input_exits_2_with_message(args, match):
    res = run_cli("ber", "--max-blocks", "10", *args)
    assert res.returncode == 2
    assert match in res.stderr


def test_list_and_info():
    res = run_cli("list", "--json")
    data = json.loads(res.stdout)
    assert {"awgn", "rayleigh", "rician"} <= set(data["channels"])
    assert "psk8" in data["modulations"] and "ldpc5g" in data["codes"]
    res = run_cli("info", "--json")
    info = json.loads(res.stdout)
    assert "sionna-no-rt" in info["packages"] and "cuda_available" in info
