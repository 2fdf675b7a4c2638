#!/usr/bin/env python
"""Write a procedural shapes-world dataset (PNG images, WAV audio, NPZ video, captions.jsonl, manifest.json).

Example: python data_scripts/make_shapes_world.py --n 1000 --out data/shapes --seed 0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


MODALITIES = ("image", "caption", "audio", "video")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, required=True, help="number of samples")
    p.add_argument("--out", type=Path, required=True, help="output folder (must be empty unless --overwrite)")
    p.add_argument("--seed", type=int, default=0, help="world seed (default 0)")
    p.add_argument("--image-size", type=int, default=64, help="image side in pixels (default 64)")
    p.add_argument("--max-shapes", type=int, default=3, help="at most this many shapes per scene (default 3)")
    p.add_argument("--noise", type=float, default=0.0, help="std of Gaussian pixel/audio noise (default 0)")
    p.add_argument(
        "--holdout",
        action="append",
        default=[],
        metavar="A,B",
        help="held-out attribute combination, e.g. red,star (repeatable)",
    )
    p.add_argument(
        "--split", choices=("train", "test", "all"), default="train", help="which split (default train)"
    )
    p.add_argument(
        "--modalities",
        default=",".join(MODALITIES),
        help="comma-separated subset of image,caption,audio,video (default all)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # imported after parsing so that --help answers at once; the path makes a plain checkout work uninstalled
    sys.path.insert(0, str(ROOT))
    from mmtutorial.data import WorldConfig
    from mmtutorial.data.build import make_shapes_world

    try:
        cfg = WorldConfig(
            seed=args.seed,
            image_size=args.image_size,
            max_shapes=args.max_shapes,
            noise=args.noise,
            holdout=tuple(tuple(v.strip() for v in h.split(",")) for h in args.holdout),
            split=args.split,
        )
        mods = tuple(m.strip() for m in args.modalities.split(",") if m.strip())
        out = make_shapes_world(
            args.out, args.n, cfg, mods, progress=not args.no_progress, overwrite=args.overwrite
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.n} samples to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
