"""Self-checks for chapter 05 (the mathematics of contrastive learning)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mmtutorial.exercises import WrongAnswer, expect


def exercise_logits() -> torch.Tensor:
    """The fixed ``(4, 4)`` fp64 logits of exercise 1 (row i's positive is column i)."""
    g = torch.Generator().manual_seed(5)
    return 3 * torch.randn(4, 4, generator=g, dtype=torch.float64)


def _true_logit_grad() -> torch.Tensor:
    logits = exercise_logits().requires_grad_()
    F.cross_entropy(logits, torch.arange(4)).backward()
    return logits.grad


def check_logit_gradient(answer) -> bool:
    """Exercise 1: ``d loss / d logits`` of one-direction InfoNCE ``CE(logits, diag)``."""
    expect(answer is not None, "assign your (4, 4) gradient to `answer`")
    answer = torch.as_tensor(answer, dtype=torch.float64)
    expect(answer.shape == (4, 4), f"the gradient has the logits' shape (4, 4), got {tuple(answer.shape)}")
    want = _true_logit_grad()
    if torch.allclose(answer, want * 4, atol=1e-8):
        raise WrongAnswer("close: the loss is a mean over the 4 rows, so divide by N = 4")
    expect(torch.allclose(answer, want, atol=1e-8), "hint: (softmax over each row - identity) / N")
    return True


def check_temperature(answer) -> bool:
    """Exercise 2: the temperature at which a negative of cosine 0.8 gets 10x the weight of one at 0.2."""
    expect(answer is not None, "assign your temperature to `answer`")
    want = 0.6 / math.log(10)  # exp((0.8 - 0.2) / tau) = 10
    expect(abs(float(answer) - want) < 1e-3, "hint: softmax weights are proportional to exp(cos / tau)")
    return True


def check_uniformity(answer) -> bool:
    """Exercise 3: uniformity ``log mean_{i<j} exp(-2 |x_i - x_j|^2)`` , square corners."""
    expect(answer is not None, "assign your uniformity to `answer`")
    want = math.log((4 * math.exp(-4) + 2 * math.exp(-8)) / 6)  # 4 sides |d|^2 = 2, 2 diagonals |d|^2 = 4
    expect(
        abs(float(answer) - want) < 1e-6, "hint: 6 pairs; neighbours are sqrt(2) apart, opposite corners 2"
    )
    return True
