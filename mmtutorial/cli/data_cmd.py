"""``mmtutorial data NAME [ARGS]``: build or import a dataset on disk (names: ``cli.data.SCRIPTS``)."""

from __future__ import annotations

import argparse

EXAMPLES = (
    "examples:\n"
    "  mmtutorial data shapes --n 2000 --out data/shapes --image-size 32\n"
    "  mmtutorial data emoji --help"
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    from mmtutorial.cli.data import SCRIPTS

    p = sub.add_parser(
        "data",
        help="build or import a dataset on disk",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("kind", help=f"one of: {', '.join(SCRIPTS)}")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for that command (try --help)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmtutorial.cli.data import run as run_data

    return run_data(args.kind, args.rest)
