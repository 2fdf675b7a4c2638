"""Chapter 03's exercise checks accept the right answers and reject wrong ones."""

import pytest
import torch

from mmtutorial.exercises import ch03


def test_vit_parameter_count():
    d, p, n = 32, 8, (32 // 8) ** 2
    block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d + 4 * d * d + d)
    right = (3 * p * p * d + d) + d + (n + 1) * d + block + 2 * d
    assert ch03.check_vit_parameter_count(right)
    with pytest.raises(AssertionError, match="parameter count"):
        ch03.check_vit_parameter_count(right - d)  # forgot the class token
    with pytest.raises(AssertionError):
        ch03.check_vit_parameter_count(float(right))


def test_num_frames():
    assert ch03.check_num_frames(lambda n: (n - 400) // 160 + 1)
    with pytest.raises(AssertionError, match="frames"):
        ch03.check_num_frames(lambda n: n // 160 + 1)  # the centred-STFT count
    with pytest.raises(AssertionError):
        ch03.check_num_frames(lambda n: (n - 400) // 160)  # off by one


def test_masked_mean():
    def right(tokens, mask):
        w = mask.float().unsqueeze(-1)
        return (tokens * w).sum(1) / w.sum(1)

    assert ch03.check_masked_mean(right)
    with pytest.raises(AssertionError, match="real tokens"):
        ch03.check_masked_mean(lambda tokens, mask: tokens.mean(1))
    with pytest.raises(AssertionError, match="real tokens"):
        ch03.check_masked_mean(lambda tokens, mask: (tokens * mask.float().unsqueeze(-1)).mean(1))
    with pytest.raises(AssertionError, match=r"\(B, D\)"):
        ch03.check_masked_mean(lambda tokens, mask: torch.zeros(4))


def test_a_wrong_answer_is_refused_under_python_O():
    """`python -O` removes assert statements; the ch03 checks must still refuse a wrong answer."""
    import subprocess
    import sys

    code = (
        "from mmtutorial.exercises import WrongAnswer, ch03\n"
        "try:\n"
        "    ch03.check_vit_parameter_count(1)\n"
        "except WrongAnswer:\n"
        "    print('refused')\n"
    )
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "refused"
