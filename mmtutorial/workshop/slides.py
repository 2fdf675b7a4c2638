"""reveal.js slides from a chapter through nbconvert, as one HTML file that opens offline.

Headings become slides (``#``/``##`` a new slide, ``###`` and below a sub-slide), long code cells are folded
into a ``<details>`` element, and reveal.js (MIT, carried by the ``sphinx-revealjs`` package) is inlined in
place of nbconvert's CDN links. Formulas show as their TeX source (MathJax is not inlined).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup
from nbconvert import SlidesExporter

FOLD_LINES = 12


def _reveal_dir() -> Path:
    import sphinx_revealjs

    return Path(sphinx_revealjs.__file__).parent / "_static" / "revealjs"


def mark_slides(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose headings start slides (``slideshow.slide_type`` metadata)."""
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        first = cell.source.lstrip().split("\n", 1)[0] if cell.cell_type == "markdown" else ""
        level = len(first) - len(first.lstrip("#")) if first.startswith("#") else 0
        kind = "slide" if level in (1, 2) or i == 0 else "subslide" if level >= 3 else "-"
        cell.metadata["slideshow"] = {"slide_type": kind}
    return nb


def _offline(html: str) -> str:
    """Replace nbconvert's CDN scripts and styles with inlined reveal.js; fold long code cells."""
    reveal = _reveal_dir()
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all("script", src=True):
        tag.decompose()  # jQuery, require.js, MathJax from CDNs
    for tag in soup.find_all("script"):
        text = tag.string or ""
        if "mermaid" in text or "require(" in text or "MathJax" in text:
            tag.decompose()
    for link in soup.find_all("link", rel="stylesheet"):
        href = link.get("href", "")
        name = (
            "theme/white.css" if "/theme/" in href else "reveal.css" if href.endswith("reveal.css") else None
        )
        if name is None:
            link.decompose()
            continue
        style = soup.new_tag("style")
        style.string = (reveal / "dist" / name).read_text()
        link.replace_with(style)
    for cell in soup.select("div.jp-CodeCell"):
        area = cell.select_one("div.jp-InputArea")
        pre = area.select_one("pre") if area else None
        n = len(pre.get_text().splitlines()) if pre else 0
        if n > FOLD_LINES:
            details = soup.new_tag("details")
            summary = soup.new_tag("summary")
            summary.string = f"code ({n} lines)"
            details.append(summary)
            area.wrap(details)
            details.insert(0, summary)
    script = soup.new_tag("script")
    script.string = (reveal / "dist" / "reveal.js").read_text()
    init = soup.new_tag("script")
    init.string = "Reveal.initialize({controls: true, progress: true, history: true, hash: true});"
    soup.body.append(script)
    soup.body.append(init)
    return str(soup)


def slides(chapter: str | Path, out: str | Path) -> Path:
    """Write the chapter's slides to ``out`` (one self-contained HTML file) and return its path."""
    chapter, out = Path(chapter), Path(out)
    if not chapter.is_file():
        raise ValueError(f"chapter must be a notebook file, got {chapter}")
    nb = mark_slides(nbformat.read(chapter, as_version=4))
    html, _ = SlidesExporter().from_notebook_node(nb, resources={"metadata": {"name": chapter.stem}})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_offline(html))
    return out


def external_urls(html: str) -> list[str]:
    """Every http(s) URL the page would load (scripts, styles, images): empty for an offline page."""
    soup = BeautifulSoup(html, "html.parser")
    urls = [t.get("src", "") for t in soup.find_all(["script", "img"])]
    urls += [t.get("href", "") for t in soup.find_all("link")]
    return [u for u in urls if re.match(r"https?://", u)]
