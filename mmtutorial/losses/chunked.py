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
        row_lse = torch.empty(n, dtype=cd, device=A.device)
        col_m = torch.full((n,), float("-inf"), dtype=cd, device=A.device)  # running column max
        col_l = torch.zeros(n, dtype=cd, device=A.device)  # running sum of exp(L - col_m)
        for i0, i1 in _blocks(n, chunk):
            L = (A[i0:i1] @ B.T).mul_(s)  # (chunk, N) block of logits
            row_lse[i0:i1] = torch.logsumexp(L, dim=1)
            m = torch.maximum(col_m, L.amax(dim=0))
            col_l = col_l * torch.exp(col_m - m) + torch.exp(L.sub_(m)).sum(dim=0)
            col_m = m
        col_lse = col_m + torch.log(col_l)
        diag = s * (A * B).sum(dim=1)  # L_ii
        loss = (row_lse.sum() + col_lse.sum() - 2 * diag.sum()) / (2 * n)
        ctx.save_for_backward(a, b, scale, row_lse, col_lse)
        ctx.chunk = chunk
        return loss

    @staticmethod
    def backward(ctx, grad_out):
        # dloss/dL_ij = g/(2N) * (softmax_row_ij + softmax_col_ij - 2 delta_ij);  L = s * S, S = A @ B.T
        # => dA = s * G @ B,  dB = s * G.T @ A,  ds = sum_ij G_ij S_ij
        a, b, scale, row_lse, col_lse = ctx.saved_tensors
        cd = row_lse.dtype
        A, B, s = a.to(cd), b.to(cd), scale.to(cd)
        n = A.shape[0]
        coef = grad_out.to(cd) / (2 * n)
        s_f = float(s.detach())
        gA = torch.empty_like(A)
        gB = torch.zeros_like(A)
        gs = torch.zeros((), dtype=cd, device=A.device)
        for i0, i1 in _blocks(n, ctx.chunk):
            L = (A[i0:i1] @ B.T).mul_(s)
            P = torch.exp(L - row_lse[i0:i1, None])
            P += torch.exp(L - col_lse[None, :])
            P *= coef  # G without the -2*delta term (added below)
            gA[i0:i1] = P @ B
            gB.addmm_(P.T, A[i0:i1])
            gs += torch.dot(P.flatten(), L.flatten()) / s  # sum G * S with S = L / s
        # the identity term: G_ii -= g/N
        diag_coef = 2 * coef
        gA = (gA - diag_coef * B) * s_f
        gB = (gB - diag_coef * A) * s_f
        gs = gs - diag_coef * (A * B).sum()
        return gA.to(a.dtype), gB.to(b.dtype), gs.to(scale.dtype), None


