"""Evaluation: retrieval (recall@k), zero-shot classification, vector indexes, interpretability, robustness.

- ``retrieval``: :func:`recall_at_k` (CLIP_benchmark's definition, several positives per query, ties by
  gallery index), chance levels, both directions named ``<query>_to_<gallery>_r<k>``;
- ``zeroshot``: open_clip's prompt-ensemble classifier and zero-shot accuracy;
- ``index``: exact top-k search in torch (chunked over the gallery) and FAISS approximate indexes.
"""

from mmtutorial.eval.index import FaissIndex, compare_indexes, exact_search, recall_vs_exact
from mmtutorial.eval.retrieval import (
    best_positive_rank,
    chance_recall_at_k,
    check_retrieval_inputs,
    cross_modal_retrieval,
    paired_positives,
    positives_from_labels,
    recall_at_k,
    retrieval_report,
)
from mmtutorial.eval.zeroshot import (
    build_zero_shot_classifier,
    fill_template,
    zero_shot_accuracy,
    zero_shot_logits,
)

__all__ = [
    "FaissIndex",
    "best_positive_rank",
    "build_zero_shot_classifier",
    "chance_recall_at_k",
    "check_retrieval_inputs",
    "compare_indexes",
    "cross_modal_retrieval",
    "exact_search",
    "fill_template",
    "paired_positives",
    "positives_from_labels",
    "recall_at_k",
    "recall_vs_exact",
    "retrieval_report",
    "zero_shot_accuracy",
    "zero_shot_logits",
]
