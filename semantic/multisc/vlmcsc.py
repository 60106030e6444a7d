"""VLM-CSC as the Multi-SC papers use it (their baseline [4]).

Jiang et al., "Visual language model based cross-modal semantic
communication systems" (IEEE TWC 2025): BLIP captions the whole image, the
caption crosses the channel, Stable Diffusion generates the image from the
text alone. Here: BLIP caption -> ``text_0`` stream over a PHY profile
(``text_transport: bits``: text bits, LDPC and modulation of the profile; or
``embedding``: BLIP's text-decoder token embeddings) -> optional correction ->
SD 1.5 text-to-image (no IP-Adapter, no object).

Differences from the original VLM-CSC, stated so results are not mistaken
for it: the original codes the text with a learned, channel-trained
transformer semantic encoder/decoder (with its knowledge base and noise
adaptation modules) and fine-tunes components; none of that is reproduced.
This baseline sends the caption as bits through the same digital PHY as
Multi-SC's text streams, which is also what the Multi-SC papers compare
against ("VLM-CSC with stable diffusion").
"""

from __future__ import annotations

from semlink.device import DEFAULT_DEVICE, resolve_device

from ..codec import CODECS
from .codec import MultiSCCodec


@CODECS.register("vlmcsc")
class VLMCSCCodec(MultiSCCodec):
    """VLM-CSC baseline: BLIP caption -> text over the PHY -> SD 1.5 text-to-image.

    :param captioner: ``"blip"`` (default) or another captioner reference.
    :param text_transport, text_embedding_model, text_quant_bits, text_quant_clip: the caption's
        transport (``bits`` or the captioner's token ``embedding``), as for Multi-SC.
    :param text_encoding, text_profile, corrector, diffusion, output_size, seed, device:
        as for :class:`~.codec.MultiSCCodec` (``diffusion`` must not set ``ip_adapter``).
    :param max_new_tokens: caption length limit.
    """

    name = "vlmcsc"

    def __init__(self, captioner: str = "blip", max_new_tokens: int = 40,
                 text_encoding: str = "utf8", text_profile: str = "default",
                 text_transport: str = "bits", text_embedding_model: str | None = None,
                 text_quant_bits: int | None = None, text_quant_clip: float | None = None,
                 corrector: str = "none", diffusion: dict | None = None,
                 output_size: str = "original", seed: int | None = None,
                 device: str = DEFAULT_DEVICE) -> None:
        device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
        diffusion = dict(diffusion or {})
        if diffusion.get("ip_adapter"):
            raise ValueError("vlmcsc is text-to-image only: remove diffusion.ip_adapter")
        diffusion["ip_adapter"] = None
        super().__init__(split="none", captioner=captioner, max_new_tokens=max_new_tokens,
                         text_encoding=text_encoding, text_profile=text_profile,
                         text_transport=text_transport, text_embedding_model=text_embedding_model,
                         text_quant_bits=text_quant_bits, text_quant_clip=text_quant_clip,
                         object_codec="none", corrector=corrector, diffusion=diffusion,
                         output_size=output_size, seed=seed, device=device)
