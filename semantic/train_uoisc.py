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
encoder). Several segment lengths (``segment_length=[8, 16, 32, 64]``, or
``--segment-lengths 8,16,32,64``): one encoder and decoder with one set of
codebooks per l; step ``s`` trains with ``l = lengths[s % len(lengths)]`` (logged in
``segment_length``). :class:`UoiscTrainer` runs on the shared training loop
(:mod:`semlink.semantic.training.loop`): checkpoints (``last.pt``, atomic,
with optimizer state and step) allow ``resume``; ``train_log.csv`` logs
every ``log_every`` steps.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from semlink.device import DEFAULT_DEVICE, resolve_device

from .train_deepjscc import _batch, psnr_db
from .training.config import config_from_call, config_options, make_config, setting
from .training.loop import Trainer, run_training
from .training.registry import TRAINERS, Option
from .training.schedule import check_decay_steps, cosine_tail, schedules_agree_until
from .uoisc import (
    DEFAULT_CODEBOOK_SIZE,
    DEFAULT_DIM,
    DEFAULT_LAYERS,
    DEFAULT_SEGMENT_LENGTH,
    build_uoisc,
    load_uoisc,
    save_uoisc,
)
from .vq import check_vq_settings

if TYPE_CHECKING:
    from semlink.data import ImageDataset
    from semlink.vqa import VQADataset

log = logging.getLogger(__name__)


def bits_by_segment_length(model) -> dict[str, int]:
    """Payload bits per image for every segment length the model has codebooks for."""
    active, out = model.vq.l, {}
    for v in model.segment_lengths:
        model.use_segment_length(v)
        out[str(v)] = model.bits_per_image
    model.use_segment_length(active)
    return out


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
            flip = torch.rand(idx.shape, generator=gen, device=gen.device) < p
            rnd = torch.randint(0, model.vq.K, idx.shape, generator=gen, device=gen.device)
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
    picks = torch.randint(len(images), (batch_size,), generator=gen, device=gen.device).tolist()
    x = torch.cat([_batch([images[i]], 1, crop, gen) for i in picks])
    qs = []
    for i in picks:
        own = item_queries[i]
        qs.append(own[int(torch.randint(len(own), (1,), generator=gen, device=gen.device))]
                  if own else default_query)
    return x, qs


# Arguments that may change when resuming: they do not change what the checkpoint is.
_RESUMABLE = {"steps_phase1", "steps_phase2", "checkpoint_every", "log_every", "device", "progress"}


# Training arguments that name files: equal when they name the same file (``data://kodak24``
# and ``../shared/data/kodak24`` may be one folder).
_PATH_ARGS = {"data", "queries"}


def _same_arg(key: str, saved, now) -> bool:
    if saved == now:
        return True
    if key not in _PATH_ARGS or not (isinstance(saved, str) and isinstance(now, str)):
        return False
    from semlink.data import DatasetError, resolve_package_path

    try:
        return (Path(resolve_package_path(saved)).resolve()
                == Path(resolve_package_path(now)).resolve())
    except DatasetError:          # a data set that is not here: not provably the same
        return False


def _check_resume(ckpt: dict, config: dict, train_args: dict, path: Path) -> None:
    """Refuse to resume with a model configuration or training arguments other than the checkpoint's."""
    diffs = [f"{k}: checkpoint {ckpt['config'].get(k)!r}, now {v!r}"
             for k, v in config.items() if ckpt["config"].get(k) != v]
    saved = ckpt.get("meta", {}).get("train_args")
    if saved is None:
        diffs.append("train_args: the checkpoint does not record its training arguments")
    else:
        diffs += [f"{k}: checkpoint {saved.get(k)!r}, now {v!r}" for k, v in train_args.items()
                  if k not in _RESUMABLE and not _same_arg(k, saved.get(k), v)]
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
    log.info("train uoisc: %s", ds.counts.line())
    return ds


_VQA_OPTIONS = {"vqa_questions": "questions", "vqa_annotations": "annotations",
                "instances": "instances", "split": "split", "split_rule": "rule"}


