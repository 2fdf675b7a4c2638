"""交互融合 Interactive Fusion: element-wise product, bilinear, tensor fusion and low-rank tensor fusion."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import torch
from torch import nn

from mmtutorial.encoders.base import EncoderOutput
from mmtutorial.fusion.base import Fusion, check_width


class ElementwiseProduct(Fusion):
    r"""Element-wise (Hadamard) product of projected pooled features.

    .. math:: h_m = W_m x_m + b_m, \qquad y = W_o (h_1 \odot h_2 \odot \dots \odot h_M) + b_o

    ``x_m`` ``(B, D_m)``, ``h_m`` ``(B, d)``, ``y`` ``(B, out_dim)``. Each output coordinate is a sum of
    products across modalities, i.e. a low-rank multilinear interaction (this is the "MLB" low-rank bilinear
    pooling of Kim et al. 2017 for two modalities). Missing modality: its learned missing embedding replaces
    ``x_m``.
    """

    def __init__(self, dims: Mapping[str, int], out_dim: int, hidden: int = 32) -> None:
        super().__init__(dims, out_dim)
        check_width("hidden", hidden)
        self.proj = nn.ModuleDict({m: nn.Linear(d, hidden) for m, d in self.dims.items()})
        self.out = nn.Linear(hidden, out_dim)

    def fuse(self, inputs: dict[str, EncoderOutput | None], batch: int) -> torch.Tensor:
        h = None
        for m in self.modalities:
            hm = self.proj[m](self.pooled(inputs, m, batch))
            h = hm if h is None else h * hm
        return self.out(h)


class BilinearFusion(Fusion):
    r"""Full bilinear interaction of every pair of modalities, plus the linear terms.

    .. math:: y_k = \sum_{m<n} x_m^\top A^{(mn)}_k x_n + \sum_m w_{m,k}^\top x_m + b_k

    with one ``nn.Bilinear(D_m, D_n, out_dim)`` per pair (``A^{(mn)}`` is ``(out_dim, D_m, D_n)``) and the
    linear terms of :class:`LateConcat`. ``x_m`` ``(B, D_m)``, ``y`` ``(B, out_dim)``. Parameters grow as
    ``out_dim * D_m * D_n`` per pair; :class:`ElementwiseProduct` is its low-rank cousin. With one modality
    configured only the linear term remains. Missing modality: its learned missing embedding replaces ``x_m``.
    """

    def __init__(self, dims: Mapping[str, int], out_dim: int) -> None:
        super().__init__(dims, out_dim)
        self.pairs = list(itertools.combinations(self.modalities, 2))
        self.bilinear = nn.ModuleList(
            [nn.Bilinear(self.dims[a], self.dims[b], out_dim, bias=False) for a, b in self.pairs]
        )
        self.linear = nn.Linear(sum(self.dims.values()), out_dim)

    def fuse(self, inputs: dict[str, EncoderOutput | None], batch: int) -> torch.Tensor:
        x = {m: self.pooled(inputs, m, batch) for m in self.modalities}
        y = self.linear(torch.cat([x[m] for m in self.modalities], dim=-1))
        for (a, b), bil in zip(self.pairs, self.bilinear, strict=True):
            y = y + bil(x[a], x[b])
        return y


def _with_one(h: torch.Tensor) -> torch.Tensor:
    """``(B, d)`` -> ``(B, d + 1)``: prepend the constant 1 that keeps lower-order terms in the product."""
    return torch.cat([h.new_ones(h.shape[0], 1), h], dim=-1)


class TensorFusion(Fusion):
    r"""Tensor fusion (Zadeh et al. 2017): outer product of modality vectors, each extended by a constant 1.

    .. math::
        h_m = \mathrm{ReLU}(W_m x_m + b_m), \quad
        Z = \begin{bmatrix}1\\h_1\end{bmatrix} \otimes \begin{bmatrix}1\\h_2\end{bmatrix} \otimes \dots, \quad
        y = W_o\,\mathrm{vec}(Z) + b_o

    Thanks to the 1s, ``Z`` holds the constant, every unimodal feature, every pairwise product, ... up to the
    ``M``-way products. ``h_m`` ``(B, r)``, ``vec(Z)`` ``(B, (r+1)^M)``, ``y`` ``(B, out_dim)``; ``r`` is
    ``hidden`` and the output layer costs ``out_dim (r+1)^M`` parameters (exponential in ``M``). Missing
    modality: its learned missing embedding replaces ``x_m``.
    """

    def __init__(self, dims: Mapping[str, int], out_dim: int, hidden: int = 8) -> None:
        super().__init__(dims, out_dim)
        check_width("hidden", hidden)
        self.proj = nn.ModuleDict({m: nn.Linear(d, hidden) for m, d in self.dims.items()})
        self.out = nn.Linear((hidden + 1) ** len(self.modalities), out_dim)

    def fuse(self, inputs: dict[str, EncoderOutput | None], batch: int) -> torch.Tensor:
        z = None
        for m in self.modalities:
            h = _with_one(torch.relu(self.proj[m](self.pooled(inputs, m, batch))))  # (B, r+1)
            z = h if z is None else torch.einsum("bi,bj->bij", z, h).reshape(batch, -1)
        return self.out(z)


class LowRankTensorFusion(Fusion):
    r"""Low-rank multimodal fusion (Liu et al. 2018): tensor fusion with the weight tensor in rank-``R`` form.

    The tensor-fusion output ``y = \mathcal W \cdot \mathrm{vec}(\otimes_m [1; x_m])`` with
    ``\mathcal W = \sum_{i=1}^{R} \lambda_i \bigotimes_m w_m^{(i)}`` never builds the outer product:

    .. math:: y = \sum_{i=1}^{R} \lambda_i \prod_{m=1}^{M} \left([1; x_m]^\top W_m^{(i)}\right) + b

    Factors ``W_m`` are ``(R, D_m + 1, out_dim)``, ``lambda`` is ``(R,)``; cost is linear in ``M``.
    ``x_m`` ``(B, D_m)``, ``y`` ``(B, out_dim)``.

    The factors live in an ``nn.ParameterDict`` so they appear in ``.parameters()``, are moved by ``.to()``,
    saved in ``state_dict`` and updated by the optimiser. The best-known benchmark library (MultiBench's
    ``LowRankTensorFusion``) keeps them in a plain Python list, so they are *not* registered: an optimiser
    built from ``model.parameters()`` never trains them. Missing modality: its learned missing embedding
    replaces ``x_m``.
    """

    def __init__(self, dims: Mapping[str, int], out_dim: int, rank: int = 4) -> None:
        super().__init__(dims, out_dim)
        check_width("rank", rank)
        self.rank = rank
        self.factors = nn.ParameterDict(
            {m: nn.Parameter(torch.empty(rank, d + 1, out_dim)) for m, d in self.dims.items()}
        )
        for f in self.factors.values():
            nn.init.xavier_normal_(f)
        self.fusion_weights = nn.Parameter(torch.empty(1, rank))
        nn.init.xavier_normal_(self.fusion_weights)
        self.fusion_bias = nn.Parameter(torch.zeros(out_dim))

    def fuse(self, inputs: dict[str, EncoderOutput | None], batch: int) -> torch.Tensor:
        prod = None
        for m in self.modalities:
            x1 = _with_one(self.pooled(inputs, m, batch))  # (B, D_m + 1)
            zm = torch.einsum("bi,rio->bro", x1, self.factors[m])  # (B, R, out)
            prod = zm if prod is None else prod * zm
        return torch.einsum("r,bro->bo", self.fusion_weights[0], prod) + self.fusion_bias
