"""Published architecture configurations of the models semlink can stand in for.

Each entry is the configuration a model's published checkpoint ships
(``config.json`` of the Hugging Face folder, torchvision's builder, open_clip's
model config), as plain data: no weights. ``"small"`` variants keep the same
classes and layouts at a fraction of the width/depth (CPU benchmarks, tests).

Sources (configuration files as published with each checkpoint):

* SD 1.5: ``stable-diffusion-v1-5/stable-diffusion-v1-5`` ``unet/``, ``vae/``,
  ``text_encoder/config.json``, ``scheduler/scheduler_config.json``;
* IP-Adapter SD 1.5: ``h94/IP-Adapter`` ``models/image_encoder/config.json``
  (OpenCLIP ViT-H/14 vision tower) and the ``ip-adapter_sd15`` weight layout
  (Ye et al. 2023, "IP-Adapter", 22 M trainable parameters);
* ``llava-hf/llava-interleave-qwen-0.5b-hf`` (SigLIP-so400m vision, 26 layers
  used, Qwen1.5-0.5B language model) and ``llava-hf/llava-1.5-7b-hf``
  (CLIP ViT-L/14-336 vision, Vicuna-7B / LLaMA-7B language model);
* ``Salesforce/blip-image-captioning-base``, ``facebook/bart-base``,
  ``facebook/detr-resnet-50``, ``openai/clip-vit-base-patch32``;
* open_clip ``ViT-B-16`` (``model_configs/ViT-B-16.json``, OpenAI weights);
* torchvision ``fcn_resnet50`` (21 VOC classes, auxiliary head) and ``alexnet``.
"""

from __future__ import annotations

from typing import Any

#: model keyword arguments by scale (``"full"``, ``"small"``)
ByScale = dict[str, dict[str, Any]]

SD15_UNET: ByScale = {
    "full": dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768,
                 attention_head_dim=8, norm_num_groups=32,
                 down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                 up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3),
    "small": dict(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                  block_out_channels=(32, 64), cross_attention_dim=64, attention_head_dim=8,
                  norm_num_groups=16,
                  down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                  up_block_types=("UpBlock2D", "CrossAttnUpBlock2D")),
}
SD15_VAE: ByScale = {
    "full": dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
                 block_out_channels=(128, 256, 512, 512), norm_num_groups=32, sample_size=512,
                 down_block_types=("DownEncoderBlock2D",) * 4,
                 up_block_types=("UpDecoderBlock2D",) * 4, scaling_factor=0.18215),
    "small": dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
                  block_out_channels=(16, 32, 32, 32), norm_num_groups=8, sample_size=64,
                  down_block_types=("DownEncoderBlock2D",) * 4,
                  up_block_types=("UpDecoderBlock2D",) * 4, scaling_factor=0.18215),
}
#: CLIP ViT-L/14 text tower (SD 1.5's text encoder); CLIP's real 49408-token BPE vocabulary
SD15_TEXT: ByScale = {
    "full": dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                 num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
                 projection_dim=768, bos_token_id=0, eos_token_id=2, pad_token_id=1),
    "small": dict(vocab_size=49408, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, max_position_embeddings=77, hidden_act="quick_gelu",
                  projection_dim=64, bos_token_id=0, eos_token_id=2, pad_token_id=1),
}
SD15_SCHEDULER: dict[str, Any] = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                      num_train_timesteps=1000, set_alpha_to_one=False, skip_prk_steps=True,
                      steps_offset=1)

#: IP-Adapter's image encoder (OpenCLIP ViT-H/14 vision tower, CLIPVisionModelWithProjection)
IP_IMAGE_ENCODER: ByScale = {
    "full": dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                 num_attention_heads=16, patch_size=14, image_size=224, projection_dim=1024,
                 hidden_act="gelu", layer_norm_eps=1e-5),
    "small": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  patch_size=14, image_size=224, projection_dim=32, hidden_act="gelu",
                  layer_norm_eps=1e-5),
}
#: tokens the IP-Adapter image projection makes per image (ip-adapter_sd15: 4)
IP_TOKENS = 4

