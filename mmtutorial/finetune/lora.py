"""LoRA (Hu et al. 2021) and DoRA (Liu et al. 2024) from scratch, laid out as PEFT lays them out.

LoRA freezes a pretrained ``W`` (out, in) and learns a low-rank update ``ΔW = s · B A`` with
``A`` (r, in), ``B`` (out, r), ``r << min(in, out)``:

    y = W x + b + s · B (A dropout(x)),   s = alpha / r   (rsLoRA: s = alpha / sqrt(r))

``A`` starts Kaiming-uniform (a = sqrt(5), PEFT's choice) and ``B`` at zero, so at step 0 the model is
exactly the pretrained one. Only ``r · (in + out)`` numbers per layer train. ``merge()`` folds ``s · B A``
into ``W`` (zero inference cost); ``unmerge()`` takes it out again.

DoRA splits each output row of the updated weight into a magnitude ``m`` (out,) and a direction:

    W' = m ⊙ (W + s B A) / ||W + s B A||_row,    m starts at ||W||_row, so W' = W at step 0

and, as the paper's section 4.3 and PEFT do, treats the row norm as a constant in backprop.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mmtutorial._validate import check_positive

ADAPTER_KEYS = ("lora_A", "lora_B", "magnitude")


class LoRALinear(nn.Module):
    """A frozen ``base`` ``nn.Linear`` plus a trainable rank-``r`` update; ``(..., in) -> (..., out)``.

    Attributes: ``base`` (frozen), ``lora_A = Linear(in, r)``, ``lora_B = Linear(r, out)`` (zeros),
    ``scaling`` = ``alpha / r`` (``alpha / sqrt(r)`` with ``rslora``), ``merged`` (bool).
    """

    def __init__(
        self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0, rslora: bool = False
    ) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise ValueError(f"base must be an nn.Linear, got {type(base).__name__}")
        if not isinstance(r, int) or isinstance(r, bool) or r < 1:
            raise ValueError(f"r must be a positive int, got {r!r}")
        check_positive("alpha", alpha)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha, self.rslora = r, float(alpha), bool(rslora)
        self.scaling = alpha / math.sqrt(r) if rslora else alpha / r
        kw = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Linear(base.in_features, r, bias=False, **kw)
        self.lora_B = nn.Linear(r, base.out_features, bias=False, **kw)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False
        self.reset_lora_parameters()

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def reset_lora_parameters(self) -> None:
        """A ~ Kaiming-uniform(a = sqrt(5)) as PEFT and nn.Linear do; B = 0, so the update starts at zero."""
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

    def delta_weight(self) -> torch.Tensor:
        """The update ``s · B A``, shape ``(out, in)``."""
        return self.scaling * (self.lora_B.weight @ self.lora_A.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.merged:
            return self.base(x)
        return self.base(x) + self.scaling * self.lora_B(self.lora_A(self.dropout(x)))

    @torch.no_grad()
    def merge(self) -> None:
        """``W <- W + s · B A``; forward then runs the base layer alone."""
        if self.merged:
            raise ValueError("merge: this layer is already merged")
        self.base.weight += self.delta_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Undo :meth:`merge`: ``W <- W - s · B A``."""
        if not self.merged:
            raise ValueError("unmerge: this layer is not merged")
        self.base.weight -= self.delta_weight()
        self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}, scaling={self.scaling:.4g}, merged={self.merged}"


class DoRALinear(LoRALinear):
    """LoRA with a learned per-output magnitude ``m`` (out,): ``y = b + m/||W + sBA||_row ⊙ (W x + s B A x)``.

    Trainable: ``r · (in + out) + out`` numbers per layer. The row norm is detached (DoRA section 4.3).
    """

    def __init__(
        self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0, rslora: bool = False
    ) -> None:
        super().__init__(base, r, alpha, dropout, rslora)
        self.magnitude = nn.Parameter(self._row_norm().detach().clone())
        self._merge_scale: torch.Tensor | None = None

    def _row_norm(self) -> torch.Tensor:
        """``||W + s B A||`` over the input dimension: one norm per output row, shape ``(out,)``."""
        return torch.linalg.norm(self.base.weight + self.delta_weight(), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.merged:
            return self.base(x)
        scale = (self.magnitude / self._row_norm().detach()).view(1, -1)  # (1, out)
        xd = self.dropout(x)
        # base(x) keeps the bias; (scale - 1) W x_d + scale s B A x_d rescales the directional part
        direction = F.linear(xd, self.base.weight)
        return self.base(x) + (scale - 1) * direction + scale * self.scaling * self.lora_B(self.lora_A(xd))

    @torch.no_grad()
    def merge(self) -> None:
        """``W <- m ⊙ (W + s B A) / ||W + s B A||_row``."""
        if self.merged:
            raise ValueError("merge: this layer is already merged")
        scale = (self.magnitude / self._row_norm()).view(-1, 1)
        self.base.weight.copy_(scale * (self.base.weight + self.delta_weight()))
        self._merge_scale = scale
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if not self.merged or self._merge_scale is None:
            raise ValueError("unmerge: this layer is not merged")
        self.base.weight.copy_(self.base.weight / self._merge_scale - self.delta_weight())
        self._merge_scale = None
        self.merged = False


LinearFilter = Sequence[str] | str | Callable[[str, nn.Linear], bool]


def _matcher(target: LinearFilter) -> Callable[[str, nn.Linear], bool]:
    """Names match as in PEFT's ``target_modules``: a string is a full-match regex on the module's name;
    a list matches a name equal to, or ending in ``"." +``, one of its entries."""
    if callable(target):
        return target
    if isinstance(target, str):
        pattern = re.compile(target)
        return lambda name, _m: pattern.fullmatch(name) is not None
    names = list(target)
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"target must be a regex, a non-empty list of names or a predicate, got {target!r}")
    return lambda name, _m: any(name == n or name.endswith("." + n) for n in names)


