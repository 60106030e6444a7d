"""Text transports: captions as token embeddings (analog / quantised) vs bits; the corrector
trained through that channel (issue 22, parts 1-2)."""

import itertools
import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

pytest.importorskip("transformers",
                    reason="token embedding tables need the 'vlm' extra (scripts/test.sh installs it)")

from semlink.links.link import Link  # noqa: E402
from semlink.links.scenario import ScenarioError, parse_scenario  # noqa: E402
from semlink.metrics.text import error_rate  # noqa: E402
from semlink.phy import AnalogChain  # noqa: E402
from semlink.semantic import make_codec  # noqa: E402
from semlink.semantic.text_transport import (  # noqa: E402
    EmbeddingTable,
    EmbeddingTransport,
    load_embedding_table,
    same_transport,
)
from stats import assert_rate_close  # noqa: E402

PROFILES = {"analog": {"kind": "analog", "power": 1.0},
            "ldpc": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.5, "modulation": "qpsk"}}
CAPTIONS = ["A man riding a horse on the beach.", "Two dogs play with a frisbee in the park.",
            "A cat sleeping on a red couch.", "Un café 🐕 au lait"]


class CharTokenizer:
    """A minimal tokenizer: one token per character of ``alphabet`` (no special tokens)."""

    all_special_ids: list = []

    def __init__(self, alphabet: str) -> None:
        self.alphabet = alphabet

    def __len__(self) -> int:
        return len(self.alphabet)

    def encode(self, text, add_special_tokens=False):
        return [self.alphabet.index(c) for c in text]

    def decode(self, ids, skip_special_tokens=False, clean_up_tokenization_spaces=False):
        return "".join(self.alphabet[i] for i in ids)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from fixtures.tiny_text_models import build_tiny_bart

    root = tmp_path_factory.mktemp("transport")
    return {"table": build_tiny_bart(root / "table"), "corrector": build_tiny_bart(root / "corr", seed=1)}


def _items(captions):
    return [SimpleNamespace(name=f"{i}.jpg", image=torch.zeros(3, 4, 4), captions=[c], queries=[])
            for i, c in enumerate(captions)]


def _send(codec, snr_db, seed=0):
    received = Link(PROFILES, "awgn", seed=seed, device="cpu").transmit(
        codec.encode_items(_items(CAPTIONS)), snr_db)
    return received, codec.decode(received)


def test_two_token_table_is_antipodal_signalling_with_the_closed_form_error_rate():
    # rows (+a, +a) and (-a, -a): after centring and per-caption power normalisation each token
    # is one complex symbol +-(1+j)/sqrt(2) at Es = 1, and L2 nearest neighbour is the sign of
    # its projection on (1+j): P(token error) = Q(sqrt(2 Es/N0)) (antipodal, BPSK).
    table = EmbeddingTable(torch.tensor([[0.7, 0.7], [-0.7, -0.7]]), CharTokenizer("ab"), "ab")
    tr = EmbeddingTransport(table)
    gen = torch.Generator().manual_seed(0)
    text = "".join("ab"[i] for i in torch.randint(2, (4000,), generator=gen).tolist())
    sym, side = tr.encode(text)
    assert sym.shape == (4000,) and sym.abs().square().mean().item() == pytest.approx(1.0)
    chain = AnalogChain("awgn", seed=1)
    for snr in (-3.0, 0.0, 3.0):
        errors, n = 0, 0
        for _trial in range(5):
            (rx,), rep = chain.transmit([sym], snr)
            got = tr.decode(rx, side)
            assert len(got) == len(text)          # one token per symbol: nothing lost
            errors += sum(a != b for a, b in zip(text, got, strict=True))
            n += len(text)
        q = 0.5 * math.erfc(math.sqrt(2 * 10 ** (snr / 10)) / math.sqrt(2))
        assert_rate_close(errors, n, q, what=f"token error rate at {snr} dB")
        assert rep.channel_uses[0] == 4000                  # D = 2 reals: one complex use per token


