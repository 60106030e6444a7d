"""UO-ISC: user-oriented image semantic coding (../papers/uo-isc.md).

Transmitter (Sec. II): frozen CLIP ViT (default ViT-B/16) -> patch tokens of
the selected layers ``L`` -> per-layer MLP projection to ``D`` (eq. 1); the
query's CLIP text features -> per-layer MLP projection (eq. 2) -> FiLM scale
and shift from two MLPs (eqs. 3-4) -> segment-wise VQ with segment length
``l`` and ``K`` codewords per segment (eqs. 5-7) -> indices -> bits
(``ceil(log2 K)`` each) -> one digital stream (default profile: 5G LDPC +
8-PSK over flat fading, from the scenario).

Receiver: bits -> indices -> codewords (eq. 9) -> spatial grids per layer ->
decoder of ``|L|`` blocks (two 3x3 convolutions with instance norm and leaky
ReLU, then a x2 transposed convolution), starting from the deepest layer;
each later block fuses its input with the upsampled reconstruction of its
layer (learnable transposed-convolution upsampling + a 1x1-conv fusion MLP,
eq. 10); a final convolution head (with the remaining upsampling to the
input size) gives the image.

Settings the paper's text lost, derived in ``docs/uoisc.md`` ("the paper says /
semlink uses / why") and used as the defaults here:

* layers ``L = (3, 6, 9, 12)``: four decoder blocks, each upsampling x2, take
  the 14x14 token grid of a 224-px ViT-B/16 (patch 16) to 224 px with a head
  that only convolves (|L| = log2 16);
* ``dim`` D = 64, ``codebook_size`` K = 8 (3 bits per index): with four layers
  of 196 patch tokens, l = 32 costs 4 * 196 * 2 * 3 = 4,704 bits per image,
  0.19x a 224-px JPEG2000 file at 0.5 bpp (the paper's Fig. 6: 82 % fewer);
  the class token is not sent (it has no place on the decoder's grid);
* ``decoder_channels`` = 128, beta = 0.25 (not derivable; kept).
* FiLM conditioning: the projected text token features are mean-pooled over
  the query's valid tokens before the scale/shift MLPs, so one (gamma, beta)
  pair per image and layer modulates all image tokens.
* Indices hit by failed code blocks are **kept as received**: a bit error
  changes one segment of one token, which is the paper's robustness argument
  for short segments.
* Queries: in training, each drawn image is paired with one of its own
  queries, sampled uniformly among them (``train_uoisc.sample_pairs``); the
  codec encodes with the first query of each image; ``default_query`` when
  an image has none.
* Several segment lengths (``segment_length=[8, 16, 32, 64]``): one encoder
  and decoder with one set of segment codebooks per l, trained together
  (``train_uoisc`` cycles l over the steps); the codec picks one with its
  ``segment_length`` parameter.

Variants (paper Sec. IV): ``text_alignment=False`` (no FiLM, no relevance
loss) and ``pretrained=None`` with ``frozen=False`` (same CLIP architecture,
random init, trained).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import cast

import torch
from torch import nn

from semlink.device import DEFAULT_DEVICE, resolve_device
from semlink.provenance import ModelRecord, state_dict_record

from .clip_features import ClipFeatures
from .codec import CODECS, Codec
from .payload import Payload, ReceivedPayload, Reconstruction, Stream
from .vq import SegmentVQ, check_vq_settings

#: defaults derived from the paper in docs/uoisc.md
DEFAULT_LAYERS = (3, 6, 9, 12)
DEFAULT_DIM = 64
DEFAULT_CODEBOOK_SIZE = 8
DEFAULT_SEGMENT_LENGTH = 32


def _mlp(d_in: int, d_out: int, hidden: int | None = None) -> nn.Sequential:
    hidden = hidden or max(d_in, d_out)
    return nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, d_out))


class ConvBlock(nn.Module):
    """Two 3x3 conv + InstanceNorm + LeakyReLU, then a x2 transposed conv."""

    def __init__(self, c_in: int, c: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(c_in, c, 3, padding=1), nn.InstanceNorm2d(c, affine=True), nn.LeakyReLU(0.2),
            nn.Conv2d(c, c, 3, padding=1), nn.InstanceNorm2d(c, affine=True), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(c, c, 4, stride=2, padding=1))

    def forward(self, x):
        return self.net(x)


class UOISCModel(nn.Module):
    """The trainable UO-ISC network around a :class:`ClipFeatures` backbone.

    :param clip: the CLIP feature extractor.
    :param dim: shared projection dimension D.
    :param segment_length: VQ segment length l (divides D), or a list of them: one set of
        segment codebooks per l over the same encoder and decoder (:meth:`use_segment_length`
        selects the one in use; the first by default).
    :param codebook_size: K codewords per segment, a power of two.
    :param text_alignment: FiLM with the query (else projected image features only).
    :param decoder_channels: channels of every decoder block.
    """

    def __init__(self, clip: ClipFeatures, dim: int = DEFAULT_DIM,
                 segment_length: int | list[int] = DEFAULT_SEGMENT_LENGTH,
                 codebook_size: int = DEFAULT_CODEBOOK_SIZE, text_alignment: bool = True,
                 decoder_channels: int = 128, beta: float = 0.25, ema: bool = False) -> None:
        super().__init__()
        check_vq_settings(dim, segment_length, codebook_size)
        self.clip = clip
        n = len(clip.layers)
        up_blocks = 2**n
        if clip.patch_size % up_blocks:
            raise ValueError(f"{n} selected layers upsample by {up_blocks}, which must divide the "
                             f"patch size {clip.patch_size}; select at most "
                             f"{int(math.log2(clip.patch_size))} layers")
        self.dim, self.text_alignment = dim, text_alignment
        self.img_proj = nn.ModuleList(_mlp(clip.width, dim) for _ in range(n))
        if text_alignment:
            self.txt_proj = nn.ModuleList(_mlp(clip.text_width, dim) for _ in range(n))
            self.film_scale = nn.ModuleList(_mlp(dim, dim) for _ in range(n))
            self.film_shift = nn.ModuleList(_mlp(dim, dim) for _ in range(n))
        lengths = [segment_length] if isinstance(segment_length, int) else list(segment_length)
        self.segment_lengths = tuple(int(v) for v in lengths)
        self.vqs = nn.ModuleList(SegmentVQ(dim, v, codebook_size, beta=beta, ema=ema)
                                 for v in self.segment_lengths)
        self._active = 0
        c = decoder_channels
        # decoder order: deepest layer first
        self.blocks = nn.ModuleList(ConvBlock(dim if i == 0 else c, c) for i in range(n))
        self.upsample = nn.ModuleList(nn.ConvTranspose2d(dim, c, 2**i, stride=2**i) for i in range(1, n))
        self.fuse = nn.ModuleList(nn.Sequential(nn.Conv2d(2 * c, c, 1), nn.LeakyReLU(0.2), nn.Conv2d(c, c, 1))
                                  for _ in range(1, n))
        rest = clip.patch_size // up_blocks
        head = [nn.ConvTranspose2d(c, c, rest, stride=rest), nn.LeakyReLU(0.2)] if rest > 1 else []
        self.head = nn.Sequential(*head, nn.Conv2d(c, 3, 3, padding=1), nn.Sigmoid())

    @property
    def vq(self) -> SegmentVQ:
        """The segment-wise quantiser of the segment length in use."""
        return cast(SegmentVQ, self.vqs[self._active])

    def use_segment_length(self, segment_length: int) -> None:
        """Quantise with the codebooks trained for ``segment_length``."""
        if segment_length not in self.segment_lengths:
            raise ValueError(f"segment_length={segment_length!r}: this model has codebooks for "
                             f"l in {list(self.segment_lengths)} only")
        self._active = self.segment_lengths.index(segment_length)

    @property
    def tokens_per_layer(self) -> int:
        return self.clip.grid[0] * self.clip.grid[1]

    @property
    def bits_per_image(self) -> int:
        """Exact payload bits per image: |L| * N * (D/l) * ceil(log2 K)."""
        return len(self.clip.layers) * self.tokens_per_layer * self.vq.S * self.vq.bits_per_index

    def align(self, images: torch.Tensor, tokens: torch.Tensor | None) -> list[torch.Tensor]:
        """Images [B, 3, H, W] (+ query tokens) -> aligned features per layer [B, N, D]."""
        feats = self.clip.image_features(images)
        out = [proj(f) for proj, f in zip(self.img_proj, feats, strict=True)]
        if self.text_alignment:
            if tokens is None:
                raise ValueError("text_alignment=True needs queries")
            t, mask = self.clip.text_features(tokens.to(images.device))
            m = mask.unsqueeze(-1).to(t.dtype)
            for i in range(len(out)):
                pooled = (self.txt_proj[i](t) * m).sum(1) / m.sum(1).clamp_min(1)      # [B, D]
                out[i] = self.film_scale[i](pooled).unsqueeze(1) * out[i] + \
                    self.film_shift[i](pooled).unsqueeze(1)
        return out

    def decode_features(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """Per-layer [B, N, D] (shallow -> deep) -> image [B, 3, H, W]."""
        gh, gw = self.clip.grid
        grids = [f.transpose(1, 2).reshape(f.shape[0], self.dim, gh, gw) for f in feats][::-1]
        x = self.blocks[0](grids[0])
        for i in range(1, len(grids)):
            up = self.upsample[i - 1](grids[i])
            x = self.blocks[i](self.fuse[i - 1](torch.cat([x, up], dim=1)))
        return self.head(x)

    def forward(self, images, tokens=None):
        """Training pass without channel: (reconstruction, indices per layer, VQ loss)."""
        quantised, indices, vq_loss = [], [], 0.0
        for f in self.align(images, tokens):
            q, idx, loss = self.vq(f)
            quantised.append(q)
            indices.append(idx)
            vq_loss = vq_loss + loss
        return self.decode_features(quantised), indices, vq_loss / len(quantised)

    # -- bits --------------------------------------------------------------------
    def indices_to_bits(self, indices: list[torch.Tensor]) -> torch.Tensor:
        """Per-layer [N, S] indices of one image -> 1-D uint8 bits (MSB first)."""
        b = self.vq.bits_per_index
        flat = torch.cat([i.reshape(-1) for i in indices]).long().cpu()
        shifts = torch.arange(b - 1, -1, -1, device=flat.device)
        return ((flat.unsqueeze(1) >> shifts) & 1).reshape(-1).to(torch.uint8)

    def bits_to_indices(self, bits: torch.Tensor) -> list[torch.Tensor]:
        b = self.vq.bits_per_index
        weights = 2 ** torch.arange(b - 1, -1, -1, device="cpu")   # bits moved to host below
        flat = (bits.long().cpu().reshape(-1, b) * weights).sum(1)
        per_layer = flat.reshape(len(self.clip.layers), self.tokens_per_layer, self.vq.S)
        return list(per_layer)


def build_uoisc(clip_model: str = "ViT-B-16", pretrained: str | None = "openai",
                layers=DEFAULT_LAYERS, frozen: bool | None = None, clip_config: dict | None = None,
                **model_kwargs) -> UOISCModel:
    """Build UO-ISC; ``frozen`` defaults to True with pretrained weights, False without.

    D, l and K are checked (l divides D, K a power of two) before CLIP is built."""
    check_vq_settings(model_kwargs.get("dim", DEFAULT_DIM),
                      model_kwargs.get("segment_length", DEFAULT_SEGMENT_LENGTH),
                      model_kwargs.get("codebook_size", DEFAULT_CODEBOOK_SIZE))
    frozen = (pretrained is not None) if frozen is None else frozen
    clip = ClipFeatures(clip_model, pretrained, layers, frozen, clip_config)
    return UOISCModel(clip, **model_kwargs)


def save_uoisc(path, model: UOISCModel, config: dict, meta: dict | None = None, extra: dict | None = None):
    """Checkpoint: the build config + state dict (CLIP included only when trained)."""
    state = {k: v for k, v in model.state_dict().items()
             if not (model.clip.frozen and k.startswith("clip."))}
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"format": "semlink-uoisc-1", "config": config, "state_dict": state,
                "meta": meta or {}, **(extra or {})}, tmp)
    tmp.replace(path)


def load_uoisc(path, map_location="cpu") -> tuple[UOISCModel, dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"UO-ISC checkpoint {str(path)!r} not found; train one with "
                                "'semlink train uoisc --data DIR --out DIR'")
    ckpt = torch.load(path, map_location=map_location, weights_only=False)
    if ckpt.get("format") != "semlink-uoisc-1":
        raise ValueError(f"{str(path)!r} is not a semlink UO-ISC checkpoint")
    model = build_uoisc(**ckpt["config"])
    # checkpoints from before per-l codebooks name their one quantiser "vq."
    state = {("vqs.0." + k[3:] if k.startswith("vq.") else k): v for k, v in ckpt["state_dict"].items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    bad = [k for k in missing if not (model.clip.frozen and k.startswith("clip."))]
    if bad or unexpected:
        raise ValueError(f"{path}: checkpoint does not match its config (missing {bad[:5]}, "
                         f"unexpected {unexpected[:5]})")
    if isinstance(map_location, (str, torch.device)):
        model = model.to(map_location)    # load_state_dict copies into the CPU-built model
    return model.eval(), ckpt


@CODECS.register("uoisc")
class UOISCCodec(Codec):
    """UO-ISC (user-oriented image semantic coding with CLIP + segment-wise VQ), one digital stream.

    :param checkpoint: path of a trained UO-ISC checkpoint (``semlink train uoisc``).
    :param segment_length: the segment length l to send with; required when the checkpoint
        holds codebooks for several l, else it must equal the checkpoint's l (a scenario
        asking for an l the checkpoint was not trained at is refused before the sweep).
    :param profile: default PHY profile of stream ``indices``.
    :param default_query: query used for images without one.
    :param device: torch device of the network.
    """

    name = "uoisc"
    stream_kinds = {"indices": "digital"}
    decode_batch = 8
    #: decoding reads only the received bits (no reports, SNR or random numbers): sweeps reuse
    #: an error-free reconstruction's metrics wherever every code block arrives intact
    deterministic_decode = True

    @classmethod
    def declared_models(cls, params: dict) -> list[tuple[str, str]]:
        """The checkpoint and the CLIP weights its config names (read from the file when it is
        here; else the default backbone, ``open_clip:ViT-B-16:openai``)."""
        ckpt = params.get("checkpoint")
        if not ckpt:
            return []
        if str(ckpt).startswith("stand_in:"):
            return [("checkpoint", str(ckpt))]
        out = [("checkpoint", f"path:{ckpt}")]
        if not Path(ckpt).is_file():
            return out + [("clip", "open_clip:ViT-B-16:openai")]
        cfg = torch.load(ckpt, map_location="cpu", weights_only=False).get("config", {})
        pre, name = cfg.get("pretrained", "openai"), cfg.get("clip_model", "ViT-B-16")
        if pre and Path(str(pre)).expanduser().exists():
            out.append(("clip", f"path:{pre}"))
        elif pre:
            out.append(("clip", f"open_clip:{name}:{pre}"))
        return out

    def __init__(self, checkpoint: str, segment_length: int | None = None, profile: str = "default",
                 default_query: str = "What is in the image?", device: str = DEFAULT_DEVICE) -> None:
        device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
        if str(checkpoint).startswith("stand_in:"):     # a stand-in (semlink.stand_ins): built once
            from semlink.models import resolve

            checkpoint = str(resolve(checkpoint).path)
        self.model, ckpt = load_uoisc(checkpoint, map_location=device)
        trained = list(self.model.segment_lengths)
        if segment_length is None:
            if len(trained) > 1:
                raise ValueError(f"checkpoint {str(checkpoint)!r} holds codebooks for segment lengths "
                                 f"{trained}; set params.segment_length to one of them")
            segment_length = trained[0]
        if segment_length not in trained:
            if isinstance(segment_length, int) and not isinstance(segment_length, bool) \
                    and segment_length >= 1 and self.model.dim % segment_length:
                raise ValueError(f"segment_length={segment_length} does not divide the feature "
                                 f"dimension D={self.model.dim} of checkpoint {str(checkpoint)!r}; "
                                 f"its segment lengths are {trained}")
            raise ValueError(f"segment_length={segment_length!r} asked, but checkpoint "
                             f"{str(checkpoint)!r} was trained at l = {trained}; train one at "
                             f"l = {segment_length} (semlink train uoisc --segment-length "
                             f"{segment_length}) or ask for one of {trained}")
        self.model.use_segment_length(segment_length)
        self.model.to(device)
        self.checkpoint, self.device, self.default_query = str(checkpoint), device, default_query
        self.config, self.meta = ckpt["config"], ckpt.get("meta", {})
        self.stream_profiles = {"indices": profile}

    def params(self) -> dict:
        m = self.model
        return {"checkpoint": self.checkpoint, "segment_length": m.vq.l,
                "trained_segment_lengths": list(m.segment_lengths), "codebook_size": m.vq.K,
                "dim": m.dim, "layers": m.clip.layers, "text_alignment": m.text_alignment,
                "clip": self._clip_record(), "bits_per_image": m.bits_per_image,
                "default_query": self.default_query, "device": self.device}

    def models(self) -> list[ModelRecord]:
        """The UO-ISC checkpoint (weights it holds) and the CLIP backbone as loaded."""
        if getattr(self, "_models", None) is None:
            own = {k: v for k, v in self.model.state_dict().items()
                   if not (self.model.clip.frozen and k.startswith("clip."))}
            meta = {k: v for k, v in self.meta.items() if not str(k).startswith("rng")}
            rec = state_dict_record("uoisc", self.checkpoint, own, path=self.checkpoint,
                                    extra={"config": self.config, "training": meta})
            rec.extra = json.loads(json.dumps(rec.extra, default=str))
            clip = self.model.clip.models(None if self.model.clip.frozen else self.checkpoint)
            self._models = [rec, *clip]
        return self._models

    def _clip_record(self) -> dict:
        """CLIP's description; a trained (not frozen) CLIP's weights come from the checkpoint."""
        d = dict(self.model.clip.describe())
        if not self.model.clip.frozen:
            # random init at build time, then trained: the weights used are the checkpoint's
            d.update(random_init=False, initialised_randomly_then_trained=d.get("random_init", False),
                     weights="checkpoint")
        return d

    def _prepare(self, images):
        size = self.model.clip.image_size
        batch = []
        for i, img in enumerate(images):
            if tuple(img.shape[-2:]) != size:
                raise ValueError(f"images[{i}] is {tuple(img.shape[-2:])}; UO-ISC with this CLIP "
                                 f"model needs {size}: set dataset.resize: {list(size)} and crop: center")
            batch.append(img)
        return torch.stack(batch).float().to(self.device)

    @torch.no_grad()
    def encode(self, images, queries=None) -> Payload:
        x = self._prepare(images)
        qs = [(q[0] if q else self.default_query) for q in (queries or [[]] * len(images))]
        tokens = self.model.clip.tokenize(qs) if self.model.text_alignment else None
        feats = self.model.align(x, tokens)
        data, side = [], []
        for b in range(len(images)):
            idx = [self.model.vq.indices(f[b]) for f in feats]
            data.append(self.model.indices_to_bits(idx))
            side.append({"size": list(images[b].shape[-2:]), "query": qs[b]})
        return Payload({"indices": Stream("digital", data, self.stream_profiles["indices"])}, side)

    @torch.no_grad()
    def decode(self, received: ReceivedPayload) -> Reconstruction:
        """Received bits -> indices -> codewords (eq. 9) -> images, ``decode_batch`` images per
        decoder call (instance norm is per image, so batching does not change the result)."""
        images = []
        data = received.streams["indices"].data
        for start in range(0, len(data), self.decode_batch):
            per_image = [self.model.bits_to_indices(bits) for bits in data[start:start + self.decode_batch]]
            feats = [self.model.vq.lookup(torch.stack([idx[layer] for idx in per_image]).to(self.device))
                     for layer in range(len(per_image[0]))]
            images += list(self.model.decode_features(feats).clamp(0, 1).cpu())
        return Reconstruction(images=images, fallback=[False] * len(images),
                              texts=[s.get("query") for s in received.side_info])
