"""Training of deep JSCC: ``semlink train deepjscc`` (Bourtsoulatze et al. 2019).

Random ``crop x crop`` patches (with horizontal flips) of the training
images are encoded, power-normalised, sent through a semlink channel at the
training SNR (the same differentiable Sionna-block channel as in sweeps,
with its equalisation) and decoded; the loss is the MSE. Adam. Checkpoints
(``last.pt``, atomic) every ``checkpoint_every`` steps with optimizer and
RNG state, so ``resume=True`` continues exactly; a CSV log
(``train_log.csv``); evaluation through the real analog chain at several SNRs
(``eval.csv``).
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from semlink.phy import AnalogChain, make_channel, snr_db_to_no

from .deepjscc import DeepJSCC, channels_for_ratio, load_checkpoint, save_checkpoint


def _images(path: str, key: str) -> list[torch.Tensor]:
    from semlink.data import ImageDataset

    ds = ImageDataset(path, key=key)
    return [ds[i].image for i in range(len(ds))]


def _batch(images, batch_size: int, crop: int, gen: torch.Generator) -> torch.Tensor:
    out = []
    for _ in range(batch_size):
        img = images[int(torch.randint(len(images), (1,), generator=gen))]
        h, w = img.shape[-2:]
        if min(h, w) < crop:
            s = crop / min(h, w)
            img = F.interpolate(img[None], size=(math.ceil(h * s), math.ceil(w * s)),
                                mode="bilinear", align_corners=False)[0]
            h, w = img.shape[-2:]
        y = int(torch.randint(h - crop + 1, (1,), generator=gen))
        x = int(torch.randint(w - crop + 1, (1,), generator=gen))
        patch = img[:, y:y + crop, x:x + crop]
        if bool(torch.rand(1, generator=gen) < 0.5):
            patch = patch.flip(-1)
        out.append(patch)
    return torch.stack(out)


def psnr_db(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(torch.mean((a - b) ** 2))
    return 100.0 if mse == 0 else 10 * math.log10(1 / mse)


@torch.no_grad()
def evaluate(model: DeepJSCC, images, snrs, channel, seed: int = 0, device: str = "cpu") -> dict:
    """Mean PSNR [dB] over ``images`` at each Es/N0 in ``snrs`` through the analog chain."""
    model.eval()
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


def train_deepjscc(data: str, out: str, snr_db: float = 10.0, ratio: float = 1 / 6,
                   channel="awgn", steps: int = 3000, batch_size: int = 16, crop: int = 64,
                   lr: float = 1e-3, seed: int = 0, resume: bool = False,
                   eval_data: str | None = None, eval_snr_db=(0, 5, 10, 15, 20),
                   checkpoint_every: int = 250, log_every: int = 25, device: str = "cpu",
                   progress: bool | None = None, lr_decay_step: int | None = None) -> dict:
    """Train (or resume) a deep JSCC model; return final metrics and file paths.

    ``lr_decay_step``: from this step on the learning rate is ``lr / 10`` (the
    paper lowers Adam's rate from 1e-3 to 1e-4 late in training).
    """
    for name, v in (("steps", steps), ("batch_size", batch_size), ("crop", crop),
                    ("checkpoint_every", checkpoint_every)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if crop % 4:
        raise ValueError(f"crop must be a multiple of 4, got {crop}")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    last = out_dir / "last.pt"
    c = channels_for_ratio(ratio)
    images = _images(data, "--data")
    eval_images = _images(eval_data, "--eval-data") if eval_data else []
    meta = {"paper": "Bourtsoulatze, Kurka, Gunduz 2019", "snr_db": float(snr_db),
            "ratio": c / 96, "channel": channel, "crop": crop, "batch_size": batch_size,
            "lr": lr, "lr_decay_step": lr_decay_step, "data": str(data),
            "num_train_images": len(images), "seed": seed}
    torch.manual_seed(seed)
    model = DeepJSCC(c).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    ch = make_channel(channel, seed=seed + 1, device=device)
    step, seconds = 0, 0.0
    if resume and last.exists():
        model, ckpt = load_checkpoint(last, map_location=device)
        model.to(device).train()
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        opt.load_state_dict(ckpt["optimizer"])
        step = ckpt["step"]
        gen.set_state(ckpt["meta"]["rng_data"])
        ch.generator.set_state(ckpt["meta"]["rng_channel"])
        seconds = ckpt["meta"].get("train_seconds", 0.0)
        if ckpt["meta"].get("snr_db") != float(snr_db) or ckpt["c"] != c:
            raise ValueError(f"--resume: {last} was trained with snr_db={ckpt['meta'].get('snr_db')}, "
                             f"c={ckpt['c']}; use the same settings or another --out")
    elif last.exists():
        raise ValueError(f"{last} exists; pass --resume to continue or choose another --out")
    log_path = out_dir / "train_log.csv"
    new_log = not (resume and log_path.exists())
    log = open(log_path, "w" if new_log else "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "loss_mse", "train_psnr_db", "seconds"])
    no = snr_db_to_no(snr_db)
    bar = None
    show = progress if progress is not None else __import__("sys").stderr.isatty()
    if show:
        from tqdm import tqdm

        bar = tqdm(total=steps, initial=step, unit="step", desc="deepjscc")
    model.train()
    t0 = time.perf_counter() - seconds
    try:
        while step < steps:
            for group in opt.param_groups:
                group["lr"] = lr / 10 if lr_decay_step and step >= lr_decay_step else lr
            x = _batch(images, batch_size, crop, gen).to(device)
            s = model.to_symbols(x)
            y, _ = ch(s, torch.full((x.shape[0],), no, device=device))
            rec = model.from_symbols(y, x.shape[-2:])
            loss = F.mse_loss(rec, x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % log_every == 0 or step == steps:
                writer.writerow([step, f"{loss.item():.6g}", f"{10 * math.log10(1 / loss.item()):.3f}",
                                 f"{time.perf_counter() - t0:.1f}"])
                log.flush()
            if bar:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4g}")
            if step % checkpoint_every == 0 or step == steps:
                meta.update(rng_data=gen.get_state(), rng_channel=ch.generator.get_state(),
                            train_seconds=time.perf_counter() - t0)
                save_checkpoint(last, model, meta, opt, step)
    finally:
        log.close()
        if bar:
            bar.close()
    result = {"checkpoint": str(last), "steps": step, "train_seconds": time.perf_counter() - t0}
    if eval_images:
        ev = evaluate(model, eval_images, list(eval_snr_db), channel, device=device)
        with open(out_dir / "eval.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["snr_db", "psnr_db"])
            for k, v in ev.items():
                w.writerow([k, f"{v:.3f}"])
        result["eval_psnr_db"] = ev
        meta.update(eval_psnr_db=ev, eval_data=str(eval_data))
        save_checkpoint(last, model, meta, opt, step)
    return result