@dataclass
class UoiscConfig:
    """Every setting of a UO-ISC training run: ``semlink train uoisc`` options, the
    :class:`UoiscTrainer` and its records (``train_config.json``, the checkpoint's
    ``config`` and ``meta.train_args``) all come from these fields.

    Model (``model_config()``, the checkpoint's build config): ``clip_model``,
    ``pretrained`` (``None``/``"none"``: random init, trained), ``clip_config`` (open_clip
    config dict, or a JSON file read here), ``layers``, ``dim`` D, ``segment_length`` l (an
    int, or a list: one codebook set per l, trained together), ``codebook_size`` K,
    ``text_alignment``, ``decoder_channels``, ``frozen``, ``beta``. Training
    (``train_args()``, compared on resume): data, queries, batch size, learning rate, loss
    weights, channel in the loop (``snr_db`` is Es/N0 [dB]), seed, VQA split. Steps, device
    and evaluation may change on resume, and ``lr_decay_steps`` (the cosine tail of
    :mod:`~semlink.semantic.training.schedule`) while the tail has not begun. Bad values
    raise ``ValueError`` here, before anything is built.
    """

    data: str = setting(help="training images (folder, glob)", kind="str", required=True)
    queries: str | None = setting(
        None, "queries: COCO captions/instances JSON, {file: [queries]} JSON or CSV", kind="str")
    image_size: int | None = setting(None, "training crop size [px] (default: the CLIP input)",
                                     kind="int")
    clip_model: str = setting("ViT-B-16", "open_clip model name or local-dir:PATH", kind="str")
    pretrained: str | None = setting(
        "openai", "open_clip tag, weights file, or 'none' (random init, trained)", kind="str")
    clip_config: dict | str | None = setting(None, "JSON file with an open_clip model config",
                                             kind="str")
    layers: list = setting(help="1-based ViT layers to transmit", kind="ints",
                           default_factory=lambda: list(DEFAULT_LAYERS))
    dim: int = setting(DEFAULT_DIM, "projection dimension D", kind="int")
    segment_length: int | list = setting(DEFAULT_SEGMENT_LENGTH, "VQ segment length l", kind="int")
    codebook_size: int = setting(DEFAULT_CODEBOOK_SIZE, "codewords K per segment (power of two)",
                                 kind="int")
    decoder_channels: int = setting(128, "decoder width", kind="int")
    text_alignment: bool = setting(True, "FiLM with the query (--no-text-alignment: baseline "
                                   "without FiLM/relevance)")
    frozen: bool | None = setting(None, "freeze CLIP (default: frozen iff pretrained)")
    beta: float = setting(0.25, "VQ commitment weight (eq. 12)", kind="float")
    steps_phase1: int = setting(1000, "phase I steps", kind="int")
    steps_phase2: int = setting(0, "phase II (adversarial) steps", kind="int")
    batch_size: int = setting(8, "images per step", kind="int")
    lr: float = setting(2e-4, "Adam learning rate", kind="float")
    lr_decay_steps: int = setting(0, "cosine decay of the learning rate to 0 over the run's last "
                                  "N steps (0: constant; see training.schedule)", kind="int")
    lambda_rel: float = setting(0.1, "weight of the relevance loss", kind="float")
    gamma_adv: float = setting(0.01, "weight of the adversarial loss", kind="float")
    pixel_loss: str = setting("l2", "pixel loss: l2 or l1", kind="str")
    vlm: str | None = setting(None, "LLaVA-family model id or folder (relevance loss)", kind="str")
    channel: str = setting("none", "none | indices:P | phy", kind="str")
    profile: dict | None = setting(None, "digital chain of --channel phy (default: LDPC 1/2, "
                                   "8-PSK, Rayleigh every 128 symbols)")
    snr_db: float = setting(10.0, "training Es/N0 [dB] with --channel phy", kind="float")
    seed: int = setting(0, "seed of init, batches and channel", kind="int")
    device: str = setting(DEFAULT_DEVICE, "torch device: auto (first CUDA device if any, else "
                          "cpu), cpu, cuda, cuda:N", kind="str")
    default_query: str = setting("What is in the image?", "query of images without one",
                                 kind="str")
    vqa: dict | None = setting(None, "VQA questions over --data: {questions, annotations, "
                               "instances, split, rule} (see semlink.vqa)")
    eval_data: str | None = setting(None, "held-out images: PSNR vs mean-image baseline",
                                    kind="str")
    eval_queries: str | None = setting(None, "queries of the held-out images (default: "
                                       "--queries)", kind="str")
    eval_split: str = setting("animals", "split of the VQA questions on --eval-data", kind="str")

    #: command-line spellings that :meth:`from_cli` turns into the fields above
    CLI_EXTRA = (
        Option("segment_lengths", "ints", None,
               "several l trained together (one codebook set each); replaces --segment-length"),
        Option("no_text_alignment", "flag", False, "baseline without FiLM/relevance"),
        Option("vqa_questions", "str", None,
               "VQA-format questions over --data (VQA v2 JSON, JSON list or CSV); instead of --queries"),
        Option("vqa_annotations", "str", None, "VQA v2 annotations JSON (answers)"),
        Option("instances", "str", None, "COCO instances JSON: animal categories and objects for --split"),
        Option("split", "str", "all", "animal zero-shot split: all, exclude_animals, animals"),
        Option("split_rule", "str", "either", "animal-related by: objects, question, either"),
    )

    def __post_init__(self) -> None:
        if isinstance(self.segment_length, (list, tuple)):
            self.segment_length = [int(v) for v in self.segment_length]
        check_vq_settings(self.dim, self.segment_length, self.codebook_size)
        check_decay_steps(self.lr_decay_steps, self.steps_phase1 + self.steps_phase2)
        if self.pixel_loss not in ("l1", "l2"):
            raise ValueError(f"pixel_loss must be 'l1' or 'l2', got {self.pixel_loss!r}")
        if not (self.channel in ("none", "phy") or self.channel.startswith("indices:")):
            raise ValueError(f"channel must be 'none', 'indices:P' or 'phy', got {self.channel!r}")
        if isinstance(self.pretrained, str) and self.pretrained.lower() == "none":
            self.pretrained = None
        if isinstance(self.clip_config, (str, Path)):         # command line: a JSON file
            with open(self.clip_config) as f:
                self.clip_config = json.load(f)
        self.layers = list(self.layers)

    @classmethod
    def from_cli(cls, options: dict) -> UoiscConfig:
        """The config of ``semlink train uoisc`` options (``CLI_EXTRA`` spellings included)."""
        opts = dict(options)
        lengths = opts.pop("segment_lengths", None)
        if lengths:
            opts["segment_length"] = [int(v) for v in lengths]
        if opts.pop("no_text_alignment", False):
            opts["text_alignment"] = False
        vqa = {key: opts.pop(name, None) for name, key in _VQA_OPTIONS.items()}
        if vqa["questions"]:
            opts["vqa"] = vqa
        return make_config(cls, opts)

    def model_config(self) -> dict:
        """The build config of :func:`~semlink.semantic.uoisc.build_uoisc` (stored in checkpoints)."""
        return dict(clip_model=self.clip_model, pretrained=self.pretrained, layers=list(self.layers),
                    frozen=self.frozen, clip_config=self.clip_config, dim=self.dim,
                    segment_length=self.segment_length, codebook_size=self.codebook_size,
                    text_alignment=self.text_alignment, decoder_channels=self.decoder_channels,
                    beta=self.beta)

    def train_args(self) -> dict:
        """The training arguments a checkpoint records and a resume must repeat."""
        return dict(data=str(self.data), queries=None if self.queries is None else str(self.queries),
                    image_size=self.image_size, batch_size=self.batch_size, lr=self.lr,
                    lambda_rel=self.lambda_rel, gamma_adv=self.gamma_adv,
                    pixel_loss=self.pixel_loss, vlm=None if self.vlm is None else str(self.vlm),
                    channel=self.channel, profile=self.profile, snr_db=self.snr_db,
                    seed=self.seed, default_query=self.default_query, vqa=self.vqa)


