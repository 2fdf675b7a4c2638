"""Hierarchical multi-task learning (层次多任务学习): low-level tasks read low layers, high-level tasks high
ones.

Søgaard & Goldberg (2016) supervise each task at the depth that suits it: one shared stack of layers
``h_1 = f_1(x), h_2 = f_2(h_1), ...`` and task t's head reads ``h_{depth[t]}``. On emoji, "group" (9 classes)
reads layer 1 and "subgroup" (98) layer 2; on the shapes world, colour and shape read layer 1, count and
spatial
relation layer 2. Gradients of a low task touch only the layers below its depth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mmtutorial._validate import check_positive
from mmtutorial.multitask.base import MultiTaskModel, check_task_classes


class HierarchicalSharing(MultiTaskModel):
    """A stack ``hidden`` of ``Linear -> ReLU`` layers; task t's linear head reads layer ``depth[t]``
    (1-based)."""

    def __init__(
        self,
        in_dim: int,
        task_classes: Mapping[str, int],
        depth: Mapping[str, int],
        hidden: Sequence[int] = (128, 64),
    ) -> None:
        super().__init__()
        check_positive("in_dim", in_dim)
        self.in_dim, self.task_classes = in_dim, check_task_classes(task_classes)
        if set(depth) != set(self.task_classes):
            raise ValueError(f"depth must give a layer for every task {self.tasks}, got {dict(depth)}")
        for t, d in depth.items():
            if not isinstance(d, int) or not 1 <= d <= len(hidden):
                raise ValueError(f"depth[{t!r}] must be an int in [1, {len(hidden)}], got {d!r}")
        self.depth = dict(depth)
        dims = [in_dim, *hidden]
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Linear(dims[i], dims[i + 1]), nn.ReLU()) for i in range(len(hidden))
        )
        self.heads = nn.ModuleDict(
            {t: nn.Linear(hidden[self.depth[t] - 1], k) for t, k in self.task_classes.items()}
        )

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.layers.parameters())

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x (B, in_dim)`` -> ``{task: logits (B, K_t)}``."""
        h = self._check_input(x)
        levels = []
        for layer in self.layers:
            h = layer(h)
            levels.append(h)
        return {t: head(levels[self.depth[t] - 1]) for t, head in self.heads.items()}
