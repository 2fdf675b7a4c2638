"""Chapter 10 exercise checks accept the right answers and reject wrong ones."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mmtutorial.exercises import ch10


def test_chance_level():
    assert ch10.check_chance_level(1 - math.comb(17, 5) / math.comb(20, 5))
    with pytest.raises(AssertionError, match="counts a query"):
        ch10.check_chance_level(3 * 5 / 20)
    with pytest.raises(AssertionError, match="one positive"):
        ch10.check_chance_level(5 / 20)
    with pytest.raises(AssertionError):
        ch10.check_chance_level(None)


def right_recall(scores, positives, k):
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
    return float(positives.gather(1, order).any(dim=1).float().mean())


def test_recall_function():
    assert ch10.check_recall_function(right_recall)

    def ties_against(scores, positives, k):  # pessimistic ties: a positive tied with anything loses
        pos_best = scores.masked_fill(~positives, -float("inf")).max(dim=1).values
        rank = (scores >= pos_best[:, None]).sum(dim=1) - 1
        return float((rank < k).float().mean())

    with pytest.raises(AssertionError, match="ties"):
        ch10.check_recall_function(ties_against)

    def first_positive_only(scores, positives, k):  # uses one positive per query
        first = positives.float().argmax(dim=1)
        order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
        return float((order == first[:, None]).any(dim=1).float().mean())

    with pytest.raises(AssertionError):
        ch10.check_recall_function(first_positive_only)
    with pytest.raises(AssertionError):
        ch10.check_recall_function(None)


def test_prompt_ensemble():
    per_class = []
    for c in ch10.CLASSES:
        emb = ch10.exercise_encoder([t.format(c) for t in ch10.TEMPLATES])
        per_class.append(F.normalize(F.normalize(emb, dim=1).mean(0), dim=0))
    right = torch.stack(per_class)
    assert ch10.check_prompt_ensemble(right)
    raw = torch.stack(
        [
            F.normalize(ch10.exercise_encoder([t.format(c) for t in ch10.TEMPLATES]).mean(0), dim=0)
            for c in ch10.CLASSES
        ]
    )
    with pytest.raises(AssertionError, match="BEFORE averaging"):
        ch10.check_prompt_ensemble(raw)
    with pytest.raises(AssertionError, match="unit vector"):
        ch10.check_prompt_ensemble(right * 2)
    with pytest.raises(AssertionError, match="shape"):
        ch10.check_prompt_ensemble(right.T)
    with pytest.raises(AssertionError):
        ch10.check_prompt_ensemble(None)
