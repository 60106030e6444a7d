"""The one device rule (semlink.device, issue 19): auto, explicit wins, clear errors."""

import pytest
import torch

from semlink.device import DEFAULT_DEVICE, DeviceError, is_device_spec, resolve_device

CUDA_COUNT = torch.cuda.device_count() if torch.cuda.is_available() else 0


def test_auto_and_none_are_the_first_cuda_device_else_the_cpu():
    want = "cuda:0" if CUDA_COUNT else "cpu"
    assert DEFAULT_DEVICE == "auto"
    assert resolve_device("auto") == resolve_device(None) == want


def test_explicit_cpu_wins_and_torch_devices_are_accepted():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device(torch.device("cpu")) == "cpu"


@pytest.mark.parametrize("bad", ["tpu", "cuda:x", "CUDA", "", "cuda:-1", 3])
def test_malformed_devices_name_the_value_and_the_choices(bad):
    assert not is_device_spec(bad)
    with pytest.raises(DeviceError, match=r"--device .* is not a device; use 'auto'"):
        resolve_device(bad, name="--device")


@pytest.mark.parametrize("device", ["cuda", "gpu", "cuda:0"])
def test_cuda_without_a_gpu_is_a_clear_error(device):
    if CUDA_COUNT:
        pytest.skip(f"checks the error for a GPU that is absent; this machine has "
                    f"{CUDA_COUNT} CUDA device(s), so {device!r} exists")
    with pytest.raises(DeviceError, match=rf"device '{device}' is not available: no CUDA GPU is "
                                          r"visible here .*use 'cpu', or 'auto'"):
        resolve_device(device)
    assert issubclass(DeviceError, ValueError)


def test_cuda_index_beyond_the_count_names_the_count():
    index = CUDA_COUNT + 1
    have = (f"this machine has {CUDA_COUNT} CUDA device\\(s\\)" if CUDA_COUNT
            else "no CUDA GPU is visible here")
    with pytest.raises(DeviceError, match=rf"'cuda:{index}' is not available: {have}"):
        resolve_device(f"cuda:{index}")


@pytest.mark.gpu
def test_cuda_names_resolve_to_an_index_on_a_gpu_machine():
    assert resolve_device("cuda") == resolve_device("gpu") == resolve_device("cuda:0") == "cuda:0"
    assert resolve_device(torch.device("cuda")) == "cuda:0"
    assert resolve_device(f"cuda:{CUDA_COUNT - 1}") == f"cuda:{CUDA_COUNT - 1}"


def test_phy_chains_follow_the_rule(device):
    from semlink.phy import DigitalChain, resolve_device as phy_resolve

    assert phy_resolve(None) == resolve_device("auto")
    chain = DigitalChain(code="none", k=64, modulation="qpsk", device=device)
    assert chain.device == device
    (rx,), _ = chain.transmit([torch.ones(100, dtype=torch.uint8, device="cpu")], snr_db=30.0)
    assert rx.device == torch.device(device)          # outputs stay on the chain's device
    assert torch.equal(rx.cpu(), torch.ones(100, dtype=rx.dtype))


def test_run_device_option_overrides_the_scenario_and_is_recorded(tmp_path, image_dir):
    import yaml

    from semlink.links.cli import main
    from semlink.links.summary import summarize

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "dataset": {"path": str(image_dir), "max_images": 1}, "codecs": ["raw_pixels"],
        "channels": ["awgn"], "snr_db": [20], "metrics": ["psnr"], "device": "cuda:7"}))
    # the file's device is absent here; --device cpu replaces it before validation
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--device", "cpu",
                 "--no-plot", "--skip-model-check"]) == 0
    summary = summarize(str(tmp_path / "out" / "results.h5"))
    assert summary["env"]["device"] == "cpu"
    assert "device: cpu" in summary["scenario"] or summary["scenario"].get("device") == "cpu"
