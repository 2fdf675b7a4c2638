"""Triton kernels of the SigLIP loss. Programs own blocks of BLOCK_M rows; each walks every column block.

Notation (chapter 05): S_ij = a_i . b_j, l_ij = s * S_ij + t, z_ij = 2*delta_ij - 1.
Loss = sum_ij softplus(-z_ij l_ij) / N = (sum_ij softplus(l_ij) - sum_i l_ii) / N, since
softplus(-x) = softplus(x) - x: the forward treats every pair as a negative and the diagonal is corrected apart.
N * dLoss/dl_ij = g_ij = sigmoid(l_ij) - delta_ij (on the diagonal -sigmoid(-l_ii), computed as such).
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
def softplus(x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), log1p accurate for tiny arguments (Goldberg's trick)."""
    y = tl.exp(-tl.abs(x))
    w = 1.0 + y
    log1p = tl.where(w == 1.0, y, tl.log(w) * (y / tl.where(w == 1.0, 1.0, w - 1.0)))
    return tl.maximum(x, 0.0) + log1p


@triton.jit
def sigmoid(x):
    """1 / (1 + exp(-x)) from e = exp(-|x|) <= 1, so no intermediate overflows for large |x|."""
    e = tl.exp(-tl.abs(x))
    return tl.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# fmt: off
@triton.jit
def siglip_fwd_kernel(a_ptr, b_ptr, s_ptr, t_ptr, diag_ptr, loss_acc_ptr, N, D, N_BUCKET,
                      stride_an, stride_ad, stride_bn, stride_bd,
                      UPCAST: tl.constexpr, PRECISION: tl.constexpr,
                      BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, GROUP: tl.constexpr):
    """loss_acc += sum over this row block of softplus(l_ij) (one fp64 atomic per program); diag <- S_ii.

    GROUP (shared with the CLIP forward's configurations) is not needed: no column atomics to spread, so every
    program walks the column blocks from 0 and all running programs share each B tile in L2.
    """
    pid = tl.program_id(0)
    rows = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < N
    s = tl.load(s_ptr)
    t = tl.load(t_ptr)
    acc = tl.zeros((BLOCK_M,), tl.float32)
    d_i = tl.zeros((BLOCK_M,), tl.float32)
    for j in range(0, tl.cdiv(N, BLOCK_N)):
        cols = j * BLOCK_N + tl.arange(0, BLOCK_N)
        col_ok = cols < N
        p = dot_tile(a_ptr, b_ptr, rows, cols, row_ok, col_ok, D, stride_an, stride_ad, stride_bn, stride_bd,
                     BLOCK_M, BLOCK_N, BLOCK_D, UPCAST, PRECISION)
        if meets_diagonal(pid * BLOCK_M, j * BLOCK_N, BLOCK_M, BLOCK_N):
            d_i += diag_of_tile(p, rows, cols)
        acc += tl.sum(tl.where(row_ok[:, None] & col_ok[None, :], softplus(s * p + t), 0.0), axis=1)
    tl.store(diag_ptr + rows, d_i, mask=row_ok)
    tl.atomic_add(loss_acc_ptr, tl.sum(acc, axis=0).to(tl.float64), sem="relaxed")


