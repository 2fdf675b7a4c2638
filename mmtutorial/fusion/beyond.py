"""Beyond the article: FiLM, cross-modal Transformer, Flamingo gated cross-attention, Perceiver resampler."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mmtutorial.encoders.base import EncoderOutput, masked_mean
from mmtutorial.fusion.base import Fusion, check_width, safe_key_padding_mask


def _check_target(dims: Mapping[str, int], target: str | None) -> str:
    if len(dims) < 2:
        raise ValueError(f"dims must name at least 2 modalities for a conditioning fusion, got {list(dims)}")
    target = next(iter(dims)) if target is None else target
    if target not in dims:
        raise ValueError(f"target must be one of {list(dims)}, got {target!r}")
    return target


class FiLM(Fusion):
    r"""Feature-wise linear modulation (Perez et al. 2018): the others scale and shift the target's tokens.

    .. math::
        c = [x_{n}]_{n \ne t}, \quad \gamma = 1 + W_\gamma c, \quad \beta = W_\beta c, \quad
        u_\tau = \mathrm{ReLU}(\gamma \odot W_t x_{t,\tau} + \beta), \quad y = W_o\,\overline{u}

    ``x_{t,\tau}`` are the target modality's tokens ``(B, T, D_t)``; ``c`` the concatenated pooled vectors of
    the conditioning modalities; ``gamma``, ``beta`` ``(B, d)``; ``\overline u`` the masked mean ``(B, d)``;
    ``y`` ``(B, out_dim)``. The product ``gamma * (W_t x)`` is a multiplicative interaction. ``target``
    defaults to the first modality of ``dims``. Missing modality: learned missing embedding (conditioning
    side) or one learned missing token (target side).
    """

    def __init__(
        self, dims: Mapping[str, int], out_dim: int, hidden: int = 32, target: str | None = None
    ) -> None:
        super().__init__(dims, out_dim)
        check_width("hidden", hidden)
        self.target = _check_target(dims, target)
        self.cond = [m for m in self.modalities if m != self.target]
        self.proj = nn.Linear(self.dims[self.target], hidden)
        self.film = nn.Linear(sum(self.dims[m] for m in self.cond), 2 * hidden)
        self.out = nn.Linear(hidden, out_dim)

    def fuse(self, inputs: dict[str, EncoderOutput | None], batch: int) -> torch.Tensor:
        c = torch.cat([self.pooled(inputs, m, batch) for m in self.cond], dim=-1)
        d_gamma, beta = self.film(c).chunk(2, dim=-1)  # (B, d) each
        tok, mask = self.tokens(inputs, self.target, batch)
        u = torch.relu((1 + d_gamma).unsqueeze(1) * self.proj(tok) + beta.unsqueeze(1))  # (B, T, d)
        return self.out(masked_mean(u, mask))


class _TokenProjector(nn.Module):
    """Maps each modality's tokens to a shared width and tags them with a learned modality embedding."""

    def __init__(self, dims: Mapping[str, int], width: int) -> None:
        super().__init__()
        self.proj = nn.ModuleDict({m: nn.Linear(d, width) for m, d in dims.items()})
        self.embed = nn.ParameterDict({m: nn.Parameter(0.02 * torch.randn(width)) for m in dims})

    def forward(self, m: str, tokens: torch.Tensor) -> torch.Tensor:
        return self.proj[m](tokens) + self.embed[m]


class CrossModalTransformer(Fusion):
    r"""One pre-LN Transformer encoder layer over all modalities' tokens as one sequence ("single stream").

    .. math::
        u = [W_1 X_1 + e_1;\ \dots;\ W_M X_M + e_M], \quad
        u \leftarrow u + \mathrm{MHA}(\mathrm{LN}(u)), \quad
        u \leftarrow u + \mathrm{FFN}(\mathrm{LN}(u)), \quad
        y = W_o\, \overline{u}

    Every token attends to every other, within and across modalities (VisualBERT/UNITER style), with a
    residual stream and a feed-forward layer; ``u`` ``(B, \sum_m T_m, d)``, ``\overline u`` its masked mean,
    ``y`` ``(B, out_dim)``. Uses ``nn.TransformerEncoderLayer`` (``norm_first=True``, no dropout). Missing
    modality: one learned missing token stands in for its sequence.
    """

    def __init__(self, dims: Mapping[str, int], out_dim: int, hidden: int = 32, heads: int = 4) -> None:
        super().__init__(dims, out_dim)
        check_width("hidden", hidden, heads)
        self.embed = _TokenProjector(self.dims, hidden)
        self.layer = nn.TransformerEncoderLayer(
            hidden, heads, dim_feedforward=2 * hidden, dropout=0.0, batch_first=True, norm_first=True
        )
        self.out = nn.Linear(hidden, out_dim)

    def fuse(self, inputs: dict[str, EncoderOutput | None], batch: int) -> torch.Tensor:
        seq = [self.tokens(inputs, m, batch) for m in self.modalities]
        u = torch.cat([self.embed(m, t) for m, (t, _) in zip(self.modalities, seq, strict=True)], dim=1)
        mask = torch.cat([k for _, k in seq], dim=1)
        u = self.layer(u, src_key_padding_mask=safe_key_padding_mask(mask))
        return self.out(masked_mean(u, mask))


