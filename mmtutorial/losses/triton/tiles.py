"""Triton building blocks shared by the CLIP and SigLIP kernels: one logits tile, one gradient update.

Both losses look at the same N x N matrix of dot products ``S_ij = a_i . b_j`` one tile at a time and never
store it. A tile is ``BLOCK_M`` rows of ``a`` against ``BLOCK_N`` rows of ``b``; the feature dimension ``D`` is
walked in ``BLOCK_D`` chunks, so any ``D`` works (masked at the ragged end) and a tile never needs all of ``D``
in registers. Loads take explicit strides, so non-contiguous inputs need no copy.

``UPCAST`` (compile-time) turns loaded 16-bit tiles into fp32: Triton's CPU interpreter has no bf16 arithmetic.
On a GPU it is off and ``tl.dot`` runs bf16/fp16 on tensor cores with fp32 accumulation. Wherever the GPU
rounds a value to 16 bits (the gradient weights ``g`` before their products, the stored gradients),
:func:`round_16` rounds the fp32 value the same way under ``UPCAST``, so the CPU tests see the GPU's rounding.
"""

import triton
import triton.language as tl


@triton.jit
def round_16(x, DTYPE: tl.constexpr):
    """x (fp32) rounded to nearest-even in DTYPE and kept in fp32: what a GPU cast ``x.to(DTYPE)`` keeps.

    bf16 keeps the top 16 bits of an fp32: add half of the dropped part (0x7FFF, +1 when the kept part is odd,
    for ties to even) and clear the low 16 bits. The interpreter's own bf16 cast truncates, hence the bits.
    """
    if DTYPE == tl.bfloat16:
        u = x.to(tl.uint32, bitcast=True)
        u = u + 0x7FFF + ((u >> 16) & 1)
        x = ((u >> 16) << 16).to(tl.float32, bitcast=True)
    elif DTYPE == tl.float16:
        x = x.to(tl.float16).to(tl.float32)  # numpy's float16 rounds to nearest-even, subnormals included
    return x


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
    """S[m, n] = a[rows[m]] . b[cols[n]] in fp32: a (BLOCK_M, BLOCK_N) tile of a @ b.T, 2*BM*BN*D FLOPs."""
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for d0 in range(0, D, BLOCK_D):
        at = load_rows(a_ptr, rows, row_ok, d0, D, stride_an, stride_ad, BLOCK_D, UPCAST)
        bt = load_rows(b_ptr, cols, col_ok, d0, D, stride_bn, stride_bd, BLOCK_D, UPCAST)
        acc = tl.dot(at, tl.trans(bt), acc, input_precision=PRECISION)
    return acc
# fmt: on


@triton.jit
def meets_diagonal(row0, col0, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """True when the tile with first row ``row0`` and first column ``col0`` holds some (i, i) entry."""
    return (col0 < row0 + BLOCK_M) & (row0 < col0 + BLOCK_N)


@triton.jit
def as_16bit_weights(g, DTYPE: tl.constexpr, UPCAST: tl.constexpr):
    """The gradient weights as the tensor cores see them: g in DTYPE on a GPU, g rounded to DTYPE under UPCAST.

    g must already hold its diagonal term (-2 for CLIP, -1 for SigLIP): subtracted after this rounding it is lost
    where p_ii -> 1 (g_ii ~ 2 in bf16 has a spacing of 2^-6, larger than 2 - g_ii).
    """
    if UPCAST:
        gc = round_16(g, DTYPE)
    else:
        gc = g.to(DTYPE)
    return gc


# fmt: off
@triton.jit
def add_grad_products(gc, a_ptr, b_ptr, acc_ptr, gb_ptr, rows, cols, row_ok, col_ok, D,
                      stride_an, stride_ad, stride_bn, stride_bd,
                      BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr, UPCAST: tl.constexpr, PRECISION: tl.constexpr):
    """acc += gc @ b[cols] and gb[cols] += gc.T @ a[rows]: 4*BM*BN*D FLOPs (gc: from :func:`as_16bit_weights`).

    ``acc`` is the calling program's private fp32 (BLOCK_M, D) accumulator for grad_a of ``rows``, so a plain
    read-add-write; ``gb`` is one fp32 (N, D) buffer shared by all programs, so atomic adds. Relaxed ordering:
    the adds commute and nothing reads gb before the kernel ends (the default acq_rel adds a fence per atomic).
    """
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
        tl.atomic_add(gb_ptr + cols.to(tl.int64)[:, None] * D + dd[None, :], gb, mask=col_ok[:, None] & d_ok,
                      sem="relaxed")


@triton.jit
def zero_rows(acc_ptr, D, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr):
    """acc[:, :] = 0 for a program's private (BLOCK_M, D) fp32 accumulator.

    Barriers on both sides: the previous row block's finish_rows reads acc in another thread layout, and the
    dot updates that follow read it in a third one.
    """
    tl.debug_barrier()
    for d0 in range(0, D, BLOCK_D):
        dd = d0 + tl.arange(0, BLOCK_D)
        offs = tl.arange(0, BLOCK_M)[:, None] * D + dd[None, :]
        tl.store(acc_ptr + offs, tl.zeros((BLOCK_M, BLOCK_D), tl.float32), mask=dd[None, :] < D)
    tl.debug_barrier()


@triton.jit
def finish_rows(acc_ptr, out_ptr, rows, row_ok, D, k, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr,
                UPCAST: tl.constexpr):
    """out[rows] = k * acc in out's dtype (the diagonal term is already in acc: see as_16bit_weights)."""
    tl.debug_barrier()
    for d0 in range(0, D, BLOCK_D):
        dd = d0 + tl.arange(0, BLOCK_D)
        d_ok = dd[None, :] < D
        acc = tl.load(acc_ptr + tl.arange(0, BLOCK_M)[:, None] * D + dd[None, :], mask=d_ok, other=0.0)
        out = k * acc
        if UPCAST:
            out = round_16(out, out_ptr.dtype.element_ty)
        offs = rows.to(tl.int64)[:, None] * D + dd[None, :]
        tl.store(out_ptr + offs, out.to(out_ptr.dtype.element_ty), mask=row_ok[:, None] & d_ok)
# fmt: on


@triton.jit
def diag_of_tile(p, rows, cols):
    """Per row, the tile's entry on the global diagonal (column == row), or 0 if the tile misses it."""
    return tl.sum(tl.where(rows[:, None] == cols[None, :], p, 0.0), axis=1)
