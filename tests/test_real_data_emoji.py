"""OpenMoji emoji pairs: names and groups right, images drawn, styles differ, generation deterministic."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from mmtutorial.data.disk import load_dataset
from mmtutorial.data.emoji import (
    STYLES,
    TEMPLATES,
    EmojiDataset,
    caption,
    catalogue,
    emoji_name,
    label_names,
    render,
    write_emoji_pairs,
)

SAMPLE = list(range(0, 1914, 19))  # about 100 emoji spread over every group


def by_codepoints(points: str):
    return next(r for r in catalogue() if r.codepoints == points)


def test_catalogue_size_and_groups():
    records = catalogue()
    assert 1800 <= len(records) <= 2100
    names = label_names()
    assert names["group"] == [
        "Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink", "Travel & Places",
        "Activities", "Objects", "Symbols", "Flags",
    ]  # fmt: skip
    assert 90 <= len(names["subgroup"]) <= 110
    assert len({r.char for r in records}) == len(records)
    assert not any(0x1F3FB <= ord(c) <= 0x1F3FF for r in records for c in r.char)  # no skin tones


def test_known_emoji_have_their_names_and_groups():
    grin = by_codepoints("1F600")
    assert (grin.char, grin.name, grin.group, grin.subgroup) == (
        "😀",
        "grinning face",
        "Smileys & Emotion",
        "face-smiling",
    )
    france = by_codepoints("1F1EB 1F1F7")
    assert (france.name, france.group, france.subgroup) == ("flag of France", "Flags", "country-flag")
    apple = by_codepoints("1F34E")
    assert (apple.name, apple.group) == ("red apple", "Food & Drink")


def test_names_come_from_the_emoji_package_and_agree_with_unicode():
    # The caption's name is the emoji package's name for that codepoint ...
    for r in catalogue():
        assert r.name.removeprefix("flag of ") == emoji_name(r.char)

    # ... and an independent source, Unicode's own name list, agrees for the large majority (the rest differ
    # in punctuation only, e.g. "flag: Iran" vs "Iran", "kiss: woman, woman" vs "kiss woman woman").
    def words(s: str) -> str:
        return "".join(ch for ch in s.lower() if ch.isalnum())

    same = np.mean([words(r.name.removeprefix("flag of ")) == words(r.unicode_name.removeprefix("flag: "))
                    for r in catalogue()])  # fmt: skip
    assert same > 0.95


def test_every_caption_template_names_the_emoji():
    grin = by_codepoints("1F600")
    seen = {caption(grin, np.random.default_rng(s)) for s in range(200)}
    assert len(seen) == len(TEMPLATES)
    assert all("grinning face" in c for c in seen)
    ds = EmojiDataset("color", size=32, seed=3, limit=30)
    for i in range(len(ds)):
        record, _, text = ds.raw(i)
        assert record.name in text
        assert ds[i]["labels"]["group"] == label_names()["group"].index(record.group)
        assert ds[i]["labels"]["subgroup"] == label_names()["subgroup"].index(record.subgroup)


@pytest.mark.parametrize("style", STYLES)
def test_rendered_images_are_not_blank(style):
    for j in SAMPLE:
        img = render(catalogue()[j].char, style, 32)
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8
        ink = (img.min(axis=2) < 160).mean()
        assert ink > 0.01, f"{catalogue()[j].name} drew almost nothing in {style}"


def test_styles_differ_visibly():
    chroma, diffs = {s: [] for s in STYLES}, []
    for j in SAMPLE:
        imgs = {s: render(catalogue()[j].char, s, 32).astype(int) for s in STYLES}
        for s, img in imgs.items():
            chroma[s].append((img.max(axis=2) - img.min(axis=2)).max())
        diffs.append(np.abs(imgs["color"] - imgs["outline"]).mean())
    # About 5% of OpenMoji glyphs are black symbols (pause button, copyright sign): same in both styles.
    assert np.mean(np.array(diffs) > 2.0) > 0.9 and np.median(diffs) > 8.0
    assert max(chroma["outline"]) <= 8  # outline: black line art on white, no colour at all
    assert np.mean(np.array(chroma["color"]) > 60) > 0.8  # colour: most emoji have saturated pixels


def test_render_is_deterministic_and_checks_arguments():
    assert np.array_equal(render("🐶", "color", 48), render("🐶", "color", 48))
    with pytest.raises(ValueError, match="style"):
        render("🐶", "sepia")
    with pytest.raises(ValueError, match="size"):
        render("🐶", "color", 0)
    with pytest.raises(ValueError, match="char"):
        emoji_name("a")


def test_dataset_layout():
    ds = EmojiDataset("outline", size=40, limit=5)
    s = ds[0]
    assert s["image"].shape == (3, 40, 40) and s["image"].dtype.is_floating_point
    assert 0.0 <= float(s["image"].min()) and float(s["image"].max()) <= 1.0
    assert set(s["labels"]) == {"group", "subgroup", "emoji"}
    # the same emoji in the same order for both styles: only the drawing changes
    assert [r.char for r in ds.records] == [r.char for r in EmojiDataset("color", size=40, limit=5).records]
    with pytest.raises(IndexError):
        ds[5]


def test_writer_is_deterministic_and_round_trips(tmp_path):
    a = write_emoji_pairs(tmp_path / "a", "color", size=32, seed=1, limit=12)
    write_emoji_pairs(tmp_path / "b", "color", size=32, seed=1, limit=12)
    write_emoji_pairs(tmp_path / "c", "outline", size=32, seed=1, limit=12)
    ma, mb, mc = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in "abc")
    assert a == 12 and ma["count"] == 12
    assert ma["files"] == mb["files"]  # same args -> same bytes in every file
    assert ma["files"]["captions.jsonl"] == mc["files"]["captions.jsonl"]  # same pairs ...
    assert ma["files"] != mc["files"]  # ... drawn differently
    assert "OpenMoji" in ma["extra"]["credit"] and "CC BY-SA 4.0" in ma["extra"]["licence"]
    ds, ref = load_dataset(tmp_path / "a"), EmojiDataset("color", size=32, seed=1, limit=12)
    for i in range(12):
        record, image, text = ref.raw(i)
        assert ds[i]["caption"] == text and ds[i]["id"] == record.codepoints.replace(" ", "-")
        assert ds[i]["labels"] == {
            "group": ref[i]["labels"]["group"],
            "subgroup": ref[i]["labels"]["subgroup"],
        }
        assert np.array_equal((ds[i]["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), image)


def load_script(name: str):
    path = Path(__file__).resolve().parents[1] / "data_scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli(tmp_path):
    main = load_script("make_emoji_pairs").main
    assert main(["--out", str(tmp_path / "o"), "--style", "outline", "--size", "24", "--limit", "5"]) == 0
    assert len(load_dataset(tmp_path / "o")) == 5
    assert main(["--out", str(tmp_path / "o"), "--limit", "5"]) == 2  # not empty, no --overwrite


@pytest.mark.slow
def test_every_emoji_draws_in_both_styles():
    for style in STYLES:
        blank = [r.name for r in catalogue() if (render(r.char, style, 32).min(axis=2) < 160).mean() <= 0.005]
        # OpenMoji draws a few buttons with white text on colour and no black outline ("NEW button")
        assert len(blank) <= 0.002 * len(catalogue()), (style, blank)
