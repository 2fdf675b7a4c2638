"""Write a procedural shapes-world dataset (PNG images, WAV audio, NPZ video, captions.jsonl, manifest.json).

Example: python -m mmtutorial data shapes --n 1000 --out data/shapes --seed 0
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mmtutorial.cli.data._args import add_overwrite_flags, non_negative_int, positive_int, report, unit_float

MODALITIES = ("image", "caption", "audio", "video")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mmtutorial data shapes",
        description=__doc__.splitlines()[0],
        epilog=__doc__.split("\n\n", 1)[1].strip(),
    )
    p.add_argument("--n", type=positive_int, required=True, help="number of samples")
    p.add_argument("--out", type=Path, required=True, help="output folder (must be empty unless --overwrite)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="world seed (default 0)")
    p.add_argument("--image-size", type=positive_int, default=64, help="image side in pixels (default 64)")
    p.add_argument("--max-shapes", type=positive_int, default=3, help="at most this many shapes per scene")
    p.add_argument(
        "--noise", type=unit_float, default=0.0, help="std of Gaussian pixel/audio noise (default 0)"
    )
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
    add_overwrite_flags(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and write the dataset; 0 on success, 2 on a bad argument or an unwritable ``--out``."""
    args = build_parser().parse_args(argv)
    # imported after parsing so that --help answers at once
    from mmtutorial.data.world import WorldConfig
    from mmtutorial.data.writers import make_shapes_world

    def write():
        cfg = WorldConfig(
            seed=args.seed,
            image_size=args.image_size,
            max_shapes=args.max_shapes,
            noise=args.noise,
            holdout=tuple(tuple(v.strip() for v in h.split(",")) for h in args.holdout),
            split=args.split,
        )
        mods = tuple(m.strip() for m in args.modalities.split(",") if m.strip())
        return make_shapes_world(
            args.out,
            args.n,
            cfg,
            mods,
            progress=not args.no_progress,
            overwrite=args.overwrite,
            replace_any=args.overwrite_any_folder,
        )

    status, out = report(write, args.out)
    if status == 0:
        print(f"wrote {args.n} samples to {out}")
    return status
