"""semlink: link-level simulation of semantic image communication.

The physical layer (:mod:`semlink.phy`) is built on Sionna 2.x (PyTorch):
5G NR LDPC coding, Gray-labelled QAM/PSK/PAM and custom constellations,
AWGN and flat-fading channels with perfect or pilot-estimated CSI.
Source codecs live in :mod:`semlink.semantic`, links, sweeps and the
command line in :mod:`semlink.links`.

Nothing here touches the network at import time.
"""

import logging as _logging
from importlib.metadata import PackageNotFoundError, version as _version

# a library configures no handler: the application decides (semlink.log)
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

try:
    __version__ = _version("semlink")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
