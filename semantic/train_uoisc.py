"""Two-phase training of UO-ISC (../papers/uo-isc.md, Sec. III, Algorithm 1).

Phase I: pixel loss (L2, or L1) + lambda * user-intent relevance loss (eq. 11,
from a LLaVA-family judge; off when no VLM is configured or without text
alignment) + quantisation loss (eq. 12). Phase II adds the adversarial loss
of a lightweight PatchGAN discriminator (non-saturating GAN loss), alternating
generator and discriminator updates (eqs. 14-15).

Channel in the loop (optional): ``channel="indices:p"`` replaces each index
by a uniformly random one with probability ``p``; ``channel="phy"`` sends the
indices' bits through a semlink digital chain (``profile``, ``snr_db``) and
decodes from the received indices (straight-through gradients to the
encoder). Checkpoints (``last.pt``, atomic, with optimizer state and step)
allow ``resume``; ``train_log.csv`` logs every ``log_every`` steps.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .train_deepjscc import _batch, psnr_db
from .uoisc import build_uoisc, load_uoisc, save_uoisc


class PatchDiscriminator(nn.Module):
    """Lightweight PatchGAN: three convolutions, logits per patch."""

    def __init__(self, c: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, c, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.InstanceNorm2d(2 * c, affine=True), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 1, 3, 1, 1))

    def forward(self, x):
        return self.net(x * 2 - 1)


def _channel_indices(model, indices, channel, chain, snr_db, gen):
    if channel == "none":
        return indices
    if channel.startswith("indices:"):
        p = float(channel.split(":", 1)[1])
        out = []
        for idx in indices:
            flip = torch.rand(idx.shape, generator=gen) < p
            rnd = torch.randint(0, model.vq.K, idx.shape, generator=gen)
            out.append(torch.where(flip.to(idx.device), rnd.to(idx.device), idx))
        return out
    # phy: per image, all layers' indices -> bits -> chain -> indices
    bits = [model.indices_to_bits([i[b] for i in indices]) for b in range(indices[0].shape[0])]
    rx, _ = chain.transmit(bits, snr_db=snr_db)
    per_image = [model.bits_to_indices(r) for r in rx]
    return [torch.stack([pi[layer] for pi in per_image]).to(indices[0].device)
            for layer in range(len(indices))]


def sample_pairs(images: list[torch.Tensor], item_queries: list[list[str]], batch_size: int,
                 crop: int, gen: torch.Generator, default_query: str) -> tuple[torch.Tensor, list[str]]:
    """One training batch of matched (image, query) pairs.

    Draws ``batch_size`` image indices, takes a random ``crop x crop`` patch
    (with random horizontal flip) of each, and for each drawn image one query
    sampled uniformly among *that image's* queries (``default_query`` when it
    has none). All randomness comes from ``gen``.

    :returns: images ``[batch_size, 3, crop, crop]`` in [0, 1] and the list of
        ``batch_size`` queries, ``queries[b]`` belonging to ``images[b]``.
    """
    picks = torch.randint(len(images), (batch_size,), generator=gen).tolist()
    x = torch.cat([_batch([images[i]], 1, crop, gen) for i in picks])
    qs = []
    for i in picks:
        own = item_queries[i]
        qs.append(own[int(torch.randint(len(own), (1,), generator=gen))] if own else default_query)
    return x, qs


# Arguments that may change when resuming: they do not change what the checkpoint is.
_RESUMABLE = {"steps_phase1", "steps_phase2", "checkpoint_every", "log_every", "device", "progress"}


def _check_resume(ckpt: dict, config: dict, train_args: dict, path: Path) -> None:
    """Refuse to resume with a model configuration or training arguments other than the checkpoint's."""
    diffs = [f"{k}: checkpoint {ckpt['config'].get(k)!r}, now {v!r}"
             for k, v in config.items() if ckpt["config"].get(k) != v]
    saved = ckpt.get("meta", {}).get("train_args")
    if saved is None:
        diffs.append("train_args: the checkpoint does not record its training arguments")
    else:
        diffs += [f"{k}: checkpoint {saved.get(k)!r}, now {v!r}" for k, v in train_args.items()
                  if k not in _RESUMABLE and saved.get(k) != v]
    if diffs:
        raise ValueError(f"cannot resume {path} with different arguments ({'; '.join(diffs)}); "
                         "pass the checkpoint's values, or train into another --out")


def _training_images(data: str, queries: str | None, size: int, vqa: dict | None):
    """The training images with their queries: an ImageDataset, or VQA questions after the split."""
    from semlink.data import ImageDataset

    if vqa is None:
        return ImageDataset(data, queries=queries, resize=size, key="--data")
    from semlink.vqa import VQADataset

    if queries:
        raise ValueError("queries and vqa both given: the queries come from the VQA questions; pass one")
    ds = VQADataset(ImageDataset(data, resize=size, key="--data"), per="image", key="--vqa", **vqa)
    print(f"train uoisc: {ds.counts.line()}", file=sys.stderr)
    return ds