@TRAINERS.register("uoisc", "UO-ISC (user-oriented image semantic coding), two phases")
class UoiscTrainer(Trainer):
    """UO-ISC trainer on the shared loop (``semlink train uoisc``) for a :class:`UoiscConfig`.

    Phase I for ``steps_phase1`` steps, then phase II (adversarial) for
    ``steps_phase2``; the step is the paper's Algorithm 1 (module docstring).
    """

    name = "uoisc"
    log_fields = ("phase", "segment_length", "pixel", "relevance", "vq", "adv", "disc", "train_psnr_db")
    resumable_changes = ("steps_phase1", "steps_phase2", "steps")
    eval_fields: tuple[str, ...] = ("psnr_db", "mean_image_psnr_db")
    CONFIG = UoiscConfig
    OPTIONS = config_options(UoiscConfig)

    def __init__(self, config: UoiscConfig) -> None:
        self.check_config(config)
        device = resolve_device(config.device, name="device")          # before anything is built
        self.settings = config
        text_alignment, vqa, seed = config.text_alignment, config.vqa, config.seed
        self.eval_data, self.eval_split = config.eval_data, config.eval_split
        self.eval_queries = config.eval_queries or config.queries
        model_config, train_args = config.model_config(), config.train_args()
        torch.manual_seed(seed)
        model = build_uoisc(**model_config).to(device)
        size = config.image_size or model.clip.image_size[0]
        if (size, size) != model.clip.image_size:
            raise ValueError(f"image_size {size} differs from the CLIP model's {model.clip.image_size}")
        ds = _training_images(config.data, config.queries, size, vqa)
        self.images = [ds[i].image for i in range(len(ds))]
        self.item_queries = [ds[i].queries for i in range(len(ds))]
        self.judge = None
        if config.vlm and text_alignment and config.lambda_rel > 0:
            from .vlm import LlavaJudge

            self.judge = LlavaJudge(config.vlm, device=device)
        self.disc = PatchDiscriminator().to(device)
        self.opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=config.lr)
        self.gen = torch.Generator(device="cpu").manual_seed(seed)   # host-side sampling
        self.chain = None
        if config.channel == "phy":
            from semlink.phy import DigitalChain

            spec = dict(config.profile or {"code": "ldpc5g", "rate": 0.5, "modulation": "psk8",
                                           "channel": {"name": "rayleigh", "coherence": {"symbols": 128}}})
            self.chain = DigitalChain(channel=spec.pop("channel", "awgn"), seed=seed, device=device,
                                      **{k: v for k, v in spec.items() if k != "kind"})
        self.model, self.model_config, self.train_args = model.train(), model_config, train_args
        if len(model.segment_lengths) > 1:                 # eval_log.csv: one column per l
            self.eval_fields = (*(f"psnr_db_l{v}" for v in model.segment_lengths),
                                "mean_image_psnr_db")
        self._last_eval: tuple[tuple[str, int], dict] | None = None
        self.size, self.device, self.data, self.vqa = size, device, config.data, vqa
        self.steps_phase1, self.steps_phase2 = config.steps_phase1, config.steps_phase2
        self.batch_size, self.lr = config.batch_size, config.lr
        self.lr_decay_steps = config.lr_decay_steps
        self.lambda_rel, self.gamma_adv = config.lambda_rel, config.gamma_adv
        self.pixel_loss, self.vlm, self.channel = config.pixel_loss, config.vlm, config.channel
        self.snr_db, self.text_alignment = config.snr_db, text_alignment
        self.default_query = config.default_query

    def config(self) -> dict:
        """``train_config.json``'s ``config``, all from the :class:`UoiscConfig`: the model's
        build config, the training arguments, the steps, and under ``settings`` every field of
        the config (evaluation and device included)."""
        return {"model": self.model_config, **self.train_args, "steps_phase1": self.steps_phase1,
                "steps_phase2": self.steps_phase2,
                "settings": json.loads(json.dumps(asdict(self.settings), default=str))}

    def total_steps(self) -> int:
        return self.steps_phase1 + self.steps_phase2

    def train_step(self, step: int) -> dict[str, float]:
        model, disc, opt, opt_d, device = self.model, self.disc, self.opt, self.opt_d, self.device
        phase = 1 if step < self.steps_phase1 else 2
        lr = cosine_tail(step, self.total_steps(), self.lr_decay_steps, self.lr)
        for group in (*opt.param_groups, *opt_d.param_groups):
            group["lr"] = lr
        lengths = model.segment_lengths
        model.use_segment_length(lengths[step % len(lengths)])
        x, qs = sample_pairs(self.images, self.item_queries, self.batch_size, self.size, self.gen,
                             self.default_query)
        x = x.to(device)
        tokens = model.clip.tokenize(qs) if self.text_alignment else None
        feats = model.align(x, tokens)
        quantised, vq_loss = [], 0.0
        indices = []
        for f in feats:
            q, idx, loss = model.vq(f)
            quantised.append(q)
            indices.append(idx)
            vq_loss = vq_loss + loss / len(feats)
        if self.channel != "none":
            rx = _channel_indices(model, indices, self.channel, self.chain, self.snr_db, self.gen)
            quantised = [f + (model.vq.lookup(r) - f).detach() for f, r in zip(feats, rx, strict=True)]
        rec = model.decode_features(quantised)
        pix = F.mse_loss(rec, x) if self.pixel_loss == "l2" else F.l1_loss(rec, x)
        rel = self.judge.relevance_loss(x, rec, qs).mean() if self.judge else torch.zeros((), device=device)
        loss = pix + self.lambda_rel * rel + vq_loss
        adv = torch.zeros((), device=device)
        if phase == 2:
            logits = disc(rec)
            adv = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
            loss = loss + self.gamma_adv * adv
        opt.zero_grad()
        loss.backward()
        opt.step()
        d_loss = torch.zeros((), device=device)
        if phase == 2:
            real, fake = disc(x), disc(rec.detach())
            d_loss = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                      + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
        mse = F.mse_loss(rec.detach(), x).item()
        self.phase = phase
        return {"phase": phase, "segment_length": model.vq.l, "pixel": pix.item(),
                "relevance": float(rel.detach()),
                "vq": float(vq_loss.detach()) if torch.is_tensor(vq_loss) else float(vq_loss),
                "adv": float(adv.detach()), "disc": float(d_loss.detach()),
                "train_psnr_db": 10 * math.log10(1 / max(mse, 1e-10))}

    def save_checkpoint(self, path: Path, step: int, seconds: float) -> None:
        phase = 1 if step <= self.steps_phase1 else 2
        save_uoisc(path, self.model, self.model_config,
                   meta={"data": str(self.data), "steps": step, "phase": phase, "vlm": self.vlm,
                         "channel": self.channel, "train_args": self.train_args,
                         "train_seconds": seconds,
                         "lr_schedule": {"total_steps": self.total_steps(),
                                         "lr_decay_steps": self.lr_decay_steps}},
                   extra={"optimizer": self.opt.state_dict(), "discriminator": self.disc.state_dict(),
                          "optimizer_d": self.opt_d.state_dict(), "rng_data": self.gen.get_state(),
                          "step": step})

    def restore(self, path: Path) -> tuple[int, float, dict]:
        saved = torch.load(path, map_location="cpu", weights_only=False)
        _check_resume(saved, self.model_config, self.train_args, path)
        self._check_schedule(saved, path)
        model, ckpt = load_uoisc(path, map_location=self.device)
        self.model = model.to(self.device).train()
        self.opt = torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad], lr=self.lr)
        self.opt.load_state_dict(ckpt["optimizer"])
        self.disc.load_state_dict(ckpt["discriminator"])
        self.opt_d.load_state_dict(ckpt["optimizer_d"])
        self.gen.set_state(ckpt["rng_data"].cpu())    # a host ByteTensor; map_location moved it
        return int(ckpt["step"]), float(ckpt["meta"].get("train_seconds", 0.0)), self.config()

    def _check_schedule(self, ckpt: dict, path: Path) -> None:
        """Refuse a resume whose learning-rate schedule gives the steps already trained another
        rate than the checkpoint's (a tail added or moved after it began). A checkpoint that
        records no schedule was trained at a constant rate."""
        step = int(ckpt["step"])
        rec = ckpt.get("meta", {}).get("lr_schedule") or {"total_steps": step, "lr_decay_steps": 0}
        old = (int(rec["total_steps"]), int(rec["lr_decay_steps"]))
        new = (self.total_steps(), self.lr_decay_steps)
        if not schedules_agree_until(step, old, new):
            raise ValueError(
                f"cannot resume {path} at step {step} with lr_decay_steps={new[1]} over "
                f"{new[0]} steps: the checkpoint's schedule (lr_decay_steps={old[1]} over "
                f"{old[0]} steps) and this one differ on steps already trained; keep the "
                "checkpoint's steps and lr_decay_steps, or start the new tail at or after "
                f"step {step}")

    def check_evaluation(self) -> None:
        if not self.eval_data:
            raise ValueError("eval_every (--eval-every) needs held-out images: pass eval_data "
                             "(--eval-data)")

    def _evaluation(self, checkpoint: str) -> dict:
        """:func:`evaluate_uoisc` of ``checkpoint`` on ``eval_data``; the last checkpoint's result
        is kept, so the end of a run with ``eval_every`` evaluates it once (``finish``)."""
        assert self.eval_data is not None                 # callers check eval_data first
        stamp = (str(checkpoint), Path(checkpoint).stat().st_mtime_ns)
        if self._last_eval is None or self._last_eval[0] != stamp:
            eval_vqa = None if self.vqa is None else {**self.vqa, "split": self.eval_split}
            ev = evaluate_uoisc(str(checkpoint), self.eval_data,
                                queries=None if self.vqa else self.eval_queries,
                                device=self.device, vqa=eval_vqa)
            self._last_eval = (stamp, ev)
        return self._last_eval[1]

    def evaluate(self, checkpoint: Path) -> dict[str, float]:
        """PSNR [dB] per l of ``checkpoint`` on ``eval_data`` (:meth:`_evaluation`)."""
        self.check_evaluation()
        ev = self._evaluation(str(checkpoint))
        out = {"psnr_db": ev["psnr_db"], "mean_image_psnr_db": ev["mean_image_psnr_db"]}
        for v, p in ev.get("psnr_db_by_segment_length", {}).items():
            out[f"psnr_db_l{v}"] = p
        return out

    def finish(self, out_dir: Path, result: dict) -> dict:
        out = {"bits_per_image": bits_by_segment_length(self.model), "seconds": result["train_seconds"]}
        if self.eval_data:
            out["eval"] = self._evaluation(result["checkpoint"])
        return out

