#!/usr/bin/env python
"""`python data_scripts/make_spoken_captions.py ARGS` = `... data make_spoken_captions ARGS`.

A thin wrapper kept so that commands written for a source checkout still work; the code lives in the
package, in mmtutorial/cli/data/make_spoken_captions.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from mmtutorial.cli.data.make_spoken_captions import build_parser, main  # noqa: E402

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