def train_uoisc(data: str, out: str, queries: str | None = None, image_size: int | None = None,
                clip_model: str = "ViT-B-16", pretrained: str | None = "openai",
                clip_config: dict | None = None, layers=(4, 8, 12), dim: int = 256,
                segment_length: int = 32, codebook_size: int = 256, text_alignment: bool = True,
                decoder_channels: int = 128, frozen: bool | None = None,
                steps_phase1: int = 1000, steps_phase2: int = 0, batch_size: int = 8,
                lr: float = 2e-4, lambda_rel: float = 0.1, beta: float = 0.25,
                gamma_adv: float = 0.01, pixel_loss: str = "l2", vlm: str | None = None,
                channel: str = "none", profile: dict | None = None, snr_db: float = 10.0,
                seed: int = 0, resume: bool = False, checkpoint_every: int = 200,
                log_every: int = 25, device: str = "cpu", progress: bool | None = None,
                default_query: str = "What is in the image?", vqa: dict | None = None) -> dict:
    """Train UO-ISC; returns paths, steps and the last losses.

    ``vqa`` (instead of ``queries``): VQA-format questions over the images of
    ``data`` and the animal zero-shot split, ``{questions, annotations,
    instances, split, rule}`` as in a scenario's ``dataset.vqa`` (see
    :mod:`semlink.vqa`); each image is trained with the questions the split
    keeps for it, and images left without any are not used.

    Each training image is paired with one of its own queries (sampled among
    them every time it is drawn, see :func:`sample_pairs`); images without
    queries use ``default_query``. ``resume=True`` continues ``OUT/last.pt``
    only with the same model configuration and training arguments (the steps,
    logging, device and progress may change); otherwise it raises a
    ``ValueError`` naming the differing arguments.
    """
    train_args = dict(data=str(data), queries=None if queries is None else str(queries),
                      image_size=image_size, batch_size=batch_size, lr=lr, lambda_rel=lambda_rel,
                      gamma_adv=gamma_adv, pixel_loss=pixel_loss, vlm=None if vlm is None else str(vlm),
                      channel=channel, profile=profile, snr_db=snr_db, seed=seed,
                      default_query=default_query, vqa=vqa)
    if pixel_loss not in ("l1", "l2"):
        raise ValueError(f"pixel_loss must be 'l1' or 'l2', got {pixel_loss!r}")
    if not (channel in ("none", "phy") or channel.startswith("indices:")):
        raise ValueError(f"channel must be 'none', 'indices:P' or 'phy', got {channel!r}")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    last = out_dir / "last.pt"
    config = dict(clip_model=clip_model, pretrained=pretrained, layers=list(layers), frozen=frozen,
                  clip_config=clip_config, dim=dim, segment_length=segment_length,
                  codebook_size=codebook_size, text_alignment=text_alignment,
                  decoder_channels=decoder_channels, beta=beta)
    torch.manual_seed(seed)
    model = build_uoisc(**config).to(device)
    size = image_size or model.clip.image_size[0]
    if (size, size) != model.clip.image_size:
        raise ValueError(f"image_size {size} differs from the CLIP model's {model.clip.image_size}")
    ds = _training_images(data, queries, size, vqa)
    images = [ds[i].image for i in range(len(ds))]
    item_queries = [ds[i].queries for i in range(len(ds))]
    judge = None
    if vlm and text_alignment and lambda_rel > 0:
        from .vlm import LlavaJudge

        judge = LlavaJudge(vlm, device=device)
    disc = PatchDiscriminator().to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    chain = None
    if channel == "phy":
        from semlink.phy import DigitalChain

        spec = dict(profile or {"code": "ldpc5g", "rate": 0.5, "modulation": "psk8",
                                "channel": {"name": "rayleigh", "coherence": {"symbols": 128}}})
        chain = DigitalChain(channel=spec.pop("channel", "awgn"), seed=seed, **{k: v for k, v in spec.items() if k != "kind"})
    step = 0
    if resume and last.exists():
        _check_resume(torch.load(last, map_location="cpu", weights_only=False), config, train_args, last)
        model, ckpt = load_uoisc(last, map_location=device)
        model.to(device).train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=lr)
        opt.load_state_dict(ckpt["optimizer"])
        disc.load_state_dict(ckpt["discriminator"])
        opt_d.load_state_dict(ckpt["optimizer_d"])
        gen.set_state(ckpt["rng_data"])
        step = ckpt["step"]
    elif last.exists():
        raise ValueError(f"{last} exists; pass resume=True (--resume) or choose another --out")
    total = steps_phase1 + steps_phase2
    log_path = out_dir / "train_log.csv"
    new_log = not (resume and log_path.exists())
    log = open(log_path, "w" if new_log else "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "phase", "pixel", "relevance", "vq", "adv", "disc", "train_psnr_db", "seconds"])
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=step, unit="step", desc="uoisc")
    model.train()
    t0 = time.perf_counter()
    last_losses = {}
    try:
        while step < total:
            phase = 1 if step < steps_phase1 else 2
            x, qs = sample_pairs(images, item_queries, batch_size, size, gen, default_query)
            x = x.to(device)
            tokens = model.clip.tokenize(qs) if text_alignment else None
            feats = model.align(x, tokens)
            quantised, vq_loss = [], 0.0
            indices = []
            for f in feats:
                q, idx, loss = model.vq(f)
                quantised.append(q)
                indices.append(idx)
                vq_loss = vq_loss + loss / len(feats)
            if channel != "none":
                rx = _channel_indices(model, indices, channel, chain, snr_db, gen)
                quantised = [f + (model.vq.lookup(r) - f).detach() for f, r in zip(feats, rx)]
            rec = model.decode_features(quantised)
            pix = F.mse_loss(rec, x) if pixel_loss == "l2" else F.l1_loss(rec, x)
            rel = judge.relevance_loss(x, rec, qs).mean() if judge else torch.zeros((), device=device)
            loss = pix + lambda_rel * rel + vq_loss
            adv = torch.zeros((), device=device)
            if phase == 2:
                logits = disc(rec)
                adv = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
                loss = loss + gamma_adv * adv
            opt.zero_grad()
            loss.backward()
            opt.step()
            d_loss = torch.zeros(())
            if phase == 2:
                real, fake = disc(x), disc(rec.detach())
                d_loss = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                          + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
                opt_d.zero_grad()
                d_loss.backward()
                opt_d.step()
            step += 1
            mse = F.mse_loss(rec.detach(), x).item()
            last_losses = {"pixel": pix.item(), "relevance": float(rel.detach()),
                           "vq": float(torch.as_tensor(vq_loss).detach()),
                           "adv": float(adv.detach()), "disc": float(d_loss.detach()),
                           "train_psnr_db": 10 * math.log10(1 / max(mse, 1e-10))}
            if step % log_every == 0 or step == total:
                writer.writerow([step, phase] + [f"{v:.5g}" for v in last_losses.values()]
                                + [f"{time.perf_counter() - t0:.1f}"])
                log.flush()
            if bar:
                bar.update(1)
                bar.set_postfix(psnr=f"{last_losses['train_psnr_db']:.2f}", phase=phase)
            if step % checkpoint_every == 0 or step == total:
                save_uoisc(last, model, config, meta={"data": str(data), "steps": step, "phase": phase,
                                                      "vlm": vlm, "channel": channel,
                                                      "train_args": train_args},
                           extra={"optimizer": opt.state_dict(), "discriminator": disc.state_dict(),
                                  "optimizer_d": opt_d.state_dict(), "rng_data": gen.get_state(),
                                  "step": step})
    finally:
        log.close()
        if bar:
            bar.close()
    return {"checkpoint": str(last), "steps": step, "seconds": time.perf_counter() - t0,
            "bits_per_image": model.bits_per_image, **last_losses}


