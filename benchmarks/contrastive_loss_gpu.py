"""GPU check of the Triton CLIP/SigLIP kernels: correctness first, then one benchmark table, then verdicts.

    python benchmarks/contrastive_loss_gpu.py --check-only      # ~1-2 min on an H200
    python benchmarks/contrastive_loss_gpu.py --bench-only      # ~3 min
    TRITON_INTERPRET=1 python benchmarks/contrastive_loss_gpu.py --device cpu --tiny   # proves it runs (CPU)

Run by ``bash benchmarks/gpu_check.sh``, which sets PYTHONPATH (the checkout and the vendored Inf-CL wheel).

Check: (1) the confident regime (p_ii ~ 0.97 and ~0.9995, s = 100, bf16 and fp16, CLIP and SigLIP, both
backwards) against the fp64 reference on the same 16-bit inputs, with the tolerances of
tests/test_triton_confident_regime.py; (2) one autotuned bf16 case at N = 65,536, D = 768 against the fp32
chunked loss with IEEE matmuls.
Bench (bf16, D = 768, N in {65,536, 262,144}): the kernel (default backward, its chunk of g sized by the
memory target; also the other backward at 65,536 and a 512 MiB chunk of g at both sizes),
Inf-CL (scale-free form on pre-scaled inputs), the chunked loss with TF32 matmuls, torch.compile of the plain
formula (65,536 only), and the bf16 matmul peak measured in the same run. Everything is warmed up (compiled,
autotuned) before it is timed. Throughput counts 8*N^2*D FLOPs for every candidate; "extra" is the peak memory
of forward+backward beyond the inputs and their gradients. Exit status 1 on any failure or missed target.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

import torch
import torch.nn.functional as F

from mmtutorial.losses import chunked, reference
from mmtutorial.losses.triton import clip_loss_triton, grad_chunks, launch, siglip_loss_triton

UNIT_ROUNDOFF = {torch.bfloat16: 2.0**-8, torch.float16: 2.0**-11}
PAIRS = {
    "clip": (clip_loss_triton, reference.clip_loss),
    "siglip": (siglip_loss_triton, reference.siglip_loss),
}


@contextlib.contextmanager
def env(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


# ----------------------------------------------------------------------------------------------- correctness
def confident_pair(name, n, d, target, dtype, device, scale=100.0, bias=-40.0):
    """b_i = cos a_i + sin n_i (n_i unit, orthogonal to a_i), cos bisected so the median p_ii is ~target."""
    g = torch.Generator().manual_seed(0)
    a = F.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1).to(device)
    o = torch.randn(n, d, generator=g, dtype=torch.float64).to(device)
    o = F.normalize(o - (o * a).sum(1, keepdim=True) * a, dim=1)

    def make(c):
        return a.to(dtype), (c * a + (1 - c * c) ** 0.5 * o).to(dtype)

    def pii(x, y):
        logits = scale * x.double() @ y.double().T
        p = torch.softmax(logits, 1).diagonal() if name == "clip" else torch.sigmoid(logits.diagonal() + bias)
        return float(p.median())

    lo, hi = 0.0, 1.0
    for _ in range(25):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if pii(*make(mid)) < target else (lo, mid)
    x, y = make(hi)
    return x, y, pii(x, y)


def grads(fn, a, b, scalars):
    cd = torch.float64 if a.dtype == torch.float64 else torch.float32
    leaves = [a.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()]
    leaves += [torch.tensor(v, dtype=cd, device=a.device, requires_grad=True) for v in scalars]
    loss = fn(*leaves)
    loss.backward()
    return loss.detach().double(), [x.grad.double() for x in leaves]


def row_error(x, exact):
    if x.ndim == 0:
        return float((x - exact).abs() / exact.abs())
    return float(((x - exact).norm(dim=1) / exact.norm(dim=1).clamp_min(1e-30)).median())


def check_confident(device, n, d, tiny=False):
    ok = True
    dtypes, targets = (
        ((torch.bfloat16,), (0.9995,)) if tiny else ((torch.bfloat16, torch.float16), (0.97, 0.9995))
    )
    for path in ("fused", "chunked"):
        for name in ("clip", "siglip"):
            kern, ref = PAIRS[name]
            scalars = [100.0] if name == "clip" else [100.0, -40.0]
            for dtype in dtypes:
                for target in targets:
                    a, b, p = confident_pair(name, n, d, target, dtype, device)
                    _, exact = grads(ref, a.double(), b.double(), scalars)
                    with env(MMTUTORIAL_TRITON_BWD=path, MMTUTORIAL_TRITON_AUTOTUNE=0):  # fewer compiles
                        _, k = grads(kern, a, b, scalars)
                    _, r = grads(ref, a, b, scalars)
                    line, good = [], True
                    for what, x, y, e in zip(["a", "b", "s", "t"], k, r, exact, strict=False):
                        ke, re_ = row_error(x, e), row_error(y, e)
                        bound = re_ + UNIT_ROUNDOFF[dtype] / 2 if what in "ab" else max(10 * re_, 1e-4)
                        good &= ke <= bound
                        line.append(f"{what} {ke:.1e}<={bound:.1e}")
                    ok &= good
                    print(
                        f"confident {name:6s} {str(dtype)[6:]:8s} {path:7s} p_ii={p:.4f} N={n} D={d}: "
                        + ", ".join(line)
                        + ("  OK" if good else "  FAIL"),
                        flush=True,
                    )
    return ok


def check_large(device, n, d):
    """One autotuned bf16 case against the fp32 chunked loss with IEEE matmuls: loss, every gradient."""
    ok = True
    g = torch.Generator().manual_seed(1)
    a = F.normalize(torch.randn(n, d, generator=g), dim=1).to(device, torch.bfloat16)
    b = F.normalize(a.float().cpu() + 0.8 * torch.randn(n, d, generator=g) / d**0.5, dim=1).to(
        device, torch.bfloat16
    )
    for name in ("clip", "siglip"):
        scalars = [30.0] if name == "clip" else [30.0, -10.0]
        kern = clip_loss_triton if name == "clip" else siglip_loss_triton
        ref = chunked.clip_loss if name == "clip" else chunked.siglip_loss
        t0 = time.perf_counter()
        loss, k = grads(kern, a, b, scalars)
        sync(device)
        t_kernel = time.perf_counter() - t0
        torch.backends.cuda.matmul.allow_tf32 = False
        rloss, r = grads(ref, a.float(), b.float(), scalars)
        torch.backends.cuda.matmul.allow_tf32 = True
        errs = [float((loss - rloss).abs() / rloss.abs())] + [
            row_error(x, y) for x, y in zip(k, r, strict=True)
        ]
        tols = [1e-3, 1e-2, 1e-2] + [1e-3] * (len(errs) - 3)
        good = all(e <= t for e, t in zip(errs, tols, strict=True))
        ok &= good
        print(
            f"large {name:6s} bf16 N={n} D={d} (first call, incl. autotune {t_kernel:.1f} s; backward "
            f"{launch.backward_path(d)}): rel. errors loss/a/b/s(/t) "
            + " ".join(f"{e:.1e}" for e in errs)
            + " tol "
            + " ".join(f"{t:.0e}" for t in tols)
            + ("  OK" if good else "  FAIL"),
            flush=True,
        )
    return ok


# ------------------------------------------------------------------------------------------------- benchmark
def plain_clip(a, b, s):
    """The formula as training code writes it: logits materialised, cross-entropy both ways."""
    logits = s * (a @ b.T).float()
    labels = torch.arange(a.shape[0], device=a.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def inf_cl_clip(a, b, s):
    from inf_cl import cal_inf_loss  # benchmarks/vendor/inf_cl-1.2.1-py3-none-any.whl on PYTHONPATH

    # Scale-free form on pre-scaled inputs: cal_inf_loss(..., scale=s) gathers s's gradient with all_reduce,
    # which needs a process group. s * a keeps the scale's gradient through autograd.
    return (cal_inf_loss(s * a, b) + cal_inf_loss(s * b, a)) / 2


def time_step(step, device, budget_s, min_runs=3, max_runs=7):
    """Median seconds of step() (already warmed up: compiled, autotuned) over min_runs..max_runs runs."""
    times = []
    while len(times) < min_runs or (len(times) < max_runs and sum(times) < budget_s):
        sync(device)
        t0 = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(fn, a, b, s, device, budget_s, **env_vars):
    """(median s, extra peak bytes) of forward+backward, or (reason, None)."""
    a, b, s = (x.detach().requires_grad_() for x in (a, b, s))

    def step():
        a.grad = b.grad = s.grad = None
        fn(a, b, s).backward()

    try:
        with env(**env_vars):
            step()  # warm-up: compile, autotune
            a.grad = b.grad = s.grad = None
            extra = float("nan")
            if device.type == "cuda":
                sync(device)
                base = torch.cuda.memory_allocated()
                torch.cuda.reset_peak_memory_stats()
                step()
                sync(device)
                extra = torch.cuda.max_memory_allocated() - base - 2 * a.numel() * a.element_size()
            return time_step(step, device, budget_s, min_runs=1 if budget_s < 1 else 3), extra
    except torch.OutOfMemoryError:
        return "OOM", None
    except Exception as e:  # noqa: BLE001 - report and go on with the other candidates
        return f"{type(e).__name__}: {str(e).splitlines()[0][:90]}", None
    finally:
        a.grad = b.grad = s.grad = None
        if device.type == "cuda":
            torch.cuda.empty_cache()


def matmul_peak(device, dtype, n, repeat=10):
    x, y = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    for _ in range(3):
        x @ y
    sync(device)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        x @ y
        sync(device)
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e12


def bench(device, sizes, d, tiny):
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    peak = matmul_peak(device, dtype, 8192 if device.type == "cuda" else 256)
    print(f"measured {str(dtype)[6:]} matmul peak: {peak:.1f} TFLOP/s", flush=True)
    torch.backends.cuda.matmul.allow_tf32 = True  # chunked: TF32 matmuls, not fp32 CUDA cores
    other = "fused" if launch.backward_path(d) == "chunked" else "chunked"
    print(f"{'N':>7} {'D':>4} {'impl':22} {'ms':>9} {'TFLOP/s':>8} {'% peak':>6} {'extra GB':>9}")
    results = {}
    for n in sizes:
        g = torch.Generator().manual_seed(n)
        a = F.normalize(torch.randn(n, d, generator=g), dim=1).to(device, dtype)
        b = F.normalize(torch.randn(n, d, generator=g), dim=1).to(device, dtype)
        s = torch.tensor(14.0, device=device)
        first = n == sizes[0]
        rows = launch.grad_chunk_rows(n, d, a.element_size())
        path = launch.backward_path(d)
        candidates = [(f"triton ({path}{f', C={rows}' if path == 'chunked' else ''})", clip_loss_triton, {})]
        if first:
            candidates.append((f"triton ({other})", clip_loss_triton, {"MMTUTORIAL_TRITON_BWD": other}))
        # the default chunk follows the memory target; a 512 MiB chunk shows what that costs in speed
        with env(MMTUTORIAL_GRAD_CHUNK_MIB=512):
            rows512 = launch.grad_chunk_rows(n, d, a.element_size())
        if rows512 != rows:
            candidates.append(
                (f"triton (chunked, C={rows512})", clip_loss_triton, {"MMTUTORIAL_GRAD_CHUNK_MIB": 512})
            )
        candidates.append(("inf-cl", inf_cl_clip, {}))
        candidates.append(("chunked (tf32)", lambda x, y, z: chunked.clip_loss(x, y, z), {}))
        if first:
            candidates.append(("compiled plain formula", torch.compile(plain_clip), {}))
        for name, fn, env_vars in candidates:
            if device.type != "cuda" and (name == "inf-cl" or name.startswith("compiled")):
                print(f"{n:7d} {d:4d} {name:22} skipped: CUDA only", flush=True)
                continue
            t, extra = measure(fn, a, b, s, device, budget_s=4.0 if not tiny else 0.5, **env_vars)
            if isinstance(t, str):
                print(f"{n:7d} {d:4d} {name:22} {t}", flush=True)
                continue
            tflops = 8 * n * n * d / t / 1e12
            results[(n, name)] = (t, tflops, extra)
            print(
                f"{n:7d} {d:4d} {name:22} {t * 1e3:9.2f} {tflops:8.1f} {100 * tflops / peak:6.1f} "
                f"{extra / 1e9:9.3f}",
                flush=True,
            )
        del a, b
    # The backward rule (launch.CHUNKED_BWD_MIN_D): both backwards at a small D too, kernel only.
    n, d_small = sizes[0], d // 3
    g = torch.Generator().manual_seed(1)
    a = F.normalize(torch.randn(n, d_small, generator=g), dim=1).to(device, dtype)
    b = F.normalize(torch.randn(n, d_small, generator=g), dim=1).to(device, dtype)
    for path in ("fused", "chunked"):
        t, extra = measure(
            clip_loss_triton, a, b, s, device, budget_s=2.0 if not tiny else 0.5, MMTUTORIAL_TRITON_BWD=path
        )
        if isinstance(t, str):
            print(f"{n:7d} {d_small:4d} triton ({path}) {t}", flush=True)
            continue
        tflops = 8 * n * n * d_small / t / 1e12
        results[(n, f"rule {d_small} {path}")] = (t, tflops, extra)
        print(
            f"{n:7d} {d_small:4d} {'triton (' + path + ')':22} {t * 1e3:9.2f} {tflops:8.1f} "
            f"{100 * tflops / peak:6.1f} {extra / 1e9:9.3f}",
            flush=True,
        )
    return peak, results


def verdicts(peak, results, sizes, d, device):
    """One line per target; True if all met. Inf-CL's ratio is printed after both ran (it runs second)."""
    ok = True
    n0, n1 = sizes[0], sizes[-1]
    kernel0 = next((v for (n, k), v in results.items() if n == n0 and k.startswith("triton")), None)
    best0 = max(
        (v for (n, k), v in results.items() if n == n0 and k.startswith("triton")),
        key=lambda v: v[1],
        default=None,
    )
    inf0 = results.get((n0, "inf-cl"))
    if kernel0 is None:
        print(f"VERDICT speed: FAIL (the kernel did not run at N={n0})")
        return False
    frac = kernel0[1] / peak
    good = frac >= 0.60
    ok &= good
    print(
        f"VERDICT speed: {'PASS' if good else 'FAIL'} - kernel {kernel0[1]:.0f} TFLOP/s = {100 * frac:.0f}% "
        f"of the measured bf16 peak {peak:.0f} at N={n0}, D={d} (target >= 60%); "
        f"best backward {best0[1]:.0f} TFLOP/s"
    )
    if inf0 is None:
        print(f"VERDICT Inf-CL: {'SKIP (CPU)' if device.type != 'cuda' else 'FAIL - Inf-CL did not run'}")
        ok &= device.type != "cuda"
    else:
        ratio = inf0[0] / kernel0[0]
        good = ratio >= 3
        ok &= good
        print(
            f"VERDICT Inf-CL: {'PASS' if good else 'FAIL'} - kernel {ratio:.2f}x Inf-CL's throughput "
            f"at N={n0} (target >= 3x)"
        )
    for dd in sorted({int(k.split()[1]) for (_, k) in results if k.startswith("rule")}):
        f, c = results.get((n0, f"rule {dd} fused")), results.get((n0, f"rule {dd} chunked"))
        at_d = [v for (n, k), v in results.items() if n == n0 and k.startswith("triton (")]
        if f and c:
            print(
                f"RULE backward: at D={dd} fused {f[1]:.0f} vs chunked {c[1]:.0f} TFLOP/s; at D={d} "
                + " vs ".join(f"{v[1]:.0f}" for v in at_d)
                + f" (default first); CHUNKED_BWD_MIN_D = "
                f"{launch.CHUNKED_BWD_MIN_D}"
            )
    # the default configuration (the first triton row at n1) must meet the target
    mem = [v[2] for (n, k), v in results.items() if n == n1 and k.startswith("triton")][:1]
    allowance = launch.extra_bytes_allowed(n1, d)
    if not mem or device.type != "cuda":
        print(
            "VERDICT memory: "
            + ("SKIP (CPU: no allocator statistics)" if device.type != "cuda" else "FAIL - no run")
        )
        ok &= device.type != "cuda"
    else:
        good = min(mem) <= allowance
        ok &= good
        planned = launch.chunked_backward_extra_bytes(n1, d, launch.grad_chunk_rows(n1, d, 2), 2)
        print(
            f"VERDICT memory: {'PASS' if good else 'FAIL'} - extra {min(mem) / 1e9:.3f} GB at N={n1} "
            f"(default chunk; planned {planned / 1e9:.3f}), allowed one fp32 N x D buffer + "
            f"{launch.ROW_ALLOWANCE_BYTES} B per row = {allowance / 1e9:.3f} GB"
        )
    return ok


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--tiny", action="store_true", help="CPU smoke run under the interpreter: small N and D")
    p.add_argument("--check-only", action="store_true")
    p.add_argument("--bench-only", action="store_true")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}", flush=True)
    ok = True
    if not args.bench_only:
        n_conf, d_conf, n_large, d_large = (64, 32, 80, 24) if args.tiny else (4096, 768, 65_536, 768)
        ok &= check_confident(device, n_conf, d_conf, args.tiny)
        ok &= check_large(device, n_large, d_large)
        print("correctness:", "all OK" if ok else "FAILURES above", flush=True)
    if not args.check_only:
        sizes, d = ([40, 48], 24) if args.tiny else ([65_536, 262_144], 768)
        peak, results = bench(device, sizes, d, args.tiny)
        print(f"gb accumulation on CUDA: {grad_chunks.ADDMM_INTO_FP32}", flush=True)
        if args.tiny:
            print("verdicts: not applicable to a tiny CPU run (the targets are for an H200)", flush=True)
        else:
            ok &= verdicts(peak, results, sizes, d, device)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
