"""What every fusion module shares: the input contract and the handling of a missing modality.

A fusion module is built with ``dims = {modality: feature dim}`` and ``out_dim``; it takes
``{modality: EncoderOutput}`` (tokens ``(B, T, D_m)``, mask ``(B, T)``, pooled ``(B, D_m)``) and returns
``(B, out_dim)``. A modality whose key is absent or whose value is ``None`` is *missing* for the whole batch;
a sample whose mask has no real token for a modality is missing that modality (for that sample only).
Padding never matters: padding tokens are zeroed before any module sees them, so even NaN there cannot leak
into the output. Each module says in its docstring what it does with a missing modality. Two strategies:

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
        ref = next((p for p in self.parameters() if p.is_floating_point()), None)
        for m, x in full.items():
            if x is None:
                continue
            for part, t in (("tokens", x.tokens), ("mask", x.mask), ("pooled", x.pooled)):
                if t.is_meta:
                    raise ValueError(f"inputs[{m!r}].{part} must hold data, got {describe(t)} (meta tensor)")
                if ref is not None and t.device != ref.device:
                    raise ValueError(
                        f"inputs[{m!r}].{part} must be on {ref.device} like this fusion's parameters, "
                        f"got {describe(t)}"
                    )
                if ref is not None and part != "mask" and t.dtype != ref.dtype:
                    raise ValueError(
                        f"inputs[{m!r}].{part} must have dtype {ref.dtype} like this fusion's parameters "
                        f"(cast the inputs or the module with .to()), got {describe(t)}"
                    )
            # padding must never matter: zero it (NaN * 0 is NaN, so masking weights alone would not do)
            clean = x.tokens.masked_fill(~x.mask.unsqueeze(-1), 0.0)
            full[m] = type(x)(tokens=clean, mask=x.mask, pooled=x.pooled)
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
        """Pooled ``(B, D_m)`` of modality ``m``; its learned missing embedding where ``m`` is missing (the
        whole batch, or the samples whose mask has no real token)."""
        x = inputs[m]
        if x is None or x.tokens.shape[1] == 0:
            return self.missing[m].expand(batch, -1)
        empty = ~x.mask.any(dim=1, keepdim=True)  # (B, 1): this sample has no real token of m
        return torch.where(empty, self.missing[m], x.pooled)

    def tokens(
        self, inputs: dict[str, EncoderOutput | None], m: str, batch: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens ``(B, T, D_m)`` and mask ``(B, T)`` of ``m``; if missing, a learned token ``(B, 1, D)``.

        A sample with no real token of ``m`` gets the learned token in slot 0 (marked real), so that it
        attends to, and is attended by, that token rather than whatever its padding holds.
        """
        x = inputs[m]
        if x is None or x.tokens.shape[1] == 0:
            tok = self.missing[m].view(1, 1, -1).expand(batch, 1, -1)
            return tok, torch.ones(batch, 1, dtype=torch.bool, device=tok.device)
        slot0 = torch.zeros_like(x.mask)
        slot0[:, 0] = True
        fill = slot0 & ~x.mask.any(dim=1, keepdim=True)  # (B, T): slot 0 of the samples without m
        return torch.where(fill.unsqueeze(-1), self.missing[m], x.tokens), x.mask | fill


def check_width(name: str, value: object, heads: object = None) -> None:
    """A layer width must be a positive int (and divisible by ``heads``, itself a positive int, if given)."""
    for n, v in ((name, value), ("heads", heads)):
        if v is None:
            continue
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{n} must be a positive int, got {describe(v)}")
    if heads is not None and value % heads:
        raise ValueError(f"{name} = {value} must be divisible by heads = {heads}")


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
