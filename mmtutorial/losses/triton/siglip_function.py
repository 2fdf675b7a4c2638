"""``torch.autograd.Function`` for the SigLIP loss on the Triton kernels.

No normalising statistic: forward is one tiled reduction (2*N^2*D FLOPs) that also keeps the diagonal S_ii;
backward recomputes tiles and forms both gradient products (6*N^2*D). Saved: a, b, s, t.
Backward memory and the choice between the fused and the chunked backward as for CLIP (clip_function.py).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

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
from .siglip_kernels import siglip_bwd_kernel, siglip_fwd_kernel, siglip_grad_logits_kernel


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
            kind="fwd",
            reset=("loss_acc_ptr",),
            rows=N,
            D=D,
            args=(a, b, s, t, diag, acc, N, D, bucket(N), *strides(a, b)),
            PRECISION=dot_precision(a.dtype),
        )
        loss = (acc - (s * diag + t).double().sum()) / N
        ctx.save_for_backward(a, b, s, t)
        return loss.float()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        a, b, s, t = ctx.saved_tensors
        N, D = a.shape
        need_a, need_b, need_s, need_t = ctx.needs_input_grad
        # dLoss/dl_ij = g_ij / N with g = sigmoid(l) - delta; k scales ga and gb (and undoes G_SCALE).
        coef = grad_out.to(torch.float32) / N
        gscale = g_scale(a.dtype)
        k = (coef * s / gscale).reshape(())
        meta = dict(PRECISION=dot_precision(a.dtype), G_SCALE=gscale)
        if backward_path(D) == "chunked":
            gs_rows = torch.zeros(N, device=a.device, dtype=torch.float32)
            gt_rows = torch.zeros(N, device=a.device, dtype=torch.float32)

            def write_chunk(r0, rows, out):
                launch(
                    siglip_grad_logits_kernel,
                    kind="grad",
                    reset=("gs_ptr", "gt_ptr"),
                    rows=rows,
                    cols=N,
                    D=D,
                    args=(a, b, s, t, out, gs_rows, gt_rows, r0, rows, N, D, bucket(N), *strides(a, b)),
                    **meta,
                )

            rows = grad_chunk_rows(N, D, a.element_size())
            ga, gb = products_by_chunks(a, b, rows, write_chunk, k, need_a, need_b)
            gs, gt = gs_rows.double().sum(), gt_rows.double().sum()
        else:
            rows = scratch_rows(N, a.device)
            acc = torch.empty(rows * D, device=a.device, dtype=torch.float32)  # (BLOCK_M, D) per program
            ga = torch.empty_like(a, memory_format=torch.contiguous_format)
            gb = torch.zeros(N, D, device=a.device, dtype=torch.float32)
            gs = torch.zeros((), device=a.device, dtype=torch.float64)
            gt = torch.zeros((), device=a.device, dtype=torch.float64)
            launch(
                siglip_bwd_kernel,
                kind="bwd",
                reset=("gb_ptr", "gs_ptr", "gt_ptr"),
                rows=N,
                D=D,
                scratch=rows,
                args=(a, b, s, t, k, ga, acc, gb, gs, gt, N, D, bucket(N), *strides(a, b)),
                **meta,
            )
            del acc
        grad_b = gb.mul_(k).to(b.dtype) if need_b else None
        grad_s = (coef * gs.float()).reshape(()) if need_s else None
        grad_t = (coef * gt.float()).reshape(()) if need_t else None
        return ga if need_a else None, grad_b, grad_s, grad_t
