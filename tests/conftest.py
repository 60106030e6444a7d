import os

# Triton's interpreter must be chosen before anything imports triton: triton.language's
# own @jit helpers (tl.max, ...) are built interpreted or compiled when triton is first
# imported, and torch, transformers or diffusers may import it early.  On the CPU the
# Triton LDPC decoder (decoder: triton) runs in the interpreter, as in its tests.
if not os.environ.get("SEMLINK_TEST_DEVICE", "cpu").strip().startswith(("cuda", "gpu")):
    os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

# --- the device the suite runs on ------------------------------------------------------
#: ``SEMLINK_TEST_DEVICE`` (default ``cpu``): the device tests build chains, codecs and
#: metrics on.  ``SEMLINK_TEST_DEVICE=cuda`` runs the same suite on the first GPU
#: (scripts/gpu_check.sh does).  Read once; an unusable value fails the session loudly.
TEST_DEVICE_ENV = "SEMLINK_TEST_DEVICE"


def _test_device() -> str:
    raw = os.environ.get(TEST_DEVICE_ENV, "cpu").strip() or "cpu"
    if raw.startswith("cuda") or raw == "gpu":
        if not torch.cuda.is_available():
            raise pytest.UsageError(
                f"{TEST_DEVICE_ENV}={raw!r} but no CUDA device is visible here; "
                f"unset it (tests then run on the CPU) or run on a GPU machine")
        raw = "cuda:0" if raw in ("cuda", "gpu") else raw
    elif raw != "cpu":
        raise pytest.UsageError(
            f"{TEST_DEVICE_ENV}={raw!r} is not a device; use 'cpu', 'cuda' or 'cuda:N'")
    return raw


TEST_DEVICE = _test_device()


@pytest.fixture
def device() -> str:
    """The device string tests build chains/codecs/metrics on (``cpu`` unless
    ``SEMLINK_TEST_DEVICE`` names a CUDA device).  Pass it explicitly everywhere;
    move chain outputs to the host with ``.cpu()`` before ``.numpy()``."""
    return TEST_DEVICE


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` need CUDA: they skip (with the reason) where there is none."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (marker 'gpu'); none is visible here")
    for item in items:
        if item.get_closest_marker("gpu") is not None:   # not item.keywords: ids like [gpu]
            item.add_marker(skip)


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


# --- test data: $SEMLINK_DATA, then ../shared/data, then the user cache (semlink.data_fetch) ---
from pathlib import Path  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir(name: str = "") -> Path:
    """The test data set ``name`` (``"kodak24"``, ``"coco-sample"``), found in the order of
    :func:`semlink.data_fetch.find`: ``$SEMLINK_DATA/name``, ``../shared/data/name`` next to
    this checkout, the user cache; ``name=""``: the first root that holds them all.

    Tests that need it FAIL (never skip) when it is absent, with the exact command that
    fetches it: a test suite that silently skips its data tests proves nothing.
    """
    from semlink import data_fetch

    if name:
        folder = data_fetch.find(name, REPO_ROOT)
        if folder is None:
            pytest.fail(data_fetch.not_found_message(name, REPO_ROOT), pytrace=False)
        return folder
    root = data_fetch.common_root(REPO_ROOT)
    if root is not None:
        return root
    pytest.fail("no data folder holds every test data set; fetch them with: "
                "semlink data fetch --all", pytrace=False)
