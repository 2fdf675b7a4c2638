"""The training engine: config dataclasses, one ``fit`` loop, checkpoints, logs, torchrun/DDP.

>>> from mmtutorial.training import TrainConfig, TensorDictDataset, fit
>>> result = fit(model, loss_fn, TensorDictDataset(tensors), TrainConfig(steps=100), out_dir="runs/a")

See :func:`fit` for the arguments, :mod:`~mmtutorial.training.config` for TOML and ``key=value`` overrides,
:mod:`~mmtutorial.training.checkpoint` for what a checkpoint holds and :mod:`~mmtutorial.training.data` for
the batch order (identical on 1 process and on W ranks).
"""

from mmtutorial.training.checkpoint import (
    IncompatibleCheckpointError,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from mmtutorial.training.classify import train_classifier
from mmtutorial.training.config import (
    RUNTIME_KEYS,
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)
from mmtutorial.training.data import TensorDictDataset, epoch_batches, steps_per_epoch
from mmtutorial.training.distributed import DistInfo, close_distributed, dist_info, init_distributed
from mmtutorial.training.logs import plot_curves, read_metrics
from mmtutorial.training.loop import CHECKPOINT, FitResult, fit, seed_everything
from mmtutorial.training.objectives import clip_objective
from mmtutorial.training.optim import (
    build_optimizer,
    build_scheduler,
    check_param_groups,
    lr_factor,
    param_groups,
)

__all__ = [
    "CHECKPOINT",
    "RUNTIME_KEYS",
    "DistInfo",
    "FitResult",
    "IncompatibleCheckpointError",
    "TensorDictDataset",
    "TrainConfig",
    "apply_overrides",
    "build_optimizer",
    "build_scheduler",
    "check_param_groups",
    "clip_objective",
    "close_distributed",
    "config_from_dict",
    "config_to_dict",
    "dist_info",
    "epoch_batches",
    "fit",
    "init_distributed",
    "load_checkpoint",
    "load_config",
    "lr_factor",
    "param_groups",
    "plot_curves",
    "read_metrics",
    "rng_state",
    "save_checkpoint",
    "save_config",
    "seed_everything",
    "set_rng_state",
    "steps_per_epoch",
    "train_classifier",
]
