"""What every multi-task model here shares: a dict of task heads, ``forward(x) -> {task: logits}``, and a
split
of its parameters into *shared* ones (where task gradients can conflict) and task-specific ones."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mmtutorial._validate import check_positive, check_tensor


def mlp(in_dim: int, hidden: Sequence[int]) -> nn.Sequential:
    """``Linear -> ReLU`` per entry of ``hidden``: ``(B, in_dim) -> (B, hidden[-1])`` (identity if empty)."""
    layers: list[nn.Module] = []
    for h in hidden:
        check_positive("hidden entry", h)
        layers += [nn.Linear(in_dim, h), nn.ReLU()]
        in_dim = h
    return nn.Sequential(*layers)


def check_task_classes(task_classes: Mapping[str, int]) -> dict[str, int]:
    """``{task: number of classes}`` with at least one task and ≥ 2 classes each; returned as a dict."""
    if not isinstance(task_classes, Mapping) or not task_classes:
        raise ValueError(f"task_classes must be a non-empty mapping task -> classes, got {task_classes!r}")
    for t, k in task_classes.items():
        if not isinstance(k, int) or k < 2:
            raise ValueError(f"task_classes[{t!r}] must be an int >= 2, got {k!r}")
    return dict(task_classes)


class MultiTaskModel(nn.Module, ABC):
    """Base: subclasses build ``self.heads`` (an ``nn.ModuleDict``) and implement ``forward``."""

    in_dim: int
    task_classes: dict[str, int]

    @property
    def tasks(self) -> list[str]:
        return list(self.task_classes)

    @abstractmethod
    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters every task's loss reaches (gradient aggregation acts on these)."""

    def task_parameters(self) -> list[nn.Parameter]:
        """Every parameter that is not shared."""
        shared = {id(p) for p in self.shared_parameters()}
        return [p for p in self.parameters() if id(p) not in shared]

    def regularizer(self) -> torch.Tensor:
        """Extra loss the model asks for (soft sharing's coupling); 0 by default."""
        return torch.zeros(())

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        return check_tensor("x", x, shape=(None, self.in_dim), floating=True)
