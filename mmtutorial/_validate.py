"""Input checks shared by public entry points.

Every public function checks its tensors here, so a wrong input gets one kind of error everywhere: a
``ValueError`` that names the argument, what it got and what it needs.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch


def describe(x: object) -> str:
    """A short description of ``x`` for error messages: shape, dtype and device for tensors."""
    if isinstance(x, torch.Tensor):
        return f"tensor of shape {tuple(x.shape)}, dtype {x.dtype}, device {x.device}"
    return f"{type(x).__name__} {x!r}"


def check_tensor(
    name: str,
    x: object,
    *,
    ndim: int | None = None,
    shape: Sequence[int | None] | None = None,
    floating: bool = False,
    finite: bool = False,
    dtype: torch.dtype | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Check ``x`` and return it; raise ``ValueError`` naming ``name`` if it is not what is needed.

    ``shape`` may hold ``None`` for a free dimension, e.g. ``(None, 64)`` for ``(N, 64)``.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {describe(x)}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got {describe(x)}")
    if shape is not None:
        want = tuple("*" if s is None else s for s in shape)
        if x.ndim != len(shape) or any(s is not None and s != g for s, g in zip(shape, x.shape, strict=True)):
            raise ValueError(f"{name} must have shape {want}, got {describe(x)}")
    if floating and not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {describe(x)}")
    if dtype is not None and x.dtype != dtype:
        raise ValueError(f"{name} must have dtype {dtype}, got {describe(x)}")
    if device is not None and x.device != device:
        raise ValueError(f"{name} must be on device {device}, got {describe(x)}")
    if finite and x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must hold only finite values, got {describe(x)} with NaN or inf")
    return x


def check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def check_positive(name: str, value: float | int, *, allow_zero: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite positive (or, with ``allow_zero``, non-negative)
    number: a real Python or numpy number, not a bool, a string, NaN or infinity."""
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_complex():
        value = value.item()  # a config value held in a tensor: checked on the host, where it is cheap
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {describe(value)}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    ok = value >= 0 if allow_zero else value > 0
    if not ok:
        need = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {need}, got {value!r}")
