"""Triton kernels of the SigLIP loss. One program per block of BLOCK_M rows; each walks every column block.

Notation: p_ij = a_i . b_j, l_ij = s * p_ij + t, z_ij = 2*delta_ij - 1.
Loss = sum_ij softplus(-z_ij l_ij) / N = (sum_ij softplus(l_ij) - sum_i l_ii) / N, since
softplus(-x) = softplus(x) - x: the kernels treat every pair as a negative and the host corrects the diagonal.
"""

import triton
import triton.language as tl

from .tiles import add_grad_products, diag_of_tile, dot_tile


@triton.jit
def softplus(x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), log1p accurate for tiny arguments (Goldberg's trick)."""
    y = tl.exp(-tl.abs(x))
    w = 1.0 + y
    log1p = tl.where(w == 1.0, y, tl.log(w) * (y / tl.where(w == 1.0, 1.0, w - 1.0)))
    return tl.maximum(x, 0.0) + log1p


@triton.jit
def siglip_fwd_kernel(
    a_ptr,
    b_ptr,
    s_ptr,
    t_ptr,
    diag_ptr,
    loss_acc_ptr,
    N,
    D,
    stride_an,
    stride_ad,
    stride_bn,
    stride_bd,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    """loss_acc += sum over this row block of softplus(l_ij) (fp64 atomic); diag <- p_ii."""
    pid = tl.program_id(0)
    rows = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < N
    s = tl.load(s_ptr)
    t = tl.load(t_ptr)
    acc = tl.zeros((BLOCK_M,), tl.float32)
    d_i = tl.zeros((BLOCK_M,), tl.float32)
    n_col_blocks = tl.cdiv(N, BLOCK_N)
    for j in range(0, n_col_blocks):
        cols = j * BLOCK_N + tl.arange(0, BLOCK_N)
        col_ok = cols < N
        p = dot_tile(
            a_ptr,
            b_ptr,
            rows,
            cols,
            row_ok,
            col_ok,
            D,
            stride_an,
            stride_ad,
            stride_bn,
            stride_bd,
            BLOCK_M,
            BLOCK_N,
            BLOCK_D,
            UPCAST,
            PRECISION,
        )
        d_i += diag_of_tile(p, rows, cols)
        sp = softplus(s * p + t)
        acc += tl.sum(tl.where(row_ok[:, None] & col_ok[None, :], sp, 0.0), axis=1)
    tl.store(diag_ptr + rows, d_i, mask=row_ok)
    tl.atomic_add(loss_acc_ptr, tl.sum(acc, axis=0).to(tl.float64))


@triton.jit
def siglip_bwd_kernel(
    a_ptr,
    b_ptr,
    s_ptr,
    t_ptr,
    ga_ptr,
    gb_ptr,
    gs_ptr,
    gt_ptr,
    N,
    D,
    stride_an,
    stride_ad,
    stride_bn,
    stride_bd,
    UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    """Recompute each tile; g_ij = sigmoid(l_ij) (= N * dLoss/dl_ij off the diagonal, host adds -delta_ij).

    ga += g @ b, gb += g.T @ a, gs += sum g_ij p_ij, gt += sum g_ij.
    """
    pid = tl.program_id(0)
    rows = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < N
    s = tl.load(s_ptr)
    t = tl.load(t_ptr)
    gs = tl.zeros((BLOCK_M,), tl.float32)
    gt = tl.zeros((BLOCK_M,), tl.float32)
    n_col_blocks = tl.cdiv(N, BLOCK_N)
    for jj in range(0, n_col_blocks):
        j = (pid + jj) % n_col_blocks  # staggered start spreads the atomic adds on gb
        cols = j * BLOCK_N + tl.arange(0, BLOCK_N)
        col_ok = cols < N
        p = dot_tile(
            a_ptr,
            b_ptr,
            rows,
            cols,
            row_ok,
            col_ok,
            D,
            stride_an,
            stride_ad,
            stride_bn,
            stride_bd,
            BLOCK_M,
            BLOCK_N,
            BLOCK_D,
            UPCAST,
            PRECISION,
        )
        g = tl.where(row_ok[:, None] & col_ok[None, :], tl.sigmoid(s * p + t), 0.0)
        gs += tl.sum(g * p, axis=1)
        gt += tl.sum(g, axis=1)
        add_grad_products(
            g,
            a_ptr,
            b_ptr,
            ga_ptr,
            gb_ptr,
            rows,
            cols,
            row_ok,
            col_ok,
            D,
            stride_an,
            stride_ad,
            stride_bn,
            stride_bd,
            BLOCK_D,
            UPCAST,
            PRECISION,
        )
    tl.atomic_add(gs_ptr, tl.sum(gs, axis=0).to(tl.float64))
    tl.atomic_add(gt_ptr, tl.sum(gt, axis=0).to(tl.float64))
