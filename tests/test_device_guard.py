"""A guard against CPU/CUDA mixing that runs on a machine without a GPU (issue 19).

Two checks, both part of the normal suite:

1. **Static**: every torch tensor factory in library code (``semlink/``, ``phy/``,
   ``semantic/``, ``links/``) names its device (``torch.zeros(..., device=...)``).  A
   factory without ``device=`` builds on the *default* device, which is the CPU here and
   may be anything elsewhere -- the bug class behind most of the 82 failures on the H200
   (``../shared/evidence/gpu-h200-2026-12-04.md``).
2. **Runtime**: codecs encode and decode with torch's default device set to ``meta``
   while everything they are given lives on the CPU and they were built with
   ``device="cpu"``.  A tensor made without naming its device then lands on ``meta`` and
   the first operation mixing it with a real tensor (or reading its value) fails -- as on
   a GPU, where it would land on the CPU next to CUDA tensors.

Host-only factories are fine when they say so: ``device="cpu"``.
"""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
LIBRARY = ("semlink", "phy", "semantic", "links")

#: torch functions that build a tensor (or a generator) on the default device unless told.
#: ``from_numpy`` is not here: it always gives a host tensor, whatever the default device.
FACTORIES = frozenset({
    "zeros", "ones", "empty", "full", "eye", "arange", "range", "linspace", "logspace",
    "tensor", "as_tensor", "asarray", "empty_strided", "rand", "randn", "randint", "randperm",
    "tril_indices", "triu_indices", "sparse_csr_tensor", "sparse_coo_tensor", "Generator",
})

#: Files left out of the static check.  None: the PHY files issue 19 part 4 rewrote
#: (phy/channels/*, digital.py, coding.py, analog.py, links/link.py) had two sites on
#: 2026-12-04 (channels/base.py: a seed drawn with torch.randint without device;
#: coding.py: input conversion with torch.as_tensor) and are clean since that change.
EXCLUDED: frozenset = frozenset()


#: Sites in files other changes were editing on 2026-12-04 (not this change's to touch);
#: keyed by (file, call) so that a NEW site in the same file still fails.  Each wants
#: ``device=...`` (``device="cpu"`` for host-side sampling with a CPU generator); remove the
#: entry when it is fixed.
PENDING = frozenset({
    # (file, call) -- none left: every site found on 2026-12-04 outside EXCLUDED is fixed
})


def factories_without_device(source: str, filename: str = "<src>") -> list[tuple[int, str]]:
    """``(line, call)`` of every ``torch.<factory>(...)`` call in ``source`` without ``device=``."""
    tree = ast.parse(source, filename)
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in FACTORIES and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "torch"
                and not any(k.arg == "device" for k in node.keywords)
                and not any(k.arg is None for k in node.keywords)):      # **kwargs may carry it
            found.append((node.lineno, (ast.get_source_segment(source, node) or "")[:80]))
    return sorted(found)


def library_sites(root: Path = REPO, excluded=EXCLUDED, pending=PENDING) -> list[str]:
    """``path:line: call`` of every factory without ``device=`` in the library under ``root``."""
    out = []
    for top in LIBRARY:
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel in excluded:
                continue
            out += [f"{rel}:{line}: {call}"
                    for line, call in factories_without_device(path.read_text(), rel)
                    if (rel, call.splitlines()[0].strip()) not in pending]
    return out


def test_the_static_check_sees_a_factory_without_device():
    src = ("import torch\n"
           "a = torch.arange(3)\n"
           "b = torch.zeros(2, device=x.device)\n"
           "g = torch.Generator()\n"
           "c = torch.full((2,), 0.5, dtype=torch.float32, device='cpu')\n"
           "d = torch.from_numpy(arr)\n")
    assert [line for line, _ in factories_without_device(src)] == [2, 4]


def test_every_library_tensor_factory_names_its_device():
    sites = library_sites()
    assert not sites, ("tensor factories without device= (they follow the default device and mix "
                       "CPU and CUDA tensors on a GPU machine; name the device, e.g. "
                       "device=x.device, or device='cpu' for host data):\n  " + "\n  ".join(sites))


# -- runtime: the default device is 'meta', everything handed in is on the CPU ----------------

PROFILES = {"default": {"kind": "digital", "code": "none", "k": 512, "modulation": "qpsk",
                        "crc": "CRC16"},
            "ldpc": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.5,
                     "modulation": "qpsk"},
            "analog": {"kind": "analog"}}


def _images():
    g = torch.Generator(device="cpu").manual_seed(0)
    return [torch.rand(3, 32, 48, generator=g, device="cpu"),
            torch.rand(3, 40, 32, generator=g, device="cpu")]