def train_uoisc(config: UoiscConfig | str, out: str, resume: bool = False,
                checkpoint_every: int = 200, log_every: int = 25, progress: bool | None = None,
                eval_every: int | None = None,
                **settings) -> dict:
    """Train UO-ISC into ``out``; returns paths, steps and the last losses.

    :param config: a :class:`UoiscConfig`, or the training images (``data``) with the other
        settings as keywords (the fields of :class:`UoiscConfig`; an unknown name raises a
        ``TypeError`` listing the valid ones).

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
    trainer = UoiscTrainer(config_from_call(UoiscConfig, config, settings, "train_uoisc"))
    result = run_training(trainer, out, resume=resume, checkpoint_every=checkpoint_every,
                          log_every=log_every, progress=progress, eval_every=eval_every)
    result.pop("phase", None)
    return result


@torch.no_grad()
def evaluate_uoisc(checkpoint: str, data: str, queries: str | None = None, device: str = DEFAULT_DEVICE,
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
    reports the split's counts. A checkpoint with several segment lengths reports
    ``psnr_db`` / ``bits_per_image`` of its first l and every l in
    ``psnr_db_by_segment_length`` / ``bits_per_image_by_segment_length``.
    """
    from semlink.data import ImageDataset

    device = resolve_device(device, name="device")
    model, _ = load_uoisc(checkpoint, map_location=device)
    size = model.clip.image_size
    images = ImageDataset(data, queries=queries, resize=list(size), crop="center",
                          max_images=max_images, key="--eval-data")
    ds: ImageDataset | VQADataset = images
    split: dict = {}
    if vqa is not None:
        from semlink.vqa import VQADataset

        if queries:
            raise ValueError("queries and vqa both given: the queries come from the VQA questions; pass one")
        ds = questions = VQADataset(images, per="image", key="--eval-vqa", **vqa)
        split = {"vqa_split": vars(questions.counts)}
    lengths = model.segment_lengths
    ours: dict[int, list[float]] = {v: [] for v in lengths}
    mean_img, pairs, without = [], 0, 0
    for i in range(len(ds)):
        item = ds[i]
        img = item.image.to(device)
        qs = item.queries or [default_query]
        without += not item.queries
        if not model.text_alignment:
            qs = qs[:1]                      # the query does not change the encoding
        tokens = model.clip.tokenize(qs) if model.text_alignment else None
        feats = model.align(img[None].expand(len(qs), -1, -1, -1), tokens)   # once for every l
        for v in lengths:
            model.use_segment_length(v)
            rec = model.decode_features([model.vq(f)[0] for f in feats])
            ours[v].append(sum(psnr_db(r.cpu(), item.image) for r in rec) / len(qs))
        pairs += len(qs)
        mean_img.append(psnr_db(item.image.mean(dim=(1, 2), keepdim=True).expand_as(item.image),
                                item.image))
    model.use_segment_length(lengths[0])
    by_l = {str(v): sum(p) / len(p) for v, p in ours.items()}
    bits = bits_by_segment_length(model)
    out = {**split, "images": len(ds), "pairs": pairs, "default_query_images": without,
           "psnr_db": by_l[str(lengths[0])], "mean_image_psnr_db": sum(mean_img) / len(mean_img),
           "bits_per_image": bits[str(lengths[0])]}
    if len(lengths) > 1:
        out.update(psnr_db_by_segment_length=by_l, bits_per_image_by_segment_length=bits)
    return out
