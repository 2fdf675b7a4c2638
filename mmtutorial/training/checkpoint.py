"""Checkpoints: everything needed to continue a run exactly, written atomically, read without pickle code.

A checkpoint is one ``torch.save`` dict: ``model``, ``optimizer``, ``scheduler`` state dicts, ``step``, the
``config`` (a plain dict) and ``rng`` (python, numpy and torch generator states, CUDA too when present).
Writing goes to ``NAME.tmp`` first and is then renamed with ``os.replace`` (atomic on POSIX and Windows),
so a crash mid-write leaves the previous checkpoint intact, never half a file under the real name.
Reading uses ``torch.load(weights_only=True)``: tensors and plain containers only, no code.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmtutorial.training.config import RUNTIME_KEYS, config_differences


class IncompatibleCheckpointError(ValueError):
    """The checkpoint was written by a run whose config differs; the message names the keys."""


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch (CPU, and every CUDA device) generator states, as weights-only-safe values."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002 (the global state is what we save)
    state = {
        "python": random.getstate(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(_as_tuple(state["python"]))
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["gauss"]))  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(x: Any) -> Any:
    return tuple(_as_tuple(v) for v in x) if isinstance(x, list | tuple) else x


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> Path:
    """``torch.save(state)`` to ``path`` atomically (temporary file, flush + fsync, then ``os.replace``)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(dict(state), f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load_checkpoint(
    path: str | Path, config: Mapping[str, Any] | None = None, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; with ``config``, refuse one whose config differs.

    Keys in ``RUNTIME_KEYS`` (how often to log, evaluate, checkpoint; progress bar) may differ. Any other
    difference raises :class:`IncompatibleCheckpointError` listing ``key: saved -> current``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if config is not None:
        diff = config_differences(ckpt.get("config", {}), config, ignore=RUNTIME_KEYS)
        if diff:
            raise IncompatibleCheckpointError(
                f"checkpoint {path} comes from a different config; differing keys: " + "; ".join(diff)
            )
    return ckpt
