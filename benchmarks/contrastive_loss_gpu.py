"""GPU benchmark of the CLIP loss, forward + backward: naive (materialised logits), torch.compile of it,
chunked, the Triton kernel and Inf-CL (where installed), side by side; plus a correctness check at real sizes.

    python benchmarks/contrastive_loss_gpu.py --device cuda                 # full table (H200: a few minutes)
    python benchmarks/contrastive_loss_gpu.py --device cuda --check-only    # correctness only
    TRITON_INTERPRET=1 python benchmarks/contrastive_loss_gpu.py --device cpu --tiny   # proves it runs

Throughput counts the minimum work of the fused loss, 8*N^2*D FLOPs (forward 2, recompute 2, two gradient
products 4), for every candidate, and divides it by the bf16 matmul peak measured in the same run.
"Extra" memory is the peak during forward+backward beyond the inputs and their gradients.
Prints medians; each row shows time relative to the Triton kernel.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import torch
import torch.nn.functional as F

from mmtutorial.losses import reference
from mmtutorial.losses.triton import clip_loss_triton, siglip_loss_triton


def naive_clip(a, b, s):
    """What most training code writes: bf16 logits materialised, fp32 cross-entropy both ways."""
    logits = (s * (a @ b.T)).float()
    labels = torch.arange(a.shape[0], device=a.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


@functools.cache
def _compiled_naive():
    return torch.compile(naive_clip)


def compiled_clip(a, b, s):
    """torch.compile of the naive loss (compiled on first use)."""
    return _compiled_naive()(a, b, s)


def chunked_clip(a, b, s):
    from mmtutorial.losses import clip_loss

    return clip_loss(a, b, s, impl="chunked")


def inf_cl_clip(a, b, s):
    from inf_cl import cal_inf_loss  # Inf-CL (DAMO-NLP-SG): one direction per call

    return (cal_inf_loss(a, b, scale=s) + cal_inf_loss(b, a, scale=s)) / 2


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_it(fn, device, repeat, budget_s=3.0):
    """Median seconds of fn() over up to `repeat` runs after one warm-up (fewer once `budget_s` is spent)."""
    fn()
    times = []
    while len(times) < repeat and (not times or sum(times) < budget_s):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_peak(device, dtype, n=8192, repeat=10):
    """Measured dense matmul TFLOP/s for (n x n) @ (n x n) in `dtype`: the kernel's roofline."""
    x = torch.randn(n, n, device=device, dtype=dtype)
    y = torch.randn(n, n, device=device, dtype=dtype)
    t = time_it(lambda: x @ y, device, repeat)
    return 2 * n**3 / t / 1e12


def run_one(fn, a, b, s, device, repeat):
    """(median seconds, extra peak bytes) of forward+backward, or an error string."""
    a = a.detach().requires_grad_()
    b = b.detach().requires_grad_()
    s = s.detach().requires_grad_()

    def step():
        a.grad = b.grad = s.grad = None
        fn(a, b, s).backward()

    try:
        step()  # warm-up, compile, autotune
        if device.type == "cuda":
            a.grad = b.grad = s.grad = None
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            step()
            torch.cuda.synchronize()
            extra = torch.cuda.max_memory_allocated() - base - 2 * a.numel() * a.element_size()
        else:
            extra = float("nan")
        return time_it(step, device, repeat), extra
    except torch.OutOfMemoryError:
        return "OOM", None
    except Exception as e:  # noqa: BLE001 - report the reason and go on with the other candidates
        return f"{type(e).__name__}: {str(e).splitlines()[0][:60]}", None
    finally:
        a.grad = b.grad = s.grad = None
        if device.type == "cuda":
            torch.cuda.empty_cache()


