"""Classical codecs: lossless transport, rate targeting, budgets, corrupted streams."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from semlink.links.link import Link
from semlink.links.profiles import DEFAULT_PROFILES
from semlink.semantic import make_codec
from semlink.semantic.classical import from_pil

try:
    import pillow_heif  # noqa: F401
    HAVE_HEIF = True
except ImportError:
    HAVE_HEIF = False
# only the HEVC-intra tests depend on pillow-heif (the 'codecs' extra, installed by
# scripts/test.sh, so in CI they run); JPEG and JPEG2000 need Pillow alone
needs_heif = pytest.mark.skipif(not HAVE_HEIF, reason="hevc_intra needs pip install 'semlink[codecs]'")
HEVC = pytest.param("hevc_intra", marks=needs_heif)

PROFILES = {**DEFAULT_PROFILES,
            "ldpc8psk": {"kind": "digital", "code": "ldpc5g", "k": 1024, "rate": 0.5,
                         "modulation": "psk8"}}


def photo(h=96, w=128, seed=0):
    """A smooth synthetic photo-like image (gradients, a disc, mild texture)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.5 + 0.4 * np.sin(6 * xx), 0.3 + 0.5 * yy, 0.6 - 0.3 * xx * yy], 0)
    img[:, (yy - 0.4) ** 2 + (xx - 0.5) ** 2 < 0.05] = [[0.9], [0.2], [0.1]]
    img += rng.normal(0, 0.02, img.shape)
    return torch.from_numpy(np.clip(img, 0, 1).astype(np.float32))


@pytest.mark.parametrize("name,quality", [("jpeg2000", 20.0), ("jpeg", 60),
                                          pytest.param("hevc_intra", 50, marks=needs_heif)])
def test_error_free_channel_gives_the_codecs_own_decode_bit_exact(name, quality, device):
    codec = make_codec(name, {"quality": quality}, {"bits": "ldpc8psk"})
    img = photo()
    payload = codec.encode([img])
    own = codec.decode_file(np.packbits(payload.streams["bits"].data[0].cpu().numpy()).tobytes())
    rx = Link(PROFILES, "awgn", seed=0, device=device).transmit(payload, snr_db=40.0)
    assert rx.reports["bits"].bit_errors[0] == 0
    rec = codec.decode(rx)
    assert not rec.fallback[0]
    assert torch.equal(rec.images[0], from_pil(own))
    assert 10 * np.log10(1 / float(((rec.images[0] - img) ** 2).mean())) > 25


@pytest.mark.parametrize("name", ["jpeg2000", HEVC, "jpeg"])
def test_rate_targeting_fits_and_is_close(name):
    img = photo(128, 192)
    for bpp in (0.25, 1.0):
        codec = make_codec(name, {"rate_bpp": bpp})
        side = codec.encode([img]).side_info[0]
        budget = int(bpp * 128 * 192)
        assert side["budget_bits"] == budget
        assert side["file_bits"] <= budget
        if codec.continuous_quality:
            # JPEG2000's rate is continuous: within 2 % of the budget
            assert side["file_bits"] >= 0.98 * budget, (name, bpp, side)
        else:
            # integer qualities (QP steps of ~30 % on small images): the next step must not fit
            from semlink.semantic.classical import to_pil

            bigger = codec.encode_file(to_pil(img), side["quality"] + 1)
            assert len(bigger) * 8 > budget or side["quality"] == codec.quality_range[1]


