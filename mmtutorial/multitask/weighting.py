"""Loss weightings: ``total = Σ_t w_t L_t`` with weights chosen by a rule.

* **EW**, equal weighting: ``w_t = 1``, the plain sum.
* **UW**, uncertainty weighting (Kendall et al. 2018): a learned ``s_t = log σ_t²`` per task,
  ``total = Σ_t (exp(-s_t) L_t + s_t) / 2``. For fixed ``L_t`` the optimum is ``s_t = log L_t``: a task with a
  large loss is down-weighted.
* **DWA**, dynamic weight average (Liu et al. 2019): from the epoch-mean losses of the last two epochs,
  ``r_t = L_t(k-1) / L_t(k-2)``, ``w_t(k) = T exp(r_t / τ) / Σ_i exp(r_i / τ)``; a task whose loss falls
  slowly
  gets more weight. ``w = 1`` for the first two epochs.
* **GradNorm** (Chen et al. 2018): learned weights ``w_t`` whose own loss
  ``L_grad = Σ_t | G_t - mean_s(G_s) · r_t^α |`` with ``G_t = |∇_W w_t L_t|`` on the last shared layer ``W``,
  ``r_t = (L_t / L_t(0)) / mean_s(L_s / L_s(0))`` (the target is a constant); after each step the weights are
  renormalised to sum to T.
* **RLW**, random loss weighting (Lin et al. 2022): a fresh ``w = softmax(z)``, ``z ~ N(0, I)`` at every step.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mmtutorial._validate import check_positive, check_tensor

WEIGHTINGS = ("ew", "uw", "dwa", "gradnorm", "rlw")


def _check_losses(losses: torch.Tensor, num_tasks: int) -> torch.Tensor:
    return check_tensor("losses", losses, shape=(num_tasks,), floating=True, finite=True)


class EqualWeighting(nn.Module):
    """EW: ``forward(losses (T,)) = Σ_t L_t``."""

    def __init__(self, num_tasks: int) -> None:
        super().__init__()
        check_positive("num_tasks", num_tasks)
        self.num_tasks = num_tasks

    def weights(self) -> torch.Tensor:
        """``(T,)`` ones."""
        return torch.ones(self.num_tasks)

    def forward(self, losses: torch.Tensor) -> torch.Tensor:
        return _check_losses(losses, self.num_tasks).sum()


class UncertaintyWeighting(nn.Module):
    """UW (Kendall 2018): parameter ``log_var (T,)`` initialised to 0.

    ``forward(losses (T,))`` returns the 0-dim ``Σ_t (exp(-log_var_t) · L_t + log_var_t) / 2``.
    """

    def __init__(self, num_tasks: int) -> None:
        super().__init__()
        check_positive("num_tasks", num_tasks)
        self.num_tasks = num_tasks
        self.log_var = nn.Parameter(torch.zeros(num_tasks))

    def weights(self) -> torch.Tensor:
        """``(T,)`` the effective weights ``exp(-log_var) / 2`` (detached)."""
        return (-self.log_var.detach()).exp() / 2

    def forward(self, losses: torch.Tensor) -> torch.Tensor:
        _check_losses(losses, self.num_tasks)
        s = self.log_var.to(losses.dtype)
        return ((-s).exp() * losses + s).sum() / 2


class DynamicWeightAverage(nn.Module):
    """DWA (Liu 2019). Call :meth:`end_epoch` with each epoch's mean losses; ``forward`` uses the current
    weights."""

    def __init__(self, num_tasks: int, temperature: float = 2.0) -> None:
        super().__init__()
        check_positive("num_tasks", num_tasks)
        check_positive("temperature", temperature)
        self.num_tasks, self.temperature = num_tasks, temperature
        self.history: list[torch.Tensor] = []  # epoch-mean losses, (T,) each

    def weights(self) -> torch.Tensor:
        """``(T,)`` ``T · softmax(r / τ)`` with ``r_t = L_t(k-1) / L_t(k-2)``; ones before two epochs."""
        if len(self.history) < 2:
            return torch.ones(self.num_tasks)
        r = self.history[-1] / self.history[-2]
        return self.num_tasks * torch.softmax(r / self.temperature, dim=0)

    def end_epoch(self, epoch_losses: torch.Tensor | Sequence[float]) -> None:
        """Record one epoch's mean loss per task, ``(T,)`` positive."""
        mean = torch.as_tensor(epoch_losses, dtype=torch.float64).detach().cpu()
        check_tensor("epoch_losses", mean, shape=(self.num_tasks,), finite=True)
        if bool((mean <= 0).any()):
            raise ValueError(f"epoch_losses must be positive to form ratios, got {mean.tolist()}")
        self.history.append(mean)

    def forward(self, losses: torch.Tensor) -> torch.Tensor:
        _check_losses(losses, self.num_tasks)
        return (self.weights().to(losses) * losses).sum()


