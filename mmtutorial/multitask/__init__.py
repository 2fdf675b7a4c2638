"""Multi-task learning (3.2.3 多任务学习): sharing architectures, loss weightings, gradient aggregation,
diagnostics.

* sharing: :class:`HardSharing`, :class:`SoftSharing` (L2 coupling), :class:`CrossStitch`,
  :class:`HierarchicalSharing`, :class:`MMoE`; every model maps ``x (B, D)`` to ``{task: logits (B, K_t)}``.
* per-sample task masks: :func:`task_losses` (label -1 = missing), :func:`hide_labels`.
* two tasks on a label tree (coarse -> fine): :func:`parent_index`, :func:`tree_consistency`,
  :func:`tree_decode`.
* weightings: :class:`EqualWeighting`, :class:`UncertaintyWeighting`, :class:`DynamicWeightAverage`,
  :class:`GradNorm`, :class:`RandomLossWeighting`.
* aggregation of per-task gradients ``(T, P) -> (P,)``: :func:`aggregate` with ``"sum" "pcgrad" "mgda"
"cagrad"``.
* diagnostics: :func:`cosine_matrix`, :func:`conflict_fraction`, :func:`norm_ratios`.
* a small loop: :func:`multitask_step`, :func:`train_multitask`, :func:`evaluate`; Δm%: :func:`delta_m`.
"""

from mmtutorial.multitask.aggregation import METHODS, aggregate, cagrad, mgda, mgda_weights, pcgrad
from mmtutorial.multitask.base import MultiTaskModel
from mmtutorial.multitask.diagnostics import conflict_fraction, cosine_matrix, norm_ratios
from mmtutorial.multitask.hard import HardSharing
from mmtutorial.multitask.hierarchical import HierarchicalSharing
from mmtutorial.multitask.losses import MISSING, delta_m, hide_labels, task_accuracy, task_losses
from mmtutorial.multitask.min_norm import min_norm_weights
from mmtutorial.multitask.mmoe import MMoE
from mmtutorial.multitask.soft import CrossStitch, SoftSharing
from mmtutorial.multitask.step import diagnose, multitask_step, task_gradients
from mmtutorial.multitask.train import STRATEGIES, evaluate, train_multitask
from mmtutorial.multitask.tree import parent_index, tree_consistency, tree_decode
from mmtutorial.multitask.weighting import (
    WEIGHTINGS,
    DynamicWeightAverage,
    EqualWeighting,
    GradNorm,
    RandomLossWeighting,
    UncertaintyWeighting,
    make_weighting,
)

__all__ = [
    "METHODS",
    "MISSING",
    "STRATEGIES",
    "WEIGHTINGS",
    "CrossStitch",
    "DynamicWeightAverage",
    "EqualWeighting",
    "GradNorm",
    "HardSharing",
    "HierarchicalSharing",
    "MMoE",
    "MultiTaskModel",
    "RandomLossWeighting",
    "SoftSharing",
    "UncertaintyWeighting",
    "aggregate",
    "cagrad",
    "conflict_fraction",
    "cosine_matrix",
    "delta_m",
    "diagnose",
    "evaluate",
    "hide_labels",
    "make_weighting",
    "mgda",
    "mgda_weights",
    "min_norm_weights",
    "multitask_step",
    "norm_ratios",
    "parent_index",
    "pcgrad",
    "task_accuracy",
    "task_gradients",
    "task_losses",
    "train_multitask",
    "tree_consistency",
    "tree_decode",
]
