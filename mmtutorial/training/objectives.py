"""Loss functions in the shape :func:`~mmtutorial.training.fit` calls them: ``(model, batch) -> loss``.

``clip_objective`` runs a two-tower model (``model(a, b) -> (emb_a, emb_b, logit_scale)``) and takes the
CLIP loss over the *global* batch: inside a torchrun/DDP job the embeddings of all ranks are gathered
(:mod:`mmtutorial.losses.distributed`, ``grad="ddp"`` so that DDP's gradient average is exact), so 2
processes with 64 pairs each compute the loss of the same 128 x 128 logits as 1 process with 128 pairs.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mmtutorial.losses import clip_loss
from mmtutorial.losses import distributed as dist_losses
from mmtutorial.training.distributed import dist_info


def clip_objective(
    model: nn.Module,
    batch: Mapping[str, object],
    *,
    keys: tuple[str, str] = ("image", "text"),
    impl: str = "auto",
) -> torch.Tensor:
    """CLIP loss (0-dim) of ``model(batch[keys[0]], batch[keys[1]])``, global over ranks when distributed."""
    for k in keys:
        if k not in batch:
            raise ValueError(f"batch must hold the key {k!r} for clip_objective, got keys {sorted(batch)}")
    a, b, scale = model(batch[keys[0]], batch[keys[1]])
    if dist_info().world > 1:
        return dist_losses.clip_loss(a, b, scale, impl=impl, grad="ddp")
    return clip_loss(a, b, scale, impl=impl)