class SigLipLossChunked(torch.autograd.Function):
    """Sigmoid loss, ``loss = 1/N [sum_ij softplus(L_ij) - sum_i L_ii]`` with ``L = s * a @ b.T + t``.

    (For ``z_ij = -1``: ``-log sigmoid(-L) = softplus(L)``; on the diagonal ``-log sigmoid(L) =
    softplus(L) - L``.) No normalisation across the row, so no statistics at all: only the inputs are saved.
    """

    @staticmethod
    def forward(ctx, a, b, scale, bias, chunk: int):
        cd = _compute_dtype(a)
        A, B, s, t = a.to(cd), b.to(cd), scale.to(cd), bias.to(cd)
        n = A.shape[0]
        total = torch.zeros((), dtype=cd, device=A.device)
        for i0, i1 in _blocks(n, chunk):
            L = (A[i0:i1] @ B.T).mul_(s).add_(t)
            total += F.softplus(L).sum()
        diag = s * (A * B).sum(dim=1) + t
        ctx.save_for_backward(a, b, scale, bias)
        ctx.chunk = chunk
        return (total - diag.sum()) / n

    @staticmethod
    def backward(ctx, grad_out):
        # dloss/dL_ij = g/N * (sigmoid(L_ij) - delta_ij)
        a, b, scale, bias = ctx.saved_tensors
        cd = _compute_dtype(a)
        A, B, s, t = a.to(cd), b.to(cd), scale.to(cd), bias.to(cd)
        n = A.shape[0]
        coef = grad_out.to(cd) / n
        s_f = float(s.detach())
        gA = torch.empty_like(A)
        gB = torch.zeros_like(A)
        gs = torch.zeros((), dtype=cd, device=A.device)
        gt = torch.zeros((), dtype=cd, device=A.device)
        for i0, i1 in _blocks(n, ctx.chunk):
            S = A[i0:i1] @ B.T
            P = torch.sigmoid(S * s + t).mul_(coef)
            gA[i0:i1] = P @ B
            gB.addmm_(P.T, A[i0:i1])
            gs += torch.dot(P.flatten(), S.flatten())
            gt += P.sum()
        gA = (gA - coef * B) * s_f
        gB = (gB - coef * A) * s_f
        gs = gs - coef * (A * B).sum()
        gt = gt - coef * n
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
        lse = torch.empty(m, dtype=cd, device=Z.device)
        for i0, i1 in _blocks(m, chunk):
            L = (Z[i0:i1] @ Z.T).mul_(s)
            L[:, i0:i1].diagonal().fill_(float("-inf"))  # a view is not its own negative
            lse[i0:i1] = torch.logsumexp(L, dim=1)
        pos = s * (z1.to(cd) * z2.to(cd)).sum()  # sum_k L_{k, k+N}; each pair counted from both sides
        ctx.save_for_backward(z1, z2, scale, lse)
        ctx.chunk = chunk
        return (lse.sum() - 2 * pos) / m

    @staticmethod
    def backward(ctx, grad_out):
        z1, z2, scale, lse = ctx.saved_tensors
        cd = lse.dtype
        Z, s = torch.cat([z1, z2]).to(cd), scale.to(cd)
        m, n = Z.shape[0], z1.shape[0]
        coef = grad_out.to(cd) / m
        s_f = float(s.detach())
        gZ = torch.zeros_like(Z)
        gs = torch.zeros((), dtype=cd, device=Z.device)
        for i0, i1 in _blocks(m, ctx.chunk):
            S = Z[i0:i1] @ Z.T
            L = S * s
            L[:, i0:i1].diagonal().fill_(float("-inf"))
            P = torch.exp(L.sub_(lse[i0:i1, None])).mul_(coef)  # softmax part of G (0 on the diagonal)
            gZ[i0:i1] += P @ Z
            gZ.addmm_(P.T, Z[i0:i1])
            gs += torch.dot(P.flatten(), S.flatten())
        # the positives: G_{i, twin(i)} -= g/M, seen from both (G + G.T) sides
        twin = torch.cat([Z[n:], Z[:n]])
        gZ = (gZ - 2 * coef * twin) * s_f
        gs = gs - 2 * coef * (Z[:n] * Z[n:]).sum()
        return gZ[:n].to(z1.dtype), gZ[n:].to(z2.dtype), gs.to(scale.dtype), None


def clip_loss(a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor, *, chunk: int | None = None):
    """Chunked CLIP loss. ``a``, ``b``: ``(N, D)``; ``logit_scale``: 0-dim tensor; returns 0-dim tensor.

    ``chunk``: rows per block (default :func:`default_chunk`), extra memory about ``3 * chunk * N`` floats.
    """
    n = a.shape[0]
    return ClipLossChunked.apply(a, b, logit_scale, chunk or default_chunk(n, n))


def siglip_loss(
    a: torch.Tensor,
    b: torch.Tensor,
    logit_scale: torch.Tensor,
    logit_bias: torch.Tensor,
    *,
    chunk: int | None = None,
):
    """Chunked SigLIP loss. ``a``, ``b``: ``(N, D)``; scale and bias: 0-dim tensors; returns 0-dim tensor."""
    n = a.shape[0]
    return SigLipLossChunked.apply(a, b, logit_scale, logit_bias, chunk or default_chunk(n, n))


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: torch.Tensor, *, chunk: int | None = None):
    """Chunked NT-Xent. ``z1``, ``z2``: ``(N, D)``; ``temperature``: 0-dim tensor; returns 0-dim tensor."""
    m = 2 * z1.shape[0]
    return NTXentLossChunked.apply(z1, z2, 1 / temperature, chunk or default_chunk(m, m))
