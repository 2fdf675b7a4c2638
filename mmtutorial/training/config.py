"""Training configs: plain dataclasses (nanoGPT style), read from TOML, overridden with ``key=value`` strings.

>>> cfg = load_config(TrainConfig, "run.toml", overrides=["steps=200", "lr=1e-3"])
>>> save_config(cfg, "out/config.json")

A preset subclasses :class:`TrainConfig` and adds its model and data fields, so one flat namespace holds the
whole run (``--set steps=30`` and ``--set embed_dim=128`` look alike). A TOML file may group keys in tables
(``[train]``, ``[model]``...): the tables are flattened, and an unknown key is an error that names it.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

C = TypeVar("C")

# Keys that may change between a run and its resumption without changing the trajectory.
RUNTIME_KEYS = frozenset(
    {"eval_every", "log_every", "checkpoint_every", "progress", "tensorboard", "plot", "threads"}
)


@dataclass
class TrainConfig:
    """What :func:`mmtutorial.training.fit` needs. Batch sizes are global (all ranks, all micro-batches).

    ``steps``: optimizer steps of the whole run (the cosine schedule ends there);
    ``warmup_steps``: linear warm-up from ``lr / warmup_steps`` to ``lr``; then cosine down to
    ``lr * min_lr_ratio``. ``grad_accum``: micro-batches per optimizer step (``batch_size`` must divide by
    ``grad_accum x world size``). ``grad_clip``: max global grad norm (0 = off). ``precision``: ``"auto"``
    (bf16 autocast on a CUDA device that supports it, fp32 elsewhere), ``"fp32"`` or ``"bf16"``.
    ``eval_every`` / ``checkpoint_every``: in optimizer steps (0 = only at the end). ``threads``: CPU
    threads the command line gives torch (0 = torch's default; a small model trains faster on 1 per process).
    """

    steps: int = 100
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.98)
    warmup_steps: int = 10
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    grad_accum: int = 1
    precision: str = "auto"
    device: str = "cpu"
    seed: int = 0
    eval_every: int = 0
    checkpoint_every: int = 0
    log_every: int = 10
    progress: bool = True
    tensorboard: bool = True
    plot: bool = True
    threads: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "grad_accum", "log_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "eval_every", "checkpoint_every"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError(
                f"weight_decay and grad_clip must be >= 0, got {self.weight_decay}, {self.grad_clip}"
            )
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be one of 'auto', 'fp32', 'bf16', got {self.precision!r}")
        if self.batch_size % self.grad_accum:
            raise ValueError(
                f"batch_size must be divisible by grad_accum, got batch_size={self.batch_size}, "
                f"grad_accum={self.grad_accum}"
            )
        self.betas = tuple(float(b) for b in self.betas)  # TOML and JSON give lists


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(key: str, value: Any, kind: Any) -> Any:
    """Turn ``value`` (a string from the command line, or a TOML value) into the field's type."""
    origin = typing.get_origin(kind)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return value.lower() in ("true", "1", "yes", "on")
        raise ValueError(f"{key} must be a boolean (true/false), got {value!r}")
    if kind in (int, float, str):
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{key} must be an integer, got {value!r}")
        try:
            return kind(value) if not (kind is int and isinstance(value, str)) else int(value, 0)
        except (TypeError, ValueError):
            raise ValueError(f"{key} must be {kind.__name__}, got {value!r}") from None
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else list(value)
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(items)
        if len(items) != len(args):
            raise ValueError(f"{key} needs {len(args)} comma-separated values, got {value!r}")
        return tuple(
            _coerce(key, v.strip() if isinstance(v, str) else v, a) for v, a in zip(items, args, strict=True)
        )
    return value


def _flatten(table: Mapping[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in table.items():
        if isinstance(v, Mapping):
            for k2, v2 in _flatten(v).items():
                if k2 in flat:
                    raise ValueError(f"key {k2!r} appears in more than one table")
                flat[k2] = v2
        else:
            flat[k] = v
    return flat


def config_from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
    """Build ``cls`` from a (possibly nested) mapping; unknown keys are refused by name."""
    types = _field_types(cls)
    flat = _flatten(values)
    unknown = sorted(set(flat) - set(types))
    if unknown:
        raise ValueError(f"unknown config keys {unknown} for {cls.__name__} (known: {sorted(types)})")
    return cls(**{k: _coerce(k, v, types[k]) for k, v in flat.items()})


def apply_overrides(config: C, overrides: Iterable[str]) -> C:
    """A copy of ``config`` with each ``"key=value"`` applied (values parsed as the field's type)."""
    types = _field_types(type(config))
    changes: dict[str, Any] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"overrides must look like key=value, got {item!r}")
        if key not in types:
            raise ValueError(f"unknown config key {key!r} in override {item!r} (known: {sorted(types)})")
        changes[key] = _coerce(key, value.strip(), types[key])
    return dataclasses.replace(config, **changes)


def load_config(
    cls: type[C], path: str | Path | None = None, overrides: Iterable[str] = (), base: C | None = None
) -> C:
    """``base`` (default ``cls()``), updated by the TOML file at ``path``, then by ``overrides``."""
    config = base if base is not None else cls()
    if path is not None:
        with open(path, "rb") as f:
            from_file = _flatten(tomllib.load(f))
        merged = {**config_to_dict(config), **from_file}
        config = config_from_dict(cls, merged)
    return apply_overrides(config, overrides)


def config_to_dict(config: Any) -> dict[str, Any]:
    """The config as JSON-ready primitives (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def save_config(config: Any, path: str | Path) -> None:
    """Write ``config`` (plus its class name) as indented JSON."""
    data = {"config_class": type(config).__name__, **config_to_dict(config)}
    Path(path).write_text(json.dumps(data, indent=2) + "\n")


def config_differences(
    saved: Mapping[str, Any], current: Mapping[str, Any], ignore=RUNTIME_KEYS
) -> list[str]:
    """``["key: saved -> current", ...]`` for keys that differ (``ignore``-d keys may differ freely)."""
    keys = sorted((set(saved) | set(current)) - set(ignore))
    return [f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in keys if saved.get(k) != current.get(k)]
