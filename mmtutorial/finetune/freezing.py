"""Freezing, counting what trains and extracting frozen features: the bookkeeping of fine-tuning.

A parameter trains when ``requires_grad`` is True. Freezing a module also means eval mode: BatchNorm stops
updating its running statistics and dropout turns off (``requires_grad=False`` alone does neither).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

# Nothing from mmtutorial.encoders is imported at module level: encoders/pretrained.py re-exports ``freeze``
# and ``extract_features`` from here (their old home), so a module-level import would be circular.

__all__ = [
    "count_trainable",
    "extract_features",
    "freeze",
    "set_trainable",
    "trainable_fraction",
    "trainable_names",
    "unfreeze",
]


def freeze(module: nn.Module) -> nn.Module:
    """Switch off gradients for every parameter of ``module`` and put it in eval mode; returns ``module``.

    Eval mode matters as much as ``requires_grad=False``: it stops BatchNorm updating its running statistics
    and turns dropout off. (A later ``.train()`` on a parent module switches it back: call ``freeze`` again.)
    """
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


def unfreeze(module: nn.Module) -> nn.Module:
    """Switch gradients on for every parameter of ``module`` (its mode is left alone); returns ``module``."""
    for p in module.parameters():
        p.requires_grad_(True)
    return module


def count_trainable(module: nn.Module) -> int:
    """Number of scalar parameters of ``module`` with ``requires_grad=True`` (what an optimizer updates)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def set_trainable(model: nn.Module, predicate: Callable[[str, nn.Parameter], bool]) -> int:
    """``requires_grad = predicate(name, parameter)`` for each named parameter; returns the trainable count.

    Raises ValueError when the predicate selects nothing (a fine-tuning run that trains nothing is a bug).
    """
    for name, p in model.named_parameters():
        p.requires_grad_(bool(predicate(name, p)))
    n = count_trainable(model)
    if n == 0:
        raise ValueError("predicate selected no parameter: nothing would train")
    return n


def trainable_names(model: nn.Module) -> list[str]:
    """Names of the parameters with ``requires_grad=True``."""
    return [n for n, p in model.named_parameters() if p.requires_grad]


def trainable_fraction(model: nn.Module) -> float:
    """Trainable scalars / all scalars of ``model`` (0.0 for a model without parameters)."""
    total = sum(p.numel() for p in model.parameters())
    return count_trainable(model) / total if total else 0.0


@torch.no_grad()
def extract_features(encoder: nn.Module, batches: Iterable[Any], disable: bool = False) -> torch.Tensor:
    """Run ``encoder`` over ``batches`` without gradients; stack the pooled vectors into ``(N, D)`` (CPU).

    Each batch is passed as ``encoder(**batch)`` when it is a dict, else ``encoder(batch)`` (a tensor of
    images, a list of strings, ...). ``disable=True`` hides the tqdm progress bar. The encoder runs in eval
    mode and gets back the mode it had.
    """
    from mmtutorial.encoders.base import EncoderOutput

    was_training = encoder.training
    encoder.eval()
    out = []
    try:
        for batch in tqdm(batches, desc="features", disable=disable, leave=False):
            res = encoder(**batch) if isinstance(batch, dict) else encoder(batch)
            if not isinstance(res, EncoderOutput):
                raise ValueError(f"encoder must return an EncoderOutput, got {type(res).__name__}")
            out.append(res.pooled.detach().float().cpu())
    finally:
        encoder.train(was_training)
    if not out:
        raise ValueError("batches must yield at least one batch, got none")
    return torch.cat(out)
