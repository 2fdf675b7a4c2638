import pytest
import torch

from mmtutorial.exercises import ch06


def test_lse_merge_check_accepts_a_correct_merge_and_rejects_wrong_ones():
    assert ch06.check_lse_merge(ch06.reference_merge())

    def overflowing(m1, s1, m2, s2):  # forgets the running max: exp(1000) overflows
        total = torch.exp(m1) * s1 + torch.exp(m2) * s2
        return torch.tensor(0.0, dtype=torch.float64), total

    def plain_sum(m1, s1, m2, s2):  # adds the sums without rescaling
        return torch.maximum(m1, m2), s1 + s2

    for wrong in (overflowing, plain_sum, None, 3):
        with pytest.raises(AssertionError):
            ch06.check_lse_merge(wrong)


def test_memory_and_flops_check():
    n, d = 65_536, 768
    assert ch06.check_memory_and_flops((4 * n * n / 1e9, 8 * n * n * d / 1e12))
    for wrong in [(2 * n * n / 1e9, 8 * n * n * d / 1e12), (4 * n * n / 1e9, 6 * n * n * d / 1e12), None]:
        with pytest.raises(AssertionError):
            ch06.check_memory_and_flops(wrong)


def test_grid_check():
    assert ch06.check_grid((8, 16))
    for wrong in [(7, 15), (8, 15), None]:
        with pytest.raises(AssertionError):
            ch06.check_grid(wrong)
