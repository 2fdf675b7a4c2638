"""The workshop kit: release strips solutions; the grader reports each exercise and survives bad notebooks."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mmtutorial.workshop import grade, grade_notebook, release, slides, student_copy
from mmtutorial.workshop.exercises import find_exercises, parse_starter
from mmtutorial.workshop.slides import external_urls

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
new_md, new_code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell

# Pure-Python checks keep kernels light (the real chapters' checks are graded in the slow test below).
STARTER_1 = "answer = None  # a float\nif answer is not None:\n    check_temperature(answer)"
SOLUTION_1 = "answer = 0.6 / math.log(10)\ncheck_temperature(answer)"
STARTER_2 = (
    "n = None  # an int\nif n is not None:\n    if n != 3:\n        raise ValueError(f'expected 3, got {n}')"
)
SOLUTION_2 = "n = 3"


def _hidden(src: str) -> nbformat.NotebookNode:
    cell = new_code(src)
    cell.metadata["jupyter"] = {"source_hidden": True}
    return cell


def course_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        new_md("# A tiny chapter 小章节"),
        new_code(
            "import math\n\ndef check_temperature(t):\n    if abs(t - 0.6 / math.log(10)) > 1e-3:\n"
            "        raise AssertionError('hint: softmax weights are proportional to exp(cos / tau)')"
        ),
        new_md("**Exercise 1.** The temperature."),
        new_code(STARTER_1),
        _hidden(SOLUTION_1),
        new_md("**Exercise 2.** Three."),
        new_code(STARTER_2),
        _hidden(SOLUTION_2),  # last: the grader must not overwrite the notebook's last cell
    ]
    return nb


def student(
    tmp_path: Path,
    fills: dict[int, str] | None = None,
    extra: dict[int, str] | None = None,
    name: str = "tiny",
) -> Path:
    """A released tiny chapter; ``fills`` replaces starter k's source, ``extra`` inserts a cell."""
    nb, _ = student_copy(course_notebook(), "tiny.ipynb")
    starters = {e["number"]: e["starter_id"] for e in nb.metadata["mmtutorial"]["exercises"]}
    for k, src in (fills or {}).items():
        next(c for c in nb.cells if c.get("id") == starters[k]).source = src
    for pos, src in sorted((extra or {}).items(), reverse=True):
        nb.cells.insert(pos, new_code(src))
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def statuses(rows) -> dict[str, str]:
    return {r.exercise: r.status for r in rows if r.exercise != "notebook"}


def test_parse_starter_finds_variable_and_check():
    assert parse_starter(STARTER_1) == ("answer", "check_temperature(answer)")
    assert parse_starter("x = 1\nprint(x)") is None


def test_student_copy_removes_solutions_and_clears_starter_outputs():
    nb = course_notebook()
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", text="old")]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="kept")]
    out, entry = student_copy(nb, "tiny.ipynb")
    sources = [c.source for c in out.cells]
    assert SOLUTION_1 not in sources and SOLUTION_2 not in sources
    assert STARTER_1 in sources and STARTER_2 in sources
    assert out.cells[3].outputs == [] and out.cells[1].outputs[0]["text"] == "kept"
    assert entry["exercises"] == 2 and [r["index"] for r in entry["removed_cells"]] == [4, 7]
    assert len(nb.cells) == 8, "the course notebook itself is not modified"


def test_a_solution_without_a_starter_is_refused():
    nb = course_notebook()
    nb.cells[3].source = "print('no pattern')"
    with pytest.raises(ValueError, match="starter cell"):
        find_exercises(nb, "tiny.ipynb")


def test_release_of_real_chapters_never_touches_them(tmp_path):
    names = sorted(p.name for p in CHAPTERS.glob("0[0-5]_*.ipynb"))
    before = {n: hashlib.sha256((CHAPTERS / n).read_bytes()).hexdigest() for n in names}
    manifest = release([n.split("_")[0] for n in names], tmp_path / "out", chapters_dir=CHAPTERS)
    after = {n: hashlib.sha256((CHAPTERS / n).read_bytes()).hexdigest() for n in names}
    assert before == after
    for entry in manifest["chapters"]:
        released = nbformat.read(tmp_path / "out" / entry["chapter"], as_version=4)
        assert entry["exercises"] >= 2
        assert not any(c.get("metadata", {}).get("jupyter", {}).get("source_hidden") for c in released.cells)
        assert len(released.metadata["mmtutorial"]["exercises"]) == entry["exercises"]
    assert (tmp_path / "out" / "release_manifest.json").is_file()
    with pytest.raises(ValueError, match="chapters folder"):
        release(["05"], CHAPTERS, chapters_dir=CHAPTERS)
    with pytest.raises(ValueError, match="matches 0"):
        release(["99"], tmp_path / "x", chapters_dir=CHAPTERS)


