"""Seconds per image and peak GPU memory per stage of every diffusion scheme (Table II's columns).

Schemes (``--schemes``, default all): ``multisc`` (the letter's 2x2 grid
split), ``multisc_ff`` (feature-fusion split: DETR detection + eq. 9),
``multisc_random`` (random split), ``single_text`` (one caption),
``vlmcsc`` (BLIP caption -> SD 1.5), ``query_aware`` (LLaVA answer + a low-rate
JPEG2000 image -> SD 1.5 image-to-image), ``uoisc`` (CLIP ViT-B/16 features +
segment-wise VQ), and the non-diffusion rows ``deepjscc``. Every model is a
**stand-in** (:mod:`semlink.stand_ins`: the published architecture with seeded
random weights): ``--scale full`` is the real size (SD 1.5 UNet 859.5 M,
LLaVA-Interleave-Qwen-0.5B, BLIP base, BART base, DETR/FCN-ResNet50, CLIP
ViT-B/16), ``--scale small`` the same classes at reduced width, to check the
pipeline on a CPU before a GPU is lent. Times do not depend on the weights'
values, with one caveat: random language models may stop before
``max_new_tokens`` or run to it (real captions are ~20-60 tokens); the printed
``caption tokens`` column says how many were generated.

Stages per image (Table II breaks the paper's time down the same way):
``extract`` (FCN main object), ``split`` (grid/random, or DETR for the
feature-fusion split), ``caption`` (LLaVA / BLIP), ``object_encode``,
``text_phy`` / ``object_phy`` (5G LDPC + QPSK over AWGN at 10 dB),
``correct`` (BART), ``object_decode``, ``diffusion`` (SD 1.5 + IP-Adapter,
DPM-Solver++, ``--steps``, classifier-free guidance); the other schemes report
``encode`` / ``phy`` / ``decode``. For each stage: mean seconds per image over
``--repeats`` timed batches of ``--images`` images (after one warm-up batch
that loads the models), and on CUDA the peak ``torch.cuda.max_memory_allocated``
during the stage (reset at its start; resident weights included).

dtype: SD 1.5 runs in ``--dtype`` (``auto`` = fp16 on CUDA, fp32 on CPU);
the other models load in fp32, as semlink loads them.

Examples::

    python benchmarks/multisc_stages.py --scale small --size 64 --steps 2 --images 2 --repeats 1
    python benchmarks/multisc_stages.py --device cuda --scale full --size 512 --steps 20 --images 8

Design goal: Multi-SC <= 1 s/image end to end on one H100/H200 (the paper:
5.2-8.4 s on a V100). ``--json`` prints machine-readable output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEMES = ("multisc", "multisc_ff", "multisc_random", "single_text", "vlmcsc", "query_aware",
           "uoisc", "deepjscc")


class Stages:
    """Seconds and peak CUDA memory per stage, accumulated over calls."""

    def __init__(self, device: str) -> None:
        self.cuda = str(device).startswith("cuda")
        self.seconds: dict[str, float] = {}
        self.peak: dict[str, float] = {}
        self.on = False

    def run(self, stage: str, fn, *args, **kwargs):
        import torch

        if not self.on:
            return fn(*args, **kwargs)
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        if self.cuda:
            torch.cuda.synchronize()
            self.peak[stage] = max(self.peak.get(stage, 0.0), torch.cuda.max_memory_allocated() / 2**20)
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t0
        return out


class Timed:
    """Proxy timing the calls of ``obj`` (``__call__`` and the methods in ``methods``)."""

    def __init__(self, stages: Stages, stage: str, obj, methods=()) -> None:
        self._stages, self._stage, self._obj = stages, stage, obj
        for m in methods:
            setattr(self, m, lambda *a, _m=getattr(obj, m), **k: stages.run(stage, _m, *a, **k))  # noqa: B008

    def __call__(self, *args, **kwargs):
        return self._stages.run(self._stage, self._obj, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._obj, name)


def _refs(scale: str, args) -> dict:
    s = "" if scale == "full" else ":small"
    return {"sd": args.sd or f"stand_in:sd15{s}", "ip": args.ip_adapter or f"stand_in:ip-adapter-sd15{s}",
            "llava": args.captioner or f"stand_in:llava-interleave-qwen-0.5b{s}",
            "blip": args.blip or f"stand_in:blip-base{s}", "bart": args.bart or f"stand_in:bart-base{s}",
            "fcn": args.fcn or f"stand_in:fcn-resnet50{s}",
            "detr": args.detector or f"stand_in:detr-resnet50{s}",
            "uoisc": args.uoisc or f"stand_in:uoisc{s}"}


def _codec(scheme: str, refs: dict, args, device: str):
    from semlink.models import resolve
    from semlink.semantic import make_codec

    diffusion = {"model": refs["sd"], "steps": args.steps, "guidance": 7.5, "height": args.size,
                 "width": args.size, "scheduler": "dpm", "dtype": args.dtype,
                 "batch_size": args.images}
    multisc = {"captioner": refs["llava"], "max_new_tokens": args.max_new_tokens,
               "corrector": f"bart:{refs['bart']}", "object_extractor": "fcn",
               "object_model": refs["fcn"], "object_codec": "deepjscc",
               "object_params": {"ratio": 1 / 6}, "object_size": 128, "device": device,
               "diffusion": {**diffusion, "ip_adapter": refs["ip"]}}
    if scheme == "multisc":
        return make_codec("multisc", {**multisc, "split": "grid"})
    if scheme == "multisc_random":
        return make_codec("multisc", {**multisc, "split": "random"})
    if scheme == "multisc_ff":
        return make_codec("multisc", {**multisc, "split": "detect", "detector": refs["detr"],
                                      "eps": 0.1, "eps_unit": "diagonal"})
    if scheme == "single_text":
        return make_codec("multisc", {**multisc, "split": "none"})
    if scheme == "vlmcsc":
        return make_codec("vlmcsc", {"captioner": refs["blip"], "max_new_tokens": args.max_new_tokens,
                                     "device": device, "diffusion": diffusion})
    if scheme == "query_aware":       # its LLaVA judge loads a folder or HF id: resolve the stand-in
        return make_codec("query_aware", {
            "vlm": str(resolve(refs["llava"]).path), "diffusion": str(resolve(refs["sd"]).path),
            "steps": args.steps, "size": args.size, "max_answer_tokens": args.max_new_tokens,
            # 0.05 bpp (the default) at 512x512; small images need more for JPEG2000's header
            "image_rate_bpp": max(0.05, 2048 / args.size ** 2), "device": device})
    if scheme == "uoisc":
        return make_codec("uoisc", {"checkpoint": refs["uoisc"], "device": device})
    if scheme == "deepjscc":
        return make_codec("deepjscc", {"checkpoint": "builtin", "ratio": 1 / 6, "device": device})
    raise ValueError(f"unknown scheme {scheme!r}; choose from {', '.join(SCHEMES)}")


def _instrument(codec, stages: Stages) -> None:
    """Time the Multi-SC family's stages through proxies on its (lazily built) parts."""
    if codec.name not in ("multisc", "vlmcsc"):
        return
    if codec.objects.name != "none":
        codec._extractor = Timed(stages, "extract", codec.extractor)
    if codec.split == "detect":
        codec._detector = Timed(stages, "split", codec.detector, ("boxes",))
    codec._captioner = Timed(stages, "caption", codec.captioner, ("caption",))
    codec._corrector = Timed(stages, "correct", codec.corrector, ("correct",))
    codec._sd = Timed(stages, "diffusion", codec.diffusion, ("generate", "is_cached"))
    codec.objects.encode = lambda *a, _f=codec.objects.encode, **k: stages.run("object_encode", _f, *a, **k)
    codec.objects.decode = lambda *a, _f=codec.objects.decode, **k: stages.run("object_decode", _f, *a, **k)


