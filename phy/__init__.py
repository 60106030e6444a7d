"""semlink.phy: the physical layer, built on Sionna 2.x (PyTorch).

* :mod:`~semlink.phy.coding` -- 5G NR LDPC / uncoded, CRC, segmentation.
* :mod:`~semlink.phy.modulation` -- QAM, Gray PSK, PAM, custom constellations.
* :mod:`~semlink.phy.channels` -- AWGN, Rayleigh/Rician flat fading, registry.
* :mod:`~semlink.phy.digital` / :mod:`~semlink.phy.analog` -- chains.
* :mod:`~semlink.phy.snr` -- the Es/N0 vs Eb/N0 conventions.
* :mod:`~semlink.phy.ber` -- Monte-Carlo BER/BLER sweeps.
"""

from .analog import AnalogChain, AnalogReport
from .ber import BerPoint, simulate_ber
from .channels import (
    CHANNELS,
    AWGNChannel,
    Channel,
    FlatFadingChannel,
    RayleighChannel,
    RicianChannel,
    make_channel,
)
from .coding import CODES, CodeConfig, bits_to_bytes, bytes_to_bits, make_code_config
from .digital import DigitalChain, DigitalReport
from .modulation import MODULATION_NAMES, bits_per_symbol, make_constellation, parse_modulation
from .sionna_config import resolve_device, resolve_precision, set_seed
from .snr import ebno_db_to_snr_db, no_to_snr_db, snr_db_to_ebno_db, snr_db_to_no

__all__ = [
    "AnalogChain", "AnalogReport", "BerPoint", "simulate_ber", "CHANNELS", "AWGNChannel",
    "Channel", "FlatFadingChannel", "RayleighChannel", "RicianChannel", "make_channel",
    "CODES", "CodeConfig", "bits_to_bytes", "bytes_to_bits", "make_code_config",
    "DigitalChain", "DigitalReport", "MODULATION_NAMES", "bits_per_symbol",
    "make_constellation", "parse_modulation", "resolve_device", "resolve_precision",
    "set_seed", "ebno_db_to_snr_db", "no_to_snr_db", "snr_db_to_ebno_db", "snr_db_to_no",
]
