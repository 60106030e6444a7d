"""Build stand-in models (published architectures, seeded random weights) and write their folders.

Every builder returns ``{part: torch.nn.Module}`` built under a device
context (``torch.device("meta")`` builds the architecture with no memory,
for parameter counts); every writer saves the same parts, with seeded random
weights, in the on-disk layout the real checkpoint has, so the loaders of
:mod:`semlink.models`' users (``from_pretrained``, ``torch.load``,
``open_clip.create_model(pretrained=FILE)``) take them unchanged.
Configurations: :mod:`semlink.stand_in_configs`; tokenizers:
:mod:`semlink.stand_in_tokenizers`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from . import stand_in_configs as C

# ------------------------------------------------------------ architectures --

def sd15_parts(scale: str) -> dict:
    import diffusers
    import transformers

    return {"unet": diffusers.UNet2DConditionModel(**C.SD15_UNET[scale]),
            "vae": diffusers.AutoencoderKL(**C.SD15_VAE[scale]),
            "text_encoder": transformers.CLIPTextModel(transformers.CLIPTextConfig(**C.SD15_TEXT[scale]))}


def _cross_attn_hidden(unet_cfg: dict) -> list[int]:
    """Hidden size of every cross-attention layer of a UNet config, in attn_processors order."""
    import diffusers

    with torch.device("meta"):
        unet = diffusers.UNet2DConditionModel(**unet_cfg)
    out, chans = [], unet.config.block_out_channels
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            out.append(chans[-1])
        elif name.startswith("up_blocks"):
            out.append(list(reversed(chans))[int(name[len("up_blocks.")])])
        else:
            out.append(chans[int(name[len("down_blocks.")])])
    return out


class _IPAdapterWeights(torch.nn.Module):
    """The ``ip-adapter_sd15`` weights as a module (image projection + per-layer to_k/to_v)."""

    def __init__(self, scale: str) -> None:
        super().__init__()
        cross = C.SD15_UNET[scale]["cross_attention_dim"]
        emb = C.IP_IMAGE_ENCODER[scale]["projection_dim"]
        self.proj = torch.nn.Linear(emb, C.IP_TOKENS * cross)
        self.norm = torch.nn.LayerNorm(cross)
        self.kv = torch.nn.ModuleList(torch.nn.Linear(cross, h, bias=False)
                                      for h in _cross_attn_hidden(C.SD15_UNET[scale])
                                      for _ in ("k", "v"))

    def adapter_state_dict(self) -> dict:
        """Tensors under the names of ``ip-adapter_sd15.safetensors``."""
        out: dict[str, Any] = {"image_proj.proj.weight": self.proj.weight,
                               "image_proj.proj.bias": self.proj.bias,
                               "image_proj.norm.weight": self.norm.weight,
                               "image_proj.norm.bias": self.norm.bias}
        for j, lin in enumerate(self.kv):
            out[f"ip_adapter.{1 + 2 * (j // 2)}.to_{'kv'[j % 2]}_ip.weight"] = lin.weight
        return {k: v.detach().contiguous() for k, v in out.items()}


def ip_adapter_parts(scale: str) -> dict:
    import transformers

    enc = transformers.CLIPVisionModelWithProjection(
        transformers.CLIPVisionConfig(**C.IP_IMAGE_ENCODER[scale]))
    return {"adapter": _IPAdapterWeights(scale), "image_encoder": enc}


def _llava_config(cfg: dict, vision_cls: str, text_cls: str):
    import transformers

    rest = {k: v for k, v in cfg.items() if k not in ("vision", "text")}
    return transformers.LlavaConfig(vision_config=getattr(transformers, vision_cls)(**cfg["vision"]),
                                    text_config=getattr(transformers, text_cls)(**cfg["text"]), **rest)


def llava_qwen05_parts(scale: str) -> dict:
    import transformers

    cfg = _llava_config(C.LLAVA_QWEN05[scale], "SiglipVisionConfig", "Qwen2Config")
    return {"model": transformers.LlavaForConditionalGeneration(cfg)}


def llava15_7b_parts(scale: str) -> dict:
    import transformers

    cfg = _llava_config(C.LLAVA15_7B[scale], "CLIPVisionConfig", "LlamaConfig")
    return {"model": transformers.LlavaForConditionalGeneration(cfg)}


def blip_parts(scale: str) -> dict:
    import transformers

    c = C.BLIP_BASE[scale]
    cfg = transformers.BlipConfig(text_config=c["text"], vision_config=c["vision"])
    return {"model": transformers.BlipForConditionalGeneration(cfg)}


def bart_parts(scale: str) -> dict:
    import transformers

    cfg = transformers.BartConfig(**C.BART_BASE[scale], pad_token_id=1, bos_token_id=0,
                                  eos_token_id=2, decoder_start_token_id=2, forced_bos_token_id=0,
                                  forced_eos_token_id=2)
    return {"model": transformers.BartForConditionalGeneration(cfg)}


def clip_b32_parts(scale: str) -> dict:
    import transformers

    c = C.CLIP_B32[scale]
    cfg = transformers.CLIPConfig(text_config=c["text"], vision_config=c["vision"],
                                  projection_dim=c["projection_dim"])
    return {"model": transformers.CLIPModel(cfg)}


def open_clip_b16_parts(scale: str) -> dict:
    import open_clip

    cfg = C.OPEN_CLIP_B16[scale]
    if cfg is None:
        return {"model": open_clip.create_model("ViT-B-16", pretrained=None,
                                                device=torch.get_default_device())}
    from open_clip.model import CLIP

    return {"model": CLIP(**cfg)}


def detr_parts(scale: str) -> dict:
    import transformers

    return {"model": transformers.DetrForObjectDetection(transformers.DetrConfig(**C.DETR_R50[scale]))}


def fcn_parts(scale: str) -> dict:
    """torchvision FCN (module names of ``fcn_resnet50``; the layout
    ``semlink.semantic.multisc.segment.build_fcn`` loads)."""
    from torchvision.models import resnet as tv_resnet
    from torchvision.models._utils import IntermediateLayerGetter
    from torchvision.models.segmentation.fcn import FCN, FCNHead

    c = C.FCN_R50[scale]
    blk = tv_resnet.Bottleneck if c["block"] == "bottleneck" else tv_resnet.BasicBlock
    dil = [False, True, True] if c["block"] == "bottleneck" else [False, False, False]
    backbone = IntermediateLayerGetter(tv_resnet.ResNet(blk, list(c["layers"]),
                                                        replace_stride_with_dilation=dil),
                                       return_layers={"layer4": "out", "layer3": "aux"})
    c4 = 512 * blk.expansion
    return {"model": FCN(backbone, FCNHead(c4, c["num_classes"]), FCNHead(c4 // 2, c["num_classes"]))}


def alexnet_parts(scale: str) -> dict:
    from torchvision.models import alexnet

    if scale != "full":   # LPIPS checks the backbone's shapes: only the real AlexNet fits
        raise ValueError("stand-in 'alexnet' has only scale 'full' (LPIPS needs AlexNet's shapes)")
    return {"model": alexnet(weights=None)}


# ------------------------------------------------------------------ writers --

def cast_state(state: dict, dtype: torch.dtype) -> dict:
    """A state dict with floating tensors cast to ``dtype`` (storage dtype of a stand-in), contiguous."""
    return {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in state.items()}


def write_sd15(folder: Path, scale: str, dtype: torch.dtype) -> None:
    import diffusers

    from .stand_in_tokenizers import write_clip_tokenizer

    parts = sd15_parts(scale)
    for name, m in parts.items():
        m.to(dtype).save_pretrained(str(folder / name))
    write_clip_tokenizer(folder / "tokenizer")
    diffusers.PNDMScheduler(**C.SD15_SCHEDULER).save_pretrained(str(folder / "scheduler"))
    (folder / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": diffusers.__version__,
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "PNDMScheduler"],
        "safety_checker": [None, None], "feature_extractor": [None, None],
        "image_encoder": [None, None], "requires_safety_checker": False}))


def write_ip_adapter(folder: Path, scale: str, dtype: torch.dtype) -> None:
    from safetensors.torch import save_file

    parts = ip_adapter_parts(scale)
    (folder / "models").mkdir(parents=True, exist_ok=True)
    save_file(cast_state(parts["adapter"].adapter_state_dict(), dtype),
              str(folder / "models" / "ip-adapter_sd15.safetensors"))
    parts["image_encoder"].to(dtype).save_pretrained(str(folder / "models" / "image_encoder"))


def _write_llava(folder: Path, model, tokenizer, image_processor, cfg: dict, dtype) -> None:
    import transformers

    model.to(dtype).save_pretrained(str(folder))
    proc = transformers.LlavaProcessor(
        image_processor=image_processor, tokenizer=tokenizer,
        patch_size=cfg["vision"]["patch_size"],
        vision_feature_select_strategy=cfg["vision_feature_select_strategy"],
        num_additional_image_tokens=0 if "vision_use_head" in cfg["vision"] else 1,
        image_token="<image>", chat_template=tokenizer.chat_template)
    proc.save_pretrained(str(folder))


def write_llava_qwen05(folder: Path, scale: str, dtype: torch.dtype) -> None:
    import transformers

    from .stand_in_tokenizers import qwen_tokenizer

    cfg = C.LLAVA_QWEN05[scale]
    side = cfg["vision"]["image_size"]
    improc = transformers.SiglipImageProcessor(size={"height": side, "width": side})
    _write_llava(folder, llava_qwen05_parts(scale)["model"], qwen_tokenizer(), improc, cfg, dtype)


def write_llava15_7b(folder: Path, scale: str, dtype: torch.dtype) -> None:
    import transformers

    from .stand_in_tokenizers import llama_tokenizer

    cfg = C.LLAVA15_7B[scale]
    side = cfg["vision"]["image_size"]
    improc = transformers.CLIPImageProcessor(size={"shortest_edge": side},
                                             crop_size={"height": side, "width": side})
    _write_llava(folder, llava15_7b_parts(scale)["model"], llama_tokenizer(), improc, cfg, dtype)


def write_blip(folder: Path, scale: str, dtype: torch.dtype) -> None:
    import transformers

    from .stand_in_tokenizers import bert_tokenizer

    blip_parts(scale)["model"].to(dtype).save_pretrained(str(folder))
    side = C.BLIP_BASE[scale]["vision"]["image_size"]
    improc = transformers.BlipImageProcessor(size={"height": side, "width": side})
    processor = transformers.BlipProcessor(image_processor=improc, tokenizer=bert_tokenizer())
    processor.save_pretrained(str(folder))


def write_bart(folder: Path, scale: str, dtype: torch.dtype) -> None:
    from .stand_in_tokenizers import bart_tokenizer

    bart_parts(scale)["model"].to(dtype).save_pretrained(str(folder))
    bart_tokenizer().save_pretrained(str(folder))


def write_clip_b32(folder: Path, scale: str, dtype: torch.dtype) -> None:
    import transformers

    from .stand_in_tokenizers import write_clip_tokenizer

    clip_b32_parts(scale)["model"].to(dtype).save_pretrained(str(folder))
    write_clip_tokenizer(folder / "_tok")
    tok = transformers.CLIPTokenizer.from_pretrained(str(folder / "_tok"))
    side = C.CLIP_B32[scale]["vision"]["image_size"]
    improc = transformers.CLIPImageProcessor(size={"shortest_edge": side},
                                             crop_size={"height": side, "width": side})
    transformers.CLIPProcessor(image_processor=improc, tokenizer=tok).save_pretrained(str(folder))
    for f in (folder / "_tok").iterdir():
        f.unlink()
    (folder / "_tok").rmdir()


def write_open_clip_b16(folder: Path, scale: str, dtype: torch.dtype) -> None:
    torch.save(cast_state(open_clip_b16_parts(scale)["model"].state_dict(), dtype),
               folder / "open_clip_model.pt")


def write_detr(folder: Path, scale: str, dtype: torch.dtype) -> None:
    import transformers

    detr_parts(scale)["model"].to(dtype).save_pretrained(str(folder))
    transformers.DetrImageProcessor().save_pretrained(str(folder))


def write_fcn(folder: Path, scale: str, dtype: torch.dtype) -> None:
    c = C.FCN_R50[scale]
    torch.save(cast_state(fcn_parts(scale)["model"].state_dict(), dtype), folder / "model.pt")
    (folder / "semlink_fcn.json").write_text(json.dumps(
        {"block": c["block"], "layers": list(c["layers"]), "num_classes": c["num_classes"],
         "aux_loss": c["aux_loss"]}))


def write_alexnet(folder: Path, scale: str, dtype: torch.dtype) -> None:
    torch.save(cast_state(alexnet_parts(scale)["model"].state_dict(), dtype), folder / "alexnet.pth")
