"""Argument types and error reporting shared by the data commands.

An argparse ``type=`` that raises ``argparse.ArgumentTypeError`` makes argparse name the option in its error
(``argument --seed: must be an int >= 0, got -1``) and exit with status 2.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path


def non_negative_int(text: str) -> int:
    """An int >= 0 (seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an int >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an int >= 0, got {value}")
    return value


def positive_int(text: str) -> int:
    """An int >= 1 (counts and sizes)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive int, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive int, got {value}")
    return value


def unit_float(text: str) -> float:
    """A finite float in [0, 1] (noise levels)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a finite number in [0, 1], got {text!r}")
    return value


def add_overwrite_flags(p: argparse.ArgumentParser) -> None:
    """``--overwrite`` (replace a dataset of ours) and ``--overwrite-any-folder`` (replace anything)."""
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the mmtutorial dataset already in --out (written atomically: the old one stays "
        "readable until the new one is complete)",
    )
    p.add_argument(
        "--overwrite-any-folder",
        action="store_true",
        help="replace --out even if it is not an mmtutorial dataset (its contents are deleted)",
    )


def report(write: Callable[[], object], out: Path) -> tuple[int, object]:
    """Run ``write()``; turn a ``ValueError`` or an ``OSError`` into one ``error:`` line and status 2."""
    try:
        return 0, write()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
    except OSError as e:
        print(f"error: cannot write --out {out}: {e.strerror or e}", file=sys.stderr)
    return 2, None
