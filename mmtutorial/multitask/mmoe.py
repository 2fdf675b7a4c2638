"""Multi-gate mixture of experts, MMoE (Ma et al. 2018), beyond the article.

E shared expert MLPs, and one softmax gate per task that mixes them for each sample:
``g_t(x) = softmax(W_t x)  (B, E)``, ``h_t = Σ_e g_t(x)_e · expert_e(x)``, ``logits_t = head_t(h_t)``.
Tasks that need different features can route to different experts instead of fighting over one trunk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mmtutorial._validate import check_positive
from mmtutorial.multitask.base import MultiTaskModel, check_task_classes, mlp


class MMoE(MultiTaskModel):
    """``num_experts`` experts ``mlp(in_dim, hidden)`` shared by all tasks; a gate ``Linear(in_dim, E)``
    per task."""

    def __init__(
        self,
        in_dim: int,
        task_classes: Mapping[str, int],
        hidden: Sequence[int] = (64, 64),
        num_experts: int = 4,
    ) -> None:
        super().__init__()
        check_positive("in_dim", in_dim)
        check_positive("num_experts", num_experts)
        if not hidden:
            raise ValueError("hidden must name at least one expert layer, got ()")
        self.in_dim, self.task_classes = in_dim, check_task_classes(task_classes)
        self.experts = nn.ModuleList(mlp(in_dim, hidden) for _ in range(num_experts))
        self.gates = nn.ModuleDict({t: nn.Linear(in_dim, num_experts) for t in self.task_classes})
        self.heads = nn.ModuleDict({t: nn.Linear(hidden[-1], k) for t, k in self.task_classes.items()})
        self.last_gates: dict[str, torch.Tensor] = {}

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.experts.parameters())

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x (B, in_dim)`` -> ``{task: logits (B, K_t)}``; the gates ``(B, E)`` are kept in
        ``last_gates``."""
        x = self._check_input(x)
        experts = torch.stack([e(x) for e in self.experts], dim=1)  # (B, E, H)
        out = {}
        for t, gate in self.gates.items():
            g = torch.softmax(gate(x), dim=-1)
            self.last_gates[t] = g.detach()
            out[t] = self.heads[t]((g.unsqueeze(-1) * experts).sum(dim=1))
        return out
