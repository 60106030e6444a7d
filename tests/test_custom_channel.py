"""A channel defined outside the package works by name: dotted path, entry point, CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from semlink.phy import CHANNELS, DigitalChain, make_channel

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@pytest.fixture
def user_module(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    yield "my_channels"
    sys.modules.pop("my_channels", None)


def test_dotted_path(user_module, device):
    chain = DigitalChain(k=256, n=512, modulation="qpsk",
                         channel={"name": "my_channels:PhaseNoiseAWGN", "sigma_deg": 0.5}, seed=0,
                         device=device)
    assert type(chain.channel).__name__ == "PhaseNoiseAWGN"
    rx, rep = chain.transmit([np.ones(2000, np.uint8)], snr_db=15)
    assert rep.bit_errors[0] == 0
    # strong phase noise breaks the link: the user's channel is really in the loop
    bad = DigitalChain(k=256, n=512, modulation="qpsk",
                       channel={"name": "my_channels:PhaseNoiseAWGN", "sigma_deg": 20}, seed=0, device=device)
    _, rep = bad.transmit([np.ones(2000, np.uint8)], snr_db=15)
    assert rep.bit_errors[0] > 100


def test_entry_point(tmp_path, monkeypatch, user_module, device):
    dist = tmp_path / "my_channels_pkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-channels-pkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[semlink.channels]\nphase_noise = my_channels:PhaseNoiseAWGN\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "phase_noise" in CHANNELS.names()
    assert "AWGN plus Wiener phase noise" in CHANNELS.describe()["phase_noise"]
    ch = make_channel({"name": "phase_noise", "sigma_deg": 2.0}, seed=1, device=device)
    assert type(ch).__name__ == "PhaseNoiseAWGN" and ch.sigma == pytest.approx(np.radians(2.0))


def test_cli_uses_user_channel_by_name():
    env = dict(os.environ, PYTHONPATH=str(EXAMPLES))
    out = subprocess.run([sys.executable, "-m", "semlink.links.cli", "ber", "--code", "none",
                          "--k", "1000", "--modulation", "qpsk", "--channel",
                          "my_channels:PhaseNoiseAWGN", "--snr-db", "10", "--max-blocks", "20",
                          "--json"], capture_output=True, text=True, env=env, check=True)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines[0]["config"]["channel"] == "PhaseNoiseAWGN"
    assert lines[1]["blocks"] == 20


def test_non_channel_class_is_refused(user_module, device):
    with pytest.raises(TypeError, match="not a semlink.phy.channels.Channel"):
        make_channel("collections:OrderedDict", device=device)


def test_duplicate_registration_refused():
    with pytest.raises(ValueError, match="already registered"):
        CHANNELS.add("awgn", dict)
