"""data2vec-style self-distillation (Baevski et al. 2022): pretraining without labels or negatives.

A teacher (an exponential moving average of the student) sees the whole input; the student sees it with
some positions masked and, at the masked positions, regresses the teacher's representation there:

    target_t = mean over the top K layers l of norm(h_l,t)      (teacher, no gradient, unmasked input)
    loss     = mean over masked t of ||head(student(masked x))_t - target_t||²

Each layer is normalised before averaging so no single layer dominates: layer norm (over the features of
each position) or instance norm (over the positions of each feature channel; data2vec's choice for speech,
``instance_norm_target_layer`` in fairseq for images too). Instance norm removes, per input, what all its
positions share. That matters on images with a uniform background: there most patches have the same
representation, layer-normed targets are nearly one shared vector (their spread over positions is ~0.2
against ~1 after instance norm), and the student learns that vector in a few steps and then little else.

The teacher follows ``θ_T <- τ θ_T + (1 - τ) θ_S`` with τ annealed linearly from τ₀ to τₑ
(``get_annealed_rate``, fairseq's data2vec). Averaging layers makes the targets contextual; EMA and
stop-gradient keep them from collapsing to a constant, and if they collapse anyway the target variance
falls to zero: :func:`check_collapse` stops the run and says so, as data2vec does.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mmtutorial._validate import check_choice, check_positive, check_tensor


def get_annealed_rate(start: float, end: float, curr_step: int, total_steps: int) -> float:
    """Linear ramp from ``start`` (step 0) to ``end`` (at ``total_steps`` and after): data2vec's EMA decay."""
    check_positive("total_steps", total_steps)
    if curr_step < 0:
        raise ValueError(f"curr_step must be >= 0, got {curr_step}")
    if curr_step >= total_steps:
        return float(end)
    pct_remaining = 1 - curr_step / total_steps
    return float(end - (end - start) * pct_remaining)


class EMATeacher(nn.Module):
    """A frozen copy of ``student`` that tracks it: ``θ_T <- τ θ_T + (1 - τ) θ_S``, τ annealed linearly.

    ``update(student)`` applies one step and returns the τ used; buffers (e.g. BatchNorm statistics) are
    copied. The teacher's parameters never require grad and it stays in eval mode.
    """

    def __init__(
        self,
        student: nn.Module,
        decay_start: float = 0.999,
        decay_end: float = 0.9999,
        anneal_steps: int = 1000,
    ) -> None:
        super().__init__()
        for name, v in (("decay_start", decay_start), ("decay_end", decay_end)):
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        check_positive("anneal_steps", anneal_steps)
        self.model = copy.deepcopy(student)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.model.eval()
        self.decay_start, self.decay_end, self.anneal_steps = decay_start, decay_end, anneal_steps
        self.num_updates = 0

    def train(self, mode: bool = True) -> EMATeacher:
        """The teacher is always in eval mode (no dropout in the targets)."""
        super().train(mode)
        self.model.eval()
        return self

    def decay(self) -> float:
        """The τ the next :meth:`update` will use."""
        return get_annealed_rate(self.decay_start, self.decay_end, self.num_updates, self.anneal_steps)

    @torch.no_grad()
    def update(self, student: nn.Module) -> float:
        tau = self.decay()
        teacher = dict(self.model.named_parameters())
        for name, p in student.named_parameters():
            if name not in teacher:
                raise ValueError(f"student has parameter {name!r} that the teacher lacks")
            teacher[name].lerp_(p.detach(), 1.0 - tau)  # t + (1 - tau) (s - t) = tau t + (1 - tau) s
        t_buffers = dict(self.model.named_buffers())
        for name, b in student.named_buffers():
            t_buffers[name].copy_(b)
        self.num_updates += 1
        return tau

    def forward(self, *args, **kwargs):
        with torch.no_grad():
            return self.model(*args, **kwargs)


def layer_targets(layer_outputs: Sequence[torch.Tensor], top_k: int, norm: str = "layer") -> torch.Tensor:
    """Average of the last ``top_k`` layer outputs (each ``(B, T, D)``), each normalised first: ``(B, T, D)``.

    ``norm="layer"``: over the features of each position (data2vec for images and text); ``"instance"``:
    over the positions of each feature channel (data2vec for audio). Returned detached.
    """
    check_choice("norm", norm, ("layer", "instance"))
    if not layer_outputs:
        raise ValueError("layer_outputs must hold at least one (B, T, D) tensor, got none")
    if not isinstance(top_k, int) or not 1 <= top_k <= len(layer_outputs):
        raise ValueError(f"top_k must be an int in [1, {len(layer_outputs)}], got {top_k!r}")
    outs = []
    for h in layer_outputs[-top_k:]:
        h = check_tensor("layer_outputs[i]", h, ndim=3, floating=True).detach().float()
        if norm == "layer":
            outs.append(F.layer_norm(h, h.shape[-1:]))
        else:
            outs.append(F.instance_norm(h.transpose(1, 2)).transpose(1, 2))
    return torch.stack(outs).mean(0)


