"""Channel LLRs of random 5G LDPC code words (QPSK, AWGN), shared by the LDPC decoder tests."""

import math

import torch
from sionna.phy.fec.ldpc import LDPC5GEncoder
from sionna.phy.mapping import Demapper, Mapper

from semlink.phy import make_constellation


def qpsk_awgn_llrs(k: int, n: int, snr_db: float, blocks: int, seed: int, device: str = "cpu"):
    """Encode ``blocks`` random words with ``LDPC5GEncoder(k, n)``, send them as Gray QPSK over
    AWGN at Es/N0 ``snr_db`` [dB] and return ``(encoder, u [blocks, k], llr [blocks, n])``, all
    on ``device``.  Bits and noise are drawn on the host from ``seed`` and then moved, so every
    device decodes the same LLRs (up to float rounding)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    enc = LDPC5GEncoder(k, n, device=device)
    const = make_constellation("qpsk", device=device)
    u = torch.randint(0, 2, (blocks, k), generator=gen, device="cpu").float().to(device)
    x = Mapper(constellation=const, device=device)(enc(u))
    no = 10 ** (-snr_db / 10)
    noise = torch.complex(torch.randn(x.shape, generator=gen, device="cpu"),
                          torch.randn(x.shape, generator=gen, device="cpu")).to(device)
    llr = Demapper("app", constellation=const, device=device)(
        x + noise * math.sqrt(no / 2), torch.tensor(no, device=device))
    return enc, u, llr
