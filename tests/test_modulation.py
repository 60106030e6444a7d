"""Constellations: unit energy, Gray property, names, custom points."""

import numpy as np
import pytest

from semlink.phy import bits_per_symbol, make_constellation, parse_modulation

GRAY_NAMES = ["bpsk", "qpsk", "psk2", "psk4", "psk8", "psk16", "qam16", "qam64", "qam256",
              "pam4", "pam8"]


@pytest.mark.parametrize("name", GRAY_NAMES + ["pam2"])
def test_unit_average_energy(name, device):
    pts = make_constellation(name, device=device)().cpu().numpy()
    assert np.mean(np.abs(pts) ** 2) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("name", GRAY_NAMES)
def test_gray_property_nearest_neighbours_differ_in_one_bit(name, device):
    pts = make_constellation(name, device=device)().cpu().numpy().astype(np.complex128)
    d = np.abs(pts[:, None] - pts[None, :])
    np.fill_diagonal(d, np.inf)
    dmin = d.min()
    pairs = np.argwhere(np.isclose(d, dmin, rtol=1e-4))
    assert len(pairs) >= len(pts)  # every point has at least one nearest neighbour
    for i, j in pairs:
        assert bin(int(i) ^ int(j)).count("1") == 1, f"{name}: labels {i:b},{j:b} are neighbours"


def test_gray_check_catches_natural_labelling():
    """The Gray test above would fail on a natural-labelled 8-PSK."""
    pts = np.exp(2j * np.pi * np.arange(8) / 8)
    d = np.abs(pts[:, None] - pts[None, :])
    np.fill_diagonal(d, np.inf)
    pairs = np.argwhere(np.isclose(d, d.min()))
    assert any(bin(int(i) ^ int(j)).count("1") > 1 for i, j in pairs)


def test_psk8_points_are_on_the_unit_circle_at_multiples_of_45_degrees(device):
    pts = make_constellation("psk8", device=device)().cpu().numpy()
    assert np.allclose(np.abs(pts), 1.0, atol=1e-6)
    angles = np.sort(np.mod(np.angle(pts), 2 * np.pi))
    assert np.allclose(angles, np.arange(8) * np.pi / 4, atol=1e-6)


def test_custom_constellation_is_centred_and_normalised(device):
    const = make_constellation("custom", points=[0, 1, 2j, 3 + 3j], device=device)
    pts = const().cpu().numpy()
    assert const.num_bits_per_symbol == 2
    assert abs(pts.mean()) < 1e-6
    assert np.mean(np.abs(pts) ** 2) == pytest.approx(1.0, abs=1e-6)
    assert bits_per_symbol("custom", points=[0, 1, 2j, 3 + 3j]) == 2


@pytest.mark.parametrize("bad,match", [("qam32", "QAM order"), ("psk32", "PSK order"),
                                       ("psk6", "power of two"), ("ofdm", "unknown modulation")])
def test_bad_names(bad, match):
    with pytest.raises(ValueError, match=match):
        parse_modulation(bad)


def test_custom_needs_power_of_two_distinct_points():
    with pytest.raises(ValueError, match="2\\*\\*m points"):
        make_constellation("custom", points=[1, -1, 1j])
    with pytest.raises(ValueError, match="distinct"):
        make_constellation("custom", points=[1, 1, -1, -1])
    with pytest.raises(ValueError, match="only allowed with modulation='custom'"):
        make_constellation("qpsk", points=[1, -1])
