"""5G LDPC decoding with a compiled CPU belief-propagation decoder (``ldpc`` package).

:class:`CompiledBPDecoder` decodes the 5G NR LDPC code of a Sionna
:class:`~sionna.phy.fec.ldpc.LDPC5GEncoder` with ``ldpc.BpDecoder`` (the ``ldpc``
package v2 of J. Roffe et al., C++ with a Cython wrapper, from "Decoding
across the quantum low-density parity-check code landscape", Phys. Rev.
Research 2, 043423, 2020; optional extra ``ldpc-cpu``) on the **same graph and the same input** as Sionna's
:class:`~sionna.phy.fec.ldpc.LDPC5GDecoder`:

* the parity-check matrix is the one Sionna's decoder uses (its ``pcm``, with
  the punctured degree-1 parity nodes and their checks pruned);
* rate recovery is Sionna's: the first ``2 Z`` systematic bits (punctured by
  38.212) get LLR 0, filler (shortening) bits are known zeros at the clipping
  value ``llr_max`` (20), untransmitted parity bits get LLR 0, and every LLR
  is clipped to ``+-llr_max`` (:func:`rate_recovered_llrs`);
* the schedule is flooding ("parallel") sum-product (``product_sum``, exact
  ``tanh`` rule = Sionna's ``boxplus-phi`` / ``boxplus``) or unscaled
  min-sum (``minsum``), with the syndrome checked after every iteration: a
  code word stops as soon as its hard decisions satisfy all checks.

``ldpc.BpDecoder`` is a syndrome decoder: it is given the hard decisions
``r`` of the channel LLRs and, per bit, the probability ``p = 1 / (1 + e^|L|)``
that ``r`` is wrong (so its prior log-ratio is ``|L|``); it finds the error
pattern ``e`` with ``H e = H r`` and returns ``r xor e``. In the log domain
this is the same message passing as codeword-domain BP with LLRs ``L`` (every
message is sign-flipped by the known ``r``), so decisions agree with
Sionna's decoder up to floating-point rounding (double here, float32 and
message clipping at 20 in Sionna). ``tests/test_ldpc_compiled.py`` checks
BLER agreement within confidence intervals and identical bits;
``benchmarks/ldpc_backends.py`` measures the speed.

The ``"serial"`` schedule (shuffled / vertical-layered BP over variable
nodes) is a *different* decoder: it converges in fewer iterations and has a
lower BLER than flooding at the same ``max_iter``; it is offered for
benchmarks, not as a stand-in for Sionna.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sionna.phy.fec.ldpc import LDPC5GEncoder

from semlink.extras import require

from ._ldpc_worker import bp_decoder, decode_words
from .ldpc_checks import check_max_iter
from .ldpc_graph import sionna_decoding_graph
from .ldpc_pool import shared_pool

#: Sionna check-node rule -> ``ldpc.BpDecoder`` ``bp_method``
BP_METHODS = {"boxplus-phi": "product_sum", "boxplus": "product_sum", "minsum": "minimum_sum"}
SCHEDULES = ("parallel", "serial")


def rate_recovered_llrs(llr: torch.Tensor, encoder: LDPC5GEncoder, num_vns: int,
                        llr_max: float = 20.0) -> torch.Tensor:
    """Channel LLRs of the ``n`` sent bits -> LLRs of all ``num_vns`` graph nodes.

    Mirrors the rate recovery of Sionna 2.2's ``LDPC5GDecoder`` (no HARQ).

    :param llr: [batch, n], logits ``log p(1)/p(0)`` of the rate-matched code
        bits (Sionna's sign), in the encoder's output order.
    :param encoder: the code's encoder (its 38.212 output interleaver is undone
        when it has ``num_bits_per_symbol``).
    :param num_vns: variable nodes of the (pruned) decoding graph.
    :param llr_max: clipping value; filler bits get ``-llr_max`` (known 0).
    :returns: [batch, num_vns] logits, clipped to ``+-llr_max``.
    """
    n, k, z, k_filler = encoder.n, encoder.k, encoder.z, encoder.k_filler
    if llr.ndim != 2 or llr.shape[1] != n:
        raise ValueError(f"llr must have shape [batch, {n}], got {list(llr.shape)}")
    if encoder.num_bits_per_symbol is not None:
        llr = llr[:, encoder.out_int_inv.to(llr.device)]   # the encoder lives on its device
    pruned = encoder.n_ldpc - num_vns
    buf = torch.nn.functional.pad(llr, (0, encoder.n_cb_comp - pruned - n))
    batch = llr.shape[0]
    llr_5g = torch.cat([llr.new_zeros(batch, 2 * z), buf[:, :k - 2 * z],
                        llr.new_full((batch, k_filler), -llr_max), buf[:, k - 2 * z:]], dim=1)
    return llr_5g.clamp(-llr_max, llr_max)


class CompiledBPDecoder:
    """5G LDPC BP decoder on the CPU with ``ldpc.BpDecoder`` (compiled C++).

    Same interface as :class:`~semlink.phy.ldpc_decoding.LDPCDecoder`; it
    always stops a code word once its syndrome is zero (early termination).

    :param encoder: the :class:`~sionna.phy.fec.ldpc.LDPC5GEncoder` of the code.
    :param max_iter: BP iterations at most.
    :param cn_update: ``"boxplus-phi"`` / ``"boxplus"`` (sum-product) or ``"minsum"``.
    :param schedule: ``"parallel"`` (flooding, as Sionna) or ``"serial"``
        (variable-node serial: a different, faster-converging decoder).
    :param processes: CPU processes that share a batch (this one and
        ``processes - 1`` workers of :mod:`semlink.phy.ldpc_pool`); ``None``
        (default) = ``torch.get_num_threads()`` at each call, so the decoder
        uses as many cores as torch may (``semlink run --threads N``). The
        bits and iteration counts do not depend on it.

    :input llr: [batch, n], logits of the rate-matched code bits (Sionna's
        sign), any device (decoded on the CPU).
    :output u_hat: [batch, k], hard decisions of the information bits (float
        0/1, on the input's device).
    :output iterations: [batch] int64, BP iterations each code word used (0
        when the hard decisions of the channel LLRs already form a code word).
    """

    llr_max = 20.0

    def __init__(self, encoder: LDPC5GEncoder, max_iter: int = 20,
                 cn_update: str = "boxplus-phi", schedule: str = "parallel",
                 processes: int | None = None) -> None:
        require("ldpc", "the compiled LDPC decoder (decoder: ldpc)")
        check_max_iter(max_iter)
        if cn_update not in BP_METHODS:
            raise ValueError(f"cn_update {cn_update!r} is not available with decoder 'ldpc'; "
                             f"use one of {sorted(BP_METHODS)}, or decoder 'sionna'")
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        if processes is not None and (isinstance(processes, bool) or not isinstance(processes, int)
                                      or processes < 1):
            raise ValueError(f"processes must be a positive integer or None (= torch's thread "
                             f"count), got {processes!r}")
        self.encoder, self.k, self.max_iter = encoder, encoder.k, max_iter
        self.schedule, self.cn_update, self.processes = schedule, cn_update, processes
        # the graph Sionna decodes on (pruned pcm), built once on the CPU
        self.pcm = sp.csr_matrix(sionna_decoding_graph(encoder), dtype=np.uint8)
        self.num_vns = self.pcm.shape[1]
        self._bp = bp_decoder(self.pcm, max_iter, BP_METHODS[cn_update], schedule)
        # what a worker process needs to build the same decoder, and its identity
        self._config = (self.pcm.indptr, self.pcm.indices, self.pcm.shape, max_iter,
                        BP_METHODS[cn_update], schedule)
        self._key = (self.pcm.shape, hash(self.pcm.indptr.tobytes() + self.pcm.indices.tobytes()),
                     max_iter, BP_METHODS[cn_update], schedule)

    def __call__(self, llr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = rate_recovered_llrs(llr.detach().cpu(), self.encoder, self.num_vns,
                                     self.llr_max).numpy()
        hard = (logits > 0).astype(np.uint8)                     # [batch, num_vns]
        # words whose hard decisions already satisfy every check need no BP
        valid = ~((self.pcm @ hard.T.astype(np.int32)) % 2).any(axis=0)
        bits = hard[:, :self.k].copy()
        iterations = np.zeros(len(hard), dtype=np.int64)
        todo = np.flatnonzero(~valid)
        if len(todo):
            # P(hard decision wrong) = 1 / (1 + e^|L|): prior log-ratio |L|
            probs = 1.0 / (1.0 + np.exp(np.abs(logits[todo], dtype=np.float64)))
            processes = self.processes or torch.get_num_threads()
            if processes > 1:
                bits[todo], iterations[todo] = shared_pool().decode(
                    self._key, self._config, self._bp, probs, hard[todo], self.k, processes)
            else:
                bits[todo], iterations[todo] = decode_words(self._bp, probs, hard[todo], self.k)
        return (torch.as_tensor(bits, dtype=llr.dtype, device=llr.device),
                torch.as_tensor(iterations, device=llr.device))
