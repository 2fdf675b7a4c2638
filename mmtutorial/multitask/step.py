"""One training step of a multi-task model, with a loss weighting or gradient aggregation on the shared part.

A plain weighted sum needs one backward pass. Gradient surgery needs the gradient of *each* task on the shared
parameters, ``G (T, P)``: T backward passes through the shared part (retaining the graph), then
``aggregate(G)`` becomes the shared parameters' gradient, while each task head gets its own task's gradient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mmtutorial._validate import check_choice
from mmtutorial.multitask.aggregation import METHODS, aggregate
from mmtutorial.multitask.base import MultiTaskModel
from mmtutorial.multitask.diagnostics import conflict_fraction, cosine_matrix, norm_ratios
from mmtutorial.multitask.losses import task_losses
from mmtutorial.multitask.weighting import GradNorm, UncertaintyWeighting


def task_gradients(losses: torch.Tensor, params: Sequence[torch.Tensor]) -> torch.Tensor:
    """``G (T, P)``: row t is the flattened gradient of ``losses[t]`` w.r.t. ``params`` (0 where unused)."""
    params = list(params)
    P = sum(p.numel() for p in params)
    G = losses.new_zeros(losses.shape[0], P)
    for t in range(losses.shape[0]):
        grads = torch.autograd.grad(losses[t], params, retain_graph=True, allow_unused=True)
        offset = 0
        for g, p in zip(grads, params, strict=True):
            if g is not None:
                G[t, offset : offset + p.numel()] = g.reshape(-1)
            offset += p.numel()
    return G


def _write_grad(params: Sequence[torch.Tensor], flat: torch.Tensor) -> None:
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def diagnose(grads: torch.Tensor) -> dict:
    """``{"cosine": (T, T), "conflict": float, "norm_ratio": (T,)}`` of gradients ``grads (T, P)``."""
    return {
        "cosine": cosine_matrix(grads),
        "conflict": conflict_fraction(grads),
        "norm_ratio": norm_ratios(grads),
    }


def multitask_step(
    model: MultiTaskModel,
    x: torch.Tensor,
    labels: Mapping[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    weighting: nn.Module,
    method: str = "sum",
    *,
    diagnostics: bool = False,
    **method_kw,
) -> dict:
    """Forward ``x (B, D)``, per-task masked losses, backward with ``weighting`` or ``method``, optimiser
    step.

    ``method != "sum"`` aggregates the per-task gradients of the (unweighted) task losses on
    ``model.shared_parameters()``; it needs an equal weighting. Returns ``{"losses": (T,), "present": (T,)}``
    plus, when ``diagnostics``, the :func:`diagnose` entries of the shared-parameter gradients. A batch in
    which no task has a labelled sample takes no step and returns ``"skipped": True`` (and no diagnostics).
    """
    check_choice("method", method, METHODS)
    optimizer.zero_grad(set_to_none=True)
    outputs = model(x)
    losses, present = task_losses(outputs, labels, model.tasks)
    shared = model.shared_parameters()
    record: dict = {"losses": losses.detach(), "present": present}
    if (method != "sum" or diagnostics) and not shared:
        raise ValueError(
            f"method={method!r} / diagnostics need shared parameters; {type(model).__name__} has none"
        )
    if not bool(present.any()):
        # no sample of this batch has a label for any task: nothing to learn, so no step at all (an
        # optimiser step on zero gradients would still move Adam's moments and apply weight decay)
        record["skipped"] = True
        return record
    G = task_gradients(losses[present], shared) if (method != "sum" or diagnostics) else None
    if diagnostics:
        record.update(diagnose(G))
    if method == "sum":
        if isinstance(weighting, UncertaintyWeighting) and not bool(present.all()):
            # a task absent from the batch must not pull its log-variance: weight only the present ones
            s = weighting.log_var
            total = (((-s).exp() * losses + s) * present).sum() / 2
        else:
            total = weighting(losses)
        if isinstance(weighting, GradNorm):
            weighting.backward(losses, _last_shared_layer(model))
        (total + model.regularizer()).backward()
    else:
        if type(weighting).__name__ != "EqualWeighting":
            raise ValueError(
                f"method={method!r} replaces the loss weighting; use EqualWeighting, got "
                f"{type(weighting).__name__}"
            )
        direction = aggregate(G, method, **method_kw)
        rest = model.task_parameters()
        (losses.sum() + model.regularizer()).backward(inputs=rest)
        _write_grad(shared, direction)
    optimizer.step()
    if isinstance(weighting, GradNorm):
        weighting.renormalize()
    return record


def _last_shared_layer(model: MultiTaskModel) -> list[torch.Tensor]:
    """The weight of the last ``nn.Linear`` among the shared modules: GradNorm's ``W``."""
    shared = {id(p) for p in model.shared_parameters()}
    last = None
    for m in model.modules():
        if isinstance(m, nn.Linear) and id(m.weight) in shared:
            last = m
    if last is None:
        raise ValueError(f"GradNorm needs a shared Linear layer; {type(model).__name__} has none")
    return [last.weight]