@triton.jit
def siglip_weights(p, s, t, rows, cols, row_ok, col_ok, row0, col0, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """g_ij = sigmoid(l_ij) - delta_ij in fp32, 0 outside the matrix; the diagonal as -sigmoid(-l_ii) (exact)."""
    l = s * p + t
    g = tl.where(row_ok[:, None] & col_ok[None, :], sigmoid(l), 0.0)
    if meets_diagonal(row0, col0, BLOCK_M, BLOCK_N):
        g = tl.where((rows[:, None] == cols[None, :]) & col_ok[None, :], -sigmoid(-l), g)
    return g


@triton.jit
def siglip_bwd_kernel(a_ptr, b_ptr, s_ptr, t_ptr, k_ptr, ga_ptr, acc_ptr, gb_ptr, gs_ptr, gt_ptr, N, D, N_BUCKET,
                      stride_an, stride_ad, stride_bn, stride_bd,
                      UPCAST: tl.constexpr, PRECISION: tl.constexpr, G_SCALE: tl.constexpr,
                      BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, GROUP: tl.constexpr):
    """Recompute each tile (persistent over row blocks, grouped column order, as clip_bwd_kernel).

    acc += G_SCALE g @ b, gb += G_SCALE g.T @ a (g in 16 bits), gs += sum g_ij S_ij, gt += sum g_ij (fp32);
    then ga[rows] = k * acc, k = upstream * s / (N * G_SCALE).
    """
    pid = tl.program_id(0)
    s = tl.load(s_ptr)
    t = tl.load(t_ptr)
    k = tl.load(k_ptr)
    acc_ptr += pid.to(tl.int64) * BLOCK_M * D
    gs = tl.zeros((BLOCK_M,), tl.float32)
    gt = tl.zeros((BLOCK_M,), tl.float32)
    n_row_blocks = tl.cdiv(N, BLOCK_M)
    n_col_blocks = tl.cdiv(N, BLOCK_N)
    for rb in range(pid, n_row_blocks, tl.num_programs(0)):
        rows = rb * BLOCK_M + tl.arange(0, BLOCK_M)
        row_ok = rows < N
        zero_rows(acc_ptr, D, BLOCK_M, BLOCK_D)
        start = (rb // GROUP) * GROUP  # a group shares B tiles in L2; groups start apart (gb atomics spread)
        for jj in range(0, n_col_blocks):
            j = (start + jj) % n_col_blocks
            cols = j * BLOCK_N + tl.arange(0, BLOCK_N)
            col_ok = cols < N
            p = dot_tile(a_ptr, b_ptr, rows, cols, row_ok, col_ok, D, stride_an, stride_ad, stride_bn, stride_bd,
                         BLOCK_M, BLOCK_N, BLOCK_D, UPCAST, PRECISION)
            g = siglip_weights(p, s, t, rows, cols, row_ok, col_ok, rb * BLOCK_M, j * BLOCK_N, BLOCK_M, BLOCK_N)
            gs += tl.sum(g * p, axis=1)
            gt += tl.sum(g, axis=1)
            gc = as_16bit_weights(g * G_SCALE, a_ptr.dtype.element_ty, UPCAST)
            add_grad_products(gc, a_ptr, b_ptr, acc_ptr, gb_ptr, rows, cols, row_ok, col_ok, D,
                              stride_an, stride_ad, stride_bn, stride_bd, BLOCK_M, BLOCK_D, UPCAST, PRECISION)
        finish_rows(acc_ptr, ga_ptr, rows, row_ok, D, k, BLOCK_M, BLOCK_D, UPCAST)
    tl.atomic_add(gs_ptr, tl.sum(gs, axis=0).to(tl.float64), sem="relaxed")
    tl.atomic_add(gt_ptr, tl.sum(gt, axis=0).to(tl.float64), sem="relaxed")


@triton.jit
def siglip_grad_logits_kernel(a_ptr, b_ptr, s_ptr, t_ptr, g_ptr, gs_ptr, gt_ptr, row0, C, N, D, N_BUCKET,
                              stride_an, stride_ad, stride_bn, stride_bd,
                              UPCAST: tl.constexpr, PRECISION: tl.constexpr, G_SCALE: tl.constexpr,
                              BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    """One tile of the chunk G = G_SCALE * g[row0 : row0 + C, :] in g's dtype, with the row sums
    gs[row0 + i] += sum_j g_ij S_ij and gt[row0 + i] += sum_j g_ij (fp32). cuBLAS does the products."""
    local = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rows = row0 + local
    row_ok = local < C
    col0 = tl.program_id(1) * BLOCK_N
    cols = col0 + tl.arange(0, BLOCK_N)
    col_ok = cols < N
    s = tl.load(s_ptr)
    t = tl.load(t_ptr)
    p = dot_tile(a_ptr, b_ptr, rows, cols, row_ok, col_ok, D, stride_an, stride_ad, stride_bn, stride_bd,
                 BLOCK_M, BLOCK_N, BLOCK_D, UPCAST, PRECISION)
    g = siglip_weights(p, s, t, rows, cols, row_ok, col_ok, row0 + tl.program_id(0) * BLOCK_M, col0,
                       BLOCK_M, BLOCK_N)
    tl.atomic_add(gs_ptr + rows, tl.sum(g * p, axis=1), mask=row_ok, sem="relaxed")
    tl.atomic_add(gt_ptr + rows, tl.sum(g, axis=1), mask=row_ok, sem="relaxed")
    g = g * G_SCALE
    if UPCAST:
        g = round_16(g, g_ptr.dtype.element_ty)
    offs = local.to(tl.int64)[:, None] * N + cols[None, :]
    tl.store(g_ptr + offs, g.to(g_ptr.dtype.element_ty), mask=row_ok[:, None] & col_ok[None, :])
# fmt: on
