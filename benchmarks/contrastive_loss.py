"""CLIP loss, forward + backward: every implementation side by side, as ratios to the reference.

    python benchmarks/contrastive_loss.py --device cpu --n 1024,4096,16384,65536 --d 256 --dtype fp32
    python benchmarks/contrastive_loss.py --device cuda --n 8192,32768 --d 768 --dtype bf16 \
        --impls reference,compiled,chunked,triton,infcl

Each (impl, N) runs in a **fresh subprocess**, so one run's memory cannot hide in another's:
- time: median of ``--repeats`` forward+backward passes (after one warm-up pass for small N);
- memory, CPU: peak resident set size of that process (``ru_maxrss``) minus its RSS once the inputs exist,
  i.e. everything forward+backward needed beyond the inputs (logits, saved activations, gradients,
  temporaries, allocator slack);
- memory, CUDA: ``torch.cuda.max_memory_allocated()`` minus the memory allocated once the inputs exist.
Throughput counts 8*N^2*D FLOPs per forward+backward (the minimum for a fused loss: forward 2, recompute 2,
two gradient products 4) for every impl; on CUDA it is also given as a fraction of the bf16 matmul peak
measured in the same run (torch.mm of 8192 x 8192 bf16 matrices).
An impl that cannot run says why; the reference is skipped (with the memory it would need) where its
estimated footprint exceeds the available memory. Every impl goes through
``mmtutorial.losses.clip_loss(..., impl=name)`` except "compiled" (torch.compile of the reference) and
"infcl" (the inf-cl package, CUDA only).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
REF_BYTES_PER_LOGIT = 5 * 4  # logits, two saved log-softmaxes, their gradients: ~5 fp32 N x N buffers


def available_bytes(device: str) -> int:
    if device == "cuda":
        return torch.cuda.mem_get_info()[0]
    with open("/proc/meminfo") as f:
        info = dict(line.split(":", 1) for line in f)
    return int(info["MemAvailable"].split()[0]) * 1024


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def make_loss(impl: str):
    from mmtutorial.losses import clip_loss, reference

    if impl == "compiled":
        return torch.compile(reference.clip_loss)
    if impl == "infcl":
        from inf_cl import cal_inf_loss  # CUDA only (benchmarks/vendor/ holds the wheel)

        def infcl(a, b, s):
            # Scale-free form on pre-scaled inputs: with scale=s, Inf-CL wraps s in a Function whose backward
            # calls all_reduce, which fails without a process group. s * a keeps the scale's gradient.
            labels = torch.arange(a.shape[0], device=a.device)
            return (cal_inf_loss(s * a, b, labels=labels) + cal_inf_loss(s * b, a, labels=labels)) / 2

        return infcl
    return lambda a, b, s: clip_loss(a, b, s, impl=impl)


def worker(impl: str, n: int, d: int, dtype: str, device: str, repeats: int) -> dict:
    """One (impl, N) measurement in this process; returns a dict (or {"skip": reason})."""
    torch.manual_seed(0)
    dev = torch.device(device)
    a = F.normalize(torch.randn(n, d, device=dev), dim=1).to(DTYPES[dtype]).requires_grad_()
    b = F.normalize(torch.randn(n, d, device=dev), dim=1).to(DTYPES[dtype]).requires_grad_()
    s = torch.tensor(14.3, device=dev, requires_grad=True)
    try:
        fn = make_loss(impl)
    except Exception as e:  # e.g. inf-cl not installed
        return {"skip": f"{type(e).__name__}: {e}"}

    def step():
        a.grad = b.grad = s.grad = None
        fn(a, b, s).backward()
        if dev.type == "cuda":
            torch.cuda.synchronize()

    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = rss_bytes()
    times = []
    try:
        if n <= 4096 or impl == "compiled":
            step()  # warm-up (compilation, allocator)
        for _ in range(repeats):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
            if times[-1] > 20:  # a big CPU case: one pass is a fair measurement
                break
    except RuntimeError as e:  # e.g. Triton on a CPU without the interpreter
        return {"skip": str(e).split("\n")[0][:160]}
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    return {"time": statistics.median(times), "peak": max(peak, 0), "runs": len(times)}


def bf16_peak_tflops(device: str) -> float | None:
    if device != "cuda":
        return None
    x = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        x @ x
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(20):
        x @ x
    torch.cuda.synchronize()
    return 20 * 2 * 8192**3 / (time.perf_counter() - t0) / 1e12


def run_one(args, impl: str, n: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        impl,
        "--n",
        str(n),
        "--d",
        str(args.d),
        "--dtype",
        args.dtype,
    ]
    cmd += ["--device", args.device, "--repeats", str(args.repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skip": f"crashed (rc {out.returncode}): {tail[:160]}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--n", default="1024,4096,16384,65536", help="comma-separated batch sizes")
    p.add_argument("--d", type=int, default=256)
    p.add_argument("--dtype", choices=list(DTYPES), default="fp32")
    p.add_argument("--impls", default="reference,chunked,triton,compiled,infcl")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, int(args.n), args.d, args.dtype, args.device, args.repeats)))
        return
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: CUDA is not available")
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    ns = [int(x) for x in args.n.split(",")]
    peak = bf16_peak_tflops(args.device)
    print(
        f"# CLIP loss fwd+bwd, device={args.device}, D={args.d}, dtype={args.dtype}, repeats={args.repeats}"
    )
    if peak:
        print(f"# measured bf16 matmul peak: {peak:.1f} TFLOP/s")
    head = (
        f"{'impl':>10} {'N':>7} {'median s':>9} {'x ref':>6} {'peak extra':>11} {'x ref':>7} {'TFLOP/s':>8}"
    )
    print(head + (f" {'% peak':>6}" if peak else "") + "  note")
    for n in ns:
        ref = None
        for impl in impls:
            est = n * n * REF_BYTES_PER_LOGIT * (0.5 if args.dtype != "fp32" else 1)
            if impl in ("reference", "compiled") and est > 0.8 * available_bytes(args.device):
                r = {"skip": f"skipped: would need ~{est / 1e9:.0f} GB"}
            elif impl == "infcl" and args.device != "cuda":
                r = {"skip": "inf-cl runs on CUDA only"}
            else:
                r = run_one(args, impl, n)
            if "skip" in r:
                print(f"{impl:>10} {n:>7}  {r['skip']}", flush=True)
                continue
            if impl == "reference":
                ref = r
            tflops = 8 * n * n * args.d / r["time"] / 1e12
            t_ratio = f"{r['time'] / ref['time']:.2f}" if ref else "-"
            m_ratio = f"{r['peak'] / max(ref['peak'], 1):.3f}" if ref else "-"
            line = (
                f"{impl:>10} {n:>7} {r['time']:>9.3f} {t_ratio:>6} {r['peak'] / 2**20:>8.0f} MB {m_ratio:>7}"
            )
            line += f" {tflops:>8.3f}" + (f" {100 * tflops / peak:>5.1f}%" if peak else "")
            print(line + f"  runs={r['runs']}", flush=True)


if __name__ == "__main__":
    main()
