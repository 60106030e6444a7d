"""Training of deep JSCC: ``semlink train deepjscc`` (Bourtsoulatze et al. 2019).

Random ``crop x crop`` patches (with horizontal flips) of the training
images are encoded, power-normalised, sent through a semlink channel at the
training SNR (the same differentiable Sionna-block channel as in sweeps,
with its equalisation) and decoded; the loss is the MSE. Adam. Runs on the shared
training loop (:mod:`semlink.semantic.training.loop`): checkpoints
(``last.pt``, atomic) every ``checkpoint_every`` steps with optimizer and
RNG state, so ``resume=True`` continues exactly; a CSV log
(``train_log.csv``); evaluation through the real analog chain at several SNRs
(``eval.csv``); at the end ``model.pt``, the weights with the training
metadata and without optimizer/RNG state (the shippable file).
"""

from __future__ import annotations

import csv
import math
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from semlink.device import DEFAULT_DEVICE, resolve_device
from semlink.phy import AnalogChain, make_channel, snr_db_to_no
from semlink.provenance import git_revision, hash_state_dict, package_versions

from .deepjscc import DeepJSCC, channels_for_ratio, load_checkpoint, save_checkpoint
from .training.config import config_from_call, config_options, setting
from .training.loop import Trainer, run_training
from .training.registry import TRAINERS


def _images(path: str, key: str) -> list[torch.Tensor]:
    from semlink.data import ImageDataset

    ds = ImageDataset(path, key=key)
    return [ds[i].image for i in range(len(ds))]


def _fingerprint(images: list[torch.Tensor]) -> str:
    """Content hash of decoded images (format- and location-independent)."""
    return hash_state_dict({f"{i:06d}": img for i, img in enumerate(images)})


def _provenance_meta(arguments: dict, images, eval_images) -> dict:
    """What the training command writes into every checkpoint about how it was made."""
    from semlink import __version__

    versions = package_versions()
    return {"written_by": "semlink train deepjscc (semlink.semantic.train_deepjscc)",
            "arguments": arguments, "argv": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "data_sha256": _fingerprint(images),
            "eval_data_sha256": _fingerprint(eval_images) if eval_images else None,
            "semlink_version": __version__, "git_revision": git_revision(),
            "torch": torch.__version__, "sionna": versions.get("sionna-no-rt")}


def export_path(out: str | Path) -> Path:
    """``OUT/model.pt``: the final weights + metadata, without optimizer and RNG state
    (what ships in ``semantic/weights/``)."""
    return Path(out) / "model.pt"


def _batch(images, batch_size: int, crop: int, gen: torch.Generator) -> torch.Tensor:
    out = []
    for _ in range(batch_size):
        img = images[int(torch.randint(len(images), (1,), generator=gen, device="cpu"))]
        h, w = img.shape[-2:]
        if min(h, w) < crop:
            s = crop / min(h, w)
            img = F.interpolate(img[None], size=(math.ceil(h * s), math.ceil(w * s)),
                                mode="bilinear", align_corners=False)[0]
            h, w = img.shape[-2:]
        y = int(torch.randint(h - crop + 1, (1,), generator=gen, device="cpu"))
        x = int(torch.randint(w - crop + 1, (1,), generator=gen, device="cpu"))
        patch = img[:, y:y + crop, x:x + crop]
        if bool(torch.rand(1, generator=gen, device="cpu") < 0.5):
            patch = patch.flip(-1)
        out.append(patch)
    return torch.stack(out)