def _round_trip_on_meta_default(codec, items=None, images=None, queries=None, snr_db=30.0):
    """Encode and decode with default device ``meta``; the channel itself runs outside."""
    from semlink.links.link import Link

    link = Link(PROFILES, "awgn", seed=0, device="cpu")
    codec.attach_phy({s: link.chain(p) for s, p in codec.stream_profiles.items()})
    encode = ((lambda: codec.encode_items(items)) if items is not None
              else (lambda: codec.encode(images, queries)))
    codec.decode(link.transmit(encode(), snr_db))   # warm-up: lazy model loading is not the target
    with torch.device("meta"):
        payload = encode()
    for stream in payload.streams.values():
        for d in stream.data:
            assert d.device.type == "cpu", f"a payload tensor is on {d.device}, not on the host"
    received = link.transmit(payload, snr_db)
    with torch.device("meta"):
        recon = codec.decode(received)
    for img in recon.images or []:
        assert img.device.type == "cpu"
    return recon


@pytest.mark.parametrize("kwargs", [
    {"code": "none", "k": 512, "modulation": "qpsk"},
    {"code": "ldpc5g", "k": 128, "rate": 0.5, "modulation": "psk8"},
    {"code": "ldpc5g", "k": 128, "rate": 0.5, "modulation": "qam16",
     "channel": {"name": "rayleigh", "coherence": {"symbols": 16}, "csi": "ls", "num_pilots": 2}},
])
def test_digital_chains_make_no_tensor_on_the_default_device(kwargs):
    from semlink.phy import DigitalChain

    gen = torch.Generator(device="cpu").manual_seed(0)
    bits = [torch.randint(0, 2, (n,), generator=gen, device="cpu", dtype=torch.uint8)
            for n in (700, 77, 0)]
    with torch.device("meta"):
        chain = DigitalChain(device="cpu", seed=0, **kwargs)
        rx, report = chain.transmit(bits, snr_db=40.0, draw_seeds=[1, 2, 3])
    assert [r.device.type for r in rx] == ["cpu"] * 3
    # error-free at 40 dB
    assert all(torch.equal(r.to(torch.uint8), b) for r, b in zip(rx, bits, strict=True))
    assert list(report.channel_uses) == [chain.channel_uses_for(b.numel()) for b in bits]


def test_analog_chain_makes_no_tensor_on_the_default_device():
    from semlink.phy import AnalogChain

    gen = torch.Generator(device="cpu").manual_seed(0)
    x = [torch.randn(64, generator=gen, dtype=torch.complex64, device="cpu") for _ in range(2)]
    with torch.device("meta"):
        chain = AnalogChain(channel={"name": "rayleigh", "csi": "perfect"}, device="cpu", seed=0)
        rx, _ = chain.transmit(x, snr_db=30.0)
    assert [r.device.type for r in rx] == ["cpu", "cpu"]
    assert all(float((r - s).abs().pow(2).mean()) < 0.05 for r, s in zip(rx, x, strict=True))


@pytest.mark.parametrize("encoding", ["utf8", "ascii7"])
def test_text_codec_makes_no_tensor_on_the_default_device(encoding):
    from semlink.semantic import make_codec

    codec = make_codec("text", {"encoding": encoding, "device": "cpu"}, {"caption0": "ldpc"})
    items = [SimpleNamespace(name=f"{i}.jpg", image=torch.zeros(3, 4, 4, device="cpu"),
                             captions=[c], queries=[])
             for i, c in enumerate(["A man riding a horse.", "Two dogs in the park."])]
    recon = _round_trip_on_meta_default(codec, items=items)
    assert recon.texts == [["A man riding a horse."], ["Two dogs in the park."]]


@pytest.mark.parametrize("name,params,profiles", [
    ("raw_pixels", {"downsample": 2, "bit_depth": 4}, {"pixels": "default"}),
    ("jpeg", {"quality": 50}, None),
    ("analog_pixels", {"downsample": 2}, None),
    ("deepjscc", {"checkpoint": "builtin", "ratio": 0.1666667, "device": "cpu"}, None),
])
def test_image_codecs_make_no_tensor_on_the_default_device(name, params, profiles):
    from semlink.semantic import make_codec

    codec = make_codec(name, params, profiles)
    recon = _round_trip_on_meta_default(codec, images=_images())
    assert [tuple(i.shape) for i in recon.images] == [(3, 32, 48), (3, 40, 32)]


def test_text_bits_follow_their_device():
    from semlink.semantic.text import bits_to_ints, ints_to_bits

    with torch.device("meta"):
        bits = ints_to_bits([5, 0, 127], 7)
        assert bits.device.type == "cpu"
        assert bits_to_ints(bits, 7) == [5, 0, 127]


def test_compiled_ldpc_decoder_makes_no_tensor_on_the_default_device():
    pytest.importorskip("ldpc", reason="needs pip install 'semlink[ldpc-cpu]'")
    from sionna.phy.fec.ldpc import LDPC5GEncoder

    from semlink.phy.ldpc_compiled import CompiledBPDecoder

    enc = LDPC5GEncoder(64, 128, num_bits_per_symbol=2, device="cpu")
    dec = CompiledBPDecoder(enc, max_iter=10, processes=1)
    u = torch.randint(0, 2, (3, 64), device="cpu").to(torch.float32)
    llr = (2 * enc(u) - 1) * 3.0                 # noiseless, logit sign: positive for a 1
    llr[:, :5] = -llr[:, :5]                     # a few wrong signs: BP has work to do
    with torch.device("meta"):
        bits, iterations = dec(llr)
    assert bits.device.type == "cpu" and torch.equal(bits, u)
    assert iterations.device.type == "cpu"


