"""Chapter 08 exercise checks accept the right answers and reject wrong ones."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mmtutorial.exercises import WrongAnswer, ch08


def right_forward(x, W, b, A, B, scaling):
    return x @ W.T + b + scaling * (x @ A.T) @ B.T


def test_lora_forward():
    assert ch08.check_lora_forward(right_forward)
    with pytest.raises(WrongAnswer, match="scaling"):
        ch08.check_lora_forward(lambda x, W, b, A, B, scaling: x @ W.T + b + (x @ A.T) @ B.T)
    with pytest.raises(WrongAnswer, match="bias"):
        ch08.check_lora_forward(lambda x, W, b, A, B, scaling: x @ W.T + scaling * (x @ A.T) @ B.T)
    with pytest.raises(WrongAnswer):
        ch08.check_lora_forward(lambda x, W, b, A, B, scaling: x @ W.T + b)
    with pytest.raises(WrongAnswer):
        ch08.check_lora_forward(None)


def test_lora_forward_matches_the_package():
    t = ch08.lora_exercise_tensors()
    base = nn.Linear(6, 4).double()
    with torch.no_grad():
        base.weight.copy_(t["W"])
        base.bias.copy_(t["b"])
    layer = ch08.reference_lora(base, t["A"], t["B"], t["scaling"]).double()
    assert torch.allclose(layer(t["x"]), right_forward(**t), atol=1e-9)


def test_llrd_rates():
    assert ch08.check_llrd_rates([1e-3 * 0.5 ** (5 - i) for i in range(6)])
    with pytest.raises(WrongAnswer, match="reversed"):
        ch08.check_llrd_rates([1e-3 * 0.5**i for i in range(6)])
    with pytest.raises(WrongAnswer):
        ch08.check_llrd_rates([1e-3 * 0.5 ** (4 - i) for i in range(6)])  # off by one
    with pytest.raises(WrongAnswer, match="6 layers"):
        ch08.check_llrd_rates([1e-3] * 5)
    with pytest.raises(WrongAnswer):
        ch08.check_llrd_rates(None)


def test_lora_parameter_count():
    assert ch08.check_lora_parameter_count(73_728)
    with pytest.raises(WrongAnswer, match="two adapted"):
        ch08.check_lora_parameter_count(36_864)
    with pytest.raises(WrongAnswer):
        ch08.check_lora_parameter_count(73_728 + 1540)  # the head is not an adapter
    with pytest.raises(WrongAnswer):
        ch08.check_lora_parameter_count(None)