def psnr_db(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(torch.mean((a - b) ** 2))
    return 100.0 if mse == 0 else 10 * math.log10(1 / mse)


@torch.no_grad()
def evaluate(model: DeepJSCC, images, snrs, channel, seed: int = 0,
             device: str = DEFAULT_DEVICE) -> dict:
    """Mean PSNR [dB] over ``images`` at each Es/N0 in ``snrs`` through the analog chain.

    :param device: :func:`semlink.device.resolve_device` rule (``auto``: first GPU, else CPU);
        the model is moved there (``model.to(device)``) and evaluated there.
    """
    device = resolve_device(device)
    model.to(device).eval()
    chain = AnalogChain(channel=channel, seed=seed, device=device)
    out = {}
    for snr in snrs:
        chain.channel.reseed(seed)
        values = []
        for img in images:
            s = model.to_symbols(img[None].to(device))[0]
            (y,), _ = chain.transmit([s], snr_db=snr)
            rec = model.from_symbols(y[None].to(torch.complex64), img.shape[-2:])[0].clamp(0, 1)
            values.append(psnr_db(rec.cpu(), img))
        out[float(snr)] = float(np.mean(values))
    return out


@dataclass
class DeepJSCCConfig:
    """Every setting of a deep JSCC training run: ``semlink train deepjscc`` options, the
    :class:`DeepJSCCTrainer` and its records (``train_config.json``, the checkpoint's
    ``meta``) come from these fields. Bad values raise ``ValueError`` here, before any
    image is read.

    ``snr_db``: training Es/N0 [dB]; ``ratio``: bandwidth ratio k/n (= c / 96);
    ``lr_decay_step``: from this step on the learning rate is ``lr / 10`` (the paper lowers
    Adam's rate from 1e-3 to 1e-4 late in training); ``eval_data``: held-out images evaluated
    at the end at ``eval_snr_db`` (``eval.csv``).
    """

    data: str = setting(help="training images (folder or glob)", kind="str", required=True)
    snr_db: float = setting(10.0, "training Es/N0 [dB]", kind="float")
    ratio: float = setting(1 / 6, "bandwidth ratio k/n = c/96", kind="float")
    channel: str | dict = setting("awgn", "channel name, e.g. awgn, rayleigh", kind="str")
    steps: int = setting(3000, "optimisation steps", kind="int")
    batch_size: int = setting(16, "patches per step", kind="int")
    crop: int = setting(64, "random crop size (multiple of 4)", kind="int")
    lr: float = setting(1e-3, "Adam learning rate", kind="float")
    lr_decay_step: int | None = setting(None, "from this step on, lr/10", kind="int")
    seed: int = setting(0, "seed of init, batches and channel", kind="int")
    eval_data: str | None = setting(None, "held-out images evaluated at the end", kind="str")
    eval_snr_db: list = setting(help="evaluation Es/N0 points [dB]", kind="floats",
                                default_factory=lambda: [0.0, 5.0, 10.0, 15.0, 20.0])
    device: str = setting(DEFAULT_DEVICE, "torch device: auto (first CUDA device if any, else "
                          "cpu), cpu, cuda, cuda:N", kind="str")

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "crop"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if self.crop % 4:
            raise ValueError(f"crop must be a multiple of 4, got {self.crop}")
        channels_for_ratio(self.ratio)                  # a ratio no channel count gives: error now
        self.eval_snr_db = [float(v) for v in self.eval_snr_db]


@TRAINERS.register("deepjscc", "deep JSCC (Bourtsoulatze et al. 2019): MSE through the channel")
class DeepJSCCTrainer(Trainer):
    """Deep JSCC trainer (see the module docstring; ``semlink train deepjscc``) for a
    :class:`DeepJSCCConfig`."""

    name = "deepjscc"
    log_fields = ("loss_mse", "train_psnr_db")
    CONFIG = DeepJSCCConfig
    OPTIONS = config_options(DeepJSCCConfig)

    def __init__(self, config: DeepJSCCConfig) -> None:
        self.check_config(config)
        cfg = config
        device = resolve_device(cfg.device, name="device")   # before any data is read
        self.c = channels_for_ratio(cfg.ratio)
        self.images = _images(cfg.data, "--data")
        self.eval_images = _images(cfg.eval_data, "--eval-data") if cfg.eval_data else []
        self.steps, self.batch_size, self.crop, self.lr = cfg.steps, cfg.batch_size, cfg.crop, cfg.lr
        self.lr_decay_step, self.device, self.channel_spec = cfg.lr_decay_step, device, cfg.channel
        self.eval_data, self.eval_snr_db = cfg.eval_data, list(cfg.eval_snr_db)
        self.meta = {"paper": "Bourtsoulatze, Kurka, Gunduz 2019", "snr_db": float(cfg.snr_db),
                     "ratio": self.c / 96, "channel": cfg.channel, "crop": cfg.crop,
                     "batch_size": cfg.batch_size, "lr": cfg.lr, "lr_decay_step": cfg.lr_decay_step,
                     "data": str(cfg.data), "num_train_images": len(self.images), "seed": cfg.seed}
        # how this run was made (not compared on resume): written into every checkpoint
        arguments = {**asdict(cfg), "data": str(cfg.data), "snr_db": float(cfg.snr_db),
                     "device": device}
        self.provenance = _provenance_meta(arguments, self.images, self.eval_images)
        torch.manual_seed(cfg.seed)
        self.model = DeepJSCC(self.c).to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.gen = torch.Generator(device="cpu").manual_seed(cfg.seed)   # host-side batch sampling
        self.ch = make_channel(cfg.channel, seed=cfg.seed + 1, device=device)
        self.no = snr_db_to_no(cfg.snr_db)
        self.model.train()

    def config(self) -> dict:
        return {"c": self.c, **{k: v for k, v in self.meta.items() if k != "paper"},
                "steps": self.steps}

    def total_steps(self) -> int:
        return self.steps

    def train_step(self, step: int) -> dict[str, float]:
        model, opt, device = self.model, self.opt, self.device
        for group in opt.param_groups:
            group["lr"] = self.lr / 10 if self.lr_decay_step and step >= self.lr_decay_step else self.lr
        x = _batch(self.images, self.batch_size, self.crop, self.gen).to(device)
        s = model.to_symbols(x)
        y, _ = self.ch(s, torch.full((x.shape[0],), self.no, device=device))
        rec = model.from_symbols(y, x.shape[-2:])
        loss = F.mse_loss(rec, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss_mse": loss.item(), "train_psnr_db": 10 * math.log10(1 / loss.item())}

    def save_checkpoint(self, path: Path, step: int, seconds: float) -> None:
        self.meta.update(rng_data=self.gen.get_state(), rng_channel=self.ch.generator.get_state(),
                         train_seconds=seconds)
        save_checkpoint(path, self.model, {**self.meta, **self.provenance}, self.opt, step)

    def restore(self, path: Path) -> tuple[int, float, dict]:
        model, ckpt = load_checkpoint(path, map_location=self.device)
        self.model = model.to(self.device).train()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.opt.load_state_dict(ckpt["optimizer"])
        meta = ckpt["meta"]
        # RNG states are host ByteTensors; map_location moved them to the training device
        self.gen.set_state(meta["rng_data"].cpu())
        self.ch.generator.set_state(meta["rng_channel"].cpu())
        saved = {"c": ckpt["c"], **{k: meta.get(k) for k in self.meta if k != "paper"},
                 "steps": self.steps}
        return int(ckpt["step"]), float(meta.get("train_seconds", 0.0)), saved

    def finish(self, out_dir: Path, result: dict) -> dict:
        extra: dict = {}
        if self.eval_images:
            extra["eval_psnr_db"] = self._evaluate(out_dir, result)
        export = export_path(out_dir)
        meta = {k: v for k, v in {**self.meta, **self.provenance}.items() if not k.startswith("rng_")}
        save_checkpoint(export, self.model, meta, None, result["steps"])
        extra["model"] = str(export)
        return extra

    def _evaluate(self, out_dir: Path, result: dict) -> dict:
        ev = evaluate(self.model, self.eval_images, self.eval_snr_db, self.channel_spec,
                      device=self.device)
        with open(out_dir / "eval.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["snr_db", "psnr_db"])
            for k, v in ev.items():
                w.writerow([k, f"{v:.3f}"])
        self.meta.update(eval_psnr_db=ev, eval_data=str(self.eval_data))
        save_checkpoint(out_dir / "last.pt", self.model, {**self.meta, **self.provenance},
                        self.opt, result["steps"])
        return ev


def train_deepjscc(config: DeepJSCCConfig | str, out: str, resume: bool = False,
                   checkpoint_every: int = 250, log_every: int = 25, progress: bool | None = None,
                   **settings) -> dict:
    """Train (or resume) a deep JSCC model into ``out``; return final metrics and file paths.

    :param config: a :class:`DeepJSCCConfig`, or the training images (``data``) with the other
        settings as keywords (the fields of :class:`DeepJSCCConfig`; an unknown name raises a
        ``TypeError`` listing the valid ones).

    :class:`DeepJSCCTrainer` on the shared loop
    (:func:`~semlink.semantic.training.loop.run_training`).
    """
    cfg = config_from_call(DeepJSCCConfig, config, settings, "train_deepjscc")
    return run_training(DeepJSCCTrainer(cfg), out, resume=resume,
                        checkpoint_every=checkpoint_every, log_every=log_every, progress=progress)
