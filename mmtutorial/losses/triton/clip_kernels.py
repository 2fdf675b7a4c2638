"""Triton kernels of the CLIP loss. Programs own blocks of BLOCK_M rows; each walks every column block.

Notation (chapter 05): S_ij = a_i . b_j, l_ij = s * S_ij, r_i = logsumexp_j l_ij (rows),
c_j = logsumexp_i l_ij (columns), p_ij = exp(l_ij - r_i). Loss = mean_i (r_i - l_ii) / 2 + mean_j (c_j - l_jj) / 2,
and 2N * dLoss/dl_ij = g_ij = exp(l_ij - r_i) + exp(l_ij - c_j) - 2 delta_ij.

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


# fmt: off
@triton.jit
def clip_fwd_kernel(a_ptr, b_ptr, s_ptr, u_ptr, lse_ptr, diag_ptr, col_acc_ptr, N, D, N_BUCKET,
                    stride_an, stride_ad, stride_bn, stride_bd,
                    COL_STATS: tl.constexpr, UPCAST: tl.constexpr, PRECISION: tl.constexpr,
                    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    """Row log-sum-exp r (online, in registers), diagonal S_ii and, with COL_STATS, column sums from the same tile.

    Column statistics across programs: column j has a fixed reference u_j >= max_i l_ij (Cauchy-Schwarz,
    computed before launch). Each tile adds sum_i exp(l_ij - u_j) = exp(t_j - u_j) * sum_i exp(l_ij - t_j)
    (t_j: the tile's column max) into an fp64 accumulator, so c_j = u_j + log(col_acc_j) exactly; fp64 holds
    exp(t_j - u_j) >= exp(-2 u_j) as long as 2 u_j < ~700, which the host checks. A fixed reference, not a
    running max, because programs run in parallel and an atomic can only add a number, not rescale a sum.
    ``N_BUCKET`` (next power of two of N) is unused here: it is the autotuner's key.
    """
    pid = tl.program_id(0)
    rows = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < N
    s = tl.load(s_ptr)
    m_i = tl.full((BLOCK_M,), float("-inf"), tl.float32)  # running row max
    l_i = tl.zeros((BLOCK_M,), tl.float32)  # running sum of exp(l - m_i)
    d_i = tl.zeros((BLOCK_M,), tl.float32)  # S_ii
    n_col_blocks = tl.cdiv(N, BLOCK_N)
    for jj in range(0, n_col_blocks):
        j = (pid + jj) % n_col_blocks  # staggered start: programs do not all hit the same columns' atomics
        cols = j * BLOCK_N + tl.arange(0, BLOCK_N)
        col_ok = cols < N
        p = dot_tile(a_ptr, b_ptr, rows, cols, row_ok, col_ok, D, stride_an, stride_ad, stride_bn, stride_bd,
                     BLOCK_M, BLOCK_N, BLOCK_D, UPCAST, PRECISION)
        if meets_diagonal(pid * BLOCK_M, j * BLOCK_N, BLOCK_M, BLOCK_N):
            d_i += diag_of_tile(p, rows, cols)
        l = s * p
        # rows, online: m_new = max(m, tile max); sum <- sum * exp(m - m_new) + sum_j exp(l_ij - m_new)
        lr = tl.where(col_ok[None, :], l, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(lr, axis=1))
        l_i = l_i * tl.exp(m_i - m_new) + tl.sum(tl.exp(lr - m_new[:, None]), axis=1)
        m_i = m_new
        if COL_STATS:
            lc = tl.where(row_ok[:, None], l, float("-inf"))
            t = tl.where(col_ok, tl.max(lc, axis=0), 0.0)
            local = tl.sum(tl.exp(lc - t[None, :]), axis=0)
            u = tl.load(u_ptr + cols, mask=col_ok, other=0.0)
            w = local.to(tl.float64) * tl.exp(t.to(tl.float64) - u.to(tl.float64))  # exact difference
            tl.atomic_add(col_acc_ptr + cols, w, mask=col_ok, sem="relaxed")
    tl.store(lse_ptr + rows, m_i + tl.log(l_i), mask=row_ok)
    tl.store(diag_ptr + rows, d_i, mask=row_ok)


@triton.jit
def clip_weights(p, s, r, c, rows, cols, row_ok, col_ok, row0, col0, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """g_ij = exp(l_ij - r_i) + exp(l_ij - c_j) - 2 delta_ij in fp32, 0 outside the matrix.

    The -2 on the diagonal is subtracted here, in fp32, before anything rounds g to 16 bits.
    """
    l = s * p
    g = tl.where(row_ok[:, None] & col_ok[None, :], tl.exp(l - r[:, None]) + tl.exp(l - c[None, :]), 0.0)
    if meets_diagonal(row0, col0, BLOCK_M, BLOCK_N):
        g = tl.where((rows[:, None] == cols[None, :]) & col_ok[None, :], g - 2.0, g)
    return g


@triton.jit
def clip_bwd_kernel(a_ptr, b_ptr, s_ptr, k_ptr, r_ptr, c_ptr, ga_ptr, acc_ptr, gb_ptr, gs_ptr, N, D, N_BUCKET,
                    stride_an, stride_ad, stride_bn, stride_bd,
                    UPCAST: tl.constexpr, PRECISION: tl.constexpr, G_SCALE: tl.constexpr,
                    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    """Recompute each tile and add its share of the gradients. Persistent: program p takes row blocks
    p, p + P, p + 2P, ... and accumulates their grad_a in its own fp32 (BLOCK_M, D) slice of ``acc``.

    acc += G_SCALE g @ b, gb += G_SCALE g.T @ a (g in 16 bits), gs += sum g_ij S_ij (fp32); then
    ga[rows] = k * acc with k = upstream * s / (2N * G_SCALE). G_SCALE = 2^14 for fp16 keeps small g normal.
    """
    pid = tl.program_id(0)
    s = tl.load(s_ptr)
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
        for jj in range(0, n_col_blocks):
            j = (rb + jj) % n_col_blocks  # staggered start spreads the atomic adds on gb
            cols = j * BLOCK_N + tl.arange(0, BLOCK_N)
            col_ok = cols < N
            p = dot_tile(a_ptr, b_ptr, rows, cols, row_ok, col_ok, D, stride_an, stride_ad, stride_bn, stride_bd,
                         BLOCK_M, BLOCK_N, BLOCK_D, UPCAST, PRECISION)
            c = tl.load(c_ptr + cols, mask=col_ok, other=float("inf"))
            g = clip_weights(p, s, r, c, rows, cols, row_ok, col_ok, rb * BLOCK_M, j * BLOCK_N, BLOCK_M, BLOCK_N)
            gs += tl.sum(g * p, axis=1)
            gc = as_16bit_weights(g * G_SCALE, a_ptr.dtype.element_ty, UPCAST)
            add_grad_products(gc, a_ptr, b_ptr, acc_ptr, gb_ptr, rows, cols, row_ok, col_ok, D,
                              stride_an, stride_ad, stride_bn, stride_bd, BLOCK_M, BLOCK_D, UPCAST, PRECISION)
        finish_rows(acc_ptr, ga_ptr, rows, row_ok, D, k, BLOCK_M, BLOCK_D, UPCAST)
    tl.atomic_add(gs_ptr, tl.sum(gs, axis=0).to(tl.float64), sem="relaxed")


@triton.jit
def clip_grad_logits_kernel(a_ptr, b_ptr, s_ptr, r_ptr, c_ptr, g_ptr, gs_ptr, row0, C, N, D, N_BUCKET,
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
    s = tl.load(s_ptr)
    p = dot_tile(a_ptr, b_ptr, rows, cols, row_ok, col_ok, D, stride_an, stride_ad, stride_bn, stride_bd,
                 BLOCK_M, BLOCK_N, BLOCK_D, UPCAST, PRECISION)
    r = tl.load(r_ptr + rows, mask=row_ok, other=float("inf"))
    c = tl.load(c_ptr + cols, mask=col_ok, other=float("inf"))
    g = clip_weights(p, s, r, c, rows, cols, row_ok, col_ok, row0 + tl.program_id(0) * BLOCK_M, col0,
                     BLOCK_M, BLOCK_N)
    tl.atomic_add(gs_ptr + rows, tl.sum(g * p, axis=1), mask=row_ok, sem="relaxed")
    g = g * G_SCALE
    if UPCAST:
        g = round_16(g, g_ptr.dtype.element_ty)
    offs = local.to(tl.int64)[:, None] * N + cols[None, :]
    tl.store(g_ptr + offs, g.to(g_ptr.dtype.element_ty), mask=row_ok[:, None] & col_ok[None, :])
# fmt: on
