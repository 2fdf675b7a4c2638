"""Chapter 05 exercise checks accept the right answers and reject wrong ones."""

from __future__ import annotations

import math

import pytest
import torch

from mmtutorial.exercises import ch05


def test_logit_gradient():
    logits = ch05.exercise_logits()
    right = (logits.softmax(dim=1) - torch.eye(4, dtype=torch.float64)) / 4
    assert ch05.check_logit_gradient(right)
    with pytest.raises(AssertionError, match="divide by N"):
        ch05.check_logit_gradient(right * 4)
    with pytest.raises(AssertionError):
        ch05.check_logit_gradient(logits.softmax(dim=0) / 4 - torch.eye(4, dtype=torch.float64) / 4)
    with pytest.raises(AssertionError):
        ch05.check_logit_gradient(None)


def test_temperature():
    assert ch05.check_temperature(0.6 / math.log(10))
    with pytest.raises(AssertionError):
        ch05.check_temperature(0.6 / 10)
    with pytest.raises(AssertionError):
        ch05.check_temperature(None)


def test_uniformity():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]], dtype=torch.float64)
    sq = torch.pdist(x).pow(2)
    assert ch05.check_uniformity(float(sq.mul(-2).exp().mean().log()))
    with pytest.raises(AssertionError):
        ch05.check_uniformity(float(sq.mul(-2).exp().mean()))  # forgot the log
    with pytest.raises(AssertionError):
        ch05.check_uniformity(None)


def test_a_wrong_answer_is_refused_under_python_O():
    """`python -O` removes assert statements; the ch05 checks must still refuse a wrong answer."""
    import subprocess
    import sys

    code = (
        "from mmtutorial.exercises import WrongAnswer, ch05\n"
        "try:\n"
        "    ch05.check_temperature(1.0)\n"
        "except WrongAnswer:\n"
        "    print('refused')\n"
    )
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "refused"
