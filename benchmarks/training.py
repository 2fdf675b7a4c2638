"""The training engine against a bare loop, and 2-process DDP against 1 process, in one run; ratios.

    .venv/bin/python benchmarks/training.py                 # ~1-2 min on 2 CPU cores
    .venv/bin/python benchmarks/training.py --steps 40 --repeats 3 --skip-ddp

1. Overhead: the same model (a two-tower MLP over 256-d features, CLIP loss), data, AdamW groups, warm-up +
   cosine schedule, clipping, on one thread: ``mmtutorial.training.fit`` (no logs written, progress off)
   against a hand-written loop of the same steps. Median seconds per step over ``--repeats`` runs; the goal is
   an overhead of at most 5%.
2. DDP: ``fit`` in 2 processes (gloo, 1 thread each, each rank half of the global batch, the global-batch
   loss) against 1 process (1 thread, the whole batch); throughput ratio in samples/s (1.0 = no gain).
Peak memory is the process's peak resident set (CPU; there is no accelerator here).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from mmtutorial.losses import clip_loss
from mmtutorial.training import TensorDictDataset, TrainConfig, build_optimizer, build_scheduler, fit
from mmtutorial.training.data import epoch_batches, steps_per_epoch
from mmtutorial.training.objectives import clip_objective


class MLPTowers(nn.Module):
    """Two MLP towers to a shared space and a learnable scale: ``(B, D), (B, D) -> (B, E), (B, E), ()``."""

    def __init__(self, dim: int = 256, hidden: int = 512, embed: int = 128) -> None:
        super().__init__()
        self.a = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, embed))
        self.b = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, embed))
        self.log_scale = nn.Parameter(torch.tensor(2.659))

    def forward(self, x, y):
        za = nn.functional.normalize(self.a(x), dim=-1)
        zb = nn.functional.normalize(self.b(y), dim=-1)
        return za, zb, self.log_scale.exp()


def make_data(n: int, dim: int = 256) -> TensorDictDataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, dim, generator=g)
    return TensorDictDataset({"image": x, "text": x + 0.5 * torch.randn(n, dim, generator=g)})


def config(steps: int, batch: int) -> TrainConfig:
    return TrainConfig(steps=steps, batch_size=batch, warmup_steps=5, progress=False, tensorboard=False,
                       plot=False, log_every=10)  # fmt: skip


def bare_loop(model: nn.Module, data: TensorDictDataset, cfg: TrainConfig) -> float:
    """The same steps written by hand; returns seconds."""
    opt = build_optimizer(model, cfg.lr, cfg.weight_decay, cfg.betas)
    sched = build_scheduler(opt, cfg.steps, cfg.warmup_steps, cfg.min_lr_ratio)
    per_epoch = steps_per_epoch(len(data), cfg.batch_size)
    losses = []
    t0 = time.perf_counter()
    for step in range(cfg.steps):
        if step % per_epoch == 0:
            batches = epoch_batches(len(data), cfg.batch_size, 1, cfg.seed, step // per_epoch)
        batch = data.__getitems__(batches[step % per_epoch][0])
        loss = clip_loss(*model(batch["image"], batch["text"]))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sched.step()
        losses.append(loss.detach())
    torch.stack(losses).tolist()  # the engine copies its losses to the host too
    return time.perf_counter() - t0


def engine(model: nn.Module, data: TensorDictDataset, cfg: TrainConfig) -> float:
    t0 = time.perf_counter()
    fit(model, clip_objective, data, cfg)
    return time.perf_counter() - t0


def _ddp_worker(rank: int, world: int, port: int, steps: int, batch: int, n: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        data, cfg = make_data(n), config(steps, batch)
        torch.manual_seed(0)
        fit(MLPTowers(), clip_objective, data, config(3, batch))  # warm-up
        dist.barrier()
        torch.manual_seed(0)
        t0 = time.perf_counter()
        fit(MLPTowers(), clip_objective, data, cfg)
        seconds = time.perf_counter() - t0
        if rank == 0:
            with open(out, "w") as f:
                f.write(str(seconds))
    finally:
        dist.destroy_process_group()


def ddp_seconds(world: int, steps: int, batch: int, n: int) -> float:
    with tempfile.NamedTemporaryFile(suffix=".txt") as f:
        port = 29500 + os.getpid() % 1000
        mp.spawn(_ddp_worker, args=(world, port, steps, batch, n, f.name), nprocs=world, join=True)
        return float(open(f.name).read())


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--skip-ddp", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    data, cfg = make_data(args.n), config(args.steps, args.batch)
    bare, eng = [], []
    for _ in range(args.repeats):  # interleaved, so a load change hits both alike
        torch.manual_seed(0)
        bare.append(bare_loop(MLPTowers(), data, cfg) / args.steps)
        torch.manual_seed(0)
        eng.append(engine(MLPTowers(), data, cfg) / args.steps)
    b, e = statistics.median(bare), statistics.median(eng)
    res = {"bare_ms_per_step": 1e3 * b, "fit_ms_per_step": 1e3 * e, "fit_over_bare": e / b,
           "fit_samples_per_s": args.batch / e}  # fmt: skip
    row = "{:10s} {:9.2f} {:10.0f} {:7.3f}"
    print(f"two MLP towers 256 -> 512 -> 128, CLIP loss; batch {args.batch}, {args.steps} steps, 1 thread")
    print(f"{'loop':10s} {'ms/step':>9s} {'samples/s':>10s} {'ratio':>7s}")
    print(row.format("bare", 1e3 * b, args.batch / b, 1.0))
    print(row.format("fit", 1e3 * e, args.batch / e, e / b), f"  (overhead {100 * (e / b - 1):+.1f}%)")
    if not args.skip_ddp:
        one = ddp_seconds(1, args.steps, args.batch, args.n)
        two = ddp_seconds(2, args.steps, args.batch, args.n)
        samples = args.batch * args.steps
        res.update(
            one_proc_samples_per_s=samples / one, two_proc_samples_per_s=samples / two, ddp_speedup=one / two
        )
        print(row.format("1 process", 1e3 * one / args.steps, samples / one, 1.0), "  (fit, whole batch)")
        print(
            row.format("2 procs", 1e3 * two / args.steps, samples / two, one / two),
            "  (DDP, gloo, same batch)",
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MiB (workers not included)")
    res["peak_rss_mib"] = peak
    return res


if __name__ == "__main__":
    main()
