"""Grade released notebooks: run each top to bottom in a fresh kernel, then check every exercise.

Per exercise the report says ``passed``, ``failed`` (with the check's message), ``not attempted`` (the
answer is still ``None``, or the learner's function raises ``NotImplementedError``) or ``errored earlier``
(a cell before it raised, timed out or killed the kernel, so its state cannot be trusted). Notebook-level
events (a cell over the time limit, a dead kernel, file access outside the notebook's folder) get rows of
their own. One bad notebook never stops the others.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

MARK = "__MMTUTORIAL_GRADE__"
STATUSES = ("passed", "failed", "not attempted", "errored earlier")


@dataclass
class Row:
    """One line of the report: ``exercise`` is a number, or ``"notebook"`` for notebook-level events."""

    notebook: str
    exercise: str
    status: str
    message: str = ""


def _grading_code(variable: str, check: str) -> str:
    return f"""
import json as _mm_json
if globals().get({variable!r}) is None:
    _mm_r = {{"status": "not attempted", "message": "{variable} is still None"}}
else:
    try:
        exec(compile({check!r}, "<check>", "exec"), globals())
        _mm_r = {{"status": "passed", "message": ""}}
    except NotImplementedError as _mm_e:
        _mm_r = {{"status": "not attempted", "message": "NotImplementedError: " + str(_mm_e)}}
    except BaseException as _mm_e:
        _mm_r = {{"status": "failed", "message": type(_mm_e).__name__ + ": " + str(_mm_e)}}
