#!/usr/bin/env python
"""Write spoken captions (16 kHz WAV from espeak-ng, PNG image, captions.jsonl, manifest.json).

Examples:
    python data_scripts/make_spoken_captions.py --source shapes --n 500 --out data/spoken-shapes
    python data_scripts/make_spoken_captions.py --source emoji --n 500 --out data/spoken-emoji
Needs the espeak-ng engine (`apt-get install espeak-ng`). Without it the command stops with that hint;
for --source shapes, --allow-procedural writes the world's procedural audio instead.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from mmtutorial.data.speech import TTSUnavailableError, write_spoken_captions  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", choices=("shapes", "emoji"), required=True, help="whose captions to speak")
    p.add_argument("--n", type=int, required=True, help="number of spoken captions")
    p.add_argument("--out", type=Path, required=True, help="output folder (must be empty unless --overwrite)")
    p.add_argument("--seed", type=int, default=0, help="seed for the source and the voice choices")
    p.add_argument(
        "--allow-procedural",
        action="store_true",
        help="shapes only: without espeak-ng, write the procedural audio (with a warning) instead of failing",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset in --out")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    try:
        n = write_spoken_captions(
            args.out, args.source, args.n, args.seed, args.allow_procedural, args.overwrite
        )
    except TTSUnavailableError as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    rate = n / seconds
    print(f"wrote {n} spoken {args.source} captions to {args.out} in {seconds:.1f} s ({rate:.1f} pairs/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
