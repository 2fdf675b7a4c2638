"""简单拼接 Concatenation: late (of pooled vectors) and early (of token sequences)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mmtutorial.encoders.base import EncoderOutput
from mmtutorial.fusion.base import Fusion, check_width, masked_softmax


class LateConcat(Fusion):
    r"""Late concatenation of pooled features followed by one linear map.

    .. math:: y = W\,[x_1; x_2; \dots; x_M] + b = \sum_m W_m x_m + b

    ``x_m`` is modality ``m``'s pooled vector ``(B, D_m)``; ``W`` is ``(out_dim, \sum_m D_m)``; ``y`` is
    ``(B, out_dim)``. The output is a *sum of one term per modality*: read out linearly it cannot represent an
    interaction such as "image colour equals audio colour" (an XOR-like pattern); only a non-linear layer
    after it could. Missing modality: its learned missing embedding replaces ``x_m``.
    """

    def __init__(self, dims: Mapping[str, int], out_dim: int) -> None:
        super().__init__(dims, out_dim)
        self.proj = nn.Linear(sum(self.dims.values()), out_dim)

    def fuse(self, inputs: dict[str, EncoderOutput | None], batch: int) -> torch.Tensor:
        x = torch.cat([self.pooled(inputs, m, batch) for m in self.modalities], dim=-1)  # (B, sum D_m)
        return self.proj(x)


class EarlyConcat(Fusion):
    r"""Early concatenation of token sequences, pooled by one learned attention query.

    Each modality's tokens are mapped to a shared width ``d`` and tagged with a learned modality embedding,
    then all sequences are concatenated along time and pooled by a single learned query ``q``:

    .. math::
        u_{t} = W_{m(t)} x_t + e_{m(t)}, \quad
        \alpha = \mathrm{softmax}_t\!\left(q^\top u_t / \sqrt d\right), \quad
        y = W_o \sum_t \alpha_t u_t

    Shapes: tokens ``(B, T_m, D_m)`` -> ``(B, \sum_m T_m, d)`` -> ``(B, d)`` -> ``(B, out_dim)``. Padding
    tokens get weight 0. Missing modality: one learned missing token stands in for its sequence.
    """

    def __init__(self, dims: Mapping[str, int], out_dim: int, hidden: int = 32) -> None:
        super().__init__(dims, out_dim)
        check_width("hidden", hidden)
        self.hidden = hidden
        self.proj = nn.ModuleDict({m: nn.Linear(d, hidden) for m, d in self.dims.items()})
        self.modality_embedding = nn.ParameterDict(
            {m: nn.Parameter(0.02 * torch.randn(hidden)) for m in dims}
        )
        self.query = nn.Parameter(torch.randn(hidden) / hidden**0.5)
        self.out = nn.Linear(hidden, out_dim)

    def fuse(self, inputs: dict[str, EncoderOutput | None], batch: int) -> torch.Tensor:
        toks, masks = [], []
        for m in self.modalities:
            t, k = self.tokens(inputs, m, batch)
            toks.append(self.proj[m](t) + self.modality_embedding[m])
            masks.append(k)
        u, mask = torch.cat(toks, dim=1), torch.cat(masks, dim=1)  # (B, T, d), (B, T)
        alpha = masked_softmax(u @ self.query / self.hidden**0.5, mask)  # (B, T)
        return self.out((alpha.unsqueeze(-1) * u).sum(1))
