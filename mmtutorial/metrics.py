"""Metrics for paired embeddings and labels: recall@k both ways, and classification accuracy.

The convenience forms chapters 00-06 use. Retrieval is computed by :mod:`mmtutorial.eval.retrieval` (the
single definition: CLIP_benchmark's recall@k, ties broken by gallery index); this module only builds the
score matrix and the one-to-one positives from paired rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mmtutorial._validate import check_positive, check_tensor
from mmtutorial.eval.retrieval import paired_positives
from mmtutorial.eval.retrieval import recall_at_k as _recall_at_k


def recall_at_k(query: torch.Tensor, gallery: torch.Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Fraction of queries whose own match is among the ``k`` most similar gallery items: ``{k: recall}``.

    ``query`` ``(N, D)`` and ``gallery`` ``(N, D)`` with ``N >= 1``: row ``i`` of one matches row ``i`` of
    the other; similarity is the dot product (pass L2-normalised embeddings for cosine). Ties are broken by
    gallery index, as in :func:`mmtutorial.eval.recall_at_k`; ``k`` above ``N`` counts as ``N`` (all hit).
    """
    check_tensor("query", query, ndim=2, floating=True, finite=True)
    check_tensor("gallery", gallery, shape=tuple(query.shape), floating=True, finite=True)
    if query.shape[0] == 0:
        raise ValueError(f"query must hold at least one row, got {tuple(query.shape)}")
    for k in ks:
        check_positive("k", k)
    scores = query.float() @ gallery.float().T  # (N, N)
    positives = paired_positives(len(query))
    return {int(k): _recall_at_k(scores, positives, min(int(k), len(query))) for k in ks}


def retrieval_recall(a: torch.Tensor, b: torch.Tensor, ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Recall@k both ways for paired ``a``, ``b`` ``(N, D)``: keys ``"a->b@k"`` (rows of ``a`` query the rows
    of ``b``) and ``"b->a@k"``. For named directions and chance levels use
    :func:`mmtutorial.eval.cross_modal_retrieval`."""
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