print({MARK!r} + _mm_json.dumps(_mm_r))
"""


def _marked(cell: nbformat.NotebookNode) -> dict | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            for line in out.get("text", "").splitlines():
                if line.startswith(MARK):
                    return json.loads(line[len(MARK) :])
    return None


def _error(cell: nbformat.NotebookNode) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {out.get('evalue')}"
    return None


def _run_ours(client: NotebookClient, cell: nbformat.NotebookNode, timeout: float) -> None:
    """Run one of the grader's own cells (sandbox, checks) under its own, generous time limit.

    nbclient stores an executed cell at ``nb.cells[cell_index]``, so ours go to a scratch slot appended after
    the learner's cells (an index of -1 would overwrite the notebook's last cell).
    """
    learner_limit, client.timeout = client.timeout, timeout
    try:
        client.execute_cell(cell, len(client.nb.cells) - 1)
    finally:
        client.timeout = learner_limit


def grade_notebook(
    path: str | Path, cell_timeout: float = 120.0, kernel_name: str = "python3", check_timeout: float = 300.0
) -> list[Row]:
    """Run ``path`` in a fresh kernel (cwd = its folder) and return one row per exercise plus any events.

    Raises:
        ValueError: naming ``path`` when it is not a released notebook (no ``metadata.mmtutorial.exercises``).
    """
    path = Path(path)
    if cell_timeout <= 0:
        raise ValueError(f"cell_timeout must be > 0 seconds, got {cell_timeout}")
    nb = nbformat.read(path, as_version=4)
    exercises = nb.metadata.get("mmtutorial", {}).get("exercises")
    if exercises is None:
        raise ValueError(
            f"{path} is not a released notebook (no metadata.mmtutorial.exercises): use `release`"
        )
    name = path.name
    rows: dict[int, Row] = {}
    index = {cell.get("id"): i for i, cell in enumerate(nb.cells)}
    grade_at: dict[int, list[dict]] = {}  # cell index after which to grade -> exercises
    for ex in exercises:
        i = index.get(ex["starter_id"])
        if i is None:
            rows[ex["number"]] = Row(name, str(ex["number"]), "not attempted", "the starter cell was deleted")
            continue
        j = i
        while j + 1 < len(nb.cells) and nb.cells[j + 1].cell_type != "markdown":
            j += 1  # cells the learner added below the starter belong to the exercise
        grade_at.setdefault(j, []).append(ex)
    starters = {ex["starter_id"] for ex in exercises}
    learner_cells = list(nb.cells)
    nb.cells.append(nbformat.v4.new_code_cell(""))  # the scratch slot of the grader's own cells

    events: list[Row] = []
    earlier: str | None = None  # the first failure outside the exercises' own cells
    with tempfile.TemporaryDirectory(prefix="mmtutorial-grade-") as tmp:
        caches = {"TORCHINDUCTOR_CACHE_DIR": f"{tmp}/inductor", "TRITON_CACHE_DIR": f"{tmp}/triton"}
        env = {**os.environ, "TMPDIR": tmp, "MPLBACKEND": "Agg", **caches}
        client = NotebookClient(
            nb,
            timeout=cell_timeout,
            kernel_name=kernel_name,
            allow_errors=True,
            interrupt_on_timeout=False,
            resources={"metadata": {"path": str(path.parent)}},
        )
        install = f"_mm_sb.install({str(path.parent.resolve())!r}, {tmp!r})"
        try:
            with client.setup_kernel(env=env):
                guard = nbformat.v4.new_code_cell(
                    "from mmtutorial.workshop import sandbox as _mm_sb\n" + install
                )
                _run_ours(client, guard, check_timeout)
                if _error(guard):
                    raise RuntimeError(f"could not install the sandbox: {_error(guard)}")
                for i, cell in enumerate(learner_cells):
                    if cell.cell_type == "code":
                        try:
                            client.execute_cell(cell, i)
                        except CellTimeoutError:
                            earlier = earlier or f"cell {i} ran past {cell_timeout:g} s"
                            events.append(
                                Row(name, "notebook", "timed out", f"cell {i} ran past {cell_timeout:g} s")
                            )
                            break
                        err = _error(cell)
                        if err and cell.get("id") not in starters and earlier is None:
                            earlier = f"cell {i} raised {err}"
                    for ex in grade_at.get(i, []):
                        if earlier is not None:
                            rows[ex["number"]] = Row(name, str(ex["number"]), "errored earlier", earlier)
                            continue
                        probe = nbformat.v4.new_code_cell(_grading_code(ex["variable"], ex["check"]))
                        _run_ours(client, probe, check_timeout)
                        result = _marked(probe) or {"status": "failed", "message": f"grader: {_error(probe)}"}
                        rows[ex["number"]] = Row(name, str(ex["number"]), result["status"], result["message"])
                report = nbformat.v4.new_code_cell(
                    f"print({MARK!r} + __import__('json').dumps(_mm_sb.violations))"
                )
                _run_ours(client, report, check_timeout)
                for v in _marked(report) or []:
                    events.append(Row(name, "notebook", "sandbox", f"refused {v['action']} of {v['path']}"))
        except CellTimeoutError as e:
            earlier = earlier or "the grader's own cell timed out"
            events.append(Row(name, "notebook", "timed out", f"grader cell: {e}"))
        except DeadKernelError as e:
            earlier = earlier or "the kernel died"
            events.append(Row(name, "notebook", "kernel died", str(e).splitlines()[0] if str(e) else ""))
        except Exception as e:  # a broken notebook is reported, never fatal to the rest
            earlier = earlier or f"{type(e).__name__}: {e}"
            events.append(Row(name, "notebook", "grader error", f"{type(e).__name__}: {e}"))
    for ex in exercises:
        rows.setdefault(
            ex["number"], Row(name, str(ex["number"]), "errored earlier", earlier or "not reached")
        )
    return [rows[n] for n in sorted(rows)] + events


def grade(paths: list[str | Path], out: str | Path | None = None, cell_timeout: float = 120.0) -> list[Row]:
    """Grade every notebook in ``paths``; write the rows to the CSV ``out`` when given."""
    rows: list[Row] = []
    for p in paths:
        try:
            rows += grade_notebook(p, cell_timeout=cell_timeout)
        except (ValueError, OSError) as e:
            rows.append(Row(Path(p).name, "notebook", "grader error", str(e)))
    if out is not None:
        with open(out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["notebook", "exercise", "status", "message"])
            w.writeheader()
            w.writerows(asdict(r) for r in rows)
    return rows
