"""The procedural world: determinism, and image / caption / labels / audio / video agreeing with each other.

The checks read the scene back from the rendered pixels and samples (colour masks, connected components, FFT),
not from the generator's own bookkeeping, so a renderer that drifts from the scene fails them.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from scipy import ndimage

from mmtutorial.data import HARMONICS, PALETTE, PITCH_HZ, ShapesWorld, WorldConfig, collate
from mmtutorial.data.world import LOUDNESS, SIZE_WORDS, shape_mask, shape_pixels

N_SCENES = 60
SIZE_OF_WORD = {w: z for z, words in SIZE_WORDS.items() for w in words}
TRIPLE = re.compile(r"a (small|little|medium|mid-sized|large|big) (\w+) (circle|square|triangle|star|cross)")


@pytest.fixture(scope="module")
def world() -> ShapesWorld:
    return ShapesWorld(WorldConfig(seed=3, sizes=("small", "medium", "large"), length=1000))


def blobs(img: np.ndarray, colors) -> list[dict]:
    """Connected components per exact palette colour: colour, area and centroid (x, y) of each."""
    out = []
    for c in colors:
        mask = np.all(img == np.array(PALETTE[c], dtype=np.uint8), axis=-1)
        parts, n = ndimage.label(mask)
        for k in range(1, n + 1):
            ys, xs = np.nonzero(parts == k)
            out.append({"color": c, "area": len(xs), "x": xs.mean() + 0.5, "y": ys.mean() + 0.5})
    return out


def parse_caption(caption: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, tuple[str, str, str]]]]:
    """(size, colour, shape) triples in order of mention, and (left|right, object triple) relations."""
    triples = [(SIZE_OF_WORD[z], c, s) for z, c, s in TRIPLE.findall(caption)]
    rels = [
        (side, (SIZE_OF_WORD[z], c, s))
        for side, z, c, s in re.findall(r"(left|right) of " + TRIPLE.pattern, caption)
    ]
    return triples, rels


# ---- determinism -------------------------------------------------------------------------------------------
def test_same_seed_same_bytes_in_any_order():
    a, b = ShapesWorld(WorldConfig(seed=7)), ShapesWorld(WorldConfig(seed=7))
    order = [5, 0, 9, 5, 2]
    for i in order:
        x, y = a.arrays(i), b.arrays(i)
        assert x["image"].tobytes() == y["image"].tobytes()
        assert x["audio"].tobytes() == y["audio"].tobytes()
        assert x["video"].tobytes() == y["video"].tobytes()
        assert x["caption"] == y["caption"] and x["labels"] == y["labels"]
    # scene i does not depend on what was generated before it
    fresh = ShapesWorld(WorldConfig(seed=7)).arrays(9)
    assert fresh["image"].tobytes() == a.arrays(9)["image"].tobytes()


def test_different_seed_different_scenes():
    a, b = ShapesWorld(WorldConfig(seed=0)), ShapesWorld(WorldConfig(seed=1))
    differ = sum(a.scene(i) != b.scene(i) for i in range(30))
    assert differ >= 28
    # and within one world, scenes vary
    assert len({a.arrays(i)["image"].tobytes() for i in range(30)}) == 30


def test_noise_is_deterministic_and_has_the_requested_std():
    clean = ShapesWorld(WorldConfig(seed=2)).arrays(4)
    n1 = ShapesWorld(WorldConfig(seed=2, noise=0.05)).arrays(4)
    n2 = ShapesWorld(WorldConfig(seed=2, noise=0.05)).arrays(4)
    assert n1["image"].tobytes() == n2["image"].tobytes()
    diff = n1["image"].astype(float) - clean["image"].astype(float)
    # clipping at 0 (the black background) halves the spread there; the std lies between those bounds
    assert 0.4 * 0.05 * 255 < diff.std() < 1.1 * 0.05 * 255
    adiff = n1["audio"] - clean["audio"]
    assert abs(adiff.std() - 0.05) < 0.005
    assert np.abs(n1["audio"]).max() <= 1.0


# ---- image, caption and labels agree -----------------------------------------------------------------------
def test_captions_and_labels_agree_with_pixels(world):
    cfg = world.config
    checked_relations = 0
    for i in range(N_SCENES):
        a = world.arrays(i, ("image", "caption"))
        img, caption, labels = a["image"], a["caption"], a["labels"]
        found = blobs(img, cfg.colors)
        # every pixel is background or exactly one shape colour
        assert sum(b["area"] for b in found) == int(np.any(img != 0, axis=-1).sum())
        assert labels["count"] == len(found), (i, caption)
        triples, rels = parse_caption(caption)
        assert len(triples) == len(found), (i, caption)
        # each mentioned (size, colour, shape) has a blob of that colour and exactly that mask's area
        areas = sorted((b["color"], b["area"]) for b in found)
        expect = sorted((c, int(shape_mask(s, shape_pixels(z, cfg.image_size)).sum())) for z, c, s in triples)
        assert areas == expect, (i, caption)
        # labels describe the main shape = the subject of the caption (first mention, or the object of a
        # reversed "B left of A" with two shapes)
        names = world.label_names
        main = (
            names["size"][labels["size"]],
            names["color"][labels["color"]],
            names["shape"][labels["shape"]],
        )
        assert main in triples, (i, caption)

        def centre(t, found=found):
            area = int(shape_mask(t[2], shape_pixels(t[0], cfg.image_size)).sum())
            hits = [b for b in found if b["color"] == t[1] and b["area"] == area]
            return hits[0]["x"] if len(hits) == 1 else None

        x_main = centre(main)
        if x_main is not None:
            assert labels["position"] == int(x_main > cfg.image_size / 2)
        # relations: "S left of O" means S's centre is left of O's centre in the pixels
        subject = triples[0]
        for side, obj in rels:
            xs, xo = centre(subject), centre(obj)
            if xs is None or xo is None or subject == obj:
                continue  # two identical shapes: the relation names no unique blob
            assert (xs < xo) == (side == "left"), (i, caption)
            checked_relations += 1
    assert checked_relations > N_SCENES // 3


def test_labels_and_label_names(world):
    names = world.label_names
    assert set(names) == {"shape", "color", "size", "count", "motion", "position"}
    seen_counts = set()
    for i in range(N_SCENES):
        lab = world.get(i, ("caption",))["labels"]
        for k, v in lab.items():
            assert 0 <= v < len(names[k]), (k, v)
        seen_counts.add(lab["count"])
    assert seen_counts == {1, 2, 3}


def test_captions_use_the_vocabulary_and_vary(world):
    vocab = set(world.vocabulary)
    skeletons = set()
    for i in range(200):
        cap = world.arrays(i, ("caption",))["caption"]
        words = cap.split()
        assert set(words) <= vocab, set(words) - vocab
        skeletons.add(TRIPLE.sub("X", cap).split(" X")[0])
    assert len(skeletons) >= 4  # several templates, not one fixed sentence form


def test_get_returns_only_requested_modalities(world):
    s = world.get(3, ("image", "caption"))
    assert set(s) == {"image", "caption", "labels"}
    full = world[3]
    assert set(full) == {"image", "caption", "audio", "video", "labels"}
    assert torch.equal(s["image"], full["image"]) and s["caption"] == full["caption"]
    assert full["image"].dtype == torch.float32 and full["image"].shape == (3, 64, 64)
    assert 0 <= full["image"].min() and full["image"].max() <= 1
    assert full["video"].shape == (8, 3, 64, 64) and full["audio"].shape == (16000,)
    with pytest.raises(IndexError):
        world[len(world)]
    with pytest.raises(ValueError, match="modalities"):
        world.get(0, ("smell",))


def test_tensors_are_the_arrays_divided_by_255(world):
    for i in range(5):
        a, t = world.arrays(i), world.get(i)
        assert torch.equal(t["image"], torch.from_numpy(a["image"]).permute(2, 0, 1).float() / 255)
        assert torch.equal(t["video"], torch.from_numpy(a["video"]).permute(0, 3, 1, 2).float() / 255)
        assert torch.equal(t["audio"], torch.from_numpy(a["audio"]))
        assert t["image"].is_contiguous() and t["video"].is_contiguous()


def test_collate_stacks_a_batch(world):
    b = collate([world[i] for i in range(4)])
    assert b["image"].shape == (4, 3, 64, 64) and b["video"].shape == (4, 8, 3, 64, 64)
    assert b["audio"].shape == (4, 16000) and isinstance(b["caption"], list) and len(b["caption"]) == 4
    assert b["labels"]["color"].dtype == torch.long and b["labels"]["color"].shape == (4,)
    with pytest.raises(ValueError, match="batch"):
        collate([])


# ---- audio agrees with the scene ---------------------------------------------------------------------------
def test_audio_plays_each_shape_left_to_right(world):
    cfg = world.config
    pitches = {c: PITCH_HZ[c] for c in cfg.colors}
    for i in range(30):
        a = world.arrays(i, ("image", "audio"))
        found = sorted(blobs(a["image"], cfg.colors), key=lambda b: b["x"])
        audio = a["audio"]
        slot = len(audio) // len(found)
        heard, loud = [], []
        for k in range(len(found)):
            seg = audio[k * slot : (k + 1) * slot]
            spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
            f = np.fft.rfftfreq(len(seg), 1 / cfg.sample_rate)[np.argmax(spec)]
            heard.append(min(pitches, key=lambda c: abs(np.log(pitches[c] / f))))
            loud.append(np.abs(seg).max())
        assert heard == [b["color"] for b in found], i
        # a tone's peak never exceeds its size's loudness, and reaches most of it
        scene_sizes = [s.size for s in world.scene(i).left_to_right()]
        for peak, z in zip(loud, scene_sizes, strict=True):
            assert 0.5 * LOUDNESS[z] < peak <= LOUDNESS[z] + 1e-6


def test_audio_timbre_identifies_the_shape(world):
    cfg = world.config
    sr = cfg.sample_rate
    for i in range(25):
        scene = world.scene(i)
        audio = world.render_audio(scene)
        order = scene.left_to_right()
        slot = len(audio) // len(order)
        for k, s in enumerate(order):
            seg = audio[k * slot : (k + 1) * slot]
            spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
            freqs = np.fft.rfftfreq(len(seg), 1 / sr)
            f0 = PITCH_HZ[s.color]
            amp = np.array(
                [spec[np.argmin(np.abs(freqs - h * f0))] if h * f0 < sr / 2 else 0 for h in range(1, 8)]
            )
            amp = amp / amp[0]

            def dist(shape, amp=amp, f0=f0):
                r = np.zeros(7)
                r[: len(HARMONICS[shape])] = HARMONICS[shape]
                r[[h * f0 >= sr / 2 for h in range(1, 8)]] = 0
                return np.abs(r - amp).sum()

            assert min(cfg.shapes, key=dist) == s.shape, (i, k)


# ---- video agrees with the caption -------------------------------------------------------------------------
def test_video_moves_as_the_caption_says(world):
    seen = set()
    for i in range(40):
        a = world.arrays(i, ("image", "caption", "video"))
        video, caption = a["video"], a["caption"]
        assert video[0].tobytes() == a["image"].tobytes()
        ys0, xs0 = np.nonzero(np.any(video[0] != 0, axis=-1))
        ys1, xs1 = np.nonzero(np.any(video[-1] != 0, axis=-1))
        assert len(xs0) == len(xs1)  # nothing leaves the frame
        dx, dy = xs1.mean() - xs0.mean(), ys1.mean() - ys0.mean()
        said = re.search(r"(?:moving|going|drifting|move) (up|down|left|right)", caption)
        motion = said.group(1) if said else "still"
        seen.add(motion)
        want = {"still": (0, 0), "up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}[motion]
        travel = 0.2 * 64
        assert np.allclose([dx, dy], [want[0] * travel, want[1] * travel], atol=1.0), (i, caption, dx, dy)
        assert world.label_names["motion"][a["labels"]["motion"]] == motion
    assert seen == {"still", "up", "down", "left", "right"}


# ---- compositional split -----------------------------------------------------------------------------------
def test_holdout_combinations_never_in_train_always_in_test():
    holdout = (("red", "star"), ("blue", "large"), ("green", "small"))

    def has(s):
        return (
            (s.color == "red" and s.shape == "star")
            or (s.color == "blue" and s.size == "large")
            or (s.color == "green" and s.size == "small")
        )

    train = ShapesWorld(WorldConfig(holdout=holdout, split="train"))
    test = ShapesWorld(WorldConfig(holdout=holdout, split="test"))
    every = ShapesWorld(WorldConfig(holdout=holdout, split="all"))
    assert not any(has(s) for i in range(300) for s in train.scene(i).shapes)
    assert all(any(has(s) for s in test.scene(i).shapes) for i in range(300))
    share = np.mean([any(has(s) for s in every.scene(i).shapes) for i in range(300)])
    assert 0.05 < share < 0.6  # "all" mixes both
    # all the parts still appear in train, just not together
    seen = {(s.color, s.shape) for i in range(300) for s in train.scene(i).shapes}
    assert ("red", "circle") in seen and ("blue", "star") in seen


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"colors": ("red", "mauve")}, "colors"),
        ({"split": "valid"}, "split"),
        ({"split": "test"}, "holdout"),
        ({"max_shapes": 9}, "max_shapes"),
        ({"noise": -0.1}, "noise"),
        ({"holdout": (("red", "hexagon"),)}, "hexagon"),
        ({"image_size": 8}, "image_size"),
    ],
)
def test_bad_config_is_refused_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WorldConfig(**kwargs)


def test_vocabulary_controls_shrink_the_world():
    w = ShapesWorld(
        WorldConfig(shapes=("circle", "cross"), colors=("red", "blue"), sizes=("large",), max_shapes=1)
    )
    for i in range(30):
        s = w.scene(i)
        assert len(s.shapes) == 1 and s.main.shape in ("circle", "cross") and s.main.color in ("red", "blue")
    assert w.label_names["color"] == ["red", "blue"]
    assert "green" not in w.vocabulary and "star" not in w.vocabulary


def test_other_image_sizes_render():
    for size in (32, 96):
        w = ShapesWorld(WorldConfig(image_size=size, seed=1))
        for i in range(10):
            a = w.arrays(i, ("image", "video"))
            assert a["image"].shape == (size, size, 3) and a["video"].shape == (8, size, size, 3)
            assert len(blobs(a["image"], w.config.colors)) == a["labels"]["count"]


def test_caption_shapes_reads_back_every_scene(world):
    from mmtutorial.data import caption_shapes

    assert caption_shapes("A big red star left of a little blue circle") == [
        ("star", "red", "large"),
        ("circle", "blue", "small"),
    ]
    for i in range(100):
        cap = world.arrays(i, ("caption",))["caption"]
        assert sorted(caption_shapes(cap)) == sorted(s.attributes for s in world.scene(i).shapes), cap
    with pytest.raises(ValueError, match="caption"):
        caption_shapes(None)


def test_crowded_scenes_are_placed_or_refused_by_name(monkeypatch):
    import mmtutorial.data.world as world_module

    for size in (16, 64):
        w = ShapesWorld(WorldConfig(image_size=size, min_shapes=4, max_shapes=4, sizes=("large",)))
        for i in range(30):  # four large moving shapes fit (after redraws); none is dropped or shrunk
            assert [s.size for s in w.scene(i).shapes] == ["large"] * 4
    monkeypatch.setattr(world_module, "_PLACE_RETRIES", 0)  # a draw that never fits is refused, not trimmed
    with pytest.raises(ValueError, match="cannot place 4 shapes"):
        w.scene(0)
