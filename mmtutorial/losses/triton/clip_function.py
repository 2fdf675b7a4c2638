"""``torch.autograd.Function`` for the CLIP loss on the Triton kernels: launches them, keeps O(N) statistics.

Saved for backward: a, b (the inputs themselves), the scale (also times log2(e)), row and column log-sum-exp in
base 2 (N floats each: the kernels take every exponential as one exp2).
Work: forward 2*N^2*D FLOPs; backward recomputes each tile (2*N^2*D) and forms both gradient products
(4*N^2*D): 8*N^2*D in all, the minimum without storing N x N. Backward, by D (launch.backward_path):
- fused (small D): one kernel; extra memory one fp32 (N, D) buffer for grad_b plus an fp32 (128, D) scratch
  per program (one program per SM);
- chunked (large D): a kernel writes g in 16-bit chunks of C rows, cuBLAS forms the products (grad_chunks.py);
  extra memory the fp32 (N, D) buffer, the (C, N) chunk and O(N).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .clip_kernels import clip_bwd_kernel, clip_fwd_kernel, clip_grad_logits_kernel
from .grad_chunks import products_by_chunks
from .launch import (
    backward_path,
    bucket,
    dot_precision,
    g_scale,
    grad_chunk_rows,
    launch,
    scratch_rows,
    strides,
)

LOG2E = 1.4426950408889634  # log2(e): the kernels work in base 2 (l2 = s * log2(e) * S = l / ln 2)
LN2 = 0.6931471805599453


def one_pass_limit(N: int) -> float:
    """Largest bound on |l2| (base-2 logits) for which the forward's fp64 column sums are exact in one pass.

    Each tile adds 2^f * (a sum in [1, 2 BLOCK_M)) with f = floor of a column's tile max, |f| <= bound: the
    product is a normal fp64 for f >= -1022, and a column's sum stays below 2N * 2^bound < 2^1024 when
    bound + 1 + log2(N) < 1023. Beyond it (|l| above ~690: unnormalised inputs or absurd scales) the columns
    take a second pass.
    """
    return float(min(1020, 1021 - N.bit_length()))


def _lse2(a, b, s2, gate, col_acc, N, D, col_stats, gated):
    lse2 = torch.empty(N, device=a.device, dtype=torch.float32)
    diag = torch.empty(N, device=a.device, dtype=torch.float32)
    launch(
        clip_fwd_kernel,
        kind="fwd",
        reset=("col_acc_ptr",),
        rows=N,
        D=D,
        args=(a, b, s2, gate, lse2, diag, col_acc, N, D, bucket(N), *strides(a, b)),
        COL_STATS=col_stats,
        GATED=gated,
        PRECISION=dot_precision(a.dtype),
    )
    return lse2, diag


class ClipLossFunction(torch.autograd.Function):
    """loss = (mean_i (r_i - l_ii) + mean_j (c_j - l_jj)) / 2 with l = s * a @ b.T, never materialised.

    No host synchronisation: the scale stays a device tensor and the one-pass/two-pass choice is a device flag.
    """

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
        N, D = a.shape
        s = logit_scale.detach().to(torch.float32).reshape(())
        s2 = s * LOG2E
        # |l2_ij| <= |s2| max_i |a_i| max_j |b_j| (Cauchy-Schwarz), O(N*D), on the device.
        norm_a = torch.linalg.vector_norm(a, dim=1, dtype=torch.float32).amax()
        norm_b = torch.linalg.vector_norm(b, dim=1, dtype=torch.float32).amax()
        two_pass = (s2.abs() * norm_a * norm_b > one_pass_limit(N)).to(torch.int32).reshape(1)
        col_acc = torch.zeros(N, device=a.device, dtype=torch.float64)
        r2, diag = _lse2(a, b, s2, two_pass, col_acc, N, D, col_stats=True, gated=False)
        # Beyond the one-pass range the fp64 column sums could leave fp64's range: the columns are then the rows
        # of b @ a.T, in a second pass (2*N^2*D more FLOPs, still exact). It is always launched and, when not
        # needed, its programs skip their loop on the device (gate 0): the host reads no value.
        c2_rows, _ = _lse2(b, a, s2, two_pass, col_acc, N, D, col_stats=False, gated=True)
        c2 = torch.where(two_pass.bool(), c2_rows, torch.log2(col_acc).float())
        ld2 = s2 * diag  # l_ii / ln 2, rounded as in the kernel, so r2 - ld2 cancels exactly where p_ii -> 1
        loss = LN2 * ((r2 - ld2).double().mean() + (c2 - ld2).double().mean()) / 2
        ctx.save_for_backward(a, b, s, s2, r2, c2)
        return loss.float()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        a, b, s, s2, r2, c2 = ctx.saved_tensors
        N, D = a.shape
        need_a, need_b, need_s = ctx.needs_input_grad
        # dLoss/dl_ij = g_ij / (2N), g with its -2 delta_ij; k scales grad_a and grad_b (and undoes G_SCALE).
        coef = grad_out.to(torch.float32) / (2 * N)
        gscale = g_scale(a.dtype)
        k = (coef * s / gscale).reshape(())
        meta = dict(PRECISION=dot_precision(a.dtype), G_SCALE=gscale)
        if backward_path(D) == "chunked":
            gs_rows = torch.zeros(N, device=a.device, dtype=torch.float32)

            def write_chunk(r0, rows, out):
                launch(
                    clip_grad_logits_kernel,
                    kind="grad",
                    reset=("gs_ptr",),
                    rows=rows,
                    cols=N,
                    D=D,
                    args=(a, b, s2, r2, c2, out, gs_rows, r0, rows, N, D, bucket(N), *strides(a, b)),
                    **meta,
                )

            rows = grad_chunk_rows(N, D, a.element_size())
            ga, gb = products_by_chunks(a, b, rows, write_chunk, k, need_a, need_b)
            gs = gs_rows.double().sum()
        else:
            rows = scratch_rows(N, a.device)
            acc = torch.empty(rows * D, device=a.device, dtype=torch.float32)  # (BLOCK_M, D) per program
            ga = torch.empty_like(a, memory_format=torch.contiguous_format)
            gb = torch.zeros(N, D, device=a.device, dtype=torch.float32)
            gs = torch.zeros((), device=a.device, dtype=torch.float64)
            launch(
                clip_bwd_kernel,
                kind="bwd",
                reset=("gb_ptr", "gs_ptr"),
                rows=N,
                D=D,
                scratch=rows,
                args=(a, b, s2, k, r2, c2, ga, acc, gb, gs, N, D, bucket(N), *strides(a, b)),
                **meta,
            )
            del acc
        grad_b = gb.mul_(k).to(b.dtype) if need_b else None
        grad_s = (coef * gs.float()).reshape(()) if need_s else None
        return ga if need_a else None, grad_b, grad_s
