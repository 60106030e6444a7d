"""Deep JSCC (Bourtsoulatze et al. 2019): shapes, power, training, checkpoints, shipped weights."""

import math
import re
from pathlib import Path

import pytest
import torch

from conftest import shared_data_dir
from semlink.links.link import Link
from semlink.links.profiles import DEFAULT_PROFILES
from semlink.provenance import TEST_MODEL_MARKER, hash_path, hash_state_dict
from semlink.semantic import make_codec
from semlink.semantic.deepjscc import (
    DeepJSCC,
    builtin_checkpoint,
    channels_for_ratio,
    load_checkpoint,
    save_checkpoint,
)
from semlink.semantic.train_deepjscc import _images, evaluate, export_path, train_deepjscc


def test_bandwidth_ratio_and_symbol_count_with_padding():
    assert channels_for_ratio(1 / 6) == 16 and channels_for_ratio(1 / 12) == 8
    with pytest.raises(ValueError, match="c/96"):
        channels_for_ratio(0.1)
    model = DeepJSCC(16)
    for h, w in ((64, 96), (30, 45)):
        s = model.to_symbols(torch.rand(2, 3, h, w))
        assert s.shape == (2, model.symbols_for(h, w))
        assert model.symbols_for(h, w) == 16 * math.ceil(h / 4) * math.ceil(w / 4) // 2
        assert model.from_symbols(s, (h, w)).shape == (2, 3, h, w)
    assert model.symbols_for(64, 96) / (3 * 64 * 96) == pytest.approx(1 / 6)


def test_power_constraint_holds_per_image():
    model = DeepJSCC(8)
    s = model.to_symbols(torch.rand(4, 3, 32, 32) * torch.tensor([0.1, 1, 5, 50]).view(4, 1, 1, 1))
    assert torch.allclose(s.abs().square().mean(dim=1), torch.ones(4), atol=1e-5)


def test_a_training_step_lowers_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    model = DeepJSCC(16)
    # smooth, image-like batch (random 8x8 colour fields upsampled)
    x = torch.nn.functional.interpolate(torch.rand(8, 3, 8, 8), size=(32, 32), mode="bilinear")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss():
        return torch.nn.functional.mse_loss(model.from_symbols(model.to_symbols(x), (32, 32)), x)

    before = loss().item()
    for _ in range(20):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    assert loss().item() < 0.9 * before


def test_checkpoint_save_load_is_exact(tmp_path):
    model = DeepJSCC(8)
    save_checkpoint(tmp_path / "m.pt", model, {"snr_db": 5.0})
    loaded, ckpt = load_checkpoint(tmp_path / "m.pt")
    x = torch.rand(2, 3, 16, 24)
    with torch.no_grad():
        assert torch.equal(model.eval().to_symbols(x), loaded.to_symbols(x))
    assert ckpt["meta"]["snr_db"] == 5.0
    with pytest.raises(FileNotFoundError, match="semlink train deepjscc"):
        load_checkpoint(tmp_path / "missing.pt")


def test_loading_and_evaluation_put_the_model_on_the_requested_device(tmp_path, monkeypatch, device):
    """load_checkpoint(map_location=D) and evaluate(device=D) run the model on D (the H200 run
    found a CPU model next to CUDA images). Without a GPU the moves are recorded: the file is
    read on the host and DeepJSCC.to only notes where it was sent."""
    save_checkpoint(tmp_path / "m.pt", DeepJSCC(8), {"snr_db": 5.0})
    real_load, moves = torch.load, []
    monkeypatch.setattr(torch, "load", lambda *a, **kw: real_load(*a, **{**kw, "map_location": "cpu"}))
    monkeypatch.setattr(DeepJSCC, "to", lambda self, *a, **kw: moves.append(a) or self)
    model, _ = load_checkpoint(tmp_path / "m.pt", map_location="cuda:0")
    assert moves == [("cuda:0",)] and not model.training
    moves.clear()          # evaluate really runs: the spy now moves the model too
    monkeypatch.setattr(DeepJSCC, "to",
                        lambda self, *a, **kw: moves.append(a) or torch.nn.Module.to(self, *a, **kw))
    out = evaluate(model, [torch.rand(3, 16, 16)], [10.0], "awgn", device=device)
    assert [str(torch.device(*m)) for m in moves] == [str(torch.device(device))]
    assert math.isfinite(out[10.0])


