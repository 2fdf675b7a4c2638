"""Each chapter-01 check accepts a right answer and rejects wrong ones."""

from __future__ import annotations

import pytest

from mmtutorial.data import ShapesWorld, WorldConfig
from mmtutorial.exercises import ch01


def test_check_caption():
    scene = ShapesWorld(WorldConfig(seed=0)).scene(5)
    right = " and ".join(f"a {s.size} {s.color} {s.shape}" for s in scene.shapes)
    assert ch01.check_caption(right)
    assert ch01.check_caption(ShapesWorld(WorldConfig(seed=0))[5]["caption"])  # the world's own caption
    with pytest.raises(AssertionError, match="set"):
        ch01.check_caption(None)
    first = scene.shapes[0]
    with pytest.raises(AssertionError, match="not named"):
        ch01.check_caption(
            f"a {first.size} {first.color} {first.shape}" if len(scene.shapes) > 1 else "a shape"
        )
    with pytest.raises(AssertionError, match="not in the scene"):
        ch01.check_caption(right + " and a small white cross")


def test_check_lowest_pitch_color():
    assert ch01.check_lowest_pitch_color("red")
    for wrong in ("purple", "blue"):
        with pytest.raises(AssertionError):
            ch01.check_lowest_pitch_color(wrong)
    with pytest.raises(AssertionError, match="not one of"):
        ch01.check_lowest_pitch_color("mauve")


def test_check_holdout_world():
    good = ShapesWorld(WorldConfig(holdout=(("green", "circle"),), split="train"))
    assert ch01.check_holdout_world(good)
    with pytest.raises(AssertionError, match="hold the combination out"):
        ch01.check_holdout_world(ShapesWorld(WorldConfig()))
    with pytest.raises(AssertionError, match="parts"):
        ch01.check_holdout_world(ShapesWorld(WorldConfig(holdout=(("green",),), split="train")))
    with pytest.raises(AssertionError, match="split"):
        ch01.check_holdout_world(ShapesWorld(WorldConfig(holdout=(("green", "circle"),), split="all")))


def test_a_wrong_answer_is_refused_under_python_O():
    """`python -O` removes assert statements; the ch01 checks must still refuse a wrong answer."""
    import subprocess
    import sys

    code = (
        "from mmtutorial.exercises import WrongAnswer, ch01\n"
        "try:\n"
        '    ch01.check_lowest_pitch_color("purple")\n'
        "except WrongAnswer:\n"
        "    print('refused')\n"
    )
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "refused"
