"""Self-checks for chapter 09 (project practice: the training engine and the command line)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mmtutorial.exercises import WrongAnswer, expect


def check_lr_schedule(lr_at: Callable[[int], float]) -> bool:
    """Exercise 1: ``lr_at(step)`` for base lr 1e-3, 10 warm-up steps, 100 steps in all, floor 0.1 x lr."""
    from mmtutorial.training import lr_factor

    expect(callable(lr_at), "define a function lr_at(step) -> learning rate")
    for step in (0, 4, 9, 10, 30, 55, 80, 99, 100):
        want = 1e-3 * lr_factor(step, 100, 10, 0.1)
        got = lr_at(step)
        if step < 10 and got is not None and abs(float(got) - 1e-3 * step / 10) < 1e-12:
            raise WrongAnswer(
                "close: the warm-up counts step 0 as the first step, so use (step + 1) / warmup"
            )
        expect(
            got is not None and abs(float(got) - want) < 1e-9,
            f"at step {step} the learning rate is not right (got {got}); warm up linearly, then "
            "lr * (r + (1 - r) * (1 + cos(pi * progress)) / 2) with progress = (step - 10) / (100 - 10)",
        )
    return True


def check_micro_batch(answer: int | None) -> bool:
    """Exercise 2: samples per forward pass on each process: batch_size=256, 4 processes, grad_accum=2."""
    expect(answer is not None, "assign your number of samples to `answer`")
    if answer == 64:
        raise WrongAnswer("close: each process also splits its share into grad_accum micro-batches")
    if answer in (128, 512, 2048):
        raise WrongAnswer("batch_size is the global batch: all processes and all micro-batches together")
    expect(answer == 32, "hint: batch_size / (processes x grad_accum)")
    return True


def check_best_step(run_dir: str | Path, answer: int | None) -> bool:
    """Exercise 3: the step of ``run_dir`` whose evaluation had the highest ``i2t_r1`` (earliest on a tie)."""
    from mmtutorial.training import read_metrics

    expect(answer is not None, "assign the step to `answer`")
    evals = read_metrics(run_dir, kind="eval")
    expect(evals, f"{run_dir} has no evaluation rows (kind == 'eval') in metrics.jsonl")
    best = max(evals, key=lambda r: (r["i2t_r1"], -r["step"]))["step"]
    last_train = read_metrics(run_dir, kind="train")[-1]["step"]
    if answer == last_train and best != last_train:
        raise WrongAnswer("the last step is not always the best one: read the rows with kind == 'eval'")
    expect(
        int(answer) == best, "hint: keep the rows with kind == 'eval' and take the step of the largest i2t_r1"
    )
    return True
