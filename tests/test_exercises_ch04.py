"""Chapter 04 exercise checks accept the right answer and reject wrong ones."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mmtutorial.exercises import ch04
from mmtutorial.fusion import make_fusion
from mmtutorial.fusion_tasks import FusionClassifier, train_classifier

# Tiny modules: one thread avoids thread-pool overhead on a busy machine (conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


def good_vector(a, b):
    one = torch.ones(a.shape[0], 1)
    return torch.einsum("bi,bj->bij", torch.cat([one, a], 1), torch.cat([one, b], 1)).reshape(a.shape[0], -1)


def test_tensor_fusion_vector():
    assert ch04.check_tensor_fusion_vector(good_vector)
    with pytest.raises(AssertionError, match="write"):
        ch04.check_tensor_fusion_vector(None)
    no_ones = lambda a, b: torch.einsum("bi,bj->bij", a, b).reshape(a.shape[0], -1)
    with pytest.raises(AssertionError, match="shape"):
        ch04.check_tensor_fusion_vector(no_ones)
    ones_last = lambda a, b: good_vector(a.flip(1), b.flip(1)).flip(1)  # [a; 1] (x) [b; 1]
    with pytest.raises(AssertionError):
        ch04.check_tensor_fusion_vector(ones_last)
    column_major = lambda a, b: good_vector(a, b).view(-1, a.shape[1] + 1, b.shape[1] + 1).transpose(1, 2)
    with pytest.raises(AssertionError, match="row-major"):
        ch04.check_tensor_fusion_vector(lambda a, b: column_major(a, b).reshape(a.shape[0], -1))


def test_parameter_counts():
    right = {"tensor": 9**3 * 32 + 32, "low_rank": 3 * 4 * 17 * 32 + 4 + 32}
    assert ch04.check_parameter_counts(right)
    with pytest.raises(AssertionError, match="fill"):
        ch04.check_parameter_counts(None)
    with pytest.raises(AssertionError, match="tensor"):
        ch04.check_parameter_counts({**right, "tensor": 8**3 * 32 + 32})  # forgot the appended 1
    with pytest.raises(AssertionError, match="low_rank"):
        ch04.check_parameter_counts({**right, "low_rank": 3 * 4 * 16 * 32 + 4 + 32})
    with pytest.raises(AssertionError, match="answer"):
        ch04.check_parameter_counts({"tensor": 1})


class ConcatMLP(nn.Module):
    def __init__(self, hidden: int = 64):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(32 + 24, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, x):
        return self.mlp(torch.cat([x["image"].pooled, x["audio"].pooled], -1))


def test_concat_mlp_accepts_a_trained_mlp_and_rejects_late_concat():
    task = ch04.exercise_task()
    torch.manual_seed(0)
    good = ConcatMLP()
    train_classifier(good, task, epochs=20)
    assert ch04.check_concat_mlp(good)
    torch.manual_seed(0)
    late = FusionClassifier(make_fusion("late_concat", task.dims, 32), 2)
    train_classifier(late, task, epochs=20)
    with pytest.raises(AssertionError, match="accuracy"):
        ch04.check_concat_mlp(late)
    with pytest.raises(AssertionError, match="accuracy"):
        ch04.check_concat_mlp(ConcatMLP())  # untrained
    with pytest.raises(AssertionError, match="nn.Module"):
        ch04.check_concat_mlp(lambda x: x)


def test_a_wrong_answer_is_refused_under_python_O():
    """`python -O` removes assert statements; the ch04 checks must still refuse a wrong answer."""
    import subprocess
    import sys

    code = (
        "from mmtutorial.exercises import WrongAnswer, ch04\n"
        "try:\n"
        '    ch04.check_parameter_counts({"tensor": 1, "low_rank": 1})\n'
        "except WrongAnswer:\n"
        "    print('refused')\n"
    )
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "refused"
