"""Contrastive losses that never hold the ``N x N`` logits: ``O(N * chunk)`` extra memory.

The trick (FlashAttention's, applied to a loss): walk over blocks of ``chunk`` rows of the logits
``L = s * a @ b.T`` (a ``(chunk, N)`` block at a time) and keep only ``O(N)`` statistics:

- row direction: each block holds whole rows, so ``logsumexp_j L_ij`` is computed directly;
- column direction: an *online* log-sum-exp keeps, per column j, a running max ``m_j`` and a running sum
  ``l_j = sum_i exp(L_ij - m_j)``; a new block updates ``m' = max(m, max_i L_ij)``,
  ``l' = l * exp(m - m') + sum_i exp(L_ij - m')``; at the end ``lse_j = m_j + log l_j``.

A ``torch.autograd.Function`` saves only the inputs and these ``O(N)`` statistics; backward recomputes
each block and turns it straight into gradients (``dloss/dL`` is a softmax minus the identity, see
``ClipLossChunked.backward``), so no block outlives its iteration. Chunking under plain autograd would
not help: autograd would keep every block for backward and the memory would be ``O(N^2)`` again.

Accumulation is fp32 for fp32/bf16/fp16 inputs (fp64 for fp64); the loss is a 0-dim tensor of that dtype.
Inputs are assumed checked by :mod:`mmtutorial.losses.dispatch`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

BLOCK_ELEMENTS = 1 << 22  # default block size: chunk * N <= 4M elements (16 MiB in fp32)


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def check_chunk(chunk: object) -> None:
    """``chunk`` must be ``None`` (the default size) or an int >= 1; raise ``ValueError`` naming it."""
    if chunk is not None and (not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1):
        raise ValueError(f"chunk must be a positive int (rows per block) or None, got {chunk!r}")


def default_chunk(n_rows: int, n_cols: int) -> int:
    """Rows per block so that one ``(chunk, n_cols)`` block holds about ``BLOCK_ELEMENTS`` values."""
    return max(1, min(n_rows, BLOCK_ELEMENTS // max(n_cols, 1)))


def _blocks(n: int, chunk: int):
    for i0 in range(0, n, chunk):
        yield i0, min(i0 + chunk, n)


class ClipLossChunked(torch.autograd.Function):
    """Symmetric InfoNCE, ``loss = 1/(2N) sum_i (row_lse_i + col_lse_i - 2 L_ii)``, streamed by row blocks."""

    @staticmethod
    def forward(ctx, a, b, scale, chunk: int):
        cd = _compute_dtype(a)
        A, B, s = a.to(cd), b.to(cd), scale.to(cd)
        n = A.shape[0]
        row_m = torch.empty(n, dtype=cd, device=A.device)  # row max and sum of exp(L - row max)
        row_l = torch.empty(n, dtype=cd, device=A.device)
        col_m = torch.full((n,), float("-inf"), dtype=cd, device=A.device)  # running column max
        col_l = torch.zeros(n, dtype=cd, device=A.device)  # running sum of exp(L - col_m)
        diag = torch.empty(n, dtype=cd, device=A.device)  # L_ii
        for i0, i1 in _blocks(n, chunk):
            L = (A[i0:i1] @ B.T).mul_(s)  # (chunk, N) block of logits
            diag[i0:i1] = L[:, i0:i1].diagonal()  # read from the block so it rounds like the rest
            row_m[i0:i1] = L.amax(dim=1)
            m = torch.maximum(col_m, L.amax(dim=0))
            col_l = col_l * torch.exp(col_m - m) + torch.exp(L - m).sum(dim=0)
            col_m = m
            row_l[i0:i1] = torch.exp(L.sub_(row_m[i0:i1, None])).sum(dim=1)
        # lse = m + log(l); keeping (m, l) apart lets backward form exp(L - m) / l, which is more exact
        # in fp32 than exp(L - lse) when |L| is large (lse carries an absolute rounding error ~ulp(s))
        # Sum per sample of terms that are each >= 0 in floating point: m >= L_ii (a max over values that
        # include L_ii) and l >= 1 (the max contributes exp(0) = 1), so the loss is never negative, as a
        # cross-entropy must not be (a difference of large sums could round below zero).
        per_row = (row_m - diag) + (col_m - diag) + torch.log(row_l) + torch.log(col_l)
        loss = per_row.sum() / (2 * n)
        ctx.save_for_backward(a, b, scale, row_m, row_l, col_m, col_l)
        ctx.chunk = chunk
        return loss

    @staticmethod
    def backward(ctx, grad_out):
        # dloss/dL_ij = g/(2N) * (softmax_row_ij + softmax_col_ij - 2 delta_ij);  L = s * S, S = A @ B.T
        # => dA = s * G @ B,  dB = s * G.T @ A,  ds = sum_ij G_ij S_ij
        a, b, scale, row_m, row_l, col_m, col_l = ctx.saved_tensors
        cd = row_m.dtype
        row_r, col_r = 1 / row_l, 1 / col_l
        A, B, s = a.to(cd), b.to(cd), scale.to(cd)
        n = A.shape[0]
        coef = grad_out.to(cd) / (2 * n)
        gA = torch.empty_like(A)
        gB = torch.zeros_like(A)
        gs = torch.zeros((), dtype=cd, device=A.device)
        for i0, i1 in _blocks(n, ctx.chunk):
            L = (A[i0:i1] @ B.T).mul_(s)
            P = torch.exp(L - row_m[i0:i1, None]).mul_(row_r[i0:i1, None])  # softmax over the row
            P += torch.exp(L - col_m[None, :]).mul_(col_r[None, :])  # softmax over the column
            P.mul_(coef)
            P[:, i0:i1].diagonal().sub_(2 * coef)  # the identity term, subtracted before any sum
            gA[i0:i1] = P @ B
            gB.addmm_(P.T, A[i0:i1])
            gs += P.mul_(L).sum() / s  # sum G * S with S = L / s (P is not needed any more)
        gA *= s  # a 0-dim tensor: no host sync (float(s) would wait for the GPU)
        gB *= s
        return gA.to(a.dtype), gB.to(b.dtype), gs.to(scale.dtype), None


class SigLipLossChunked(torch.autograd.Function):
    """Sigmoid loss, ``loss = 1/N sum_ij softplus(-z_ij L_ij)`` with ``L = s * a @ b.T + t``, ``z = 2I - 1``.

    (For ``z_ij = -1``: ``-log sigmoid(-L) = softplus(L)``; on the diagonal ``-log sigmoid(L) =
    softplus(-L)``.) No normalisation across the row, so no statistics at all: only the inputs are saved.
    """

    @staticmethod
    def forward(ctx, a, b, scale, bias, chunk: int):
        cd = _compute_dtype(a)
        A, B, s, t = a.to(cd), b.to(cd), scale.to(cd), bias.to(cd)
        n = A.shape[0]
        total = torch.zeros((), dtype=cd, device=A.device)
        for i0, i1 in _blocks(n, chunk):
            L = (A[i0:i1] @ B.T).mul_(s).add_(t)
            L[:, i0:i1].diagonal().neg_()  # -log sigmoid(z L) = softplus(-z L): z = +1 on the diagonal
            total += F.softplus(L).sum()  # every term >= 0: no cancellation, never negative
        ctx.save_for_backward(a, b, scale, bias)
        ctx.chunk = chunk
        return total / n

    @staticmethod
    def backward(ctx, grad_out):
        # dloss/dL_ij = g/N * (sigmoid(L_ij) - delta_ij)
        a, b, scale, bias = ctx.saved_tensors
        cd = _compute_dtype(a)
        A, B, s, t = a.to(cd), b.to(cd), scale.to(cd), bias.to(cd)
        n = A.shape[0]
        coef = grad_out.to(cd) / n
        gA = torch.empty_like(A)
        gB = torch.zeros_like(A)
        gs = torch.zeros((), dtype=cd, device=A.device)
        gt = torch.zeros((), dtype=cd, device=A.device)
        for i0, i1 in _blocks(n, ctx.chunk):
            S = A[i0:i1] @ B.T
            P = torch.sigmoid(S * s + t).mul_(coef)
            P[:, i0:i1].diagonal().sub_(coef)  # - delta_ij
            gA[i0:i1] = P @ B
            gB.addmm_(P.T, A[i0:i1])
            gt += P.sum()
            gs += P.mul_(S).sum()
        gA *= s  # a 0-dim tensor: no host sync (float(s) would wait for the GPU)
        gB *= s
        return gA.to(a.dtype), gB.to(b.dtype), gs.to(scale.dtype), gt.to(bias.dtype), None


class NTXentLossChunked(torch.autograd.Function):
    """NT-Xent over ``Z = cat(z1, z2)`` (M = 2N rows), ``L = s * Z @ Z.T`` without its diagonal.

    ``loss = 1/M sum_i (lse_{j != i} L_ij - L_{i, twin(i)})``; ``L`` is symmetric, so the gradient is
    ``dZ = s * (G + G.T) @ Z`` with ``G = dloss/dL``.
    """

    @staticmethod
    def forward(ctx, z1, z2, scale, chunk: int):
        cd = _compute_dtype(z1)
        Z, s = torch.cat([z1, z2]).to(cd), scale.to(cd)
        m = Z.shape[0]
        n = m // 2
        row_m = torch.empty(m, dtype=cd, device=Z.device)
        row_l = torch.empty(m, dtype=cd, device=Z.device)
        gap = torch.zeros((), dtype=cd, device=Z.device)  # sum_i (row_m_i - L_{i, twin(i)})
        for i0, i1 in _blocks(m, chunk):
            L = (Z[i0:i1] @ Z.T).mul_(s)
            L[:, i0:i1].diagonal().fill_(float("-inf"))  # a view is not its own negative
            rows = torch.arange(i1 - i0, device=Z.device)
            row_m[i0:i1] = L.amax(dim=1)
            gap += (row_m[i0:i1] - L[rows, (rows + i0 + n) % m]).sum()
            row_l[i0:i1] = torch.exp(L.sub_(row_m[i0:i1, None])).sum(dim=1)
        ctx.save_for_backward(z1, z2, scale, row_m, row_l)
        ctx.chunk = chunk
        return (gap + torch.log(row_l).sum()) / m

    @staticmethod
    def backward(ctx, grad_out):
        z1, z2, scale, row_m, row_l = ctx.saved_tensors
        cd = row_m.dtype
        row_r = 1 / row_l
        Z, s = torch.cat([z1, z2]).to(cd), scale.to(cd)
        m, n = Z.shape[0], z1.shape[0]
        coef = grad_out.to(cd) / m
        gZ = torch.zeros_like(Z)
        gs = torch.zeros((), dtype=cd, device=Z.device)
        for i0, i1 in _blocks(m, ctx.chunk):
            S = Z[i0:i1] @ Z.T
            L = S * s
            L[:, i0:i1].diagonal().fill_(float("-inf"))
            P = torch.exp(L.sub_(row_m[i0:i1, None])).mul_(row_r[i0:i1, None] * coef)  # softmax (0 on diag)
            rows = torch.arange(i1 - i0, device=Z.device)
            P[rows, (rows + i0 + n) % m] -= coef  # G_{i, twin(i)} -= g/M
            gZ[i0:i1] += P @ Z
            gZ.addmm_(P.T, Z[i0:i1])  # L is symmetric: the G.T side
            gs += P.mul_(S).sum()
        gZ *= s
        return gZ[:n].to(z1.dtype), gZ[n:].to(z2.dtype), gs.to(scale.dtype), None


def clip_loss(a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor, *, chunk: int | None = None):
    """Chunked CLIP loss. ``a``, ``b``: ``(N, D)``; ``logit_scale``: 0-dim tensor; returns 0-dim tensor.

    ``chunk``: rows per block (default :func:`default_chunk`), extra memory about ``3 * chunk * N`` floats.
    """
    check_chunk(chunk)
    n = a.shape[0]
    return ClipLossChunked.apply(a, b, logit_scale, default_chunk(n, n) if chunk is None else chunk)


def siglip_loss(
    a: torch.Tensor,
    b: torch.Tensor,
    logit_scale: torch.Tensor,
    logit_bias: torch.Tensor,
    *,
    chunk: int | None = None,
):
    """Chunked SigLIP loss. ``a``, ``b``: ``(N, D)``; scale and bias: 0-dim tensors; returns 0-dim tensor."""
    check_chunk(chunk)
    n = a.shape[0]
    return SigLipLossChunked.apply(
        a, b, logit_scale, logit_bias, default_chunk(n, n) if chunk is None else chunk
    )


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: torch.Tensor, *, chunk: int | None = None):
    """Chunked NT-Xent. ``z1``, ``z2``: ``(N, D)``; ``temperature``: 0-dim tensor; returns 0-dim tensor."""
    check_chunk(chunk)
    m = 2 * z1.shape[0]
    return NTXentLossChunked.apply(z1, z2, 1 / temperature, default_chunk(m, m) if chunk is None else chunk)
