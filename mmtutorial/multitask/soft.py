"""Soft parameter sharing (软参数共享): one tower per task, tied together softly.

* **L2 coupling** (Duong et al. 2015): towers of the same shape, plus a penalty
  ``λ Σ_{s<t} Σ_layers |W_s - W_t|²`` that pulls corresponding weights together (λ → ∞ is hard sharing,
  λ = 0 independent models).
* **Cross-stitch units** (Misra et al. 2016): after every hidden layer, each task's activation becomes a
learned
  mix of all towers' activations, ``h̃_t = Σ_s α_ts h_s``, with ``α`` initialised near the identity
  (``α_tt = 0.9``, the rest share 0.1); the α's are the only shared parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mmtutorial._validate import check_positive
from mmtutorial.multitask.base import MultiTaskModel, check_task_classes, mlp


class SoftSharing(MultiTaskModel):
    """One MLP tower ``hidden`` + head per task; :meth:`regularizer` is ``coupling · Σ_{s<t} |θ_s -
    θ_t|²``."""

    def __init__(
        self,
        in_dim: int,
        task_classes: Mapping[str, int],
        hidden: Sequence[int] = (128, 64),
        coupling: float = 1e-3,
    ) -> None:
        super().__init__()
        check_positive("in_dim", in_dim)
        check_positive("coupling", coupling, allow_zero=True)
        if not hidden:
            raise ValueError("hidden must name at least one tower layer, got ()")
        self.in_dim, self.task_classes, self.coupling = in_dim, check_task_classes(task_classes), coupling
        self.towers = nn.ModuleDict({t: mlp(in_dim, hidden) for t in self.task_classes})
        self.heads = nn.ModuleDict({t: nn.Linear(hidden[-1], k) for t, k in self.task_classes.items()})

    def shared_parameters(self) -> list[nn.Parameter]:
        return []  # nothing is shared: tasks meet only through the penalty

    def coupling_penalty(self) -> torch.Tensor:
        """0-dim ``Σ_{s<t} Σ_params |θ_s - θ_t|²`` over corresponding tower parameters."""
        towers = [list(tw.parameters()) for tw in self.towers.values()]
        total = torch.zeros(())
        for a in range(len(towers)):
            for b in range(a + 1, len(towers)):
                total = total + sum(((p - q) ** 2).sum() for p, q in zip(towers[a], towers[b], strict=True))
        return total

    def regularizer(self) -> torch.Tensor:
        return self.coupling * self.coupling_penalty()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x (B, in_dim)`` -> ``{task: logits (B, K_t)}``."""
        x = self._check_input(x)
        return {t: self.heads[t](self.towers[t](x)) for t in self.task_classes}


class CrossStitch(MultiTaskModel):
    """Per-task towers whose hidden activations are mixed by cross-stitch units ``α (T, T)`` after each
    layer."""

    def __init__(
        self,
        in_dim: int,
        task_classes: Mapping[str, int],
        hidden: Sequence[int] = (128, 64),
        self_weight: float = 0.9,
    ) -> None:
        super().__init__()
        check_positive("in_dim", in_dim)
        if not hidden:
            raise ValueError("hidden must name at least one tower layer, got ()")
        if not 0 < self_weight <= 1:
            raise ValueError(f"self_weight must be in (0, 1], got {self_weight}")
        self.in_dim, self.task_classes = in_dim, check_task_classes(task_classes)
        T = len(self.task_classes)
        dims = [in_dim, *hidden]
        self.layers = nn.ModuleList(
            nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for _ in range(T)) for i in range(len(hidden))
        )
        init = torch.full((T, T), (1 - self_weight) / max(T - 1, 1))
        init.fill_diagonal_(self_weight if T > 1 else 1.0)
        self.stitch = nn.ParameterList(nn.Parameter(init.clone()) for _ in hidden)
        self.heads = nn.ModuleDict({t: nn.Linear(hidden[-1], k) for t, k in self.task_classes.items()})

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.stitch.parameters())

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x (B, in_dim)`` -> ``{task: logits (B, K_t)}``."""
        x = self._check_input(x)
        hs = [x] * len(self.task_classes)  # one activation per tower
        for linears, alpha in zip(self.layers, self.stitch, strict=True):
            h = torch.stack([torch.relu(lin(hi)) for lin, hi in zip(linears, hs, strict=True)])  # (T, B, H)
            hs = list(torch.einsum("ts,sbh->tbh", alpha, h))  # h̃_t = Σ_s α_ts h_s
        return {t: head(h) for (t, head), h in zip(self.heads.items(), hs, strict=True)}