def random_token_mask(
    batch: int, tokens: int, ratio: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Bool ``(batch, tokens)``, True = masked; exactly ``round(ratio * tokens)`` (at least 1) per row."""
    check_positive("batch", batch)
    check_positive("tokens", tokens)
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    k = max(1, round(ratio * tokens))
    order = torch.rand(batch, tokens, generator=generator).argsort(dim=1)
    return order < k  # a random k of the positions in each row (ranks below k)


def masked_regression_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """MSE at the masked positions: ``pred``, ``target`` ``(B, T, D)``; ``mask`` bool ``(B, T)``."""
    check_tensor("pred", pred, ndim=3, floating=True)
    check_tensor("target", target, shape=tuple(pred.shape), floating=True)
    check_tensor("mask", mask, shape=tuple(pred.shape[:2]), dtype=torch.bool)
    if not bool(mask.any()):
        raise ValueError("mask must select at least one position, got none")
    return F.mse_loss(pred[mask], target[mask].to(pred.dtype))


def token_std(x: torch.Tensor) -> float:
    """data2vec's ``compute_var``: the std of each feature over all positions, averaged over features."""
    x = x.detach().float().reshape(-1, x.shape[-1])
    return float(torch.sqrt(x.var(dim=0) + 1e-6).mean())


class CollapseError(RuntimeError):
    """The teacher's targets (or the student's predictions) stopped varying: representation collapse."""


def check_collapse(
    targets: torch.Tensor,
    preds: torch.Tensor | None = None,
    min_target_std: float = 0.1,
    min_pred_std: float = 0.01,
) -> float:
    """Raise :class:`CollapseError` if :func:`token_std` of ``targets`` is below ``min_target_std`` (or that
    of ``preds`` below ``min_pred_std``), as data2vec stops a run; else return the target std."""
    t = token_std(targets)
    if t < min_target_std:
        raise CollapseError(
            f"target std {t:.4g} < {min_target_std}: the teacher's targets collapsed; stopping"
        )
    if preds is not None and (p := token_std(preds)) < min_pred_std:
        raise CollapseError(f"prediction std {p:.4g} < {min_pred_std}: the student collapsed; stopping")
    return t


def vit_layer_outputs(
    vit: nn.Module,
    images: torch.Tensor,
    mask: torch.Tensor | None = None,
    mask_token: torch.Tensor | None = None,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Run an ``ImageViT`` block by block: ``([block output (B, 1+N, D)] * depth, final tokens (B, 1+N, D))``.

    Where ``mask`` ``(B, N)`` is True, the patch embedding is replaced by ``mask_token`` ``(D,)`` before the
    positions are added (BEiT / data2vec masking); slot 0 is the class token.
    """
    patches = vit.patch_embedding(images)  # (B, N, D)
    if mask is not None:
        if mask_token is None:
            raise ValueError("mask_token is needed when mask is given")
        check_tensor("mask", mask, shape=tuple(patches.shape[:2]), dtype=torch.bool)
        patches = torch.where(mask[..., None], mask_token.to(patches.dtype), patches)
    x = torch.cat([vit.cls.expand(images.shape[0], -1, -1), patches], dim=1) + vit.position
    outs = []
    for block in vit.transformer.blocks:
        x = block(x)
        outs.append(x)
    return outs, vit.transformer.norm(x)


class Data2VecViT(nn.Module):
    """data2vec for an ``ImageViT`` student: mask patches, predict the teacher's top-K average there.

    ``loss(images, generator) -> (loss, stats)`` with stats ``{"target_std", "pred_std", "tau"}``; call
    ``update_teacher()`` after each optimizer step. ``target_norm`` normalises each of the teacher's top-K
    layers before averaging (:func:`layer_targets`): ``"instance"`` (default) over the patches of each image,
    ``"layer"`` over the features of each patch. Raises :class:`CollapseError` when the targets' spread over
    positions falls below ``min_target_std`` (data2vec's 0.1 by default). With instance norm a teacher that
    gives every patch the same vector yields all-zero targets, so collapse still shows as a spread near 0;
    with layer norm, images with large uniform backgrounds sit near 0.2 without collapsing, so set the floor
    from the spread at the start of a run.
    """

    def __init__(
        self,
        vit: nn.Module,
        top_k: int = 2,
        mask_ratio: float = 0.5,
        decay_start: float = 0.99,
        decay_end: float = 0.999,
        anneal_steps: int = 300,
        min_target_std: float = 0.1,
        min_pred_std: float = 0.01,
        target_norm: str = "instance",
    ) -> None:
        super().__init__()
        depth = len(vit.transformer.blocks)
        if not 1 <= top_k <= depth:
            raise ValueError(f"top_k must be in [1, {depth}] (the ViT's depth), got {top_k}")
        check_choice("target_norm", target_norm, ("layer", "instance"))
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
        self.student, self.top_k, self.mask_ratio = vit, top_k, mask_ratio
        self.target_norm = target_norm
        self.min_target_std, self.min_pred_std = min_target_std, min_pred_std
        self.mask_token = nn.Parameter(torch.zeros(vit.dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.regression_head = nn.Linear(vit.dim, vit.dim)
        self.teacher = EMATeacher(vit, decay_start, decay_end, anneal_steps)

    def loss(
        self, images: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict]:
        with torch.no_grad():
            layers, _ = vit_layer_outputs(self.teacher.model, images)
            # patches only (slot 0 is the class token): (B, N, D)
            targets = layer_targets([h[:, 1:] for h in layers], self.top_k, self.target_norm)
        b, n = targets.shape[:2]
        mask = random_token_mask(b, n, self.mask_ratio, generator).to(images.device)
        _, final = vit_layer_outputs(self.student, images, mask, self.mask_token)
        pred = self.regression_head(final[:, 1:])
        target_std = check_collapse(targets, pred, self.min_target_std, self.min_pred_std)
        stats = {"target_std": target_std, "pred_std": token_std(pred), "tau": self.teacher.decay()}
        return masked_regression_loss(pred, targets, mask), stats

    def update_teacher(self) -> float:
        return self.teacher.update(self.student)
