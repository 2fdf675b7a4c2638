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


def test_checks_raise_wrong_answer_without_assert_statements():
    """Checks raise WrongAnswer explicitly: no `assert` statement (which `python -O` strips) in ch00-ch05."""
    import ast
    import importlib

    from mmtutorial.exercises import WrongAnswer

    for name in ("ch00", "ch01", "ch02", "ch03", "ch04", "ch05"):
        module = importlib.import_module(f"mmtutorial.exercises.{name}")
        tree = ast.parse(open(module.__file__, encoding="utf-8").read())
        asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert not asserts, f"{name}.py uses assert on lines {asserts}; use expect(...) instead"
    with pytest.raises(WrongAnswer, match="scene 3"):
        ch00.check_shape_count(99)


def test_a_wrong_answer_is_refused_under_python_O():
    """`python -O` removes assert statements; the ch00 checks must still refuse a wrong answer."""
    import subprocess
    import sys

    code = (
        "from mmtutorial.exercises import WrongAnswer, ch00\n"
        "try:\n"
        "    ch00.check_shape_count(99)\n"
        "except WrongAnswer:\n"
        "    print('refused')\n"
    )
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "refused"
