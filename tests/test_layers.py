"""The package reads bottom-up: a module imports only from its own layer or the layers below (docs/design.md).

    0  types, _validate                       the contract every layer shares
    1  data, encoders, fusion, losses         building blocks
    2  models, finetune, multitask            assembled from the blocks
    3  training, eval (+ metrics, fusion_tasks: old import paths re-exported)
    4  cli, workshop, course, glossary, __main__   what a user runs or reads

``exercises`` sits beside the layers and may import anything. Imports are read with ``ast`` (also those
inside functions), so a lazy import cannot hide a dependency. A package's ``__init__`` belongs to its layer,
so its re-exports can only point down (or sideways inside its layer).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "mmtutorial"
LAYERS = {
    "mmtutorial": 0,  # the root __init__ holds only the version
    "types": 0,
    "_validate": 0,
    "data": 1,
    "encoders": 1,
    "fusion": 1,
    "losses": 1,
    "models": 2,
    "finetune": 2,
    "multitask": 2,
    "training": 3,
    "eval": 3,
    "metrics": 3,
    "fusion_tasks": 3,
    "cli": 4,
    "workshop": 4,
    "course": 4,
    "glossary": 4,
    "__main__": 4,
}
FREE = {"exercises"}
# An upward import that is known and documented, with its reason; keep this empty when you can.
KNOWN = {
    ("encoders.pretrained", "finetune"): "old path of freeze/extract_features (moved to finetune/)",
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "mmtutorial"


def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, absolute module)`` of every ``mmtutorial`` import in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "mmtutorial"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "mmtutorial":
                # `from mmtutorial import x` imports the submodule x when x is one
                if target == "mmtutorial":
                    found += [(node.lineno, f"mmtutorial.{a.name}") for a in node.names]
                else:
                    found.append((node.lineno, target))
    return found


def files() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_area_has_a_layer():
    areas = {area(module_name(p)) for p in files()}
    missing = sorted(areas - set(LAYERS) - FREE)
    assert not missing, f"give these parts of the package a layer in tests/test_layers.py: {missing}"


def test_no_module_imports_upward():
    problems = []
    for path in files():
        me = module_name(path)
        if area(me) in FREE or area(me) not in LAYERS:
            continue
        for line, target in imports(path):
            there = area(target)
            if there in FREE or there not in LAYERS:
                problems += [] if there in FREE else [f"{me}:{line} imports unknown {target}"]
                continue
            if LAYERS[there] > LAYERS[area(me)]:
                if any(me.endswith(a) and there == b for a, b in KNOWN):
                    continue
                problems.append(
                    f"{me}:{line} (layer {LAYERS[area(me)]}) imports {target} (layer {LAYERS[there]})"
                )
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    """The test above can fail: a data module importing the training engine is caught."""
    fake = PKG / "data" / "_layer_probe.py"
    source = "def f():\n    from mmtutorial.training import fit\n    from ..models import clip\n"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: source if self == fake else _read(self))
    found = imports(fake)
    assert [t for _, t in found] == ["mmtutorial.training", "mmtutorial.models"]
    assert all(LAYERS[area(t)] > LAYERS["data"] for _, t in found)


_read = Path.read_text


@pytest.mark.parametrize("old", ["mmtutorial.encoders.base", "mmtutorial.fusion_tasks", "mmtutorial.models"])
def test_old_import_paths_still_work(old):
    import importlib

    mod = importlib.import_module(old)
    names = {
        "mmtutorial.encoders.base": ["EncoderOutput", "masked_mean"],
        "mmtutorial.fusion_tasks": ["make_task", "compare_fusions", "robustness", "train_classifier",
                                    "unimodal_baseline", "evaluate", "FusionClassifier", "noise_auc"],
        "mmtutorial.models": ["TwoTowerCLIP"],
    }[old]  # fmt: skip
    for name in names:
        assert hasattr(mod, name), (old, name)
    from mmtutorial import types

    if old == "mmtutorial.encoders.base":
        assert mod.EncoderOutput is types.EncoderOutput


def test_masked_mean_ignores_nan_and_inf_in_padding():
    """The shared pooling contract: padded positions never matter, whatever they hold."""
    import torch

    from mmtutorial.types import masked_mean

    tokens = torch.randn(2, 4, 3)
    mask = torch.tensor([[True, True, False, False], [False, False, False, False]])
    clean = masked_mean(tokens, mask)
    dirty = tokens.clone()
    dirty[0, 2:] = float("nan")
    dirty[1] = float("inf")
    out = masked_mean(dirty, mask)
    assert torch.equal(out, clean) and torch.isfinite(out).all()
    assert torch.allclose(out[0], tokens[0, :2].mean(0)) and torch.equal(out[1], torch.zeros(3))
