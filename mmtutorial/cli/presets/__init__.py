"""Presets of ``python -m mmtutorial train``: a config class and a ``build(config, run_dir, training)``.

- ``clip-shapes``: two towers from scratch on the procedural world (seconds);
- ``clip-emoji``: pretrained MiniLM and EfficientNet-Lite0 with trained projections on real emoji.
"""

from __future__ import annotations

import importlib
from types import ModuleType

PRESETS = {
    "clip-shapes": "mmtutorial.cli.presets.clip_shapes",
    "clip-emoji": "mmtutorial.cli.presets.clip_emoji",
}


def get_preset(name: str) -> ModuleType:
    """The module of preset ``name`` (it has ``Config`` and ``build``); unknown names are refused."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return importlib.import_module(PRESETS[name])


__all__ = ["PRESETS", "get_preset"]
