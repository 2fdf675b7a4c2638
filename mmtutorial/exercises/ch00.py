"""Checks for chapter 00 (setup)."""

from __future__ import annotations

import torch

from mmtutorial.exercises import expect


def check_device(device: object) -> bool:
    """The device a chapter should compute on: CUDA when it is available, else the CPU."""
    want = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    expect(device is not None, "set my_device first")
    got = torch.device(device) if isinstance(device, str) else device
    expect(isinstance(got, torch.device), f"expected a torch.device or a string, got {type(device).__name__}")
    expect(
        got.type == want.type, f"{got} is not right here: torch.cuda.is_available() is {want.type == 'cuda'}"
    )
    return True


def check_shape_count(answer: object, *, index: int = 3, seed: int = 0) -> bool:
    """The number of shapes in scene ``index`` of the default world with ``seed``."""
    from mmtutorial.data import ShapesWorld, WorldConfig

    expect(answer is not None, "set n_shapes first")
    want = ShapesWorld(WorldConfig(seed=seed))[index]["labels"]["count"]
    expect(int(answer) == want, f"{answer} is not the number of shapes in scene {index}; look at its labels")
    return True
