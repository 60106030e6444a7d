"""Fading units (symbols / block / item), per-image draws, batch-size independence."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from semlink.links.link import Link
from semlink.phy import AnalogChain, DigitalChain, simulate_ber
from semlink.phy.channels.draws import DrawPlan
from semlink.semantic.payload import Payload, Stream


def _capture_channel(chain):
    """Record the (no_eff) output of every channel call of a chain."""
    seen = []
    original = chain.channel.transmit_items

    def wrapped(x, no, plan):
        y, no_eff = original(x, no, plan)
        seen.append((no_eff.clone(), plan))
        return y, no_eff

    chain.channel.transmit_items = wrapped
    return seen


def test_item_coherence_one_rayleigh_coefficient_per_image_on_the_digital_chain(device):
    """``coherence: item``: every block of every stream of an image sees one h,
    and over images |h|^2 is Exp(1) (Rayleigh), independent between images."""
    chain = DigitalChain(code="none", k=32, modulation="qpsk", seed=0, device=device,
                         channel={"name": "rayleigh", "coherence": "item"})
    seen = _capture_channel(chain)
    images, rng = 1500, np.random.default_rng(0)
    # two streams per image (3 and 2 code blocks), grouped by image
    streams = [rng.integers(0, 2, 3 * 32, dtype=np.uint8) for _ in range(images)] + \
              [rng.integers(0, 2, 2 * 32, dtype=np.uint8) for _ in range(images)]
    groups = list(range(images)) * 2
    draws = list(range(10_000, 10_000 + 2 * images))
    no = 1e-3
    chain.transmit(streams, snr_db=30.0, draw_seeds=draws, group_seeds=groups)
    (no_eff, plan), = seen
    gain = (no / no_eff).cpu().numpy()                  # |h|^2 per symbol, [blocks, 16]
    rows = np.repeat(np.arange(2 * images), plan.rows.cpu().numpy())
    per_item = [gain[rows == i] for i in range(2 * images)]
    assert all(np.allclose(g, g.flat[0], rtol=1e-5) for g in per_item)
    first, second = (np.array([g.flat[0] for g in per_item[:images]]),
                     np.array([g.flat[0] for g in per_item[images:]]))
    assert np.allclose(first, second, rtol=1e-5)        # same h on both streams of an image
    assert stats.kstest(first, "expon").pvalue > 1e-3   # |h|^2 ~ Exp(1)
    assert abs(first.mean() - 1.0) < 4 / math.sqrt(images)
    assert abs(np.corrcoef(first[:-1], first[1:])[0, 1]) < 4 / math.sqrt(images)


def test_symbols_coherence_counts_along_an_images_code_blocks(device):
    """``{symbols: L}`` counts the symbols of an image's blocks one after the
    other: an interval may span two code blocks (same unit as the analog chain)."""
    chain = DigitalChain(code="none", k=20, crc=None, modulation="bpsk", seed=0, device=device,
                         channel={"name": "rayleigh", "coherence": {"symbols": 30}})
    seen = _capture_channel(chain)
    chain.transmit([np.ones(60, np.uint8)], snr_db=20.0, draw_seeds=[5])
    (no_eff, _), = seen
    g = no_eff.reshape(-1).cpu().numpy()                # 3 blocks x 20 symbols
    assert np.allclose(g[:30], g[0]) and np.allclose(g[30:], g[30]) and g[0] != g[30]


def test_block_coherence_is_refused_on_analog_and_csi_none_on_digital():
    with pytest.raises(ValueError, match="no code blocks"):
        AnalogChain({"name": "rayleigh", "coherence": "block"})
    with pytest.raises(ValueError, match="analog streams only"):
        DigitalChain(channel={"name": "rayleigh", "coherence": "item", "csi": "none"})
    with pytest.raises(ValueError, match="divide"):
        DigitalChain(k=512, n=1024, modulation="qpsk",
                     channel={"name": "rayleigh", "coherence": {"symbols": 100}, "csi": "ls"})


def test_item_coherence_with_ls_pilots_counts_pilots_once_per_image_stream(device):
    chain = DigitalChain(k=256, n=512, modulation="qpsk", seed=0, device=device,
                         channel={"name": "rayleigh", "coherence": "item", "csi": "ls",
                                  "num_pilots": 4})
    _, rep = chain.transmit([np.ones(1000, np.uint8), np.ones(0, np.uint8)], snr_db=30.0)
    blocks = -(-1000 // chain.config.k_info)
    assert list(rep.channel_uses) == [blocks * 256 + 4, 0]
    assert chain.channel_uses_for(1000) == blocks * 256 + 4


def test_block_fading_is_outage_limited_and_fast_fading_is_not(device):
    """Block fading (one h per code block, perfect CSI): at high SNR a block
    fails iff |h|^2 SNR falls below the code's threshold, so
    BLER(SNR) = 1 - exp(-g/SNR) (diversity 1: a decade per 10 dB). Estimate g
    at 20 dB, predict 10 dB. Fast fading at 10 dB is far below (diversity)."""
    block = DigitalChain(k=128, n=256, modulation="qpsk", seed=3, device=device,
                         channel={"name": "rayleigh", "coherence": "block"})
    fast = DigitalChain(k=128, n=256, modulation="qpsk", seed=3, device=device,
                        channel={"name": "rayleigh", "coherence": {"symbols": 1}})
    hi, lo = simulate_ber(block, snr_db=[20.0, 10.0], batch_size=1500, max_blocks=4500,
                          target_block_errors=10**6, seed=1, early_stop=False)
    assert hi.block_errors >= 20
    g = -100.0 * math.log(1 - hi.bler)                  # SNR 20 dB = 100
    predicted = 1 - math.exp(-g / 10.0)
    # sigma of the difference: binomial noise at 10 dB plus that of g (from 20 dB)
    sigma_hi = math.sqrt(hi.bler * (1 - hi.bler) / hi.blocks)
    sigma_pred = math.exp(-g / 10.0) / 10.0 * 100.0 / (1 - hi.bler) * sigma_hi
    sigma_lo = math.sqrt(predicted * (1 - predicted) / lo.blocks)
    z = abs(lo.bler - predicted) / math.hypot(sigma_lo, sigma_pred)
    assert z < 4.5, (hi, lo, predicted, z)
    assert 0.3 < g < 5.0      # threshold Es/N0 of a rate-1/2 QPSK code: -5 .. 7 dB
    (fast_lo,) = simulate_ber(fast, snr_db=[10.0], batch_size=1500, max_blocks=1500,
                              target_block_errors=10**6, seed=1)
    assert fast_lo.bler < lo.bler / 10


def _payload(lengths, seed, analog_len):
    rng = np.random.default_rng(seed)
    digital = [torch.from_numpy(rng.integers(0, 2, n, dtype=np.uint8)) for n in lengths]
    analog = [torch.randn(analog_len + 7 * i, dtype=torch.complex64,
                          generator=torch.Generator().manual_seed(seed + i))
              for i in range(len(lengths))]
    return digital, analog


@pytest.mark.parametrize("channel", [
    {"name": "rayleigh", "coherence": {"symbols": 16}},
    {"name": "rician", "k_factor": 2.0, "coherence": "item", "csi": "ls", "num_pilots": 2},
])
def test_per_image_values_do_not_depend_on_batch_size(channel, device):
    """Batch sizes 1, 2 and 3 give bit-identical per-image results."""
    profiles = {"d": {"kind": "digital", "code": "ldpc5g", "k": 256, "rate": 0.5,
                      "modulation": "qam16"},
                "d2": {"kind": "digital", "code": "none", "k": 200, "modulation": "qpsk"},
                "a": {"kind": "analog"}}
    digital, analog = _payload([3000, 700, 5000], seed=4, analog_len=300)
    extra, _ = _payload([900, 1500, 40], seed=9, analog_len=1)
    results = {}
    for batch in (1, 2, 3):
        link = Link(profiles, channel, seed=77, device=device)
        link.reseed(12345)
        per_image = []
        for start in range(0, 3, batch):
            idx = range(start, min(start + batch, 3))
            payload = Payload({"bits": Stream("digital", [digital[i] for i in idx], "d"),
                               "more": Stream("digital", [extra[i] for i in idx], "d"),
                               "raw": Stream("digital", [extra[i] for i in idx], "d2"),
                               "sym": Stream("analog", [analog[i] for i in idx], "a")},
                              [{} for _ in idx])
            rx = link.transmit(payload, snr_db=9.0)
            for j in range(len(idx)):
                per_image.append({name: (rx.streams[name].data[j].cpu(),
                                         int(rx.reports[name].bit_errors[j]),
                                         int(rx.reports[name].channel_uses[j]))
                                  for name in rx.streams})
        results[batch] = per_image
    errors = sum(v[1] for img in results[1] for v in img.values())
    assert errors > 0          # a noisy point: identical values are not trivially error-free
    for batch in (2, 3):
        for a, b in zip(results[1], results[batch], strict=True):
            for name in a:
                assert torch.equal(a[name][0], b[name][0]), (batch, name)
                assert a[name][1:] == b[name][1:]


def test_link_reseed_restarts_image_numbering_and_explicit_indices_match(device):
    profiles = {"d": {"kind": "digital", "code": "none", "k": 64, "modulation": "qpsk"}}
    digital, _ = _payload([500, 500], seed=1, analog_len=1)
    link = Link(profiles, {"name": "rayleigh"}, seed=0, device=device)
    link.reseed(3)
    a = link.transmit(Payload({"s": Stream("digital", [digital[1]], "d")}, [{}]), 3.0,
                      image_indices=[1])
    link.reseed(3)
    link.transmit(Payload({"s": Stream("digital", [digital[0]], "d")}, [{}]), 3.0)
    b = link.transmit(Payload({"s": Stream("digital", [digital[1]], "d")}, [{}]), 3.0)
    assert torch.equal(a.streams["s"].data[0], b.streams["s"].data[0])
    with pytest.raises(ValueError, match="one index per image"):
        link.transmit(Payload({"s": Stream("digital", [digital[1]], "d")}, [{}]), 3.0,
                      image_indices=[0, 1])


def test_draw_plan_checks():
    with pytest.raises(ValueError, match="one entry per item"):
        DrawPlan.build([1, 1], [3], [1, 2], [1, 2])
    with pytest.raises(ValueError, match=">= 0"):
        DrawPlan.build([-1], [3], [1], [1])
    with pytest.raises(ValueError, match=r"\[0, 2\^63\)"):
        DrawPlan.build([1], [3], [-5], [1])
    with pytest.raises(ValueError, match="counter range"):
        DrawPlan.build([1], [2**31], [1], [1])
    chain = DigitalChain(code="none", k=64, modulation="qpsk", device="cpu")
    with pytest.raises(ValueError, match="draw_seeds must have one seed per item"):
        chain.transmit([np.ones(10, np.uint8)] * 2, snr_db=3.0, draw_seeds=[1])
    with pytest.raises(ValueError, match=r"bitstreams\[1\] must contain only 0/1"):
        chain.transmit([np.ones(10, np.uint8), np.full(4, 2, np.uint8)], snr_db=3.0)


def test_reports_carry_es_n0_and_eb_n0(device):
    profiles = {"d": {"kind": "digital", "code": "ldpc5g", "k": 512, "n": 1024,
                      "modulation": "psk8"}, "a": {"kind": "analog"}}
    link = Link(profiles, "awgn", seed=0, device=device)
    payload = Payload({"x": Stream("digital", [torch.ones(900, dtype=torch.uint8)] * 2, "d"),
                       "y": Stream("analog", [torch.ones(10, dtype=torch.complex64)] * 2, "a")},
                      [{}, {}])
    rx = link.transmit(payload, snr_db=7.0)
    rep = rx.reports["x"]
    chain = link.chain("d")
    # Eb per code input bit: k / (ceil(n/3) symbols) = 512/342 information bits per use
    assert np.allclose(rep.snr_db, 7.0)
    assert np.allclose(rep.ebno_db, 7.0 - 10 * math.log10(512 / 342))
    assert np.allclose(rep.ebno_db, chain.ebno_db_from_snr_db(7.0))
    assert np.all(rep.decoder_iterations >= 1) and np.all(rep.decoder_iterations <= 20)
    assert np.allclose(rx.reports["y"].snr_db, 7.0) and np.isnan(rx.reports["y"].ebno_db).all()


def test_custom_channels_get_per_item_generators_and_code_block_rows(device):
    """A channel without counter draws (drawing from ``self.generator``) is run
    item by item (``torch-per-item``) and is batch-independent too; it sees an
    item's code blocks as rows (joins_item_rows = False)."""
    from semlink.phy.channels import Channel

    class NoisyRows(Channel):
        rows_seen = []

        def call(self, x, no):
            NoisyRows.rows_seen.append(tuple(x.shape))
            no_row = self._noise_per_row(no, x)
            return x + self._complex_noise(x.shape, no_row), no_row.expand(x.shape)

    chain = DigitalChain(code="none", k=64, crc=None, modulation="qpsk", device=device,
                         channel=NoisyRows(seed=1, device=device))
    assert chain.noise_generator == "torch-per-item"
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2, 640, dtype=np.uint8), rng.integers(0, 2, 192, dtype=np.uint8)
    rx_two, _ = chain.transmit([a, b], snr_db=2.0, draw_seeds=[11, 12])
    assert NoisyRows.rows_seen == [(10, 32), (3, 32)]
    rx_one, _ = chain.transmit([b], snr_db=2.0, draw_seeds=[12])
    assert torch.equal(rx_two[1], rx_one[0])
    assert not torch.equal(rx_one[0].cpu(), torch.from_numpy(b))


