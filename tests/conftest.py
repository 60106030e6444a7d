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
