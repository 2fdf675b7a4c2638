"""Import your own image-caption pairs (a folder of images + a CSV of filename,caption) as a dataset folder.

Example: python -m mmtutorial data pairs --images photos/ --captions captions.csv --out data/mine --size 64
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mmtutorial.cli.data._args import add_overwrite_flags, positive_int, report


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mmtutorial data pairs",
        description=__doc__.splitlines()[0],
        epilog=__doc__.split("\n\n", 1)[1].strip(),
    )
    p.add_argument("--images", type=Path, required=True, help="folder holding the image files")
    p.add_argument(
        "--captions",
        type=Path,
        required=True,
        help="CSV with columns: image filename (relative to --images), caption; header optional",
    )
    p.add_argument(
        "--out", type=Path, required=True, help="output folder, outside --images (empty unless --overwrite)"
    )
    p.add_argument(
        "--size", type=positive_int, default=None, help="resize every image to SIZE x SIZE (at most 4096)"
    )
    add_overwrite_flags(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and import the pairs; 0 on success, 2 on a bad argument or an unwritable ``--out``."""
    args = build_parser().parse_args(argv)
    from mmtutorial.data.writers import import_pairs

    status, out = report(
        lambda: import_pairs(
            args.images,
            args.captions,
            args.out,
            size=args.size,
            progress=not args.no_progress,
            overwrite=args.overwrite,
            replace_any=args.overwrite_any_folder,
        ),
        args.out,
    )
    if status == 0:
        print(f"imported pairs into {out}")
    return status
