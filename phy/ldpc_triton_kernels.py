"""Triton kernels of the batched 5G LDPC belief-propagation decoder (:mod:`semlink.phy.ldpc_triton`).

Memory layout (word-major inner dimension, so every load and store of a
program is a contiguous run of ``BLOCK_B`` code words: coalesced on a GPU):

* ``app``  [num_vns, B] float32: a-posteriori LLR of every variable node,
  ``L_v + sum_e c2v[e]`` (not clipped: Sionna clips the extrinsic messages
  and the decisions, not the sum they come from);
* ``c2v``  [num_edges, B] float32 (or float16 / bfloat16, the labelled
  low-precision option): check-to-variable messages, edges sorted by check
  (CSR: ``cn_ptr`` [num_cns + 1], ``cn_vn`` [num_edges]); each variable node
  finds its edges through ``vn_ptr`` [num_vns + 1] / ``vn_edge`` [num_edges];
* ``active`` [B] int32 (1 while a word is decoded), ``unsat`` [B] int32
  (> 0 when a check of the word failed), ``iters`` [B] int32.

LLRs are ``log p(0)/p(1)`` inside (Sionna's internal sign). The variable-to-
check message of edge ``e = (c, v)`` is never stored: it is
``clip(app[v] - c2v[e], +-llr_max)``, exactly Sionna's extrinsic VN output.

One program handles a block of ``BLOCK_C`` check rows (or ``BLOCK_V``
variable nodes) times ``BLOCK_B`` words; degrees are read from the CSR
pointers and the program loops over the largest degree of its rows (5G rows
of one base-graph row share their degree, so the masking wastes little).
Accumulation is in float32.

Check-node rules (``RULE``): 0 = boxplus-phi with Sionna's float32 clipping
of phi's argument to ``[8.5e-8, 16.635532]``; 1 = min-sum with offset
``offset`` (0 for plain min-sum, Sionna's 0.5 for offset min-sum).
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _phi(x):
    """phi(x) = log(e^x + 1) - log(e^x - 1), argument clipped as Sionna does in float32."""
    x = tl.minimum(tl.maximum(x, 8.5e-8), 16.635532)
    ex = tl.exp(x)
    return tl.log(ex + 1.0) - tl.log(ex - 1.0)


@triton.jit
def _check_rows(c2v_ptr, app_ptr, cn_ptr, cn_vn, active_ptr, unsat_ptr, B, row0, num_rows,
                llr_max, offset, check, LAYERED: tl.constexpr, RULE: tl.constexpr,
                BLOCK_C: tl.constexpr, BLOCK_B: tl.constexpr):
    """Check-node update of rows ``row0 + [0, num_rows)`` for a block of words.

    Flooding (``LAYERED`` false): reads ``app`` and the old ``c2v``, writes the
    new ``c2v`` only; when ``check`` is non-zero it also ORs into ``unsat``
    whether the hard decisions of ``app`` violate a row (the syndrome of the
    previous iteration's decisions, for free: the same loads).
    Layered: also writes ``app[v] = app[v] - c2v_old + c2v_new`` (rows of one
    call share no variable node).
    """
    pid_c = tl.program_id(0)
    pid_b = tl.program_id(1)
    rows = row0 + pid_c * BLOCK_C + tl.arange(0, BLOCK_C)
    row_ok = rows < row0 + num_rows
    words = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    word_ok = words < B
    act = tl.load(active_ptr + words, mask=word_ok, other=0)
    word_ok = word_ok & (act != 0)
    start = tl.load(cn_ptr + rows, mask=row_ok, other=0)
    deg = tl.load(cn_ptr + rows + 1, mask=row_ok, other=0) - start
    max_deg = tl.max(deg, axis=0)
    wcol = words.to(tl.int64)[None, :]

    parity = tl.zeros((BLOCK_C, BLOCK_B), dtype=tl.int32)
    negs = tl.zeros((BLOCK_C, BLOCK_B), dtype=tl.int32)
    acc = tl.zeros((BLOCK_C, BLOCK_B), dtype=tl.float32)          # sum of phi | min1
    min2 = tl.full((BLOCK_C, BLOCK_B), 3.0e38, dtype=tl.float32)
    argmin = tl.zeros((BLOCK_C, BLOCK_B), dtype=tl.int32)
    if RULE == 1:
        acc = tl.full((BLOCK_C, BLOCK_B), 3.0e38, dtype=tl.float32)
    for j in range(0, max_deg):
        e_ok = j < deg
        e = start + j
        v = tl.load(cn_vn + e, mask=row_ok & e_ok, other=0)
        m = (row_ok & e_ok)[:, None] & word_ok[None, :]
        a = tl.load(app_ptr + v.to(tl.int64)[:, None] * B + wcol, mask=m, other=1.0)
        c = tl.load(c2v_ptr + e.to(tl.int64)[:, None] * B + wcol, mask=m, other=0.0)
        x = tl.minimum(tl.maximum(a - c.to(tl.float32), -llr_max), llr_max)
        parity = parity ^ (m & (a <= 0.0)).to(tl.int32)
        negs = negs ^ (m & (x < 0.0)).to(tl.int32)
        mag = tl.abs(x)
        if RULE == 0:
            acc += tl.where(m, _phi(mag), 0.0)
        else:
            mag = tl.where(m, mag, 3.0e38)
            smaller = mag < acc
            min2 = tl.where(smaller, acc, tl.minimum(min2, mag))
            argmin = tl.where(smaller, j, argmin)
            acc = tl.where(smaller, mag, acc)
    if check != 0:
        bad = tl.max(parity, axis=0)                                # [BLOCK_B]
        tl.atomic_max(unsat_ptr + words, bad, mask=word_ok & (bad > 0))
    for j in range(0, max_deg):
        e_ok = j < deg
        e = start + j
        v = tl.load(cn_vn + e, mask=row_ok & e_ok, other=0)
        m = (row_ok & e_ok)[:, None] & word_ok[None, :]
        a_ptrs = app_ptr + v.to(tl.int64)[:, None] * B + wcol
        c_ptrs = c2v_ptr + e.to(tl.int64)[:, None] * B + wcol
        a = tl.load(a_ptrs, mask=m, other=1.0)
        c = tl.load(c_ptrs, mask=m, other=0.0)
        x = tl.minimum(tl.maximum(a - c.to(tl.float32), -llr_max), llr_max)
        mag = tl.abs(x)
        if RULE == 0:
            out = _phi(acc - _phi(mag))
        else:
            out = tl.where(argmin == j, min2, acc)
            out = tl.maximum(out - offset, 0.0)
        neg = negs ^ (x < 0.0).to(tl.int32)
        out = tl.where(neg != 0, -out, out)
        out = tl.minimum(tl.maximum(out, -llr_max), llr_max)
        new = out.to(c2v_ptr.dtype.element_ty)
        tl.store(c_ptrs, new, mask=m)
        if LAYERED:       # app - c2v_old + c2v_new: the sum stays unclipped, as in flooding
            tl.store(a_ptrs, a - c.to(tl.float32) + new.to(tl.float32), mask=m)


@triton.jit
def _variable_nodes(c2v_ptr, app_ptr, llr_ptr, vn_ptr, vn_edge, active_ptr, unsat_ptr, iters_ptr,
                    B, num_vns, check, check_iter, BLOCK_V: tl.constexpr,
                    BLOCK_B: tl.constexpr):
    """Flooding VN update ``app[v] = L[v] + sum_e c2v[e]`` for a block of nodes and words.

    When ``check`` is non-zero, ``unsat`` holds the syndrome of the decisions
    of iteration ``check_iter`` (from the check-node pass that just ran):
    words whose checks all hold stop here (``active = 0``, ``iters =
    check_iter``) and keep those decisions (their ``app`` is not updated).
    """
    pid_v = tl.program_id(0)
    pid_b = tl.program_id(1)
    nodes = pid_v * BLOCK_V + tl.arange(0, BLOCK_V)
    node_ok = nodes < num_vns
    words = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    word_ok = words < B
    act = tl.load(active_ptr + words, mask=word_ok, other=0) != 0
    if check != 0:
        converged = act & (tl.load(unsat_ptr + words, mask=word_ok, other=1) == 0)
        if pid_v == 0:
            tl.store(active_ptr + words, tl.zeros((BLOCK_B,), dtype=tl.int32), mask=converged)
            tl.store(iters_ptr + words, tl.zeros((BLOCK_B,), dtype=tl.int32) + check_iter,
                     mask=converged)
        act = act & (converged == 0)
    word_ok = word_ok & act
    start = tl.load(vn_ptr + nodes, mask=node_ok, other=0)
    deg = tl.load(vn_ptr + nodes + 1, mask=node_ok, other=0) - start
    max_deg = tl.max(deg, axis=0)
    wcol = words.to(tl.int64)[None, :]
    m_node = node_ok[:, None] & word_ok[None, :]
    rows = nodes.to(tl.int64)[:, None] * B + wcol
    total = tl.load(llr_ptr + rows, mask=m_node, other=0.0)
    for j in range(0, max_deg):
        e_ok = node_ok & (j < deg)
        e = tl.load(vn_edge + start + j, mask=e_ok, other=0)
        m = e_ok[:, None] & word_ok[None, :]
        total += tl.load(c2v_ptr + e.to(tl.int64)[:, None] * B + wcol, mask=m,
                         other=0.0).to(tl.float32)
    tl.store(app_ptr + rows, total, mask=m_node)


@triton.jit
def _syndrome(app_ptr, cn_ptr, cn_vn, active_ptr, unsat_ptr, B, num_cns,
              BLOCK_C: tl.constexpr, BLOCK_B: tl.constexpr):
    """``unsat[w] > 0`` when a check of active word ``w`` fails on the decisions ``app <= 0``."""
    pid_c = tl.program_id(0)
    pid_b = tl.program_id(1)
    rows = pid_c * BLOCK_C + tl.arange(0, BLOCK_C)
    row_ok = rows < num_cns
    words = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    word_ok = words < B
    word_ok = word_ok & (tl.load(active_ptr + words, mask=word_ok, other=0) != 0)
    start = tl.load(cn_ptr + rows, mask=row_ok, other=0)
    deg = tl.load(cn_ptr + rows + 1, mask=row_ok, other=0) - start
    max_deg = tl.max(deg, axis=0)
    wcol = words.to(tl.int64)[None, :]
    parity = tl.zeros((BLOCK_C, BLOCK_B), dtype=tl.int32)
    for j in range(0, max_deg):
        e_ok = row_ok & (j < deg)
        v = tl.load(cn_vn + start + j, mask=e_ok, other=0)
        m = e_ok[:, None] & word_ok[None, :]
        a = tl.load(app_ptr + v.to(tl.int64)[:, None] * B + wcol, mask=m, other=1.0)
        parity = parity ^ (m & (a <= 0.0)).to(tl.int32)
    bad = tl.max(parity, axis=0)
    tl.atomic_max(unsat_ptr + words, bad, mask=word_ok & (bad > 0))


def launch_check_rows(c2v, app, cn_ptr, cn_vn, active, unsat, row0, num_rows, llr_max, offset,
                      check, layered, rule, block_c, block_b, num_warps):
    """Launch :func:`_check_rows` over ``num_rows`` rows from ``row0`` and every word."""
    batch = app.shape[1]
    grid = (triton.cdiv(num_rows, block_c), triton.cdiv(batch, block_b))
    _check_rows[grid](c2v, app, cn_ptr, cn_vn, active, unsat, batch, row0, num_rows,
                      llr_max, offset, int(check), LAYERED=layered, RULE=rule, BLOCK_C=block_c,
                      BLOCK_B=block_b, num_warps=num_warps)


def launch_variable_nodes(c2v, app, llr, vn_ptr, vn_edge, active, unsat, iters, check,
                          check_iter, block_v, block_b, num_warps):
    """Launch :func:`_variable_nodes` over every node and word."""
    num_vns, batch = app.shape
    grid = (triton.cdiv(num_vns, block_v), triton.cdiv(batch, block_b))
    _variable_nodes[grid](c2v, app, llr, vn_ptr, vn_edge, active, unsat, iters, batch, num_vns,
                          int(check), int(check_iter), BLOCK_V=block_v, BLOCK_B=block_b,
                          num_warps=num_warps)


def launch_syndrome(app, cn_ptr, cn_vn, active, unsat, block_c, block_b, num_warps):
    """Launch :func:`_syndrome` over every check and word."""
    batch = app.shape[1]
    num_cns = cn_ptr.shape[0] - 1
    grid = (triton.cdiv(num_cns, block_c), triton.cdiv(batch, block_b))
    _syndrome[grid](app, cn_ptr, cn_vn, active, unsat, batch, num_cns, BLOCK_C=block_c,
                    BLOCK_B=block_b, num_warps=num_warps)


def interpreted() -> bool:
    """Whether these kernels run in Triton's CPU interpreter (``TRITON_INTERPRET=1`` at import)."""
    from triton.runtime.interpreter import InterpretedFunction

    return isinstance(_check_rows, InterpretedFunction)
