"""``fit``: the one training loop of the course and of ``python -m mmtutorial train``.

Per optimizer step: ``grad_accum`` micro-batches (forward under bf16 autocast when enabled, ``loss /
grad_accum`` backward; DDP all-reduces gradients on the last one only), clip the global gradient norm, AdamW
step, schedule step. Losses stay on the device and are copied to the host every ``log_every`` steps, so a
GPU step does not wait for the CPU. Rank 0 alone writes logs, plots and checkpoints.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, default_collate
from tqdm.auto import tqdm

from mmtutorial.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from mmtutorial.training.config import TrainConfig, config_to_dict, save_config
from mmtutorial.training.data import epoch_batches, steps_per_epoch
from mmtutorial.training.distributed import dist_info
from mmtutorial.training.logs import RunLog, plot_curves
from mmtutorial.training.optim import build_optimizer, build_scheduler

CHECKPOINT = "checkpoint.pt"
LossFn = Callable[[nn.Module, Any], "torch.Tensor | Mapping[str, torch.Tensor]"]
EvalFn = Callable[[nn.Module], Mapping[str, float]]


@dataclass
class FitResult:
    """What :func:`fit` returns: the (unwrapped) model, the rows it logged, where, and its speed."""

    model: nn.Module
    history: list[dict[str, Any]] = field(default_factory=list)
    step: int = 0
    out_dir: Path | None = None
    seconds: float = 0.0
    samples_per_s: float = 0.0

    def losses(self) -> list[float]:
        """Training loss of every optimizer step this call ran."""
        return [r["loss"] for r in self.history if r["kind"] == "train"]


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _use_bf16(precision: str, device: torch.device) -> bool:
    if precision == "bf16":
        return True
    if precision == "auto":
        return device.type == "cuda" and torch.cuda.is_bf16_supported()
    return False


def _split_loss(out: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    if isinstance(out, Mapping):
        if "loss" not in out:
            raise ValueError(f"a loss function returning a dict needs a 'loss' key, got keys {sorted(out)}")
        return out["loss"], {k: v.detach() for k, v in out.items() if k != "loss"}
    if not isinstance(out, torch.Tensor) or out.ndim != 0:
        raise ValueError(
            f"loss_fn must return a 0-dim tensor (or a dict with 'loss'), got {type(out).__name__}"
        )
    return out, {}


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (seeds the global generator on purpose)
    torch.manual_seed(seed)


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    data: Dataset,
    config: TrainConfig,
    *,
    eval_fn: EvalFn | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    stop_at: int | None = None,
    collate_fn: Callable | None = None,
    num_workers: int = 0,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> FitResult:
    """Train ``model`` for ``config.steps`` optimizer steps of ``loss_fn(model, batch)`` over ``data``.

    Args:
        model: any ``nn.Module``; moved to ``config.device``; wrapped in DDP when a process group is running.
        loss_fn: ``(model, batch) -> 0-dim loss`` or a dict with ``"loss"`` plus other 0-dim tensors to log.
            ``batch`` is what ``collate_fn`` makes of ``config.batch_size / (world x grad_accum)`` samples.
        data: a map-style dataset (``len`` and ``[i]``; ``__getitems__`` is used when present).
        config: :class:`TrainConfig` (or a subclass: the whole dict is saved and checked on resume).
        eval_fn: ``(unwrapped model, in eval mode) -> {metric: float}``, run on rank 0 every
            ``config.eval_every`` steps and at the end, under a forked RNG (it cannot change training).
        out_dir: where rank 0 writes ``config.json``, ``metrics.jsonl``, ``tensorboard/``, ``curves.png`` and
            ``checkpoint.pt``; ``None`` keeps everything in memory (no checkpoints, no resume).
        resume: continue from ``out_dir/checkpoint.pt`` (refused if its config differs, keys named).
        stop_at: stop (and checkpoint) after this many optimizer steps, as if interrupted there.
        collate_fn: samples -> batch (default: ``data.collate_fn`` if it exists, else ``default_collate``).
        num_workers: ``DataLoader`` worker processes (0 = load in this process).
        param_groups: AdamW parameter groups that replace the default two (decay / no decay), e.g. one per
            layer for layer-wise learning-rate decay: dicts with ``"params"`` and optionally ``"lr"``,
            ``"weight_decay"`` (default: ``config.lr``, ``config.weight_decay``). Each group's rate follows
            the schedule from its own base rate; the logged ``lr`` is group 0's. Every trainable parameter
            must be in exactly one group (ValueError otherwise); frozen ones may be listed and switched on
            later. A resumed run must be given the same groups (the optimizer state is per group).

    Returns:
        :class:`FitResult` with the trained (unwrapped) model and every row logged by this call.

    The python, numpy and torch generators are seeded from ``config.seed`` (or restored from the
    checkpoint) for the run, and set back to the caller's states on return.

    Example::

        from mmtutorial.training import TrainConfig, TensorDictDataset, fit
        data = TensorDictDataset({"x": torch.randn(512, 8), "y": torch.randint(0, 3, (512,))})
        model = torch.nn.Linear(8, 3)
        loss = lambda m, b: torch.nn.functional.cross_entropy(m(b["x"]), b["y"])
        result = fit(model, loss, data, TrainConfig(steps=50, batch_size=64, progress=False))
        result.losses()[-1]  # the last step's loss
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig (or subclass), got {type(config).__name__}")
    caller_rng = (
        rng_state()
    )  # fit is seeded from config.seed and hands the caller's generators back untouched
    try:
        return _fit(
            model,
            loss_fn,
            data,
            config,
            eval_fn,
            out_dir,
            resume,
            stop_at,
            collate_fn,
            num_workers,
            param_groups,
        )
    finally:
        set_rng_state(caller_rng)


