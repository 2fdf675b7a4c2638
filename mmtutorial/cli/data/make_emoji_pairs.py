"""Write OpenMoji emoji image-caption pairs (PNG images, captions.jsonl, manifest.json) in one drawing style.

Examples:
    python -m mmtutorial data emoji --out data/emoji-color --style color
    python -m mmtutorial data emoji --out data/emoji-outline --style outline  # shifted test
Glyphs © OpenMoji (https://openmoji.org), CC BY-SA 4.0; the credit is written into the manifest.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mmtutorial.cli.data._args import add_overwrite_flags, non_negative_int, positive_int, report


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mmtutorial data emoji",
        description=__doc__.splitlines()[0],
        epilog=__doc__.split("\n\n", 1)[1].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, required=True, help="output folder (must be empty unless --overwrite)")
    p.add_argument("--style", choices=("color", "outline"), default="color", help="color (train) or outline")
    p.add_argument(
        "--size", type=positive_int, default=64, help="image side in pixels (default 64, max 4096)"
    )
    p.add_argument("--limit", type=positive_int, default=None, help="at most this many emoji (default all)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed for the emoji order and captions")
    add_overwrite_flags(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and write the pairs; 0 on success, 2 on a bad argument or an unwritable ``--out``."""
    args = build_parser().parse_args(argv)
    from mmtutorial.data.writers import write_emoji_pairs

    start = time.perf_counter()
    status, n = report(
        lambda: write_emoji_pairs(
            args.out, args.style, args.size, args.seed, args.limit, args.overwrite, args.overwrite_any_folder
        ),
        args.out,
    )
    if status == 0:
        seconds = time.perf_counter() - start
        print(
            f"wrote {n} {args.style} emoji pairs to {args.out} in {seconds:.1f} s ({n / seconds:.0f} pairs/s)"
        )
    return status