class RandomLossWeighting(nn.Module):
    """RLW (Lin 2022): ``forward(losses (T,)) = Σ_t w_t L_t`` with a fresh ``w = softmax(z), z ~ N(0, I)``."""

    def __init__(self, num_tasks: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        check_positive("num_tasks", num_tasks)
        self.num_tasks, self.generator = num_tasks, generator
        self.last_weights = torch.full((num_tasks,), 1.0 / num_tasks)

    def weights(self) -> torch.Tensor:
        """``(T,)`` the weights drawn at the last call."""
        return self.last_weights

    def forward(self, losses: torch.Tensor) -> torch.Tensor:
        _check_losses(losses, self.num_tasks)
        z = torch.randn(self.num_tasks, generator=self.generator)
        self.last_weights = torch.softmax(z, dim=0)
        return (self.last_weights.to(losses) * losses).sum()


class GradNorm(nn.Module):
    """GradNorm (Chen 2018) with asymmetry ``alpha``: parameter ``task_weights (T,)`` initialised to 1.

    Per step: ``total = forward(losses)`` (weights detached) trains the network; :meth:`balance_loss` gives
    ``L_grad`` whose gradient w.r.t. ``task_weights`` is what the weights are trained on (``backward``
    fills their
    ``.grad``); after the optimiser step call :meth:`renormalize`.
    """

    def __init__(self, num_tasks: int, alpha: float = 1.5) -> None:
        super().__init__()
        check_positive("num_tasks", num_tasks)
        check_positive("alpha", alpha, allow_zero=True)
        self.num_tasks, self.alpha = num_tasks, alpha
        self.task_weights = nn.Parameter(torch.ones(num_tasks))
        self.register_buffer("initial_losses", torch.zeros(0))

    def weights(self) -> torch.Tensor:
        """``(T,)`` current weights (detached)."""
        return self.task_weights.detach().clone()

    def forward(self, losses: torch.Tensor) -> torch.Tensor:
        _check_losses(losses, self.num_tasks)
        if self.initial_losses.numel() == 0:
            self.initial_losses = losses.detach().clone()
        return (self.task_weights.detach().to(losses) * losses).sum()

    def balance_loss(self, losses: torch.Tensor, last_shared: Sequence[torch.Tensor]) -> torch.Tensor:
        """``L_grad = Σ_t |w_t |∇_W L_t| - mean_s(w_s |∇_W L_s|) · r_t^α|`` (0-dim); the target is detached.

        ``last_shared``: the parameters ``W`` of the last shared layer; ``losses`` must still have their
        graph.
        """
        _check_losses(losses, self.num_tasks)
        if self.initial_losses.numel() == 0:
            self.initial_losses = losses.detach().clone()
        params = list(last_shared)
        norms = []
        for t in range(self.num_tasks):
            grads = torch.autograd.grad(losses[t], params, retain_graph=True, allow_unused=True)
            sq = sum((g * g).sum() for g in grads if g is not None)
            norms.append(torch.sqrt(torch.as_tensor(sq, dtype=losses.dtype)))
        G = self.task_weights.to(losses) * torch.stack(norms).detach()  # G_t = w_t |∇_W L_t|
        ratio = losses.detach() / self.initial_losses.to(losses).clamp_min(1e-12)
        r = ratio / ratio.mean()
        target = (G.mean() * r.pow(self.alpha)).detach()
        return (G - target).abs().sum()

    def backward(self, losses: torch.Tensor, last_shared: Sequence[torch.Tensor]) -> torch.Tensor:
        """Set ``task_weights.grad = ∂L_grad / ∂w``; return ``L_grad`` (detached)."""
        lgrad = self.balance_loss(losses, last_shared)
        (grad,) = torch.autograd.grad(lgrad, self.task_weights)
        self.task_weights.grad = grad
        return lgrad.detach()

    @torch.no_grad()
    def renormalize(self) -> None:
        """Clamp the weights at a small positive value and rescale them to sum to T."""
        w = self.task_weights.clamp_min(1e-3)
        self.task_weights.copy_(w * self.num_tasks / w.sum())


def make_weighting(name: str, num_tasks: int, **kw) -> nn.Module:
    """One of :data:`WEIGHTINGS` by name, e.g. ``make_weighting("dwa", 4, temperature=2.0)``."""
    classes = {
        "ew": EqualWeighting,
        "uw": UncertaintyWeighting,
        "dwa": DynamicWeightAverage,
        "gradnorm": GradNorm,
        "rlw": RandomLossWeighting,
    }
    if name not in classes:
        raise ValueError(f"weighting must be one of {list(WEIGHTINGS)}, got {name!r}")
    return classes[name](num_tasks, **kw)
