"""Layer-wise fine-tuning (层次微调): layer-wise learning-rate decay and gradual unfreezing.

Layer-wise learning-rate decay (LLRD), as BEiT and MAE's ``param_groups_lrd``: with ``L`` blocks, the
embeddings are layer 0, block ``j`` (0-based) is layer ``i = j + 1``, everything else (final norm, head) is
layer ``L + 1``, and a parameter in layer ``i`` gets

    lr_i = lr · decay^(L + 1 - i)          (so the head gets lr, the embeddings lr · decay^(L + 1))

Lower layers hold generic features and move less. As in MAE, 1-D parameters (biases, norms) get no
weight decay.

Gradual unfreezing (ULMFiT, Howard & Ruder 2018): start with only the top group (the head) trainable and
unfreeze one more group, top-down, every ``every`` epochs.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from mmtutorial._validate import check_positive


def _prefixed(name: str, prefixes: Sequence[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer_id(name: str, blocks: str, num_blocks: int, embeddings: Sequence[str] = ()) -> int:
    """Layer index of the parameter ``name``: 0 under an ``embeddings`` prefix, ``j + 1`` under
    ``f"{blocks}.{j}."``, else ``num_blocks + 1`` (final norm, head): MAE's ``get_layer_id_for_vit``."""
    if _prefixed(name, embeddings):
        return 0
    if name.startswith(blocks + "."):
        j = int(name[len(blocks) + 1 :].split(".")[0])
        if not 0 <= j < num_blocks:
            raise ValueError(f"name {name!r} has block index {j}, outside [0, {num_blocks})")
        return j + 1
    return num_blocks + 1


def layer_scales(num_blocks: int, layer_decay: float) -> list[float]:
    """``[decay^(L+1), decay^L, ..., decay^0]``: the multiplier of each layer 0 .. L + 1."""
    return [layer_decay ** (num_blocks + 1 - i) for i in range(num_blocks + 2)]


def param_groups_lrd(
    model: nn.Module,
    lr: float,
    layer_decay: float,
    blocks: str,
    embeddings: Sequence[str] = (),
    weight_decay: float = 0.0,
    no_weight_decay: Sequence[str] = (),
) -> list[dict]:
    """Optimizer parameter groups with layer-wise learning rates, for ``torch.optim.AdamW(groups)``.

    ``blocks`` names the ``nn.ModuleList`` of layers (e.g. ``"encoder.layer"`` in a HF BERT,
    ``"transformer.blocks"`` in ``ImageViT``); ``embeddings`` the prefixes of layer 0. Only parameters with
    ``requires_grad`` are included. Each group: ``{"params", "lr", "lr_scale", "weight_decay", "layer"}``,
    ``lr = lr · lr_scale``; 1-D parameters and names in ``no_weight_decay`` get ``weight_decay = 0``.
    """
    check_positive("lr", lr)
    if not 0.0 < layer_decay <= 1.0:
        raise ValueError(f"layer_decay must be in (0, 1], got {layer_decay}")
    check_positive("weight_decay", weight_decay, allow_zero=True)
    container = model.get_submodule(blocks)
    num_blocks = len(container)
    scales = layer_scales(num_blocks, layer_decay)
    groups: dict[tuple[int, bool], dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        decay = not (p.ndim == 1 or name in no_weight_decay)
        i = layer_id(name, blocks, num_blocks, embeddings)
        g = groups.setdefault(
            (i, decay),
            {
                "params": [],
                "lr": lr * scales[i],
                "lr_scale": scales[i],
                "weight_decay": weight_decay if decay else 0.0,
                "layer": i,
            },
        )
        g["params"].append(p)
    if not groups:
        raise ValueError("model has no trainable parameters")
    return [groups[k] for k in sorted(groups)]


class GradualUnfreezing:
    """ULMFiT's schedule over ``groups``: module-name prefixes ordered bottom -> top (the last is the head).

    ``step(epoch)`` makes the top ``min(len(groups), epoch // every + 1)`` groups trainable and freezes the
    rest (parameters in no group stay frozen); returns how many groups train. Build the optimizer over all
    parameters once: frozen ones get no gradient, and AdamW skips parameters whose ``grad`` is None.
    """

    def __init__(self, model: nn.Module, groups: Sequence[str], every: int = 1) -> None:
        if not groups or not all(isinstance(g, str) for g in groups):
            raise ValueError(f"groups must be a non-empty list of module names, got {groups!r}")
        check_positive("every", every)
        names = dict(model.named_parameters())
        for g in groups:
            if not any(_prefixed(n, (g,)) for n in names):
                raise ValueError(f"group {g!r} names no parameter of the model")
        self.model, self.groups, self.every = model, list(groups), int(every)

    def step(self, epoch: int) -> int:
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        n = min(len(self.groups), epoch // self.every + 1)
        live = tuple(self.groups[-n:])
        for name, p in self.model.named_parameters():
            p.requires_grad_(_prefixed(name, live))
            if not p.requires_grad:
                p.grad = None
        return n
