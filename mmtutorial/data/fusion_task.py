"""Benchmark tasks for the fusion modules, built from the procedural world (features, labels, splits).

Two tasks from the procedural world (:class:`mmtutorial.data.ShapesWorld`, one shape per scene):

- ``"match"`` (needs interaction): *does this audio describe this image?* Half the pairs are an image with the
  audio of its own scene (label 1); the other half pair it with the audio of a scene whose shape has a
  different colour (label 0). Each modality alone is uniformly distributed in both classes, so any
  single-modality model is at chance (50%); and the cross-entropy-optimal logit of the form ``f(image) +
  g(audio)`` is a constant (the task is symmetric under relabelling colours and the loss is convex in
  ``(f, g)``), so a trained additive model sits at chance too: the answer lives in the interaction.
- ``"color"`` (a single modality suffices): the colour of the shape (6 classes), from an image and the audio
  of the same scene; either modality alone carries it (colour -> pixels, colour -> pitch).

Features are *stand-in encoders* so that the comparison is about fusion, not about feature learning
(chapter 03 builds real encoders): every attribute value gets a fixed random code per modality, and
tokens follow the world's layout. Image: a 2 x 2 grid of patch tokens; the patch holding the shape's
centre carries ``code[shape] + code[colour] + code[size]``. Audio: ``frames`` frame tokens, all
carrying the tone's ``code[colour] (pitch) + code[shape] (timbre) + code[size] (loudness)``. Every
token gets a position code and Gaussian noise of std ``noise``; pooled = mean of the tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from mmtutorial._validate import check_choice, check_positive
from mmtutorial.data.world import ShapesWorld, WorldConfig
from mmtutorial.types import EncoderOutput

TASKS = ("match", "color")
DEFAULT_DIMS = {"image": 32, "audio": 24}


@dataclass
class FusionTask:
    """A precomputed fusion benchmark: token features per modality and labels, for a train and a test split.

    ``features[split][modality]`` is ``(tokens (N, T, D), mask (N, T))``; ``labels[split]`` is ``(N,)`` long.
    """

    name: str
    n_classes: int
    dims: dict[str, int]
    features: dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]]
    labels: dict[str, torch.Tensor]
    description: str = ""
    meta: dict = field(default_factory=dict)

    def size(self, split: str = "train") -> int:
        return int(self.labels[split].shape[0])

    def inputs(
        self,
        split: str = "test",
        index: torch.Tensor | slice | None = None,
        drop: Iterable[str] = (),
        noise: Mapping[str, float] | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, EncoderOutput | None]:
        """``{modality: EncoderOutput}`` for rows ``index`` of ``split``.

        ``drop``: modalities given as ``None`` (missing). ``noise``: ``{modality: std}`` of extra Gaussian
        noise added to that modality's real tokens (robustness test); pooled is recomputed from the noisy
        tokens.
        """
        check_choice("split", split, tuple(self.features))
        index = slice(None) if index is None else index
        out: dict[str, EncoderOutput | None] = {}
        for m, (tok, mask) in self.features[split].items():
            if m in drop:
                out[m] = None
                continue
            t, k = tok[index], mask[index]
            std = (noise or {}).get(m, 0.0)
            if std > 0:
                t = t + std * torch.randn(t.shape, generator=generator) * k.unsqueeze(-1)
            w = k.unsqueeze(-1).to(t.dtype)
            out[m] = EncoderOutput(t, k, (t * w).sum(1) / w.sum(1).clamp_min(1.0))
        return out


# ------------------------------------------------------------ features
def _codes(names: Sequence[str], dim: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    return {n: torch.randn(dim, generator=g) for n in names}


def world_features(
    world: ShapesWorld,
    image_scenes: Sequence[int],
    audio_scenes: Sequence[int],
    dims: Mapping[str, int] = DEFAULT_DIMS,
    noise: float = 1.0,
    frames: int = 4,
    seed: int = 0,
    noise_seed: int = 0,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Stand-in encoder features: image tokens of ``image_scenes`` and audio tokens of ``audio_scenes``.

    Returns ``{"image": (tokens (N, 4, D_img), mask), "audio": (tokens (N, frames, D_aud), mask)}``.
    The random codes depend only on ``seed`` and the world's vocabularies, so train and test features
    share them; the token noise is drawn from ``noise_seed`` (give each split its own).
    """
    check_positive("noise", noise, allow_zero=True)
    check_positive("frames", frames)
    if len(image_scenes) != len(audio_scenes):
        raise ValueError(
            f"image_scenes and audio_scenes must have the same length, got {len(image_scenes)} "
            f"and {len(audio_scenes)}"
        )
    c = world.config
    g = torch.Generator().manual_seed(10_000 + seed)  # codes: fixed per seed
    di, da = dims["image"], dims["audio"]
    img_code = {**_codes(c.shapes, di, g), **_codes(c.colors, di, g), **_codes(c.sizes, di, g)}
    aud_code = {**_codes(c.shapes, da, g), **_codes(c.colors, da, g), **_codes(c.sizes, da, g)}
    patch_pos = 0.5 * torch.randn(4, di, generator=g)
    frame_pos = 0.5 * torch.randn(frames, da, generator=g)
    n = len(image_scenes)
    img = patch_pos.expand(n, -1, -1).clone()
    aud = frame_pos.expand(n, -1, -1).clone()
    half = c.image_size / 2
    for k, (i, j) in enumerate(zip(image_scenes, audio_scenes, strict=True)):
        s = world.scene(int(i)).main
        patch = 2 * int(s.y >= half) + int(s.x >= half)
        img[k, patch] += img_code[s.shape] + img_code[s.color] + img_code[s.size]
        a = world.scene(int(j)).main
        aud[k] += aud_code[a.color] + aud_code[a.shape] + aud_code[a.size]
    gn = torch.Generator().manual_seed(noise_seed)
    img += noise * torch.randn(img.shape, generator=gn)
    aud += noise * torch.randn(aud.shape, generator=gn)
    return {
        "image": (img, torch.ones(n, 4, dtype=torch.bool)),
        "audio": (aud, torch.ones(n, frames, dtype=torch.bool)),
    }


