"""5G LDPC belief-propagation decoding with early termination.

Sionna 2.x's :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder` always runs all its
iterations. :class:`LDPCDecoder` decodes in chunks of iterations instead:
between chunks it checks every code word's parity (the syndrome ``H x = 0``
of the hard decisions on all variable nodes of the 5G graph, punctured and
filler nodes included) and stops the code words that have converged; the
others resume from the decoder's internal state (Sionna's ``return_state`` /
``msg_v2c``: with flooding schedules the variable-to-check messages are the
whole state, so resuming is exact). Converged code words keep the bits of
the iteration at which their syndrome first held; the rest get the bits of
iteration ``max_iter``, exactly as the full decoder.

This is the standard stopping rule of BP decoders (e.g. Richardson &
Urbanke, *Modern Coding Theory*, 2008, Sec. 2.5; 38.212 does not fix a
decoder). Near and above the waterfall most code words converge in a few
iterations, which is where the speed-up comes from; see
``benchmarks/ldpc_early_termination.py`` and ``docs/benchmarks.md``.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.fec.ldpc.decoding import LDPCBPDecoder

from .ldpc_checks import DECODERS, check_max_iter, check_schedule  # noqa: F401  (re-exported)


class _ParityTap(LDPCBPDecoder):
    """Sits between ``LDPC5GDecoder`` and ``LDPCBPDecoder`` in the MRO and keeps
    the parity check of each BP call's hard decisions (all graph nodes)."""

    last_parity_ok: torch.Tensor | None = None

    def call(self, llr_ch, /, *, num_iter=None, msg_v2c=None):
        out = super().call(llr_ch, num_iter=num_iter, msg_v2c=msg_v2c)
        x_hat = out[0] if self._return_state else out          # [batch, num_vns] 0/1
        checks = self._parity_matrix @ x_hat.reshape(-1, self._num_vns).T   # [num_cns, batch]
        self.last_parity_ok = (torch.remainder(checks, 2) == 0).all(dim=0)
        return out


class _ChunkedLDPC5GDecoder(LDPC5GDecoder, _ParityTap):
    """``LDPC5GDecoder`` that returns its state and the parity of every code word."""

    def __init__(self, encoder: LDPC5GEncoder, cn_update: str, precision, device) -> None:
        super().__init__(encoder, cn_update=cn_update, hard_out=True, return_infobits=True,
                         return_state=True, precision=precision, device=device)
        csr = sp.csr_matrix(self.pcm)
        with warnings.catch_warnings():   # "sparse CSR support is in beta": used for one matmul
            warnings.simplefilter("ignore", UserWarning)
            self._parity_matrix = torch.sparse_csr_tensor(
                torch.as_tensor(csr.indptr.astype(np.int64), device="cpu"),
                torch.as_tensor(csr.indices.astype(np.int64), device="cpu"),
                torch.ones(csr.nnz, dtype=self.dtype, device="cpu"), size=csr.shape,
                device="cpu", check_invariants=True).to(self.device)   # built on the host, then moved


