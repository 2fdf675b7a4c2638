"""The procedural world's vocabularies: shapes, colours, sizes, motions, and how each sounds.

Shared by the renderer (:mod:`mmtutorial.data.world`) and the captions (:mod:`mmtutorial.data.captions`).
"""

from __future__ import annotations

# ---- vocabularies ------------------------------------------------------------------------------------------
ALL_SHAPES = ("circle", "square", "triangle", "star", "cross")
# RGB of every colour the world knows; a config picks a subset. Far apart so a pixel's colour is unambiguous.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "orange": (250, 140, 20),
    "yellow": (240, 220, 40),
    "green": (40, 180, 60),
    "cyan": (40, 210, 220),
    "blue": (50, 90, 230),
    "purple": (150, 60, 200),
    "pink": (250, 130, 200),
    "brown": (140, 80, 30),
    "gray": (128, 128, 128),
    "white": (240, 240, 240),
}
# colour -> pitch: palette order climbs in steps of three semitones from A3 (220 Hz): f_k = 220 * 2^(3k/12).
PITCH_HZ: dict[str, float] = {c: 220.0 * 2.0 ** (3 * k / 12) for k, c in enumerate(PALETTE)}
# shape -> timbre: relative amplitudes of harmonics 1, 2, 3, ... (the fundamental is always the loudest).
HARMONICS: dict[str, tuple[float, ...]] = {
    "circle": (1.0,),  # a pure sine
    "square": (1.0, 0.0, 0.45, 0.0, 0.3, 0.0, 0.2),  # odd harmonics only
    "triangle": (1.0, 0.6, 0.3),  # a few, decaying fast
    "star": (1.0, 0.7, 0.6, 0.5, 0.4, 0.3),  # bright: many harmonics
    "cross": (1.0, 0.75, 0.0, 0.5),  # fundamental, octave and double octave
}
# size -> side of the shape's box as a fraction of the image side, and loudness (peak amplitude) of its tone.
SIZE_FRACTION: dict[str, float] = {"small": 0.2, "medium": 0.27, "large": 0.34}
LOUDNESS: dict[str, float] = {"small": 0.3, "medium": 0.5, "large": 0.8}
ALL_MOTIONS = ("still", "up", "down", "left", "right")
MOTION_VECTOR: dict[str, tuple[int, int]] = {
    "still": (0, 0),
    "up": (0, -1),
    "down": (0, 1),
    "left": (-1, 0),
    "right": (1, 0),
}
SIZE_WORDS: dict[str, tuple[str, ...]] = {
    "small": ("small", "little"),
    "medium": ("medium", "mid-sized"),
    "large": ("large", "big"),
}
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six")