def make_task(
    kind: str,
    n_train: int = 2000,
    n_test: int = 1000,
    noise: float = 1.0,
    seed: int = 0,
    dims: Mapping[str, int] = DEFAULT_DIMS,
) -> FusionTask:
    """Build the ``"match"`` (needs interaction) or ``"color"`` (one modality suffices) task (module doc).

    ``meta["pairs"][split]`` holds the (image scene, audio scene) indices of every row; ``meta["world"]`` the
    :class:`ShapesWorld` they come from (so a row can be rendered and listened to).
    """
    check_choice("kind", kind, TASKS)
    check_positive("n_train", n_train)
    check_positive("n_test", n_test)
    world = ShapesWorld(WorldConfig(seed=seed, image_size=32, min_shapes=1, max_shapes=1))
    colors = np.array([world.labels(world.scene(i))["color"] for i in range(n_train + n_test)])
    rng = np.random.default_rng(seed)
    features, labels, pairs = {}, {}, {}
    for split_id, (split, lo, hi) in enumerate((("train", 0, n_train), ("test", n_train, n_train + n_test))):
        img = np.arange(lo, hi)
        if kind == "color":
            aud, y = img.copy(), colors[lo:hi]
        else:
            # balanced within every image colour, so the image alone says nothing about the label
            y = np.zeros(hi - lo, dtype=np.int64)
            for c in np.unique(colors[lo:hi]):
                rows = np.flatnonzero(colors[lo:hi] == c)
                y[rows] = rng.permutation(np.arange(len(rows)) % 2)
            aud = img.copy()
            for k in np.flatnonzero(y == 0):  # negatives: audio of a same-split scene with another colour
                while True:
                    j = int(rng.integers(lo, hi))
                    if colors[j] != colors[img[k]]:
                        aud[k] = j
                        break
        pairs[split] = (img, aud)
        features[split] = world_features(
            world, img, aud, dims, noise, seed=seed, noise_seed=1000 * seed + split_id
        )
        labels[split] = torch.as_tensor(y, dtype=torch.long)
    desc = {
        "match": "does this audio describe this image? (1 = same scene, 0 = a shape of another colour)",
        "color": "colour of the shape (6 classes); image and audio of the same scene",
    }[kind]
    return FusionTask(
        kind,
        2 if kind == "match" else len(world.config.colors),
        dict(dims),
        features,
        labels,
        desc,
        meta={
            "noise": noise,
            "seed": seed,
            "colors": list(world.config.colors),
            "pairs": pairs,
            "world": world,
        },
    )