def test_receiver_decides_by_l2_distance_not_cosine():
    # y is closer in angle to row 0 but closer in Euclidean distance to row 1
    table = EmbeddingTable(torch.tensor([[1.0, 0.0], [3.0, 0.6]]), CharTokenizer("xy"), "xy")
    assert table.nearest(torch.tensor([[2.6, 0.3]])) == [1]
    assert table.nearest(torch.tensor([[1.1, 0.0]])) == [0]


def test_special_tokens_are_never_decided(tiny):
    table = load_embedding_table(str(tiny["table"]))
    special = set(table.tokenizer.all_special_ids)
    assert special and not special & set(table.candidates.tolist())
    # even the row of a special token itself decodes to a sendable token
    assert not set(table.nearest(table.weight[sorted(special)])) & special


def test_embedding_captions_exact_at_high_snr_with_exact_channel_uses(tiny):
    codec = make_codec("text", {"transport": "embedding", "embedding_model": str(tiny["table"])},
                       {"caption0": "analog"})
    assert codec.stream_kinds == {"caption0": "analog"}
    received, recon = _send(codec, 20.0)
    assert [t[0] for t in recon.texts] == CAPTIONS                 # emoji and accents included
    tok, dim = codec.transport.table.tokenizer, codec.transport.table.dim
    tokens = [len(tok.encode(c, add_special_tokens=False)) for c in CAPTIONS]
    # D reals per token, two reals per complex channel use, as every analog stream
    assert received.channel_uses().tolist() == [math.ceil(n * dim / 2) for n in tokens]
    assert codec.params()["transport"]["kind"] == "analog"
    assert any(r.test_model and r.role == "text_embedding_table" for r in codec.models())


def test_quantised_embeddings_ride_a_digital_profile(tiny):
    codec = make_codec("text", {"transport": "embedding", "embedding_model": str(tiny["table"]),
                                "quant_bits": 4, "quant_clip": 3.0}, {"caption0": "ldpc"})
    payload = codec.encode_items(_items(CAPTIONS))
    dim = codec.transport.table.dim
    for bits, side in zip(payload.streams["caption0"].data, payload.side_info, strict=True):
        assert bits.dtype == torch.uint8 and bits.numel() == side["text_side"][0]["tokens"] * dim * 4
    received, recon = _send(codec, 20.0)
    assert received.reports["caption0"].bit_errors.sum() == 0
    assert [t[0] for t in recon.texts] == CAPTIONS
    assert codec.params()["transport"]["quantiser"]["bits"] == 4


def test_errors_grow_gracefully_as_snr_falls(tiny):
    codec = make_codec("text", {"transport": "embedding", "embedding_model": str(tiny["table"])},
                       {"caption0": "analog"})
    cers = []
    for snr in (2.0, -2.0, -6.0):
        _, recon = _send(codec, snr)
        cers.append(error_rate(CAPTIONS, [t[0] for t in recon.texts], "char"))
    assert cers[0] < cers[1] < cers[2] and cers[1] > 0.02 and cers[2] > 0.2


def _scenario(tmp_path, params, profile):
    caps = tmp_path / "caps.json"
    caps.write_text(json.dumps({"a.png": ["a cat"]}))
    return {"dataset": {"path": str(tmp_path), "captions": str(caps)},
            "codecs": [{"name": "text", "params": params, "profiles": {"caption0": profile}}],
            "profiles": PROFILES, "channels": ["awgn"], "snr_db": [0], "metrics": ["cer"]}


def test_bad_transport_settings_are_refused_before_the_sweep(tiny, tmp_path):
    emb = {"transport": "embedding", "embedding_model": str(tiny["table"])}
    with pytest.raises(ScenarioError, match="quant_bits.*quant_clip"):
        parse_scenario(_scenario(tmp_path, emb, "ldpc"))                # digital, no quantiser
    with pytest.raises(ScenarioError, match="digital profile"):
        parse_scenario(_scenario(tmp_path, {"transport": "bits"}, "analog"))
    with pytest.raises(ScenarioError, match="need a digital profile"):
        parse_scenario(_scenario(tmp_path, {**emb, "quant_bits": 4, "quant_clip": 3.0}, "analog"))
    with pytest.raises(ValueError, match="both quant_bits and quant_clip"):
        make_codec("text", {**emb, "quant_bits": 4})
    with pytest.raises(ValueError, match="embedding_model"):
        make_codec("text", {"transport": "embedding"})
    with pytest.raises(ValueError, match="transport must be one of"):
        make_codec("text", {"transport": "semaphore"})
    with pytest.raises(ValueError, match="quant_bits must be an int"):
        make_codec("text", {**emb, "quant_bits": 40, "quant_clip": 3.0})
    parse_scenario(_scenario(tmp_path, emb, "analog"))                   # the right pairing loads


