"""English captions of a procedural scene, and reading the shapes back out of a caption.

A caption names every shape with its size, colour and kind, the horizontal relation of the others to the
main shape, and the direction of motion; templates and synonyms ("big" for "large") are drawn from the
scene's own random generator, so the same scene always gets the same words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mmtutorial.data.vocabulary import ALL_SHAPES, NUMBER_WORDS, PALETTE, SIZE_WORDS

if TYPE_CHECKING:  # annotations only: the world imports this module, not the other way round
    from mmtutorial.data.world import Scene, ShapeSpec, _Draws

# ---- captions ----------------------------------------------------------------------------------------------
# "{}" slots are filled by code; every other word is part of the vocabulary.
_ONE = (
    "{}",
    "there is {}",
    "a picture of {}",
    "an image showing {}",
    "{} on a black background",
    "{} on the {}",
)
_MANY = (
    "{}",
    "there is {}",
    "a picture of {}",
    "an image showing {}",
    "{} shapes showing {}",
    "{} on a black background",
)
_REL = {
    "left": ("left of", "to the left of", "on the left of"),
    "right": ("right of", "to the right of", "on the right of"),
}
_MOVE_ONE = ("moving {}", "going {}", "drifting {}")
_MOVE_MANY = ("all moving {}", "that move {}", "drifting {} together")
_STILL = ("standing still", "not moving")
_JOIN = ("and", "and also")
_ALL_TEMPLATE_TEXT = (
    _ONE + _MANY + sum(_REL.values(), ()) + _MOVE_ONE + _MOVE_MANY + _STILL + _JOIN + ("left", "right")
)


def _pick(rng: _Draws, options: Sequence[str]) -> str:
    return rng.choice(options)


def _phrase(s: ShapeSpec, rng: _Draws) -> str:
    return f"a {_pick(rng, SIZE_WORDS[s.size])} {s.color} {s.shape}"


def _caption(scene: Scene, rng: _Draws, image_size: int, motion: bool) -> str:
    shapes = scene.shapes
    main = shapes[0]
    if len(shapes) == 1:
        t = _pick(rng, _ONE)
        side = "left" if main.x < image_size / 2 else "right"
        text = t.format(_phrase(main, rng), side) if t.count("{}") == 2 else t.format(_phrase(main, rng))
    else:
        rels = []
        for s in shapes[1:]:
            word = "left" if main.x < s.x else "right"
            rels.append(f"{_pick(rng, _REL[word])} {_phrase(s, rng)}")
        if len(shapes) == 2 and rng.uniform() < 0.5:  # the other way round: "B right of A"
            s = shapes[1]
            word = "right" if main.x < s.x else "left"
            body = f"{_phrase(s, rng)} {_pick(rng, _REL[word])} {_phrase(main, rng)}"
        else:
            body = f"{_phrase(main, rng)} " + f" {_pick(rng, _JOIN)} ".join(rels)
        t = _pick(rng, _MANY)
        text = t.format(NUMBER_WORDS[len(shapes)], body) if t.count("{}") == 2 else t.format(body)
    if motion:
        if scene.motion != "still":
            text += " " + _pick(rng, _MOVE_ONE if len(shapes) == 1 else _MOVE_MANY).format(scene.motion)
        elif rng.uniform() < 0.3:
            text += " " + _pick(rng, _STILL)
    return text


_WORD_SIZE = {w: z for z, words in SIZE_WORDS.items() for w in words}
_TRIPLE = re.compile(
    r"\ba ({}) ({}) ({})\b".format("|".join(_WORD_SIZE), "|".join(PALETTE), "|".join(ALL_SHAPES))
)


def caption_shapes(caption: str) -> list[tuple[str, str, str]]:
    """The ``(shape, colour, size)`` of every shape a caption names, in order of mention.

    Reads phrases of the form "a <size word> <colour> <shape>" (size synonyms such as "big" map back to
    "large"), e.g. ``caption_shapes("a big red star left of a small blue circle")`` ->
    ``[("star", "red", "large"), ("circle", "blue", "small")]``.
    """
    if not isinstance(caption, str):
        raise ValueError(f"caption must be a str, got {type(caption).__name__}")
    return [(shape, color, _WORD_SIZE[z]) for z, color, shape in _TRIPLE.findall(caption.lower())]
