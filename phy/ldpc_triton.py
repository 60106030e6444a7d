"""Batched 5G LDPC belief-propagation decoding in Triton kernels (``decoder: triton``).

:class:`TritonBPDecoder` decodes the 5G NR LDPC code of a Sionna
:class:`~sionna.phy.fec.ldpc.LDPC5GEncoder` on the **graph and input of
Sionna's** :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder`:

* the parity-check matrix is the decoder's ``pcm`` (both base graphs, every
  lifting size; punctured degree-1 parity nodes and their checks pruned as
  Sionna prunes them), stored CSR-style as per-check lists of variable
  indices (edges sorted by check) plus per-variable lists of edge ids;
* rate recovery is Sionna's (:func:`~semlink.phy.ldpc_compiled.rate_recovered_llrs`):
  the first ``2 Z`` systematic bits (punctured by 38.212) get LLR 0,
  filler (shortening) bits are known zeros at ``llr_max`` = 20, untransmitted
  parity bits get LLR 0, every channel LLR is clipped to ``+-20``;
* flooding schedule (all checks, then all variables, per iteration) with
  Sionna's message rules: variable-to-check ``clip(L_v + sum c2v - c2v_e,
  +-20)``, check-to-variable by boxplus-phi (Sionna's default ``cn_update``,
  ``phi(x) = -log tanh(x/2)`` with Sionna's float32 argument clipping
  ``[8.5e-8, 16.635532]``), min-sum or offset min-sum (offset 0.5), clipped
  to ``+-20``; hard decision ``L_app <= 0 -> 1``.

Decisions agree with Sionna's decoder on the same LLRs up to float32
rounding (sums in another order; ``tests/test_ldpc_triton.py``).

**Early termination and iteration counts** are those of
:class:`~semlink.phy.ldpc_decoding.LDPCDecoder`: each word's syndrome is
checked after the iterations of :func:`~semlink.phy.ldpc_decoding.check_schedule`
(after each of the first 8, then every 2, then every 4); a word whose
checks all hold stops there, keeps those decisions and reports that
iteration; the others run ``max_iter`` iterations. The syndrome of
iteration ``t`` costs nothing extra: the check-node pass of iteration
``t + 1`` loads the same a-posteriori LLRs and ORs each word's parity into a
flag, and the variable-node pass then freezes the words that converged.
Converged words are masked out of every later load and store. The host
waits on the GPU only every ``sync_every`` iterations (to stop the loop when
no word is left); the results do not depend on it.

**Labelled variants** (different decoders, not stand-ins for Sionna's):

* ``schedule="layered"`` (decoder name ``triton-layered``): row-layered BP,
  one layer per base-graph row (``Z`` checks that share no variable node),
  on the graph of Sionna's ``LDPC5GDecoder(cn_schedule="layered")``;
  ``L_app`` is updated after every layer. It converges in about half the
  iterations of flooding (Hocevar, "A reduced complexity decoder architecture
  via layered decoding of LDPC codes", SiPS 2004). Its syndrome is a separate
  pass at the check iterations.
* ``messages="float16"`` / ``"bfloat16"`` (``triton-fp16`` / ``triton-bf16``):
  check-to-variable messages stored in half precision (half the memory
  traffic of the largest array); sums and ``L_app`` stay float32. Its BLER
  cost is printed by ``benchmarks/ldpc_backends.py``.

The kernels (:mod:`semlink.phy.ldpc_triton_kernels`) run on CUDA devices;
with ``TRITON_INTERPRET=1`` set before Triton is imported they run on CPU
tensors in Triton's interpreter (slow; how the tests run without a GPU).
The GPU throughput target of issue 23 (>= 1 Gbit/s for (1024, 2048) at 20
iterations on one H200) is still to be measured (``benchmarks/ldpc_backends.py
--device cuda:0``).
"""

from __future__ import annotations

import contextlib
import logging
import os

import numpy as np
import scipy.sparse as sp
import torch
from sionna.phy.fec.ldpc import LDPC5GEncoder

from semlink.device import resolve_device
from semlink.extras import require

from .ldpc_checks import check_max_iter, check_schedule
from .ldpc_compiled import rate_recovered_llrs
from .ldpc_graph import sionna_decoding_graph

log = logging.getLogger(__name__)

SCHEDULES = ("flooding", "layered")
#: check-node rule -> (kernel rule, offset); boxplus-phi is Sionna's default
CN_RULES = {"boxplus-phi": (0, 0.0), "minsum": (1, 0.0), "offset-minsum": (1, 0.5)}
MESSAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16,
                  "bfloat16": torch.bfloat16}
