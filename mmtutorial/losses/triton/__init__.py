"""Fused Triton kernels for the CLIP and SigLIP losses: ``impl="triton"`` of :mod:`mmtutorial.losses`.

Layout (as Liger-Kernel lays out its ops): ``tiles.py`` / ``clip_kernels.py`` / ``siglip_kernels.py`` hold the
``@triton.jit`` code only; ``clip_function.py`` / ``siglip_function.py`` the autograd Functions that launch it;
``grad_chunks.py`` the cuBLAS half of the chunked backward (large D); this file the entry points. Neither loss
ever holds the N x N logits: memory is O(N*D) (plus a (C, N) chunk of 16-bit gradient weights in the chunked
backward), work 8*N^2*D FLOPs.

Runs on CUDA tensors, or on CPU tensors under Triton's interpreter (``TRITON_INTERPRET=1`` set in the
environment before this package is imported); otherwise on CPU it raises ``RuntimeError``.
"""

from __future__ import annotations

import torch

from .clip_function import ClipLossFunction
from .clip_kernels import clip_fwd_kernel
from .launch import check_device, check_dtype, interpreting
from .siglip_function import SiglipLossFunction

__all__ = ["clip_loss_triton", "siglip_loss_triton", "interpreter_active"]


def interpreter_active() -> bool:
    """True when the kernels were built by Triton's CPU interpreter (they then accept CPU tensors)."""
    return interpreting(clip_fwd_kernel)


def _same_device(a: torch.Tensor, **scalars: torch.Tensor) -> None:
    """The kernels read the scalars through pointers on the inputs' device: refuse any other device."""
    for name, x in scalars.items():
        if x.device != a.device:
            raise ValueError(f"{name} must be on the inputs' device {a.device}, got {x.device}")


def clip_loss_triton(a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric InfoNCE, ``(CE(s a b^T, diag) + CE(s b a^T, diag)) / 2``, fused.

    Args:
        a, b: ``(N, D)`` embeddings (L2-normalised by the caller), same dtype (fp32/bf16/fp16) and device;
            any strides.
        logit_scale: 0-dim fp32 tensor ``s`` (the multiplier itself), may require grad.

    Returns:
        0-dim fp32 loss. Inputs are assumed validated by :func:`mmtutorial.losses.clip_loss`.

    Raises:
        RuntimeError: CPU tensors without the interpreter, or a dtype other than fp32/bf16/fp16.
        ValueError: ``logit_scale`` on another device than the inputs, or ``<= 0`` for a CPU scale (checked for
            free). A CUDA scale is not read: reading it would make the host wait for the GPU. The kernels bound
            |logits| with |s|, so any sign computes that loss exactly; :func:`mmtutorial.losses.clip_loss`
            checks the value where asked.
    """
    check_device(a, clip_fwd_kernel)
    check_dtype(a)
    _same_device(a, logit_scale=logit_scale)
    if logit_scale.device.type == "cpu" and not float(logit_scale.detach()) > 0:
        raise ValueError(f"logit_scale must be positive, got {float(logit_scale.detach())}")
    return ClipLossFunction.apply(a, b, logit_scale)


def siglip_loss_triton(
    a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor, logit_bias: torch.Tensor
) -> torch.Tensor:
    """SigLIP's sigmoid loss, ``-sum_ij log sigmoid(z_ij (s a_i.b_j + t)) / N`` with ``z = 2I - 1``, fused.

    Args:
        a, b: ``(N, D)`` embeddings, same dtype (fp32/bf16/fp16) and device; any strides.
        logit_scale, logit_bias: 0-dim fp32 tensors ``s`` and ``t``, may require grad.

    Returns:
        0-dim fp32 loss.

    Raises:
        RuntimeError, as :func:`clip_loss_triton`; ValueError: a scalar on another device than the inputs.
    """
    check_device(a, clip_fwd_kernel)
    check_dtype(a)
    _same_device(a, logit_scale=logit_scale, logit_bias=logit_bias)
    return SiglipLossFunction.apply(a, b, logit_scale, logit_bias)