class GatedCrossAttention(Fusion):
    r"""Flamingo-style gated cross-attention (Alayrac et al. 2022): a gentle way to add a modality to a model.

    The query stream ``Y`` is the target modality's tokens ``(B, T, D_t)``; the context ``C`` is the other
    modalities' tokens projected to ``D_t`` and concatenated. Two gated residual updates:

    .. math::
        Y \leftarrow Y + \tanh(a_{\mathrm{attn}})\, \mathrm{MHA}(\mathrm{LN}(Y), C, C), \qquad
        Y \leftarrow Y + \tanh(a_{\mathrm{ff}})\, \mathrm{FFN}(\mathrm{LN}(Y)), \qquad y = W_o\, \overline{Y}

    The scalar gates start at ``a = 0``, so at initialisation the block is *exactly the identity* on ``Y``
    (a pretrained language model is untouched until the gates open); ``y`` ``(B, out_dim)`` is then a
    function of the target modality alone, and only the gates receive a gradient at the very first step.
    ``target`` defaults to the first modality; ``D_t`` must be divisible by ``heads``. Missing modality:
    one learned missing token stands in for its sequence.
    """

    def __init__(
        self, dims: Mapping[str, int], out_dim: int, heads: int = 2, target: str | None = None
    ) -> None:
        super().__init__(dims, out_dim)
        self.target = _check_target(dims, target)
        width = self.dims[self.target]
        check_width(f"dims[{self.target!r}]", width, heads)
        self.context_modalities = [m for m in self.modalities if m != self.target]
        self.context = _TokenProjector({m: self.dims[m] for m in self.context_modalities}, width)
        self.norm_attn = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm_ff = nn.LayerNorm(width)
        self.ff = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))
        self.gate_attn = nn.Parameter(torch.zeros(()))
        self.gate_ff = nn.Parameter(torch.zeros(()))
        self.out = nn.Linear(width, out_dim)

    def block(
        self, y: torch.Tensor, y_mask: torch.Tensor, ctx: torch.Tensor, ctx_mask: torch.Tensor
    ) -> torch.Tensor:
        """The gated block alone: queries ``(B, T, D_t)`` + context ``(B, S, D_t)`` -> ``(B, T, D_t)``."""
        a, _ = self.attn(
            self.norm_attn(y), ctx, ctx, key_padding_mask=safe_key_padding_mask(ctx_mask), need_weights=False
        )
        y = y + torch.tanh(self.gate_attn) * a
        return y + torch.tanh(self.gate_ff) * self.ff(self.norm_ff(y))

    def fuse(self, inputs: dict[str, EncoderOutput | None], batch: int) -> torch.Tensor:
        y, y_mask = self.tokens(inputs, self.target, batch)
        ctx_seq = [self.tokens(inputs, m, batch) for m in self.context_modalities]
        ctx = torch.cat(
            [self.context(m, t) for m, (t, _) in zip(self.context_modalities, ctx_seq, strict=True)], dim=1
        )
        ctx_mask = torch.cat([k for _, k in ctx_seq], dim=1)
        return self.out(masked_mean(self.block(y, y_mask, ctx, ctx_mask), y_mask))


class PerceiverResampler(Fusion):
    r"""Perceiver-style resampler (Jaegle et al. 2021; as in Flamingo): ``L`` learned latents read all tokens.

    .. math::
        X = [W_1 X_1 + e_1;\ \dots;\ W_M X_M + e_M], \quad
        Z \leftarrow Z + \mathrm{MHA}(\mathrm{LN}(Z), \mathrm{LN}([X; Z]), \mathrm{LN}([X; Z])), \quad
        Z \leftarrow Z + \mathrm{FFN}(\mathrm{LN}(Z)), \quad y = W_o\, \overline{Z}

    ``Z`` ``(B, L, d)`` starts as the learned latents; as in Flamingo the keys/values are the tokens *and* the
    latents. The cost is ``O(L \sum_m T_m)`` rather than quadratic in the number of tokens, and the output
    size is fixed whatever the inputs' lengths. ``y`` ``(B, out_dim)`` from the mean latent. Missing modality:
    simply absent from ``X`` (the latents still give a non-empty key set), so no missing embedding is needed.
    """

    uses_missing_embedding = False

    def __init__(
        self, dims: Mapping[str, int], out_dim: int, hidden: int = 32, latents: int = 4, heads: int = 4
    ) -> None:
        super().__init__(dims, out_dim)
        check_width("hidden", hidden, heads)
        check_width("latents", latents)
        self.embed = _TokenProjector(self.dims, hidden)
        self.latents = nn.Parameter(torch.randn(latents, hidden) / hidden**0.5)
        self.norm_x = nn.LayerNorm(hidden)
        self.norm_z = nn.LayerNorm(hidden)
        self.attn = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.norm_ff = nn.LayerNorm(hidden)
        self.ff = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.Linear(2 * hidden, hidden))
        self.out = nn.Linear(hidden, out_dim)

    def fuse(self, inputs: dict[str, EncoderOutput | None], batch: int) -> torch.Tensor:
        present = [m for m in self.modalities if inputs[m] is not None]
        x = torch.cat([self.embed(m, inputs[m].tokens) for m in present], dim=1)  # (B, S, d)
        z = self.latents.unsqueeze(0).expand(batch, -1, -1)  # (B, L, d)
        kv = torch.cat([self.norm_x(x), self.norm_z(z)], dim=1)
        kv_mask = torch.cat(
            [inputs[m].mask for m in present] + [z.new_ones(z.shape[:2], dtype=torch.bool)], 1
        )
        a, _ = self.attn(self.norm_z(z), kv, kv, key_padding_mask=~kv_mask, need_weights=False)
        z = z + a
        z = z + self.ff(self.norm_ff(z))
        return self.out(z.mean(1))
