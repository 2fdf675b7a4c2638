"""Every fusion of ``mmtutorial.fusion`` trained under one budget on the two fusion tasks; one table.

    .venv/bin/python benchmarks/fusion.py      # 3 seeds, both tasks, all fusions (~4 min on 2 CPU cores)
    .venv/bin/python benchmarks/fusion.py --seeds 1 --epochs 4 --n-train 300 --fusions late_concat tensor

Per task and fusion: median test accuracy over seeds, trainable parameters, median training seconds, and
the ratios to the baseline (late concatenation of pooled features). On the single-modality task it also
reports robustness when the audio is noised (area under accuracy-vs-noise, 1 = perfect) or dropped. The
training runs on the CPU (these models are a few thousand parameters), so peak accelerator memory is not
measured. Single-modality MLP baselines are printed first: on ``match`` they must sit at chance.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from mmtutorial.fusion import FUSIONS
from mmtutorial.fusion_tasks import (
    TASKS,
    compare_fusions,
    make_task,
    robustness,
    train_fusion,
    unimodal_baseline,
)


def run(
    tasks=TASKS, fusions=None, seeds=(0, 1, 2), epochs=12, n_train=1000, n_test=600, noise=1.0
) -> pd.DataFrame:
    """The benchmark table: one row per (task, fusion)."""
    fusions = list(FUSIONS) if fusions is None else list(fusions)
    tables = []
    for kind in tasks:
        task = make_task(kind, n_train=n_train, n_test=n_test, noise=noise, seed=0)
        dropout = 0.2 if kind == "color" else 0.0
        uni = {
            m: np.median([unimodal_baseline(task, m, seed=s, epochs=epochs) for s in seeds])
            for m in task.dims
        }
        print(f"[{kind}] {task.description}")
        print(f"[{kind}] single-modality MLP accuracy: " + ", ".join(f"{m} {a:.3f}" for m, a in uni.items()))
        df, models = compare_fusions(task, fusions, seeds=seeds, epochs=epochs, modality_dropout=dropout)
        if kind == "color":
            rob = _robustness_over_seeds(
                task, models, fusions, seeds, epochs=epochs, modality_dropout=dropout
            )
            df = df.merge(rob, on="fusion")
        if "late_concat" in fusions:
            base = df.set_index("fusion").loc["late_concat"]
            df["acc_vs_late"] = df.accuracy / base.accuracy
            df["params_vs_late"] = df.params / base.params
            df["time_vs_late"] = df.seconds / base.seconds
        tables.append(df)
    return pd.concat(tables, ignore_index=True)


def _robustness_over_seeds(task, models, fusions, seeds, **train_kw) -> pd.DataFrame:
    """Median audio-noise AUC and audio-dropped accuracy over seeds (seed 0's models are reused)."""
    summaries = []
    for s in seeds:
        if s == seeds[0]:
            ms = models
        else:
            ms = {n: train_fusion(n, task, seed=s, **train_kw).model for n in fusions}
        summaries.append(robustness(ms, task, "audio", seed=s)[1])
    med = pd.concat(summaries).groupby("fusion")[["auc", "dropped"]].median()
    return med.rename(columns={"auc": "audio_noise_auc", "dropped": "audio_dropped_acc"}).reset_index()


def main(argv: list[str] | None = None) -> pd.DataFrame:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--fusions", nargs="+", default=None, choices=list(FUSIONS))
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (medians are reported)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--n-train", type=int, default=1000)
    p.add_argument("--n-test", type=int, default=600)
    p.add_argument("--threads", type=int, default=1, help="torch threads (tiny models: 1 is fastest)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    start = time.perf_counter()
    df = run(a.tasks, a.fusions, tuple(range(a.seeds)), a.epochs, a.n_train, a.n_test)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 3):
        print(df.to_string(index=False))
    took = time.perf_counter() - start
    print(f"total {took:.1f} s, {a.seeds} seed(s), {a.epochs} epochs, n_train={a.n_train}")
    return df


if __name__ == "__main__":
    main()
