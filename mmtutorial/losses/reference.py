"""Readable reference definitions of the contrastive losses (the ground truth every other impl must match).

Each function builds the full ``N x N`` matrix of logits and applies the textbook formula, so it costs
``O(N^2)`` memory. Inputs are assumed valid (the public dispatcher in :mod:`mmtutorial.losses` checks them)
and are computed in fp32 (fp64 stays fp64): the returned loss is a 0-dim fp32 tensor for fp32/bf16/fp16
inputs and fp64 for fp64 inputs.

Notation: ``a``, ``b`` are ``(N, D)`` embeddings, row ``i`` of ``a`` pairs with row ``i`` of ``b``;
``S = a @ b.T`` are the similarities and ``L = s * S`` the logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """fp64 stays fp64; every other floating dtype is accumulated in fp32."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def clip_loss(a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric InfoNCE loss.

    ``L = s * a @ b.T``  (N, N);  loss = (CE(L, diag) + CE(L.T, diag)) / 2, CE averaged over rows, i.e.
    ``loss = 1/(2N) * sum_i [ (logsumexp_j L_ij - L_ii) + (logsumexp_j L_ji - L_ii) ]``.

    Args:
        a, b: ``(N, D)`` paired embeddings (L2-normalised by the caller).
        logit_scale: 0-dim tensor ``s`` (the multiplier itself, e.g. ``exp(log_scale)``).
    Returns:
        0-dim tensor (fp32, or fp64 for fp64 inputs).
    """
    cd = _compute_dtype(a)
    logits = logit_scale.to(cd) * (a.to(cd) @ b.to(cd).T)
    labels = torch.arange(a.shape[0], device=a.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def siglip_loss(
    a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor, logit_bias: torch.Tensor
) -> torch.Tensor:
    """SigLIP's pairwise sigmoid loss.

    ``L = s * a @ b.T + t``;  ``z = 2I - 1`` (+1 on the diagonal, -1 elsewhere);
    ``loss = -1/N * sum_ij log sigmoid(z_ij * L_ij)``.

    Args:
        a, b: ``(N, D)`` paired embeddings (L2-normalised by the caller).
        logit_scale: 0-dim tensor ``s``; logit_bias: 0-dim tensor ``t``.
    Returns:
        0-dim tensor (fp32, or fp64 for fp64 inputs).
    """
    cd = _compute_dtype(a)
    n = a.shape[0]
    logits = logit_scale.to(cd) * (a.to(cd) @ b.to(cd).T) + logit_bias.to(cd)
    z = 2 * torch.eye(n, device=a.device, dtype=cd) - 1
    return -F.logsigmoid(z * logits).sum() / n


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: torch.Tensor) -> torch.Tensor:
    """SimCLR's NT-Xent loss over the ``2N`` views.

    ``Z = cat(z1, z2)`` (2N, D); ``L = Z @ Z.T / tau`` with the diagonal (a view with itself) removed;
    the positive of view ``i`` is its twin ``i + N`` (mod 2N);
    ``loss = 1/(2N) * sum_i [ logsumexp_{j != i} L_ij - L_{i, twin(i)} ]``.

    Args:
        z1, z2: ``(N, D)`` embeddings of two views of the same N samples (L2-normalised by the caller).
        temperature: 0-dim tensor ``tau``.
    Returns:
        0-dim tensor (fp32, or fp64 for fp64 inputs).
    """
    cd = _compute_dtype(z1)
    n = z1.shape[0]
    z = torch.cat([z1, z2]).to(cd)
    logits = (z @ z.T) / temperature.to(cd)
    self_mask = torch.eye(2 * n, device=z.device, dtype=torch.bool)
    logits = logits.masked_fill(self_mask, float("-inf"))
    twin = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, twin)
