"""Self-checks for chapter 11 (limits: interpretability and robustness).

Each check raises ``AssertionError`` with a hint on a wrong answer (explicit ``raise``, so ``python -O`` keeps
it) and returns ``True`` on a right one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def check_shapley_two(answer: object) -> bool:
    """Exercise 1: Shapley values of image, audio for v({}) = .5, v(i) = .6, v(a) = .9, v(i, a) = .95."""
    _require(answer is not None, "assign {'image': ..., 'audio': ...} to `answer`")
    _require(
        isinstance(answer, dict) and set(answer) == {"image", "audio"},
        "answer needs the keys 'image', 'audio'",
    )
    got = {k: float(v) for k, v in answer.items()}
    _require(
        abs(got["image"] - 0.05) > 1e-6 or abs(got["audio"] - 0.35) > 1e-6,
        "those are the ablation (leave-one-out) credits; Shapley averages over both orders of adding them",
    )
    _require(
        abs(got["image"] + got["audio"] - 0.45) < 1e-6,
        "efficiency: the two values must add up to v(both) - v(nothing) = 0.45",
    )
    _require(
        abs(got["image"] - 0.075) < 1e-6,
        "hint: image adds 0.10 when it comes first and 0.05 when it comes second",
    )
    return True


def _pointing_cases() -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
    g = torch.Generator().manual_seed(11)
    cases = []
    for _ in range(20):
        m = torch.rand(7, 9, generator=g)
        mask = torch.rand(7, 9, generator=g) < 0.3
        cases.append((m, mask, bool(mask.flatten()[m.flatten().argmax()])))
    tie = torch.zeros(7, 9)
    tie[0, 8] = tie[6, 0] = 1.0  # two maxima: the first in row-major order, (0, 8), decides
    mask = torch.zeros(7, 9, dtype=torch.bool)
    mask[0, 8] = True
    cases += [(tie, mask, True), (tie, mask.flip(0).flip(1), False)]
    rect = torch.zeros(7, 9)
    rect[2, 6] = 5.0  # a non-square map: row 2, column 6 (flat index 24), not row 6, column 2
    mask = torch.zeros(7, 9, dtype=torch.bool)
    mask[2, 6] = True
    cases += [(rect, mask, True), (rect, ~mask, False)]
    return cases


def check_pointing_hit(hit: Callable | None) -> bool:
    """Exercise 2: ``hit(map (H, W), mask (H, W) bool) -> bool``: is the first maximum in the mask?"""
    _require(hit is not None, "define hit(saliency_map, mask) first")
    _require(callable(hit), f"hit must be a function, got {type(hit).__name__}")
    for k, (m, mask, want) in enumerate(_pointing_cases()):
        got = hit(m.clone(), mask.clone())
        _require(
            bool(got) == want,
            f"case {k}: got {bool(got)}, want {want} (take the argmax of the flattened map)",
        )
    return True


def check_fgsm_step(fgsm_step: Callable | None) -> bool:
    """Exercise 3: ``fgsm_step(x, grad, eps) = clip(x + eps * sign(grad), 0, 1)``."""
    _require(fgsm_step is not None, "define fgsm_step(x, grad, eps) first")
    _require(callable(fgsm_step), f"fgsm_step must be a function, got {type(fgsm_step).__name__}")
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, 5, 5, generator=g)
    x[0, 0, 0, :2] = torch.tensor([0.0, 1.0])  # at the edges of the valid range
    grad = torch.randn(2, 3, 5, 5, generator=g) * 1e-3
    grad[0, 0, 0, :2] = torch.tensor([-1.0, 1.0])  # pushes both out of [0, 1]
    grad[1, 0, 0, 0] = 0.0  # no gradient: no change
    eps = 0.05
    want = (x + eps * grad.sign()).clamp(0, 1)
    got = torch.as_tensor(fgsm_step(x.clone(), grad.clone(), eps))
    _require(got.shape == x.shape, f"the result has x's shape {tuple(x.shape)}, got {tuple(got.shape)}")
    _require(
        not torch.allclose(got, x + eps * grad),
        "step by the sign of the gradient, not by the gradient itself",
    )
    _require(
        not torch.allclose(got, (x - eps * grad.sign()).clamp(0, 1)), "an attack increases the loss: add"
    )
    _require(bool((got >= 0).all() and (got <= 1).all()), "pixels must stay in [0, 1]: clamp")
    _require(torch.allclose(got, want, atol=1e-7), "hint: (x + eps * grad.sign()).clamp(0, 1)")
    return True
