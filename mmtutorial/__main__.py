"""``python -m mmtutorial`` and the ``mmtutorial`` console script: see :mod:`mmtutorial.cli.main`."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    from mmtutorial.cli.main import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
