"""Triton kernels of the CLIP loss. Programs own blocks of BLOCK_M rows; each walks every column block.

Notation (chapter 05): S_ij = a_i . b_j, l_ij = s * S_ij, r_i = logsumexp_j l_ij (rows),
c_j = logsumexp_i l_ij (columns), p_ij = exp(l_ij - r_i). Loss = mean_i (r_i - l_ii) / 2 + mean_j (c_j - l_jj) / 2,
and 2N * dLoss/dl_ij = g_ij = exp(l_ij - r_i) + exp(l_ij - c_j) - 2 delta_ij.

The kernels take every exponential in base 2: they receive s2 = s * log2(e), form l2 = s2 * S = l / ln 2 and
store r2 = r / ln 2, c2 = c / ln 2, so exp(l - r) = exp2(l2 - r2) is one MUFU instruction with no log2(e)
multiply per entry (the host converts the loss back with ln 2).

Two backwards: ``clip_bwd_kernel`` fuses everything (tiles, both gradient products) and suits small D;
``clip_grad_logits_kernel`` only writes a chunk of rows of g in 16 bits, and cuBLAS does the products
(``grad_chunks.py``), which suits large D.
"""

import triton
import triton.language as tl

from .tiles import (
    add_grad_products,
    as_16bit_weights,
    diag_of_tile,
    dot_tile,
    finish_rows,
    meets_diagonal,
    round_16,
    zero_rows,
)


@triton.jit
def ldexp_f64(x, f):
    """x * 2^f exactly, in fp64, for fp32 ``x`` in [1, 2^9) and integer-valued fp32 ``f``: f is added to the
    exponent field of x's fp64 bits (no exp, no multiply). Exact while the result stays a normal fp64,
    -1022 <= f <= 1014: clip_function checks that bound on the device and otherwise uses a second pass.
    """
    bits = x.to(tl.float64).to(tl.int64, bitcast=True) + (f.to(tl.int64) << 52)
    return bits.to(tl.float64, bitcast=True)


