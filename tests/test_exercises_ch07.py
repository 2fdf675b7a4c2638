"""Chapter 07 exercise checks accept the right answers and reject wrong ones."""

from __future__ import annotations

import pytest
import torch

from mmtutorial.exercises import WrongAnswer, ch07


def _pcgrad_two(g1, g2):
    d = g1 @ g2
    if d >= 0:
        return g1 + g2
    return (g1 - d / (g2 @ g2) * g2) + (g2 - d / (g1 @ g1) * g1)


def test_pcgrad_two():
    assert ch07.check_pcgrad_two(_pcgrad_two)
    with pytest.raises(WrongAnswer, match="conflict"):
        ch07.check_pcgrad_two(lambda a, b: a + b)  # forgot the projection
    with pytest.raises(WrongAnswer, match="agree"):
        ch07.check_pcgrad_two(lambda a, b: (a - (a @ b) / (b @ b) * b) + (b - (a @ b) / (a @ a) * a))
    with pytest.raises(WrongAnswer):  # projects only the first gradient
        ch07.check_pcgrad_two(lambda a, b: (a - min(a @ b, 0) / (b @ b) * b) + b)
    with pytest.raises(WrongAnswer):
        ch07.check_pcgrad_two(lambda a, b: torch.zeros(3, dtype=torch.float64))
    with pytest.raises(WrongAnswer):
        ch07.check_pcgrad_two(None)


def test_conflicting_task():
    G = ch07.conflict_gradients()
    negatives = ((G @ G.T) < 0).sum(1)
    assert ch07.check_conflicting_task(int(negatives.argmax()))
    with pytest.raises(WrongAnswer, match="norm"):
        ch07.check_conflicting_task(int(G.norm(dim=1).argmax()))
    with pytest.raises(WrongAnswer):
        ch07.check_conflicting_task(0)
    with pytest.raises(WrongAnswer):
        ch07.check_conflicting_task(None)


def test_delta_m():
    m, b = ch07.EXERCISE_METRICS, ch07.EXERCISE_BASELINE
    right = 100 * sum((m[t] - b[t]) / b[t] for t in m) / 3
    assert ch07.check_delta_m(right)
    with pytest.raises(WrongAnswer, match="relative"):
        ch07.check_delta_m(100 * sum(m[t] - b[t] for t in m) / 3)
    with pytest.raises(WrongAnswer):
        ch07.check_delta_m(-right)
    with pytest.raises(WrongAnswer):
        ch07.check_delta_m(None)


def test_tree_consistency():
    group_pred, subgroup_pred, parent = ch07.tree_predictions()
    right = float((parent[subgroup_pred] == group_pred).float().mean())
    assert 0.5 < right < 0.9  # some disagree, most agree
    assert ch07.check_tree_consistency(right)
    with pytest.raises(WrongAnswer, match="vocabularies"):
        ch07.check_tree_consistency(float((group_pred == subgroup_pred).float().mean()))
    with pytest.raises(WrongAnswer, match="disagrees"):
        ch07.check_tree_consistency(1 - right)
    with pytest.raises(WrongAnswer, match="percentage"):
        ch07.check_tree_consistency(100 * right)
    with pytest.raises(WrongAnswer):
        ch07.check_tree_consistency(float((parent[group_pred] == subgroup_pred).float().mean()))
    with pytest.raises(WrongAnswer):
        ch07.check_tree_consistency(None)
