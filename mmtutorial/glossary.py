"""The course's bilingual glossary (中英术语表), kept as package data in ``glossary.tsv``.

>>> from mmtutorial.glossary import english, glossary_table
>>> english("对比学习")
'contrastive learning'

:func:`uncovered` finds the Chinese words of a text (a chapter heading) that the glossary cannot account for:
each run of Chinese characters must split into glossary terms joined by connectives (与, 和, 及, 的, 之).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

TABLE_PATH = Path(__file__).with_name("glossary.tsv")
CONNECTIVES = frozenset("与和及的之")  # words that join two terms: "预训练与微调", "带掩码的自注意力"
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Term:
    """One glossary entry: the Chinese term, its English rendering, and where it appears (article section
    number such as ``"3.2.2"``, or ``"course"`` for terms the chapters add)."""

    zh: str
    en: str
    where: str


@functools.cache
def load_glossary() -> tuple[Term, ...]:
    """Every entry of ``glossary.tsv`` in file order; ``ValueError`` on a malformed or repeated line."""
    terms, seen = [], set()
    for n, line in enumerate(TABLE_PATH.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not all(f.strip() for f in fields):
            raise ValueError(f"glossary.tsv line {n} must be 'zh<TAB>en<TAB>where', got {line!r}")
        zh, en, where = (f.strip() for f in fields)
        if not _CJK_RUN.fullmatch(zh):
            raise ValueError(
                f"glossary.tsv line {n}: the Chinese term must be Chinese characters only, got {zh!r}"
            )
        if zh in seen:
            raise ValueError(f"glossary.tsv line {n}: {zh!r} is listed twice")
        seen.add(zh)
        terms.append(Term(zh, en, where))
    return tuple(terms)


def english(zh: str) -> str:
    """The English for a Chinese term; ``KeyError`` naming the term if the glossary lacks it."""
    for t in load_glossary():
        if t.zh == zh:
            return t.en
    raise KeyError(f"{zh!r} is not in the glossary ({TABLE_PATH.name})")


def chinese_runs(text: str) -> list[str]:
    """Maximal runs of Chinese characters: "2.3 预训练与微调 (Pretraining)" -> ["预训练与微调"]."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    return _CJK_RUN.findall(text)


def _splits(run: str, vocabulary: frozenset[str]) -> bool:
    # can[i]: run[:i] splits into glossary terms and connectives (dynamic programming over end positions)
    can = [True] + [False] * len(run)
    for end in range(1, len(run) + 1):
        for start in range(end):
            if can[start] and (
                run[start:end] in vocabulary or (end - start == 1 and run[start] in CONNECTIVES)
            ):
                can[end] = True
                break
    return can[-1]


def uncovered(text: str) -> list[str]:
    """The Chinese runs of ``text`` that do not split into glossary terms joined by connectives."""
    vocabulary = frozenset(t.zh for t in load_glossary())
    return [run for run in chinese_runs(text) if not _splits(run, vocabulary)]


def glossary_table():
    """The glossary as a ``pandas.DataFrame`` with columns 中文, English, where."""
    import pandas as pd

    return pd.DataFrame(
        [(t.zh, t.en, t.where) for t in load_glossary()], columns=["中文", "English", "where"]
    )
