"""Checks for chapter 01 (background: the multimodal world, the landscape, the limitations)."""

from __future__ import annotations

from collections import Counter

from mmtutorial.exercises import expect


def check_caption(answer: object, *, index: int = 5, seed: int = 0) -> bool:
    """A caption for scene ``index`` of ``ShapesWorld(WorldConfig(seed=seed))`` that names every shape.

    Each shape must appear as "a <size> <colour> <shape>" (size synonyms such as "big" are fine), and no shape
    that is not in the scene may be named.
    """
    from mmtutorial.data import ShapesWorld, WorldConfig, caption_shapes

    expect(answer is not None, "set my_caption first")
    expect(isinstance(answer, str), f"a caption is a str, got {type(answer).__name__}")
    scene = ShapesWorld(WorldConfig(seed=seed)).scene(index)
    want = Counter(s.attributes for s in scene.shapes)
    got = Counter(caption_shapes(answer))
    missing = want - got
    extra = got - want
    expect(
        not missing,
        "not named (as 'a <size> <colour> <shape>'): " + ", ".join(f"a {z} {c} {s}" for s, c, z in missing),
    )
    expect(not extra, "named but not in the scene: " + ", ".join(f"a {z} {c} {s}" for s, c, z in extra))
    return True


def check_lowest_pitch_color(answer: object) -> bool:
    """The colour whose tone has the lowest pitch among the default world's colours."""
    from mmtutorial.data import PITCH_HZ, WorldConfig

    expect(answer is not None, "set lowest first")
    expect(isinstance(answer, str), f"answer with a colour name (str), got {type(answer).__name__}")
    colors = WorldConfig().colors
    expect(answer in colors, f"{answer!r} is not one of the world's colours {list(colors)}")
    want = min(colors, key=PITCH_HZ.__getitem__)
    expect(answer == want, f"{answer} sounds at {PITCH_HZ[answer]:.0f} Hz; another colour is lower")
    return True


def check_holdout_world(
    answer: object, *, combo: tuple[str, str] = ("green", "circle"), n: int = 200
) -> bool:
    """A training ``ShapesWorld`` that never shows ``combo`` together (but shows both parts separately)."""
    from mmtutorial.data import ShapesWorld

    expect(answer is not None, "set train_world first")
    expect(isinstance(answer, ShapesWorld), f"expected a ShapesWorld, got {type(answer).__name__}")
    expect(answer.config.split == "train", f"use split='train', got {answer.config.split!r}")
    both, parts = 0, set()
    for i in range(n):
        for s in answer.scene(i).shapes:
            both += all(v in s.attributes for v in combo)
            parts.update(v for v in combo if v in s.attributes)
    expect(
        both == 0, f"{both} shapes in the first {n} scenes are {' '.join(combo)}: hold the combination out"
    )
    expect(parts == set(combo), f"hold out the combination, not its parts: only {sorted(parts)} appear")
    return True
