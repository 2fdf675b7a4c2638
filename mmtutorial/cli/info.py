"""``mmtutorial info``: versions, devices and where the package is."""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

EXAMPLES = "example:\n  mmtutorial info"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="versions, devices and paths",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
