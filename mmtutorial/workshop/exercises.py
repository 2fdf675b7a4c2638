"""Find the exercises of a course notebook: prompt, starter cell, solution cell and the check to run.

A chapter's exercise is three cells in a row (see docs/design.md, "Anatomy of a chapter"):

    markdown  **Exercise k.** the prompt
    code      the starter the learner edits:      VAR = None  # your answer
                                                  if VAR is not None:
                                                      <check of VAR>
    code      the solution, collapsed (cell metadata jupyter.source_hidden = true)

The starter's ``if VAR is not None:`` block is the check; the grader runs it against the learner's ``VAR``.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

_NONE_ASSIGN = re.compile(r"^(\w+)\s*=\s*None\b")


@dataclass(frozen=True)
class Exercise:
    """One exercise: where it sits and what checks it.

    ``starter_id``/``solution_id`` are nbformat cell ids; ``variable`` is the name the learner assigns;
    ``check`` is the code (dedented) that raises when ``variable`` holds a wrong answer.
    """

    number: int
    starter_id: str
    solution_id: str
    variable: str
    check: str

    def to_dict(self) -> dict:
        return asdict(self)


def is_solution(cell: nbformat.NotebookNode) -> bool:
    """A collapsed code cell (``metadata.jupyter.source_hidden``): the course's solution cells."""
    return cell.cell_type == "code" and bool(cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"))


def parse_starter(source: str) -> tuple[str, str] | None:
    """``(variable, check code)`` of a starter cell, or ``None`` when it does not follow the pattern."""
    lines = source.splitlines()
    variable = None
    for line in lines:
        m = _NONE_ASSIGN.match(line)
        if m:
            variable = m.group(1)
    if variable is None:
        return None
    head = f"if {variable} is not None:"
    for i, line in enumerate(lines):
        if line.strip() == head and not line.startswith((" ", "\t")):
            body = []
            for rest in lines[i + 1 :]:
                if rest.strip() and not rest.startswith((" ", "\t")):
                    break
                body.append(rest)
            check = textwrap.dedent("\n".join(body)).strip()
            return (variable, check) if check else None
    return None


def find_exercises(nb: nbformat.NotebookNode, path: str | Path = "<notebook>") -> list[Exercise]:
    """Every exercise of a course notebook, in order.

    Raises:
        ValueError: a solution cell is not preceded by a starter cell of the pattern above (naming the
            notebook and the cell), since the grader could not check that exercise.
    """
    out = []
    for i, cell in enumerate(nb.cells):
        if not is_solution(cell):
            continue
        starter = nb.cells[i - 1] if i > 0 else None
        parsed = (
            parse_starter(starter.source) if starter is not None and starter.cell_type == "code" else None
        )
        if parsed is None:
            raise ValueError(
                f"{path}: solution cell {i} (id {cell.get('id')}) must follow a starter cell "
                "'VAR = None ...' with an 'if VAR is not None:' check block"
            )
        out.append(Exercise(len(out) + 1, starter.id, cell.id, parsed[0], parsed[1]))
    return out
