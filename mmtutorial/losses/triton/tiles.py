"""Triton building blocks shared by the CLIP and SigLIP kernels: one logits tile, one gradient update.

Both losses look at the same N x N matrix of dot products ``p_ij = a_i . b_j`` one tile at a time and never
store it. A tile is ``BLOCK_M`` rows of ``a`` against ``BLOCK_N`` rows of ``b``; the feature dimension ``D`` is
walked in ``BLOCK_D`` chunks, so any ``D`` works (masked at the ragged end) and a tile never needs all of ``D``
in registers. Loads take explicit strides, so non-contiguous inputs need no copy.

``UPCAST`` (compile-time) turns loaded 16-bit tiles into fp32: Triton's CPU interpreter has no bf16 arithmetic.
On a GPU it is off and ``tl.dot`` runs bf16/fp16 on tensor cores with fp32 accumulation.
"""

import triton
import triton.language as tl


@triton.jit
def load_rows(ptr, rows, row_ok, d0, D, stride_n, stride_d, BLOCK_D: tl.constexpr, UPCAST: tl.constexpr):
    """Load the (rows, d0:d0+BLOCK_D) chunk of an (N, D) matrix, zeros outside it."""
    dd = d0 + tl.arange(0, BLOCK_D)
    offs = rows.to(tl.int64)[:, None] * stride_n + dd[None, :].to(tl.int64) * stride_d
    x = tl.load(ptr + offs, mask=row_ok[:, None] & (dd[None, :] < D), other=0.0)
    if UPCAST:
        x = x.to(tl.float32)
    return x


# fmt: off
@triton.jit
def dot_tile(a_ptr, b_ptr, rows, cols, row_ok, col_ok, D, stride_an, stride_ad, stride_bn, stride_bd,
             BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
             UPCAST: tl.constexpr, PRECISION: tl.constexpr):
    """p[m, n] = a[rows[m]] . b[cols[n]] in fp32: a (BLOCK_M, BLOCK_N) tile of a @ b.T, 2*BM*BN*D FLOPs."""
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for d0 in range(0, D, BLOCK_D):
        at = load_rows(a_ptr, rows, row_ok, d0, D, stride_an, stride_ad, BLOCK_D, UPCAST)
        bt = load_rows(b_ptr, cols, col_ok, d0, D, stride_bn, stride_bd, BLOCK_D, UPCAST)
        acc = tl.dot(at, tl.trans(bt), acc, input_precision=PRECISION)
    return acc
# fmt: on


# fmt: off
@triton.jit
def add_grad_products(g, a_ptr, b_ptr, acc_ptr, gb_ptr, rows, cols, row_ok, col_ok, D,
                      stride_an, stride_ad, stride_bn, stride_bd,
                      BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr, UPCAST: tl.constexpr, PRECISION: tl.constexpr):
    """acc += g @ b[cols] and gb[cols] += g.T @ a[rows]: 4*BM*BN*D FLOPs.

    ``acc`` is the calling program's private fp32 (BLOCK_M, D) accumulator for grad_a of ``rows``, so a plain
    read-add-write; ``gb`` is one fp32 (N, D) buffer shared by all programs, so atomic adds.
    """
    if UPCAST:
        gc = g
    else:
        gc = g.to(a_ptr.dtype.element_ty)  # 16-bit tensor-core inputs on GPU, fp32 accumulation
    local = tl.arange(0, BLOCK_M)
    for d0 in range(0, D, BLOCK_D):
        dd = d0 + tl.arange(0, BLOCK_D)
        d_ok = dd[None, :] < D
        at = load_rows(a_ptr, rows, row_ok, d0, D, stride_an, stride_ad, BLOCK_D, UPCAST)
        bt = load_rows(b_ptr, cols, col_ok, d0, D, stride_bn, stride_bd, BLOCK_D, UPCAST)
        acc_offs = local[:, None] * D + dd[None, :]
        acc = tl.load(acc_ptr + acc_offs, mask=d_ok, other=0.0)
        tl.store(acc_ptr + acc_offs, tl.dot(gc, bt, acc, input_precision=PRECISION), mask=d_ok)
        gb = tl.dot(tl.trans(gc), at, input_precision=PRECISION)
        tl.atomic_add(gb_ptr + cols.to(tl.int64)[:, None] * D + dd[None, :], gb, mask=col_ok[:, None] & d_ok)


@triton.jit
def zero_rows(acc_ptr, D, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr):
    """acc[:, :] = 0 for a program's private (BLOCK_M, D) fp32 accumulator."""
    for d0 in range(0, D, BLOCK_D):
        dd = d0 + tl.arange(0, BLOCK_D)
        offs = tl.arange(0, BLOCK_M)[:, None] * D + dd[None, :]
        tl.store(acc_ptr + offs, tl.zeros((BLOCK_M, BLOCK_D), tl.float32), mask=dd[None, :] < D)
    tl.debug_barrier()


@triton.jit
def finish_rows(acc_ptr, b_ptr, out_ptr, rows, row_ok, D, k, diag_weight, stride_bn, stride_bd,
                BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr):
    """out[rows] = k * (acc - diag_weight * b[rows]) in out's dtype: the diagonal term and scale of grad_a."""
    tl.debug_barrier()
    for d0 in range(0, D, BLOCK_D):
        dd = d0 + tl.arange(0, BLOCK_D)
        d_ok = dd[None, :] < D
        acc = tl.load(acc_ptr + tl.arange(0, BLOCK_M)[:, None] * D + dd[None, :], mask=d_ok, other=0.0)
        bt = load_rows(b_ptr, rows, row_ok, d0, D, stride_bn, stride_bd, BLOCK_D, True)
        out = k * (acc - diag_weight * bt)
        offs = rows.to(tl.int64)[:, None] * D + dd[None, :]
        tl.store(out_ptr + offs, out.to(out_ptr.dtype.element_ty), mask=row_ok[:, None] & d_ok)
# fmt: on


@triton.jit
def diag_of_tile(p, rows, cols):
    """Per row, the tile's entry on the global diagonal (column == row), or 0 if the tile misses it."""
    return tl.sum(tl.where(rows[:, None] == cols[None, :], p, 0.0), axis=1)
