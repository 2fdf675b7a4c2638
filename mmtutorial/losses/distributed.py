"""Contrastive losses over the global batch of all ranks (``torch.distributed``, gloo on CPU, NCCL on GPU).

Every rank passes its local ``(n, D)`` batch; the features of all ranks are gathered into the global
``(W * n, D)`` batch (rank order), and every rank computes the same global loss with any ``impl`` of
:mod:`mmtutorial.losses`. The returned value equals the single-process loss over the concatenated batch.

Gradient scaling, the subtle part. All ``W`` ranks differentiate the *same* function ``L``:

- ``grad="exact"`` (default): the gather's backward keeps only this rank's slice of the incoming gradient,
  so ``a_local.grad`` is exactly the matching slice of ``dL/da`` (as in one process), and the replicated
  ``logit_scale``/``logit_bias`` get exactly ``dL/ds``, ``dL/dt``. No communication in backward.
  (Summing the slices over ranks, as ``torch.distributed.nn.functional.all_gather`` does, would give
  ``W`` times the slice, because all ``W`` ranks backpropagate the same ``L``.)
- ``grad="ddp"``: the gather's backward *sums* the slices over ranks (open_clip's ``gather_with_grad``),
  so local feature gradients are ``W x`` the slice. ``DistributedDataParallel`` then *averages* parameter
  gradients over ranks, and the encoders end with exactly ``dL/dtheta``; the scale's gradient is
  ``dL/ds`` on every rank, so its average is exact too. Use this mode inside a DDP training loop.

Every rank computes the whole ``N x N`` loss (``O(N^2 D / 1)`` work per rank, memory as the chosen impl:
``impl="chunked"`` or ``"triton"`` keep it ``O(N * chunk)``); local batch sizes must be equal.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from mmtutorial._validate import check_choice
from mmtutorial.losses import dispatch

GRAD_MODES = ("exact", "ddp")


class _GatherRows(torch.autograd.Function):
    """all_gather along dim 0; backward returns this rank's slice (``sum_over_ranks`` sums it first)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, sum_over_ranks: bool) -> torch.Tensor:
        world, rank = dist.get_world_size(), dist.get_rank()
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        ctx.rank, ctx.n, ctx.sum_over_ranks = rank, x.shape[0], sum_over_ranks
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous()
        if ctx.sum_over_ranks:
            dist.all_reduce(grad)  # every rank's dL/d(global batch), summed
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n], None


def gather_features(x: torch.Tensor, *, grad: str = "exact", check_sizes: bool | None = None) -> torch.Tensor:
    """All ranks' ``(n, D)`` batches as one ``(W * n, D)`` tensor in rank order, differentiable.

    ``grad``: ``"exact"`` (this rank's slice of the gradient) or ``"ddp"`` (slice summed over ranks);
    see the module docstring. ``check_sizes``: first exchange the batch sizes and raise ``ValueError`` if
    they differ (default: not on CUDA, where reading the exchanged sizes makes the host wait for the GPU;
    there, pass equal sizes, as a ``DistributedSampler`` with ``drop_last=True`` gives).
    Without an initialised process group, returns ``x`` unchanged.
    """
    check_choice("grad", grad, GRAD_MODES)
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    if check_sizes is None:
        check_sizes = x.device.type != "cuda"
    if check_sizes:
        sizes = [torch.zeros(1, dtype=torch.long, device=x.device) for _ in range(dist.get_world_size())]
        dist.all_gather(sizes, torch.tensor([x.shape[0]], device=x.device))
        if len({int(s) for s in sizes}) != 1:
            raise ValueError(f"every rank must pass the same batch size, got sizes {[int(s) for s in sizes]}")
    return _GatherRows.apply(x, grad == "ddp")


def _require_group() -> None:
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError("distributed losses need torch.distributed.init_process_group() first")


# Each loss checks this rank's inputs once (as :mod:`.dispatch` does, same ``check_values`` default), then
# computes the global loss on the gathered batch without checking it again.
def clip_loss(
    a, b, logit_scale, *, impl: str = "auto", grad: str = "exact", check_values: bool | None = None
) -> torch.Tensor:
    """Global-batch CLIP loss. ``a``, ``b``: this rank's ``(n, D)`` (L2-normalised); returns 0-dim fp32."""
    _require_group()
    check_choice("impl", impl, dispatch.IMPLS)
    a, b = dispatch.check_pair("a", a, "b", b, check_values=check_values)
    scale = dispatch.as_scalar("logit_scale", logit_scale, a, positive=True, check_values=check_values)
    A = gather_features(a, grad=grad, check_sizes=check_values)
    B = gather_features(b, grad=grad, check_sizes=False)  # b has a's shape: checked above
    return dispatch.run_clip(A, B, scale, impl)


def siglip_loss(
    a,
    b,
    logit_scale,
    logit_bias,
    *,
    impl: str = "auto",
    grad: str = "exact",
    check_values: bool | None = None,
) -> torch.Tensor:
    """Global-batch SigLIP loss. ``a``, ``b``: this rank's ``(n, D)``; returns 0-dim fp32."""
    _require_group()
    check_choice("impl", impl, dispatch.IMPLS)
    a, b = dispatch.check_pair("a", a, "b", b, check_values=check_values)
    scale = dispatch.as_scalar("logit_scale", logit_scale, a, positive=True, check_values=check_values)
    bias = dispatch.as_scalar("logit_bias", logit_bias, a, positive=False, check_values=check_values)
    A = gather_features(a, grad=grad, check_sizes=check_values)
    B = gather_features(b, grad=grad, check_sizes=False)
    return dispatch.run_siglip(A, B, scale, bias, impl)


def nt_xent_loss(
    z1, z2, temperature, *, impl: str = "auto", grad: str = "exact", check_values: bool | None = None
) -> torch.Tensor:
    """Global-batch NT-Xent: the views of all ranks are each other's negatives; returns 0-dim fp32."""
    _require_group()
    check_choice("impl", impl, dispatch.NT_XENT_IMPLS)
    z1, z2 = dispatch.check_pair("z1", z1, "z2", z2, check_values=check_values)
    tau = dispatch.as_scalar(
        "temperature", temperature, z1, positive=True, reciprocal=True, check_values=check_values
    )
    Z1 = gather_features(z1, grad=grad, check_sizes=check_values)
    Z2 = gather_features(z2, grad=grad, check_sizes=False)
    return dispatch.run_nt_xent(Z1, Z2, tau, impl)