S = ["a man", "a cat", "two dogs", "people", "a train"]
V = ["riding a horse", "sleeping on a red couch", "play with a frisbee", "walking down a city street"]
P = ["on the beach", "in the park", "next to a station"]
GRAMMAR = [f"{s} {v} {p} ." for s, v, p in itertools.product(S, V, P)]


def test_corrector_trained_through_the_embedding_channel_reduces_errors_on_heldout_captions(
        tiny, tmp_path, device):
    from semlink.edit_distance import error_rate
    from semlink.semantic.correction import BartCorrector
    from semlink.semantic.training import run_training
    from semlink.semantic.training.corrector import CorrectorTrainer

    torch.set_num_threads(1)
    trainer = CorrectorTrainer(texts=GRAMMAR, model=str(tiny["corrector"]), transport="embedding",
                               embedding_model=str(tiny["table"]), snr_db=[-1.0, -2.0, -3.0],
                               copies=4, clean_fraction=0.2, holdout=0.2, steps=300, batch_size=16,
                               lr=3e-3, max_length=64, seed=0, device=device)
    train_clean = {p.clean for p in trainer.pairs}
    held = {p.clean for p in trainer.eval_pairs}
    assert len(held) == 12 and not held & train_clean              # whole captions held out
    result = run_training(trainer, tmp_path / "out", progress=False, log_every=100)
    ev = result["eval"]
    print("held-out captions:", {k: round(v, 3) for k, v in ev.items() if k.endswith(("ed", "ved"))})
    # the channel made token errors on the held-out captions, and the corrector removed most
    assert ev["cer_received"] > 0.08 and ev["wer_received"] > 0.2
    assert ev["cer_corrected"] < 0.5 * ev["cer_received"]
    assert ev["wer_corrected"] < 0.5 * ev["wer_received"]
    folder = result["model_dir"]
    meta = json.loads((Path(folder) / "semlink_corrector.json").read_text())
    assert meta["transport"] == {"transport": "embedding", "kind": "analog",
                                 "table": str(tiny["table"])}
    # held-out captions at high SNR arrive exact ...
    codec = make_codec("text", {"transport": "embedding", "embedding_model": str(tiny["table"]),
                                "corrector": f"bart:{folder}", "device": device},
                       {"caption0": "analog"})
    items = _items(sorted(held)[:4])
    received = Link(PROFILES, "awgn", seed=0, device=device).transmit(codec.encode_items(items), 25.0)
    recon = codec.decode(received)
    assert recon.extras["received_raw"] == [[c] for c in sorted(held)[:4]]
    # ... and the corrector leaves clean captions alone: all 12 held-out ones, most unchanged
    # and a word error rate far below the channel's (one slipped word is the training's float
    # rounding: the corrector trained on an H200 turned one clean 'on the beach' into 'in')
    clean = sorted(held)
    fixed = BartCorrector(folder, max_length=64, device=device).correct(clean)
    print("clean held-out captions changed by the corrector:",
          [(c, f) for c, f in zip(clean, fixed, strict=True) if c != f])
    assert sum(c == f for c, f in zip(clean, fixed, strict=True)) >= 10
    assert error_rate(clean, fixed, "word") < 0.1 * ev["wer_received"]
    # a corrector trained for embeddings is refused for caption bits, before any sweep
    with pytest.raises(ValueError, match="trained for text transport"):
        make_codec("text", {"transport": "bits", "corrector": f"bart:{folder}"})


def test_same_transport_rule():
    bits = {"transport": "bits", "kind": "digital", "encoding": "utf8"}
    assert same_transport(bits, dict(bits))
    assert not same_transport(bits, {**bits, "encoding": "ascii7"})
    assert not same_transport({"transport": "embedding", "kind": "analog"}, bits)
    assert not same_transport({"transport": "embedding", "kind": "analog", "table": "t"},
                              {"transport": "embedding", "kind": "digital", "table": "t"})


