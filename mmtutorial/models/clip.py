"""A two-tower CLIP: two encoders, two projections and a learnable temperature; the loss lives apart.

As in open_clip, the model returns ``(emb_a, emb_b, logit_scale)`` and the caller picks the loss::

    from mmtutorial.losses import clip_loss
    loss = clip_loss(*model(images, texts))

``TwoTowerCLIP(encoder_a, encoder_b)``: each tower is any encoder returning
:class:`~mmtutorial.types.EncoderOutput`; its pooled vector ``(B, D_tower)`` goes through a linear
projection to the shared ``(B, embed_dim)`` space and is L2-normalised. The temperature is learned as in
CLIP: the parameter is ``log_scale`` (initialised to ``log(1 / 0.07)``), and the multiplier
``logit_scale = exp(log_scale)`` is clamped at 100 so the logits cannot blow up.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mmtutorial._validate import check_positive
from mmtutorial.types import EncoderOutput


def _run(encoder: nn.Module, inputs) -> EncoderOutput:
    out = encoder(**inputs) if isinstance(inputs, dict) else encoder(inputs)
    if not isinstance(out, EncoderOutput):
        raise ValueError(f"encoders must return EncoderOutput, got {type(out).__name__}")
    return out


class TwoTowerCLIP(nn.Module):
    """Two encoders + linear projections + a learnable logit scale (CLIP).

    Args:
        encoder_a, encoder_b: modules returning ``EncoderOutput``; called as ``enc(x)`` or ``enc(**x)`` when
            the input is a dict (e.g. a tokenizer's ``{"input_ids", "attention_mask"}``).
        dim_a, dim_b: widths of their pooled outputs (default: the encoder's ``.dim`` attribute).
        embed_dim: width of the shared space.
        init_temperature: initial ``1 / logit_scale`` (CLIP: 0.07).
        max_scale: clamp of ``logit_scale`` (CLIP: 100).
    """

    def __init__(
        self,
        encoder_a: nn.Module,
        encoder_b: nn.Module,
        *,
        dim_a: int | None = None,
        dim_b: int | None = None,
        embed_dim: int = 64,
        init_temperature: float = 0.07,
        max_scale: float = 100.0,
    ) -> None:
        super().__init__()
        check_positive("embed_dim", embed_dim)
        check_positive("init_temperature", init_temperature)
        check_positive("max_scale", max_scale)
        dim_a = dim_a or getattr(encoder_a, "dim", None)
        dim_b = dim_b or getattr(encoder_b, "dim", None)
        if not dim_a or not dim_b:
            raise ValueError(f"dim_a and dim_b are needed when an encoder has no .dim, got {dim_a}, {dim_b}")
        self.encoder_a, self.encoder_b = encoder_a, encoder_b
        self.proj_a = nn.Linear(dim_a, embed_dim, bias=False)
        self.proj_b = nn.Linear(dim_b, embed_dim, bias=False)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / init_temperature)))
        self.max_log_scale = math.log(max_scale)

    @property
    def logit_scale(self) -> torch.Tensor:
        """0-dim ``exp(log_scale)`` clamped at ``max_scale`` (no gradient through the clamp, as in CLIP)."""
        return self.log_scale.clamp(max=self.max_log_scale).exp()

    def encode_a(self, x) -> torch.Tensor:
        """``(B, embed_dim)`` L2-normalised embeddings of tower A's inputs."""
        return F.normalize(self.proj_a(_run(self.encoder_a, x).pooled), dim=-1)

    def encode_b(self, x) -> torch.Tensor:
        """``(B, embed_dim)`` L2-normalised embeddings of tower B's inputs."""
        return F.normalize(self.proj_b(_run(self.encoder_b, x).pooled), dim=-1)

    def forward(self, x_a, x_b) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(emb_a (B, E), emb_b (B, E), logit_scale ())``."""
        return self.encode_a(x_a), self.encode_b(x_b), self.logit_scale