def test_sweep_resolves_auto_and_records_it(tmp_path, image_dir):
    from semlink.device import resolve_device
    from semlink.links.scenario import parse_scenario

    raw = {"dataset": {"path": str(image_dir)}, "channels": ["awgn"], "snr_db": [0],
           "codecs": ["raw_pixels"]}
    scenario = parse_scenario(raw)
    assert scenario.device == "auto"                          # the default everywhere
    assert resolve_device(scenario.device) == ("cuda:0" if torch.cuda.is_available() else "cpu")


def test_uoisc_makes_no_tensor_on_the_default_device(tmp_path):
    pytest.importorskip("open_clip", reason="UO-ISC needs pip install 'semlink[vlm]'")
    from semlink.semantic import make_codec
    from semlink.semantic.uoisc import save_uoisc
    from test_uoisc import CONFIG, tiny

    save_uoisc(tmp_path / "m.pt", tiny(), CONFIG)
    codec = make_codec("uoisc", {"checkpoint": str(tmp_path / "m.pt"), "device": "cpu"},
                       {"indices": "ldpc"})
    g = torch.Generator(device="cpu").manual_seed(0)
    images = [torch.rand(3, 32, 32, generator=g, device="cpu") for _ in range(2)]
    recon = _round_trip_on_meta_default(codec, images=images, queries=[["a dog?"], []])
    assert [tuple(i.shape) for i in recon.images] == [(3, 32, 32), (3, 32, 32)]


@pytest.mark.parametrize("name", ["multisc", "vlmcsc"])
def test_multisc_and_vlmcsc_make_no_tensor_on_the_default_device(tmp_path, name):
    pytest.importorskip("diffusers", reason="needs the 'diffusion' extra")
    from fixtures.tiny_diffusion import build_tiny_diffusion
    from fixtures.tiny_text_models import build_tiny_blip, build_tiny_llava
    from fixtures.tiny_vision import build_tiny_fcn
    from semlink.semantic import make_codec

    sd, ip = build_tiny_diffusion(tmp_path)
    diffusion = {"model": str(sd), "steps": 2, "height": 32, "width": 32, "guidance": 3.0}
    if name == "vlmcsc":
        params = {"captioner": str(build_tiny_blip(tmp_path / "blip")), "max_new_tokens": 6,
                  "diffusion": diffusion}
    else:
        params = {"captioner": str(build_tiny_llava(tmp_path / "llava")), "max_new_tokens": 6,
                  "object_extractor": "fcn",
                  "object_model": str(build_tiny_fcn(tmp_path / "fcn", favour_class=12)),
                  "object_size": 32, "diffusion": {**diffusion, "ip_adapter": str(ip)}}
    codec = make_codec(name, {**params, "device": "cpu"})
    recon = _round_trip_on_meta_default(codec, images=_images(), snr_db=40.0)
    assert [tuple(i.shape) for i in recon.images] == [(3, 32, 48), (3, 40, 32)]


def test_multisc_object_codec_runs_where_multisc_was_asked_to(monkeypatch):
    """Multi-SC built with device='cpu' on a machine with a GPU keeps its object codec
    (deep JSCC) on the CPU: the H200 run found the object stream's payload on cuda:0, the
    inner codec having followed the 'auto' default.  The GPU is a stand-in here (CUDA
    reported present): a codec that follows 'auto' then tries cuda:0 and fails."""
    from semlink.semantic.multisc.objects import ObjectChannel

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    objects = ObjectChannel("deepjscc", {"ratio": 1 / 12}, 32, device="cpu")
    assert objects.inner.device == "cpu" and objects.inner.params()["device"] == "cpu"
    assert next(objects.inner.model.parameters()).device.type == "cpu"
    # an explicit object_params device wins; codecs without a device parameter get none
    assert ObjectChannel("deepjscc", {"device": "cpu"}, 32, device="cuda:0").inner.device == "cpu"
    assert ObjectChannel("analog", {}, 32, device="cpu").inner is not None


def test_query_aware_makes_no_tensor_on_the_default_device(tmp_path):
    pytest.importorskip("diffusers", reason="needs the 'diffusion' extra")
    from fixtures.tiny_diffusion import build_tiny_sd
    from semlink.semantic import make_codec
    from semlink.semantic.vlm import build_tiny_llava

    params = {"vlm": build_tiny_llava(str(tmp_path / "llava")),
              "diffusion": str(build_tiny_sd(tmp_path / "sd")), "steps": 2, "size": 32,
              "guidance": 3.0, "scheduler": "ddim", "max_answer_tokens": 5,
              "image_rate_bpp": 1.5, "device": "cpu"}
    codec = make_codec("query_aware", params, {"answer": "ldpc", "image": "default"})
    recon = _round_trip_on_meta_default(codec, images=_images(),
                                        queries=[["What is on the table?"], []], snr_db=40.0)
    assert [tuple(i.shape) for i in recon.images] == [(3, 32, 48), (3, 40, 32)]
