"""Built-in registry entries for ``semlink list``: GENERATED, do not edit.

Regenerate with ``python -m semlink.catalog --write`` after adding or renaming a built-in
channel, codec, code, modulation or metric, or changing its description.
"""

BUILTIN = {
    "channels": {
        "awgn": "complex AWGN, y = x + n",
        "flat_fading": "flat fading, fading=rayleigh|rician, all options",
        "rayleigh": "flat Rayleigh fading; coherence symbols|block|item, csi perfect|ls|none, num_pilots",
        "rician": "flat Rician fading with k_factor; coherence, csi, num_pilots"
    },
    "codecs": {
        "analog_pixels": "Linear analog transmission of centred pixels, two per complex symbol.",
        "deepjscc": "Deep JSCC (Bourtsoulatze et al. 2019): CNN encoder/decoder over one analog stream.",
        "hevc_intra": "HEVC intra (x265 via pillow-heif, HEIF container): the codec inside BPG; quality 1..100.",
        "jpeg": "JPEG (libjpeg via Pillow), 4:2:0, optimised Huffman tables; quality 1..95.",
        "jpeg2000": "JPEG2000 (OpenJPEG via Pillow), irreversible 9/7 + colour transform, raw J2K.",
        "jpeg2000_layered": "Base + residual JPEG2000 layers on two digital streams (``base``, ``refinement``).",
        "multisc": "Multi-SC (Huang & Li): captions of image parts + main object -> SD 1.5 + IP-Adapter.",
        "query_aware": "Query-aware image semantic coding (Chen et al., arXiv 2408.12616): VLM answer + low-rate image + SD.",
        "raw_pixels": "Raw quantised pixels (bit_depth bits per channel) over one digital stream.",
        "text": "Texts (dataset captions or a captioner's output) over digital streams.",
        "uoisc": "UO-ISC (user-oriented image semantic coding with CLIP + segment-wise VQ), one digital stream.",
        "vlmcsc": "VLM-CSC baseline: BLIP caption -> text over the PHY -> SD 1.5 text-to-image."
    },
    "codes": {
        "ldpc5g": "3GPP 5G NR LDPC (38.212) with rate matching, BP decoding",
        "none": "uncoded (bits mapped directly), optional CRC per block"
    },
    "modulations": {
        "bpsk": "BPSK (= pam2), 1 bit/symbol",
        "qpsk": "Gray QPSK (= qam4), 2 bits/symbol",
        "psk8": "Gray 8-PSK, 3 bits/symbol",
        "psk16": "Gray 16-PSK, 4 bits/symbol",
        "qam16": "Gray 16-QAM (3GPP labelling), 4 bits/symbol",
        "qam64": "Gray 64-QAM, 6 bits/symbol",
        "qam256": "Gray 256-QAM, 8 bits/symbol",
        "pamM": "Gray M-PAM on the real axis, M = 2, 4, 8, ...",
        "custom": "user-given points (2**m complex values, label = index)"
    },
    "metrics": {
        "answer_match": "VQA answer match rate judged by a LLaVA-family model (params: vlm)",
        "bleu": "BLEU of received vs sent text, sacrebleu score / 100 (0-1 scale)",
        "cer": "character error rate of received vs sent text (Levenshtein)",
        "clip_similarity": "CLIP cosine similarity: image-image (mode: image) or received text-image (mode: text); params: model, mode",
        "exact_match": "fraction of texts received exactly",
        "lpips": "LPIPS v0.1 AlexNet (needs pretrained backbone weights on disk)",
        "ms_ssim": "multi-scale SSIM (pytorch-msssim, 5 scales; needs sides > 160 px)",
        "mse": "mean squared error, images in [0, 1]",
        "psnr": "peak signal-to-noise ratio [dB], images in [0, 1]",
        "relevance_loss": "user-intent relevance loss (UO-ISC eq. 11) from a LLaVA-family model (params: vlm)",
        "ssim": "structural similarity (pytorch-msssim), per image",
        "wer": "word error rate of received vs sent text (Levenshtein on words)"
    },
    "phy_metrics": {
        "ber": "bit error rate over the image's digital streams (genie)",
        "bler": "code block error rate over the image's digital streams (genie)",
        "channel_uses": "complex channel symbols per image, all streams, pilots included"
    }
}
