"""Partial fine-tuning (部分微调): train a chosen part, freeze the rest.

- head only: the new classifier alone trains; on frozen features this is a linear probe;
- top-k blocks: the last ``k`` blocks of the backbone and the head train (the lower layers hold generic
  features, the upper ones task-specific ones);
- BitFit (Ben Zaken et al. 2022): only the bias terms (and the head) train, ~0.1% of a Transformer.

Each function sets ``requires_grad`` in place and returns the number of trainable scalars.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from mmtutorial.finetune.freezing import set_trainable


def _prefixed(name: str, prefixes: Sequence[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _as_tuple(head: str | Sequence[str]) -> tuple[str, ...]:
    return (head,) if isinstance(head, str) else tuple(head)


def head_only(model: nn.Module, head: str | Sequence[str]) -> int:
    """Only parameters under the module name(s) ``head`` train (e.g. ``"head"``)."""
    heads = _as_tuple(head)
    return set_trainable(model, lambda name, _p: _prefixed(name, heads))


def top_k_blocks(model: nn.Module, blocks: str, k: int, head: str | Sequence[str] = ()) -> int:
    """The last ``k`` entries of the ``nn.ModuleList``/``nn.Sequential`` named ``blocks`` (e.g.
    ``"encoder.transformer.blocks"``) and everything under ``head`` train; ``k = 0`` is head only."""
    container = model.get_submodule(blocks)
    n = len(container)
    if not isinstance(k, int) or not 0 <= k <= n:
        raise ValueError(f"k must be an int in [0, {n}] (the number of blocks in {blocks!r}), got {k!r}")
    chosen = tuple(f"{blocks}.{i}" for i in range(n - k, n)) + _as_tuple(head)
    return set_trainable(model, lambda name, _p: _prefixed(name, chosen))


def bitfit(model: nn.Module, head: str | Sequence[str] = ()) -> int:
    """Only bias vectors (parameters named ``*.bias``) and everything under ``head`` train.

    Note that normalisation layers have biases too (LayerNorm's beta, BatchNorm's shift): BitFit trains them.
    """
    heads = _as_tuple(head)
    return set_trainable(model, lambda name, _p: name.endswith("bias") or _prefixed(name, heads))
