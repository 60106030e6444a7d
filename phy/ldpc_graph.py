"""The graph Sionna's 5G LDPC decoder decodes on, read on the host for any encoder device.

Both non-Sionna decoders (the Triton kernels, :mod:`semlink.phy.ldpc_triton`, and the
compiled CPU decoder, :mod:`semlink.phy.ldpc_compiled`) decode on exactly the parity-check
matrix Sionna's ``LDPC5GDecoder`` uses (punctured degree-1 variable nodes pruned), so their
BLER compares with Sionna's on the same graph.
"""

from __future__ import annotations

import warnings

import scipy.sparse as sp
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder


def sionna_decoding_graph(encoder: LDPC5GEncoder, layered: bool = False) -> sp.csr_matrix:
    """The parity-check matrix Sionna's ``LDPC5GDecoder`` decodes on for ``encoder``.

    Sionna prunes the punctured degree-1 variable nodes (and, for the layered
    schedule, rounds the pruning to whole lifting blocks); this reads that graph
    on the host.  The decoder is built on a CPU twin of the encoder (same
    ``k``, ``n``, ``num_bits_per_symbol``; the graph does not depend on the
    device): Sionna refuses a decoder on one device whose encoder lives on
    another, so building it on ``"cpu"`` from a CUDA encoder fails, and a
    decoder on the encoder's CUDA device would only allocate GPU buffers that
    are never used.

    :param encoder: the code's :class:`~sionna.phy.fec.ldpc.LDPC5GEncoder`, any device.
    :param layered: the graph of Sionna's ``cn_schedule="layered"`` decoder.
    :returns: ``[num_cns, num_vns]`` scipy CSR matrix (0/1).
    """
    twin = encoder
    if str(encoder.device) != "cpu":
        with warnings.catch_warnings():     # the encoder's own construction already warned
            warnings.simplefilter("ignore", UserWarning)
            twin = LDPC5GEncoder(encoder.k, encoder.n,
                                 num_bits_per_symbol=encoder.num_bits_per_symbol, device="cpu")
    dec = LDPC5GDecoder(twin, num_iter=1, device="cpu",
                        cn_schedule="layered" if layered else "flooding")
    return sp.csr_matrix(dec.pcm)
