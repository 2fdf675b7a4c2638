"""Cross-modal retrieval: recall@k with the definition CLIP_benchmark uses, in both directions, beside chance.

A query is a hit at ``k`` when at least one of its positives is among the ``k`` highest-scoring gallery items;
recall@k is the fraction of queries that are hits. A query may have several positives (an image with five
captions, every scene with the same label). Ties are broken by gallery index, as a stable sort would: of two
items with the same score, the one with the lower index ranks first.

Chance level: a gallery ranked at random hits a query with ``p`` positives among ``G`` items with probability
``1 - C(G - p, k) / C(G, k)`` (no positive in the top ``k``), averaged over queries.

Directions are named ``<query>_to_<gallery>_r<k>``: ``image_to_text_r1`` is "given an image, is one of its
captions the top text?". The name says which side is the query, so it cannot be read backwards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from mmtutorial._validate import check_tensor


def _check_k(k: object, gallery_size: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise ValueError(f"k must be an int, got {type(k).__name__} {k!r}")
    if not 1 <= k <= gallery_size:
        raise ValueError(f"k must be in [1, G={gallery_size}] (the gallery size), got {k}")
    return k


def check_retrieval_inputs(scores: torch.Tensor, positives: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``scores`` is a finite float ``(Q, G)`` and ``positives`` a bool ``(Q, G)``
    with ``Q, G >= 1`` and at least one positive in every row."""
    check_tensor("scores", scores, ndim=2, floating=True, finite=True)
    if scores.numel() == 0:
        raise ValueError(
            f"scores must hold at least one query and one gallery item, got {tuple(scores.shape)}"
        )
    check_tensor("positives", positives, shape=tuple(scores.shape), dtype=torch.bool)
    empty = (~positives.any(dim=1)).nonzero().flatten()
    if len(empty):
        rows = empty[:5].tolist()
        raise ValueError(
            f"positives must mark at least one gallery item per query; {len(empty)} of {len(positives)} "
            f"queries have none (rows {rows}{' ...' if len(empty) > 5 else ''})"
        )