@pytest.mark.slow
def test_grade_blank_solved_wrong(tmp_path):
    blank = grade_notebook(student(tmp_path / "a"), cell_timeout=60)
    assert statuses(blank) == {"1": "not attempted", "2": "not attempted"}
    solved = grade_notebook(student(tmp_path / "b", {1: SOLUTION_1, 2: SOLUTION_2}), cell_timeout=60)
    assert statuses(solved) == {"1": "passed", "2": "passed"}
    wrong = grade_notebook(student(tmp_path / "c", {1: "answer = 1.0", 2: "n = 4"}), cell_timeout=60)
    assert statuses(wrong) == {"1": "failed", "2": "failed"}
    msgs = {r.exercise: r.message for r in wrong}
    assert "softmax" in msgs["1"] and "expected 3, got 4" in msgs["2"]


@pytest.mark.slow
def test_grade_survives_hang_crash_and_escape(tmp_path):
    hang = student(tmp_path / "hang", {2: SOLUTION_2}, extra={2: "import time\ntime.sleep(60)"}, name="hang")
    crash = student(tmp_path / "crash", {1: SOLUTION_1}, extra={5: "import os\nos._exit(1)"}, name="crash")
    outside = tmp_path / "secret.txt"
    outside.write_text("do not read")
    escape = student(
        tmp_path / "escape",
        {1: SOLUTION_1, 2: SOLUTION_2},
        extra={
            2: f"try:\n    open({str(outside)!r}).read()\nexcept PermissionError:\n    pass\n"
            f"open({str(tmp_path / 'written.txt')!r}, 'w')"
        },  # fmt: skip
        name="escape",
    )
    rows = grade(
        [hang, crash, escape, tmp_path / "missing.ipynb"], out=tmp_path / "report.csv", cell_timeout=20
    )
    hang_rows, crash_rows, escape_rows = (
        [r for r in rows if r.notebook == f"{n}.ipynb"] for n in ("hang", "crash", "escape")
    )
    assert statuses(hang_rows) == {"1": "errored earlier", "2": "errored earlier"}
    assert any(r.status == "timed out" for r in hang_rows)
    assert statuses(crash_rows)["1"] == "passed" and statuses(crash_rows)["2"] == "errored earlier"
    assert any(r.status == "kernel died" for r in crash_rows)
    refused = [r.message for r in escape_rows if r.status == "sandbox"]
    assert any("secret.txt" in m for m in refused) and any("written.txt" in m for m in refused)
    assert not (tmp_path / "written.txt").exists()
    assert any(r.notebook == "missing.ipynb" and r.status == "grader error" for r in rows)
    assert (tmp_path / "report.csv").read_text().startswith("notebook,exercise,status,message")


def test_slides_are_one_offline_file(tmp_path):
    out = slides(CHAPTERS / "05_contrastive_math.ipynb", tmp_path / "s.html")
    html = out.read_text()
    assert external_urls(html) == []
    assert "Reveal.initialize" in html and html.count("<section") > 5
    assert "<details>" in html, "long code cells are folded"


def test_workshop_cli_help():
    out = subprocess.run(
        [sys.executable, "-m", "mmtutorial.workshop.cli", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "release" in out.stdout and "grade" in out.stdout


# Wrong answers of the kind tests/test_exercises_ch05.py feeds the checks (keyed by the check's name).
WRONG_CH05 = {
    "check_logit_gradient": "answer = L5.softmax(dim=1) - torch.eye(4, dtype=torch.float64)  # forgot / N",
    "check_temperature": "answer = 0.6 / 10",
    "check_uniformity": "answer = 0.5",
}


@pytest.mark.slow
def test_grade_a_released_chapter_three_classes(tmp_path):
    """Chapter 05 released, then filled with the course's own solutions, left blank, or filled wrongly."""
    release(["05"], tmp_path / "handout", chapters_dir=CHAPTERS)
    course = nbformat.read(CHAPTERS / "05_contrastive_math.ipynb", as_version=4)
    by_id = {c.get("id"): c for c in course.cells}
    released = tmp_path / "handout" / "05_contrastive_math.ipynb"
    exercises = nbformat.read(released, as_version=4).metadata["mmtutorial"]["exercises"]

    def filled(kind: str) -> Path:
        nb = nbformat.read(released, as_version=4)
        for ex in exercises:
            cell = next(c for c in nb.cells if c.get("id") == ex["starter_id"])
            if kind == "solved":
                cell.source += "\n" + by_id[ex["solution_id"]].source
            elif kind == "wrong":
                name = next((k for k in WRONG_CH05 if k in ex["check"]), None)
                cell.source += "\n" + (WRONG_CH05[name] if name else f"{ex['variable']} = object()")
        (tmp_path / kind).mkdir()
        nbformat.write(nb, tmp_path / kind / released.name)
        return tmp_path / kind / released.name

    n = len(exercises)
    report = {kind: grade_notebook(filled(kind), cell_timeout=300) for kind in ("solved", "blank", "wrong")}
    assert list(statuses(report["solved"]).values()) == ["passed"] * n
    assert list(statuses(report["blank"]).values()) == ["not attempted"] * n
    assert list(statuses(report["wrong"]).values()) == ["failed"] * n
    assert all(r.message for r in report["wrong"])
    assert not [r for rows in report.values() for r in rows if r.exercise == "notebook"], "no sandbox events"
