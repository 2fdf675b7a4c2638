"""``torch.autograd.Function`` for the CLIP loss on the Triton kernels: launches them, keeps O(N) statistics.

Saved for backward: a, b (the inputs themselves), the scale, row and column log-sum-exp (N floats each).
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

# exp(-2u) must stay a normal fp64 number: 2 * 350 = 700 < 708 = -log(smallest normal fp64).
_MAX_BOUND = 350.0


def _row_lse(a, b, s, u, col_acc, N, D, col_stats):
    lse = torch.empty(N, device=a.device, dtype=torch.float32)
    diag = torch.empty(N, device=a.device, dtype=torch.float32)
    launch(
        clip_fwd_kernel,
        kind="fwd",
        reset=("col_acc_ptr",),
        rows=N,
        D=D,
        args=(a, b, s, u, lse, diag, col_acc, N, D, bucket(N), *strides(a, b)),
        COL_STATS=col_stats,
        PRECISION=dot_precision(a.dtype),
    )
    return lse, diag


class ClipLossFunction(torch.autograd.Function):
    """loss = (mean_i (r_i - l_ii) + mean_j (c_j - l_jj)) / 2 with l = s * a @ b.T, never materialised."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
        N, D = a.shape
        s = logit_scale.detach().to(torch.float32).reshape(())
        # Column reference u_j = s * ||b_j|| * max_i ||a_i|| >= max_i l_ij (Cauchy-Schwarz, needs s > 0), O(N*D).
        a_norm = torch.linalg.vector_norm(a, dim=1, dtype=torch.float32)
        u = (s * torch.linalg.vector_norm(b, dim=1, dtype=torch.float32) * a_norm.max()).contiguous()
        s_value, u_max = torch.stack([s, u.max()]).tolist()  # one host sync for both decisions
        if not s_value > 0:
            raise ValueError(
                f"logit_scale must be positive (the kernel's column bound u_j = s |b_j| max|a_i| needs it), "
                f"got {s_value}"
            )
        one_pass = u_max <= _MAX_BOUND
        col_acc = torch.zeros(N, device=a.device, dtype=torch.float64)
        r, diag = _row_lse(a, b, s, u, col_acc, N, D, col_stats=one_pass)
        if one_pass:
            c = (u.double() + torch.log(col_acc)).float()
        else:
            # |logits| may exceed 350: the fp64 column sums could underflow, so take columns as the rows of
            # b @ a.T in a second pass (2*N^2*D more FLOPs, still exact).
            c, _ = _row_lse(b, a, s, u, col_acc, N, D, col_stats=False)
        ld = s * diag  # l_ii
        loss = ((r - ld).double().mean() + (c - ld).double().mean()) / 2
        ctx.save_for_backward(a, b, s, r, c)
        return loss.float()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        a, b, s, r, c = ctx.saved_tensors
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
                    args=(a, b, s, r, c, out, gs_rows, r0, rows, N, D, bucket(N), *strides(a, b)),
                    **meta,
                )

            rows = grad_chunk_rows(N, a.element_size())
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
                args=(a, b, s, k, r, c, ga, acc, gb, gs, N, D, bucket(N), *strides(a, b)),
                **meta,
            )
            del acc
        grad_b = gb.mul_(k).to(b.dtype) if need_b else None
        grad_s = (coef * gs.float()).reshape(()) if need_s else None
        return ga if need_a else None, grad_b, grad_s
