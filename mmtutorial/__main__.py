"""`python -m mmtutorial <command>`: the package's own jobs from a shell.

python -m mmtutorial info                         versions, devices, where things are
python -m mmtutorial data shapes --n 100 --out DIR   write a procedural dataset (see data_scripts/)
python -m mmtutorial bench NAME [ARGS...]         run benchmarks/NAME.py (from a source checkout)
"""

from __future__ import annotations

import argparse
import platform
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cmd_info(args: argparse.Namespace) -> int:
    import numpy
    import torch

    import mmtutorial

    print(f"mmtutorial {mmtutorial.__version__} ({Path(mmtutorial.__file__).parent})")
    print(f"python {platform.python_version()}  torch {torch.__version__}  numpy {numpy.__version__}")
    try:
        import triton

        print(f"triton {triton.__version__}")
    except ImportError:
        print("triton: not installed")
    print(f"cuda available: {torch.cuda.is_available()}", end="")
    print(f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "")
    print(f"cpu threads: {torch.get_num_threads()}")
    return 0


def _run_script(folder: str, name: str, argv: list[str]) -> int:
    path = ROOT / folder / (name if name.endswith(".py") else f"{name}.py")
    if not path.is_file():
        available = sorted(p.stem for p in (ROOT / folder).glob("*.py")) if (ROOT / folder).is_dir() else []
        print(f"no script {path} (available: {', '.join(available) or 'none: not a source checkout'})")
        return 2
    sys.argv = [str(path), *argv]
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as e:
        return int(e.code or 0)
    return 0


DATA_SCRIPTS = {
    "shapes": "make_shapes_world",
    "pairs": "import_pairs",
    "emoji": "make_emoji_pairs",
    "spoken": "make_spoken_captions",
}


def cmd_data(args: argparse.Namespace) -> int:
    return _run_script("data_scripts", DATA_SCRIPTS.get(args.kind, args.kind), args.rest)


def cmd_bench(args: argparse.Namespace) -> int:
    return _run_script("benchmarks", args.name, args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mmtutorial", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="versions, devices and paths").set_defaults(func=cmd_info)
    p = sub.add_parser("data", help="build or import a dataset on disk (data_scripts/)")
    p.add_argument("kind", help=f"one of {sorted(DATA_SCRIPTS)} or a data_scripts/ script name")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for that script (try --help)")
    p.set_defaults(func=cmd_data)
    p = sub.add_parser("bench", help="run a benchmark from benchmarks/")
    p.add_argument("name", help="script name in benchmarks/, e.g. contrastive_loss")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for that benchmark (try --help)")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
