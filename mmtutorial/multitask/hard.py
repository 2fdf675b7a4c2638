"""Hard parameter sharing (硬参数共享): one trunk for all tasks, one linear head per task.

``x (B, D) -> trunk -> h (B, H) -> head_t -> logits_t (B, K_t)``. The trunk is the shared part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mmtutorial._validate import check_positive
from mmtutorial.multitask.base import MultiTaskModel, check_task_classes, mlp


class HardSharing(MultiTaskModel):
    """Shared MLP trunk ``hidden`` (e.g. ``(128, 64)``) and a ``Linear(hidden[-1], K_t)`` head per task.

    With one task it is the single-task baseline of the same size.
    """

    def __init__(
        self, in_dim: int, task_classes: Mapping[str, int], hidden: Sequence[int] = (128, 64)
    ) -> None:
        super().__init__()
        check_positive("in_dim", in_dim)
        if not hidden:
            raise ValueError("hidden must name at least one trunk layer, got ()")
        self.in_dim, self.task_classes = in_dim, check_task_classes(task_classes)
        self.trunk = mlp(in_dim, hidden)
        self.heads = nn.ModuleDict({t: nn.Linear(hidden[-1], k) for t, k in self.task_classes.items()})

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.trunk.parameters())

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x (B, in_dim)`` -> ``{task: logits (B, K_t)}``."""
        h = self.trunk(self._check_input(x))
        return {t: head(h) for t, head in self.heads.items()}