@torch.no_grad()
def evaluate_uoisc(checkpoint: str, data: str, queries: str | None = None, device: str = "cpu",
                   max_images: int | None = None, default_query: str = "What is in the image?",
                   vqa: dict | None = None) -> dict:
    """PSNR [dB] without channel errors on held-out images, and the mean-image baseline's PSNR.

    With text alignment, every image is encoded once per query of its own
    (from ``queries``, any format :class:`ImageDataset` reads) and its PSNR is
    the mean over those queries; ``default_query`` is used only for images
    without queries. ``pairs`` counts the (image, query) pairs evaluated and
    ``default_query_images`` the images that had none. ``vqa`` (instead of
    ``queries``): VQA questions and split as in :func:`train_uoisc`, e.g.
    ``split: animals`` for the zero-shot evaluation; ``vqa_split`` then
    reports the split's counts.
    """
    from semlink.data import ImageDataset

    model, _ = load_uoisc(checkpoint, map_location=device)
    size = model.clip.image_size
    ds = ImageDataset(data, queries=queries, resize=list(size), crop="center", max_images=max_images,
                      key="--eval-data")
    if vqa is not None:
        from semlink.vqa import VQADataset

        if queries:
            raise ValueError("queries and vqa both given: the queries come from the VQA questions; pass one")
        ds = VQADataset(ds, per="image", key="--eval-vqa", **vqa)
    ours, mean_img, pairs, without = [], [], 0, 0
    for i in range(len(ds)):
        item = ds[i]
        img = item.image.to(device)
        qs = item.queries or [default_query]
        without += not item.queries
        if not model.text_alignment:
            qs = qs[:1]                      # the query does not change the encoding
        tokens = model.clip.tokenize(qs) if model.text_alignment else None
        rec, _, _ = model(img[None].expand(len(qs), -1, -1, -1), tokens)
        ours.append(sum(psnr_db(r.cpu(), item.image) for r in rec) / len(qs))
        pairs += len(qs)
        mean_img.append(psnr_db(item.image.mean(dim=(1, 2), keepdim=True).expand_as(item.image),
                                item.image))
    split = {"vqa_split": vars(ds.counts)} if vqa is not None else {}
    return {**split, "images": len(ds), "pairs": pairs, "default_query_images": without,
            "psnr_db": sum(ours) / len(ours), "mean_image_psnr_db": sum(mean_img) / len(mean_img),
            "bits_per_image": model.bits_per_image}
