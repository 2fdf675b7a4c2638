"""Where does a model look? Gradient saliency, Grad-CAM, cross-attention maps, and the pointing game.

Written from scratch because the mechanism is the lesson; ``tests/test_eval_interpret.py`` checks them against
captum (``captum.attr.Saliency``, ``captum.attr.LayerGradCam``), the field's library.

- **Saliency** (Simonyan et al. 2014): ``|d y_c / d x|``, the gradient of the target logit ``y_c`` with
  respect to every input pixel. Shape ``(B, C, H, W)``, as the input; ``.amax(1)`` gives one map per image.
- **Grad-CAM** (Selvaraju et al. 2017): for a layer with activations ``A`` ``(B, K, h, w)``,
  ``alpha_k = mean_{ij} d y_c / d A_kij`` (one weight per channel), ``cam = ReLU(sum_k alpha_k A_k)``
  ``(B, h, w)``; coarse (the layer's resolution), upsampled to the image to be overlaid.
- **Cross-attention maps**: the softmax weights a :class:`~mmtutorial.fusion.CrossAttention` puts on the other
  modalities' tokens, averaged over heads, recomputed from the module's own parameters.
- **Pointing game** (Zhang et al. 2016): a map *hits* when its maximum lies on the object (within
  ``tolerance`` pixels); the score is the hit rate. A uniformly random point hits with probability equal to
  the object's area fraction: that is the chance level.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from mmtutorial._validate import check_positive, check_tensor
from mmtutorial.fusion.attention import CrossAttention
from mmtutorial.fusion.base import safe_key_padding_mask
from mmtutorial.types import EncoderOutput

Model = Callable[[torch.Tensor], torch.Tensor]


def _targets(target: int | torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``target`` as a ``(B,)`` long tensor of valid class indices for ``logits`` ``(B, K)``."""
    if logits.ndim != 2:
        raise ValueError(f"model must return logits of shape (B, K), got {tuple(logits.shape)}")
    b, k = logits.shape
    if isinstance(target, int):
        target = torch.full((b,), target, dtype=torch.long, device=logits.device)
    check_tensor("target", target, shape=(b,))
    if (
        target.dtype not in (torch.int64, torch.int32)
        or target.numel()
        and not (0 <= int(target.min()) and int(target.max()) < k)
    ):
        raise ValueError(f"target must hold class indices in [0, {k}), got {target.tolist()}")
    return target.long().to(logits.device)


def _selected(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    # sum of the chosen logit of every row: its gradient w.r.t. row b's input is d y_{b, c_b} / d x_b,
    # since rows do not interact (true for models in eval mode; BatchNorm in train mode would mix them)
    return logits.gather(1, target[:, None]).sum()


def saliency(model: Model, inputs: torch.Tensor, target: int | torch.Tensor) -> torch.Tensor:
    """Gradient saliency ``|d y_target / d inputs|``: ``(B, ...)`` -> ``(B, ...)`` (same shape as ``inputs``).

    ``model`` maps ``inputs`` ``(B, ...)`` to logits ``(B, K)`` (put it in eval mode first); ``target`` is one
    class for all rows or a ``(B,)`` tensor of classes. Equals ``captum.attr.Saliency(model).attribute``.
    """
    check_tensor("inputs", inputs, floating=True, finite=True)
    x = inputs.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        (grad,) = torch.autograd.grad(_selected(logits, _targets(target, logits)), x)
    return grad.abs()


def grad_cam(
    model: Model, layer: nn.Module, inputs: torch.Tensor, target: int | torch.Tensor, relu: bool = True
) -> torch.Tensor:
    """Grad-CAM of ``layer`` (output ``(B, K, h, w)``) for class ``target``: ``(B, h, w)``.

    ``cam = ReLU(sum_k alpha_k A_k)``, ``alpha_k = mean_{ij} dy/dA_kij``. With ``relu=False`` the signed map
    (captum's ``LayerGradCam`` default). Equals ``LayerGradCam(model, layer).attribute(...)[:, 0]``.
    """
    check_tensor("inputs", inputs, floating=True, finite=True)
    if not isinstance(layer, nn.Module):
        raise ValueError(f"layer must be an nn.Module inside model, got {type(layer).__name__}")
    seen: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: seen.append(out))
    try:
        with torch.enable_grad():
            x = inputs.detach().clone().requires_grad_(True)  # so the graph reaches the layer even if frozen
            logits = model(x)
            if len(seen) != 1:
                raise ValueError(f"layer must run exactly once in model's forward, it ran {len(seen)} times")
            acts = seen[0]
            if not isinstance(acts, torch.Tensor) or acts.ndim != 4:
                got = tuple(acts.shape) if isinstance(acts, torch.Tensor) else type(acts).__name__
                raise ValueError(f"layer must output a (B, K, h, w) feature map, got {got}")
            (grads,) = torch.autograd.grad(_selected(logits, _targets(target, logits)), acts)
    finally:
        handle.remove()
    alpha = grads.mean(dim=(2, 3), keepdim=True)  # (B, K, 1, 1): one weight per channel
    cam = (alpha * acts.detach()).sum(dim=1)  # (B, h, w)
    return F.relu(cam) if relu else cam