def best_positive_rank(scores: torch.Tensor, positives: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Rank (0 = first) of each query's best-ranked positive: ``(Q, G), (Q, G) -> (Q,)`` long.

    A query's best positive is its highest-scoring positive (the lowest index among equals); its rank is the
    number of items that score higher plus the equal-scoring items with a lower index. Queries are processed
    ``chunk`` rows at a time, so memory is ``O(chunk * G)`` and nothing is sorted.
    """
    check_retrieval_inputs(scores, positives)
    out = []
    index = torch.arange(scores.shape[1], device=scores.device)
    for start in range(0, scores.shape[0], chunk):
        s, p = scores[start : start + chunk], positives[start : start + chunk]
        best = s.masked_fill(~p, -math.inf).max(dim=1, keepdim=True).values  # (c, 1)
        best_idx = (p & (s == best)).int().argmax(dim=1, keepdim=True)  # first maximal index
        ahead = (s > best) | ((s == best) & (index < best_idx))  # (c, G): items ranked before it
        out.append(ahead.sum(dim=1))
    return torch.cat(out)


@torch.no_grad()
def recall_at_k(scores: torch.Tensor, positives: torch.Tensor, k: int) -> float:
    """Fraction of queries with at least one positive among their ``k`` highest-scoring gallery items.

    ``scores`` ``(Q, G)``: similarity of query ``q`` to gallery item ``g`` (higher = more similar);
    ``positives`` bool ``(Q, G)``: which gallery items are correct for each query (one or more per row).
    Ties are broken by gallery index (the lower index ranks first), as a stable sort would. ``1 <= k <= G``.
    """
    check_retrieval_inputs(scores, positives)
    k = _check_k(k, scores.shape[1])
    return float((best_positive_rank(scores, positives) < k).float().mean())


def chance_recall_at_k(positives: torch.Tensor, k: int) -> float:
    """Expected recall@k of a random ranking: mean over queries of ``1 - C(G - p_q, k) / C(G, k)``.

    ``positives`` bool ``(Q, G)`` with ``p_q`` positives in row ``q``. With one positive per query this is
    ``k / G``.
    """
    check_tensor("positives", positives, ndim=2, dtype=torch.bool)
    if positives.numel() == 0:
        raise ValueError(
            f"positives must hold at least one query and one gallery item, got {tuple(positives.shape)}"
        )
    G = positives.shape[1]
    k = _check_k(k, G)
    total = math.comb(G, k)
    return sum(1.0 - math.comb(G - int(p), k) / total for p in positives.sum(dim=1).tolist()) / len(positives)


def paired_positives(n: int) -> torch.Tensor:
    """Bool ``(n, n)`` identity: query ``i`` matches gallery item ``i`` only (one caption per image)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return torch.eye(n, dtype=torch.bool)


def positives_from_labels(query_labels: torch.Tensor, gallery_labels: torch.Tensor) -> torch.Tensor:
    """Bool ``(Q, G)``: ``True`` where ``query_labels[q] == gallery_labels[g]``; integer ``(Q,)``, ``(G,)``.

    Use it when several gallery items count as correct, e.g. every image of the same emoji group, or every
    caption of the same image (label = image id).
    """
    check_tensor("query_labels", query_labels, ndim=1)
    check_tensor("gallery_labels", gallery_labels, ndim=1)
    if query_labels.is_floating_point() or gallery_labels.is_floating_point():
        raise ValueError(
            f"labels must be integer tensors, got query_labels {query_labels.dtype}, "
            f"gallery_labels {gallery_labels.dtype}"
        )
    return query_labels[:, None] == gallery_labels[None, :]


def retrieval_report(
    scores: torch.Tensor,
    positives: torch.Tensor,
    query: str,
    gallery: str,
    ks: Sequence[int] = (1, 5, 10),
) -> dict[str, float]:
    """Recall@k of one direction with its chance level: ``{"<query>_to_<gallery>_r<k>": recall,
    "<query>_to_<gallery>_r<k>_chance": chance}``. ``scores``, ``positives`` ``(Q, G)`` as in
    :func:`recall_at_k`; ``ks`` larger than ``G`` are skipped."""
    for name, value in (("query", query), ("gallery", gallery)):
        if not isinstance(value, str) or not value.isidentifier():
            raise ValueError(f"{name} must be a modality name such as 'image', got {value!r}")
    ranks = best_positive_rank(scores, positives)  # (Q,), computed once for every k
    G = scores.shape[1]
    out: dict[str, float] = {}
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"ks must hold positive ints, got {k!r} in {tuple(ks)}")
        if k > G:
            continue
        key = f"{query}_to_{gallery}_r{k}"
        out[key] = float((ranks < k).float().mean())
        out[key + "_chance"] = chance_recall_at_k(positives, k)
    return out


def cross_modal_retrieval(
    a: torch.Tensor,
    b: torch.Tensor,
    names: tuple[str, str] = ("image", "text"),
    positives: torch.Tensor | None = None,
    ks: Sequence[int] = (1, 5, 10),
    normalize: bool = True,
) -> dict[str, float]:
    """Recall@k both ways between embeddings ``a`` ``(Na, D)`` and ``b`` ``(Nb, D)``, each beside chance.

    Scores are cosine similarities (dot products if ``normalize=False``). ``positives`` bool ``(Na, Nb)``
    marks the matching pairs (default: the identity, ``a[i]`` matches ``b[i]``). With
    ``names=("image", "text")`` the keys are ``image_to_text_r<k>`` (images query the texts),
    ``text_to_image_r<k>``, and each ``..._chance``.
    """
    check_tensor("a", a, ndim=2, floating=True, finite=True)
    check_tensor("b", b, shape=(None, a.shape[1]), floating=True, finite=True)
    if len(names) != 2 or names[0] == names[1]:
        raise ValueError(f"names must be two different modality names, got {names!r}")
    if positives is None:
        if len(a) != len(b):
            raise ValueError(
                f"a and b must have the same number of rows when positives is not given, "
                f"got {len(a)} and {len(b)}"
            )
        positives = paired_positives(len(a)) if len(a) else torch.zeros(0, 0, dtype=torch.bool)
    if normalize:
        a, b = F.normalize(a.float(), dim=-1), F.normalize(b.float(), dim=-1)
    scores = a @ b.T  # (Na, Nb)
    return {
        **retrieval_report(scores, positives, names[0], names[1], ks),
        **retrieval_report(scores.T, positives.T, names[1], names[0], ks),
    }
