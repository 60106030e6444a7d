"""`semlink list` and `semlink info` without torch: the catalog snapshot, plug-in metadata, CUDA probe."""

import json
import os
import subprocess
import sys

import pytest

from semlink.catalog import builtin_snapshot
from semlink.cuda_probe import cuda_summary, nvml_gpus, torch_cuda_build, visible_gpus

HEAVY = ("torch", "sionna", "numpy", "scipy", "PIL", "h5py", "transformers", "ray")


def _ordered(sections):
    return [(title, list(items.items())) for title, items in sections.items()]


# registries are process-wide and other tests register entries of their own: read them fresh
_REGISTRIES = """
import json
from semlink.metrics import METRICS, PHY_METRICS
from semlink.phy import CHANNELS, CODES, MODULATION_NAMES
from semlink.semantic import CODECS
print(json.dumps({"channels": CHANNELS.describe(), "codecs": CODECS.describe(),
                  "codes": dict(CODES), "modulations": dict(MODULATION_NAMES),
                  "metrics": {**METRICS.describe(), **PHY_METRICS}}))
"""


def test_snapshot_matches_registries():
    res = subprocess.run([sys.executable, "-m", "semlink.catalog", "--check"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_list_json_equals_registries_describe():
    """Exactly what the registries say once every implementation is imported (no plug-ins here)."""
    expected = subprocess.run([sys.executable, "-c", _REGISTRIES], capture_output=True, text=True,
                              check=True)
    res = subprocess.run([sys.executable, "-m", "semlink.links.cli", "list", "--json"],
                         capture_output=True, text=True, check=True)
    assert _ordered(json.loads(res.stdout)) == _ordered(json.loads(expected.stdout))


_PROBE = """
import contextlib, io, json, sys
from semlink.links.cli import main
for argv in {forms!r}:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            rc = main(argv)
        except SystemExit as exc:  # --help
            rc = exc.code
    assert rc == 0 and out.getvalue(), (argv, rc)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})))
"""


def test_list_and_info_import_no_heavy_module():
    forms = [["list"], ["list", "--json"], ["list", "--help"], ["info"], ["info", "--json"],
             ["info", "--help"], ["--help"]]
    res = subprocess.run([sys.executable, "-c", _PROBE.format(forms=forms, heavy=set(HEAVY))],
                         capture_output=True, text=True, check=True)
    assert json.loads(res.stdout.splitlines()[-1]) == []


def test_plugins_listed_from_metadata_without_import(tmp_path):
    """A plug-in whose module fails on import is still listed; a built-in name wins."""
    (tmp_path / "exploding_plugin.py").write_text("raise RuntimeError('imported!')\n")
    dist = tmp_path / "exploding_plugin-0.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: exploding-plugin\nVersion: 0.3\n")
    (dist / "entry_points.txt").write_text(
        "[semlink.codecs]\nbetter_codec = exploding_plugin:BetterCodec\njpeg = exploding_plugin:Fake\n"
        "[semlink.channels]\nzz_channel = exploding_plugin:ZZ\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    res = subprocess.run([sys.executable, "-m", "semlink.links.cli", "list", "--json"],
                         capture_output=True, text=True, env=env, check=True)
    data = json.loads(res.stdout)
    assert data["codecs"]["better_codec"] == "plug-in exploding_plugin:BetterCodec from exploding-plugin 0.3"
    assert data["codecs"]["jpeg"] == builtin_snapshot()["codecs"]["jpeg"]
    assert list(data["channels"])[-1] == "zz_channel"
    assert list(data["codecs"]) == sorted(data["codecs"])


def test_visible_gpus_follows_cuda_visible_devices():
    gpus = [("A100", "GPU-aaaa-1111"), ("H100", "GPU-bbbb-2222"), ("L4", "GPU-cccc-3333")]
    assert visible_gpus(gpus, None) == ["A100", "H100", "L4"]
    assert visible_gpus(gpus, "2,0") == ["L4", "A100"]
    assert visible_gpus(gpus, "GPU-bbbb") == ["H100"]
    assert visible_gpus(gpus, "1,7,0") == ["H100"]  # the list ends at the first invalid entry
    assert visible_gpus(gpus, "-1") == [] and visible_gpus(gpus, "") == []
    assert visible_gpus(gpus, "GPU-") == []  # ambiguous prefix


def test_cuda_probe_agrees_with_torch():
    import torch

    assert torch_cuda_build() == torch.version.cuda
    assert nvml_gpus("libsemlink-no-such-nvml.so") is None
    summary = cuda_summary()
    assert summary["cuda_available"] == torch.cuda.is_available()
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] \
        if torch.cuda.is_available() else []
    assert summary["cuda_devices"] == names


@pytest.mark.parametrize("flag", [[], ["--torch"]])
def test_info_json_keys(flag):
    res = subprocess.run([sys.executable, "-m", "semlink.links.cli", "info", "--json", *flag],
                         capture_output=True, text=True, check=True)
    info = json.loads(res.stdout)
    assert info["packages"]["torch"] and "sionna-no-rt" in info["packages"]
    assert info["default_device"] == ("cuda:0" if info["cuda_available"] else "cpu")
    assert ("torch_threads" in info) == bool(flag)