def test_symbol_budget_through_the_profile_fits_exactly(device):
    link = Link(PROFILES, "awgn", seed=0, device=device)
    chain = link.chain("ldpc8psk")
    img = photo(96, 128)
    for params in ({"symbols_per_image": 3000}, {"bandwidth_ratio": 1 / 6}):
        codec = make_codec("jpeg2000", params, {"bits": "ldpc8psk"})
        codec.attach_phy({"bits": chain})
        payload = codec.encode([img])
        rx = link.transmit(payload, snr_db=30.0)
        budget = params.get("symbols_per_image") or int(96 * 128 * 3 / 6)
        uses = rx.channel_uses()[0]
        assert uses <= budget
        # within one code block of the budget, and the file fills its blocks within 2 %
        assert uses > budget - chain.channel_uses_per_block
        bits_avail = (budget // chain.channel_uses_per_block) * chain.config.k_info
        assert payload.side_info[0]["file_bits"] >= 0.98 * bits_avail


def test_budget_needs_the_phy_and_too_small_budget_is_explained():
    codec = make_codec("jpeg2000", {"symbols_per_image": 3000})
    with pytest.raises(ValueError, match="needs the PHY profile"):
        codec.encode([photo()])
    codec = make_codec("jpeg", {"rate_bpp": 0.001})
    with pytest.raises(ValueError, match="even the lowest quality needs"):
        codec.encode([photo()])
    with pytest.raises(ValueError, match="exactly one of rate_bpp"):
        make_codec("jpeg", {"rate_bpp": 1.0, "quality": 50})


@pytest.mark.parametrize("name", ["jpeg2000", "jpeg", HEVC])
def test_corrupted_streams_decode_or_fall_back_never_crash(name, device):
    codec = make_codec(name, {"rate_bpp": 1.0}, {"bits": "default"})
    imgs = [photo(64, 96, seed=s) for s in range(3)]
    link = Link(PROFILES, "awgn", seed=3, device=device)
    payload = codec.encode(imgs)
    rx = link.transmit(payload, snr_db=-2.0)       # well below the LDPC threshold
    assert rx.reports["bits"].crc_failures.sum() > 0
    rec = codec.decode(rx)
    assert len(rec.images) == 3 and all(im.shape == (3, 64, 96) for im in rec.images)
    for im, fb in zip(rec.images, rec.fallback, strict=True):
        if fb:
            assert torch.all(im == 0.5)
    # fully destroyed file -> documented fallback
    payload.streams["bits"].data[0] = torch.zeros_like(payload.streams["bits"].data[0])
    from semlink.semantic.payload import ReceivedPayload

    rec = codec.decode(ReceivedPayload(payload.streams, payload.side_info, {}, 0.0))
    assert rec.fallback[0] and torch.all(rec.images[0] == 0.5)


def test_jpeg2000_uses_the_colour_transform():
    """mct=1 matters on real photos: same file size, clearly higher PSNR than without it."""
    skdata = pytest.importorskip("skimage.data", reason="needs pip install 'semlink[examples]'")
    pil = Image.fromarray(skdata.astronaut()).resize((256, 256))
    codec = make_codec("jpeg2000", {"rate_bpp": 0.5})
    with_mct, ratio = codec.fit(pil, int(0.5 * 256 * 256))
    buf = io.BytesIO()
    pil.save(buf, "JPEG2000", no_jp2=True, irreversible=True, mct=0, quality_mode="rates",
             quality_layers=[ratio], num_resolutions=6)

    def psnr(data):
        rec = from_pil(Image.open(io.BytesIO(data)))
        return 10 * np.log10(1 / float(((rec - from_pil(pil)) ** 2).mean()))

    assert len(buf.getvalue()) <= len(with_mct) * 1.05
    assert psnr(with_mct) > psnr(buf.getvalue()) + 0.5


@pytest.mark.parametrize("name,library", [("jpeg2000", "openjpeg"), ("jpeg", "libjpeg"),
                                          pytest.param("hevc_intra", "x265", marks=needs_heif)])
def test_tool_versions_and_resolved_params_are_recorded(name, library):
    from PIL import __version__ as pillow_version

    codec = make_codec(name, {"rate_bpp": 0.5})
    tools = codec.tools()
    assert tools["pillow"] == pillow_version
    assert any(k.startswith(library) and v for k, v in tools.items()), tools
    if name == "hevc_intra":
        assert tools["libheif"] and tools["pillow_heif"]
    prov = codec.provenance()
    assert prov["params"]["rate_bpp"] == 0.5 and prov["params"]["encoder_settings"]
    assert prov["tools"] == tools and prov["models"] == []
    assert prov["stream_profiles"] == {"bits": "default"}
