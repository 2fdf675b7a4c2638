"""Write spoken captions (16 kHz WAV from espeak-ng, PNG image, captions.jsonl, manifest.json).

Examples:
    python -m mmtutorial data spoken --source shapes --n 500 --out data/spoken-shapes
    python -m mmtutorial data spoken --source emoji --n 500 --out data/spoken-emoji
Needs the espeak-ng engine (`apt-get install espeak-ng`). Without it the command stops with that hint
(status 3); for --source shapes, --allow-procedural writes the world's procedural audio instead.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mmtutorial.cli.data._args import add_overwrite_flags, non_negative_int, positive_int, report


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mmtutorial data spoken",
        description=__doc__.splitlines()[0],
        epilog=__doc__.split("\n\n", 1)[1].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--source", choices=("shapes", "emoji"), required=True, help="whose captions to speak")
    p.add_argument("--n", type=positive_int, required=True, help="number of spoken captions")
    p.add_argument("--out", type=Path, required=True, help="output folder (must be empty unless --overwrite)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed for the source and the voices")
    p.add_argument(
        "--allow-procedural",
        action="store_true",
        help="shapes only: without espeak-ng, write the procedural audio (with a warning) instead of failing",
    )
    add_overwrite_flags(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and write the captions; 0 on success, 2 on a bad argument, 3 without espeak-ng."""
    args = build_parser().parse_args(argv)
    from mmtutorial.data.speech import TTSUnavailableError
    from mmtutorial.data.writers import write_spoken_captions

    start = time.perf_counter()
    try:
        status, n = report(
            lambda: write_spoken_captions(
                args.out,
                args.source,
                args.n,
                args.seed,
                args.allow_procedural,
                args.overwrite,
                args.overwrite_any_folder,
            ),
            args.out,
        )
    except TTSUnavailableError as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    if status == 0:
        seconds = time.perf_counter() - start
        rate = n / seconds
        print(
            f"wrote {n} spoken {args.source} captions to {args.out} in {seconds:.1f} s ({rate:.1f} pairs/s)"
        )
    return status
