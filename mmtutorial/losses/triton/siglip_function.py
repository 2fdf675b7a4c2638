"""``torch.autograd.Function`` for the SigLIP loss on the Triton kernels.

No normalising statistic: forward is one tiled reduction (2*N^2*D FLOPs) that also keeps the diagonal p_ii;
backward recomputes tiles and forms both gradient products (6*N^2*D). Saved: a, b, s, t and p_ii (N floats).
Backward memory as for CLIP: one fp32 (N, D) buffer for grad_b plus small per-program accumulators.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .launch import MAX_BLOCK_M, dot_precision, launch, max_programs, strides
from .siglip_kernels import siglip_bwd_kernel, siglip_fwd_kernel


class SiglipLossFunction(torch.autograd.Function):
    """loss = (sum_ij softplus(l_ij) - sum_i l_ii) / N with l = s * a @ b.T + t, never materialised."""

    @staticmethod
    def forward(ctx, a, b, logit_scale, logit_bias):
        N, D = a.shape
        s = logit_scale.detach().to(torch.float32).reshape(())
        t = logit_bias.detach().to(torch.float32).reshape(())
        diag = torch.empty(N, device=a.device, dtype=torch.float32)
        acc = torch.zeros((), device=a.device, dtype=torch.float64)
        launch(
            siglip_fwd_kernel,
            backward=False,
            reset=("loss_acc_ptr",),
            N=N,
            D=D,
            args=(a, b, s, t, diag, acc, N, D, *strides(a, b)),
            PRECISION=dot_precision(a.dtype),
        )
        loss = (acc - (s * diag + t).double().sum()) / N
        ctx.save_for_backward(a, b, s, t, diag)
        return loss.float()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        a, b, s, t, diag = ctx.saved_tensors
        N, D = a.shape
        programs = max_programs(N, a.device)
        acc = torch.empty(programs * MAX_BLOCK_M * D, device=a.device, dtype=torch.float32)  # per program
        ga = torch.empty_like(a, memory_format=torch.contiguous_format)
        gb = torch.zeros(N, D, device=a.device, dtype=torch.float32)
        gs = torch.zeros((), device=a.device, dtype=torch.float64)
        gt = torch.zeros((), device=a.device, dtype=torch.float64)
        # dLoss/dl_ij = (sigmoid(l_ij) - delta_ij) / N, the sigmoid summed by the kernel; k scales ga and gb.
        coef = grad_out.to(torch.float32) / N
        k = (coef * s).reshape(())
        launch(
            siglip_bwd_kernel,
            backward=True,
            reset=("gb_ptr", "gs_ptr", "gt_ptr"),
            N=N,
            D=D,
            programs=programs,
            args=(a, b, s, t, k, ga, acc, gb, gs, gt, N, D, *strides(a, b)),
            PRECISION=dot_precision(a.dtype),
        )
        del acc
        grad_b = gb.add_(a, alpha=-1.0).mul_(k).to(b.dtype) if ctx.needs_input_grad[1] else None
        grad_s = (coef * (gs - diag.double().sum()).float()) if ctx.needs_input_grad[2] else None
        grad_t = (coef * (gt - N).float()) if ctx.needs_input_grad[3] else None
        return ga if ctx.needs_input_grad[0] else None, grad_b, grad_s, grad_t