def test_captioner_tables_llava_and_blip(tmp_path):
    from fixtures.tiny_text_models import build_tiny_blip, build_tiny_llava
    from semlink.semantic.captioning import Captioner

    for build, name in ((build_tiny_llava, "llava"), (build_tiny_blip, "blip")):
        folder = build(tmp_path / name)
        cap = Captioner(str(folder), max_new_tokens=4)
        table = cap.embedding_table()
        _, model, _, _ = cap._load()
        owner = model.text_decoder if name == "blip" else model
        assert torch.equal(table.weight, owner.get_input_embeddings().weight.detach().float())
        codec = make_codec("text", {"source": "captioner", "captioner": str(folder),
                                    "transport": "embedding"}, {"caption0": "analog"})
        g = torch.Generator().manual_seed(0)
        images = [torch.rand(3, 32, 32, generator=g) for _ in range(2)]
        payload = codec.encode(images)
        received = Link(PROFILES, "awgn", seed=0, device="cpu").transmit(payload, 30.0)
        recon = codec.decode(received)
        sent = [s["eval_sent_texts"] for s in payload.side_info]
        # exact at high SNR up to the tokenizer's own round trip (BLIP lower-cases)
        assert [[table.detokenize(table.token_ids(t[0]))] for t in sent] == recon.texts
        assert np.all(received.channel_uses() > 0) or all(not t[0] for t in sent)


