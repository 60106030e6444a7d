"""The built wheel maps phy/, semantic/, links/ into the semlink namespace and ships
both deep JSCC checkpoints (k/n = 1/6 and 1/12), loadable from the installed package."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_installs_and_imports(tmp_path):
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheel_dir), str(ROOT)], check=True)
    (wheel,) = wheel_dir.glob("semlink-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "semlink/phy/digital.py" in names and "semlink/links/cli.py" in names
    assert "semlink/phy/channels/fading.py" in names
    for c in (16, 8):                                             # the shipped checkpoints
        assert f"semlink/semantic/weights/deepjscc_c{c}.pt" in names
    assert not any(n.startswith(("phy/", "links/", "semantic/")) for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(site), str(wheel)], check=True)
    code = (
        "import semlink, semlink.phy as p, semlink.links.cli, numpy as np;"  # noqa: UP031 (%r: repr)
        "assert p.__file__.startswith(%r), p.__file__;"
        "c = p.DigitalChain(k=64, n=128, seed=0);"
        "rx, rep = c.transmit([np.ones(100, np.uint8)], snr_db=20);"
        "from semlink.semantic.deepjscc import builtin_checkpoint, load_checkpoint;"
        "paths = [builtin_checkpoint(r) for r in (1 / 6, 1 / 12)];"
        "assert all(str(q).startswith(%r) for q in paths), paths;"
        "cs = [load_checkpoint(q)[0].c for q in paths];"
        "print(int(rep.bit_errors[0]), cs, p.__file__)" % (str(site), str(site))
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("0 [16, 8] "), res.stdout
