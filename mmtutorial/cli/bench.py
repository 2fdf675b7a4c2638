"""``mmtutorial bench NAME [ARGS]``: run ``benchmarks/NAME.py`` of a source checkout.

Benchmarks are scripts beside the package, not part of it: an installed package has none, and says so.
``NAME`` must be one of the scripts listed (no paths).
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
EXAMPLES = "examples:\n  mmtutorial bench training --help\n  mmtutorial bench contrastive_loss --quick"


def available() -> list[str]:
    """Benchmark names of this checkout (empty for an installed package)."""
    return sorted(p.stem for p in BENCHMARKS.glob("*.py")) if BENCHMARKS.is_dir() else []


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="run a benchmark from benchmarks/ (source checkout)",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", help="benchmark name, e.g. training or contrastive_loss")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for that benchmark (try --help)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = available()
    if args.name not in names:
        where = ", ".join(names) if names else "none: benchmarks run from a source checkout"
        print(f"no script {args.name!r} in benchmarks/ (available: {where})")
        return 2
    path = BENCHMARKS / f"{args.name}.py"
    old = sys.argv
    sys.argv = [str(path), *args.rest]
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = old
    return 0
