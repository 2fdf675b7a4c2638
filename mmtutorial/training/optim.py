"""AdamW with weight decay on matrices only, and a linear warm-up + cosine learning-rate schedule.

Decay groups (as nanoGPT): every parameter with ``ndim >= 2`` (linear and conv weights, embeddings) decays;
biases, norm gains and scalars (a learnable temperature) do not, since shrinking them towards 0 is no prior.

Schedule, for optimizer step ``t`` (0-based) of ``T`` with ``W`` warm-up steps and floor ``r``::

    lr(t) = lr * (t + 1) / W                                        for t < W
    lr(t) = lr * (r + (1 - r) * (1 + cos(pi * (t - W) / (T - W))) / 2)   afterwards

Caller-made groups (layer-wise learning-rate decay, a slower backbone, ...) replace the two default groups
(:func:`check_param_groups`); each group's rate then follows the same schedule from its own base rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

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


def check_param_groups(model: nn.Module, groups: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Validate caller-made AdamW groups for ``model`` and return them as new dicts (``params`` as lists).

    Each group is a dict with ``"params"`` (a non-empty iterable of ``model``'s parameters) and any other
    optimizer options (``"lr"``, ``"weight_decay"``, ...; missing ones take the optimizer's defaults).
    Raises ValueError for a group without ``params``, an empty group, a parameter that is not ``model``'s,
    one listed twice, or a trainable parameter of ``model`` in no group (it would silently never train).
    Frozen parameters may be listed (gradual unfreezing switches them on later).
    """
    if isinstance(groups, Mapping) or not isinstance(groups, Sequence) or not groups:
        raise ValueError(f"param_groups must be a non-empty list of dicts, got {type(groups).__name__}")
    owned = {id(p): name for name, p in model.named_parameters()}
    seen: dict[int, int] = {}
    out = []
    for i, group in enumerate(groups):
        if not isinstance(group, Mapping) or "params" not in group:
            raise ValueError(f"param_groups[{i}] must be a dict with a 'params' key, got {group!r:.80}")
        params = group["params"]
        params = [params] if isinstance(params, torch.Tensor) else list(params)
        if not params:
            raise ValueError(f"param_groups[{i}]['params'] is empty")
        for p in params:
            if id(p) not in owned:
                raise ValueError(f"param_groups[{i}] holds a tensor that is not a parameter of the model")
            if id(p) in seen:
                raise ValueError(
                    f"parameter {owned[id(p)]!r} is in param_groups[{seen[id(p)]}] and param_groups[{i}]"
                )
            seen[id(p)] = i
        for key in ("lr", "weight_decay"):
            if key in group and not float(group[key]) >= 0:
                raise ValueError(f"param_groups[{i}]['{key}'] must be >= 0, got {group[key]}")
        out.append({**group, "params": params})
    missing = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in seen]
    if missing:
        raise ValueError(f"trainable parameters in no param group (they would never train): {missing[:5]}")
    return out


def build_optimizer(
    model: nn.Module,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.98),
    groups: Sequence[Mapping[str, Any]] | None = None,
) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`, or over caller-made ``groups`` (see :func:`check_param_groups`).

    ``lr`` and ``weight_decay`` are the defaults for a group that does not set its own.
    """
    chosen = param_groups(model, weight_decay) if groups is None else check_param_groups(model, groups)
    return torch.optim.AdamW(chosen, lr=lr, betas=betas, weight_decay=weight_decay)


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
    """``LambdaLR`` following :func:`lr_factor` (its state dict holds only counters, no function).

    Every group's learning rate is its own base rate times the same factor: ``lr_g(t) = lr_g · factor(t)``.
    """
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: lr_factor(t, total, warmup, min_ratio))
