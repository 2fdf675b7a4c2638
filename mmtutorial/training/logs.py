"""Run logs: ``metrics.jsonl`` (one JSON object a line), TensorBoard event files, a seaborn plot of curves.

Rows: ``{"step": t, "kind": "train", "loss": ..., "lr": ..., "grad_norm": ...}`` once per optimizer step and
``{"step": t, "kind": "eval", <metric>: ...}`` after each evaluation. ``step`` counts optimizer steps done.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

METRICS = "metrics.jsonl"


def read_metrics(path: str | Path, kind: str | None = None) -> list[dict[str, Any]]:
    """Rows of ``path`` (a ``metrics.jsonl`` or the run folder holding it), optionally only one ``kind``."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if kind is None or r.get("kind") == kind]


class RunLog:
    """Appends rows to ``metrics.jsonl`` and TensorBoard; on resume, drops rows past the checkpoint's step."""

    def __init__(self, out_dir: str | Path, resume_step: int | None = None, tensorboard: bool = True) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / METRICS
        if resume_step is not None and self.path.exists():
            # a run killed after its last checkpoint logged steps that the resumed run will redo
            keep = [r for r in read_metrics(self.path) if r["step"] <= resume_step]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in keep))
        elif resume_step is None:
            self.path.write_text("")
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # imported here: it costs a second

            self.writer = SummaryWriter(str(self.out_dir / "tensorboard"), purge_step=resume_step)

    def write(self, rows: Iterable[Mapping[str, Any]]) -> None:
        rows = list(rows)
        with open(self.path, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        if self.writer is not None:
            for r in rows:
                for k, v in r.items():
                    if k not in ("step", "kind") and isinstance(v, int | float):
                        self.writer.add_scalar(f"{r['kind']}/{k}", v, r["step"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def plot_curves(run: str | Path, path: str | Path | None = None, dpi: int = 90) -> Path:
    """Training loss (and every eval metric) against step, saved as ``curves.png`` in the run folder.

    Uses ``matplotlib.figure.Figure`` directly, so it never touches the interactive backend.
    """
    import pandas as pd
    import seaborn as sns
    from matplotlib.figure import Figure

    run = Path(run)
    rows = read_metrics(run)
    train = pd.DataFrame([r for r in rows if r.get("kind") == "train"])
    evals = pd.DataFrame([r for r in rows if r.get("kind") == "eval"])
    n = 1 + (not evals.empty)
    fig = Figure(figsize=(6 if n == 1 else 9, 3.5), dpi=dpi)
    axes = fig.subplots(1, n, squeeze=False)[0]
    sns.lineplot(data=train, x="step", y="loss", ax=axes[0])
    axes[0].set(title="training loss", xlabel="optimizer step", ylabel="loss")
    if not evals.empty:
        long = evals.drop(columns="kind").melt(id_vars="step", var_name="metric", value_name="value")
        sns.lineplot(data=long, x="step", y="value", hue="metric", marker="o", ax=axes[1])
        axes[1].set(title="evaluation", xlabel="optimizer step", ylabel="value")
    fig.tight_layout()
    out = Path(path) if path is not None else run / "curves.png"
    fig.savefig(out)
    return out
