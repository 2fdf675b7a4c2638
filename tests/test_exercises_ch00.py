import pytest
import torch

from mmtutorial.exercises import ch00


def test_device_check_accepts_the_right_device_and_rejects_others():
    right = "cuda" if torch.cuda.is_available() else "cpu"
    wrong = "cpu" if right == "cuda" else "cuda"
    assert ch00.check_device(right) and ch00.check_device(torch.device(right))
    with pytest.raises(AssertionError):
        ch00.check_device(wrong)
    with pytest.raises(AssertionError):
        ch00.check_device(None)


def test_shape_count_check_accepts_the_count_and_rejects_others():
    from mmtutorial.data import ShapesWorld, WorldConfig

    n = ShapesWorld(WorldConfig(seed=0))[3]["labels"]["count"]
    assert ch00.check_shape_count(n)
    with pytest.raises(AssertionError):
        ch00.check_shape_count(n + 1)
