"""How the kernels are launched: interpreter or GPU, block sizes, autotuning, occupancy, backward choice.

Under ``TRITON_INTERPRET=1`` (set before this package is imported) every kernel is a Python/numpy
``InterpretedFunction`` that runs on CPU tensors. There each program step costs ~1 ms whatever the block size,
so blocks are as large as the problem allows and nothing is autotuned. On a GPU the kernels are autotuned over
a few Hopper-friendly configurations, keyed on the next power of two of N (``N_BUCKET``), D and the dtypes,
so a training run whose batch size varies a little does not re-tune at every new N.

Environment switches (read at each call):
- ``MMTUTORIAL_TRITON_AUTOTUNE=0``: first configuration only (quick correctness runs);
- ``MMTUTORIAL_TRITON_BWD=fused|chunked``: force a backward (default: the rule in :func:`backward_path`);
- ``MMTUTORIAL_GRAD_CHUNK_MIB``: memory budget of the chunked backward's 16-bit chunk of g; by default the chunk
  is sized from the memory target (:func:`grad_chunk_rows`).
"""

from __future__ import annotations

import functools
import os

import torch
import triton

# (BLOCK_M, BLOCK_N, BLOCK_D, num_warps, num_stages[, GROUP]); the first of each list is the default when
# autotuning is off. GROUP (forward and fused backward): programs per group walking the column blocks in step,
# sharing B tiles in L2 (clip_kernels.clip_fwd_kernel). Resources of each, compiled for sm_90 with the JIT's
# specialisation: benchmarks/triton_sm90_compile.py.
FWD_CONFIGS = [
    (128, 64, 64, 4, 3, 8),
    (128, 64, 64, 4, 3, 1),
    (128, 128, 64, 8, 3, 4),
    (64, 128, 64, 4, 4, 8),
    (128, 128, 128, 8, 2, 4),
]
BWD_CONFIGS = [  # the fused backward
    (128, 64, 64, 8, 2, 4),
    (128, 64, 64, 8, 2, 1),
    (64, 64, 64, 4, 2, 8),
    (128, 128, 64, 8, 2, 4),
]
GRAD_CONFIGS = [  # the chunked backward's g-writing kernel (2-D grid: consecutive programs share a B tile)
    (128, 128, 64, 8, 3),
    (128, 64, 64, 4, 3),
    (64, 128, 64, 4, 4),
]
MAX_BLOCK_M = max(c[0] for c in BWD_CONFIGS)
# The fused backward's persistent programs each own an fp32 (BLOCK_M, D) scratch. Sized from the compiled
# occupancy (benchmarks/triton_sm90_compile.py, checked by a test): the bf16 builds of BWD_CONFIGS fit one CTA per
# SM at BLOCK_M = 128 (250-255 registers, 96-128 KB shared) and two at BLOCK_M = 64, so 128 scratch rows per SM
# serve every configuration; more programs than fit at once would only add scratch.
SCRATCH_ROWS_PER_SM = 128
CHUNKED_BWD_MIN_D = 512  # from this D on, the chunked backward (cuBLAS products); below, the fused one
MAX_CHUNK_ROWS = 4096
# The memory target: extra memory of forward + backward (beyond the inputs and their gradients) at most one fp32
# (N, D) buffer plus ROW_ALLOWANCE_BYTES per row. The chunked backward's chunk of g is sized to fit it.
ROW_ALLOWANCE_BYTES = 1024
STATS_BYTES_PER_ROW = 32  # O(N) vectors alive in backward: r, c (saved), per-row sums of the scale's gradient

GRAD_CHUNK_ROWS: int | None = None  # tests: force the chunked backward's rows per chunk
INTERPRETER_BLOCKS: tuple[int, int, int] | None = None  # tests: (BLOCK_M, BLOCK_N, BLOCK_D), interpreter only
INTERPRETER_GROUP = 2  # GROUP under the interpreter (tests change it): grouped order is exercised by default


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


def g_scale(dtype: torch.dtype) -> float:
    """Power of two the gradient weights g (|g| <= 2) are multiplied by before their 16-bit cast.

    fp16 has a narrow exponent: off-diagonal g ~ (1 - p_ii) / N (8e-9 at N = 65,536, p_ii = 0.9995) would round
    to zero. Times 2^14 they are normal there (and subnormal but kept, in 0.2% steps, at N = 262,144), while
    |g| <= 2^15 < 65,504; a power of two adds no rounding. bf16 and fp32 have fp32's exponent range: 1.
    """
    return 2.0**14 if dtype == torch.float16 else 1.0


def strides(a: torch.Tensor, b: torch.Tensor) -> tuple[int, int, int, int]:
    """(stride_an, stride_ad, stride_bn, stride_bd): the kernels read any 2-D layout without a copy."""
    return (a.stride(0), a.stride(1), b.stride(0), b.stride(1))


def bucket(n: int) -> int:
    """The autotuner's key for N: its next power of two."""
    return triton.next_power_of_2(n)


def _block(n: int, cap: int) -> int:
    return max(16, min(cap, triton.next_power_of_2(n)))


_CONFIGS = {"fwd": FWD_CONFIGS, "bwd": BWD_CONFIGS, "grad": GRAD_CONFIGS}


@functools.cache
def _tuned(kernel: object, kind: str, reset: tuple[str, ...], first_only: bool) -> object:
    configs = [
        triton.Config(
            {"BLOCK_M": c[0], "BLOCK_N": c[1], "BLOCK_D": c[2], **({"GROUP": c[5]} if len(c) > 5 else {})},
            num_warps=c[3],
            num_stages=c[4],
        )
        for c in _CONFIGS[kind]
    ]
    # reset_to_zero: the accumulators receive atomic adds, so every trial run must start from zeros.
    return triton.autotune(
        configs=configs[:1] if first_only else configs, key=["N_BUCKET", "D"], reset_to_zero=list(reset)
    )(kernel)


