"""A tiny seeded classification problem shared by the training-engine tests (not a test module)."""

from __future__ import annotations

import torch
from torch import nn

from mmtutorial.training import TensorDictDataset, TrainConfig


def data(n: int = 96, seed: int = 0) -> TensorDictDataset:
    """``x`` ``(n, 6)`` Gaussian, ``y`` ``(n,)`` = whether ``x0 + x1 > 0``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    return TensorDictDataset({"x": x, "y": (x[:, 0] + x[:, 1] > 0).long()})


def ce(m: nn.Module, b: dict) -> torch.Tensor:
    return nn.functional.cross_entropy(m(b["x"]), b["y"])


def cfg(warmup_steps: int = 2, **kw) -> TrainConfig:
    """12 quiet steps of batch 32 at lr 1e-2 (no progress bar, TensorBoard or plot); ``kw`` overrides."""
    base = dict(steps=12, batch_size=32, lr=1e-2, progress=False, tensorboard=False, plot=False)
    return TrainConfig(**{**base, "warmup_steps": warmup_steps, **kw})