class LDPCDecoder:
    """5G LDPC BP decoder (Sionna) with optional syndrome-based early termination.

    :param encoder: the :class:`~sionna.phy.fec.ldpc.LDPC5GEncoder` of the code.
    :param max_iter: BP iterations at most (flooding schedule).
    :param early_termination: stop each code word once its syndrome is zero.
    :param cn_update: Sionna check-node rule (``"boxplus-phi"``, ``"minsum"``, ...).
    :param precision, device: as in Sionna blocks.

    :input llr: [batch, n], logits of the rate-matched code bits (Sionna's sign).
    :output u_hat: [batch, k], hard decisions of the information bits.
    :output iterations: [batch] int64, BP iterations each code word used.
    """

    def __init__(self, encoder: LDPC5GEncoder, max_iter: int = 20,
                 early_termination: bool = True, cn_update: str = "boxplus-phi",
                 precision: str | None = None, device: str | None = None) -> None:
        check_max_iter(max_iter)
        if not isinstance(early_termination, bool):
            raise ValueError(f"early_termination must be true or false, got {early_termination!r}")
        self.max_iter = max_iter
        self.early_termination = early_termination
        self.k = encoder.k
        if early_termination:
            self._decoder = _ChunkedLDPC5GDecoder(encoder, cn_update, precision, device)
        else:
            self._decoder = LDPC5GDecoder(encoder, cn_update=cn_update, num_iter=max_iter,
                                          hard_out=True, return_infobits=True,
                                          precision=precision, device=device)
        self.device = self._decoder.device
        self._schedule = check_schedule(max_iter)

    def __call__(self, llr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = llr.shape[0]
        if not self.early_termination or batch == 0:
            u_hat = self._decoder(llr) if batch else llr.new_zeros((0, self.k))
            return u_hat, torch.full((batch,), self.max_iter, dtype=torch.int64,
                                     device=llr.device)
        u_out = llr.new_empty((batch, self.k))
        iterations = torch.empty(batch, dtype=torch.int64, device=llr.device)
        active = torch.arange(batch, device=llr.device)
        llr_active, state, done = llr, None, 0
        for step in self._schedule:
            u_hat, state = self._decoder(llr_active, num_iter=step, msg_v2c=state)
            converged = self._decoder.last_parity_ok
            assert converged is not None          # every call of the decoder sets it
            done += step
            u_out[active] = u_hat.to(u_out.dtype)
            iterations[active] = done
            if done >= self.max_iter:
                break
            keep = ~converged
            if not bool(keep.any()):
                break
            if not bool(keep.all()):
                active, llr_active, state = active[keep], llr_active[keep], state[keep]
        return u_out, iterations


#: LDPC decoder backends: Sionna's BP in torch (any device), the compiled
#: CPU decoder of the ``ldpc`` package (:mod:`semlink.phy.ldpc_compiled`), or
#: the Triton GPU decoder (:mod:`semlink.phy.ldpc_triton`: ``triton`` agrees
#: with Sionna; ``triton-layered``, ``triton-fp16``, ``triton-bf16`` are
#: labelled variants: layered schedule, half-precision messages).
def make_ldpc_decoder(encoder: LDPC5GEncoder, decoder: str = "sionna", max_iter: int = 20,
                      early_termination: bool = True, cn_update: str = "boxplus-phi",
                      precision: str | None = None, device: str | None = None):
    """The LDPC decoder of a backend; both return ``(u_hat [batch, k], iterations [batch])``.

    :param decoder: ``"sionna"`` (:class:`LDPCDecoder`, default, GPU or CPU) or
        ``"ldpc"`` (:class:`~semlink.phy.ldpc_compiled.CompiledBPDecoder`, the
        compiled CPU decoder of the optional ``ldpc`` package: same graph, same
        flooding sum-product schedule; it always stops at a zero syndrome), or
        ``"triton"`` (:class:`~semlink.phy.ldpc_triton.TritonBPDecoder`, Triton
        kernels on a CUDA GPU: same graph, rules and early termination as
        ``"sionna"``) and its labelled variants ``"triton-layered"``,
        ``"triton-fp16"``, ``"triton-bf16"``.
    :param max_iter, early_termination, cn_update, precision, device: as in
        :class:`LDPCDecoder`.
    """
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
    if decoder.startswith("triton"):
        from .ldpc_triton import VARIANTS, TritonBPDecoder

        if precision == "double":
            raise ValueError(f"decoder {decoder!r} decodes in float32; use precision 'single' "
                             "(the default) or decoder 'sionna' for double precision")
        schedule, messages = VARIANTS[decoder]
        return TritonBPDecoder(encoder, max_iter=max_iter, early_termination=early_termination,
                               cn_update=cn_update, schedule=schedule, messages=messages,
                               device=device)
    if decoder == "sionna":
        return LDPCDecoder(encoder, max_iter=max_iter, early_termination=early_termination,
                           cn_update=cn_update, precision=precision, device=device)
    if early_termination is not True:
        raise ValueError("decoder 'ldpc' always stops a code word at a zero syndrome "
                         "(ldpc.BpDecoder has no switch for it); use early_termination: true, "
                         "or decoder: sionna to run all max_iter iterations")
    from .ldpc_compiled import CompiledBPDecoder

    return CompiledBPDecoder(encoder, max_iter=max_iter, cn_update=cn_update)
