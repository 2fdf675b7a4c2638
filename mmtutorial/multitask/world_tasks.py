"""A multimodal multi-task problem from the procedural world, as precomputed features (fast on a CPU).

Each scene (1-3 shapes) is rendered as a 32 x 32 image and 0.5 s of audio at 8 kHz. Fixed feature
extractors, no learning: the image average-pooled to 8 x 8 x 3 (192 numbers) and the log-magnitude
spectrogram of the audio pooled to 16 frequency x 8 time bins (128); the 320 features are standardised with
the training split's statistics.

Tasks, all about the **leftmost** shape (the first tone in the audio) or the whole scene:

* ``shape`` (5 classes) and ``color`` (6): image, or the first tone's timbre and pitch;
* ``count`` (1-3 shapes, 3 classes): image, or the number of tones;
* ``relation`` (2): is the leftmost shape higher in the image than the rightmost one? Only the image
  knows, and it is *undefined* for one-shape scenes: those samples carry ``MISSING`` (-1), a per-sample
  task mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from mmtutorial._validate import check_positive
from mmtutorial.data.world import ShapesWorld, WorldConfig
from mmtutorial.multitask.losses import MISSING

TASK_CLASSES = {"shape": 5, "color": 6, "count": 3, "relation": 2}


@dataclass
class MultiTaskData:
    """Features ``x[split] (N, D)`` float32 (D = 320 here; the emoji tasks reuse it) and ``labels[split]
    {task: long (N,)}`` (-1 = missing)."""

    x: dict[str, torch.Tensor]
    labels: dict[str, dict[str, torch.Tensor]]
    task_classes: dict[str, int]
    meta: dict = field(default_factory=dict)


def _audio_features(audio: np.ndarray) -> np.ndarray:
    """``(N, L)`` audio -> ``(N, 128)`` log-magnitude STFT pooled to 16 frequency x 8 time bins."""
    wave = torch.from_numpy(audio)
    spec = torch.stft(
        wave, n_fft=256, hop_length=128, window=torch.hann_window(256), return_complex=True
    ).abs()
    spec = torch.log1p(10 * spec)  # (N, 129, frames)
    pooled = F.adaptive_avg_pool2d(spec[:, 1:].unsqueeze(1), (16, 8))  # (N, 1, 16, 8)
    return pooled.flatten(1).numpy()


def _labels(world: ShapesWorld, i: int) -> dict[str, int]:
    scene = world.scene(i)
    order = scene.left_to_right()
    left, right = order[0], order[-1]
    c = world.config
    return {
        "shape": c.shapes.index(left.shape),
        "color": c.colors.index(left.color),
        "count": len(order) - 1,
        "relation": MISSING if len(order) == 1 else int(left.y < right.y),
    }


def make_world_tasks(n_train: int = 2000, n_test: int = 1000, seed: int = 0) -> MultiTaskData:
    """Render ``n_train + n_test`` scenes (a few seconds) and build the features and labels described
    above."""
    check_positive("n_train", n_train)
    check_positive("n_test", n_test)
    cfg = WorldConfig(
        seed=seed,
        image_size=32,
        max_shapes=3,
        sample_rate=8000,
        audio_seconds=0.5,
        sizes=("small", "large"),
        length=n_train + n_test,
        split="all",
    )
    world = ShapesWorld(cfg)
    n = n_train + n_test
    images, audio, labels = [], [], []
    for i in range(n):
        a = world.arrays(i, ("image", "audio"))
        images.append(a["image"])
        audio.append(a["audio"])
        labels.append(_labels(world, i))
    img = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
    img = F.avg_pool2d(img, 4).flatten(1).numpy()  # (N, 3 * 8 * 8)
    feats = np.concatenate([img, _audio_features(np.stack(audio))], axis=1).astype(np.float32)
    mean, std = feats[:n_train].mean(0), feats[:n_train].std(0) + 1e-6
    feats = (feats - mean) / std
    x = torch.from_numpy(feats)
    y = {t: torch.tensor([lab[t] for lab in labels], dtype=torch.long) for t in TASK_CLASSES}
    split = {"train": slice(0, n_train), "test": slice(n_train, n)}
    return MultiTaskData(
        x={s: x[sl] for s, sl in split.items()},
        labels={s: {t: v[sl] for t, v in y.items()} for s, sl in split.items()},
        task_classes=dict(TASK_CLASSES),
        meta={
            "world": world,
            "feature_dims": {"image": img.shape[1], "audio": feats.shape[1] - img.shape[1]},
        },
    )
