"""Augmentations that make two views of one sample for contrastive learning (SimCLR's step 1).

Images use ``torchvision.transforms.v2``; audio uses SpecAugment-style time and frequency masking from
``torchaudio.transforms`` on a log-mel spectrogram. Note for captioned data: a horizontal flip swaps
"left of" and "right of" and hue jitter changes colour words, so the image recipe leaves both off by
default (``flip=True`` turns flips on for image-only training).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchaudio.transforms as AT
from torchvision.transforms import v2

from mmtutorial._validate import check_positive, check_tensor


def image_views_transform(
    size: int, *, min_scale: float = 0.4, flip: bool = False, jitter: float = 0.4
) -> v2.Compose:
    """SimCLR-style image augmentation for ``(3, H, W)`` or ``(B, 3, H, W)`` float tensors in [0, 1].

    Random resized crop (area ``min_scale`` to 1) back to ``size``, optional horizontal flip, brightness /
    contrast / saturation jitter of strength ``jitter`` (no hue change), and a light Gaussian blur.
    """
    check_positive("size", size)
    ops: list = [v2.RandomResizedCrop(size, scale=(min_scale, 1.0), antialias=True)]
    if flip:
        ops.append(v2.RandomHorizontalFlip())
    if jitter > 0:
        ops.append(v2.RandomApply([v2.ColorJitter(jitter, jitter, jitter)], p=0.8))
    ops.append(v2.RandomApply([v2.GaussianBlur(3, sigma=(0.1, 1.0))], p=0.3))
    return v2.Compose(ops)


class SpecAugment(torch.nn.Module):
    """Time and frequency masking of a spectrogram ``(..., n_mels, frames)`` (Park et al., 2019).

    ``n_masks`` masks of each kind, up to ``freq_width`` mel bins and ``time_width`` frames wide; each item of
    a batch ``(B, n_mels, frames)`` gets its own masks.
    """

    def __init__(self, freq_width: int = 8, time_width: int = 10, n_masks: int = 2) -> None:
        super().__init__()
        check_positive("freq_width", freq_width)
        check_positive("time_width", time_width)
        check_positive("n_masks", n_masks)
        self.freq = AT.FrequencyMasking(freq_width, iid_masks=True)
        self.time = AT.TimeMasking(time_width, iid_masks=True)
        self.n_masks = n_masks

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        check_tensor("spec", spec, floating=True)
        if spec.ndim not in (2, 3):
            raise ValueError(
                f"spec must be (n_mels, frames) or (B, n_mels, frames), got shape {tuple(spec.shape)}"
            )
        x = spec.unsqueeze(0) if spec.ndim == 2 else spec
        x = x.unsqueeze(1)  # (B, 1, n_mels, frames): iid masks need a channel dim
        for _ in range(self.n_masks):
            x = self.time(self.freq(x))
        x = x.squeeze(1)
        return x[0] if spec.ndim == 2 else x


def two_views(
    transform: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two independent augmentations of the same input (per item when ``x`` is a batch)."""
    if (
        isinstance(transform, v2.Transform | v2.Compose) and x.ndim == 4
    ):  # v2 draws one set of params per call
        return torch.stack([transform(xi) for xi in x]), torch.stack([transform(xi) for xi in x])
    return transform(x), transform(x)
