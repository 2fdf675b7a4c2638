"""The procedural multimodal world: one random scene, four modalities that agree with each other.

A *scene* is 1-3 coloured shapes on a black canvas, plus one motion for the whole scene. From it we render

* an **image**  ``uint8 (H, W, 3)``: each shape pasted from a mask precomputed per (shape, pixel size);
* a **caption** in English, drawn from several templates and paraphrases (seeded per sample; see
  :mod:`mmtutorial.data.captions`);
* **audio** ``float32 (L,)`` at 16 kHz: one tone per shape, left-to-right in time order, where
  colour -> pitch (fundamental frequency), shape -> timbre (harmonic recipe), size -> loudness;
* **video** ``uint8 (T, H, W, 3)``: frame 0 is the image, then every shape moves as ``scene.motion`` says.

The vocabularies (``PALETTE``, ``PITCH_HZ``, ...) live in :mod:`mmtutorial.data.vocabulary`.

Determinism: scene ``i`` depends only on ``(config, i)``. Every random draw for it comes from a numpy
``Generator`` seeded with ``SeedSequence([seed, i, split, stream])``, so the same seed and index give the same
bytes on every machine, and samples can be produced in any order or in parallel.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy import ndimage

from mmtutorial._validate import check_choice, check_positive
from mmtutorial.data.captions import _ALL_TEMPLATE_TEXT, _caption, caption_shapes
from mmtutorial.data.tensors import collate, to_float_tensor
from mmtutorial.data.vocabulary import (
    ALL_MOTIONS,
    ALL_SHAPES,
    HARMONICS,
    LOUDNESS,
    MOTION_VECTOR,
    NUMBER_WORDS,
    PALETTE,
    PITCH_HZ,
    SIZE_FRACTION,
    SIZE_WORDS,
)

GENERATOR_VERSION = "2"  # 2: crowded scenes are redrawn, never shrunk or trimmed

_PLACE_RETRIES = 500  # 4 large moving shapes in 64 px fit in ~5% of random draws: retry plenty
MOTION_FRACTION = 0.2  # a moving shape travels this fraction of the image side from first to last frame
MAX_SAMPLE_BYTES = 256 * 2**20  # one sample's image + video + audio; 64 px with 8 frames is ~0.2 MiB
_SPLIT_CODE = {"all": 0, "train": 0, "test": 1}
_IMAGE_NOISE, _AUDIO_NOISE, _VIDEO_NOISE = 2, 3, 4  # separate streams for noise, used only if noise > 0


@dataclass(frozen=True)
class WorldConfig:
    """Every control of the world. Frozen and hashable, so it can key caches.

    ``noise`` is the std of Gaussian noise added to pixels (on the [0, 1] scale) and to audio samples.
    ``holdout`` lists attribute combinations, e.g. ``(("red", "star"),)``: a shape whose (shape, colour, size)
    contains all values of a combination never appears with ``split="train"``; every ``split="test"`` scene
    contains at least one such shape; ``split="all"`` ignores the holdout.
    """

    seed: int = 0
    image_size: int = 64
    min_shapes: int = 1
    max_shapes: int = 3
    n_frames: int = 8
    sample_rate: int = 16000
    audio_seconds: float = 1.0
    noise: float = 0.0
    shapes: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross")
    colors: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange")
    sizes: tuple[str, ...] = ("small", "large")
    motions: tuple[str, ...] = ALL_MOTIONS
    holdout: tuple[tuple[str, ...], ...] = ()
    split: str = "train"
    length: int = 10_000

    def __post_init__(self) -> None:
        # accept lists for convenience, store tuples so the config stays hashable
        for name in ("shapes", "colors", "sizes", "motions"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "holdout", tuple(tuple(c) for c in self.holdout))
        if not isinstance(self.seed, numbers.Integral) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0 (numpy seeds are non-negative), got {self.seed!r}")
        for name in ("image_size", "min_shapes", "max_shapes", "n_frames", "sample_rate", "length"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise ValueError(f"{name} must be an int, got {value!r}")
        check_positive("image_size", self.image_size)
        if self.image_size < 16:
            raise ValueError(f"image_size must be at least 16, got {self.image_size}")
        check_positive("min_shapes", self.min_shapes)
        if not self.min_shapes <= self.max_shapes <= 4:
            raise ValueError(
                f"max_shapes must be in [min_shapes={self.min_shapes}, 4], got {self.max_shapes}"
            )
        check_positive("n_frames", self.n_frames)
        check_positive("sample_rate", self.sample_rate)
        check_positive("audio_seconds", self.audio_seconds)
        check_positive("noise", self.noise, allow_zero=True)
        check_positive("length", self.length)
        if self.noise > 1:
            raise ValueError(f"noise must be in [0, 1] (a std on the [0, 1] scale), got {self.noise!r}")
        # one sample is rendered in memory: refuse sizes that cannot fit rather than exhaust the machine
        sample_bytes = (
            3 * self.image_size**2 * (1 + self.n_frames) + 4 * self.sample_rate * self.audio_seconds
        )
        if sample_bytes > MAX_SAMPLE_BYTES:
            raise ValueError(
                f"image_size={self.image_size}, n_frames={self.n_frames}, sample_rate={self.sample_rate} and "
                f"audio_seconds={self.audio_seconds} make one sample {sample_bytes / 2**20:.0f} MiB; "
                f"the most a sample may hold is {MAX_SAMPLE_BYTES // 2**20} MiB"
            )
        check_choice("split", self.split, tuple(_SPLIT_CODE))
        for name, known in (
            ("shapes", ALL_SHAPES),
            ("colors", tuple(PALETTE)),
            ("sizes", tuple(SIZE_FRACTION)),
            ("motions", ALL_MOTIONS),
        ):
            values = getattr(self, name)
            if not values:
                raise ValueError(f"{name} must not be empty")
            if len(set(values)) != len(values):
                raise ValueError(f"{name} must not repeat a value, got {values}")
            for v in values:
                check_choice(f"{name} entry", v, known)
        vocab = set(self.shapes) | set(self.colors) | set(self.sizes)
        for combo in self.holdout:
            if not combo:
                raise ValueError("holdout combinations must not be empty")
            for v in combo:
                if v not in vocab:
                    raise ValueError(
                        f"holdout value {v!r} in {combo} is not a shape, colour or size of this config"
                    )
        if self.split == "test" and not self.holdout:
            raise ValueError(
                "split='test' needs a non-empty holdout (the test split holds the held-out combinations)"
            )
        if self.split == "train" and self.holdout and not _allowed_triples(self):
            raise ValueError(
                f"holdout {self.holdout} excludes every (shape, colour, size): train would be empty"
            )


@dataclass(frozen=True)
class ShapeSpec:
    """One shape of a scene. ``x, y``: centre in pixels at frame 0; ``dx, dy``: displacement per frame."""

    shape: str
    color: str
    size: str
    x: float
    y: float
    dx: float = 0.0
    dy: float = 0.0
    px: int = 0  # side of the shape's box in pixels
    left: int = 0  # top-left corner of the box at frame 0
    top: int = 0

    @property
    def attributes(self) -> tuple[str, str, str]:
        return (self.shape, self.color, self.size)


@dataclass(frozen=True)
class Scene:
    """A scene: ``shapes[0]`` is the main shape (the one the labels describe); one motion for all shapes."""

    index: int
    shapes: tuple[ShapeSpec, ...]
    motion: str = "still"
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def main(self) -> ShapeSpec:
        return self.shapes[0]

    def left_to_right(self) -> list[ShapeSpec]:
        """Shapes ordered by centre x: the order their tones play in the audio."""
        return sorted(self.shapes, key=lambda s: s.x)


class _Draws:
    """Uniform draws from a numpy ``Generator``, fetched 64 at a time: one ``rng.integers`` call costs
    microseconds and a scene needs dozens. ``integer(lo, hi)``: uniform on ``lo..hi`` inclusive."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.buf: list[float] = []

    def uniform(self) -> float:
        if not self.buf:
            self.buf = rng_block = self.rng.random(64).tolist()
            rng_block.reverse()
        return self.buf.pop()

    def integer(self, lo: int, hi: int) -> int:
        return min(hi, lo + int(self.uniform() * (hi - lo + 1)))

    def choice(self, options: Sequence):
        return options[self.integer(0, len(options) - 1)]


