"""The course map and the chapters agree: Chinese in every heading, importable package names, README table."""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

from mmtutorial import course

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
HEADING = re.compile(r"^#{1,4}\s")


def _cells(path: Path, kind: str) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def _headings(path: Path) -> list[str]:
    out, fenced = [], False
    for cell in _cells(path, "markdown"):
        for line in cell.splitlines():
            if line.lstrip().startswith("```"):
                fenced = not fenced
            elif not fenced and HEADING.match(line):
                out.append(line.strip())
    return out


def _code(path: Path) -> str:
    """The chapter's code cells as one Python module (IPython magics and shell lines blanked)."""
    lines = []
    for cell in _cells(path, "code"):
        for line in cell.splitlines():
            lines.append("" if line.lstrip().startswith(("%", "!")) else line)
    return "\n".join(lines)


def mmtutorial_names(source: str) -> set[str]:
    """Dotted ``mmtutorial`` names a piece of code imports or uses, e.g. ``mmtutorial.fusion.FUSIONS``."""
    tree = ast.parse(source)
    names: set[str] = set()
    aliases: dict[str, str] = {}  # local name -> dotted module path
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mmtutorial":
            for a in node.names:
                names.add(f"{node.module}.{a.name}")
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "mmtutorial":
                    names.add(a.name)
                    if a.asname:
                        aliases[a.asname] = a.name
                    else:
                        aliases["mmtutorial"] = "mmtutorial"
    for node in ast.walk(tree):
        # the longest attribute chain rooted at an alias: m.a.b -> module.a.b
        if isinstance(node, ast.Attribute):
            chain, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in aliases:
                names.add(".".join([aliases[value.id], *reversed(chain)]))
    return names


def resolve(dotted: str) -> object:
    """Import the longest importable module prefix of ``dotted``, then walk the attributes that remain."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_mmtutorial_names_are_found():
    src = (
        "from mmtutorial.fusion import FUSIONS, build as b\n"
        "import mmtutorial.losses as L\n"
        "import mmtutorial\n"
        "x = L.reference.clip_loss(a, b)\n"
        "mmtutorial.course.where(1)\n"
    )
    got = mmtutorial_names(src)
    want = {"mmtutorial.fusion.FUSIONS", "mmtutorial.fusion.build", "mmtutorial.losses.reference.clip_loss"}
    assert want <= got
    assert "mmtutorial.course.where" in got
    with pytest.raises(AttributeError):
        resolve("mmtutorial.course.no_such_name")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_heading_carries_chinese(path):
    headings = _headings(path)
    assert headings, f"{path.name} has no headings"
    missing = [h for h in headings if not CJK.search(h)]
    assert not missing, f"{path.name}: headings without their Chinese title: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_mmtutorial_name_a_chapter_uses_is_importable(path):
    broken = []
    for name in sorted(mmtutorial_names(_code(path))):
        try:
            resolve(name)
        except (ImportError, AttributeError) as e:
            broken.append(f"{name} ({type(e).__name__}: {e})")
    assert not broken, f"{path.name} uses names the package does not have: {broken}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_is_on_the_course_map(path):
    number = int(path.name[:2])
    ch = course.chapter(number)
    assert path.name == Path(ch.file).name, f"{path.name}: the course map calls chapter {number} {ch.file}"
    title = _headings(path)[0]
    assert title.startswith("# ") and ch.title_zh.split(" · ")[0] in title, (
        f"{path.name}: title {title!r} does not carry the course map's Chinese title {ch.title_zh!r}"
    )


def test_course_map_is_complete_and_numbered():
    assert [ch.number for ch in course.CHAPTERS] == list(range(13))
    for ch in course.CHAPTERS:
        assert CJK.search(ch.title_zh), ch
        assert ch.title and ch.does and ch.section
    with pytest.raises(ValueError, match="number"):
        course.chapter(13)
    assert "Next: chapter 5" in course.where(4)
    assert "last chapter" in course.where(12)


def test_readme_chapter_table_is_rendered_from_the_course_map():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert course.readme_table() in readme, "README's chapter table differs from course.readme_table()"