def apply_lora(
    model: nn.Module,
    target: LinearFilter,
    r: int,
    alpha: float,
    dropout: float = 0.0,
    rslora: bool = False,
    dora: bool = False,
    trainable: Sequence[str] = (),
) -> list[str]:
    """Wrap the chosen ``nn.Linear`` layers of ``model`` in :class:`LoRALinear` (``dora=True``:
    :class:`DoRALinear`), in place; freeze every other parameter except those whose name starts with a
    prefix in ``trainable`` (e.g. a new head, PEFT's ``modules_to_save``). Returns the wrapped names.

    ``target``: a list of names (``"qkv"`` matches ``"blocks.0.attn.qkv"``), a full-match regex, or a
    predicate ``(name, layer) -> bool``. Raises ValueError if nothing matches.
    """
    match = _matcher(target)
    chosen = [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and not isinstance(m, LoRALinear) and name and match(name, m)
    ]
    # lora_A / lora_B of an existing adapter are nn.Linear too: never wrap an adapter
    chosen = [(n, m) for n, m in chosen if not any(k in n.split(".") for k in ("lora_A", "lora_B"))]
    if not chosen:
        raise ValueError(f"target matched no nn.Linear in the model, got target={target!r}")
    for p in model.parameters():
        p.requires_grad_(False)
    cls = DoRALinear if dora else LoRALinear
    for name, layer in chosen:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, cls(layer, r, alpha, dropout, rslora))
    for name, p in model.named_parameters():
        if any(name == t or name.startswith(t + ".") for t in trainable):
            p.requires_grad_(True)
    return [n for n, _ in chosen]


def lora_layers(model: nn.Module) -> list[LoRALinear]:
    """Every :class:`LoRALinear` (and :class:`DoRALinear`) inside ``model``."""
    return [m for m in model.modules() if isinstance(m, LoRALinear)]


def lora_state_dict(model: nn.Module, extra: Sequence[str] = ()) -> dict[str, torch.Tensor]:
    """Only the adapter tensors (``lora_A``, ``lora_B``, DoRA's ``magnitude``), plus parameters whose name
    starts with a prefix in ``extra`` (a trained head): the small file to ship instead of the model."""
    out = {}
    for name, t in model.state_dict().items():
        parts = name.split(".")
        if any(k in parts for k in ADAPTER_KEYS) or any(name == e or name.startswith(e + ".") for e in extra):
            out[name] = t.detach().clone()
    if not out:
        raise ValueError("model holds no LoRA adapters (call apply_lora first)")
    return out


def merge_lora(model: nn.Module) -> None:
    """Merge every adapter in ``model`` into its base weight."""
    for layer in lora_layers(model):
        layer.merge()


def unmerge_lora(model: nn.Module) -> None:
    """Undo :func:`merge_lora`."""
    for layer in lora_layers(model):
        layer.unmerge()


class Conv1x1AsLinear(nn.Module):
    """A 1x1, stride-1, ungrouped ``nn.Conv2d`` rewritten as the ``nn.Linear`` over channels that it is:
    ``(B, C_in, H, W) -> (B, C_out, H, W)``, same weights, same outputs. Lets LoRA reach pointwise convs."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if not _is_pointwise(conv):
            raise ValueError(f"conv must be a 1x1, stride-1, ungrouped nn.Conv2d, got {conv}")
        self.linear = nn.Linear(
            conv.in_channels, conv.out_channels, bias=conv.bias is not None, device=conv.weight.device
        )
        with torch.no_grad():
            self.linear.weight.copy_(conv.weight[:, :, 0, 0])
            if conv.bias is not None:
                self.linear.bias.copy_(conv.bias)
        self.linear.weight.requires_grad_(conv.weight.requires_grad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.movedim(1, -1)).movedim(-1, 1)


def _is_pointwise(m: nn.Module) -> bool:
    return (
        isinstance(m, nn.Conv2d)
        and m.kernel_size == (1, 1)
        and m.stride == (1, 1)
        and m.groups == 1
        and m.dilation == (1, 1)
        and all(p == 0 for p in (m.padding if isinstance(m.padding, tuple) else (0,)))
    )


def pointwise_convs_to_linear(model: nn.Module) -> list[str]:
    """Replace every 1x1 ``nn.Conv2d`` in ``model`` by :class:`Conv1x1AsLinear` in place; returns their names.
    (Convolutions that pad through a separate module, as EfficientNet's "same" padding does, qualify
    when that padding is zero for a 1x1 kernel.)"""
    names = [n for n, m in model.named_modules() if n and _is_pointwise(m)]
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, Conv1x1AsLinear(getattr(parent, child)))
    return names
