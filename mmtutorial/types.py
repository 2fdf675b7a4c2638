"""The contract every layer shares: what an encoder returns, and the masked mean that pools it.

An encoder maps a batch of one modality to
- ``tokens``: ``(B, T, D)`` a sequence of feature vectors (patches, words, frames, ...);
- ``mask``: ``(B, T)`` bool, True where a token is real and False where it is padding;
- ``pooled``: ``(B, D)`` one vector per sample (class token or masked mean of ``tokens``).
Fusion modules take a dict ``{modality: EncoderOutput}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class EncoderOutput:
    """Tokens ``(B, T, D)``, padding mask ``(B, T)`` (True = real token) and pooled ``(B, D)``."""

    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor

    def __post_init__(self) -> None:
        t, m, p = self.tokens, self.mask, self.pooled
        if t.ndim != 3:
            raise ValueError(f"tokens must be (B, T, D), got shape {tuple(t.shape)}")
        if m.shape != t.shape[:2] or m.dtype != torch.bool:
            raise ValueError(
                f"mask must be a bool tensor of shape {tuple(t.shape[:2])}, got {tuple(m.shape)} {m.dtype}"
            )
        if p.shape != (t.shape[0], t.shape[2]):
            raise ValueError(f"pooled must have shape {(t.shape[0], t.shape[2])}, got {tuple(p.shape)}")

    @property
    def batch_size(self) -> int:
        return self.tokens.shape[0]

    @property
    def dim(self) -> int:
        return self.tokens.shape[2]


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``tokens`` ``(B, T, D)`` over real positions of ``mask`` ``(B, T)``; ``(B, D)``.

    A row with no real token gives zeros, not NaN; values at padded positions never matter (even NaN/inf).
    """
    w = mask.to(tokens.dtype).unsqueeze(-1)
    # where(), not a product: NaN * 0 is NaN, so a product would let NaN in the padding through.
    return torch.where(w != 0, tokens * w, 0.0).sum(1) / w.sum(1).clamp_min(1.0)