def check(device, sizes, dims):
    """Kernel vs the fp32 reference with IEEE matmuls: value and every gradient, fp32 and bf16 inputs."""
    torch.backends.cuda.matmul.allow_tf32 = False
    ok = True
    for n in sizes:
        for d in dims:
            g = torch.Generator(device="cpu").manual_seed(n + d)
            a0 = F.normalize(torch.randn(n, d, generator=g), dim=1).to(device)
            b0 = F.normalize(torch.randn(n, d, generator=g), dim=1).to(device)
            for dtype, tol in [(torch.float32, 1e-4), (torch.bfloat16, 3e-2)]:
                for name in ["clip", "siglip"]:
                    a, b = a0.to(dtype), b0.to(dtype)
                    sc = (torch.tensor(30.0, device=device), torch.tensor(-10.0, device=device))
                    sc = sc[:1] if name == "clip" else sc
                    kern = clip_loss_triton if name == "clip" else siglip_loss_triton
                    ref = reference.clip_loss if name == "clip" else reference.siglip_loss
                    out = []
                    for fn, x, y in [(kern, a, b), (ref, a.float(), b.float())]:
                        leaves = [x.detach().clone().requires_grad_(), y.detach().clone().requires_grad_()]
                        leaves += [t.clone().requires_grad_() for t in sc]
                        loss = fn(*leaves)
                        loss.backward()
                        out.append([loss.detach()] + [t.grad.float() for t in leaves])
                        del loss, leaves
                    errs = [
                        float((k - r).abs().max() / r.abs().max().clamp_min(1e-12))
                        for k, r in zip(*out, strict=True)
                    ]
                    good = max(errs) <= tol
                    ok &= good
                    print(
                        f"check {name:6s} N={n:6d} D={d:4d} {str(dtype)[6:]:8s} rel.err "
                        + " ".join(f"{e:.1e}" for e in errs)
                        + f"  (tol {tol:.0e}) {'OK' if good else 'FAIL'}",
                        flush=True,
                    )
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
    torch.backends.cuda.matmul.allow_tf32 = True
    return ok


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--sizes", type=int, nargs="+", default=[8192, 32768, 65536, 262144])
    p.add_argument("--dims", type=int, nargs="+", default=[768, 512])
    p.add_argument("--check-sizes", type=int, nargs="+", default=[4097, 32768])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--tiny", action="store_true", help="CPU smoke run: N=40, D=24, fp32")
    p.add_argument("--check-only", action="store_true")
    p.add_argument("--no-check", action="store_true")
    p.add_argument("--skip", nargs="*", default=[], help="candidates to leave out (naive, compiled, ...)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if args.tiny:
        args.sizes, args.dims, args.check_sizes, args.repeat = [40], [24], [37], 1
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    if device.type == "cuda":
        print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}", flush=True)
    if not args.no_check:
        ok = check(device, args.check_sizes, args.dims[:1])
        print("correctness:", "all OK" if ok else "FAILURES above", flush=True)
        if args.check_only:
            return 0 if ok else 1
    peak = matmul_peak(device, dtype, n=8192 if device.type == "cuda" else 256)
    print(f"measured {str(dtype)[6:]} matmul peak: {peak:.1f} TFLOP/s", flush=True)
    candidates = {
        "triton": clip_loss_triton,
        "naive": naive_clip,
        "compiled": compiled_clip,
        "chunked": chunked_clip,
        "inf-cl": inf_cl_clip,
    }
    for name in args.skip:
        candidates.pop(name, None)
    print(
        f"{'N':>7} {'D':>4} {'impl':9} {'ms':>9} {'x triton':>8} {'TFLOP/s':>8} {'% peak':>6} {'extra GB':>9}"
    )
    for d in args.dims:
        for n in args.sizes:
            g = torch.Generator(device="cpu").manual_seed(n)
            a = F.normalize(torch.randn(n, d, generator=g), dim=1).to(device, dtype)
            b = F.normalize(torch.randn(n, d, generator=g), dim=1).to(device, dtype)
            s = torch.tensor(14.0, device=device)
            t_ref = None
            for name, fn in candidates.items():
                logits_gb = n * n * 6 / 1e9  # bf16 logits + fp32 copy: what the naive forms need at least
                if name in ("naive", "compiled") and device.type == "cuda" and logits_gb > 100:
                    print(
                        f"{n:7d} {d:4d} {name:9} skipped: needs > {logits_gb:.0f} GB for the logits",
                        flush=True,
                    )
                    continue
                t, extra = run_one(fn, a, b, s, device, args.repeat)
                if isinstance(t, str):
                    print(f"{n:7d} {d:4d} {name:9} {t}", flush=True)
                    continue
                t_ref = t if name == "triton" else t_ref
                tflops = 8 * n * n * d / t / 1e12
                ratio = f"{t / t_ref:8.2f}" if t_ref else f"{'-':>8}"
                print(
                    f"{n:7d} {d:4d} {name:9} {t * 1e3:9.2f} {ratio} {tflops:8.1f} {100 * tflops / peak:6.1f} "
                    f"{extra / 1e9:9.2f}",
                    flush=True,
                )
            del a, b
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
