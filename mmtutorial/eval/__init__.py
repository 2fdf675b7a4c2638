"""Evaluation: retrieval (recall@k), zero-shot classification, vector indexes, interpretability, robustness.

- ``retrieval``: :func:`recall_at_k` (CLIP_benchmark's definition, several positives per query, ties by
  gallery index), chance levels, both directions named ``<query>_to_<gallery>_r<k>``;
- ``zeroshot``: open_clip's prompt-ensemble classifier and zero-shot accuracy;
- ``index``: exact top-k search in torch (chunked over the gallery) and FAISS approximate indexes;
- ``interpret``: saliency, Grad-CAM, cross-attention maps and the pointing game;
- ``attribution``: modality ablation and exact Shapley values over modalities;
- ``robustness``: image corruptions, FGSM/PGD on retrieval, missing modalities;
- ``groups``: per-group and worst-group accuracy;
- ``fusion_eval``: train and compare the fusion modules on a fusion task (chapter 04).
"""

from mmtutorial.eval.attribution import ablation, coalition_values, shapley_values
from mmtutorial.eval.groups import group_accuracy, group_ids, worst_group_accuracy
from mmtutorial.eval.index import FaissIndex, compare_indexes, exact_search, recall_vs_exact
from mmtutorial.eval.interpret import (
    cross_attention_maps,
    grad_cam,
    pointing_chance,
    pointing_game,
    saliency,
    upsample_map,
)
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
from mmtutorial.eval.robustness import corrupt, corruption_curve, fgsm, pgd, retrieval_loss, with_missing
from mmtutorial.eval.zeroshot import (
    build_zero_shot_classifier,
    fill_template,
    zero_shot_accuracy,
    zero_shot_logits,
)

__all__ = [
    "ablation",
    "coalition_values",
    "corrupt",
    "corruption_curve",
    "cross_attention_maps",
    "fgsm",
    "grad_cam",
    "group_accuracy",
    "group_ids",
    "pgd",
    "pointing_chance",
    "pointing_game",
    "retrieval_loss",
    "saliency",
    "shapley_values",
    "upsample_map",
    "with_missing",
    "worst_group_accuracy",
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
