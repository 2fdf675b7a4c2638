"""Fusion benchmark tasks (kept for old imports): the pieces now live in their layers.

- the tasks (features, labels, splits): :mod:`mmtutorial.data.fusion_task`;
- the models: :mod:`mmtutorial.models.classifier`;
- training: :func:`mmtutorial.training.classify.train_classifier` (over :func:`mmtutorial.training.fit`);
- evaluation, comparison and robustness: :mod:`mmtutorial.eval.fusion_eval`.
"""

from mmtutorial.data.fusion_task import DEFAULT_DIMS, TASKS, FusionTask, make_task, world_features
from mmtutorial.encoders.common import count_parameters
from mmtutorial.eval.fusion_eval import (
    TrainResult,
    compare_fusions,
    evaluate,
    noise_auc,
    robustness,
    train_fusion,
    unimodal_baseline,
)
from mmtutorial.models.classifier import FusionClassifier, UnimodalMLP
from mmtutorial.training.classify import train_classifier

__all__ = [
    "DEFAULT_DIMS",
    "TASKS",
    "FusionClassifier",
    "FusionTask",
    "TrainResult",
    "UnimodalMLP",
    "compare_fusions",
    "count_parameters",
    "evaluate",
    "make_task",
    "noise_auc",
    "robustness",
    "train_classifier",
    "train_fusion",
    "unimodal_baseline",
    "world_features",
]
