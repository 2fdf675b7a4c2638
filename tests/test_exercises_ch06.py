import os
import subprocess
import sys

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


try:  # Triton ships for Linux only: the mask exercise is skipped where it is missing
    import triton
    import triton.language as tl  # noqa: F401 - the interpreter wants it visible to @triton.jit functions
except ImportError:
    triton = None

if triton is not None:

    @triton.jit
    def _inside(rows, dd, N, D):
        return (rows[:, None] < N) & (dd[None, :] < D)

    @triton.jit
    def _rows_only(rows, dd, N, D):  # forgets the ragged end of D
        return (rows[:, None] < N) & (dd[None, :] < 1 << 30)

    @triton.jit
    def _cols_only(rows, dd, N, D):  # forgets the ragged last row block
        return (rows[:, None] < 1 << 30) & (dd[None, :] < D)

    @triton.jit
    def _off_by_one(rows, dd, N, D):  # reads row N
        return (rows[:, None] <= N) & (dd[None, :] < D)

    @triton.jit
    def _too_strict(rows, dd, N, D):  # drops the last column
        return (rows[:, None] < N) & (dd[None, :] < D - 1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning:triton.runtime.interpreter")
@pytest.mark.skipif(
    triton is None or os.environ.get("TRITON_INTERPRET") != "1", reason="needs Triton's CPU interpreter"
)
def test_tile_mask_check_accepts_the_mask_and_rejects_wrong_ones():
    assert ch06.check_tile_mask(_inside)
    for wrong in (_rows_only, _cols_only, _off_by_one, _too_strict, None, 3):
        with pytest.raises(AssertionError):
            ch06.check_tile_mask(wrong)


def test_checks_raise_under_python_O():
    # The checks raise explicitly, so they still reject a wrong answer when asserts are stripped.
    code = (
        "from mmtutorial.exercises import ch06\n"
        "try:\n    ch06.check_grid((7, 15))\nexcept AssertionError:\n    print('RAISED')"
    )
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=120)
    assert "RAISED" in out.stdout, out.stderr