def scratch_rows(N: int, device: torch.device) -> int:
    """Rows of the fused backward's fp32 (rows, D) scratch: SCRATCH_ROWS_PER_SM per SM on a GPU (whatever N),
    every row block at once on the CPU. A launch runs at most ``scratch_rows // BLOCK_M`` persistent programs."""
    if device.type == "cuda":
        return SCRATCH_ROWS_PER_SM * torch.cuda.get_device_properties(device).multi_processor_count
    bm = _block(N, MAX_BLOCK_M)
    return triton.cdiv(N, bm) * bm


def backward_path(D: int) -> str:
    """``"chunked"`` (g in 16-bit chunks, products by cuBLAS) for D >= CHUNKED_BWD_MIN_D, else ``"fused"``.

    The threshold is provisional until benchmarks/gpu_check.sh has timed both paths on a GPU.
    """
    forced = os.environ.get("MMTUTORIAL_TRITON_BWD", "")
    if forced in ("fused", "chunked"):
        return forced
    return "chunked" if D >= CHUNKED_BWD_MIN_D else "fused"


def extra_bytes_allowed(N: int, D: int) -> int:
    """The memory target: one fp32 (N, D) buffer plus ROW_ALLOWANCE_BYTES per row."""
    return 4 * N * D + ROW_ALLOWANCE_BYTES * N


def chunked_backward_extra_bytes(N: int, D: int, rows: int, element_bytes: int) -> int:
    """Planned peak extra memory of the chunked backward (beyond the inputs and their gradients), in bytes:
    the fp32 (N, D) accumulator of grad_b, the (rows, N) chunk of g in the inputs' dtype, the fp32 (rows, D)
    product G @ b before it is rounded into grad_a, and STATS_BYTES_PER_ROW per row (grad_chunks.py)."""
    return 4 * N * D + rows * N * element_bytes + 4 * rows * D + STATS_BYTES_PER_ROW * N


def grad_chunk_rows(N: int, D: int, element_bytes: int) -> int:
    """Rows C of g per chunk of the chunked backward: the largest power of two <= MAX_CHUNK_ROWS (at least 16,
    at most N) whose :func:`chunked_backward_extra_bytes` fits :func:`extra_bytes_allowed`.

    With bf16 at D = 768: 256 rows at N = 65,536 and at N = 262,144 (a 128 MiB chunk there). Fewer rows mean more
    passes of cuBLAS over the fp32 grad_b accumulator; ``MMTUTORIAL_GRAD_CHUNK_MIB`` trades memory for that
    instead (the chunk's own budget in MiB, e.g. 512: 4,096 rows at N = 65,536, 1,024 at 262,144).
    """
    if GRAD_CHUNK_ROWS is not None:
        return max(1, min(GRAD_CHUNK_ROWS, N))
    budget_mib = os.environ.get("MMTUTORIAL_GRAD_CHUNK_MIB", "")

    def fits(c: int) -> bool:
        if budget_mib:
            return c * N * element_bytes <= float(budget_mib) * 2**20
        return chunked_backward_extra_bytes(N, D, c, element_bytes) <= extra_bytes_allowed(N, D)

    rows = MAX_CHUNK_ROWS
    while rows > 16 and not fits(rows):
        rows //= 2
    return min(rows, N)


def launch(
    kernel: object,
    *,
    kind: str,
    reset: tuple[str, ...],
    rows: int,
    D: int,
    args: tuple,
    cols: int = 0,
    scratch: int = 0,
    **meta,
) -> None:
    """Run ``kernel`` over cdiv(rows, BLOCK_M) row-block programs (persistent, at most scratch // BLOCK_M of them,
    when ``scratch`` rows of per-program scratch are given), times cdiv(cols, BLOCK_N) column blocks when ``cols``
    is given (a 2-D grid).

    ``kind``: "fwd", "bwd" or "grad" (which configurations to autotune over); ``args``: the positional
    arguments; ``meta``: the compile-time ones besides the block sizes.
    """

    def programs(bm: int) -> int:
        n = triton.cdiv(rows, bm)
        return min(n, scratch // bm) if scratch else n

    if interpreting(kernel):
        bm = _block(rows, MAX_BLOCK_M)
        blocks = {"BLOCK_M": bm, "BLOCK_N": _block(cols or rows, MAX_BLOCK_M), "BLOCK_D": _block(D, 128)}
        if INTERPRETER_BLOCKS is not None:  # tests: small, unequal blocks exercise every mask and branch
            blocks = dict(zip(("BLOCK_M", "BLOCK_N", "BLOCK_D"), INTERPRETER_BLOCKS, strict=True))
        if kind != "grad":
            blocks["GROUP"] = INTERPRETER_GROUP
        grid = (programs(blocks["BLOCK_M"]),)
        if cols:
            grid += (triton.cdiv(cols, blocks["BLOCK_N"]),)
        kernel[grid](*args, UPCAST=True, **meta, **blocks)
        return

    def grid(m):
        g = (programs(m["BLOCK_M"]),)
        return g + (triton.cdiv(cols, m["BLOCK_N"]),) if cols else g

    first_only = os.environ.get("MMTUTORIAL_TRITON_AUTOTUNE", "1") == "0"
    _tuned(kernel, kind, reset, first_only)[grid](*args, UPCAST=False, **meta)
