"""How does a model break? Corrupted images, adversarial attacks on retrieval, missing modalities.

- **Common corruptions** (Hendrycks & Dietterich 2019): Gaussian pixel noise ``x + sigma * eps`` (clipped to
  [0, 1]) and Gaussian blur (``torchvision.transforms.v2.functional.gaussian_blur``), at growing levels;
  :func:`corruption_curve` gives the accuracy at each level.
- **Adversarial attacks on retrieval**: an image query is scored against a gallery of embeddings,
  ``logits = s * f(x) @ G^T``; its loss is the cross-entropy with its true gallery item ``t``. FGSM
  (Goodfellow et al. 2015) takes one step ``x' = clip(x + eps * sign(d loss / d x))``; PGD (Madry et al.
  2018) starts at a random point of the ``L_inf`` ball and takes ``steps`` steps of ``step_size``, projecting
  back onto ``|x' - x|_inf <= eps`` and the valid pixel range after each.
- **Missing modality**: :func:`with_missing` hands a fusion model ``None`` for the modalities it loses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

from mmtutorial._validate import check_choice, check_positive, check_tensor
from mmtutorial.eval.retrieval import positives_from_labels, recall_at_k

CORRUPTIONS = ("noise", "blur")
Encoder = Callable[[torch.Tensor], torch.Tensor]


def corrupt(images: torch.Tensor, kind: str, level: float, seed: int = 0) -> torch.Tensor:
    """``(B, C, H, W)`` in [0, 1] -> the same shape, corrupted; ``level`` 0 returns ``images`` unchanged.

    ``kind="noise"``: add Gaussian noise of std ``level`` (seeded by ``seed``), clip to [0, 1].
    ``kind="blur"``: Gaussian blur of std ``level`` pixels, kernel side ``2 * ceil(3 * level) + 1``.
    """
    check_tensor("images", images, ndim=4, floating=True, finite=True)
    check_choice("kind", kind, CORRUPTIONS)
    check_positive("level", level, allow_zero=True)
    if level == 0:
        return images
    if kind == "noise":
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(images.shape, generator=g, dtype=images.dtype).to(images.device)
        return (images + level * noise).clamp(0.0, 1.0)
    side = 2 * math.ceil(3 * level) + 1
    return TF.gaussian_blur(images, kernel_size=[side, side], sigma=[float(level), float(level)])


@torch.no_grad()
def corruption_curve(
    predict: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    labels: torch.Tensor,
    kind: str,
    levels: Sequence[float],
    seed: int = 0,
) -> list[float]:
    """Accuracy of ``predict`` (``(B, C, H, W)`` -> logits ``(B, K)``) at each corruption level, in order."""
    check_tensor("labels", labels, shape=(images.shape[0],))
    if len(levels) == 0:
        raise ValueError("levels must hold at least one level, got none")
    return [
        float((predict(corrupt(images, kind, lv, seed)).argmax(-1) == labels).float().mean()) for lv in levels
    ]


def _check_retrieval(images: torch.Tensor, gallery: torch.Tensor, targets: torch.Tensor, eps: float) -> None:
    check_tensor("images", images, floating=True, finite=True)
    check_tensor("gallery", gallery, ndim=2, floating=True, finite=True)
    check_tensor("targets", targets, shape=(images.shape[0],), dtype=torch.int64)
    if targets.numel() and not (0 <= int(targets.min()) and int(targets.max()) < gallery.shape[0]):
        raise ValueError(f"targets must index the gallery's {gallery.shape[0]} rows, got {targets.tolist()}")
    check_positive("eps", eps, allow_zero=True)


def retrieval_loss(
    encode: Encoder, images: torch.Tensor, gallery: torch.Tensor, targets: torch.Tensor, scale: float = 10.0
) -> torch.Tensor:
    """Mean cross-entropy of ``scale * encode(images) @ gallery.T`` ``(B, G)`` with true items ``targets``.

    ``encode`` maps images ``(B, ...)`` to L2-normalised embeddings ``(B, E)``; ``gallery`` is ``(G, E)``.
    This is what an attack raises.
    """
    return F.cross_entropy(scale * encode(images) @ gallery.T, targets)


def fgsm(
    encode: Encoder,
    images: torch.Tensor,
    gallery: torch.Tensor,
    targets: torch.Tensor,
    eps: float,
    scale: float = 10.0,
) -> torch.Tensor:
    """Fast gradient sign attack: ``clip(x + eps * sign(d loss / d x), 0, 1)`` for the retrieval loss.

    ``images`` ``(B, C, H, W)`` in [0, 1], ``gallery`` ``(G, E)``, ``targets`` ``(B,)`` long: the index of
    each image's true gallery item. Returns adversarial images of the same shape, ``|x' - x|_inf <= eps``.
    """
    _check_retrieval(images, gallery, targets, eps)
    x = images.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(retrieval_loss(encode, x, gallery, targets, scale), x)
    return (images + eps * grad.sign()).clamp(0.0, 1.0).detach()


def pgd(
    encode: Encoder,
    images: torch.Tensor,
    gallery: torch.Tensor,
    targets: torch.Tensor,
    eps: float,
    step_size: float | None = None,
    steps: int = 10,
    scale: float = 10.0,
    seed: int = 0,
) -> torch.Tensor:
    """Projected gradient descent (on the negative loss) in the ``L_inf`` ball of radius ``eps``.

    Random start uniform in the ball; ``steps`` sign-gradient steps of ``step_size`` (default ``2.5 * eps /
    steps``, Madry et al.), each followed by projection onto the ball and onto [0, 1]. Shapes as :func:`fgsm`.
    """
    _check_retrieval(images, gallery, targets, eps)
    check_positive("steps", steps)
    step_size = 2.5 * eps / steps if step_size is None else step_size
    check_positive("step_size", step_size, allow_zero=True)
    g = torch.Generator().manual_seed(seed)
    start = (torch.rand(images.shape, generator=g, dtype=images.dtype) * 2 - 1).to(images.device)
    x = (images + eps * start).clamp(0.0, 1.0).detach()
    for _ in range(steps):
        x.requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(retrieval_loss(encode, x, gallery, targets, scale), x)
        x = x.detach() + step_size * grad.sign()
        x = torch.minimum(torch.maximum(x, images - eps), images + eps).clamp(0.0, 1.0)
    return x.detach()


def retrieval_recall(scores: torch.Tensor, targets: torch.Tensor, k: int = 1) -> float:
    """Share of queries whose true item ``targets[q]`` is among the ``k`` highest of ``scores[q]`` ``(Q, G)``.

    One positive per query: :func:`mmtutorial.eval.recall_at_k` with ``positives[q, targets[q]] = True``
    (ties broken by gallery index, the lower index ranking first).
    """
    check_tensor("scores", scores, ndim=2, floating=True, finite=True)
    check_tensor("targets", targets, shape=(scores.shape[0],), dtype=torch.int64)
    check_positive("k", k)
    if scores.shape[0] == 0 or not 1 <= k <= scores.shape[1]:
        raise ValueError(f"scores must be non-empty with at least k={k} columns, got {tuple(scores.shape)}")
    if targets.min() < 0 or targets.max() >= scores.shape[1]:
        raise ValueError(
            f"targets must index the gallery's {scores.shape[1]} columns, "
            f"got values in [{int(targets.min())}, {int(targets.max())}]"
        )
    return recall_at_k(scores, positives_from_labels(targets, torch.arange(scores.shape[1])), k)


def with_missing(inputs: Mapping[str, object], missing: Iterable[str]) -> dict[str, object]:
    """A copy of ``{modality: EncoderOutput}`` with every modality in ``missing`` set to ``None``."""
    missing = tuple(missing)
    for m in missing:
        check_choice("missing entry", m, tuple(inputs))
    if len(set(missing)) == len(inputs):
        raise ValueError(f"missing must leave at least one of {list(inputs)} present, got {list(missing)}")
    return {m: (None if m in missing else x) for m, x in inputs.items()}
