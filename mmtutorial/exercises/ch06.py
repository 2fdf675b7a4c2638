"""Checks for chapter 06 (efficient contrastive losses: memory wall, online log-sum-exp, the fused kernel).

Each check returns True or raises AssertionError with a hint (an explicit ``raise``: ``python -O`` would
drop a bare ``assert``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch


def _require(ok: object, message: str) -> None:
    if not ok:
        raise AssertionError(message)


def check_lse_merge(merge: object, *, trials: int = 20, seed: int = 0) -> bool:
    """``merge(m1, s1, m2, s2) -> (m, s)`` combines two partial log-sum-exp states.

    A state ``(m, s)`` of a set of numbers x holds ``m = max x`` and ``s = sum exp(x - m)``, so
    ``logsumexp x = m + log s``. Merging two states must give the state of the union, without overflow.
    """
    _require(merge is not None, "define merge(m1, s1, m2, s2) first")
    _require(callable(merge), f"merge must be a function, got {type(merge).__name__}")
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
        _require(isinstance(out, tuple) and len(out) == 2, "merge must return a pair (m, s)")
        m, s = (torch.as_tensor(v, dtype=torch.float64) for v in out)
        want = torch.logsumexp(torch.cat([x1, x2]), 0)
        got = m + torch.log(s)
        _require(torch.isfinite(got), "merge overflowed: rescale both sums to the new maximum before adding")
        _require(
            torch.allclose(got, want, rtol=1e-12, atol=1e-9), f"m + log s = {float(got)}, want {float(want)}"
        )
        _require(
            torch.allclose(m, torch.maximum(m1, m2)), "the merged m should be the larger of the two maxima"
        )
    return True


def check_memory_and_flops(answer: object) -> bool:
    """``(logits_gb, tflop)`` for N = 65,536 and D = 768: the fp32 N x N logits in GB (1e9 bytes) and the
    fused loss's forward + backward work, 8 N^2 D, in TFLOP (1e12)."""
    _require(answer is not None, "set answer = (logits_gb, tflop) first")
    n, d = 65_536, 768
    want_gb, want_tflop = 4 * n * n / 1e9, 8 * n * n * d / 1e12
    gb, tflop = (float(v) for v in answer)
    _require(math.isclose(gb, want_gb, rel_tol=1e-3), f"{gb} GB: count 4 bytes per fp32 logit, N x N of them")
    _require(
        math.isclose(tflop, want_tflop, rel_tol=1e-3), f"{tflop} TFLOP: 2 N^2 D per matmul, four of them"
    )
    return True


def check_grid(answer: object, *, n: int = 1000, block_m: int = 128, block_n: int = 64) -> bool:
    """``(programs, tiles_per_program)`` of the forward kernel for N = ``n``: one program per block of
    ``block_m`` rows, each visiting every block of ``block_n`` columns (the last ones ragged, masked)."""
    _require(answer is not None, "set answer = (programs, tiles_per_program) first")
    want = (math.ceil(n / block_m), math.ceil(n / block_n))
    got = tuple(int(v) for v in answer)
    _require(got == want, f"{got}: round up, a ragged block still needs its own program / tile")
    return True


def check_tile_mask(tile_mask: object, *, seed: int = 0) -> bool:
    """``tile_mask(rows, dd, N, D)``, a ``@triton.jit`` function: which entries of a (BLOCK_M, BLOCK_D) tile
    (rows ``rows``, columns ``dd`` of an (N, D) matrix) lie inside the matrix, as a boolean tile.

    Runs a row-sum kernel that loads every tile with the mask (``other=0``) on sizes that are not multiples of
    the blocks. The matrix sits in a larger buffer filled with NaN, so a load outside it shows as NaN in a
    per-program total, even from rows that are never stored.
    Needs Triton (with ``TRITON_INTERPRET=1`` set before it was imported, on a CPU).
    """
    _require(tile_mask is not None, "define tile_mask first (decorated with @triton.jit)")
    import triton

    _require(
        isinstance(tile_mask, triton.runtime.jit.JITFunction)
        or type(tile_mask).__name__ == "InterpretedFunction",
        f"tile_mask must be a @triton.jit function, got {type(tile_mask).__name__}",
    )
    g = torch.Generator().manual_seed(seed)
    for n, d in [(37, 20), (16, 16), (5, 33)]:
        x = torch.randn(n, d, generator=g)
        got, totals = masked_row_sums(x, tile_mask)
        _require(
            torch.isfinite(totals).all(),
            f"N={n}, D={d}: a masked load left the matrix (a row >= N or a column >= D was read)",
        )
        _require(
            torch.allclose(got, x.sum(dim=1), atol=1e-5),
            f"N={n}, D={d}: row sums differ: the mask must keep every entry inside the matrix (rows < N and "
            "columns < D)",
        )
    return True


@functools.cache
def _row_sum_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def row_sums(
        x_ptr,
        out_ptr,
        tile_ptr,
        N,
        D,
        stride,
        MASK: tl.constexpr,
        BLOCK_M: tl.constexpr,
        BLOCK_D: tl.constexpr,
    ):
        rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
        acc = tl.zeros((BLOCK_M,), tl.float32)
        for d0 in range(0, D, BLOCK_D):
            dd = d0 + tl.arange(0, BLOCK_D)
            x = tl.load(x_ptr + rows[:, None] * stride + dd[None, :], mask=MASK(rows, dd, N, D), other=0.0)
            acc += tl.sum(x, axis=1)
        tl.store(out_ptr + rows, acc, mask=rows < N)
        tl.store(tile_ptr + tl.program_id(0), tl.sum(acc, axis=0))  # every loaded value, masked-off rows too

    return row_sums


def masked_row_sums(
    x: torch.Tensor, tile_mask: object, block_m: int = 16, block_d: int = 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """(row sums, per-program totals) of an (N, D) fp32 matrix by a Triton kernel that loads
    (block_m, block_d) tiles with ``mask=tile_mask(rows, dd, N, D)``. The matrix sits in a NaN-filled buffer
    one block larger each way, so any load outside it makes a total NaN."""
    import triton

    n, d = x.shape
    buf = torch.full((n + block_m, d + block_d), float("nan"), dtype=torch.float32)
    buf[:n, :d] = x
    out = torch.full((n + block_m,), float("nan"))
    grid = (triton.cdiv(n, block_m),)
    totals = torch.empty(grid[0])
    kernel = _row_sum_kernel()
    kernel[grid](buf, out, totals, n, d, buf.stride(0), MASK=tile_mask, BLOCK_M=block_m, BLOCK_D=block_d)
    return out[:n], totals


def reference_merge() -> Callable:
    """A correct merge, for the tests."""

    def merge(m1, s1, m2, s2):
        m = torch.maximum(torch.as_tensor(m1), torch.as_tensor(m2))
        return m, s1 * torch.exp(m1 - m) + s2 * torch.exp(m2 - m)

    return merge
