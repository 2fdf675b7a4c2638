"""Chapter 12 exercise checks accept the right answers and reject wrong ones."""

from __future__ import annotations

import math

import pytest

from mmtutorial.exercises import ch12
from mmtutorial.glossary import english


def test_collapsed_loss():
    assert ch12.check_collapsed_loss(math.log(1024))
    with pytest.raises(AssertionError, match="log2"):
        ch12.check_collapsed_loss(10.0)
    with pytest.raises(AssertionError, match="zero"):
        ch12.check_collapsed_loss(0.0)
    with pytest.raises(AssertionError):
        ch12.check_collapsed_loss(1 / 1024)
    with pytest.raises(AssertionError):
        ch12.check_collapsed_loss(None)


def test_uncertainty_weights():
    assert ch12.check_uncertainty_weights([1 / 8, 1 / 0.02])
    with pytest.raises(AssertionError, match="factor 1/2"):
        ch12.check_uncertainty_weights([1 / 4, 1 / 0.01])
    with pytest.raises(AssertionError, match="falls as the loss grows"):
        ch12.check_uncertainty_weights([2.0, 0.005])
    with pytest.raises(AssertionError, match="two floats"):
        ch12.check_uncertainty_weights([0.125])
    with pytest.raises(AssertionError):
        ch12.check_uncertainty_weights(None)


def test_glossary_lookup():
    right = [english(t) for t in ("微调阶段", "迁移学习", "分布外")]
    assert ch12.check_glossary_lookup(right)
    with pytest.raises(AssertionError, match="in order"):
        ch12.check_glossary_lookup(right[::-1])
    with pytest.raises(AssertionError, match="three terms"):
        ch12.check_glossary_lookup(right[:2])
    with pytest.raises(AssertionError):
        ch12.check_glossary_lookup(None)
