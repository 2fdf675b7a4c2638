"""A small, explicit training loop for multi-task models: the step needs per-task gradients, so it is its own.

``train_multitask`` runs Adam over shuffled mini-batches of precomputed features with one of the weightings
(``"ew" "uw" "dwa" "gradnorm" "rlw"``) or aggregations (``"pcgrad" "mgda" "cagrad"``, with equal weighting),
and logs the gradient diagnostics on the shared parameters every ``log_every`` steps.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from mmtutorial._validate import check_positive, check_tensor
from mmtutorial.multitask.aggregation import METHODS
from mmtutorial.multitask.base import MultiTaskModel
from mmtutorial.multitask.losses import task_accuracy
from mmtutorial.multitask.step import multitask_step
from mmtutorial.multitask.weighting import WEIGHTINGS, DynamicWeightAverage, make_weighting

STRATEGIES = WEIGHTINGS + METHODS[1:]  # "ew" ... "rlw", then "pcgrad", "mgda", "cagrad"


def train_multitask(
    model: MultiTaskModel,
    x: torch.Tensor,
    labels: Mapping[str, torch.Tensor],
    strategy: str = "ew",
    *,
    epochs: int = 20,
    batch_size: int = 128,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    log_every: int = 0,
    **strategy_kw,
) -> dict:
    """Train ``model`` on ``x (N, D)`` and ``labels {task: long (N,)}`` (-1 = missing); return a history.

    ``strategy``: a weighting name or an aggregation name (see :data:`STRATEGIES`); ``strategy_kw`` go to the
    weighting (e.g. ``temperature``) or the aggregation (e.g. ``c``). PCGrad and RLW draw from a generator
    seeded with ``seed``. History: ``{"epoch_losses": [(T,) per epoch], "weights": [(T,) per epoch],
    "log": [{"step", "cosine", "conflict", "norm_ratio"}, ...]}``.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
    check_tensor("x", x, ndim=2, floating=True, finite=True)
    check_positive("epochs", epochs)
    check_positive("batch_size", batch_size)
    for t in model.tasks:
        if t not in labels:
            raise ValueError(f"labels must hold every task of the model {model.tasks}, got {list(labels)}")
        check_tensor(f"labels[{t!r}]", labels[t], shape=(x.shape[0],))
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    T = len(model.tasks)
    weight_kw, method_kw = (strategy_kw, {}) if strategy in WEIGHTINGS else ({}, strategy_kw)
    if strategy == "rlw":
        weight_kw = {"generator": gen, **weight_kw}
    if strategy == "pcgrad":
        method_kw = {"generator": gen, **method_kw}
    weighting = make_weighting(strategy if strategy in WEIGHTINGS else "ew", T, **weight_kw)
    method = "sum" if strategy in WEIGHTINGS else strategy
    params = list(model.parameters()) + list(weighting.parameters())
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    history: dict = {"epoch_losses": [], "weights": [], "log": []}
    step = 0
    model.train()
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=gen)
        sums, counts = torch.zeros(T, dtype=torch.float64), torch.zeros(T, dtype=torch.float64)
        for start in range(0, x.shape[0], batch_size):
            idx = order[start : start + batch_size]
            log_now = bool(log_every) and step % log_every == 0
            rec = multitask_step(
                model,
                x[idx],
                {t: labels[t][idx] for t in model.tasks},
                optimizer,
                weighting,
                method,
                diagnostics=log_now,
                **method_kw,
            )
            sums += rec["losses"].double() * rec["present"]
            counts += rec["present"].double()
            if log_now and not rec.get("skipped", False):
                history["log"].append(
                    {"step": step, **{k: rec[k] for k in ("cosine", "conflict", "norm_ratio")}}
                )
            step += 1
        epoch_losses = sums / counts.clamp_min(1)
        history["epoch_losses"].append(epoch_losses)
        history["weights"].append(weighting.weights().detach().clone())
        if isinstance(weighting, DynamicWeightAverage):
            weighting.end_epoch(epoch_losses.clamp_min(1e-12))
    model.eval()
    return history


@torch.no_grad()
def evaluate(model: MultiTaskModel, x: torch.Tensor, labels: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """``{task: accuracy}`` of ``model`` on ``x (N, D)`` over the labelled samples of each task."""
    model.eval()
    out = model(x)
    return task_accuracy(out, {t: labels[t] for t in out})
