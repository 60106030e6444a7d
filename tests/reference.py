"""Closed-form error probabilities used as references by the tests."""

import numpy as np
from scipy import integrate
from scipy.special import erf, erfc


def qfunc(x):
    return 0.5 * erfc(np.asarray(x) / np.sqrt(2))


def ber_bpsk_awgn(ebno_db):
    """BPSK (and Gray QPSK per bit) over AWGN: Q(sqrt(2 Eb/N0))."""
    return qfunc(np.sqrt(2 * 10 ** (np.asarray(ebno_db) / 10)))


def ber_qam16_awgn(ebno_db):
    """Gray 16-QAM over AWGN, exact: (3Q(a) + 2Q(3a) - Q(5a))/4, a = sqrt(4/5 Eb/N0)."""
    a = np.sqrt(0.8 * 10 ** (np.asarray(ebno_db) / 10))
    return (3 * qfunc(a) + 2 * qfunc(3 * a) - qfunc(5 * a)) / 4


def _phase_pdf(theta, gamma):
    """PDF of the received phase of a unit phasor in CN noise at Es/N0 = gamma."""
    c = np.cos(theta)
    return (np.exp(-gamma) / (2 * np.pi)
            + np.sqrt(gamma) * c / (2 * np.sqrt(np.pi)) * np.exp(-gamma * np.sin(theta) ** 2)
            * (1 + erf(np.sqrt(gamma) * c)))


def ber_psk_gray_awgn(m, esno_db):
    """Exact BER of Gray-labelled M-PSK (M = 2**m) over AWGN by integrating the phase PDF."""
    M = 2**m
    gamma = 10 ** (esno_db / 10)
    sectors = [integrate.quad(_phase_pdf, 2 * np.pi * d / M - np.pi / M,
                              2 * np.pi * d / M + np.pi / M, args=(gamma,), epsabs=1e-13)[0]
               for d in range(M)]
    gray = np.arange(M) ^ (np.arange(M) >> 1)
    total = 0.0
    for i in range(M):
        for d in range(M):
            j = (i + d) % M
            total += sectors[d] * bin(int(gray[i] ^ gray[j])).count("1")
    return total / (M * m)


def ber_bpsk_rayleigh(ebno_db, num_pilots=None):
    """BPSK over flat Rayleigh fading, coherent detection.

    Perfect CSI: (1 - sqrt(g/(1+g)))/2. With an LS estimate from ``num_pilots``
    unit-energy pilots in the same coherence block (error variance no/Np):
    (1 - mu)/2 with mu = 1/sqrt((1 + 1/(Np g)) (1 + 1/g)) (correlated
    Gaussian quadratic form; Proakis, Digital Communications, App. B).
    """
    g = 10 ** (np.asarray(ebno_db) / 10)
    est = 1.0 if num_pilots is None else 1 + 1 / (num_pilots * g)
    mu = 1 / np.sqrt(est * (1 + 1 / g))
    return 0.5 * (1 - mu)
