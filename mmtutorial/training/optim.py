"""AdamW with weight decay on matrices only, and a linear warm-up + cosine learning-rate schedule.

Decay groups (as nanoGPT): every parameter with ``ndim >= 2`` (linear and conv weights, embeddings) decays;
biases, norm gains and scalars (a learnable temperature) do not, since shrinking them towards 0 is no prior.

Schedule, for optimizer step ``t`` (0-based) of ``T`` with ``W`` warm-up steps and floor ``r``::

    lr(t) = lr * (t + 1) / W                                        for t < W
    lr(t) = lr * (r + (1 - r) * (1 + cos(pi * (t - W) / (T - W))) / 2)   afterwards
"""

from __future__ import annotations

import math

import torch
from torch import nn


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups of ``model``'s trainable parameters: ``ndim >= 2`` decay, the rest do not."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    if not decay and not no_decay:
        raise ValueError("model has no trainable parameters (every requires_grad is False)")
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(
    model: nn.Module, lr: float, weight_decay: float, betas: tuple[float, float] = (0.9, 0.98)
) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`."""
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=betas)


def lr_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (module docstring)."""
    if step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, total: int, warmup: int, min_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """``LambdaLR`` following :func:`lr_factor` (its state dict holds only counters, no function)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: lr_factor(t, total, warmup, min_ratio))
