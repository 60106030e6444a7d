"""Channel LLRs of random 5G LDPC code words (QPSK, AWGN), shared by the LDPC decoder tests."""

import math

import torch
from sionna.phy.fec.ldpc import LDPC5GEncoder
from sionna.phy.mapping import Demapper, Mapper

from semlink.phy import make_constellation


def qpsk_awgn_llrs(k: int, n: int, snr_db: float, blocks: int, seed: int):
    """Encode ``blocks`` random words with ``LDPC5GEncoder(k, n)``, send them as Gray QPSK over
    AWGN at Es/N0 ``snr_db`` [dB] and return ``(encoder, u [blocks, k], llr [blocks, n])``."""
    gen = torch.Generator().manual_seed(seed)
    enc = LDPC5GEncoder(k, n)
    const = make_constellation("qpsk")
    u = torch.randint(0, 2, (blocks, k), generator=gen).float()
    x = Mapper(constellation=const)(enc(u))
    no = 10 ** (-snr_db / 10)
    noise = torch.complex(torch.randn(x.shape, generator=gen), torch.randn(x.shape, generator=gen))
    llr = Demapper("app", constellation=const)(x + noise * math.sqrt(no / 2), torch.tensor(no))
    return enc, u, llr
