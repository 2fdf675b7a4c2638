"""Train a classifier of ``{modality: EncoderOutput}`` on a :class:`~mmtutorial.data.fusion_task.FusionTask`.

A thin recipe over :func:`~mmtutorial.training.fit`: the dataset is the row indices of the train split, the
loss is the cross-entropy of ``model(task.inputs("train", rows, drop=...))``, the optimizer plain AdamW at a
constant learning rate (no warm-up, no clipping), as a small benchmark wants.
"""

from __future__ import annotations

import torch
from torch import nn

from mmtutorial._validate import check_positive
from mmtutorial.data.fusion_task import FusionTask
from mmtutorial.training.config import TrainConfig
from mmtutorial.training.data import TensorDictDataset
from mmtutorial.training.loop import FitResult, fit


def train_classifier(
    model: nn.Module,
    task: FusionTask,
    epochs: int = 15,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    modality_dropout: float = 0.0,
    progress: bool = False,
) -> FitResult:
    """Train ``model`` (``{modality: EncoderOutput}`` -> logits ``(B, C)``) on ``task``'s train split.

    ``epochs`` passes of ``N // batch_size`` AdamW steps (weight decay 1e-4 on matrices, constant ``lr``).
    ``modality_dropout``: per step, each modality is dropped (given as ``None``) with this probability,
    never all of them, so a missing modality is a condition the model has seen. Returns the
    :class:`~mmtutorial.training.FitResult` (``.model`` is ``model``, trained in place).
    """
    check_positive("epochs", epochs)
    check_positive("batch_size", batch_size)
    check_positive("modality_dropout", modality_dropout, allow_zero=True)
    if modality_dropout >= 1:
        raise ValueError(f"modality_dropout must be < 1, got {modality_dropout}")
    n, modalities = task.size("train"), list(task.dims)
    labels = task.labels["train"]

    def loss_fn(m: nn.Module, batch: dict) -> torch.Tensor:
        rows = batch["row"]
        drop = []
        if modality_dropout > 0:
            drop = [k for k in modalities if torch.rand(()) < modality_dropout][: len(modalities) - 1]
        return nn.functional.cross_entropy(m(task.inputs("train", rows, drop=drop)), labels[rows])

    steps = epochs * (n // batch_size)
    config = TrainConfig(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        weight_decay=1e-4,
        betas=(0.9, 0.999),
        warmup_steps=0,
        min_lr_ratio=1.0,
        grad_clip=0.0,
        seed=seed,
        log_every=max(1, steps),
        progress=progress,
        tensorboard=False,
        plot=False,
    )
    return fit(model, loss_fn, TensorDictDataset({"row": torch.arange(n)}), config)