def _is_held_out(attrs: tuple[str, str, str], holdout: Sequence[tuple[str, ...]]) -> bool:
    return any(all(v in attrs for v in combo) for combo in holdout)


@functools.lru_cache(maxsize=64)
def _allowed_triples(cfg: WorldConfig) -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (s, c, z)
        for s in cfg.shapes
        for c in cfg.colors
        for z in cfg.sizes
        if not _is_held_out((s, c, z), cfg.holdout)
    )


@functools.lru_cache(maxsize=64)
def _held_out_triples(cfg: WorldConfig) -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (s, c, z)
        for s in cfg.shapes
        for c in cfg.colors
        for z in cfg.sizes
        if _is_held_out((s, c, z), cfg.holdout)
    )


# ---- masks -------------------------------------------------------------------------------------------------
def _star_points(c: float, r_out: float, r_in: float) -> list[tuple[float, float]]:
    pts = []
    for k in range(10):
        r = r_out if k % 2 == 0 else r_in
        a = -math.pi / 2 + k * math.pi / 5
        pts.append((c + r * math.cos(a), c + r * math.sin(a)))
    return pts


@functools.lru_cache(maxsize=256)
def shape_mask(shape: str, px: int) -> np.ndarray:
    """Boolean mask ``(px, px)`` of ``shape`` drawn in a box of side ``px``; computed once and cached.

    Drawn with Pillow at 4x resolution and downsampled (a pixel is in if more than half of it is covered).
    """
    check_choice("shape", shape, ALL_SHAPES)
    k = 4
    n = px * k
    im = Image.new("L", (n, n), 0)
    d = ImageDraw.Draw(im)
    m = 0.04 * n  # small inset so neighbouring shapes never touch
    if shape == "circle":
        d.ellipse([m, m, n - m, n - m], fill=255)
    elif shape == "square":
        s = 0.12 * n  # a square of the same box looks heavier than a circle: inset a little more
        d.rectangle([s, s, n - s, n - s], fill=255)
    elif shape == "triangle":
        d.polygon([(n / 2, m), (n - m, n - m), (m, n - m)], fill=255)
    elif shape == "star":
        d.polygon(_star_points(n / 2, n / 2 - m, 0.42 * (n / 2 - m)), fill=255)
    elif shape == "cross":
        w = n / 3
        d.rectangle([w, m, 2 * w, n - m], fill=255)
        d.rectangle([m, w, n - m, 2 * w], fill=255)
    a = np.asarray(im, dtype=np.float32).reshape(px, k, px, k).mean(axis=(1, 3))
    mask = a > 127.5
    # at tiny sizes a star's tip can come off: keep the largest 4-connected piece so one shape = one blob
    parts, n_parts = ndimage.label(mask)
    if n_parts > 1:
        mask = parts == 1 + int(np.argmax(np.bincount(parts.ravel())[1:]))
    mask.setflags(write=False)
    return mask