def test_plug_in_channel_with_counter_draws_is_called_once_and_batch_independent(device):
    """A plug-in that sets ``counter_draws = True`` and draws through ``self.draws``
    gets all items in one call, and each item's numbers from its own seed."""
    from semlink.phy.channels import Channel

    class PhaseJitter(Channel):
        counter_draws = True
        calls = []

        def call(self, x, no):
            PhaseJitter.calls.append(tuple(x.shape))
            no_row = self._noise_per_row(no, x)
            phase = 0.1 * self.draws.normal("phase", self.draws.symbol_index())
            y = x * torch.polar(torch.ones_like(phase), phase)
            return y + self._complex_noise(x.shape, no_row), no_row.expand(x.shape)

    chain = DigitalChain(code="none", k=64, crc=None, modulation="qpsk", device=device,
                         channel=PhaseJitter(seed=1, device=device))
    assert chain.noise_generator == "counter-hash-v2"
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 2, 640, dtype=np.uint8), rng.integers(0, 2, 192, dtype=np.uint8)
    rx_two, rep = chain.transmit([a, b], snr_db=4.0, draw_seeds=[11, 12])
    assert PhaseJitter.calls == [(13, 32)]                  # one call, all code blocks
    rx_one, _ = chain.transmit([b], snr_db=4.0, draw_seeds=[12])
    assert torch.equal(rx_two[1], rx_one[0]) and rep.bit_errors.sum() > 0


def test_digital_chain_sends_thousands_of_streams_in_one_channel_call(device):
    chain = DigitalChain(code="none", k=64, crc=None, modulation="qpsk", device=device,
                         channel={"name": "rayleigh", "coherence": {"symbols": 4}})
    seen = _capture_channel(chain)
    rng = np.random.default_rng(1)
    streams = [rng.integers(0, 2, int(n), dtype=np.uint8) for n in rng.integers(0, 300, 3000)]
    rx, rep = chain.transmit(streams, snr_db=8.0, draw_seeds=range(3000))
    assert len(seen) == 1 and [len(r) for r in rx] == [len(s) for s in streams]
    assert int(rep.blocks.sum()) == seen[0][1].num_rows
    # the same streams in two halves: identical received bits
    first, _ = chain.transmit(streams[:1500], snr_db=8.0, draw_seeds=range(1500))
    assert all(torch.equal(x, y) for x, y in zip(first, rx[:1500], strict=True))
