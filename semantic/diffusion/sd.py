"""Stable Diffusion 1.5 (+ IP-Adapter) regeneration, built from components with diffusers.

This is the receiver's image generator ``F_T2I`` of the Multi-SC papers
(Huang & Li, eqs. 6-7 / 10-12): SD 1.5 conditioned on the received captions
(text cross-attention) and, through IP-Adapter's decoupled cross-attention,
on the received object image, ``Z_new = Z_text + lambda * Z_img``;
``scale`` is the papers' ``lambda`` (letter eq. 10, feature-fusion paper
eq. 12; ``set_ip_adapter_scale``), and ``lambda = 0`` is plain
text-to-image. Neither paper states its value: the default
:data:`DEFAULT_IP_ADAPTER_SCALE` = 0.5 is semlink's choice, and
:func:`check_ip_adapter_scale` keeps lambda in [0, 1] (0: text only, 1: the
weighting IP-Adapter was trained with; diffusers itself accepts any float).
It is also the VLM-CSC baseline's text-to-image model (no adapter).

Models are resolved through :mod:`semlink.models` (a Hugging Face id or a
local folder, offline first):

* ``model``: a diffusers SD 1.5 folder (``unet/``, ``vae/``,
  ``text_encoder/``, ``tokenizer/``, ``scheduler/``), default
  :data:`DEFAULT_SD`;
* ``ip_adapter``: an ``h94/IP-Adapter``-layout folder, ``ip_adapter_weight``
  is the weights file inside it (``models/ip-adapter_sd15.safetensors``);
  the CLIP image encoder is ``<weights folder>/image_encoder``.

Captions are encoded window by window (see :mod:`.prompts`) so captions
beyond CLIP's 77 tokens are not dropped. Every request carries its own
seed (one ``torch.Generator`` per image), so the result of an image does not
depend on what else is in the batch. Requests with the same inputs reuse a
cached output (no second diffusion run); :attr:`StableDiffusion.stats`
counts hits and runs.

Objects that load the same weights (model, adapter, scheduler, device,
dtype) share one pipeline; each sets its own lambda before every pipeline
call, so a lambda sweep holds one SD 1.5 in memory.

Speed (the issue's goal: <= 1 s / image for Multi-SC on one H100): requests
are batched (``batch_size`` images per UNet call, grouped by prompt length),
weights run in fp16 on CUDA (``dtype="auto"``), and ``scheduler="dpm"``
(DPM-Solver++) gives usable images in ~20 steps instead of 50.
"""

from __future__ import annotations

import hashlib
import logging
import numbers
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F

from semlink.device import DEFAULT_DEVICE, resolve_device
from semlink.extras import require

from .prompts import PROMPT_MODES, encode_captions

logger = logging.getLogger(__name__)

DEFAULT_SD = "stable-diffusion-v1-5/stable-diffusion-v1-5"
DEFAULT_IP_ADAPTER = "h94/IP-Adapter"
DEFAULT_IP_WEIGHT = "models/ip-adapter_sd15.safetensors"
SCHEDULERS = ("default", "ddim", "dpm", "euler", "pndm")
#: the IP-Adapter weight lambda used when none is given: semlink's choice, stated by neither
#: Multi-SC paper (both only define ``Z_new = Z_text + lambda Z_img``); sweep it with
#: ``scenarios/multisc_ip_adapter_scale.yaml``
DEFAULT_IP_ADAPTER_SCALE = 0.5
#: the range of lambda semlink accepts (0: text-to-image; 1: IP-Adapter's training weighting)
IP_ADAPTER_SCALE_RANGE = (0.0, 1.0)