def test_training_resume_equals_uninterrupted(tmp_path, image_dir):
    kw = dict(snr_db=5.0, ratio=1 / 12, steps=6, batch_size=4, crop=16, checkpoint_every=3,
              progress=False)
    train_deepjscc(str(image_dir), str(tmp_path / "full"), **kw)
    kw_short = dict(kw, steps=3)
    train_deepjscc(str(image_dir), str(tmp_path / "resumed"), **kw_short)
    with pytest.raises(ValueError, match="--resume"):
        train_deepjscc(str(image_dir), str(tmp_path / "resumed"), **kw)
    train_deepjscc(str(image_dir), str(tmp_path / "resumed"), resume=True, **kw)
    a, _ = load_checkpoint(tmp_path / "full" / "last.pt")
    b, _ = load_checkpoint(tmp_path / "resumed" / "last.pt")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.allclose(p, q, atol=1e-6), name
    log = (tmp_path / "resumed" / "train_log.csv").read_text().splitlines()
    assert log[0].startswith("step,loss_mse")


def test_shipped_checkpoint_beats_trivial_baselines_on_a_real_photo(device):
    skdata = pytest.importorskip("skimage.data", reason="needs pip install 'semlink[examples]'")
    assert builtin_checkpoint(1 / 6).is_file() and builtin_checkpoint(1 / 12).is_file()
    img = torch.from_numpy(skdata.astronaut()[::2, ::2].copy()).permute(2, 0, 1).float() / 255
    codec = make_codec("deepjscc", {"ratio": 1 / 6})
    link = Link(DEFAULT_PROFILES, "awgn", seed=0, device=device)
    payload = codec.encode([img])
    assert payload.streams["symbols"].data[0].numel() == 256 * 256 // 2
    psnr = {}
    for snr in (0.0, 20.0):
        rec = codec.decode(link.transmit(payload, snr_db=snr)).images[0]
        psnr[snr] = 10 * math.log10(1 / float(((rec - img) ** 2).mean()))
    mean_image = img.mean(dim=(1, 2), keepdim=True).expand_as(img)
    trivial = 10 * math.log10(1 / float(((mean_image - img) ** 2).mean()))
    assert psnr[20.0] > trivial + 10
    assert trivial < psnr[0.0] < psnr[20.0]          # graceful degradation


DOCS = Path(__file__).resolve().parent.parent / "docs" / "codecs.md"


def documented_kodak_psnr() -> dict[int, dict[float, float]]:
    """c -> {Es/N0 [dB]: mean Kodak24 PSNR} from the table in docs/codecs.md."""
    lines = DOCS.read_text().splitlines()
    head = next(line for line in lines if line.startswith("| Es/N0 [dB]"))
    snrs = [float(v) for v in head.strip("|").split("|")[1:]]
    out = {}
    for line in lines:
        m = re.match(r"\| k/n = 1/\d+ \(c = (\d+)\) \|(.*)\|$", line)
        if m:
            out[int(m.group(1))] = dict(zip(snrs, (float(v) for v in m.group(2).split("|")), strict=True))
    assert set(out) == {8, 16}, f"docs/codecs.md: Kodak24 PSNR table not found ({out})"
    return out


@pytest.mark.parametrize("ratio", [1 / 6, 1 / 12])
def test_shipped_checkpoint_matches_its_documented_kodak24_psnr(ratio, device):
    """Regression: the shipped weights on the photos the docs report (all 24 Kodak
    images, full size, AWGN, the training command's own evaluation) within 1 dB."""
    model, ckpt = load_checkpoint(builtin_checkpoint(ratio))
    documented = documented_kodak_psnr()[model.c]
    stored = ckpt["meta"]["eval_psnr_db"]                # written by the training run
    assert {k: round(v, 2) for k, v in stored.items()} == documented
    images = _images(str(shared_data_dir("kodak24")), "kodak24")
    assert len(images) == 24
    measured = evaluate(model, images, [10.0], "awgn", device=device)[10.0]
    assert abs(measured - documented[10.0]) <= 1.0, (measured, documented[10.0])


