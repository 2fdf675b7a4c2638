"""Classifiers over ``{modality: EncoderOutput}``: a fusion with a linear read-out, and a one-modality MLP."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mmtutorial.fusion import Fusion
from mmtutorial.types import EncoderOutput


class FusionClassifier(nn.Module):
    """A fusion module followed by a *linear* read-out: ``{modality: EncoderOutput}`` -> logits ``(B, C)``.

    The head is deliberately linear, so whatever interaction the model captures must come from the fusion.
    """

    def __init__(self, fusion: Fusion, n_classes: int) -> None:
        super().__init__()
        self.fusion = fusion
        self.head = nn.Linear(fusion.out_dim, n_classes)

    def forward(self, inputs: Mapping[str, EncoderOutput | None]) -> torch.Tensor:
        return self.head(self.fusion(inputs))


class UnimodalMLP(nn.Module):
    """A two-layer MLP on one modality's pooled vector ``(B, D) -> (B, C)`` (a single-modality baseline)."""

    def __init__(self, modality: str, dim: int, n_classes: int, hidden: int = 64) -> None:
        super().__init__()
        self.modality = modality
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, inputs: Mapping[str, EncoderOutput | None]) -> torch.Tensor:
        x = inputs.get(self.modality)
        if x is None:
            raise ValueError(f"inputs[{self.modality!r}] is missing; this model sees only that modality")
        return self.mlp(x.pooled)