def _fit(
    model, loss_fn, data, config, eval_fn, out_dir, resume, stop_at, collate_fn, num_workers, param_groups
) -> FitResult:
    if resume and out_dir is None:
        raise ValueError("resume=True needs out_dir (where the checkpoint is)")
    stop = config.steps if stop_at is None else int(stop_at)
    if not 1 <= stop <= config.steps:
        raise ValueError(f"stop_at must be in [1, steps={config.steps}], got {stop_at}")
    info = dist_info()
    device = torch.device(config.device)
    if device.type == "cuda" and info.world > 1:
        device = torch.device("cuda", info.local_rank)
    cfg_dict = config_to_dict(config)
    out = Path(out_dir) if out_dir is not None else None
    ckpt_path = out / CHECKPOINT if out is not None else None
    if out is not None and not resume and ckpt_path.exists():
        raise ValueError(
            f"{out} already holds a run ({CHECKPOINT}); pass resume=True or choose another out_dir"
        )

    model = model.to(device)
    optimizer = build_optimizer(model, config.lr, config.weight_decay, config.betas, param_groups)
    scheduler = build_scheduler(optimizer, config.steps, config.warmup_steps, config.min_lr_ratio)
    start = 0
    if resume:
        ckpt = load_checkpoint(ckpt_path, cfg_dict, map_location=device)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        set_rng_state(ckpt["rng"])
        start = int(ckpt["step"])
    else:
        seed_everything(config.seed)
    if start >= stop:
        return FitResult(model, [], start, out)

    net: nn.Module = model
    if info.world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    log = None
    if out is not None and info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        save_config(config, out / "config.json")
        log = RunLog(out, resume_step=start if resume else None, tensorboard=config.tensorboard)

    collate = collate_fn or getattr(data, "collate_fn", None) or default_collate
    n, per_epoch = len(data), steps_per_epoch(len(data), config.batch_size)
    bf16 = _use_bf16(config.precision, device)
    loader_gen = torch.Generator()  # DataLoader draws a seed per iterator: keep it off the global RNG

    def loader(epoch: int, offset: int) -> DataLoader:
        steps = epoch_batches(
            n, config.batch_size, config.grad_accum, config.seed, epoch, info.rank, info.world
        )
        micro = [m for step in steps[offset:] for m in step]
        return DataLoader(
            data, batch_sampler=micro, collate_fn=collate, num_workers=num_workers, generator=loader_gen
        )

    history: list[dict[str, Any]] = []
    pending: list[tuple[int, torch.Tensor, float, torch.Tensor, dict[str, torch.Tensor]]] = []

    def flush() -> None:
        if not pending:
            return
        values = torch.stack([torch.stack([p[1], p[3]]) for p in pending]).float()
        if info.world > 1:  # logged loss: mean over ranks (equal anyway for a global-batch loss)
            dist.all_reduce(values)
            values /= info.world
        rows = []
        for (step, _, lr, _, extras), (loss, gnorm) in zip(pending, values.tolist(), strict=True):
            row = {"step": step, "kind": "train", "loss": loss, "lr": lr, "grad_norm": gnorm}
            row.update({k: float(v) for k, v in extras.items()})
            rows.append(row)
        pending.clear()
        history.extend(rows)
        if log is not None:
            log.write(rows)
        if bar is not None:
            bar.set_postfix(loss=f"{rows[-1]['loss']:.4f}", lr=f"{rows[-1]['lr']:.2e}")

    def evaluate(step: int) -> None:
        if eval_fn is None or not info.is_main:
            return
        model.eval()
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
            metrics = {k: float(v) for k, v in eval_fn(model).items()}
        model.train()
        row = {"step": step, "kind": "eval", **metrics}
        history.append(row)
        if log is not None:
            log.write([row])
        if config.progress:
            bar.write(f"step {step}: " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))

    def checkpoint(step: int) -> None:
        if ckpt_path is None or not info.is_main:
            return
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng_state(),
            "step": step,
            "config": cfg_dict,
        }
        save_checkpoint(ckpt_path, state)

    bar = tqdm(
        total=stop, initial=start, desc="train", unit="step", disable=not (config.progress and info.is_main)
    )
    model.train()
    t0, step = time.perf_counter(), start
    batches = iter(loader(start // per_epoch, start % per_epoch))
    while step < stop:
        losses = []
        extras_sum: dict[str, torch.Tensor] = {}
        for j in range(config.grad_accum):
            try:
                batch = next(batches)
            except StopIteration:  # epoch boundary (always between optimizer steps)
                batches = iter(loader(step // per_epoch, 0))
                batch = next(batches)
            batch = _to_device(batch, device)
            last = j == config.grad_accum - 1
            sync = contextlib.nullcontext() if last or info.world == 1 else net.no_sync()
            with sync:
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    loss, extras = _split_loss(loss_fn(net, batch))
                (loss / config.grad_accum).backward()
            losses.append(loss.detach().float())
            for k, v in extras.items():
                extras_sum[k] = extras_sum.get(k, 0) + v.float() / config.grad_accum
        # what the optimizer holds and what trains now (a caller may unfreeze parameters mid-run)
        params = [p for g in optimizer.param_groups for p in g["params"] if p.requires_grad]
        if config.grad_clip > 0:
            gnorm = nn.utils.clip_grad_norm_(params, config.grad_clip)
        else:
            gnorm = torch.linalg.vector_norm(
                torch.stack([p.grad.norm() for p in params if p.grad is not None])
            )
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        step += 1
        pending.append((step, torch.stack(losses).mean(), lr, gnorm.detach().float(), extras_sum))
        bar.update(1)
        is_eval = config.eval_every and step % config.eval_every == 0
        is_ckpt = config.checkpoint_every and step % config.checkpoint_every == 0
        if step % config.log_every == 0 or is_eval or is_ckpt or step == stop:
            flush()
        if is_eval and step != stop:
            evaluate(step)
        if is_ckpt and step != stop:
            checkpoint(step)
    flush()
    seconds = time.perf_counter() - t0
    evaluate(step)
    checkpoint(step)
    bar.close()
    if log is not None:
        log.close()
        if config.plot:
            plot_curves(out)
    done = step - start
    return FitResult(model, history, step, out, seconds, done * config.batch_size / max(seconds, 1e-9))
