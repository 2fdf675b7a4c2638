"""Real handwritten digits with captions: scikit-learn's bundled UCI digits (1,797 images, 8x8, 10 classes).

A warm-up real data set that needs no download: ``sklearn.datasets.load_digits`` ships it. Each 8x8 image
(ink 0-16) is scaled to [0, 1], upsampled bilinearly to ``size`` x ``size`` and repeated over 3 channels so it
fits the same encoders as the procedural world; each gets a caption such as "a handwritten seven".
Source: E. Alpaydin and C. Kaynak, UCI Optical Recognition of Handwritten Digits (CC BY 4.0).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from mmtutorial._validate import check_positive

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEMPLATES = (
    "a handwritten {word}",
    "the digit {digit}",
    "a handwritten number {word}",
    "a scanned digit {word}",
    "the number {digit} written by hand",
    "a {word}",
)
LICENCE = "CC BY 4.0 (UCI Optical Recognition of Handwritten Digits, via scikit-learn)"


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype(np.float32) / 16.0, bunch.target.astype(np.int64)


def digit_caption(digit: int, rng: np.random.Generator) -> str:
    """A caption for ``digit`` (0-9) from a template chosen with ``rng``."""
    if digit not in range(10):
        raise ValueError(f"digit must be an integer in 0..9, got {digit!r}")
    template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    return template.format(word=DIGIT_NAMES[digit], digit=digit)


class DigitsDataset(Dataset):
    """scikit-learn digits as image-caption pairs, same dict layout as ``ShapesWorld``.

    ``ds[i]`` -> {"image": float32 (3, size, size) in [0, 1] (white ink on black), "caption": str,
    "labels": {"digit": int}}. Item ``i``'s caption is drawn with ``numpy.random.default_rng([seed, i])``.
    ``limit`` keeps the first ``limit`` digits in the bundled order.
    """

    label_names = {"digit": list(DIGIT_NAMES)}

    def __init__(self, size: int = 32, seed: int = 0, limit: int | None = None) -> None:
        check_positive("size", size)
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be an int >= 0 (numpy seeds are non-negative), got {seed!r}")
        if limit is not None:
            check_positive("limit", limit)
        images, targets = _digits()
        self.size, self.seed = size, seed
        self.targets = torch.from_numpy(targets[:limit])
        small = torch.from_numpy(images[:limit]).unsqueeze(1)  # (N, 1, 8, 8)
        big = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
        self.images = big.clamp(0.0, 1.0).expand(-1, 3, -1, -1).contiguous()  # (N, 3, size, size)

    def __len__(self) -> int:
        return len(self.targets)

    def caption(self, i: int) -> str:
        """The caption of item ``i``."""
        return digit_caption(int(self.targets[i]), np.random.default_rng([self.seed, i % len(self)]))

    def __getitem__(self, i: int) -> dict:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} digits")
        return {
            "image": self.images[i],
            "caption": self.caption(i),
            "labels": {"digit": int(self.targets[i])},
        }


# moved to mmtutorial.data.writers (the dataset writers live together); still importable from here
_MOVED = ("write_digits",)


def __getattr__(name: str):
    if name in _MOVED:
        import mmtutorial.data.writers as writers

        return getattr(writers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