def test_every_text_scenario_names_its_transport():
    """Multi-SC, single-text SC, VLM-CSC and text-over-PHY scenarios say bits or embedding."""
    import yaml

    root = Path(__file__).resolve().parents[1] / "scenarios"
    checked = 0
    for path in sorted(root.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        for i, entry in enumerate(raw.get("codecs") or []):
            if not isinstance(entry, dict) or entry.get("name") not in ("multisc", "vlmcsc", "text"):
                continue
            key = "transport" if entry["name"] == "text" else "text_transport"
            where = {**(entry.get("params") or {}), **(entry.get("grid") or {})}
            assert key in where, f"{path.name} codecs[{i}] ({entry.get('label')}): name {key}"
            checked += 1
    assert checked >= 40


def test_text_over_phy_scenario_compares_at_equal_channel_uses():
    from semlink.links.scenario import load_scenario

    root = Path(__file__).resolve().parents[1]
    import os

    cwd = os.getcwd()
    os.chdir(root)                         # codec paths are relative to where semlink runs
    try:
        sc = load_scenario(str(root / "scenarios" / "text_over_phy.yaml"))
    finally:
        os.chdir(cwd)
    kinds = {c.label: c.instance.transport.kind for c in sc.codecs}
    assert set(kinds.values()) == {"digital", "analog"} and len(kinds) == 4


@pytest.mark.parametrize("quantised", [False, True])
def test_embedding_transport_names_its_devices(tiny, quantised):
    """Encode and decode with torch's default device 'meta' (as tests/test_device_guard.py):
    payloads stay host data and nothing is built on the default device."""
    params = {"transport": "embedding", "embedding_model": str(tiny["table"])}
    if quantised:
        params.update(quant_bits=3, quant_clip=2.5)
    codec = make_codec("text", params, {"caption0": "ldpc" if quantised else "analog"})
    link = Link(PROFILES, "awgn", seed=0, device="cpu")
    codec.encode_items(_items(CAPTIONS))                         # loads the table
    with torch.device("meta"):
        payload = codec.encode_items(_items(CAPTIONS))
    assert all(d.device.type == "cpu" for d in payload.streams["caption0"].data)
    received = link.transmit(payload, 25.0)
    with torch.device("meta"):
        recon = codec.decode(received)
    assert [t[0] for t in recon.texts] == CAPTIONS


def test_query_aware_answer_transport_is_checked(tiny):
    with pytest.raises(ValueError, match="text_embedding_model"):
        make_codec("query_aware", {"text_transport": "embedding"})
    codec = make_codec("query_aware", {"text_transport": "embedding",
                                       "text_embedding_model": str(tiny["table"])})
    assert codec.stream_kinds["answer"] == "analog"
    with pytest.raises(ValueError, match="quant_bits"):
        codec.check_profiles({"answer": PROFILES["ldpc"]})
    codec.check_profiles({"answer": PROFILES["analog"]})
    assert codec.params()["text_transport"]["transport"] == "embedding"


def test_corrector_folders_from_before_transports_count_as_caption_bits(tmp_path):
    """A ``semlink train corrector`` folder without a recorded transport was trained on caption
    bits with its config's encoding; plain Hugging Face folders are not checked."""
    from semlink.semantic.correction import check_corrector_transport, trained_transport

    old = tmp_path / "old"
    old.mkdir()
    (old / "semlink_corrector.json").write_text(json.dumps({"config": {"encoding": "ascii7"}}))
    assert trained_transport(str(old)) == {"transport": "bits", "kind": "digital",
                                           "encoding": "ascii7"}
    check_corrector_transport(f"bart:{old}", {"transport": "bits", "kind": "digital",
                                              "encoding": "ascii7"})
    with pytest.raises(ValueError, match="encoding"):
        make_codec("text", {"transport": "bits", "encoding": "utf8", "corrector": f"bart:{old}"})
    plain = tmp_path / "plain"
    plain.mkdir()
    assert trained_transport(str(plain)) is None and trained_transport("no/such-model") is None


def test_embedding_table_loader_is_the_one_choice_of_table(monkeypatch):
    """bits: no table; embedding: a named model wins, else the captioner's table; nothing is
    loaded (nor the captioner built) until the loader is called; neither is an error."""
    from semlink.semantic import text_transport as tt

    assert tt.embedding_table_loader("bits", "some/model", lambda: 1 / 0) is None
    with pytest.raises(ValueError, match="embedding_model"):
        tt.embedding_table_loader("embedding")
    loaded = []
    monkeypatch.setattr(tt, "load_embedding_table",
                        lambda ref, device="auto": loaded.append((ref, device)) or "table")
    load = tt.embedding_table_loader("embedding", "some/model", lambda: 1 / 0, device="cpu")
    assert loaded == [] and load() == "table" and loaded == [("some/model", "cpu")]
    built = []

    def captioner():
        built.append(1)
        return SimpleNamespace(embedding_table=lambda: "captioner table")

    load = tt.embedding_table_loader("embedding", None, captioner)
    assert built == [] and load() == "captioner table" and built == [1]


def test_the_text_encoding_exists_only_with_the_bits_transport():
    """``TextCodec.encoding`` / ``MultiSC.text_encoding`` name the transport instead of an
    AttributeError when the text goes as embeddings."""
    from semlink.semantic.text_codec import bits_encoding
    from semlink.semantic.text_transport import BitsTransport, EmbeddingTransport

    bits = BitsTransport("ascii7")
    assert bits_encoding(bits, "text") is bits.encoding
    with pytest.raises(ValueError, match=r"multisc: the text encoding exists only with "
                                         r"text_transport 'bits'.*'embedding'"):
        bits_encoding(EmbeddingTransport(lambda: None), "multisc")


def test_loaded_records_name_what_is_loaded_and_load_nothing(tiny):
    """Results written before the first caption list the transport's tokenizer/table only once
    loaded, and asking does not load it (``loaded_records``)."""
    from semlink.semantic.text_transport import BitsTransport, EmbeddingTransport, load_embedding_table

    bits = BitsTransport(f"tokens:{tiny['table']}")
    assert not bits.loaded and bits.loaded_records() == [] and not bits.loaded
    bits.encode("a cat")
    assert bits.loaded and bits.loaded_records() == bits.records() != []
    calls = []

    def table():
        calls.append(1)
        return load_embedding_table(str(tiny["table"]), device="cpu")

    emb = EmbeddingTransport(table)
    assert not emb.loaded and emb.loaded_records() == [] and calls == []
    emb.encode("a cat")
    assert emb.loaded and calls == [1] and emb.loaded_records() == emb.records() != []
    assert BitsTransport("ascii7").loaded_records() == []         # nothing to record