LLAVA_QWEN05: ByScale = {
    "full": dict(
        vision=dict(hidden_size=1152, image_size=384, intermediate_size=4304, num_hidden_layers=26,
                    num_attention_heads=16, patch_size=14, vision_use_head=False),
        text=dict(vocab_size=152000, hidden_size=1024, intermediate_size=2816, num_hidden_layers=24,
                  num_attention_heads=16, num_key_value_heads=16, max_position_embeddings=32768,
                  rope_theta=1000000.0, tie_word_embeddings=True, bos_token_id=151643,
                  eos_token_id=151645),
        image_token_index=151646, vision_feature_layer=-1, vision_feature_select_strategy="full",
        image_seq_length=729, projector_hidden_act="gelu"),
    "small": dict(
        vision=dict(hidden_size=32, image_size=384, intermediate_size=64, num_hidden_layers=2,
                    num_attention_heads=2, patch_size=14, vision_use_head=False),
        text=dict(vocab_size=152000, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32768,
                  rope_theta=1000000.0, tie_word_embeddings=True, bos_token_id=151643,
                  eos_token_id=151645),
        image_token_index=151646, vision_feature_layer=-1, vision_feature_select_strategy="full",
        image_seq_length=729, projector_hidden_act="gelu"),
}
LLAVA15_7B: ByScale = {
    "full": dict(
        vision=dict(hidden_size=1024, image_size=336, intermediate_size=4096, num_hidden_layers=24,
                    num_attention_heads=16, patch_size=14, projection_dim=768,
                    hidden_act="quick_gelu"),
        text=dict(vocab_size=32064, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
                  rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                  pad_token_id=32001),
        image_token_index=32000, vision_feature_layer=-2, vision_feature_select_strategy="default",
        image_seq_length=576, projector_hidden_act="gelu"),
    "small": dict(
        vision=dict(hidden_size=32, image_size=336, intermediate_size=64, num_hidden_layers=3,
                    num_attention_heads=2, patch_size=14, projection_dim=32,
                    hidden_act="quick_gelu"),
        text=dict(vocab_size=32064, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
                  rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                  pad_token_id=32001),
        image_token_index=32000, vision_feature_layer=-2, vision_feature_select_strategy="default",
        image_seq_length=576, projector_hidden_act="gelu"),
}
BLIP_BASE: ByScale = {
    "full": dict(
        vision=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                    num_attention_heads=12, image_size=384, patch_size=16),
        text=dict(vocab_size=30524, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                  num_attention_heads=12, encoder_hidden_size=768, max_position_embeddings=512,
                  bos_token_id=30522, pad_token_id=0, sep_token_id=102, eos_token_id=102)),
    "small": dict(
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                    num_attention_heads=2, image_size=384, patch_size=16),
        text=dict(vocab_size=30524, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, encoder_hidden_size=32, max_position_embeddings=512,
                  bos_token_id=30522, pad_token_id=0, sep_token_id=102, eos_token_id=102)),
}
BART_BASE: ByScale = {
    "full": dict(vocab_size=50265, d_model=768, encoder_layers=6, decoder_layers=6,
                 encoder_attention_heads=12, decoder_attention_heads=12, encoder_ffn_dim=3072,
                 decoder_ffn_dim=3072, max_position_embeddings=1024),
    "small": dict(vocab_size=50265, d_model=32, encoder_layers=1, decoder_layers=1,
                  encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                  decoder_ffn_dim=64, max_position_embeddings=1024),
}
#: transformers CLIPModel of openai/clip-vit-base-patch32 (the clip_similarity metric)
CLIP_B32: ByScale = {
    "full": dict(
        text=dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                  num_attention_heads=8, max_position_embeddings=77, hidden_act="quick_gelu",
                  bos_token_id=49406, eos_token_id=49407, pad_token_id=1),
        vision=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                    num_attention_heads=12, image_size=224, patch_size=32, hidden_act="quick_gelu"),
        projection_dim=512),
    "small": dict(
        text=dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                  bos_token_id=49406, eos_token_id=49407, pad_token_id=1),
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                    num_attention_heads=2, image_size=224, patch_size=32, hidden_act="quick_gelu"),
        projection_dim=32),
}
#: open_clip model configs (``ViT-B-16.json``; "small": same layout, narrow)
OPEN_CLIP_B16: dict[str, dict[str, Any] | None] = {
    "full": None,   # open_clip's own registered ViT-B-16 config
    "small": dict(embed_dim=32, quick_gelu=True,
                  vision_cfg=dict(image_size=224, layers=12, width=64, patch_size=16, head_width=32),
                  text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2)),
}
DETR_R50: ByScale = {
    "full": dict(num_labels=91, d_model=256, encoder_layers=6, decoder_layers=6,
                 encoder_ffn_dim=2048, decoder_ffn_dim=2048, num_queries=100,
                 backbone="resnet50", use_timm_backbone=True, use_pretrained_backbone=False),
    "small": dict(num_labels=91, d_model=32, encoder_layers=1, decoder_layers=1,
                  encoder_ffn_dim=64, decoder_ffn_dim=64, encoder_attention_heads=2,
                  decoder_attention_heads=2, num_queries=10, backbone="resnet18",
                  use_timm_backbone=True, use_pretrained_backbone=False),
}
#: torchvision FCN on ResNet (block, layers per stage)
FCN_R50: ByScale = {"full": dict(block="bottleneck", layers=(3, 4, 6, 3), num_classes=21, aux_loss=True),
           "small": dict(block="basic", layers=(1, 1, 1, 1), num_classes=21, aux_loss=True)}
