"""``semlink train corrector``: fine-tune BART to correct text received over the PHY.

As in the Multi-SC letter (Sec. IV-A, "training of the BART model": the
captioner's texts of whole images and of image parts, "combined and
randomly sampled"), the fine-tuning set is built from the system's own
texts, here by sending them through the **real chain** with the scenario's
text transport (:func:`semlink.semantic.correction.build_correction_pairs`):

* texts: the dataset's captions (``captions``: a COCO captions JSON, CSV or
  JSON map), and/or a captioner's outputs (``captioner`` on the images of
  ``data``, on whole images and on ``parts`` = ``RxC`` grid parts), pooled;
  ``samples`` > 0 draws that many texts from the pool (seeded, with
  replacement when the pool is smaller): the letter's "combined and randomly
  sampled";
* ``holdout`` of the distinct texts are held out (whole captions, not pairs,
  so the final evaluation is on captions the corrector never saw);
* ``transport``: ``bits`` (text ``encoding`` over the digital profile
  ``code``, ``k``, ``rate``, ``modulation``) or ``embedding`` (token
  embeddings of ``embedding_model``'s input table, or the captioner's, on an
  analog chain; with ``quant_bits`` and ``quant_clip`` quantised on the
  digital profile), over ``channel`` at every Es/N0 in ``snr_db``, ``copies``
  times; the (noisy -> clean) pairs are kept plus ``clean_fraction``
  (clean -> clean) pairs; ``pairs.jsonl`` lists them all.

The model (``BartForConditionalGeneration``, default ``facebook/bart-base``,
resolved through :mod:`semlink.models`) is fine-tuned with AdamW on
teacher-forced cross-entropy, batches drawn with a seeded generator. The
shared loop gives checkpoints (``last.pt``), ``--resume``, ``train_log.csv``
and progress. At the end ``OUT/model/`` holds the fine-tuned model and
tokenizer (``save_pretrained``; use it as ``corrector: bart:OUT/model``) and
``OUT/model/semlink_corrector.json`` the seed, chain configuration, the
**transport** it was trained for (codecs refuse it for another one), base
model record and an evaluation (CER and token error rate before/after on the
held-out captions). A model fine-tuned from a test model carries the
test-model marker too.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from semlink.device import DEFAULT_DEVICE, resolve_device

from ..correction import DEFAULT_BART, build_correction_pairs
from .loop import Trainer
from .registry import TRAINERS, Option


def _parse_parts(parts: str | None) -> tuple[int, int] | None:
    if parts in (None, "", "none"):
        return None
    try:
        r, c = (int(v) for v in str(parts).lower().split("x"))
    except ValueError:
        raise ValueError(f"parts must look like '2x2' (rows x cols), got {parts!r}") from None
    return r, c


def collect_texts(captions: str | None = None, data: str | None = None, captioner=None,
                  parts: str | None = "2x2", device: str = DEFAULT_DEVICE) -> list[str]:
    """Clean texts: dataset captions and/or captioner outputs on images and their parts.

    :param captioner: a captioner reference or a :class:`~semlink.semantic.captioning.Captioner`.
    """
    device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
    texts: list[str] = []
    if captions:
        from semlink.data import load_captions

        for _, caps in sorted(load_captions(captions, key="--captions").items()):
            texts.extend(caps)
    if captioner:
        if not data:
            raise ValueError("--captioner needs --data (the images to caption)")
        from semlink.data import ImageDataset

        from ..captioning import Captioner, split_image

        cap = captioner if isinstance(captioner, Captioner) else Captioner(captioner, device=device)
        images = [it.image for it in ImageDataset(data, key="--data")]
        grid = _parse_parts(parts)
        crops = [p for img in images for p in (split_image(img, *grid) if grid else [])]
        texts.extend(cap.caption(images + crops))
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise ValueError("no texts to train on: give --captions FILE and/or --data DIR --captioner MODEL")
    return texts


@TRAINERS.register("corrector", "BART text corrector fine-tuned on texts sent through the PHY")
class CorrectorTrainer(Trainer):
    """Fine-tunes a BART corrector on (received -> sent) pairs from the digital chain.

    :param model: base BART reference (HF id or folder).
    :param snr_db: Es/N0 points [dB] of the fine-tuning set.
    :param holdout: fraction of the pairs kept out of training for the final evaluation.
    """

    name = "corrector"
    log_fields = ("loss",)
    OPTIONS = (
        Option("captions", "str", None, "captions file (COCO captions JSON, CSV, JSON map)"),
        Option("data", "str", None, "images to caption with --captioner"),
        Option("captioner", "str", None, "captioner (llava, blip or a model ref) for --data"),
        Option("parts", "str", "2x2", "also caption image parts on this RxC grid ('none': off)"),
        Option("samples", "int", 0, "texts drawn from the pooled captions (0: all of them once)"),
        Option("transport", "str", "bits", "text transport: bits or embedding"),
        Option("encoding", "str", "utf8", "bits: text encoding utf8, ascii7, tokens:<tokenizer>"),
        Option("embedding_model", "str", None,
               "embedding: model whose input embedding table is sent (default: the captioner's)"),
        Option("quant_bits", "int", None, "embedding on the digital profile: bits per dimension"),
        Option("quant_clip", "float", None, "embedding quantiser clipping range [std devs]"),
        Option("code", "str", "ldpc5g", "channel code of the chain: ldpc5g or none"),
        Option("k", "int", 256, "information bits per code block"),
        Option("rate", "float", 0.5, "code rate (ldpc5g)"),
        Option("modulation", "str", "psk8", "modulation, e.g. psk8, qpsk"),
        Option("channel", "str", "awgn", "channel name (awgn, rayleigh, ...)"),
        Option("snr_db", "floats", [0.0, 2.0, 4.0, 6.0, 8.0], "Es/N0 points of the set [dB]"),
        Option("copies", "int", 1, "transmissions of every text per SNR point"),
        Option("clean_fraction", "float", 0.1, "extra (clean -> clean) pairs, fraction"),
        Option("holdout", "float", 0.1, "fraction of the distinct texts held out for evaluation"),
        Option("model", "str", DEFAULT_BART, "base BART model reference"),
        Option("steps", "int", 1000, "optimisation steps"),
        Option("batch_size", "int", 16, "pairs per step"),
        Option("lr", "float", 5e-5, "AdamW learning rate"),
        Option("max_length", "int", 96, "token limit of inputs and targets"),
        Option("seed", "int", 0, "seed of the chain, the split and the batches"),
        Option("device", "str", DEFAULT_DEVICE,
               "torch device: auto (first CUDA device if any, else cpu), cpu, cuda, cuda:N"),
    )

    def __init__(self, captions: str | None = None, data: str | None = None,
                 captioner: str | None = None, parts: str | None = "2x2", samples: int = 0,
                 transport: str = "bits", encoding: str = "utf8",
                 embedding_model: str | None = None, quant_bits: int | None = None,
                 quant_clip: float | None = None,
                 code: str = "ldpc5g", k: int = 256, rate: float = 0.5, modulation: str = "psk8",
                 channel: str = "awgn", snr_db=(0.0, 2.0, 4.0, 6.0, 8.0), copies: int = 1,
                 clean_fraction: float = 0.1, holdout: float = 0.1, model: str = DEFAULT_BART,
                 steps: int = 1000, batch_size: int = 16, lr: float = 5e-5, max_length: int = 96,
                 seed: int = 0, device: str = DEFAULT_DEVICE, texts: list[str] | None = None) -> None:
        device = resolve_device(device)   # semlink's device rule: auto -> first GPU, else CPU
        from semlink.extras import require
        from semlink.models import load_hf

        transformers = require("transformers", "semlink train corrector")
        for name, v in (("steps", steps), ("batch_size", batch_size), ("max_length", max_length)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not 0.0 <= holdout < 1.0:
            raise ValueError(f"holdout must be in [0, 1), got {holdout!r}")
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
            raise ValueError(f"samples must be an int >= 0 (0: every text once), got {samples!r}")
        from ..text_transport import make_transport

        cap = None
        if captioner:
            from ..captioning import Captioner

            cap = Captioner(captioner, device=device)
        if transport == "embedding" and not embedding_model and cap is None:
            raise ValueError("--transport embedding needs --embedding-model <model ref> (or "
                             "--captioner, whose language model's table is then sent)")
        from ..text_transport import embedding_table_loader

        load = embedding_table_loader(transport, embedding_model,
                                      None if cap is None else (lambda: cap), device)
        table = load() if load is not None else None        # loaded now, before the texts
        tr = make_transport(transport, encoding, table, embedding_model or captioner or "",
                            quant_bits, quant_clip)
        texts = list(texts) if texts else collect_texts(captions, data, cap, parts, device)
        distinct = sorted(set(texts))
        random.Random(seed).shuffle(distinct)
        n_hold = int(round(holdout * len(distinct)))
        held = set(distinct[:n_hold])
        train_texts = [t for t in texts if t not in held]
        if samples:
            rng = random.Random(seed + 1)
            train_texts = (rng.sample(train_texts, samples) if samples <= len(train_texts)
                           else rng.choices(train_texts, k=samples))
        if not train_texts:
            raise ValueError("no training texts left after the holdout; give more texts")
        profile = ({"kind": "analog", "power": 1.0} if tr.kind == "analog" else
                   {"code": code, "k": k, "modulation": modulation,
                    **({"rate": rate} if code != "none" else {})})
        pairs, chain_cfg = build_correction_pairs(train_texts, encoding, profile, channel,
                                                  list(snr_db), copies, clean_fraction, seed,
                                                  device, transport=tr)
        random.Random(seed).shuffle(pairs)
        self.pairs = pairs
        self.eval_pairs: list = []
        if held:
            self.eval_pairs, _ = build_correction_pairs(sorted(held), encoding, profile, channel,
                                                        list(snr_db), copies, 0.0, seed + 1000,
                                                        device, transport=tr)
        self.transport = tr
        self.model, self.tokenizer, self.base_record = load_hf(
            model, transformers.BartForConditionalGeneration, role="corrector_base",
            processor_class=transformers.AutoTokenizer, device=device)
        self.model.train()
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=lr)
        self.gen = torch.Generator(device="cpu").manual_seed(seed)
        self.steps, self.batch_size, self.max_length, self.device = steps, batch_size, max_length, device
        self._config = {"model": str(model), "model_sha256": self.base_record.sha256,
                        "transport": transport, "encoding": encoding,
                        "embedding_model": embedding_model, "quant_bits": quant_bits,
                        "quant_clip": quant_clip, "samples": samples,
                        "profile": profile, "channel": channel,
                        "snr_db": [float(s) for s in snr_db], "copies": copies,
                        "clean_fraction": clean_fraction, "holdout": holdout, "lr": lr,
                        "batch_size": batch_size, "max_length": max_length, "seed": seed,
                        "num_texts": len(texts), "num_heldout_texts": len(held),
                        "num_train_pairs": len(self.pairs),
                        "num_eval_pairs": len(self.eval_pairs), "steps": steps,
                        "captions": captions, "data": data, "captioner": captioner, "parts": parts}
        self.chain_config = chain_cfg

    def config(self) -> dict:
        return dict(self._config)

    def total_steps(self) -> int:
        return self.steps

    def train_step(self, step: int) -> dict[str, float]:
        picks = torch.randint(len(self.pairs), (self.batch_size,), generator=self.gen,
                              device="cpu").tolist()
        noisy = [self.pairs[i].noisy for i in picks]
        clean = [self.pairs[i].clean for i in picks]
        tok = self.tokenizer
        enc = tok(noisy, text_target=clean, return_tensors="pt", padding=True, truncation=True,
                  max_length=self.max_length)
        labels = enc["labels"].masked_fill(enc["labels"] == tok.pad_token_id, -100)
        out = self.model(input_ids=enc["input_ids"].to(self.device),
                         attention_mask=enc["attention_mask"].to(self.device),
                         labels=labels.to(self.device))
        self.opt.zero_grad()
        out.loss.backward()
        self.opt.step()
        return {"loss": float(out.loss.detach())}

    def save_checkpoint(self, path: Path, step: int, seconds: float) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save({"format": "semlink-corrector-1", "state_dict": self.model.state_dict(),
                    "optimizer": self.opt.state_dict(), "rng_data": self.gen.get_state(),
                    "step": step, "seconds": seconds, "config": self.config()}, tmp)
        tmp.replace(path)

    def restore(self, path: Path) -> tuple[int, float, dict]:
        ckpt = torch.load(path, map_location=self.device, weights_only=False)
        if ckpt.get("format") != "semlink-corrector-1":
            raise ValueError(f"{path} is not a semlink corrector checkpoint")
        self.model.load_state_dict(ckpt["state_dict"])
        self.opt.load_state_dict(ckpt["optimizer"])
        self.gen.set_state(ckpt["rng_data"].cpu())    # a host ByteTensor; map_location moved it
        return int(ckpt["step"]), float(ckpt["seconds"]), {**ckpt["config"], "steps": self.steps}

    def finish(self, out_dir: Path, result: dict) -> dict:
        from semlink.edit_distance import error_rate
        from semlink.provenance import TEST_MODEL_MARKER, hash_path

        from ..correction import BartCorrector

        folder = out_dir / "model"
        self.model.eval()
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        if self.base_record.test_model:
            (folder / TEST_MODEL_MARKER).write_text(json.dumps(
                {"test_model": True, "what": f"fine-tuned from test model {self.base_record.ref}"}))
        evaluation = {}
        if self.eval_pairs:
            corr = BartCorrector(str(folder), max_length=self.max_length, device=self.device)
            fixed = corr.correct([p.noisy for p in self.eval_pairs])
            clean = [p.clean for p in self.eval_pairs]
            noisy = [p.noisy for p in self.eval_pairs]
            evaluation = {"pairs": len(clean), "heldout_texts": "captions never trained on",
                          "cer_received": error_rate(clean, noisy, "char"),
                          "cer_corrected": error_rate(clean, fixed, "char"),
                          "wer_received": error_rate(clean, noisy, "word"),
                          "wer_corrected": error_rate(clean, fixed, "word")}
        meta = {"trainer": "corrector", "config": self.config(), "chain": self.chain_config,
                "transport": self.transport.signature(),
                "base_model": self.base_record.to_dict(), "steps": result["steps"],
                "eval": evaluation}
        (folder / "semlink_corrector.json").write_text(json.dumps(meta, indent=1, default=str))
        with open(out_dir / "pairs.jsonl", "w", encoding="utf-8") as f:
            for split, pairs in (("train", self.pairs), ("eval", self.eval_pairs)):
                for p in pairs:
                    f.write(json.dumps({"split": split, "noisy": p.noisy, "clean": p.clean,
                                        "snr_db": p.snr_db}, ensure_ascii=False) + "\n")
        return {"model_dir": str(folder), "model_sha256": hash_path(folder), "eval": evaluation}
