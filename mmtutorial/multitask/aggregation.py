"""Gradient aggregation: per-task gradients ``G (T, P)`` on the shared parameters -> one update ``(P,)``.

* ``"sum"``: ``Σ_t g_t``, what backpropagating the summed loss gives (equal weighting).
* ``"pcgrad"`` (Yu et al. 2020, Algorithm 1): for each task i, start from ``g_i`` and, visiting the other
  tasks in a random order, whenever ``g_i^PC · g_j < 0`` remove the conflicting component,
  ``g_i^PC ← g_i^PC - (g_i^PC · g_j) / |g_j|² · g_j`` (``g_j`` the *original* gradient);
  return ``Σ_i g_i^PC``.
* ``"mgda"`` (Sener & Koltun 2018): the min-norm point ``d = Σ α_t g_t`` of the convex hull of the
  gradients (α on the simplex), returned unscaled: ``-d`` lowers every task's loss to first order unless
  ``d = 0``.
* ``"cagrad"`` (Liu et al. 2021, Algorithm 1): with ``g_0`` the *mean* gradient and ``c ≥ 0``, find
  ``w = argmin_{w ∈ simplex} g_w · g_0 + c |g_0| |g_w|`` (``g_w = Σ w_t g_t``) and return
  ``d = g_0 + c |g_0| / |g_w| · g_w``; ``c = 0`` gives the mean, large ``c`` approaches MGDA's direction.

The sum and PCGrad live on the scale of the *sum* of the gradients, MGDA and CAGrad on the scale of a
convex combination (their papers' conventions); with Adam the scale hardly matters, with SGD multiply by
T to compare.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import minimize

from mmtutorial._validate import check_choice, check_positive, check_tensor
from mmtutorial.multitask.min_norm import min_norm_two, min_norm_weights

METHODS = ("sum", "pcgrad", "mgda", "cagrad")


def pcgrad(grads: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """PCGrad: project each ``g_i`` off every original ``g_j`` it conflicts with (random order); sum.
    ``(P,)``."""
    T = grads.shape[0]
    out = torch.zeros_like(grads[0])
    sq_norms = (grads * grads).sum(dim=1)
    for i in range(T):
        g = grads[i].clone()
        for j in torch.randperm(T, generator=generator).tolist():
            if j == i or sq_norms[j] == 0:
                continue
            dot = g.dot(grads[j])
            if dot < 0:
                g = g - dot / sq_norms[j] * grads[j]
        out += g
    return out


def _gram(grads: torch.Tensor) -> torch.Tensor:
    """``(T, T)`` Gram matrix ``G Gᵀ`` in fp64, computed in ``grads``' dtype (no fp64 copy of ``G``)."""
    return (grads @ grads.T).to(torch.float64)


def mgda_weights(grads: torch.Tensor) -> torch.Tensor:
    """Simplex weights ``α (T,)`` of MGDA's min-norm point (closed form for T = 2, else Wolfe's algorithm)."""
    T = grads.shape[0]
    if T == 1:
        return torch.ones(1, dtype=grads.dtype, device=grads.device)
    K = _gram(grads)
    if T == 2:
        a = min_norm_two(K)
        return torch.stack([a, 1 - a]).to(grads.dtype)
    return min_norm_weights(K).to(grads.dtype)


def mgda(grads: torch.Tensor) -> torch.Tensor:
    """MGDA: the min-norm point ``Σ α_t g_t`` of the hull of the rows of ``grads`` (unscaled). ``(P,)``."""
    return mgda_weights(grads) @ grads


def cagrad_weights(grads: torch.Tensor, c: float = 0.5) -> torch.Tensor:
    """CAGrad's inner weights ``w (T,)`` on the simplex, solved on the Gram matrix with SLSQP (as the
    paper's code).

    Objective ``F(w) = wᵀ K 1/T + c |g_0| sqrt(wᵀ K w)`` with ``K = G Gᵀ`` and ``|g_0|² = 1ᵀ K 1 / T²``.
    """
    T = grads.shape[0]
    K = _gram(grads).cpu().numpy()
    scale = max(float(np.abs(K).max()), 1e-300)
    K = K / scale  # the minimiser does not depend on a common scale
    b = K.mean(axis=1)  # K g_0 in Gram coordinates: (g_t · g_0)_t
    sqrt_phi = c * np.sqrt(max(b.mean(), 0.0))

    def objective(w: np.ndarray) -> float:
        return float(w @ b + sqrt_phi * np.sqrt(max(w @ K @ w, 0.0) + 1e-16))

    w0 = np.full(T, 1.0 / T)
    res = minimize(
        objective,
        w0,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * T,
        constraints=({"type": "eq", "fun": lambda w: w.sum() - 1.0},),
        options={"ftol": 1e-12, "maxiter": 500},
    )
    w = np.clip(res.x, 0.0, None)
    return torch.from_numpy(w / w.sum()).to(dtype=grads.dtype, device=grads.device)


def cagrad(grads: torch.Tensor, c: float = 0.5) -> torch.Tensor:
    """CAGrad: ``g_0 + c |g_0| / |g_w| · g_w`` with ``g_0`` the mean gradient and ``w`` from
    :func:`cagrad_weights`."""
    check_positive("c", c, allow_zero=True)
    g0 = grads.mean(dim=0)
    if c == 0:
        return g0
    gw = cagrad_weights(grads, c) @ grads
    gw_norm = gw.norm()
    if gw_norm == 0:  # the hull contains 0: a Pareto-stationary point, CAGrad keeps the mean direction
        return g0
    return g0 + c * g0.norm() / gw_norm * gw


def aggregate(grads: torch.Tensor, method: str = "sum", **kw) -> torch.Tensor:
    """Combine per-task gradients ``grads (T, P)`` into one update direction ``(P,)``.

    Args:
        grads: one row per task, the flattened gradient of that task's loss on the shared parameters.
        method: ``"sum"``, ``"pcgrad"`` (keyword ``generator``: a ``torch.Generator`` for the random order),
            ``"mgda"``, or ``"cagrad"`` (keyword ``c``, default 0.5).
    Raises:
        ValueError: ``grads`` not a 2-D floating tensor with T ≥ 1 rows of finite values, an unknown method or
            keyword.
    """
    check_tensor("grads", grads, ndim=2, floating=True, finite=True)
    if grads.shape[0] < 1:
        raise ValueError(f"grads must have at least one task (row), got {tuple(grads.shape)}")
    check_choice("method", method, METHODS)
    allowed = {"sum": (), "pcgrad": ("generator",), "mgda": (), "cagrad": ("c",)}[method]
    unknown = sorted(set(kw) - set(allowed))
    if unknown:
        raise ValueError(f"method {method!r} takes keywords {list(allowed)}, got {unknown}")
    if method == "sum":
        return grads.sum(dim=0)
    if method == "pcgrad":
        return pcgrad(grads, kw.get("generator"))
    if method == "mgda":
        return mgda(grads)
    return cagrad(grads, kw.get("c", 0.5))
