"""``python -m mmtutorial data NAME [ARGS]``: the commands that build or import a dataset on disk.

``SCRIPTS`` maps every accepted ``NAME`` to the module that implements it; each module exposes
``main(argv: list[str] | None = None) -> int`` (0 on success, 2 on a bad argument, 3 when a needed tool is
missing). The ``data_scripts/*.py`` files of a source checkout are thin wrappers around the same ``main``.
A name that is not a key of ``SCRIPTS`` is refused (:func:`run` never runs a file path).
"""

from __future__ import annotations

import importlib

#: NAME -> module; the short names first, then each module's own name (``data make_shapes_world`` works too)
SCRIPTS: dict[str, str] = {
    "shapes": "mmtutorial.cli.data.make_shapes_world",
    "pairs": "mmtutorial.cli.data.import_pairs",
    "emoji": "mmtutorial.cli.data.make_emoji_pairs",
    "spoken": "mmtutorial.cli.data.make_spoken_captions",
    "make_shapes_world": "mmtutorial.cli.data.make_shapes_world",
    "import_pairs": "mmtutorial.cli.data.import_pairs",
    "make_emoji_pairs": "mmtutorial.cli.data.make_emoji_pairs",
    "make_spoken_captions": "mmtutorial.cli.data.make_spoken_captions",
    "make_emoji_table": "mmtutorial.cli.data.make_emoji_table",
}


def run(name: str, argv: list[str] | None = None) -> int:
    """Run the data command ``name`` (a key of ``SCRIPTS``) with ``argv``; return its exit status.

    An unknown name (a path such as ``../mmtutorial/__init__`` included) is refused: status 2, with the list.
    """
    if name not in SCRIPTS:
        import sys

        print(f"error: unknown data command {name!r}; choose one of {', '.join(SCRIPTS)}", file=sys.stderr)
        return 2
    return importlib.import_module(SCRIPTS[name]).main(argv)


__all__ = ["SCRIPTS", "run"]