def test_learning_rate_decays_at_the_given_step(tmp_path, image_dir):
    kw = dict(snr_db=5.0, ratio=1 / 12, batch_size=2, crop=16, progress=False, lr=1e-3)
    train_deepjscc(str(image_dir), str(tmp_path / "a"), steps=2, lr_decay_step=3, **kw)
    train_deepjscc(str(image_dir), str(tmp_path / "b"), steps=4, lr_decay_step=3, **kw)
    lr_a = torch.load(tmp_path / "a" / "last.pt", weights_only=False)["optimizer"]["param_groups"][0]["lr"]
    lr_b = torch.load(tmp_path / "b" / "last.pt", weights_only=False)["optimizer"]["param_groups"][0]["lr"]
    assert lr_a == pytest.approx(1e-3) and lr_b == pytest.approx(1e-4)


def test_training_writes_its_provenance_and_a_shippable_model(tmp_path, image_dir):
    out = tmp_path / "run"
    result = train_deepjscc(str(image_dir), str(out), snr_db=5.0, ratio=1 / 12, steps=2,
                            batch_size=2, crop=16, progress=False, eval_data=str(image_dir),
                            eval_snr_db=(5.0,))
    assert result["model"] == str(export_path(out))
    model, ckpt = load_checkpoint(export_path(out))
    meta = ckpt["meta"]
    assert ckpt["optimizer"] is None and not any(k.startswith("rng_") for k in meta)
    assert meta["written_by"].startswith("semlink train deepjscc")
    assert meta["arguments"]["steps"] == 2 and meta["arguments"]["snr_db"] == 5.0
    assert meta["arguments"]["data"] == str(image_dir) and meta["argv"]
    assert meta["data_sha256"].startswith("sha256:") and meta["eval_psnr_db"]
    assert meta["data_sha256"] == meta["eval_data_sha256"]      # same folder, same content
    assert meta["torch"] == torch.__version__ and "semlink_version" in meta
    last, _ = load_checkpoint(out / "last.pt")
    assert hash_state_dict(model.state_dict()) == hash_state_dict(last.state_dict())
    # a different image set gives a different data fingerprint
    other = train_deepjscc(str(image_dir / "img00.png"), str(tmp_path / "b"), snr_db=5.0,
                           ratio=1 / 12, steps=1, batch_size=1, crop=16, progress=False)
    assert load_checkpoint(other["model"])[1]["meta"]["data_sha256"] != meta["data_sha256"]


def test_codec_records_the_checkpoint_it_loaded(tmp_path):
    shipped = make_codec("deepjscc", {"ratio": 1 / 12})
    (rec,) = shipped.models()
    assert rec.role == "deepjscc" and rec.ref == "builtin:deepjscc_c8.pt"
    assert rec.sha256 == hash_state_dict(shipped.model.state_dict())
    assert rec.extra["file_sha256"] == hash_path(builtin_checkpoint(1 / 12))
    assert not rec.random_init and not rec.test_model
    assert rec.extra["training"]["snr_db"] == 10.0 and "rng_data" not in rec.extra["training"]
    prov = shipped.provenance()
    assert prov["params"]["ratio"] == pytest.approx(1 / 12) and prov["models"] == [rec.to_dict()]
    # a checkpoint in a folder built by a test fixture is flagged
    folder = tmp_path / "tiny"
    folder.mkdir()
    save_checkpoint(folder / "m.pt", DeepJSCC(8), {"snr_db": 0.0})
    (folder / TEST_MODEL_MARKER).write_text("{}")
    (rec,) = make_codec("deepjscc", {"checkpoint": str(folder / "m.pt")}).models()
    assert rec.test_model and rec.ref == str(folder / "m.pt")
    assert rec.extra["meta_written_by_training_command"] is False