#: decoder names of :func:`semlink.phy.ldpc_decoding.make_ldpc_decoder` -> (schedule, messages)
VARIANTS = {"triton": ("flooding", "float32"), "triton-layered": ("layered", "float32"),
            "triton-fp16": ("flooding", "float16"), "triton-bf16": ("flooding", "bfloat16")}


def _interpret_requested() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0").strip().lower() in ("1", "true", "on", "yes")


def check_triton_device(device: str, name: str = "triton") -> None:
    """Raise a ``ValueError`` naming the CPU decoders unless Triton kernels can run on ``device``.

    CUDA devices run compiled kernels; CPU tensors only run in Triton's
    interpreter (``TRITON_INTERPRET=1`` before Triton is first imported).
    """
    if str(device).startswith("cuda"):
        return
    if _interpret_requested():
        return
    cuda = ("no CUDA device is visible here" if not torch.cuda.is_available()
            else f"the chain is on {device!r}; build it with device='cuda'")
    raise ValueError(
        f"decoder {name!r} runs Triton kernels on a CUDA GPU, but {cuda}. On the CPU use "
        f"decoder 'sionna' (Sionna's BP) or 'ldpc' (the compiled CPU decoder, "
        f"pip install 'semlink[ldpc-cpu]'); TRITON_INTERPRET=1 runs the Triton kernels on "
        f"the CPU in Triton's interpreter (very slow, for tests)")


def _kernels():
    """Import the kernel module (lazily: the interpreter switch is read at its import)."""
    require("triton", "the Triton LDPC decoder (decoder: triton)")
    from . import ldpc_triton_kernels as kernels

    if kernels.interpreted() != _interpret_requested():
        raise RuntimeError(
            f"the Triton LDPC kernels were imported with TRITON_INTERPRET="
            f"{'1' if kernels.interpreted() else '0'} but it is now "
            f"{os.environ.get('TRITON_INTERPRET')!r}; set it before the first decoder is built")
    return kernels


def triton_next_pow2(x: int) -> int:
    """The smallest power of two >= ``x`` (Triton block shapes are powers of two)."""
    return 1 << max(0, int(x) - 1).bit_length()


def layer_starts(num_cns: int, z: int, cn_vn: np.ndarray, cn_ptr: np.ndarray) -> list[int]:
    """Row offsets of the layers (``z`` consecutive checks, the last possibly shorter);
    raises ``ValueError`` if a layer touches a variable node twice."""
    starts = list(range(0, num_cns, z))
    for s in starts:
        vns = cn_vn[cn_ptr[s]:cn_ptr[min(s + z, num_cns)]]
        if len(np.unique(vns)) != len(vns):
            raise ValueError(f"rows {s}..{min(s + z, num_cns) - 1} share a variable node: "
                             "not a layer of a quasi-cyclic 5G graph")
    return starts