def shape_pixels(size: str, image_size: int) -> int:
    """Side in pixels of a ``size`` shape's box in an ``image_size`` image."""
    return max(5, int(round(SIZE_FRACTION[size] * image_size)))


# ---- audio -------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=512)
def _tone(shape: str, color: str, size: str, n: int, sample_rate: int) -> np.ndarray:
    """One shape's tone, ``float32 (n,)``: sum_k a_k sin(2 pi k f t) / sum_k a_k, times loudness, envelope."""
    f0 = PITCH_HZ[color]
    t = np.arange(n, dtype=np.float64) / sample_rate
    wave = np.zeros(n)
    amps = [(k + 1, a) for k, a in enumerate(HARMONICS[shape]) if a and (k + 1) * f0 < sample_rate / 2]
    for h, a in amps:
        wave += a * np.sin(2 * np.pi * h * f0 * t)
    wave /= sum(a for _, a in amps)
    # envelope: the tone fills the middle 90% of its slot, with 10 ms linear attack and 30 ms release
    env = np.zeros(n)
    start, stop = int(0.05 * n), int(0.95 * n)
    att, rel = max(1, int(0.01 * sample_rate)), max(1, int(0.03 * sample_rate))
    env[start:stop] = 1.0
    env[start : start + att] = np.linspace(0, 1, min(att, stop - start))[: max(0, min(att, stop - start))]
    env[max(start, stop - rel) : stop] = np.linspace(1, 0, stop - max(start, stop - rel))
    out = (LOUDNESS[size] * env * wave).astype(np.float32)
    out.setflags(write=False)
    return out


