"""The min-norm point of the convex hull of a few vectors (the heart of MGDA).

Given task gradients ``g_1 .. g_T`` (rows of ``G``), MGDA (Sener & Koltun 2018) solves

    min_α |Σ_t α_t g_t|²   subject to  α_t ≥ 0,  Σ_t α_t = 1.

The solution ``d = Σ α_t g_t`` is unique (α need not be) and is characterised by ``g_t · d ≥ |d|²`` for
every t:
no task gradient points "behind" d, so a small step along -d lowers every loss unless d = 0 (Pareto
stationarity). Two tasks have a closed form; for more we run Wolfe's (1976) min-norm-point algorithm on the
Gram matrix ``K = G Gᵀ``: an active-set method that ends after finitely many steps at the exact point, up to
floating-point error (Frank-Wolfe, used by the paper and torchjd, only approaches it at rate 1/k).
"""

from __future__ import annotations

import torch


def min_norm_two(gram: torch.Tensor) -> torch.Tensor:
    """Weight ``a`` of ``g1`` in the min-norm point ``a g1 + (1 - a) g2``, from the ``(2, 2)`` Gram matrix.

    ``a = clamp((g2 - g1) · g2 / |g1 - g2|², 0, 1) = clamp((K22 - K12) / (K11 - 2 K12 + K22), 0, 1)``; if
    ``g1 == g2`` every ``a`` gives the same point: 0.5. Returns a 0-dim tensor of ``gram``'s dtype.
    """
    denom = gram[0, 0] - 2 * gram[0, 1] + gram[1, 1]
    if denom <= 0:
        return torch.tensor(0.5, dtype=gram.dtype, device=gram.device)
    return ((gram[1, 1] - gram[0, 1]) / denom).clamp(0.0, 1.0)


def _affine_min(K: torch.Tensor) -> torch.Tensor:
    """α minimising αᵀKα with Σα = 1 (no sign constraint): the KKT system [[K, 1], [1ᵀ, 0]] by least
    squares."""
    n = K.shape[0]
    A = torch.zeros(n + 1, n + 1, dtype=K.dtype)
    A[:n, :n] = K
    A[:n, n] = 1.0
    A[n, :n] = 1.0
    b = torch.zeros(n + 1, 1, dtype=K.dtype)
    b[n] = 1.0
    sol = torch.linalg.lstsq(A, b, driver="gelsd").solution[:n, 0]
    return sol / sol.sum()


def min_norm_weights(gram: torch.Tensor, tol: float = 1e-12, max_iter: int = 1000) -> torch.Tensor:
    """Simplex weights ``α (T,)`` of the min-norm point of the hull of vectors with Gram matrix ``gram (T,
    T)``.

    Wolfe's algorithm in fp64: keep a "corral" S of active vectors; add the vector most opposed to the current
    point; move to the affine min-norm point of S, stepping back to the boundary of the simplex (and dropping
    vectors whose weight reaches 0) whenever that point has a negative weight.
    """
    K = gram.detach().to(torch.float64).cpu()
    T = K.shape[0]
    scale = float(K.diagonal().max())
    if scale <= 0:  # every vector is zero
        return torch.full((T,), 1.0 / T, dtype=gram.dtype, device=gram.device)
    K = K / scale
    active = [int(K.diagonal().argmin())]
    lam = torch.ones(1, dtype=torch.float64)
    for _ in range(max_iter):
        Ks = K[active][:, active]
        x_sq = lam @ Ks @ lam  # |x|², x the current point
        dots = K[:, active] @ lam  # g_t · x for every t
        j = int(dots.argmin())
        if j in active or x_sq - dots[j] <= tol:  # g_t · x ≥ |x|² for all t: optimal
            break
        active.append(j)
        lam = torch.cat([lam, lam.new_zeros(1)])
        while True:  # minor cycle
            mu = _affine_min(K[active][:, active])
            if bool((mu > tol).all()):
                lam = mu
                break
            neg = mu <= tol
            ratios = lam[neg] / (lam[neg] - mu[neg])
            theta = float(ratios.clamp(0.0, 1.0).min())
            lam = lam + theta * (mu - lam)
            keep = lam > tol
            keep[int(torch.nonzero(neg)[torch.argmin(ratios)])] = False  # the vector that hit zero leaves
            if not bool(keep.any()):
                keep[int(lam.argmax())] = True
            active = [a for a, k in zip(active, keep.tolist(), strict=True) if k]
            lam = lam[keep]
            lam = lam / lam.sum()
    alpha = torch.zeros(T, dtype=torch.float64)
    alpha[active] = lam
    return alpha.to(dtype=gram.dtype, device=gram.device)
