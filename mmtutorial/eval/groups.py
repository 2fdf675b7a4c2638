"""Accuracy per group and the worst group: how a spurious correlation shows up in the numbers.

A *group* is a combination of the label and a nuisance attribute, e.g. (shape, colour). When training data
pair most circles with red, a model can score well on average by reading colour, and fail on the rare groups
(blue circles). The average hides it; the **worst-group accuracy** ``min_g acc_g`` (Sagawa et al. 2020)
does not.
"""

from __future__ import annotations

import torch

from mmtutorial._validate import check_positive, check_tensor


def group_ids(labels: torch.Tensor, attribute: torch.Tensor, n_attribute: int) -> torch.Tensor:
    """Group of each sample, ``labels * n_attribute + attribute``: ``(N,), (N,)`` long -> ``(N,)`` long."""
    check_tensor("labels", labels, ndim=1, dtype=torch.int64)
    check_tensor("attribute", attribute, shape=tuple(labels.shape), dtype=torch.int64)
    check_positive("n_attribute", n_attribute)
    if attribute.numel() and not (0 <= int(attribute.min()) and int(attribute.max()) < n_attribute):
        raise ValueError(
            f"attribute must hold values in [0, {n_attribute}), got {attribute.unique().tolist()}"
        )
    return labels * n_attribute + attribute


def group_accuracy(predictions: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor) -> dict[int, float]:
    """``{group: accuracy}`` over the groups present in ``groups``.

    ``predictions``: ``(N,)`` class ids or ``(N, K)`` scores; ``labels``, ``groups``: ``(N,)`` long.
    """
    check_tensor("labels", labels, ndim=1, dtype=torch.int64)
    if labels.numel() == 0:
        raise ValueError("labels must hold at least one label, got an empty tensor")
    check_tensor("groups", groups, shape=tuple(labels.shape), dtype=torch.int64)
    if predictions.ndim == 2:
        check_tensor("predictions", predictions, shape=(labels.shape[0], None))
        predictions = predictions.argmax(dim=1)
    check_tensor("predictions", predictions, shape=tuple(labels.shape))
    correct = (predictions == labels).float()
    return {int(g): float(correct[groups == g].mean()) for g in groups.unique()}


def worst_group_accuracy(predictions: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor) -> float:
    """``min_g`` accuracy over the groups present (the number a spurious shortcut cannot hide)."""
    return min(group_accuracy(predictions, labels, groups).values())
