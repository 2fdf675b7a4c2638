"""``mmtutorial`` / ``python -m mmtutorial``: the package's jobs from a shell.

  info    versions, devices, paths
  data    build or import a dataset on disk
  train   train a preset (torchrun for several processes)
  eval    retrieval metrics of a trained run
  bench   run a benchmark (source checkout)
  workshop  release student notebooks, grade them, make slides

Every command has --help with examples.
"""

from __future__ import annotations

import argparse

from mmtutorial.cli import bench, data_cmd, eval, info, train
from mmtutorial.workshop import cli as workshop

EXAMPLES = """examples:
  mmtutorial data shapes --n 2000 --out data/shapes --image-size 32
  mmtutorial train --preset clip-shapes --set data=data/shapes --out runs/shapes
  mmtutorial eval --checkpoint runs/shapes --out runs/shapes/test.json"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmtutorial",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (info, data_cmd, train, eval, bench, workshop):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, return its exit status."""
    args = build_parser().parse_args(argv)
    return args.func(args)
