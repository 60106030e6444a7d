import os

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _seed():
    from semlink.phy import set_seed

    set_seed(1234)
    yield


def make_images(folder, count=4, sizes=None, seed=0):
    """Write small RGB PNG photos-like images (smooth gradients + noise) to ``folder``."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        h, w = sizes[i % len(sizes)] if sizes else (24 + 2 * i, 32)
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx / w, yy / h, (xx + yy) / (h + w)], -1)
        img = np.clip(base * 200 + rng.normal(0, 10, (h, w, 3)) + 20, 0, 255).astype("uint8")
        Image.fromarray(img).save(folder / f"img{i:02d}.png")
    return folder


@pytest.fixture
def image_dir(tmp_path):
    return make_images(tmp_path / "images")


# --- shared data (../shared/data next to the repository, or $SEMLINK_DATA) -------------
from pathlib import Path  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir(name: str = "") -> Path:
    """The shared data folder ``name`` (e.g. ``"kodak24"``): ``$SEMLINK_DATA/name`` when the
    variable is set, else ``../shared/data/name`` relative to the repository root.

    Tests that need it FAIL (never skip) when it is absent: a test suite that
    silently skips its data tests proves nothing.
    """
    env = os.environ.get("SEMLINK_DATA")
    root = Path(env).expanduser() if env else REPO_ROOT / ".." / "shared" / "data"
    path = (root / name).resolve()
    if not path.is_dir():
        pytest.fail(f"shared data {name or 'folder'!r} not found at {path} "
                    f"({'SEMLINK_DATA=' + env if env else '../shared/data next to the repository'}); "
                    "set SEMLINK_DATA=/path/to/data (holding kodak24/, coco-sample/) to run these tests",
                    pytrace=False)
    return path