def _images(n: int, size: int, seed: int):
    import torch

    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):                           # smooth random images (a few blobs), not noise
        low = torch.rand(3, 4, 4, generator=g)
        out.append(torch.nn.functional.interpolate(low[None], size=(size, size), mode="bicubic",
                                                   align_corners=False)[0].clamp(0, 1))
    return out


def run_scheme(scheme: str, refs: dict, args, device: str) -> dict:
    import torch

    from semlink.links.link import Link
    from semlink.semantic.payload import Payload

    stages = Stages(device)
    codec = _codec(scheme, refs, args, device)
    _instrument(codec, stages)
    profiles = {"default": {"kind": "digital", "code": "ldpc5g", "k": 512, "rate": 0.5,
                            "modulation": "qpsk"}, "analog": {"kind": "analog"}}
    link = Link(profiles, "awgn", seed=0, device=device)
    codec.attach_phy({s: link.chain(p) for s, p in codec.stream_profiles.items()})
    side = 224 if scheme == "uoisc" else args.size     # UO-ISC's CLIP takes 224x224 inputs
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    tokens = []
    for r in range(args.repeats + 1):          # batch 0 warms up: model loading, kernels
        stages.on = r > 0
        images = _images(args.images, side, args.seed + r)
        payload = stages.run("encode" if codec.name not in ("multisc", "vlmcsc") else "_encode",
                             codec.encode, images)
        text = {k: v for k, v in payload.streams.items() if k.startswith("text_")}
        rest = {k: v for k, v in payload.streams.items() if not k.startswith("text_")}
        received = None
        for name, part in (("text_phy", text), ("object_phy" if text else "phy", rest)):
            if part:
                rx = stages.run(name, link.transmit, Payload(part, payload.side_info), 10.0)
                if received is None:
                    received = rx
                else:
                    received.streams.update(rx.streams)
                    received.reports.update(rx.reports)
        stages.run("decode" if codec.name not in ("multisc", "vlmcsc") else "_decode",
                   codec.decode, received)
        if r > 0:
            for s in payload.side_info:
                caps = s.get("_measure", {}).get("captions") or []
                tokens += [len(c.split()) for c in caps]
    n = args.images * args.repeats
    per = {k: v / n for k, v in stages.seconds.items() if not k.startswith("_")}
    total = sum(stages.seconds[k] for k in stages.seconds if k.startswith("_") or k in
                ("encode", "decode")) + sum(v for k, v in stages.seconds.items() if k.endswith("phy"))
    return {"scheme": scheme, "seconds_per_image": per, "total_seconds_per_image": total / n,
            "peak_cuda_mb": stages.peak or None,
            "cuda_peak_total_mb": (torch.cuda.max_memory_allocated() / 2**20
                                   if device.startswith("cuda") else None),
            "caption_words_mean": (sum(tokens) / len(tokens)) if tokens else None,
            "models": [m.to_dict() for m in codec.models()]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="cpu, cuda or auto (cuda when present)")
    ap.add_argument("--scale", default="full", choices=["full", "small"],
                    help="stand-ins at the published size, or reduced width (CPU check)")
    ap.add_argument("--schemes", default=",".join(SCHEMES), help="comma-separated; see the docstring")
    ap.add_argument("--images", type=int, default=8, help="images per batch (all models' batch size)")
    ap.add_argument("--repeats", type=int, default=2, help="timed batches after the warm-up batch")
    ap.add_argument("--size", type=int, default=512, help="image side in pixels (multiple of 8)")
    ap.add_argument("--steps", type=int, default=20, help="diffusion steps (DPM-Solver++)")
    ap.add_argument("--max-new-tokens", type=int, default=60, help="caption length limit")
    ap.add_argument("--dtype", default="auto", choices=["auto", "float16", "bfloat16", "float32"],
                    help="SD 1.5's dtype (auto: float16 on CUDA)")
    ap.add_argument("--seed", type=int, default=0)
    for name in ("sd", "ip-adapter", "captioner", "blip", "bart", "fcn", "detector", "uoisc"):
        ap.add_argument(f"--{name}", default=None, help="real model reference instead of the stand-in")
    ap.add_argument("--models-dir", default=None,
                    help="where stand-ins are built (default: $SEMLINK_MODELS; a temporary folder "
                         "when that is unset and --scale small)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.size % 8 or args.size < 8:
        ap.error(f"--size must be a positive multiple of 8, got {args.size}")
    schemes = [s for s in args.schemes.split(",") if s]
    bad = [s for s in schemes if s not in SCHEMES]
    if bad:
        ap.error(f"unknown scheme(s) {bad}; choose from {', '.join(SCHEMES)}")
    import torch

    tmp = None
    if args.models_dir:
        os.environ["SEMLINK_MODELS"] = args.models_dir
    elif not os.environ.get("SEMLINK_MODELS") and args.scale == "small":
        tmp = tempfile.TemporaryDirectory()
        os.environ["SEMLINK_MODELS"] = tmp.name
    from semlink.provenance import environment

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    refs = _refs(args.scale, args)
    results = []
    for scheme in schemes:
        t0 = time.perf_counter()
        res = run_scheme(scheme, refs, args, device)
        res["wall_seconds"] = time.perf_counter() - t0
        results.append(res)
        if not args.json:
            _print(res, device)
    env = environment()
    out = {"device": torch.cuda.get_device_name(0) if device.startswith("cuda") else
           f"CPU, {torch.get_num_threads()} threads", "scale": args.scale, "stand_ins": True,
           "random_init": True, "images_per_batch": args.images, "repeats": args.repeats,
           "size": args.size, "steps": args.steps, "max_new_tokens": args.max_new_tokens,
           "sd_dtype": args.dtype, "results": results,
           "packages": {k: env["packages"].get(k) for k in ("torch", "diffusers", "transformers",
                                                             "open_clip_torch")}}
    if args.json:
        print(json.dumps(out, indent=1, default=str))
    else:
        print(f"[RANDOM INIT stand-ins, scale {args.scale}] {out['device']}, {args.images} "
              f"images/batch x {args.repeats}, {args.size}x{args.size}, {args.steps} steps, "
              f"SD dtype {args.dtype}")
    if tmp is not None:
        tmp.cleanup()
    return 0


def _print(res: dict, device: str) -> None:
    cuda = res["peak_cuda_mb"] is not None
    print(f"{res['scheme']}: {res['total_seconds_per_image']:.3f} s/image end to end"
          + (f", caption words {res['caption_words_mean']:.1f}"
             if res["caption_words_mean"] is not None else "")
          + f" (wall {res['wall_seconds']:.0f} s incl. loading)", flush=True)
    for k, v in res["seconds_per_image"].items():
        mem = f"  peak {res['peak_cuda_mb'].get(k, 0):9.0f} MiB" if cuda else ""
        print(f"  {k:<14} {v * 1000:10.1f} ms/image{mem}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