def check_ip_adapter_scale(value, name: str = "scale") -> float:
    """Validate the IP-Adapter weight lambda; returns it as a float.

    :param value: lambda, a real number in :data:`IP_ADAPTER_SCALE_RANGE` ([0, 1]).
    :param name: the argument's name in the error message (``ip_adapter_scale`` for codecs).
    :raises ValueError: for a bool, a non-number, NaN or a value outside [0, 1].

    Notes: diffusers' ``set_ip_adapter_scale`` accepts any float (negative values subtract
    the image attention, values above 1 weight it beyond what the adapter was trained
    with, ``Z_new = Z_text + 1 * Z_img``); the papers' lambda is a weight between the
    text-only model (0) and the adapter as trained (1), so semlink refuses the rest.

    >>> check_ip_adapter_scale(0.25)
    0.25
    """
    lo, hi = IP_ADAPTER_SCALE_RANGE
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not lo <= float(value) <= hi:
        raise ValueError(
            f"{name}={value!r}: the IP-Adapter weight lambda must be a number in [{lo:g}, {hi:g}] "
            f"(0 = text-to-image only, 1 = the adapter's full image conditioning, "
            f"{DEFAULT_IP_ADAPTER_SCALE:g} = semlink's default); give e.g. {name}: "
            f"{DEFAULT_IP_ADAPTER_SCALE:g}")
    return float(value)


class _Loaded:
    """A built pipeline and its model records, shared by every :class:`StableDiffusion` that
    loads the same weights (model, adapter, scheduler, device, dtype): the settings of an
    ``ip_adapter_scale`` sweep differ only in lambda, which each object sets before each
    pipeline call, so they hold one copy of SD 1.5 instead of one per lambda."""

    def __init__(self, pipe, records: list) -> None:
        self.pipe, self.records = pipe, records


#: loaded pipelines by (model, ip_adapter, weight, scheduler, device, dtype); an entry lives
#: as long as a StableDiffusion holds it
_LOADED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


@dataclass
class GenerationRequest:
    """One image to generate.

    :param captions: received (corrected) captions, in stream order.
    :param seed: seed of this image's initial latent noise.
    :param image_prompt: [3, h, w] float in [0, 1] for IP-Adapter, or `None`
        (no object: generated with ``lambda = 0``, i.e. text only).
    :param init_image: [3, h, w] float in [0, 1] for image-to-image, or `None`.
    :param image_embed: [D] IP-Adapter image embedding (CLIP ``image_embeds``) given
        directly instead of ``image_prompt`` (e.g. received over the channel).
    """

    captions: list
    seed: int
    image_prompt: torch.Tensor | None = None
    init_image: torch.Tensor | None = None
    image_embed: torch.Tensor | None = None

    @property
    def has_image(self) -> bool:
        return self.image_prompt is not None or self.image_embed is not None


@dataclass
class GenerationStats:
    runs: int = 0
    cache_hits: int = 0
    unet_calls: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def _resolve_dtype(dtype: str, device: str) -> torch.dtype:
    if dtype == "auto":
        return torch.float16 if str(device).startswith("cuda") else torch.float32
    table = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if dtype not in table:
        raise ValueError(f"dtype must be 'auto' or one of {sorted(table)}, got {dtype!r}")
    return table[dtype]


