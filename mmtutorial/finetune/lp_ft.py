"""LP-FT (Kumar et al. 2022): linear probe first, then fine-tune everything starting from that head.

Full fine-tuning with a randomly initialised head sends large, feature-distorting gradients into the
backbone while the head is still wrong: the features of the training distribution move to fit it, and
those of other distributions move in ways the head never saw, so OOD accuracy can drop. Fitting the head
first on frozen (cached) features makes the early gradients small, so features move less:
``feature_drift`` measures ``||f(x) - f0(x)||`` to show it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmtutorial._validate import check_positive, check_tensor


def fit_linear_probe(
    features: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    weight_decay: float = 1e-3,
    max_iter: int = 200,
    standardize: bool = False,
) -> nn.Linear:
    """Fit ``nn.Linear(D, num_classes)`` to frozen ``features`` ``(N, D)`` and ``labels`` ``(N,)``.

    Full-batch L-BFGS on cross-entropy + ``weight_decay/2 · ||W||²``: deterministic, no minibatches, no
    learning rate to tune.

    ``standardize=True`` fits the probe on ``z = (x - mean) / std`` (each feature's mean and std over
    ``features``), as MAE's linear probe puts a BatchNorm without affine parameters before its classifier:
    the same weight decay then costs every feature alike, so probes on encoders whose features have very
    different scales are compared fairly. The standardisation is folded into the returned layer
    (``W' = W / std``, ``b' = b - W' · mean``), which therefore still takes the raw features."""
    x = check_tensor("features", features, ndim=2, floating=True, finite=True)
    y = check_tensor("labels", labels, ndim=1)
    if y.shape[0] != x.shape[0] or y.dtype != torch.long:
        raise ValueError(f"labels must be int64 of shape ({x.shape[0]},), got {tuple(y.shape)} {y.dtype}")
    check_positive("num_classes", num_classes)
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}), got [{int(y.min())}, {int(y.max())}]")
    check_positive("weight_decay", weight_decay, allow_zero=True)
    x = x.detach()
    if standardize:
        mean, std = x.mean(0), x.std(0).clamp_min(1e-6)  # a constant feature stays 0 instead of NaN
        x = (x - mean) / std
    head = nn.Linear(x.shape[1], num_classes, device=x.device, dtype=x.dtype)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(head(x), y) + 0.5 * weight_decay * head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    if standardize:
        with torch.no_grad():
            head.weight.div_(std)  # W z + b = (W / std) x + (b - (W / std) · mean)
            head.bias.sub_(head.weight @ mean)
    return head


def feature_drift(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """Per-example ``||after - before|| / ||before||`` for features ``(N, D)``, same inputs: ``(N,)``."""
    a = check_tensor("before", before, ndim=2, floating=True)
    b = check_tensor("after", after, ndim=2, floating=True)
    if a.shape != b.shape:
        raise ValueError(
            f"before and after must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return (b - a).norm(dim=1) / a.norm(dim=1).clamp_min(1e-12)
