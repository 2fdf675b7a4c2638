"""What every fusion module shares: the input contract and the handling of a missing modality.

A fusion module is built with ``dims = {modality: feature dim}`` and ``out_dim``; it takes
``{modality: EncoderOutput}`` (tokens ``(B, T, D_m)``, mask ``(B, T)``, pooled ``(B, D_m)``) and returns
``(B, out_dim)``. A modality whose key is absent or whose value is ``None`` is *missing* for the whole batch;
each module says in its docstring what it does then. Two strategies are used:

- a learned *missing embedding* ``e_m`` (``(D_m,)``) stands in for the pooled vector, or a single learned
  *missing token* stands in for the token sequence (``missing_pooled`` / ``missing_tokens`` below);
- masking: the modality is left out of a softmax (its weight is exactly zero).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping

import torch
from torch import nn

from mmtutorial._validate import check_positive, describe
from mmtutorial.encoders.base import EncoderOutput

Inputs = Mapping[str, EncoderOutput | None]


class Fusion(nn.Module, metaclass=abc.ABCMeta):
    """Base class: checks ``dims``/``out_dim`` at construction and every input dict at ``forward``.

    Subclasses implement ``fuse(inputs: dict[str, EncoderOutput | None], batch: int) -> (B, out_dim)``,
    where ``inputs`` holds every modality of ``dims`` (``None`` where missing) and at least one is present.
    """

    #: set by subclasses that keep a learned missing embedding per modality
    uses_missing_embedding: bool = True

    def __init__(self, dims: Mapping[str, int], out_dim: int) -> None:
        super().__init__()
        if not isinstance(dims, Mapping) or len(dims) == 0:
            raise ValueError(f"dims must be a non-empty dict {{modality: dim}}, got {describe(dims)}")
        for m, d in dims.items():
            if not isinstance(m, str) or not isinstance(d, int) or d <= 0:
                raise ValueError(f"dims must map modality names to positive ints, got {m!r}: {d!r}")
        if not isinstance(out_dim, int):
            raise ValueError(f"out_dim must be an int, got {describe(out_dim)}")
        check_positive("out_dim", out_dim)
        self.modalities: tuple[str, ...] = tuple(dims)
        self.dims: dict[str, int] = dict(dims)
        self.out_dim = out_dim
        if self.uses_missing_embedding:
            # one learned vector per modality, used when that modality is missing (small init, not zero,
            # so that products with it are not stuck at zero)
            self.missing = nn.ParameterDict({m: nn.Parameter(0.02 * torch.randn(d)) for m, d in dims.items()})

    # ------------------------------------------------------------------ input contract
    def check_inputs(self, inputs: Inputs) -> tuple[dict[str, EncoderOutput | None], int]:
        """Validate ``inputs``; return it with ``None`` for every missing modality, and the batch size."""
        if not isinstance(inputs, Mapping):
            raise ValueError(f"inputs must be a dict {{modality: EncoderOutput}}, got {describe(inputs)}")
        unknown = [m for m in inputs if m not in self.dims]
        if unknown:
            raise ValueError(
                f"inputs has unknown modality {unknown}; this fusion was built for {self.modalities}"
            )
        full: dict[str, EncoderOutput | None] = {m: inputs.get(m) for m in self.modalities}
        batch = None
        for m, x in full.items():
            if x is None:
                continue
            if not isinstance(x, EncoderOutput):
                raise ValueError(f"inputs[{m!r}] must be an EncoderOutput or None, got {describe(x)}")
            if x.dim != self.dims[m]:
                raise ValueError(
                    f"inputs[{m!r}] must have feature dim {self.dims[m]}, got tokens {tuple(x.tokens.shape)}"
                )
            if batch is None:
                batch = x.batch_size
            elif x.batch_size != batch:
                raise ValueError(
                    f"inputs[{m!r}] has batch size {x.batch_size}, other modalities have {batch}"
                )
        if batch is None:
            raise ValueError(f"inputs must contain at least one of {self.modalities}, got all missing")
        return full, batch

    def forward(self, inputs: Inputs) -> torch.Tensor:
        """``{modality: EncoderOutput | None}`` -> ``(B, out_dim)``."""
        full, batch = self.check_inputs(inputs)
        return self.fuse(full, batch)

    @abc.abstractmethod
    def fuse(self, inputs: dict[str, EncoderOutput | None], batch: int) -> torch.Tensor:
        """Each fusion's own computation: ``{modality: EncoderOutput | None}`` -> ``(B, out_dim)``.

        Every modality key is present; a missing modality is ``None``.
        """

    # ------------------------------------------------------------------ missing-modality helpers
    def pooled(self, inputs: dict[str, EncoderOutput | None], m: str, batch: int) -> torch.Tensor:
        """Pooled ``(B, D_m)`` of modality ``m``, or its learned missing embedding broadcast to the batch."""
        x = inputs[m]
        return self.missing[m].expand(batch, -1) if x is None else x.pooled

    def tokens(
        self, inputs: dict[str, EncoderOutput | None], m: str, batch: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens ``(B, T, D_m)`` and mask ``(B, T)`` of ``m``; if missing, a learned token ``(B, 1, D)``."""
        x = inputs[m]
        if x is None:
            tok = self.missing[m].view(1, 1, -1).expand(batch, 1, -1)
            return tok, torch.ones(batch, 1, dtype=torch.bool, device=tok.device)
        return x.tokens, x.mask


def safe_key_padding_mask(mask: torch.Tensor) -> torch.Tensor:
    """``key_padding_mask`` for ``nn.MultiheadAttention`` (True = ignore) from a real-token mask ``(B, T)``.

    A row with no real token would make every attention weight NaN; such rows attend to all positions instead
    (their values are whatever the padding holds), so the output stays finite.
    """
    empty = ~mask.any(dim=1, keepdim=True)
    return ~(mask | empty)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax of ``scores`` over ``dim`` where ``mask`` is True; masked entries get weight 0, no NaN."""
    scores = scores.masked_fill(~mask, float("-inf"))
    w = torch.softmax(scores, dim=dim)
    return torch.nan_to_num(w, nan=0.0)