class TritonBPDecoder:
    """5G LDPC BP decoder in Triton kernels, batched over code words.

    Same interface as :class:`~semlink.phy.ldpc_decoding.LDPCDecoder`.

    :param encoder: the :class:`~sionna.phy.fec.ldpc.LDPC5GEncoder` of the code.
    :param max_iter: BP iterations at most.
    :param early_termination: stop each code word once its syndrome is zero (at
        the check iterations of :func:`~semlink.phy.ldpc_decoding.check_schedule`).
    :param cn_update: ``"boxplus-phi"`` (default, Sionna's), ``"minsum"`` or
        ``"offset-minsum"`` (offset 0.5, Sionna's).
    :param schedule: ``"flooding"`` (default, as Sionna) or ``"layered"`` (a
        different decoder: row-layered BP).
    :param messages: storage of the check-to-variable messages: ``"float32"``
        (default), ``"float16"`` or ``"bfloat16"`` (labelled options).
    :param device: where the graph lives and decoding runs (``None``: the first
        CUDA device, else the CPU); a CPU device needs ``TRITON_INTERPRET=1``.
    :param sync_every: iterations between the host's checks for words still
        decoding on a GPU (speed only; the results do not depend on it; 1 in
        the interpreter).
    :param block_b: code words per program (default 128 on a GPU; in the interpreter
        the batch up to 1024).

    :input llr: [batch, n], logits ``log p(1)/p(0)`` of the rate-matched code
        bits (Sionna's sign), any device (decoded on ``device``).
    :output u_hat: [batch, k], hard decisions of the information bits (0/1 in
        the input's float dtype, on the input's device).
    :output iterations: [batch] int64, BP iterations each code word used.

    >>> enc = LDPC5GEncoder(100, 200)                       # doctest: +SKIP
    >>> dec = TritonBPDecoder(enc, device="cuda:0")        # doctest: +SKIP
    >>> u_hat, it = dec(torch.randn(4, 200, device="cuda:0"))  # doctest: +SKIP
    >>> u_hat.shape, it.shape                               # doctest: +SKIP
    (torch.Size([4, 100]), torch.Size([4]))
    """

    llr_max = 20.0

    def __init__(self, encoder: LDPC5GEncoder, max_iter: int = 20, early_termination: bool = True,
                 cn_update: str = "boxplus-phi", schedule: str = "flooding",
                 messages: str = "float32", device: str | None = None, sync_every: int = 4,
                 block_b: int | None = None) -> None:
        check_max_iter(max_iter)
        if not isinstance(early_termination, bool):
            raise ValueError(f"early_termination must be true or false, got {early_termination!r}")
        if cn_update not in CN_RULES:
            raise ValueError(f"cn_update {cn_update!r} is not available with decoder 'triton'; "
                             f"use one of {sorted(CN_RULES)}, or decoder 'sionna'")
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        if messages not in MESSAGE_DTYPES:
            raise ValueError(f"messages must be one of {sorted(MESSAGE_DTYPES)}, got {messages!r}")
        if isinstance(sync_every, bool) or not isinstance(sync_every, int) or sync_every < 1:
            raise ValueError(f"sync_every must be a positive int, got {sync_every!r}")
        if block_b is not None and (isinstance(block_b, bool) or not isinstance(block_b, int)
                                    or block_b < 1 or block_b & (block_b - 1)):
            raise ValueError(f"block_b must be a power of two (code words per program) or None, "
                             f"got {block_b!r}")
        self.device = resolve_device(device)
        self.cn_update, self.schedule, self.messages = cn_update, schedule, messages
        check_triton_device(self.device, self.name)
        self._k = _kernels()
        self.interpreted = self._k.interpreted()
        self.encoder, self.k, self.n = encoder, encoder.k, encoder.n
        self.max_iter, self.early_termination = max_iter, early_termination
        self.sync_every = sync_every
        self._rule, self._offset = CN_RULES[cn_update]
        self._dtype = MESSAGE_DTYPES[messages]
        # Sionna's decoding graph (errors for a (k, n) outside 5G are Sionna's own)
        pcm = sp.csr_matrix(sionna_decoding_graph(encoder, layered=schedule == "layered"),
                            dtype=np.int8)
        pcm.sort_indices()
        self.num_cns, self.num_vns = pcm.shape
        self.num_edges = int(pcm.nnz)
        cn_ptr = pcm.indptr.astype(np.int32)
        cn_vn = pcm.indices.astype(np.int32)
        # per-variable edge lists: edge ids (check-sorted numbering) grouped by variable
        order = np.argsort(cn_vn, kind="stable").astype(np.int32)
        vn_ptr = np.zeros(self.num_vns + 1, dtype=np.int32)
        np.cumsum(np.bincount(cn_vn, minlength=self.num_vns), out=vn_ptr[1:])
        self._layers = (layer_starts(self.num_cns, encoder.z, cn_vn, cn_ptr)
                        if schedule == "layered" else [0])

        def on_device(a):
            return torch.as_tensor(a, dtype=torch.int32, device=self.device)

        self._cn_ptr, self._cn_vn = on_device(cn_ptr), on_device(cn_vn)
        self._vn_ptr, self._vn_edge = on_device(vn_ptr), on_device(order)
        self._schedule = np.cumsum(check_schedule(max_iter)).tolist()   # check iterations
        log.debug("%s: k=%d n=%d Z=%d, graph %d checks x %d variables, %d edges, %s on %s",
                  self.name, self.k, self.n, encoder.z, self.num_cns, self.num_vns,
                  self.num_edges, "interpreted" if self.interpreted else "compiled", self.device)
        self._block_b = block_b
        if self.interpreted:
            self.sync_every = 1          # a host check costs nothing on the CPU
        else:
            self._blocks = dict(block_c=4, block_v=4, block_b=block_b or 128, num_warps=4)

    def _interpreter_blocks(self, batch: int) -> dict:
        """Few, large programs (the interpreter's cost is per operation, not per element):
        up to 1024 words and 2^19 (row, word) elements per program."""
        words = self._block_b or min(1024, triton_next_pow2(batch))
        cap = max(16, (1 << 19) // words)
        rows = self.num_cns if self.schedule == "flooding" else self.encoder.z
        return dict(block_c=min(cap, triton_next_pow2(rows)),
                    block_v=min(cap, triton_next_pow2(self.num_vns)), block_b=words, num_warps=1)

    @property
    def name(self) -> str:
        """The decoder name results record (``triton``, ``triton-layered``, ...)."""
        for name, variant in VARIANTS.items():
            if variant == (self.schedule, self.messages):
                return name
        return f"triton ({self.schedule}, {self.messages} messages)"

    def __call__(self, llr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if llr.ndim != 2 or llr.shape[1] != self.n:
            raise ValueError(f"llr must have shape [batch, {self.n}], got {list(llr.shape)}")
        batch = llr.shape[0]
        dev = torch.device(self.device)
        if batch == 0:
            return (llr.new_zeros((0, self.k)),
                    torch.zeros(0, dtype=torch.int64, device=llr.device))
        logits = rate_recovered_llrs(llr.detach().to(dev, torch.float32), self.encoder,
                                     self.num_vns, self.llr_max)
        chan = (-logits).t().contiguous()                      # [num_vns, batch] LLRs log p0/p1
        app = chan.clone()
        c2v = torch.zeros((self.num_edges, batch), dtype=self._dtype, device=dev)
        active = torch.ones(batch, dtype=torch.int32, device=dev)
        unsat = torch.zeros(batch, dtype=torch.int32, device=dev)
        iters = torch.full((batch,), self.max_iter, dtype=torch.int32, device=dev)
        if self.interpreted:
            self._blocks = self._interpreter_blocks(batch)
        # Triton launches on the current CUDA device: make it the decoder's
        with torch.cuda.device(dev) if dev.type == "cuda" else contextlib.nullcontext():
            if self.schedule == "flooding":
                self._flooding(chan, app, c2v, active, unsat, iters)
            else:
                self._layered(app, c2v, active, unsat, iters)
        u_hat = (app[:self.k] <= 0).t().to(llr.dtype)
        return u_hat.to(llr.device), iters.to(torch.int64).to(llr.device)

    def _flooding(self, chan, app, c2v, active, unsat, iters) -> None:
        b, k = self._blocks, self._k
        checks = set(self._schedule[:-1]) if self.early_termination else set()
        last_sync = 0
        for it in range(1, self.max_iter + 1):
            # the check pass of iteration `it` sees the decisions of iteration it - 1
            check = (it - 1) in checks
            if check:
                unsat.zero_()
            k.launch_check_rows(c2v, app, self._cn_ptr, self._cn_vn, active, unsat, 0,
                                self.num_cns, self.llr_max, self._offset, check, False,
                                self._rule, b["block_c"], b["block_b"], b["num_warps"])
            k.launch_variable_nodes(c2v, app, chan, self._vn_ptr, self._vn_edge, active, unsat,
                                    iters, check, it - 1, b["block_v"], b["block_b"],
                                    b["num_warps"])
            if check and it - 1 - last_sync >= self.sync_every:
                last_sync = it - 1
                if not bool(active.any()):                      # the one host sync
                    break

    def _layered(self, app, c2v, active, unsat, iters) -> None:
        b, k = self._blocks, self._k
        checks = set(self._schedule[:-1]) if self.early_termination else set()
        z, last_sync = self.encoder.z, 0
        for it in range(1, self.max_iter + 1):
            for row0 in self._layers:
                k.launch_check_rows(c2v, app, self._cn_ptr, self._cn_vn, active, unsat, row0,
                                    min(z, self.num_cns - row0), self.llr_max, self._offset,
                                    False, True, self._rule, b["block_c"], b["block_b"],
                                    b["num_warps"])
            if it in checks:
                unsat.zero_()
                k.launch_syndrome(app, self._cn_ptr, self._cn_vn, active, unsat, b["block_c"],
                                  b["block_b"], b["num_warps"])
                converged = (active != 0) & (unsat == 0)
                iters.masked_fill_(converged, it)
                active.masked_fill_(converged, 0)
                if it - last_sync >= self.sync_every:
                    last_sync = it
                    if not bool(active.any()):
                        break
