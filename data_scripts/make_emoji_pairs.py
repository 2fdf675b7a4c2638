#!/usr/bin/env python
"""Write OpenMoji emoji image-caption pairs (PNG images, captions.jsonl, manifest.json) in one drawing style.

Examples:
    python data_scripts/make_emoji_pairs.py --out data/emoji-color --style color
    python data_scripts/make_emoji_pairs.py --out data/emoji-outline --style outline  # shifted test
Glyphs © OpenMoji (https://openmoji.org), CC BY-SA 4.0; the credit is written into the manifest.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from mmtutorial.data.emoji import STYLES, write_emoji_pairs  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="output folder (must be empty unless --overwrite)")
    p.add_argument("--style", choices=STYLES, default="color", help="color (train) or outline (shifted test)")
    p.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    p.add_argument(
        "--limit", type=int, default=None, help="at most this many emoji (default all, about 1,900)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed for the emoji order and caption templates")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset in --out")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    try:
        n = write_emoji_pairs(args.out, args.style, args.size, args.seed, args.limit, args.overwrite)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    print(f"wrote {n} {args.style} emoji pairs to {args.out} in {seconds:.1f} s ({n / seconds:.0f} pairs/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
