"""``python -m mmtutorial workshop release|grade|slides``: the workshop kit from a shell."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from mmtutorial.workshop.release import COURSE_DIR

EXAMPLES = """examples:
  python -m mmtutorial workshop release 05 07 --out handout/
  python -m mmtutorial workshop grade submissions/*/05_contrastive_math.ipynb --out report.csv
  python -m mmtutorial workshop slides 05 --out slides/05.html
"""


def _chapters_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    here = Path.cwd() / "chapters"
    return here if here.is_dir() else COURSE_DIR


def _fill(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="workshop_command", required=True)
    r = sub.add_parser("release", help="student copies: solutions removed, exercise outputs cleared")
    r.add_argument("chapters", nargs="+", help="chapter numbers, names or notebook paths (e.g. 05)")
    r.add_argument("--out", required=True, help="folder for the student notebooks (never chapters/)")
    r.add_argument("--chapters-dir", help="the course's chapters folder (default: ./chapters)")
    g = sub.add_parser("grade", help="run student notebooks and check every exercise")
    g.add_argument("notebooks", nargs="+", help="released notebooks filled in by students")
    g.add_argument("--out", help="write the report as CSV")
    g.add_argument("--cell-timeout", type=float, default=120.0, help="seconds per cell (default 120)")
    s = sub.add_parser("slides", help="reveal.js slides, one offline HTML file")
    s.add_argument("chapter", help="chapter number, name or notebook path")
    s.add_argument("--out", required=True, help="the HTML file to write")
    s.add_argument("--chapters-dir", help="the course's chapters folder (default: ./chapters)")
    p.set_defaults(func=run)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``workshop`` on the main command line's subparsers."""
    kw = dict(description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _fill(sub.add_parser("workshop", help="release student notebooks, grade them, make slides", **kw))


def build_parser(prog: str = "mmtutorial workshop") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _fill(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``workshop`` command; 0 on success, 2 on a refused input."""
    try:
        if args.workshop_command == "release":
            from mmtutorial.workshop.release import release

            manifest = release(args.chapters, args.out, _chapters_dir(args.chapters_dir))
            for e in manifest["chapters"]:
                removed = len(e["removed_cells"])
                print(f"{e['chapter']}: {e['exercises']} exercises, {removed} solution cells removed")
            print(f"wrote {args.out}/ and {args.out}/release_manifest.json")
        elif args.workshop_command == "grade":
            from mmtutorial.workshop.grade import grade

            rows = grade(args.notebooks, out=args.out, cell_timeout=args.cell_timeout)
            for r in rows:
                print(f"{r.notebook:32s} {r.exercise:>8s}  {r.status:15s} {r.message[:100]}")
            print(dict(Counter(r.status for r in rows)))
        else:
            from mmtutorial.workshop.release import resolve_chapter
            from mmtutorial.workshop.slides import slides

            out = slides(resolve_chapter(args.chapter, _chapters_dir(args.chapters_dir)), args.out)
            print(f"wrote {out}")
    except ValueError as e:
        print(f"error: {e}")
        return 2
    return 0


def main(argv: list[str] | None = None, prog: str = "mmtutorial workshop") -> int:
    """Parse ``argv`` and run it (``python -m mmtutorial.workshop.cli``)."""
    return run(build_parser(prog).parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main(prog="python -m mmtutorial.workshop.cli"))
