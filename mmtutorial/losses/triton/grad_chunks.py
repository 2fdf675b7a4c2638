"""The chunked backward's matrix products, on cuBLAS (Liger-Kernel's fused linear cross-entropy, applied here).

A Triton kernel writes a chunk of C rows of the gradient weights, ``G = G_SCALE * g[r0 : r0 + C, :]`` in the
inputs' 16-bit dtype (``*_grad_logits_kernel``); then

    grad_a[r0 : r0 + C] = k * G @ b        (C x N) @ (N x D), fp32 accumulation, one rounding to 16 bits
    gb                 += G.T @ a[r0 : r0 + C]   (N x C) @ (C x D), accumulated in one fp32 (N, D) buffer

Of the backward's 6 N^2 D FLOPs (recompute 2, products 4) the products run at cuBLAS speed. Extra memory: the
(C, N) chunk, the fp32 (N, D) buffer for gb and a (C, D) fp32 temporary.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

ADDMM_INTO_FP32 = "not used yet"  # how gb was accumulated on CUDA (gpu_check.sh prints it)


def _mm_fp32(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x @ y accumulated and returned in fp32 (16-bit x, y: tensor cores on CUDA; exact products on CPU)."""
    if x.dtype == torch.float32:
        return x @ y
    if x.is_cuda:
        try:
            return torch.mm(x, y, out_dtype=torch.float32)
        except (RuntimeError, TypeError):  # no 16-bit-in, fp32-out form here
            pass
    # products of 16-bit numbers are exact in fp32: only the summation order differs from the GPU
    return x.float() @ y.float()


def _addmm_fp32(acc: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> None:
    """acc += x @ y with fp32 acc, without an fp32 copy of x where cuBLAS can take 16-bit x, y directly."""
    global ADDMM_INTO_FP32
    if x.dtype == torch.float32:
        acc.addmm_(x, y)
    elif x.is_cuda:
        try:
            torch.addmm(acc, x, y, out_dtype=torch.float32, out=acc)
            ADDMM_INTO_FP32 = "torch.addmm(out_dtype=fp32) in place"
        except (
            RuntimeError,
            TypeError,
        ):  # no fused 16-bit-in, fp32-out form here: upcast the chunk (2x memory)
            acc.addmm_(x.float(), y.float())
            ADDMM_INTO_FP32 = "fallback: addmm_ on an fp32 copy of the chunk"
    else:
        acc.addmm_(x.float(), y.float())


def products_by_chunks(
    a: torch.Tensor,
    b: torch.Tensor,
    chunk_rows: int,
    write_chunk: Callable[[int, int, torch.Tensor], None],
    k: torch.Tensor,
    need_a: bool,
    need_b: bool,
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """(grad_a, gb): ``grad_a = k * G @ b`` in a's dtype and the fp32 (N, D) ``gb = G.T @ a`` (k not applied).

    ``write_chunk(r0, c, out)`` fills ``out`` (c, N) with rows r0 .. r0 + c - 1 of G (and must run even when no
    input gradient is needed: it also sums the scale's gradient). ``k``: 0-dim fp32 tensor.
    """
    N, D = a.shape
    chunk = torch.empty(min(chunk_rows, N), N, device=a.device, dtype=a.dtype)
    ga = torch.empty(N, D, device=a.device, dtype=a.dtype) if need_a else None
    gb = torch.zeros(N, D, device=a.device, dtype=torch.float32) if need_b else torch.empty(0)
    for r0 in range(0, N, chunk_rows):
        c = min(chunk_rows, N - r0)
        G = chunk[:c]
        write_chunk(r0, c, G)
        if need_a:
            ga[r0 : r0 + c] = _mm_fp32(G, b).mul_(k)  # one rounding to a's dtype, as the fused kernel
        if need_b:
            _addmm_fp32(gb, G.T, a[r0 : r0 + c])
    return ga, gb
