"""How the kernels are launched: interpreter or GPU, block sizes, autotuning, strides.

Under ``TRITON_INTERPRET=1`` (set before this package is imported) every kernel is a Python/numpy
``InterpretedFunction`` that runs on CPU tensors. There each program step costs ~1 ms whatever the block size,
so blocks are as large as the problem allows and nothing is autotuned. On a GPU the kernels are autotuned over
a few Hopper-friendly configurations, keyed on (N, D) and the dtypes.
"""

from __future__ import annotations

import functools
import os

import torch
import triton

# (BLOCK_M, BLOCK_N, BLOCK_D, num_warps, num_stages); the first of each list is the default when autotuning
# is off (MMTUTORIAL_TRITON_AUTOTUNE=0, e.g. for quick correctness runs that would otherwise compile them all).
# The defaults are modest enough that fp32 tiles fit in shared memory too. Compiled for sm_90 without a GPU
# (benchmarks/triton_sm90_compile.py), the bf16 defaults use 24 KB / 72 KB of shared memory and spill
# at most 40 bytes per thread.
_FWD_CONFIGS = [
    (128, 64, 64, 4, 3),
    (128, 128, 64, 8, 3),
    (64, 128, 64, 4, 4),
    (128, 128, 128, 8, 2),
]
_BWD_CONFIGS = [
    (128, 64, 64, 8, 2),
    (64, 64, 64, 4, 2),
    (128, 128, 64, 8, 2),
]


def interpreting(kernel: object) -> bool:
    """True when ``kernel`` was built by Triton's CPU interpreter (TRITON_INTERPRET=1 at import time)."""
    return type(kernel).__name__ == "InterpretedFunction"


def check_device(x: torch.Tensor, kernel: object) -> None:
    """Raise RuntimeError unless ``x`` lives where the kernel can run: CUDA, or CPU under the interpreter."""
    if x.device.type == "cuda" or (x.device.type == "cpu" and interpreting(kernel)):
        return
    if x.device.type == "cpu":
        raise RuntimeError(
            "impl='triton' got CPU tensors but Triton's CPU interpreter is off: use a CUDA device, or set "
            "the environment variable TRITON_INTERPRET=1 before importing triton / mmtutorial.losses.triton "
            "(or use impl='chunked' or 'reference' on CPU)."
        )
    raise RuntimeError(
        f"impl='triton' needs CUDA tensors (or CPU with TRITON_INTERPRET=1), got device {x.device}"
    )


_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def check_dtype(x: torch.Tensor) -> None:
    """The kernels accumulate in fp32: fp64 inputs would silently lose precision, so they are refused."""
    if x.dtype not in _DTYPES:
        raise RuntimeError(
            f"impl='triton' supports fp32, bf16 and fp16 inputs (fp32 accumulation), got {x.dtype}: "
            "use impl='reference' or 'chunked' for it"
        )


def dot_precision(dtype: torch.dtype) -> str:
    """tl.dot input precision: fp32 inputs follow torch's TF32 switch for matmuls; 16-bit inputs ignore it."""
    if dtype == torch.float32 and not torch.backends.cuda.matmul.allow_tf32:
        return "ieee"
    return "tf32"


def strides(a: torch.Tensor, b: torch.Tensor) -> tuple[int, int, int, int]:
    """(stride_an, stride_ad, stride_bn, stride_bd): the kernels read any 2-D layout without a copy."""
    return (a.stride(0), a.stride(1), b.stride(0), b.stride(1))


def _block(n: int, cap: int) -> int:
    return max(16, min(cap, triton.next_power_of_2(n)))


@functools.cache
def _tuned(kernel: object, backward: bool, reset: tuple[str, ...]) -> object:
    configs = [
        triton.Config({"BLOCK_M": m, "BLOCK_N": n, "BLOCK_D": d}, num_warps=w, num_stages=st)
        for m, n, d, w, st in (_BWD_CONFIGS if backward else _FWD_CONFIGS)
    ]
    if os.environ.get("MMTUTORIAL_TRITON_AUTOTUNE", "1") == "0":
        configs = configs[:1]
    # reset_to_zero: the accumulators receive atomic adds, so every trial run must start from zeros.
    return triton.autotune(configs=configs, key=["N", "D"], reset_to_zero=list(reset))(kernel)


INTERPRETER_BLOCKS: tuple[int, int, int] | None = (
    None  # (BLOCK_M, BLOCK_N, BLOCK_D) override, interpreter only
)
MAX_BLOCK_M = 128  # the largest BLOCK_M of any configuration: sizes the backward's per-program accumulators


def max_programs(N: int, device: torch.device) -> int:
    """How many programs a persistent (backward) launch may use: two per SM on a GPU, one per row block else."""
    if device.type == "cuda":
        return 2 * torch.cuda.get_device_properties(device).multi_processor_count
    return triton.cdiv(N, _block(N, MAX_BLOCK_M))


def launch(
    kernel: object,
    *,
    backward: bool,
    reset: tuple[str, ...],
    N: int,
    D: int,
    args: tuple,
    programs: int = 0,
    **meta,
) -> None:
    """Run ``kernel`` over cdiv(N, BLOCK_M) row-block programs, at most ``programs`` if given (persistent).

    ``args`` are the positional arguments, ``meta`` the compile-time ones besides the block sizes.
    """
    cap = programs or 2**31 - 1
    if interpreting(kernel):
        bm = _block(N, MAX_BLOCK_M)
        blocks = {"BLOCK_M": bm, "BLOCK_N": bm, "BLOCK_D": _block(D, 128)}
        if INTERPRETER_BLOCKS is not None:  # tests: small, unequal blocks exercise every mask and branch
            blocks = dict(zip(("BLOCK_M", "BLOCK_N", "BLOCK_D"), INTERPRETER_BLOCKS, strict=True))
            bm = blocks["BLOCK_M"]
        kernel[(min(triton.cdiv(N, bm), cap),)](*args, UPCAST=True, **meta, **blocks)
        return
    grid = lambda m: (min(triton.cdiv(N, m["BLOCK_M"]), cap),)
    _tuned(kernel, backward, reset)[grid](*args, UPCAST=False, **meta)