def _to_uint8(img: torch.Tensor) -> np.ndarray:
    return (img.detach().float().clamp(0, 1).cpu().permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


class StableDiffusion:
    """SD 1.5 text-to-image / image-to-image with an optional IP-Adapter.

    :param model: SD 1.5 reference (HF id or local folder).
    :param ip_adapter: IP-Adapter reference (HF id or local folder) or `None` (text only).
    :param ip_adapter_weight: weights file inside the IP-Adapter folder.
    :param scale: IP-Adapter scale, the papers' lambda, in [0, 1] (default
        :data:`DEFAULT_IP_ADAPTER_SCALE`, semlink's choice; see :func:`check_ip_adapter_scale`).
    :param steps: denoising steps; :param guidance: classifier-free guidance scale
        (<= 1 disables CFG); :param height, width: output size in pixels (multiples of 8).
    :param scheduler: one of :data:`SCHEDULERS` (``"default"``: the folder's).
    :param prompt_mode: one of :data:`~.prompts.PROMPT_MODES`.
    :param negative_prompt: CFG negative prompt.
    :param strength: image-to-image strength in (0, 1] (used for requests with ``init_image``).
    :param device: torch device; :param dtype: ``"auto"`` (fp16 on CUDA), ``"float32"``, ...
    :param batch_size: images per UNet call; :param cache_size: cached outputs (0 disables).
    """

    def __init__(self, model: str = DEFAULT_SD, ip_adapter: str | None = DEFAULT_IP_ADAPTER,
                 ip_adapter_weight: str = DEFAULT_IP_WEIGHT,
                 scale: float = DEFAULT_IP_ADAPTER_SCALE,
                 steps: int = 50, guidance: float = 7.5, height: int = 512, width: int = 512,
                 scheduler: str = "default", prompt_mode: str = "per_caption",
                 negative_prompt: str = "", strength: float = 0.75, device: str = DEFAULT_DEVICE,
                 dtype: str = "auto", batch_size: int = 8, cache_size: int = 256) -> None:
        device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
        self._check(scale, steps, guidance, height, width, scheduler, prompt_mode, strength,
                    batch_size, cache_size)
        diffusers = require("diffusers", "Stable Diffusion regeneration")
        transformers = require("transformers", "Stable Diffusion regeneration")
        from semlink.models import resolve

        self.config: dict[str, Any] = {"model": model, "ip_adapter": ip_adapter,
                       "ip_adapter_weight": ip_adapter_weight if ip_adapter else None,
                       "scale": float(scale), "steps": int(steps), "guidance": float(guidance),
                       "height": int(height), "width": int(width), "scheduler": scheduler,
                       "prompt_mode": prompt_mode, "negative_prompt": negative_prompt,
                       "strength": float(strength), "dtype": dtype}
        self.device = device
        self.dtype = _resolve_dtype(dtype, device)
        self.batch_size = int(batch_size)
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.stats = GenerationStats()

        key = (model, ip_adapter, self.config["ip_adapter_weight"], scheduler, str(device),
               str(self.dtype))
        loaded = _LOADED.get(key)
        if loaded is None:
            loaded = self._load(diffusers, transformers, resolve, model, ip_adapter,
                                ip_adapter_weight, scheduler, device)
            _LOADED[key] = loaded
        else:
            logger.info("StableDiffusion: reusing the loaded %s (another setting, e.g. lambda)", model)
        self._loaded = loaded            # keeps the shared pipeline alive
        self.pipe = loaded.pipe
        self.records = list(loaded.records)
        self._img2img: Any = None          # the img2img pipeline, built on first use

    def _load(self, diffusers, transformers, resolve, model, ip_adapter, ip_adapter_weight,
              scheduler, device) -> _Loaded:
        """Build the pipeline from its components (+ IP-Adapter) and record the weights."""
        dtype = self.dtype
        sd = resolve(model)
        root = str(sd.path)
        kw = {"local_files_only": True}
        unet = diffusers.UNet2DConditionModel.from_pretrained(root, subfolder="unet",
                                                              torch_dtype=dtype, **kw)
        vae = diffusers.AutoencoderKL.from_pretrained(root, subfolder="vae", torch_dtype=dtype, **kw)
        text_encoder = transformers.CLIPTextModel.from_pretrained(root, subfolder="text_encoder",
                                                                  dtype=dtype, **kw)
        tokenizer = transformers.CLIPTokenizer.from_pretrained(root, subfolder="tokenizer", **kw)
        sched = self._scheduler(diffusers, root, scheduler)
        records = [sd.record(f"diffusion.{name}", state_dict=m.state_dict())
                   for name, m in (("unet", unet), ("vae", vae), ("text_encoder", text_encoder))]
        pipe = diffusers.StableDiffusionPipeline(
            vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=sched,
            safety_checker=None, feature_extractor=None, image_encoder=None,
            requires_safety_checker=False)
        if ip_adapter:
            ip = resolve(ip_adapter)
            sub, weight_name = str(Path(ip_adapter_weight).parent), Path(ip_adapter_weight).name
            pipe.load_ip_adapter(str(ip.path), subfolder="" if sub == "." else sub,
                                 weight_name=weight_name, local_files_only=True)
            records.append(ip.record("diffusion.ip_adapter",
                                     extra={"weight": ip_adapter_weight}))
            records.append(ip.record("diffusion.image_encoder",
                                     state_dict=pipe.image_encoder.state_dict()))
        pipe.to(device)
        for proc in pipe.unet.attn_processors.values():  # IP-Adapter layers load in fp32
            if isinstance(proc, torch.nn.Module):
                proc.to(device=device, dtype=dtype)
        if ip_adapter:
            pipe.unet.encoder_hid_proj.to(device=device, dtype=dtype)
        pipe.set_progress_bar_config(disable=True)
        return _Loaded(pipe, records)

    @staticmethod
    def _check(scale, steps, guidance, height, width, scheduler, prompt_mode, strength,
               batch_size, cache_size) -> None:
        check_ip_adapter_scale(scale, "scale")
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an int >= 1, got {steps!r}")
        if not guidance >= 0:
            raise ValueError(f"guidance must be >= 0, got {guidance!r}")
        for name, v in (("height", height), ("width", width)):
            if not isinstance(v, int) or v < 8 or v % 8:
                raise ValueError(f"{name} must be a positive multiple of 8, got {v!r}")
        if scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {SCHEDULERS}, got {scheduler!r}")
        if prompt_mode not in PROMPT_MODES:
            raise ValueError(f"prompt_mode must be one of {PROMPT_MODES}, got {prompt_mode!r}")
        if not 0 < strength <= 1:
            raise ValueError(f"strength must be in (0, 1], got {strength!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError(f"cache_size must be an int >= 0, got {cache_size!r}")

    @staticmethod
    def _scheduler(diffusers, root: str, name: str):
        classes = {"default": None, "ddim": "DDIMScheduler", "dpm": "DPMSolverMultistepScheduler",
                   "euler": "EulerDiscreteScheduler", "pndm": "PNDMScheduler"}
        cfg = diffusers.DDIMScheduler.load_config(root, subfolder="scheduler", local_files_only=True)
        cls_name = classes[name] or cfg.get("_class_name", "PNDMScheduler")
        cls = getattr(diffusers, cls_name)
        return cls.from_config(cfg)

    @property
    def has_adapter(self) -> bool:
        return self.config["ip_adapter"] is not None

    def describe(self) -> dict:
        """Configuration and model records (JSON-able), as recorded in results."""
        return {**self.config, "device": str(self.device), "torch_dtype": str(self.dtype),
                "batch_size": self.batch_size, "models": [r.to_dict() for r in self.records]}

    # ------------------------------------------------------------ caching --

    def _key(self, req: GenerationRequest) -> str:
        h = hashlib.sha256(repr(sorted(self.config.items())).encode())
        h.update(repr((list(req.captions), int(req.seed))).encode())
        for img in (req.image_prompt, req.init_image):
            h.update(b"|none" if img is None else _to_uint8(img).tobytes() + str(img.shape).encode())
        if req.image_embed is not None:
            h.update(req.image_embed.detach().float().cpu().numpy().tobytes())
        return h.hexdigest()

    def is_cached(self, req: GenerationRequest) -> bool:
        """True when :meth:`generate` would return ``req`` from the cache."""
        return self._key(req) in self._cache

    # ---------------------------------------------------------- generation --

    @torch.no_grad()
    def generate(self, requests: list[GenerationRequest]) -> list[torch.Tensor]:
        """Requests -> list of [3, height, width] float CPU tensors in [0, 1]."""
        import time

        t0 = time.perf_counter()
        out: list[torch.Tensor | None] = [None] * len(requests)
        todo: dict[str, list[int]] = {}
        for i, req in enumerate(requests):
            if not isinstance(req, GenerationRequest):
                raise TypeError(f"requests[{i}] must be a GenerationRequest, got {type(req).__name__}")
            key = self._key(req)
            if key in self._cache:
                self._cache.move_to_end(key)
                out[i] = self._cache[key].clone()
                self.stats.cache_hits += 1
            else:
                todo.setdefault(key, []).append(i)
        groups: dict[tuple, list[tuple[str, int]]] = {}
        encoded = {}
        for key, idx in todo.items():
            req = requests[idx[0]]
            emb, k = encode_captions(self.pipe.tokenizer, self.pipe.text_encoder, req.captions,
                                     self.config["prompt_mode"], self.device, self.dtype)
            encoded[key] = emb
            group = (k, req.has_image, req.init_image is not None)
            groups.setdefault(group, []).append((key, idx[0]))
        for (k, has_img, has_init), members in groups.items():
            for s in range(0, len(members), self.batch_size):
                chunk = members[s:s + self.batch_size]
                imgs = self._run([requests[i] for _, i in chunk], [encoded[key] for key, _ in chunk],
                                 k, has_img, has_init)
                for (key, _), img in zip(chunk, imgs, strict=True):
                    for i in todo[key]:
                        out[i] = img.clone()
                    self._remember(key, img)
                    self.stats.runs += 1
        self.stats.seconds += time.perf_counter() - t0
        return cast(list[torch.Tensor], out)          # every request is filled above

    def _remember(self, key: str, img: torch.Tensor) -> None:
        if self.cache_size == 0:
            return
        self._cache[key] = img
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _negative(self, windows: int) -> torch.Tensor:
        emb, _ = encode_captions(self.pipe.tokenizer, self.pipe.text_encoder,
                                 [self.config["negative_prompt"]], "truncate", self.device, self.dtype)
        return emb.repeat(windows, 1)

    def _image_embeds(self, reqs: list[GenerationRequest], has_img: bool, cfg: bool):
        if not has_img:
            dim = self.pipe.unet.encoder_hid_proj.image_projection_layers[0].image_embeds.in_features
            pos = torch.zeros(len(reqs), 1, dim, device=self.device, dtype=self.dtype)
        else:
            pos = torch.stack([r.image_embed.to(self.device, self.dtype) if r.image_embed is not None
                               else self.embed_images([r.image_prompt])[0].to(self.device, self.dtype)
                               for r in reqs])[:, None, :]
        return [torch.cat([torch.zeros_like(pos), pos]) if cfg else pos]

    @torch.no_grad()
    def embed_images(self, images: list) -> torch.Tensor:
        """[3, h, w] images in [0, 1] -> [N, D] IP-Adapter CLIP image embeddings (the adapter's input)."""
        if not self.has_adapter:
            raise ValueError("embed_images needs an IP-Adapter (ip_adapter=None here)")
        pixels = self.pipe.feature_extractor([_to_uint8(img) for img in images],
                                             return_tensors="pt").pixel_values
        emb, _ = self.pipe.encode_image(pixels, self.device, 1)
        return emb

    def _run(self, reqs, embeds, windows: int, has_img: bool, has_init: bool) -> list[torch.Tensor]:
        cfg = self.config
        do_cfg = cfg["guidance"] > 1
        prompt = torch.stack(embeds)
        negative = self._negative(windows)[None].expand_as(prompt).contiguous() if do_cfg else None
        gens = [torch.Generator(device="cpu").manual_seed(int(r.seed) % 2**63) for r in reqs]
        kwargs = dict(prompt_embeds=prompt, negative_prompt_embeds=negative,
                      num_inference_steps=cfg["steps"], guidance_scale=cfg["guidance"],
                      generator=gens, output_type="pt")
        if self.has_adapter:
            self.pipe.set_ip_adapter_scale(cfg["scale"] if has_img else 0.0)
            kwargs["ip_adapter_image_embeds"] = self._image_embeds(reqs, has_img, do_cfg)
        elif has_img:
            raise ValueError("an image prompt was given but this StableDiffusion has no IP-Adapter "
                             "(ip_adapter=None)")
        if has_init:
            init = torch.stack([F.interpolate(r.init_image[None].float(), size=(cfg["height"], cfg["width"]),
                                              mode="bilinear", align_corners=False)[0]
                                for r in reqs]).clamp(0, 1)
            result = self._img2img_pipe()(image=init.to(self.device, self.dtype),
                                          strength=cfg["strength"], **kwargs)
        else:
            # latents drawn here on CPU from each image's own generator: identical on CPU and GPU
            vae_scale = self.pipe.vae_scale_factor
            shape = (4, cfg["height"] // vae_scale, cfg["width"] // vae_scale)
            latents = torch.stack([torch.randn(shape, generator=g, device="cpu") for g in gens])
            result = self.pipe(height=cfg["height"], width=cfg["width"],
                               latents=latents.to(self.device, self.dtype), **kwargs)
        self.stats.unet_calls += 1
        return [img.float().clamp(0, 1).cpu() for img in result.images]

    def _img2img_pipe(self):
        if self._img2img is None:
            diffusers = require("diffusers", "Stable Diffusion image-to-image")
            self._img2img = diffusers.StableDiffusionImg2ImgPipeline(**self.pipe.components)
            self._img2img.set_progress_bar_config(disable=True)
        return self._img2img