class ShapesWorld(torch.utils.data.Dataset):
    """Deterministic multimodal dataset: ``world[i]`` is a dict of image, caption, audio, video and labels.

    ``world[i]["image"]``: float32 ``(3, H, W)`` in [0, 1]; ``"caption"``: str; ``"audio"``: float32 ``(L,)``
    in [-1, 1]; ``"video"``: float32 ``(T, 3, H, W)`` in [0, 1]; ``"labels"``: ``dict[str, int]`` with
    ``shape, color, size`` (of the main shape), ``count``, ``motion`` and ``position`` (0: the main shape's
    centre is in the left half of the image, 1: in the right half). :meth:`get` gives a subset of modalities.
    """

    MODALITIES = ("image", "caption", "audio", "video")

    def __init__(self, config: WorldConfig | None = None, **overrides) -> None:
        if config is None:
            config = WorldConfig(**overrides)
        elif overrides:
            config = dataclasses.replace(config, **overrides)
        if not isinstance(config, WorldConfig):
            raise ValueError(f"config must be a WorldConfig, got {type(config).__name__}")
        self.config = config
        self._split = _SPLIT_CODE[config.split]
        self._bg = np.zeros((config.image_size, config.image_size, 3), dtype=np.uint8)
        self._rgb = {c: np.array(PALETTE[c], dtype=np.uint8) for c in config.colors}
        self._px = {z: shape_pixels(z, config.image_size) for z in SIZE_FRACTION}

    # ---- bookkeeping ---------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.config.length

    def __repr__(self) -> str:
        c = self.config
        return (
            f"ShapesWorld(seed={c.seed}, split={c.split!r}, length={c.length}, image_size={c.image_size}, "
            f"shapes={len(c.shapes)}, colors={len(c.colors)}, sizes={len(c.sizes)}, holdout={c.holdout})"
        )

    @property
    def label_names(self) -> dict[str, list[str]]:
        """Class names of every label: ``labels[k] == j`` means ``label_names[k][j]``."""
        c = self.config
        return {
            "shape": list(c.shapes),
            "color": list(c.colors),
            "size": list(c.sizes),
            "count": [str(n) for n in range(c.max_shapes + 1)],
            "motion": list(c.motions),
            "position": ["left", "right"],
        }

    @property
    def vocabulary(self) -> list[str]:
        """Every word any caption of this config can use, sorted."""
        c = self.config
        words = set(c.shapes) | set(c.colors) | set(c.motions) - {"still"}
        for z in c.sizes:
            words.update(SIZE_WORDS[z])
        words.update(NUMBER_WORDS[2 : c.max_shapes + 1])
        for t in _ALL_TEMPLATE_TEXT:
            words.update(w for w in t.replace("{}", " ").split() if not w.startswith("{"))
        return sorted(words)

    def _rng(self, i: int, stream: int | None = None) -> np.random.Generator:
        """The generator of sample ``i``: seeded with ``SeedSequence([seed, i, split(, stream)])``."""
        key = [self.config.seed, i, self._split] + ([] if stream is None else [stream])
        return np.random.default_rng(key)

    # ---- scenes --------------------------------------------------------------------------------------------
    def scene(self, i: int) -> Scene:
        """The scene at index ``i`` (any non-negative int; ``len(world)`` only bounds iteration)."""
        if not isinstance(i, (int, np.integer)) or i < 0:
            raise ValueError(f"index must be a non-negative int, got {i!r}")
        return self._scene(int(i), self._rng(int(i)))

    def _scene(self, i: int, rng: np.random.Generator) -> Scene:
        c = self.config
        d = _Draws(rng)
        n = d.integer(c.min_shapes, c.max_shapes)
        motion = d.choice(c.motions)
        allowed = _allowed_triples(c) if c.split == "train" else None
        triples: list[tuple[str, str, str]] = []
        if c.split == "test":  # the main shape carries a held-out combination; the others are free
            pool = _held_out_triples(c)
            triples.append(d.choice(pool))
        while len(triples) < n:
            if allowed is not None:
                triples.append(d.choice(allowed))
            else:
                triples.append(
                    (
                        d.choice(c.shapes),
                        d.choice(c.colors),
                        d.choice(c.sizes),
                    )
                )
        for _ in range(_PLACE_RETRIES):  # a crowded draw can fail; redraw positions (same shapes)
            placed = self._place(d, triples, motion)
            if placed is not None:
                return Scene(i, placed, motion)
        sizes = [z for _, _, z in triples]
        raise ValueError(
            f"cannot place {len(triples)} shapes of sizes {sizes} without overlap in a {c.image_size}px "
            f"image (scene {i}); lower max_shapes, use smaller sizes or a larger image_size"
        )

    def _place(
        self, d: _Draws, triples: list[tuple[str, str, str]], motion: str
    ) -> tuple[ShapeSpec, ...] | None:
        """Place boxes without overlap (1 px gap), with centres at least ``S/16`` apart in x so that
        "left of" is unambiguous, and with room to move ``MOTION_FRACTION * S`` in the motion's direction.
        Returns ``None`` if some shape finds no free spot in 100 tries (the caller redraws)."""
        c = self.config
        S = c.image_size
        ux, uy = MOTION_VECTOR[motion]
        travel = int(round(MOTION_FRACTION * S)) if motion != "still" else 0
        step = travel / max(1, c.n_frames - 1)
        min_dx = max(2, S // 16)
        placed: list[ShapeSpec] = []
        for shape, color, size in triples:
            for _ in range(100):
                px = self._px[size]
                # the box must stay inside the frame from the first to the last frame
                x_lo, x_hi = (travel if ux < 0 else 0), S - px - (travel if ux > 0 else 0)
                y_lo, y_hi = (travel if uy < 0 else 0), S - px - (travel if uy > 0 else 0)
                if x_hi < x_lo or y_hi < y_lo:
                    return None
                left = d.integer(x_lo, x_hi)
                top = d.integer(y_lo, y_hi)
                cx, cy = left + px / 2, top + px / 2
                ok = True
                for p in placed:
                    apart = (
                        left + px + 1 <= p.left
                        or p.left + p.px + 1 <= left
                        or top + px + 1 <= p.top
                        or p.top + p.px + 1 <= top
                    )
                    if not apart or abs(cx - p.x) < min_dx:
                        ok = False
                        break
                if (
                    ok and not placed and abs(cx - S / 2) < 1
                ):  # main shape: make "left/right half" unambiguous
                    ok = False
                if ok:
                    placed.append(ShapeSpec(shape, color, size, cx, cy, ux * step, uy * step, px, left, top))
                    break
            else:
                return None
        return tuple(placed)

    # ---- renderers -----------------------------------------------------------------------------------------
    def _paste(self, img: np.ndarray, s: ShapeSpec, frame: int) -> None:
        left = s.left + int(round(s.dx * frame))
        top = s.top + int(round(s.dy * frame))
        region = img[top : top + s.px, left : left + s.px]
        region[shape_mask(s.shape, s.px)] = self._rgb[s.color]

    def _add_noise(self, arr: np.ndarray, i: int, stream: int) -> np.ndarray:
        """Gaussian pixel noise with std ``noise`` on the [0, 1] scale, back to uint8."""
        if self.config.noise == 0:
            return arr
        rng = self._rng(i, stream)
        noisy = arr.astype(np.float32) + rng.normal(0.0, 255.0 * self.config.noise, arr.shape).astype(
            np.float32
        )
        return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)

    def render_image(self, scene: Scene) -> np.ndarray:
        """The scene at frame 0 as ``uint8 (H, W, 3)``."""
        img = self._bg.copy()
        for s in scene.shapes:
            self._paste(img, s, 0)
        return self._add_noise(img, scene.index, _IMAGE_NOISE)

    def render_video(self, scene: Scene) -> np.ndarray:
        """``uint8 (T, H, W, 3)``: frame ``t`` shifts every shape by ``t * (dx, dy)``; frame 0 = image."""
        T = self.config.n_frames
        video = np.broadcast_to(self._bg, (T, *self._bg.shape)).copy()
        for t in range(T):
            for s in scene.shapes:
                self._paste(video[t], s, t)
        return self._add_noise(video, scene.index, _VIDEO_NOISE)

    def render_audio(self, scene: Scene) -> np.ndarray:
        """``float32 (L,)`` in [-1, 1], ``L = round(sample_rate * audio_seconds)``.

        The clip is cut into one slot per shape; slot k plays the k-th shape from the left:
        pitch = ``PITCH_HZ[colour]``, harmonics = ``HARMONICS[shape]``, peak amplitude = ``LOUDNESS[size]``.
        """
        c = self.config
        L = int(round(c.sample_rate * c.audio_seconds))
        out = np.zeros(L, dtype=np.float32)
        order = scene.left_to_right()
        slot = L // len(order)
        for k, s in enumerate(order):
            out[k * slot : (k + 1) * slot] += _tone(s.shape, s.color, s.size, slot, c.sample_rate)
        if c.noise > 0:
            out += self._rng(scene.index, _AUDIO_NOISE).normal(0.0, c.noise, L).astype(np.float32)
            np.clip(out, -1.0, 1.0, out=out)
        return out

    def caption(self, scene: Scene, rng: np.random.Generator, motion: bool = True) -> str:
        """An English description of ``scene`` (template and paraphrases drawn from ``rng``).

        Names every shape with its size, colour and kind, the horizontal relation of the others to the main
        shape, and (if ``motion`` and the scene moves) the direction of motion.
        """
        return _caption(
            scene, rng if isinstance(rng, _Draws) else _Draws(rng), self.config.image_size, motion
        )

    def labels(self, scene: Scene) -> dict[str, int]:
        """Integer labels of ``scene``; class names in :attr:`label_names`."""
        c = self.config
        m = scene.main
        return {
            "shape": c.shapes.index(m.shape),
            "color": c.colors.index(m.color),
            "size": c.sizes.index(m.size),
            "count": len(scene.shapes),
            "motion": c.motions.index(scene.motion),
            "position": int(m.x > c.image_size / 2),
        }

    # ---- samples -------------------------------------------------------------------------------------------
    def arrays(self, i: int, modalities: Sequence[str] = MODALITIES) -> dict:
        """Sample ``i`` as numpy: ``image`` uint8 ``(H, W, 3)``, ``caption`` str, ``audio`` float32 ``(L,)``,
        ``video`` uint8 ``(T, H, W, 3)``, plus ``labels``; only the requested modalities are rendered."""
        for m in modalities:
            check_choice("modalities entry", m, self.MODALITIES)
        if not isinstance(i, (int, np.integer)) or i < 0:
            raise ValueError(f"index must be a non-negative int, got {i!r}")
        rng = self._rng(int(i))
        scene = self._scene(int(i), rng)  # the caption continues the same generator
        out: dict = {}
        if "image" in modalities:
            out["image"] = self.render_image(scene)
        if "caption" in modalities:
            out["caption"] = self.caption(scene, rng)
        if "audio" in modalities:
            out["audio"] = self.render_audio(scene)
        if "video" in modalities:
            out["video"] = self.render_video(scene)
        out["labels"] = self.labels(scene)
        return out

    def get(self, i: int, modalities: Sequence[str] = MODALITIES) -> dict:
        """Sample ``i`` with only the requested modalities (plus ``"labels"``, which is always there), as
        tensors: ``image`` float32 ``(3, H, W)``, ``audio`` ``(L,)``, ``video`` ``(T, 3, H, W)``."""
        out = self.arrays(i, modalities)
        if "image" in out:
            out["image"] = to_float_tensor(out["image"])
        if "audio" in out:
            out["audio"] = torch.from_numpy(out["audio"])
        if "video" in out:
            out["video"] = to_float_tensor(out["video"])
        # keep the documented key order: image, caption, audio, video, labels
        return {k: out[k] for k in (*self.MODALITIES, "labels") if k in out}

    def __getitem__(self, i: int) -> dict:
        if isinstance(i, (int, np.integer)) and not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for ShapesWorld of length {len(self)}")
        return self.get(int(i))


# re-exported: these lived here before the split, and chapters import them from here
__all__ = [
    "ALL_MOTIONS",
    "ALL_SHAPES",
    "GENERATOR_VERSION",
    "HARMONICS",
    "LOUDNESS",
    "MOTION_VECTOR",
    "NUMBER_WORDS",
    "PALETTE",
    "PITCH_HZ",
    "SIZE_FRACTION",
    "SIZE_WORDS",
    "Scene",
    "ShapeSpec",
    "ShapesWorld",
    "WorldConfig",
    "caption_shapes",
    "collate",
    "shape_mask",
    "shape_pixels",
    "to_float_tensor",
]
