"""Chapter 11 exercise checks accept the right answers and reject wrong ones."""

from __future__ import annotations

import pytest
import torch

from mmtutorial.exercises import ch11


def test_shapley_two():
    assert ch11.check_shapley_two({"image": 0.075, "audio": 0.375})
    with pytest.raises(AssertionError, match="ablation"):
        ch11.check_shapley_two({"image": 0.05, "audio": 0.35})
    with pytest.raises(AssertionError, match="efficiency"):
        ch11.check_shapley_two({"image": 0.1, "audio": 0.4})  # the values of going first: sum 0.5
    with pytest.raises(AssertionError, match="hint"):
        ch11.check_shapley_two({"image": 0.225, "audio": 0.225})  # sums right, split wrong
    with pytest.raises(AssertionError, match="keys"):
        ch11.check_shapley_two({"image": 0.075})
    with pytest.raises(AssertionError):
        ch11.check_shapley_two(None)


def test_pointing_hit():
    assert ch11.check_pointing_hit(lambda m, mask: bool(mask.flatten()[m.flatten().argmax()]))
    with pytest.raises(AssertionError, match="case"):  # the last maximum instead of the first
        ch11.check_pointing_hit(lambda m, mask: bool(mask.flatten().flip(0)[m.flatten().flip(0).argmax()]))

    def transposed(m, mask):  # row and column swapped: wrong on a non-square map
        i = int(m.argmax())
        r, c = divmod(i, m.shape[1])
        return (
            bool(mask.T.reshape(-1)[r * m.shape[0] + c]) if c < mask.shape[0] and r < mask.shape[1] else False
        )

    with pytest.raises(AssertionError, match="case"):
        ch11.check_pointing_hit(transposed)
    with pytest.raises(AssertionError, match="case"):
        ch11.check_pointing_hit(lambda m, mask: bool(mask.any()))  # "there is an object" is not a hit
    with pytest.raises(AssertionError):
        ch11.check_pointing_hit(None)


def test_fgsm_step():
    assert ch11.check_fgsm_step(lambda x, g, eps: (x + eps * g.sign()).clamp(0, 1))
    with pytest.raises(AssertionError, match="sign"):
        ch11.check_fgsm_step(lambda x, g, eps: x + eps * g)
    with pytest.raises(AssertionError, match="increases"):
        ch11.check_fgsm_step(lambda x, g, eps: (x - eps * g.sign()).clamp(0, 1))
    with pytest.raises(AssertionError, match="clamp"):
        ch11.check_fgsm_step(lambda x, g, eps: x + eps * g.sign())
    with pytest.raises(AssertionError, match="shape"):
        ch11.check_fgsm_step(lambda x, g, eps: torch.zeros(3))
    with pytest.raises(AssertionError):
        ch11.check_fgsm_step(None)
