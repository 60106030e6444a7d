"""Tokenizers for stand-in models, built offline with their real vocabulary sizes.

* **CLIP** (SD 1.5's text encoder, CLIP ViT-B/32): the *real* CLIP BPE
  vocabulary (49408 tokens), built from the ``bpe_simple_vocab_16e6.txt.gz``
  file that open_clip ships -- the same vocabulary and merges as
  ``openai/clip-vit-*`` tokenizers.
* **Qwen1.5** (LLaVA-Interleave), **LLaMA** (LLaVA-1.5), **BART**, **BERT**
  (BLIP): NOT the real tokenizers. A byte-level BPE (BERT: word-level)
  trained on a few sentences, padded with ``<|stand_in_i|>`` entries to the
  real vocabulary size, with the real special tokens at their real ids. Token
  counts per caption therefore differ from the real tokenizers (more tokens:
  a small merge table), which makes generation and text-stream bit counts
  pessimistic; the embedding and output-layer sizes are the real ones.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

CORPUS = ("a man riding a horse on the beach . two dogs play with a frisbee in the park . "
          "a cat sleeping on a red couch . a plate of food with broccoli and rice . "
          "people walking down a city street . a train on the tracks next to a station . "
          "the picture shows a group of people standing in front of a building with trees "
          "and a blue sky . a close up of a bird sitting on a branch . what is in the image ?")

QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<image>\n"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
LLAVA15_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: {% else %}ASSISTANT: "
    "{% endif %}{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<image>\n{% else %}"
    "{{ c['text'] }}{% endif %}{% endfor %}{% endif %} {% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}")


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte -> printable unicode table, in CLIP's order (the base symbols
    of byte-level BPE; also used by the tiny test tokenizers)."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def write_clip_tokenizer(folder: Path) -> int:
    """CLIP's real BPE tokenizer (``CLIPTokenizer`` files) from open_clip's vocabulary file.

    :returns: the vocabulary size (49408).
    """
    import open_clip
    import transformers

    bpe = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    lines = gzip.open(bpe).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    tok = transformers.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                                     model_max_length=77, pad_token="<|endoftext|>")
    tok.save_pretrained(str(folder))
    return len(vocab)


def _padded_bpe(size: int, specials: dict[int, str], train_size: int = 600):
    """A byte-level BPE ``tokenizers.Tokenizer`` of exactly ``size`` ids; ``specials`` at their ids."""
    from tokenizers import ByteLevelBPETokenizer, Tokenizer, decoders, models, pre_tokenizers

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([CORPUS] * 8, vocab_size=train_size, min_frequency=2,
                            show_progress=False)
    learned = json.loads(bpe._tokenizer.to_str())["model"]  # noqa: SLF001 - public JSON form
    merges = [(str(a), str(b)) for a, b in (m.split() if isinstance(m, str) else m
                                            for m in learned["merges"])]
    pieces = sorted(learned["vocab"], key=learned["vocab"].get)
    vocab: dict[str, int] = {}
    k = 0
    for i in range(size):
        if i in specials:
            vocab[specials[i]] = i
        elif k < len(pieces):
            vocab[pieces[k]] = i
            k += 1
        else:
            vocab[f"<|stand_in_{i}|>"] = i
    if k < len(pieces):
        raise ValueError(f"vocabulary size {size} is too small for the {len(pieces)} learned pieces")
    tok = Tokenizer(models.BPE(vocab, merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(specials.values()))
    return tok


def qwen_tokenizer(vocab_size: int = 151647):
    """Stand-in for Qwen1.5's tokenizer (151643 BPE ids + 3 special + ``<image>``); NOT the real one."""
    import transformers

    specials = {151643: "<|endoftext|>", 151644: "<|im_start|>", 151645: "<|im_end|>",
                151646: "<image>"}
    tok = _padded_bpe(vocab_size, specials)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        unk_token=None, padding_side="left", chat_template=QWEN_CHAT_TEMPLATE,
        extra_special_tokens={"image_token": "<image>"})


def llama_tokenizer(vocab_size: int = 32002):
    """Stand-in for LLaVA-1.5's LLaMA tokenizer (32000 + ``<image>`` + ``<pad>``); NOT the real one."""
    import transformers

    specials = {0: "<unk>", 1: "<s>", 2: "</s>", 32000: "<image>", 32001: "<pad>"}
    tok = _padded_bpe(vocab_size, specials)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", padding_side="left", chat_template=LLAVA15_CHAT_TEMPLATE,
        extra_special_tokens={"image_token": "<image>"})


def bart_tokenizer(vocab_size: int = 50265):
    """Stand-in for BART's GPT-2 BPE tokenizer (50265 ids, ``<mask>`` last); NOT the real one."""
    import transformers

    specials = {0: "<s>", 1: "<pad>", 2: "</s>", 3: "<unk>", vocab_size - 1: "<mask>"}
    tok = _padded_bpe(vocab_size, specials)
    from tokenizers import processors

    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return transformers.BartTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                          sep_token="</s>", cls_token="<s>", unk_token="<unk>",
                                          pad_token="<pad>", mask_token="<mask>")


def bert_tokenizer(vocab_size: int = 30524):
    """Stand-in for BLIP's BERT tokenizer (30522 word pieces + ``[DEC]``, ``[ENC]``); NOT the real one."""
    import transformers

    words = list(dict.fromkeys(CORPUS.split()))
    vocab = {}
    for i in range(vocab_size - 2):
        vocab[f"[unused{i}]"] = i
    fixed = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]"}
    inv = {i: t for t, i in vocab.items()}
    for i, t in fixed.items():
        inv[i] = t
    for j, w in enumerate(words):
        inv[1000 + j] = w
    vocab = {t: i for i, t in sorted(inv.items())}
    tok = transformers.BertTokenizerFast(vocab=vocab, do_lower_case=True, bos_token="[DEC]")
    tok.add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})
    return tok
