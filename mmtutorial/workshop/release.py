"""Student copies of chapters: solution cells removed (not hidden), starters kept, exercise outputs cleared.

Everything else keeps the outputs of the course's executed notebook, so students see the chapter as it ran.
The chapters themselves are only read. Each released notebook records its exercises in its metadata
(``metadata.mmtutorial.exercises``) for the grader, and ``release_manifest.json`` lists what was removed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat

from mmtutorial.workshop.exercises import find_exercises, is_solution

COURSE_DIR = Path(__file__).resolve().parents[2] / "chapters"


def resolve_chapter(name: str, chapters_dir: str | Path = COURSE_DIR) -> Path:
    """A chapter file from ``"05"``, ``"05_contrastive_math"``, a file name or a path.

    Raises:
        ValueError: naming ``chapter`` when nothing or several chapters match.
    """
    p = Path(name)
    if p.suffix == ".ipynb" and p.is_file():
        return p
    chapters_dir = Path(chapters_dir)
    stem = p.name.removesuffix(".ipynb")
    matches = sorted(
        q for q in chapters_dir.glob("*.ipynb") if q.stem == stem or q.stem.split("_")[0] == stem
    )
    if len(matches) != 1:
        known = ", ".join(q.stem for q in sorted(chapters_dir.glob("[0-9]*.ipynb"))) or "none"
        raise ValueError(
            f"chapter {name!r} matches {len(matches)} notebooks in {chapters_dir}; known: {known}"
        )
    return matches[0]


def student_copy(
    nb: nbformat.NotebookNode, path: str | Path = "<notebook>"
) -> tuple[nbformat.NotebookNode, dict]:
    """``(student notebook, manifest entry)`` for one course notebook; ``nb`` is not modified."""
    exercises = find_exercises(nb, path)
    starters = {e.starter_id for e in exercises}
    out = copy.deepcopy(nb)
    removed = []
    kept = []
    for i, cell in enumerate(out.cells):
        if is_solution(cell):
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            removed.append({"index": i, "id": cell.id, "first_line": first})
            continue
        if cell.id in starters:
            cell.outputs = []
            cell.execution_count = None
        kept.append(cell)
    out.cells = kept
    out.metadata.setdefault("mmtutorial", {})["exercises"] = [e.to_dict() for e in exercises]
    out.metadata["mmtutorial"]["released_from"] = Path(path).name
    entry = {"chapter": Path(path).name, "exercises": len(exercises), "removed_cells": removed}
    return out, entry


def release(chapters: list[str], out_dir: str | Path, chapters_dir: str | Path = COURSE_DIR) -> dict:
    """Write student copies of ``chapters`` and ``release_manifest.json`` into ``out_dir``; return it.

    Raises:
        ValueError: ``out_dir`` is the course's chapters folder (releasing never touches ``chapters/``), or a
            chapter cannot be resolved.
    """
    out_dir = Path(out_dir)
    chapters_dir = Path(chapters_dir)
    if out_dir.resolve() == chapters_dir.resolve():
        raise ValueError(f"out_dir {out_dir} is the course's chapters folder; release into another folder")
    paths = [resolve_chapter(c, chapters_dir) for c in chapters]
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {"chapters": []}
    for path in paths:
        student, entry = student_copy(nbformat.read(path, as_version=4), path)
        nbformat.write(student, out_dir / path.name)
        manifest["chapters"].append(entry)
    (out_dir / "release_manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest
