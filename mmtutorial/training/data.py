"""Datasets the loop can batch fast, and the order of batches (the same on 1 process or on W ranks).

Batch order: epoch ``e`` shuffles the ``n`` samples with ``DistributedSampler(seed, epoch=e)`` (one
permutation shared by all ranks); rank ``r`` gets ``perm[r::W]``. Optimizer step ``t`` of the epoch takes the
next ``B / W`` of them on every rank, so the *global* batch of step ``t`` is ``perm[t*B:(t+1)*B]`` whatever
``W`` is. A resumed run recomputes where it is from the step alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset, DistributedSampler


class TensorDictDataset(Dataset):
    """Rows of a (nested) dict of tensors sharing their first dimension ``N``.

    ``ds[i]`` is one row; ``ds.__getitems__(indices)`` (what ``DataLoader`` calls) is a whole batch, already
    stacked, so ``collate_fn`` is the identity.
    """

    def __init__(self, tensors: Mapping[str, Any]) -> None:
        sizes = set()

        def walk(x: Any, name: str) -> None:
            if isinstance(x, Mapping):
                for k, v in x.items():
                    walk(v, f"{name}.{k}" if name else k)
            elif isinstance(x, torch.Tensor):
                if x.ndim == 0:
                    raise ValueError(f"tensors[{name!r}] must have a first (sample) dimension, got a scalar")
                sizes.add(x.shape[0])
            else:
                raise ValueError(
                    f"tensors[{name!r}] must be a tensor or a dict of tensors, got {type(x).__name__}"
                )

        walk(tensors, "")
        if len(sizes) != 1:
            raise ValueError(f"all tensors must share their first dimension, got sizes {sorted(sizes)}")
        self.tensors, self.n = dict(tensors), sizes.pop()

    def __len__(self) -> int:
        return self.n

    @staticmethod
    def _take(x: Any, idx: Any) -> Any:
        return (
            {k: TensorDictDataset._take(v, idx) for k, v in x.items()} if isinstance(x, Mapping) else x[idx]
        )

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self._take(self.tensors, i)

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Any]:
        return self._take(self.tensors, torch.as_tensor(indices, dtype=torch.long))

    @staticmethod
    def collate_fn(batch: Any) -> Any:
        return batch


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Full global batches in one pass over ``n`` samples (the incomplete last one is dropped)."""
    if n < batch_size:
        raise ValueError(f"the dataset must hold at least batch_size={batch_size} samples, got {n}")
    return n // batch_size


def epoch_batches(
    n: int, batch_size: int, grad_accum: int, seed: int, epoch: int, rank: int = 0, world: int = 1
) -> list[list[list[int]]]:
    """This rank's micro-batches for every optimizer step of ``epoch``: ``[step][micro] -> indices``."""
    per_rank = batch_size // world
    if per_rank * world != batch_size or per_rank % grad_accum:
        raise ValueError(
            f"batch_size={batch_size} must be divisible by world size x grad_accum = {world} x {grad_accum}"
        )
    sampler = DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    mine = list(sampler)
    micro = per_rank // grad_accum
    out = []
    for t in range(steps_per_epoch(n, batch_size)):
        chunk = mine[t * per_rank : (t + 1) * per_rank]
        out.append([chunk[j * micro : (j + 1) * micro] for j in range(grad_accum)])
    return out