def upsample_map(maps: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of coarse maps ``(B, h, w)`` to ``(B, H, W)`` (to overlay Grad-CAM on images)."""
    check_tensor("maps", maps, ndim=3, floating=True)
    size = (size, size) if isinstance(size, int) else tuple(size)
    return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


@torch.no_grad()
def cross_attention_maps(
    fusion: CrossAttention, inputs: dict[str, EncoderOutput | None], query: str
) -> dict[str, torch.Tensor]:
    """Attention of modality ``query``'s tokens on every other modality's tokens, averaged over heads.

    Returns ``{modality: (B, T_query, T_modality)}``; for each query token the weights over all context tokens
    sum to 1 (padding gets 0). Recomputes exactly what ``fusion`` computes in its forward pass.
    """
    if not isinstance(fusion, CrossAttention):
        raise ValueError(f"fusion must be a CrossAttention module, got {type(fusion).__name__}")
    full, batch = fusion.check_inputs(inputs)
    if query not in fusion.modalities:
        raise ValueError(f"query must be one of {list(fusion.modalities)}, got {query!r}")
    proj = {}
    for m in fusion.modalities:
        tok, mask = fusion.tokens(full, m, batch)
        proj[m] = (fusion.proj[m](tok), mask)
    others = [n for n in fusion.modalities if n != query] or [query]
    ctx = torch.cat([proj[n][0] for n in others], dim=1)
    ctx_mask = torch.cat([proj[n][1] for n in others], dim=1)
    _, w = fusion.attn[query](
        proj[query][0],
        ctx,
        ctx,
        key_padding_mask=safe_key_padding_mask(ctx_mask),
        need_weights=True,
        average_attn_weights=True,
    )  # (B, T_query, T_ctx)
    out, start = {}, 0
    for n in others:
        t = proj[n][0].shape[1]
        out[n] = w[:, :, start : start + t]
        start += t
    return out


def _dilate(masks: torch.Tensor, tolerance: int) -> torch.Tensor:
    if tolerance == 0:
        return masks
    k = 2 * tolerance + 1  # a square of side 2 * tolerance + 1 pixels around every mask pixel
    return F.max_pool2d(masks[:, None].float(), k, stride=1, padding=tolerance)[:, 0] > 0


def _check_maps_masks(maps: torch.Tensor, masks: torch.Tensor, tolerance: int) -> None:
    check_tensor("maps", maps, ndim=3, floating=True, finite=True)
    check_tensor("masks", masks, shape=tuple(maps.shape), dtype=torch.bool)
    check_positive("tolerance", tolerance, allow_zero=True)
    if maps.shape[0] == 0:
        raise ValueError("maps must hold at least one map, got batch size 0")
    empty = (~masks.flatten(1).any(dim=1)).nonzero().flatten()
    if len(empty):
        raise ValueError(f"masks must mark at least one pixel per row, rows {empty.tolist()} are empty")


def pointing_game(maps: torch.Tensor, masks: torch.Tensor, tolerance: int = 0) -> torch.Tensor:
    """Hits ``(B,)`` bool: the maximum of ``maps[b]`` ``(H, W)`` lies within ``tolerance`` px of ``masks[b]``.

    Ties: the first maximum in row-major order. The mean of the result is the pointing-game accuracy.
    """
    _check_maps_masks(maps, masks, tolerance)
    b, h, w = maps.shape
    peak = maps.flatten(1).argmax(dim=1)  # first maximum
    return _dilate(masks, tolerance).flatten(1)[torch.arange(b), peak]


def pointing_chance(masks: torch.Tensor, tolerance: int = 0) -> float:
    """Pointing-game accuracy of a uniformly random point: the mean (dilated) area fraction of ``masks``."""
    check_tensor("masks", masks, ndim=3, dtype=torch.bool)
    check_positive("tolerance", tolerance, allow_zero=True)
    return float(_dilate(masks, tolerance).float().mean())
