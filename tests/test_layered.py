"""jpeg2000_layered: budget split per stream, layers decoded, a lost layer handled."""

import pytest
import torch

from semlink.links.link import Link
from semlink.links.profiles import check_profile
from semlink.semantic import make_codec

PROFILES = {
    "strong": check_profile("strong", {"code": "ldpc5g", "k": 512, "rate": 1 / 3,
                                       "modulation": "qpsk"}),
    "half": check_profile("half", {"code": "ldpc5g", "k": 512, "rate": 0.5, "modulation": "qpsk"}),
    "weak": check_profile("weak", {"code": "ldpc5g", "k": 512, "rate": 5 / 6,
                                   "modulation": "qam16"}),
}


def images():
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 96), indexing="ij")
    img = torch.stack([xx, yy, (xx * yy) ** 0.5]) * 0.8 + 0.1
    img = img + 0.05 * torch.sin(40 * xx)           # some texture for the refinement layer
    return [img.clamp(0, 1), img.flip(-1).clamp(0, 1)]


def psnr(a, b):
    return float(10 * torch.log10(1 / ((a - b) ** 2).mean()))


def run(profiles, snr_db, symbols=8000):
    link = Link(PROFILES, "awgn", seed=3, device="cpu")
    codec = make_codec("jpeg2000_layered", {"symbols_per_image": symbols, "base_share": 0.5},
                       profiles)
    codec.attach_phy({s: link.chain(p) for s, p in codec.stream_profiles.items()})
    imgs = images()
    received = link.transmit(codec.encode(imgs), snr_db)
    return codec, received, codec.decode(received), imgs


def test_budget_split_keeps_total_channel_uses():
    eep, rx_eep, rec, imgs = run({"base": "half", "refinement": "half"}, 20.0)
    uep, rx_uep, _, _ = run({"base": "strong", "refinement": "weak"}, 20.0)
    assert eep.stream_symbols() == {"base": 4000, "refinement": 4000}
    for rx in (rx_eep, rx_uep):
        assert (rx.channel_uses() <= 8000).all()
    # rate 1/3 QPSK carries fewer bits than 5/6 16-QAM in the same channel uses
    bits = uep.stream_bits()
    assert bits["base"] < bits["refinement"]
    assert rec.extras["layers"] == [2, 2] and rec.fallback == [False, False]


def test_both_layers_beat_the_base_alone():
    _, _, full, imgs = run({"base": "half", "refinement": "half"}, 20.0)
    codec, received, _, _ = run({"base": "half", "refinement": "half"}, 20.0)
    received.reports["refinement"].block_failed[0][:] = True    # the receiver's CRC says lost
    base_only = codec.decode(received)
    assert base_only.extras["layers"][0] == 1 and base_only.extras["layers"][1] == 2
    assert psnr(full.images[0], imgs[0]) > psnr(base_only.images[0], imgs[0]) + 1.0


def test_unequal_protection_keeps_the_base_where_the_weak_code_fails():
    # 3 dB: LDPC 1/3 QPSK decodes, 5/6 16-QAM cannot
    _, received, rec, imgs = run({"base": "strong", "refinement": "weak"}, 3.0)
    assert received.reports["refinement"].block_errors.sum() > 0
    assert received.reports["base"].block_errors.sum() == 0
    assert rec.extras["layers"] == [1, 1] and rec.fallback == [False, False]
    assert psnr(rec.images[0], imgs[0]) > 18
    # all on the weak profile: the base is lost too -> mid-grey fallback
    _, _, lost, _ = run({"base": "weak", "refinement": "weak"}, 3.0)
    assert lost.fallback == [True, True] and lost.extras["layers"] == [0, 0]


def test_bad_parameters():
    with pytest.raises(ValueError, match="base_share must be in \\(0, 1\\)"):
        make_codec("jpeg2000_layered", {"base_share": 1.0})
    with pytest.raises(ValueError, match="symbols_per_image must be an int >= 2"):
        make_codec("jpeg2000_layered", {"symbols_per_image": 1.5})
    codec = make_codec("jpeg2000_layered", {})
    with pytest.raises(ValueError, match="needs both streams' PHY profiles"):
        codec.encode(images())
