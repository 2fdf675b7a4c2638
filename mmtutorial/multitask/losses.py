"""Per-task losses with per-sample task masks: a sample may lack some labels.

A label ``< 0`` (or ``False`` in an explicit mask) means "this sample has no label for this task". Task t's
loss
is the cross-entropy averaged over the samples that *have* its label; a task with no labelled sample in the
batch gets loss 0 with no gradient and ``present[t] = False``, so it adds nothing to the loss or the gradient.
(LibMTL cannot express this; its issues #11 and #63.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from mmtutorial._validate import check_tensor

MISSING = -1  # the label value that marks "no label for this task"


def task_losses(
    outputs: Mapping[str, torch.Tensor],
    labels: Mapping[str, torch.Tensor],
    tasks: Sequence[str] | None = None,
    masks: Mapping[str, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked cross-entropy per task.

    Args:
        outputs: ``{task: logits (B, K_t)}``.
        labels: ``{task: long (B,)}``, ``MISSING`` (-1) where a sample has no label.
        tasks: the order of the result (default: ``outputs``' order).
        masks: optional ``{task: bool (B,)}``, ``False`` = no label (combined with the ``< 0`` rule).
    Returns:
        ``losses (T,)`` (mean CE over labelled samples, 0 where none) and ``present (T,)`` bool.
    """
    tasks = list(outputs) if tasks is None else list(tasks)
    losses, present = [], []
    for t in tasks:
        if t not in outputs or t not in labels:
            raise ValueError(
                f"task {t!r} needs both outputs and labels, got outputs {list(outputs)}, "
                f"labels {list(labels)}"
            )
        logits = check_tensor(f"outputs[{t!r}]", outputs[t], ndim=2, floating=True)
        y = check_tensor(f"labels[{t!r}]", labels[t], shape=(logits.shape[0],))
        if y.is_floating_point():
            raise ValueError(f"labels[{t!r}] must hold integer class ids, got {y.dtype}")
        keep = y >= 0
        if masks is not None and t in masks:
            keep = keep & check_tensor(f"masks[{t!r}]", masks[t], shape=(logits.shape[0],), dtype=torch.bool)
        if bool((y[keep] >= logits.shape[1]).any()):
            raise ValueError(f"labels[{t!r}] must be < {logits.shape[1]} classes, got max {int(y.max())}")
        if bool(keep.any()):
            losses.append(F.cross_entropy(logits[keep], y[keep]))
            present.append(True)
        else:
            losses.append(logits.new_zeros(()))
            present.append(False)
    return torch.stack(losses), torch.tensor(present)


@torch.no_grad()
def task_accuracy(
    outputs: Mapping[str, torch.Tensor], labels: Mapping[str, torch.Tensor]
) -> dict[str, float]:
    """``{task: accuracy over the labelled samples}`` for ``outputs {task: (B, K_t)}``; NaN-free: a task
    with no labelled sample raises."""
    acc = {}
    for t, logits in outputs.items():
        y = labels[t]
        keep = y >= 0
        if not bool(keep.any()):
            raise ValueError(f"labels[{t!r}] has no labelled sample to score")
        acc[t] = float((logits[keep].argmax(-1) == y[keep]).float().mean())
    return acc


def delta_m(
    metrics: Mapping[str, float], baseline: Mapping[str, float], lower_is_better: Sequence[str] = ()
) -> float:
    """Maninis et al. (2019): ``Δm% = 100/T Σ_t (-1)^{l_t} (M_t - B_t) / B_t`` (``l_t = 1`` if lower is
    better).

    ``metrics`` and ``baseline`` (single-task) map task -> metric; positive Δm = better than single-task.
    """
    if set(metrics) != set(baseline):
        raise ValueError(
            f"metrics and baseline must name the same tasks, got {sorted(metrics)} and {sorted(baseline)}"
        )
    total = 0.0
    for t, m in metrics.items():
        b = baseline[t]
        if b == 0:
            raise ValueError(f"baseline[{t!r}] must be non-zero to form a relative change, got 0")
        sign = -1.0 if t in lower_is_better else 1.0
        total += sign * (m - b) / b
    return 100.0 * total / len(metrics)


def hide_labels(labels: torch.Tensor, keep: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A copy of ``labels (N,)`` in which all but ``round(keep * n)`` of its ``n`` labelled samples, drawn
    at random from ``generator``, become ``MISSING``: a per-sample task mask made on purpose.

    ``keep`` in [0, 1]; labels already ``MISSING`` stay so. Give it a generator of its own: one seeded like
    the training loop's batch order draws the same permutation, and the kept labels would all land in the
    first batches of the first epoch.
    """
    labels = check_tensor("labels", labels, ndim=1)
    if labels.is_floating_point():
        raise ValueError(f"labels must hold integer class ids, got {labels.dtype}")
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0.0 <= keep <= 1.0:
        raise ValueError(f"keep must be a fraction in [0, 1], got {keep!r}")
    labelled = (labels >= 0).nonzero().flatten()
    order = labelled[torch.randperm(len(labelled), generator=generator)]
    out = labels.clone()
    out[order[round(keep * len(labelled)) :]] = MISSING
    return out
