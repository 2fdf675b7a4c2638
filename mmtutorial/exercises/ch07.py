"""Self-checks for chapter 07 (multi-task learning)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from mmtutorial.exercises import WrongAnswer, expect
from mmtutorial.multitask import aggregate, delta_m, tree_consistency


def _pairs() -> list[torch.Tensor]:
    """Fixed ``(2, 6)`` fp64 gradient pairs: conflicting, agreeing, orthogonal, opposite."""
    g = torch.Generator().manual_seed(7)
    a, b = torch.randn(2, 6, generator=g, dtype=torch.float64)
    ortho = b - (b @ a) / (a @ a) * a
    return [
        torch.stack([a, -0.8 * a + 0.3 * b]),
        torch.stack([a, 0.5 * a + b]),
        torch.stack([a, ortho]),
        torch.stack([a, -2.0 * a]),
    ]


def check_pcgrad_two(pcgrad_two: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Exercise 1: ``pcgrad_two(g1, g2) -> (P,)``, PCGrad's update for two tasks."""
    expect(callable(pcgrad_two), "define a function pcgrad_two(g1, g2) that returns a (P,) tensor")
    for k, G in enumerate(_pairs()):
        got = torch.as_tensor(pcgrad_two(G[0].clone(), G[1].clone()), dtype=torch.float64)
        expect(got.shape == (6,), f"the update has one entry per parameter (6,), got {tuple(got.shape)}")
        want = aggregate(G, "pcgrad")
        if k == 1 and not torch.allclose(got, want, atol=1e-9):
            raise WrongAnswer(
                "when the gradients agree (positive dot product) PCGrad changes nothing: g1 + g2"
            )
        if k == 0 and torch.allclose(got, G.sum(0), atol=1e-9):
            raise WrongAnswer("these two conflict (negative dot product): project each off the other")
        expect(
            torch.allclose(got, want, atol=1e-9),
            "hint: g1' = g1 - (g1·g2)/|g2|² g2 when g1·g2 < 0 (and the same for g2, with the original g1); "
            "return g1' + g2'",
        )
    return True


def conflict_gradients() -> torch.Tensor:
    """Exercise 2: ``(5, 40)`` fp64 per-task gradients; one task pulls against most of the others."""
    g = torch.Generator().manual_seed(11)
    common = torch.randn(40, generator=g, dtype=torch.float64)
    G = 0.6 * common + torch.randn(5, 40, generator=g, dtype=torch.float64)
    G[3] = -1.2 * common + 0.5 * torch.randn(40, generator=g, dtype=torch.float64)
    G[1] *= 25.0  # a large norm is not a conflict
    return G


def check_conflicting_task(answer) -> bool:
    """Exercise 2: the index of the task whose gradient conflicts with the most other tasks."""
    expect(answer is not None, "assign the task index (an int) to `answer`")
    expect(int(answer) != 1, "task 1 has by far the largest norm, which is not the same as conflicting")
    expect(int(answer) == 3, "hint: count, for each task, the negative entries in its row of G Gᵀ")
    return True


EXERCISE_METRICS = {"shape": 0.90, "color": 0.96, "relation": 0.70}
EXERCISE_BASELINE = {"shape": 0.92, "color": 0.95, "relation": 0.75}


def check_delta_m(answer) -> bool:
    """Exercise 3: Δm% of ``EXERCISE_METRICS`` against the single-task ``EXERCISE_BASELINE`` (accuracies)."""
    expect(answer is not None, "assign your Δm% (a float) to `answer`")
    want = delta_m(EXERCISE_METRICS, EXERCISE_BASELINE)
    absolute = 100 * sum(EXERCISE_METRICS[t] - EXERCISE_BASELINE[t] for t in EXERCISE_METRICS) / 3
    if abs(float(answer) - absolute) < 1e-6:
        raise WrongAnswer("Δm% uses *relative* changes: divide each difference by the single-task value")
    expect(abs(float(answer) - want) < 1e-6, "hint: 100/T Σ_t (M_t - B_t) / B_t, all three are accuracies")
    return True


def tree_predictions() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Exercise 4: ``(group_pred (40,), subgroup_pred (40,), parent (12,))`` long: two heads' predictions on
    40 samples, and the group of each of 12 subgroups (4 groups)."""
    g = torch.Generator().manual_seed(17)
    parent = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3])
    subgroup_pred = torch.randint(0, 12, (40,), generator=g)
    group_pred = parent[subgroup_pred].clone()
    flip = torch.randperm(40, generator=g)[:11]  # 11 of the 40 disagree with the tree
    group_pred[flip] = (group_pred[flip] + torch.randint(1, 4, (11,), generator=g)) % 4
    return group_pred, subgroup_pred, parent


def check_tree_consistency(answer) -> bool:
    """Exercise 4: the share of samples whose predicted subgroup's parent is the predicted group."""
    expect(answer is not None, "assign the share (a float in [0, 1]) to `answer`")
    group_pred, subgroup_pred, parent = tree_predictions()
    answer = float(answer)
    want = tree_consistency(group_pred, subgroup_pred, parent)
    if abs(answer - float((group_pred == subgroup_pred).float().mean())) < 1e-9:
        raise WrongAnswer(
            "group and subgroup ids live in different vocabularies: map the subgroup to its parent"
        )
    if abs(answer - (1 - want)) < 1e-9:
        raise WrongAnswer("that is the share that *disagrees* with the tree; the question asks for agreement")
    if 1 < answer <= 100:
        raise WrongAnswer("give a fraction in [0, 1], not a percentage")
    expect(abs(answer - want) < 1e-9, "hint: (parent[subgroup_pred] == group_pred).float().mean()")
    return True
