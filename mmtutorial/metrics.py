"""Evaluation metrics: cross-modal retrieval recall@k (both directions) and classification accuracy."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mmtutorial._validate import check_positive, check_tensor


def recall_at_k(query: torch.Tensor, gallery: torch.Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Fraction of queries whose own match is among the ``k`` most similar gallery items.

    ``query`` ``(N, D)`` and ``gallery`` ``(N, D)``: row ``i`` of one matches row ``i`` of the other;
    similarity is the dot product (pass L2-normalised embeddings for cosine). Ties count against the query
    (the match must be strictly more similar than all but ``k - 1`` items). Returns ``{k: recall}``.
    """
    check_tensor("query", query, ndim=2, floating=True, finite=True)
    check_tensor("gallery", gallery, shape=tuple(query.shape), floating=True, finite=True)
    for k in ks:
        check_positive("k", k)
    sims = query.float() @ gallery.float().T  # (N, N)
    own = sims.diagonal()[:, None]
    rank = (sims >= own).sum(dim=1) - 1  # how many other items are at least as similar: 0 = top
    return {int(k): float((rank < k).float().mean()) for k in ks}


def retrieval_recall(a: torch.Tensor, b: torch.Tensor, ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Recall@k both ways for paired ``a``, ``b`` ``(N, D)``: keys ``"a->b@k"`` and ``"b->a@k"``."""
    ab = recall_at_k(a, b, ks)
    ba = recall_at_k(b, a, ks)
    return {**{f"a->b@{k}": v for k, v in ab.items()}, **{f"b->a@{k}": v for k, v in ba.items()}}


def accuracy(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of correct predictions; ``predictions`` ``(N,)`` ids / ``(N, C)`` scores, ``labels`` ``(N,)``."""

    check_tensor("labels", labels, ndim=1)
    if labels.numel() == 0:
        raise ValueError("labels must hold at least one label, got an empty tensor")
    if predictions.ndim == 2:
        check_tensor("predictions", predictions, shape=(labels.shape[0], None))
        predictions = predictions.argmax(dim=1)
    else:
        check_tensor("predictions", predictions, shape=(labels.shape[0],))
    return float((predictions == labels).float().mean())
