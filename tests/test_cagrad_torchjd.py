"""Our CAGrad against torchjd's, an independent implementation that solves the paper's dual with cvxpy.

CAGrad (Liu et al. 2021): with g0 the mean task gradient and φ = c²‖g0‖², find the simplex weights w
minimising ``g_w·g0 + √φ ‖g_w‖`` (g_w = Σ_t w_t g_t) and return ``d = g0 + √φ / ‖g_w‖ · g_w``. Both
implementations solve that problem numerically (torchjd's with an interior-point solver), so they agree to the
solvers' tolerance, not to rounding.
"""

import pytest
import torch
from torchjd.aggregation import CAGrad

from mmtutorial.multitask import aggregate


@pytest.mark.parametrize("num_tasks", [2, 3, 5])
@pytest.mark.parametrize("c", [0.0, 0.25, 0.5, 0.9])
def test_cagrad_equals_torchjd(num_tasks: int, c: float) -> None:
    gen = torch.Generator().manual_seed(100 * num_tasks + int(10 * c))
    grads = torch.randn(num_tasks, 32, generator=gen, dtype=torch.float64)
    grads[1] -= 1.5 * grads[0]  # make the first two tasks conflict, so the correction is not trivial
    ours = aggregate(grads, "cagrad", c=c)
    theirs = CAGrad(c=c)(grads)
    # Relative to the size of the update: both are iterative solvers (torchjd's Clarabel stops near 1e-8 on
    # the QP's objective, which leaves ~1e-5 on the weights).
    scale = theirs.norm()
    assert (ours - theirs).norm() <= 1e-3 * scale, (ours - theirs).norm() / scale


def test_cagrad_differs_from_the_mean_when_tasks_conflict() -> None:
    """Guards the test above against passing because both returned the plain mean."""
    grads = torch.tensor([[1.0, 0.0], [-0.9, 0.3]], dtype=torch.float64)
    ours = aggregate(grads, "cagrad", c=0.5)
    mean = grads.mean(0)
    assert (ours - mean).norm() > 0.3 * mean.norm()
    torch.testing.assert_close(ours, CAGrad(c=0.5)(grads), rtol=1e-4, atol=1e-4)
