"""Evaluate and compare classifiers on the fusion benchmark tasks (:mod:`mmtutorial.data.fusion_task`).

``evaluate`` (accuracy, optionally with a modality dropped or noised), ``compare_fusions`` (every fusion
under one training budget, a pandas table), ``unimodal_baseline``, and the robustness curve ``robustness``
with its summary ``noise_auc`` (the area under accuracy-vs-noise).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from mmtutorial._validate import check_choice
from mmtutorial.data.fusion_task import FusionTask
from mmtutorial.encoders.common import count_parameters
from mmtutorial.fusion import FAMILY, FUSIONS, make_fusion
from mmtutorial.models.classifier import FusionClassifier, UnimodalMLP
from mmtutorial.training.classify import train_classifier


@dataclass
class TrainResult:
    """A trained model and its measurements (test accuracy, trainable parameters, training seconds)."""

    name: str
    model: FusionClassifier
    accuracy: float
    params: int
    seconds: float


@torch.no_grad()
def evaluate(
    model: nn.Module,
    task: FusionTask,
    split: str = "test",
    drop: Iterable[str] = (),
    noise: Mapping[str, float] | None = None,
    seed: int = 0,
) -> float:
    """Accuracy of ``model`` on ``split``, optionally with modalities dropped or noised (seeded noise)."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    logits = model(task.inputs(split, drop=tuple(drop), noise=noise, generator=g))
    return float((logits.argmax(-1) == task.labels[split]).float().mean())


def train_fusion(
    name: str,
    task: FusionTask,
    out_dim: int = 32,
    seed: int = 0,
    fusion_kwargs: Mapping[str, object] | None = None,
    **train_kwargs: object,
) -> TrainResult:
    """Build fusion ``name`` (initialised from ``seed``), put a linear head on it, train on ``task``, measure.

    The global RNG is left as it was (the model is built under ``torch.random.fork_rng``).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fusion = make_fusion(name, task.dims, out_dim, **(fusion_kwargs or {}))
        model = FusionClassifier(fusion, task.n_classes)
    start = time.perf_counter()
    train_classifier(model, task, seed=seed, **train_kwargs)
    seconds = time.perf_counter() - start
    return TrainResult(
        name, model, evaluate(model, task), count_parameters(model, trainable_only=True), seconds
    )


def unimodal_baseline(task: FusionTask, modality: str, seed: int = 0, **train_kwargs: object) -> float:
    """Test accuracy of an MLP that sees only ``modality`` (same training budget as the fusions)."""
    check_choice("modality", modality, list(task.dims))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = UnimodalMLP(modality, task.dims[modality], task.n_classes)
    train_classifier(model, task, seed=seed, **train_kwargs)
    return evaluate(model, task)


def compare_fusions(
    task: FusionTask,
    names: Sequence[str] | None = None,
    seeds: Sequence[int] = (0,),
    **train_kwargs: object,
) -> tuple[pd.DataFrame, dict[str, FusionClassifier]]:
    """Train every fusion in ``names`` (default: all of ``FUSIONS``) on ``task`` under the same budget.

    Returns one row per fusion (median over ``seeds`` of accuracy and seconds; parameters; family) sorted by
    accuracy, and the model trained with the first seed for each fusion.
    """
    names = list(FUSIONS) if names is None else list(names)
    rows, models = [], {}
    for name in names:
        check_choice("names entry", name, list(FUSIONS))
        runs = [train_fusion(name, task, seed=s, **train_kwargs) for s in seeds]
        models[name] = runs[0].model
        rows.append(
            {
                "task": task.name,
                "fusion": name,
                "family": FAMILY[name],
                "accuracy": float(np.median([r.accuracy for r in runs])),
                "params": runs[0].params,
                "seconds": float(np.median([r.seconds for r in runs])),
            }
        )
    return pd.DataFrame(rows).sort_values("accuracy", ascending=False, ignore_index=True), models


def noise_auc(levels: Sequence[float], accuracy: Sequence[float]) -> float:
    """Area under accuracy-vs-noise over the noise range (trapezoid rule): 1.0 = perfect at every level."""
    x, y = np.asarray(levels, dtype=float), np.asarray(accuracy, dtype=float)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2 or np.any(np.diff(x) <= 0):
        raise ValueError(f"levels must be >= 2 increasing values matching accuracy, got {x} and {y}")
    return float(np.trapezoid(y, x) / (x[-1] - x[0]))


def robustness(
    models: Mapping[str, nn.Module],
    task: FusionTask,
    modality: str,
    levels: Sequence[float] = (0.0, 1.0, 2.0, 4.0, 8.0),
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accuracy of each model as Gaussian noise of std ``level`` is added to ``modality``, or it is dropped.

    Returns the long curve table ``(fusion, noise, accuracy)`` and a summary ``(fusion, clean, auc, dropped)``
    sorted by ``auc``; ``dropped`` is the accuracy with ``modality`` missing (``None``).
    """
    check_choice("modality", modality, list(task.dims))
    curve, summary = [], []
    for name, model in models.items():
        acc = [evaluate(model, task, noise={modality: lv}, seed=seed) for lv in levels]
        curve += [{"fusion": name, "noise": lv, "accuracy": a} for lv, a in zip(levels, acc, strict=True)]
        summary.append(
            {
                "fusion": name,
                "clean": acc[0],
                "auc": noise_auc(levels, acc),
                "dropped": evaluate(model, task, drop=(modality,)),
            }
        )
    return pd.DataFrame(curve), pd.DataFrame(summary).sort_values("auc", ascending=False, ignore_index=True)
