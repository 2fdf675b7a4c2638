"""Checks for chapter 06 (efficient contrastive losses: memory wall, online log-sum-exp, the fused kernel)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def check_lse_merge(merge: object, *, trials: int = 20, seed: int = 0) -> bool:
    """``merge(m1, s1, m2, s2) -> (m, s)`` combines two partial log-sum-exp states.

    A state ``(m, s)`` of a set of numbers x holds ``m = max x`` and ``s = sum exp(x - m)``, so
    ``logsumexp x = m + log s``. Merging two states must give the state of the union, without overflow.
    """
    assert merge is not None, "define merge(m1, s1, m2, s2) first"
    assert callable(merge), f"merge must be a function, got {type(merge).__name__}"
    g = torch.Generator().manual_seed(seed)
    for i in range(trials):
        shift = 0.0 if i % 2 else 1000.0  # large values: exp would overflow without the running max
        x1 = (
            torch.randn(int(torch.randint(1, 9, (1,), generator=g)), generator=g, dtype=torch.float64) * 5
            + shift
        )
        x2 = (
            torch.randn(int(torch.randint(1, 9, (1,), generator=g)), generator=g, dtype=torch.float64) * 5
            - shift
        )
        m1, m2 = x1.max(), x2.max()
        s1, s2 = torch.exp(x1 - m1).sum(), torch.exp(x2 - m2).sum()
        out = merge(m1, s1, m2, s2)
        assert isinstance(out, tuple) and len(out) == 2, "merge must return a pair (m, s)"
        m, s = (torch.as_tensor(v, dtype=torch.float64) for v in out)
        want = torch.logsumexp(torch.cat([x1, x2]), 0)
        got = m + torch.log(s)
        assert torch.isfinite(got), "merge overflowed: rescale both sums to the new maximum before adding"
        assert torch.allclose(got, want, rtol=1e-12, atol=1e-9), (
            f"m + log s = {float(got)}, want {float(want)}"
        )
        assert torch.allclose(m, torch.maximum(m1, m2)), "the merged m should be the larger of the two maxima"
    return True


def check_memory_and_flops(answer: object) -> bool:
    """``(logits_gb, tflop)`` for N = 65,536 and D = 768: the fp32 N x N logits in GB (1e9 bytes) and the
    fused loss's forward + backward work, 8 N^2 D, in TFLOP (1e12)."""
    assert answer is not None, "set answer = (logits_gb, tflop) first"
    n, d = 65_536, 768
    want_gb, want_tflop = 4 * n * n / 1e9, 8 * n * n * d / 1e12
    gb, tflop = (float(v) for v in answer)
    assert math.isclose(gb, want_gb, rel_tol=1e-3), f"{gb} GB: count 4 bytes per fp32 logit, N x N of them"
    assert math.isclose(tflop, want_tflop, rel_tol=1e-3), f"{tflop} TFLOP: 2 N^2 D per matmul, four of them"
    return True


def check_grid(answer: object, *, n: int = 1000, block_m: int = 128, block_n: int = 64) -> bool:
    """``(programs, tiles_per_program)`` of the forward kernel for N = ``n``: one program per block of
    ``block_m`` rows, each visiting every block of ``block_n`` columns (the last ones ragged, masked)."""
    assert answer is not None, "set answer = (programs, tiles_per_program) first"
    want = (math.ceil(n / block_m), math.ceil(n / block_n))
    got = tuple(int(v) for v in answer)
    assert got == want, f"{got}: round up, a ragged block still needs its own program / tile"
    return True


def reference_merge() -> Callable:
    """A correct merge, for the tests."""

    def merge(m1, s1, m2, s2):
        m = torch.maximum(torch.as_tensor(m1), torch.as_tensor(m2))
        return m, s1 * torch.exp(m1 - m) + s2 * torch.exp(m2 - m)

    return merge
