"""Cost of each multi-task weighting / gradient aggregation per training step, relative to the plain sum.

    .venv/bin/python benchmarks/multitask.py                 # T = 2, 4, 8 tasks, ~1.05M shared parameters
    .venv/bin/python benchmarks/multitask.py --tasks 2 --steps 5

Model: ``HardSharing(in_dim=512, hidden=(1024, 512))`` (1,050,112 shared parameters) with one 10-class
head per task, batch 64 of random features, Adam. For each T and strategy: the median seconds per full
training step (forward, backward(s), aggregation, optimiser step) over ``--steps`` steps after 2 warm-up
steps, and the peak memory *allocated during one step*: live tensor bytes above what existed before the
step, from the PyTorch profiler's allocation events, with gradients cleared before the step (parameters
and Adam state are not counted). Both are printed as ratios to equal weighting (EW: one backward of the
summed loss). Gradient methods need T backward passes through the trunk and a ``(T, P)`` gradient matrix;
GradNorm adds T gradient norms on the last shared layer. CPU only: timings on a shared machine are
inflated, read the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import pandas as pd
import torch
from torch.profiler import ProfilerActivity, profile

from mmtutorial.multitask import STRATEGIES, HardSharing, make_weighting, multitask_step

IN_DIM, HIDDEN, CLASSES, BATCH = 512, (1024, 512), 10, 64


def _setup(T: int, strategy: str, seed: int = 0):
    torch.manual_seed(seed)
    tasks = {f"t{k}": CLASSES for k in range(T)}
    model = HardSharing(IN_DIM, tasks, HIDDEN)
    weighting = make_weighting(strategy if strategy in ("ew", "uw", "dwa", "gradnorm", "rlw") else "ew", T)
    method = strategy if strategy in ("pcgrad", "mgda", "cagrad") else "sum"
    opt = torch.optim.Adam(list(model.parameters()) + list(weighting.parameters()), lr=1e-3)
    x = torch.randn(BATCH, IN_DIM)
    y = {t: torch.randint(0, CLASSES, (BATCH,)) for t in tasks}
    kw = {"generator": torch.Generator().manual_seed(seed)} if method == "pcgrad" else {}

    def step():
        multitask_step(model, x, y, opt, weighting, method, **kw)

    return model, opt, step


def _peak_step_bytes(opt, step) -> int:
    opt.zero_grad(set_to_none=True)  # the step allocates its gradients: count them, do not net out old ones
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    cur = peak = 0
    for e in sorted(prof.events(), key=lambda e: e.time_range.start):
        cur += e.self_cpu_memory_usage
        peak = max(peak, cur)
    return peak


def run(task_counts=(2, 4, 8), strategies=STRATEGIES, steps: int = 15) -> pd.DataFrame:
    rows = []
    _, _, warm = _setup(max(task_counts), "ew")  # first steps of a process are slow (allocator, lazy init)
    for _ in range(5):
        warm()
    for T in task_counts:
        for s in strategies:
            model, opt, step = _setup(T, s)
            for _ in range(2):
                step()
            times = []
            for _ in range(steps):
                t0 = time.perf_counter()
                step()
                times.append(time.perf_counter() - t0)
            shared = sum(p.numel() for p in model.shared_parameters())
            ms, mb = 1e3 * statistics.median(times), _peak_step_bytes(opt, step) / 2**20
            row = {"T": T, "strategy": s, "shared_params": shared, "ms_per_step": ms, "peak_step_MB": mb}
            rows.append(row)
            print(f"T={T} {s:9s} {ms:8.1f} ms  {mb:7.1f} MB", flush=True)
    df = pd.DataFrame(rows)
    base = df[df.strategy == "ew"].set_index("T")
    df["time_vs_ew"] = df.ms_per_step / df["T"].map(base.ms_per_step)
    df["mem_vs_ew"] = df.peak_step_MB / df["T"].map(base.peak_step_MB)
    return df


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, nargs="+", default=[2, 4, 8])
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Profiler clears events")
    df = run(args.tasks, args.strategies, args.steps)
    print(f"\nshared parameters: {df.shared_params.iloc[0]:,}; torch threads: {args.threads}")
    table = df.pivot(index="strategy", columns="T", values="time_vs_ew").loc[args.strategies]
    mem = df.pivot(index="strategy", columns="T", values="mem_vs_ew").loc[args.strategies]
    ms = df.pivot(index="strategy", columns="T", values="ms_per_step").loc[args.strategies]
    print("\nmedian ms per step\n" + ms.round(1).to_string())
    print("\ntime per step / EW\n" + table.round(2).to_string())
    print("\npeak memory allocated in a step / EW\n" + mem.round(2).to_string())


if __name__ == "__main__":
    main()
