#!/usr/bin/env python
"""Import your own image-caption pairs (a folder of images + a CSV of filename,caption) as a dataset folder.

Example:
    python data_scripts/import_pairs.py --images photos/ --captions captions.csv --out data/mine --size 64
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=Path, required=True, help="folder holding the image files")
    p.add_argument(
        "--captions",
        type=Path,
        required=True,
        help="CSV with columns: image filename (relative to --images), caption; header optional",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder (must be empty unless --overwrite)")
    p.add_argument("--size", type=int, default=None, help="resize every image to SIZE x SIZE (default: keep)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # imported after parsing so that --help answers at once; the path makes a plain checkout work uninstalled
    sys.path.insert(0, str(ROOT))
    from mmtutorial.data.build import import_pairs

    try:
        out = import_pairs(
            args.images,
            args.captions,
            args.out,
            size=args.size,
            progress=not args.no_progress,
            overwrite=args.overwrite,
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"imported pairs into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
