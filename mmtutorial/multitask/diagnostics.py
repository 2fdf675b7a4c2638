"""Diagnostics of gradient conflict between tasks, all computed from per-task gradients ``G (T, P)``.

* cosine matrix ``C_ij = g_i · g_j / (|g_i| |g_j|)``: ``C_ij < 0`` means a step that helps task i hurts
task j;
* conflict fraction: the share of task pairs ``i < j`` with ``g_i · g_j < 0``;
* norm ratios ``|g_t| / mean_s |g_s|``: a task with a ratio far above 1 dominates the summed update.
"""

from __future__ import annotations

import torch

from mmtutorial._validate import check_tensor


def _check(grads: torch.Tensor) -> torch.Tensor:
    check_tensor("grads", grads, ndim=2, floating=True, finite=True)
    if grads.shape[0] < 1:
        raise ValueError(f"grads must have at least one task (row), got {tuple(grads.shape)}")
    return grads


def _gram(grads: torch.Tensor) -> torch.Tensor:
    return (_check(grads) @ grads.T).to(torch.float64)  # (T, T), no fp64 copy of the (T, P) gradients


def cosine_matrix(grads: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """``(T, T)`` cosine similarities between the rows of ``grads (T, P)``; a zero row has cosine 0."""
    K = _gram(grads)
    norms = K.diagonal().clamp_min(0).sqrt().clamp_min(eps)
    return (K / norms[:, None] / norms[None, :]).clamp(-1.0, 1.0).to(grads.dtype)


def conflict_fraction(grads: torch.Tensor) -> float:
    """Fraction of task pairs ``i < j`` whose gradients conflict (negative dot product); 0.0 for one task."""
    K = _gram(grads)
    T = K.shape[0]
    if T < 2:
        return 0.0
    i, j = torch.triu_indices(T, T, offset=1)
    return float((K[i, j] < 0).double().mean())


def norm_ratios(grads: torch.Tensor) -> torch.Tensor:
    """``(T,)`` gradient norms divided by their mean (all ones when the tasks pull equally hard)."""
    norms = _gram(grads).diagonal().clamp_min(0).sqrt()
    mean = norms.mean()
    if mean == 0:
        return torch.ones_like(norms).to(grads.dtype)
    return (norms / mean).to(grads.dtype)
