"""Triton kernels of the SigLIP loss. Programs own blocks of BLOCK_M rows; each walks every column block.

Notation: p_ij = a_i . b_j, l_ij = s * p_ij + t, z_ij = 2*delta_ij - 1.
Loss = sum_ij softplus(-z_ij l_ij) / N = (sum_ij softplus(l_ij) - sum_i l_ii) / N, since
softplus(-x) = softplus(x) - x: the kernels treat every pair as a negative and the diagonal is corrected apart.
"""

import triton
import triton.language as tl

from .tiles import add_grad_products, diag_of_tile, dot_tile, finish_rows, zero_rows


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
def siglip_fwd_kernel(a_ptr, b_ptr, s_ptr, t_ptr, diag_ptr, loss_acc_ptr, N, D,
                      stride_an, stride_ad, stride_bn, stride_bd,
                      UPCAST: tl.constexpr, PRECISION: tl.constexpr,
                      BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    """loss_acc += sum over this row block of softplus(l_ij) (one fp64 atomic per program); diag <- p_ii."""
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
        if (j * BLOCK_N < (pid + 1) * BLOCK_M) & (pid * BLOCK_M < (j + 1) * BLOCK_N):  # tile meets the diagonal
            d_i += diag_of_tile(p, rows, cols)
        acc += tl.sum(tl.where(row_ok[:, None] & col_ok[None, :], softplus(s * p + t), 0.0), axis=1)
    tl.store(diag_ptr + rows, d_i, mask=row_ok)
    tl.atomic_add(loss_acc_ptr, tl.sum(acc, axis=0).to(tl.float64))


@triton.jit
def siglip_bwd_kernel(a_ptr, b_ptr, s_ptr, t_ptr, k_ptr, ga_ptr, acc_ptr, gb_ptr, gs_ptr, gt_ptr, N, D,
                      stride_an, stride_ad, stride_bn, stride_bd,
                      UPCAST: tl.constexpr, PRECISION: tl.constexpr,
                      BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    """Recompute each tile (persistent over row blocks, as clip_bwd_kernel).

    g_ij = sigmoid(l_ij) = N * dLoss/dl_ij off the diagonal; acc += g @ b, gb += g.T @ a,
    gs += sum g_ij p_ij, gt += sum g_ij; then ga[rows] = k * (acc - b[rows]), k = upstream * s / N.
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
        for jj in range(0, n_col_blocks):
            j = (rb + jj) % n_col_blocks  # staggered start spreads the atomic adds on gb
            cols = j * BLOCK_N + tl.arange(0, BLOCK_N)
            col_ok = cols < N
            p = dot_tile(a_ptr, b_ptr, rows, cols, row_ok, col_ok, D, stride_an, stride_ad, stride_bn, stride_bd,
                         BLOCK_M, BLOCK_N, BLOCK_D, UPCAST, PRECISION)
            g = tl.where(row_ok[:, None] & col_ok[None, :], sigmoid(s * p + t), 0.0)
            gs += tl.sum(g * p, axis=1)
            gt += tl.sum(g, axis=1)
            add_grad_products(g, a_ptr, b_ptr, acc_ptr, gb_ptr, rows, cols, row_ok, col_ok, D,
                              stride_an, stride_ad, stride_bn, stride_bd, BLOCK_M, BLOCK_D, UPCAST, PRECISION)
        finish_rows(acc_ptr, b_ptr, ga_ptr, rows, row_ok, D, k, 1.0, stride_bn, stride_bd, BLOCK_M, BLOCK_D)
    tl.atomic_add(gs_ptr, tl.sum(gs, axis=0).to(tl.float64))
    tl.atomic_add(gt_ptr, tl.sum(gt, axis=0).to(tl.float64))
# fmt: on
