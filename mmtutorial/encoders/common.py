"""Pieces shared by the from-scratch encoders: parameter counting and a pre-norm Transformer block.

The block is written out (not ``nn.TransformerEncoderLayer``) because masked attention is the lesson:

    x = x + MHA(LN(x))   # MHA(q, k, v) = softmax(q k^T / sqrt(d_head) + bias) v, bias = -inf on padded keys
    x = x + MLP(LN(x))   # MLP = Linear(D, 4D) -> GELU -> Linear(4D, D)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmtutorial._validate import check_positive
from mmtutorial.types import masked_mean


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters in ``module`` (only those with ``requires_grad`` if ``trainable_only``).

    The package's one parameter counter: everything by default, trainable ones on request.
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention over ``x`` (B, T, D); keys where ``mask`` (B, T) is False get no weight."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        check_positive("dim", dim)
        check_positive("heads", heads)
        if dim % heads:
            raise ValueError(f"dim must be divisible by heads, got dim={dim}, heads={heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, d = x.shape
        # (B, T, 3D) -> 3 x (B, heads, T, D/heads)
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        # attn_mask True = "may attend"; shape (B, 1, 1, T) broadcasts over heads and queries, so padded
        # keys get zero weight. Padded queries still produce (ignored) outputs from the real keys.
        attn_mask = None if mask is None else mask[:, None, None, :]
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class TransformerBlock(nn.Module):
    """Pre-norm Transformer block: ``x + MHA(LN(x))`` then ``x + MLP(LN(x))``; ``(B, T, D) -> (B, T, D)``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class TransformerStack(nn.Module):
    """``depth`` pre-norm blocks and a final LayerNorm; ``(B, T, D), mask (B, T) -> (B, T, D)``."""

    def __init__(
        self, dim: int, depth: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0
    ) -> None:
        super().__init__()
        check_positive("depth", depth)
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x)


def pool(tokens: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """``(B, T, D) -> (B, D)``: ``"cls"`` takes token 0, ``"mean"`` the mean over real tokens."""
    return tokens[:, 0] if how == "cls" else masked_mean(tokens, mask)
