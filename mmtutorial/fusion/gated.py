"""门控融合 Gated Fusion: the gated multimodal unit (GMU, Arevalo et al. 2017)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mmtutorial.encoders.base import EncoderOutput
from mmtutorial.fusion.base import Fusion


class GatedMultimodalUnit(Fusion):
    r"""Gated multimodal unit: learned gates decide, per feature and sample, how much of each modality passes.

    Arevalo et al. (2017), for two modalities:

    .. math::
        h_m = \tanh(W_m x_m), \quad z = \sigma(W_z [x_1; x_2]), \quad y = z \odot h_1 + (1 - z) \odot h_2

    For ``M`` modalities we use one gate logit vector per modality and a softmax across modalities,

    .. math:: g = W_z [x_1; \dots; x_M] \in \mathbb R^{M \times d}, \quad
              z_m = \mathrm{softmax}_m(g)_m, \quad y = \sum_m z_m \odot h_m

    which for ``M = 2`` is exactly the form above (the softmax of two logits is
    ``(\sigma(g_1-g_2), 1-\sigma(g_1-g_2))``).
    Shapes: ``x_m`` ``(B, D_m)``, ``h_m`` and ``z_m`` ``(B, d)``, gates ``(B, M, d)`` (kept in
    ``last_gates``), ``y`` ``(B, out_dim)`` with ``d = out_dim``. Because the gate depends on *all* inputs and
    multiplies ``h_m``, the GMU can express (weak) interactions. Missing modality: its learned missing
    embedding replaces ``x_m`` (in both ``h_m`` and the gate input).
    """

    def __init__(self, dims: Mapping[str, int], out_dim: int) -> None:
        super().__init__(dims, out_dim)
        self.h = nn.ModuleDict({m: nn.Linear(d, out_dim, bias=False) for m, d in self.dims.items()})
        self.gate = nn.Linear(sum(self.dims.values()), len(self.modalities) * out_dim)
        self.last_gates: torch.Tensor | None = None

    def fuse(self, inputs: dict[str, EncoderOutput | None], batch: int) -> torch.Tensor:
        xs = [self.pooled(inputs, m, batch) for m in self.modalities]
        h = torch.stack(
            [torch.tanh(self.h[m](x)) for m, x in zip(self.modalities, xs, strict=True)], dim=1
        )  # (B, M, d)
        g = self.gate(torch.cat(xs, dim=-1)).view(batch, len(self.modalities), self.out_dim)
        z = torch.softmax(g, dim=1)  # (B, M, d), sums to 1 over modalities
        self.last_gates = z.detach()
        return (z * h).sum(1)