# fmt: off
@triton.jit
def clip_fwd_kernel(a_ptr, b_ptr, s2_ptr, gate_ptr, lse_ptr, diag_ptr, col_acc_ptr, N, D, N_BUCKET,
                    stride_an, stride_ad, stride_bn, stride_bd,
                    COL_STATS: tl.constexpr, GATED: tl.constexpr, UPCAST: tl.constexpr, PRECISION: tl.constexpr,
                    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, GROUP: tl.constexpr):
    """Row log-sum-exp (online, in registers), diagonal S_ii and, with COL_STATS, column sums from the same tile.

    Base 2 throughout: the scale arrives as s2 = s * log2(e), so l2 = s2 * S = l / ln 2, each exponential is one
    exp2 (no log2(e) multiply per entry) and the results are lse2 = lse / ln 2 (rows) and, for the columns,
    col_acc_j = sum_i 2^(l2_ij) in fp64.

    Column statistics across programs: programs run in parallel and an atomic can only add, so every program
    adds its tile's share against the same fixed reference, 0: sum_i 2^(l2_ij) = 2^f_j * sum_i 2^(l2_ij - f_j)
    with f_j = floor(tile max of column j). The sum is in [1, 2 BLOCK_M) in fp32 (no overflow, no underflow of
    the largest term) and the product with 2^f_j is exact, by adding f_j to the fp64 exponent (:func:`ldexp_f64`):
    each column's rescale costs a floor and two integer operations, no exp (the first version took an fp64 exp
    of the difference to a Cauchy-Schwarz bound per column and tile). fp64's exponent range makes one pass exact
    while |l2| stays below clip_function.one_pass_limit (~1000, |l| < ~690), which the host checks on the device.

    GATED: the program's loop runs ``tl.load(gate_ptr)`` times over the columns (0 or 1): the optional second
    pass is always launched and skips itself on the device, so the host never reads a value.
    GROUP: programs pid // GROUP == g walk the column blocks in the same order, starting at block g * GROUP, so
    a group reads each B tile once from DRAM and shares it in L2; different groups start apart, which spreads
    the column atomics (grouped program ordering, as GROUP_SIZE_M in Triton's matmul tutorial).
    ``N_BUCKET`` (next power of two of N) is unused here: it is the autotuner's key.
    """
    pid = tl.program_id(0)
    rows = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < N
    s2 = tl.load(s2_ptr)
    m_i = tl.full((BLOCK_M,), float("-inf"), tl.float32)  # running row max (base 2)
    l_i = tl.zeros((BLOCK_M,), tl.float32)  # running sum of 2^(l2 - m_i)
    d_i = tl.zeros((BLOCK_M,), tl.float32)  # S_ii
    n_col_blocks = tl.cdiv(N, BLOCK_N)
    n_steps = n_col_blocks
    if GATED:
        n_steps = n_steps * tl.load(gate_ptr)
    start = (pid // GROUP) * GROUP
    for jj in range(0, n_steps):
        j = (start + jj) % n_col_blocks
        cols = j * BLOCK_N + tl.arange(0, BLOCK_N)
        col_ok = cols < N
        p = dot_tile(a_ptr, b_ptr, rows, cols, row_ok, col_ok, D, stride_an, stride_ad, stride_bn, stride_bd,
                     BLOCK_M, BLOCK_N, BLOCK_D, UPCAST, PRECISION)
        if meets_diagonal(pid * BLOCK_M, j * BLOCK_N, BLOCK_M, BLOCK_N):
            d_i += diag_of_tile(p, rows, cols)
        l2 = s2 * p
        # rows, online: m_new = max(m, tile max); sum <- sum * 2^(m - m_new) + sum_j 2^(l2_ij - m_new)
        lr = tl.where(col_ok[None, :], l2, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(lr, axis=1))
        l_i = l_i * tl.exp2(m_i - m_new) + tl.sum(tl.exp2(lr - m_new[:, None]), axis=1)
        m_i = m_new
        if COL_STATS:
            lc = tl.where(row_ok[:, None], l2, float("-inf"))
            f = tl.floor(tl.where(col_ok, tl.max(lc, axis=0), 0.0))
            local = tl.sum(tl.exp2(lc - f[None, :]), axis=0)
            tl.atomic_add(col_acc_ptr + cols, ldexp_f64(local, f), mask=col_ok, sem="relaxed")
    # l_i >= 1 (the row max contributes 2^0) except in a gated-off pass, which stores -inf (unused)
    tl.store(lse_ptr + rows, m_i + tl.log2(tl.maximum(l_i, 1.0)), mask=row_ok)
    tl.store(diag_ptr + rows, d_i, mask=row_ok)


@triton.jit
def clip_weights(p, s2, r2, c2, rows, cols, row_ok, col_ok, row0, col0,
                 BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """g_ij = exp(l_ij - r_i) + exp(l_ij - c_j) - 2 delta_ij in fp32, 0 outside the matrix, in base 2:
    2^(l2_ij - r2_i) + 2^(l2_ij - c2_j) with l2 = s2 * S, r2 = r / ln 2, c2 = c / ln 2 (as the forward stored them).

    The -2 on the diagonal is subtracted here, in fp32, before anything rounds g to 16 bits.
    """
    l2 = s2 * p
    g = tl.where(row_ok[:, None] & col_ok[None, :], tl.exp2(l2 - r2[:, None]) + tl.exp2(l2 - c2[None, :]), 0.0)
    if meets_diagonal(row0, col0, BLOCK_M, BLOCK_N):
        g = tl.where((rows[:, None] == cols[None, :]) & col_ok[None, :], g - 2.0, g)
    return g


@triton.jit
def clip_bwd_kernel(a_ptr, b_ptr, s2_ptr, k_ptr, r_ptr, c_ptr, ga_ptr, acc_ptr, gb_ptr, gs_ptr, N, D, N_BUCKET,
                    stride_an, stride_ad, stride_bn, stride_bd,
                    UPCAST: tl.constexpr, PRECISION: tl.constexpr, G_SCALE: tl.constexpr,
                    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, GROUP: tl.constexpr):
    """Recompute each tile and add its share of the gradients. Persistent: program p takes row blocks
    p, p + P, p + 2P, ... and accumulates their grad_a in its own fp32 (BLOCK_M, D) slice of ``acc``.

    acc += G_SCALE g @ b, gb += G_SCALE g.T @ a (g in 16 bits), gs += sum g_ij S_ij (fp32); then
    ga[rows] = k * acc with k = upstream * s / (2N * G_SCALE). G_SCALE = 2^14 for fp16 keeps small g normal.
    s2, r, c in base 2 as the forward left them (clip_weights). GROUP: row blocks rb // GROUP == g walk the
    column blocks in the same order from block g * GROUP, sharing B tiles in L2 (as in the forward; with the
    number of programs a multiple of GROUP the groups stay together from one row block to the next).
    """
    pid = tl.program_id(0)
    s2 = tl.load(s2_ptr)
    k = tl.load(k_ptr)
    acc_ptr += pid.to(tl.int64) * BLOCK_M * D
    gs = tl.zeros((BLOCK_M,), tl.float32)
    n_row_blocks = tl.cdiv(N, BLOCK_M)
    n_col_blocks = tl.cdiv(N, BLOCK_N)
    for rb in range(pid, n_row_blocks, tl.num_programs(0)):
        rows = rb * BLOCK_M + tl.arange(0, BLOCK_M)
        row_ok = rows < N
        r = tl.load(r_ptr + rows, mask=row_ok, other=float("inf"))
        zero_rows(acc_ptr, D, BLOCK_M, BLOCK_D)
        start = (rb // GROUP) * GROUP  # groups start apart: the atomic adds on gb spread over the columns
        for jj in range(0, n_col_blocks):
            j = (start + jj) % n_col_blocks
            cols = j * BLOCK_N + tl.arange(0, BLOCK_N)
            col_ok = cols < N
            p = dot_tile(a_ptr, b_ptr, rows, cols, row_ok, col_ok, D, stride_an, stride_ad, stride_bn, stride_bd,
                         BLOCK_M, BLOCK_N, BLOCK_D, UPCAST, PRECISION)
            c = tl.load(c_ptr + cols, mask=col_ok, other=float("inf"))
            g = clip_weights(p, s2, r, c, rows, cols, row_ok, col_ok, rb * BLOCK_M, j * BLOCK_N, BLOCK_M, BLOCK_N)
            gs += tl.sum(g * p, axis=1)
            gc = as_16bit_weights(g * G_SCALE, a_ptr.dtype.element_ty, UPCAST)
            add_grad_products(gc, a_ptr, b_ptr, acc_ptr, gb_ptr, rows, cols, row_ok, col_ok, D,
                              stride_an, stride_ad, stride_bn, stride_bd, BLOCK_M, BLOCK_D, UPCAST, PRECISION)
        finish_rows(acc_ptr, ga_ptr, rows, row_ok, D, k, BLOCK_M, BLOCK_D, UPCAST)
    tl.atomic_add(gs_ptr, tl.sum(gs, axis=0).to(tl.float64), sem="relaxed")


@triton.jit
def clip_grad_logits_kernel(a_ptr, b_ptr, s2_ptr, r_ptr, c_ptr, g_ptr, gs_ptr, row0, C, N, D, N_BUCKET,
                            stride_an, stride_ad, stride_bn, stride_bd,
                            UPCAST: tl.constexpr, PRECISION: tl.constexpr, G_SCALE: tl.constexpr,
                            BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    """One (BLOCK_M, BLOCK_N) tile of the chunk G = G_SCALE * g[row0 : row0 + C, :], stored in g's dtype,
    and the row sums gs[row0 + i] += sum_j g_ij S_ij (fp32, for the scale's gradient). Grid: (row blocks of
    the chunk, column blocks). cuBLAS then forms G @ b and G.T @ a (grad_chunks.py).
    """
    local = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rows = row0 + local
    row_ok = local < C
    col0 = tl.program_id(1) * BLOCK_N
    cols = col0 + tl.arange(0, BLOCK_N)
    col_ok = cols < N
    s2 = tl.load(s2_ptr)
    p = dot_tile(a_ptr, b_ptr, rows, cols, row_ok, col_ok, D, stride_an, stride_ad, stride_bn, stride_bd,
                 BLOCK_M, BLOCK_N, BLOCK_D, UPCAST, PRECISION)
    r = tl.load(r_ptr + rows, mask=row_ok, other=float("inf"))
    c = tl.load(c_ptr + cols, mask=col_ok, other=float("inf"))
    g = clip_weights(p, s2, r, c, rows, cols, row_ok, col_ok, row0 + tl.program_id(0) * BLOCK_M, col0,
                     BLOCK_M, BLOCK_N)
    tl.atomic_add(gs_ptr + rows, tl.sum(g * p, axis=1), mask=row_ok, sem="relaxed")
    g = g * G_SCALE
    if UPCAST:
        g = round_16(g, g_ptr.dtype.element_ty)
    offs = local.to(tl.int64)[:, None] * N + cols[None, :]
    tl.store(g_ptr + offs, g.to(g_ptr.dtype.element_ty), mask=row_ok[:, None] & col_ok[None, :])
# fmt: on
