"""Emoji group -> subgroup: two tasks on a label tree, as frozen pretrained features of two modalities.

Every emoji of ``mmtutorial.data.emoji`` (1,914 in all) carries a Unicode group (9 classes, e.g. "Smileys &
Emotion") and a subgroup (98, e.g. "face-smiling"); every subgroup lies under exactly one group, so the two
tasks form a tree. Each emoji is seen as

* an **image**: the colour rendering at 64 px through the frozen ImageNet EfficientNet-Lite0 (1280 numbers),
  reduced to its top ``image_dims`` principal components (fitted on the training split). The full 1280
  standardised features overfit 1,300 training emoji; 128 components train a better and 10x cheaper head;
* a **text**: the emoji's bare name ("grinning face") through the frozen all-MiniLM-L6-v2 (384 numbers). Only
  the name: the course's caption templates name the group or subgroup, which would give the labels away.

Each modality is standardised with the training split's statistics and the two are concatenated.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch

from mmtutorial._validate import check_positive
from mmtutorial.multitask.tree import parent_index
from mmtutorial.multitask.world_tasks import MultiTaskData

MODALITIES = ("image", "text")
IMAGE_DIM = 1280  # EfficientNet-Lite0's pooled feature


@functools.lru_cache(maxsize=2)
def emoji_features(image_size: int = 64) -> dict[str, torch.Tensor]:
    """Frozen features of every emoji in catalogue order, computed once per process (about 20-30 s on one
    CPU core, most of it the two encoders) and cached.

    Returns ``{"image": (N, 1280), "text": (N, 384), "group": (N,) long, "subgroup": (N,) long}`` with
    N = 1914. Do not modify the returned tensors in place: they are the cache.
    """
    from mmtutorial.data.emoji import catalogue, label_names, render
    from mmtutorial.encoders import pretrained_image_encoder, pretrained_text_encoder

    check_positive("image_size", image_size)
    records = catalogue()
    names = label_names()
    pixels = torch.stack(
        [torch.from_numpy(render(r.char, "color", image_size).copy()).permute(2, 0, 1) for r in records]
    )  # uint8 (N, 3, S, S)
    image_encoder, text_encoder = pretrained_image_encoder(image_size), pretrained_text_encoder()
    words = [r.name for r in records]
    order = sorted(range(len(words)), key=lambda i: len(words[i]))  # similar lengths: little padding
    text = torch.empty(len(words), text_encoder.dim)
    with torch.no_grad():  # both encoders are frozen and in eval mode
        image = torch.cat([image_encoder(b).pooled for b in pixels.split(128)])  # (N, 1280)
        for start in range(0, len(order), 256):
            idx = order[start : start + 256]
            text[idx] = text_encoder([words[i] for i in idx]).pooled  # (n, 384), unit vectors
    group_of = {g: i for i, g in enumerate(names["group"])}
    subgroup_of = {s: i for i, s in enumerate(names["subgroup"])}
    return {
        "image": image,
        "text": text,
        "group": torch.tensor([group_of[r.group] for r in records]),
        "subgroup": torch.tensor([subgroup_of[r.subgroup] for r in records]),
    }


def _pca(x: torch.Tensor, train: torch.Tensor, dims: int) -> torch.Tensor:
    """Project ``x (N, D)`` on the top ``dims`` principal axes of ``x[train]``: ``(N, dims)``."""
    mean = x[train].mean(0)
    _, _, vh = torch.linalg.svd((x[train] - mean).double(), full_matrices=False)  # rows of vh: the axes
    return ((x - mean).double() @ vh[:dims].T).float()


def _standardise(x: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    return (x - x[train].mean(0)) / (x[train].std(0) + 1e-6)


def make_emoji_tasks(
    n_test: int = 600,
    seed: int = 0,
    image_dims: int = 128,
    modalities: Sequence[str] = MODALITIES,
    image_size: int = 64,
) -> MultiTaskData:
    """The group/subgroup tasks on emoji features, split at random into train and ``n_test`` test emoji.

    ``seed`` draws the split; ``modalities`` picks ``"image"`` and/or ``"text"``. Returns a
    :class:`~mmtutorial.multitask.world_tasks.MultiTaskData` with ``x[split] (N, D)`` float32 (``D =
    image_dims + 384`` with both), ``labels[split] = {"group", "subgroup"}`` long and ``meta`` holding
    ``"parent"`` ``(98,)`` (the group of each subgroup), ``"label_names"``, ``"names"`` (per split),
    ``"feature_dims"`` and ``"index"`` (per split, rows of the catalogue).
    """
    from mmtutorial.data.emoji import catalogue, label_names

    modalities = tuple(modalities)
    if not modalities or len(set(modalities)) != len(modalities) or not set(modalities) <= set(MODALITIES):
        raise ValueError(f"modalities must be distinct entries of {list(MODALITIES)}, got {list(modalities)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    n = len(catalogue())
    if isinstance(n_test, bool) or not isinstance(n_test, int) or not 0 < n_test < n:
        raise ValueError(f"n_test must be an int in [1, {n - 1}], got {n_test!r}")
    most = min(IMAGE_DIM, n - n_test)  # no more principal axes than training emoji
    if isinstance(image_dims, bool) or not isinstance(image_dims, int) or not 0 < image_dims <= most:
        raise ValueError(f"image_dims must be an int in [1, {most}], got {image_dims!r}")
    feats = emoji_features(image_size)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    split = {"train": order[n_test:], "test": order[:n_test]}
    train = split["train"]
    parts = {
        "image": lambda: _standardise(_pca(feats["image"], train, image_dims), train),
        "text": lambda: _standardise(feats["text"], train),
    }
    blocks = {m: parts[m]() for m in modalities}
    x = torch.cat(list(blocks.values()), dim=1)
    names = label_names()
    task_classes = {"group": len(names["group"]), "subgroup": len(names["subgroup"])}
    parent = parent_index(feats["group"], feats["subgroup"], task_classes["subgroup"])
    words = [r.name for r in catalogue()]
    return MultiTaskData(
        x={s: x[idx] for s, idx in split.items()},
        labels={s: {t: feats[t][idx].clone() for t in task_classes} for s, idx in split.items()},
        task_classes=task_classes,
        meta={
            "parent": parent,
            "label_names": {t: names[t] for t in task_classes},
            "names": {s: [words[i] for i in idx.tolist()] for s, idx in split.items()},
            "feature_dims": {m: b.shape[1] for m, b in blocks.items()},
            "index": split,
        },
    )
