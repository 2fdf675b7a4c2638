"""``torch.autograd.Function`` for the CLIP loss on the Triton kernels: launches them, keeps O(N) statistics.

Saved for backward: a, b (the inputs themselves), the scale, row and column log-sum-exp (N floats each).
Work: forward 2*N^2*D FLOPs; backward recomputes each tile (2*N^2*D) and forms both gradient products
(4*N^2*D): 8*N^2*D in all, the minimum without storing N x N. Extra memory beyond inputs and gradients:
one fp32 (N, D) buffer that collects grad_b by atomic adds, fp32 (BLOCK_M, D) accumulators for the
backward's persistent programs (2 per SM), and O(N) statistics.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .clip_kernels import clip_bwd_kernel, clip_fwd_kernel
from .launch import MAX_BLOCK_M, dot_precision, launch, max_programs, strides

# exp(-2u) must stay a normal fp64 number: 2 * 350 = 700 < 708 = -log(smallest normal fp64).
_MAX_BOUND = 350.0


def _row_lse(a, b, s, u, col_acc, N, D, col_stats):
    lse = torch.empty(N, device=a.device, dtype=torch.float32)
    diag = torch.empty(N, device=a.device, dtype=torch.float32)
    launch(
        clip_fwd_kernel,
        backward=False,
        reset=("col_acc_ptr",),
        N=N,
        D=D,
        args=(a, b, s, u, lse, diag, col_acc, N, D, *strides(a, b)),
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
        # Column reference u_j = s * ||b_j|| * max_i ||a_i|| >= max_i l_ij (Cauchy-Schwarz), O(N*D).
        a_norm = torch.linalg.vector_norm(a, dim=1, dtype=torch.float32)
        u = (s * torch.linalg.vector_norm(b, dim=1, dtype=torch.float32) * a_norm.max()).contiguous()
        col_acc = torch.zeros(N, device=a.device, dtype=torch.float64)
        one_pass = float(u.max()) <= _MAX_BOUND  # one host sync: decides between one pass and two
        r, diag = _row_lse(a, b, s, u, col_acc, N, D, col_stats=one_pass)
        if one_pass:
            c = (u.double() + torch.log(col_acc)).float()
        else:
            # |logits| may exceed 350: the fp64 column sums could underflow, so take columns as the rows of
            # b @ a.T in a second pass (2*N^2*D more FLOPs, still exact).
            c, _ = _row_lse(b, a, s, u, col_acc, N, D, col_stats=False)
        ld = s * diag  # l_ii
        loss = ((r - ld).double().mean() + (c - ld).double().mean()) / 2
        ctx.save_for_backward(a, b, s, r, c, diag)
        return loss.float()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        a, b, s, r, c, diag = ctx.saved_tensors
        N, D = a.shape
        programs = max_programs(N, a.device)
        acc = torch.empty(programs * MAX_BLOCK_M * D, device=a.device, dtype=torch.float32)  # per program
        ga = torch.empty_like(a, memory_format=torch.contiguous_format)
        gb = torch.zeros(N, D, device=a.device, dtype=torch.float32)
        gs = torch.zeros((), device=a.device, dtype=torch.float64)
        # dLoss/dl_ij = (g_ij - 2 delta_ij) / (2N), g summed by the kernel; k scales grad_a and grad_b.
        coef = grad_out.to(torch.float32) / (2 * N)
        k = (coef * s).reshape(())
        launch(
            clip_bwd_kernel,
            backward=True,
            reset=("gb_ptr", "gs_ptr"),
            N=N,
            D=D,
            programs=programs,
            args=(a, b, s, k, r, c, ga, acc, gb, gs, N, D, *strides(a, b)),
            PRECISION=dot_precision(a.dtype),
        )
        del acc
        grad_b = gb.add_(a, alpha=-2.0).mul_(k).to(b.dtype) if ctx.needs_input_grad[1] else None
        grad_s = (coef * (gs - 2.0 * diag.double().sum()).float()) if ctx.needs_input_grad[2] else None
        return ga if ctx.needs_input_grad[0] else None, grad_b, grad_s
