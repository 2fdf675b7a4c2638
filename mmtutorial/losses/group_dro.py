"""Losses against a spurious correlation: group reweighting and group DRO (Sagawa et al. 2020).

Both take per-sample losses ``l_i`` ``(N,)`` (``F.cross_entropy(..., reduction="none")``) and each sample's
group ``g_i``:

- **reweighting**: weight each sample by the inverse frequency of its group, so every group counts the same:
  ``w_i = N / (G * n_{g_i})`` (``G`` groups present; the weights average to 1);
- **group DRO**: minimise the *worst* group's expected loss, ``min_theta max_g E[l | g]``, by keeping a
  distribution ``q`` over groups and, at every step, moving it towards the groups that are doing worst
  (exponentiated gradient ascent, step ``eta``)

  ``L_g = mean_{i: g_i = g} l_i``,  ``q_g <- q_g exp(eta L_g) / sum_h q_h exp(eta L_h)``,
  ``loss = sum_g q_g L_g``.

  The update of ``q`` is not differentiated; groups absent from a batch keep their weight before
  renormalisation.
"""

from __future__ import annotations

import torch
from torch import nn

from mmtutorial._validate import check_positive, check_tensor


def _check(losses: torch.Tensor, groups: torch.Tensor, n_groups: int) -> None:
    check_tensor("losses", losses, ndim=1, floating=True, finite=True)
    if losses.numel() == 0:
        raise ValueError("losses must hold at least one sample, got an empty tensor")
    check_tensor("groups", groups, shape=tuple(losses.shape), dtype=torch.int64)
    check_positive("n_groups", n_groups)
    if not (0 <= int(groups.min()) and int(groups.max()) < n_groups):
        raise ValueError(f"groups must hold ids in [0, {n_groups}), got {groups.unique().tolist()}")


def group_mean_losses(
    losses: torch.Tensor, groups: torch.Tensor, n_groups: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean loss per group ``(G,)`` (0 for a group absent from the batch) and the count per group ``(G,)``."""
    _check(losses, groups, n_groups)
    counts = torch.bincount(groups, minlength=n_groups)
    sums = torch.zeros(n_groups, dtype=losses.dtype, device=losses.device).index_add(0, groups, losses)
    return sums / counts.clamp_min(1).to(losses.dtype), counts


def inverse_frequency_weights(groups: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Per-sample weights ``(N,)``, ``N / (G_present * n_{g_i})``: every present group weighs the same."""
    check_tensor("groups", groups, ndim=1, dtype=torch.int64)
    _check(torch.zeros(groups.shape), groups, n_groups)
    counts = torch.bincount(groups, minlength=n_groups).float()
    present = int((counts > 0).sum())
    return groups.numel() / (present * counts[groups])


class GroupDRO(nn.Module):
    """Online group DRO loss: ``forward(losses (N,), groups (N,)) -> 0-dim sum_g q_g L_g`` (module doc).

    ``q`` (buffer ``(G,)``, starts uniform) is updated in place by every call in training mode; in eval
    mode it is only read. ``eta`` is the step size of the exponentiated-gradient update (larger moves
    faster).
    """

    def __init__(self, n_groups: int, eta: float = 0.1) -> None:
        super().__init__()
        check_positive("n_groups", n_groups)
        check_positive("eta", eta)
        self.n_groups, self.eta = n_groups, eta
        self.register_buffer("q", torch.full((n_groups,), 1.0 / n_groups))

    def forward(self, losses: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        group_loss, counts = group_mean_losses(losses, groups, self.n_groups)
        if self.training:
            with torch.no_grad():
                step = torch.where(counts > 0, self.eta * group_loss.detach(), torch.zeros_like(group_loss))
                # in log space, so a large loss cannot overflow exp
                self.q.copy_(torch.softmax(self.q.log() + step.to(self.q.dtype), dim=0))
        return (self.q.to(group_loss.dtype) * group_loss).sum()
