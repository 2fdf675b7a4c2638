"""注意力融合 Attention Fusion: softmax weights over modalities, and token-level cross-attention."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mmtutorial.encoders.base import EncoderOutput, masked_mean
from mmtutorial.fusion.base import Fusion, check_width, masked_softmax, safe_key_padding_mask


class ModalityAttention(Fusion):
    r"""Attention weights over modalities, computed from the inputs themselves.

    .. math::
        v_m = W_m x_m + b_m, \quad s_m = w^\top \tanh(U v_m), \quad
        \alpha = \mathrm{softmax}_m(s), \quad y = W_o \sum_m \alpha_m v_m

    ``x_m`` pooled ``(B, D_m)``; ``v_m`` ``(B, d)``; ``alpha`` ``(B, M)`` (kept in ``last_weights`` for
    inspection); ``y`` ``(B, out_dim)``. The weights depend on every modality, so the mix adapts per sample
    (e.g. down-weights a noisy modality). Missing modality: left out of the softmax (weight exactly 0), so it
    needs no missing embedding.
    """

    uses_missing_embedding = False

    def __init__(self, dims: Mapping[str, int], out_dim: int, hidden: int = 32) -> None:
        super().__init__(dims, out_dim)
        check_width("hidden", hidden)
        self.proj = nn.ModuleDict({m: nn.Linear(d, hidden) for m, d in self.dims.items()})
        self.score = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=False))
        self.out = nn.Linear(hidden, out_dim)
        self.last_weights: torch.Tensor | None = None

    def fuse(self, inputs: dict[str, EncoderOutput | None], batch: int) -> torch.Tensor:
        ref = next(x for x in inputs.values() if x is not None).pooled
        present = [inputs[m] is not None for m in self.modalities]
        v = torch.stack(
            [
                self.proj[m](inputs[m].pooled) if ok else ref.new_zeros(batch, self.proj[m].out_features)
                for m, ok in zip(self.modalities, present, strict=True)
            ],
            dim=1,
        )  # (B, M, d)
        # (B, M): modality m is there for sample b if it was given and has a real token for b
        mask = torch.stack(
            [
                inputs[m].mask.any(dim=1) if ok else torch.zeros(batch, dtype=torch.bool, device=ref.device)
                for m, ok in zip(self.modalities, present, strict=True)
            ],
            dim=1,
        )
        v = v.masked_fill(~mask.unsqueeze(-1), 0.0)  # a missing modality's value never reaches the output
        alpha = masked_softmax(self.score(v).squeeze(-1), mask)  # (B, M)
        self.last_weights = alpha.detach()
        return self.out((alpha.unsqueeze(-1) * v).sum(1))


class CrossAttention(Fusion):
    r"""Token-level cross-attention: every modality's tokens attend to the tokens of all the others.

    For modality ``m`` with projected tokens ``Q_m`` ``(B, T_m, d)`` and the other modalities' projected
    tokens concatenated ``C_{\setminus m}`` ``(B, \sum_{n\ne m} T_n, d)``:

    .. math::
        h_m = \mathrm{softmax}\!\left(\frac{Q_m W_Q (C W_K)^\top}{\sqrt{d_h}}\right) C W_V, \quad
        y = W_o\,[\bar h_1; \dots; \bar h_M]

    (multi-head), where ``\bar h_m`` is the masked mean over ``m``'s real tokens; ``y`` ``(B, out_dim)``.
    A single bare attention layer: no residual, no feed-forward (see :class:`CrossModalTransformer` for the
    full block). With one modality configured it attends to itself. Missing modality: one learned missing
    token stands in for its sequence (as query and as key).
    """

    def __init__(self, dims: Mapping[str, int], out_dim: int, hidden: int = 32, heads: int = 4) -> None:
        super().__init__(dims, out_dim)
        check_width("hidden", hidden, heads)
        self.proj = nn.ModuleDict({m: nn.Linear(d, hidden) for m, d in self.dims.items()})
        self.attn = nn.ModuleDict(
            {m: nn.MultiheadAttention(hidden, heads, batch_first=True) for m in self.modalities}
        )
        self.out = nn.Linear(hidden * len(self.modalities), out_dim)

    def fuse(self, inputs: dict[str, EncoderOutput | None], batch: int) -> torch.Tensor:
        seq = {m: self.tokens(inputs, m, batch) for m in self.modalities}
        proj = {m: (self.proj[m](t), k) for m, (t, k) in seq.items()}
        pooled = []
        for m in self.modalities:
            others = [n for n in self.modalities if n != m] or [m]
            ctx = torch.cat([proj[n][0] for n in others], dim=1)
            ctx_mask = torch.cat([proj[n][1] for n in others], dim=1)
            q, q_mask = proj[m]
            h, _ = self.attn[m](
                q, ctx, ctx, key_padding_mask=safe_key_padding_mask(ctx_mask), need_weights=False
            )
            pooled.append(masked_mean(h, q_mask))
        return self.out(torch.cat(pooled, dim=-1))
