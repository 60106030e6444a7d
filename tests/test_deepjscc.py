"""Deep JSCC (Bourtsoulatze et al. 2019): shapes, power, training, checkpoints, shipped weights."""

import math

import pytest
import torch

from semlink.links.link import Link
from semlink.links.profiles import DEFAULT_PROFILES
from semlink.semantic import make_codec
from semlink.semantic.deepjscc import (DeepJSCC, builtin_checkpoint, channels_for_ratio,
                                       load_checkpoint, save_checkpoint)
from semlink.semantic.train_deepjscc import train_deepjscc


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
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(p, q, atol=1e-6), name
    log = (tmp_path / "resumed" / "train_log.csv").read_text().splitlines()
    assert log[0].startswith("step,loss_mse")


def test_shipped_checkpoint_beats_trivial_baselines_on_a_real_photo():
    skdata = pytest.importorskip("skimage.data", reason="needs pip install 'semlink[examples]'")
    assert builtin_checkpoint(1 / 6).is_file() and builtin_checkpoint(1 / 12).is_file()
    img = torch.from_numpy(skdata.astronaut()[::2, ::2].copy()).permute(2, 0, 1).float() / 255
    codec = make_codec("deepjscc", {"ratio": 1 / 6})
    link = Link(DEFAULT_PROFILES, "awgn", seed=0)
    payload = codec.encode([img])
    assert payload.streams["symbols"].data[0].numel() == 256 * 256 // 2
    psnr = {}
    for snr in (0.0, 20.0):
        rec = codec.decode(link.transmit(payload, snr_db=snr)).images[0]
        psnr[snr] = 10 * math.log10(1 / float(((rec - img) ** 2).mean()))
    mean_image = img.mean(dim=(1, 2), keepdim=True).expand_as(img)
    trivial = 10 * math.log10(1 / float(((mean_image - img) ** 2).mean()))
    assert psnr[20.0] > trivial + 10 and psnr[20.0] > 22
    assert trivial < psnr[0.0] < psnr[20.0]          # graceful degradation


def test_learning_rate_decays_at_the_given_step(tmp_path, image_dir):
    kw = dict(snr_db=5.0, ratio=1 / 12, batch_size=2, crop=16, progress=False, lr=1e-3)
    train_deepjscc(str(image_dir), str(tmp_path / "a"), steps=2, lr_decay_step=3, **kw)
    train_deepjscc(str(image_dir), str(tmp_path / "b"), steps=4, lr_decay_step=3, **kw)
    lr_a = torch.load(tmp_path / "a" / "last.pt", weights_only=False)["optimizer"]["param_groups"][0]["lr"]
    lr_b = torch.load(tmp_path / "b" / "last.pt", weights_only=False)["optimizer"]["param_groups"][0]["lr"]
    assert lr_a == pytest.approx(1e-3) and lr_b == pytest.approx(1e-4)
