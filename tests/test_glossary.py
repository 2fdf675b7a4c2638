"""The bilingual glossary: well formed, and every Chinese term in every chapter heading is in it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmtutorial import glossary

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "chapters").glob("[0-9][0-9]_*.ipynb"))
SEED = Path("/work/shared/seed")


def headings(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    lines = ("".join(c["source"]).splitlines() for c in cells if c["cell_type"] == "markdown")
    return [line for block in lines for line in block if line.lstrip().startswith("#")]


def test_table_loads_and_is_well_formed():
    terms = glossary.load_glossary()
    assert len(terms) > 150
    assert len({t.zh for t in terms}) == len(terms)
    assert glossary.english("对比学习") == "contrastive learning"
    table = glossary.glossary_table()
    assert list(table.columns) == ["中文", "English", "where"] and len(table) == len(terms)
    with pytest.raises(KeyError, match="not in the glossary"):
        glossary.english("不存在的术语")


def test_article_outline_is_covered():
    # the article's nine parts (its 1.4 outline) and every section title it has
    outline = [
        "背景介绍", "核心概念与联系", "核心算法原理与具体操作步骤", "数学模型和公式详细讲解与案例分析",
        "项目实践", "代码实例和详细解释说明", "实际应用场景", "工具和资源推荐", "未来发展趋势与挑战",
        "常见问题与解答", "附录", "总结",
    ]  # fmt: skip
    assert [t for t in outline if glossary.uncovered(t)] == []


@pytest.mark.skipif(not SEED.is_dir(), reason="the article is not in this checkout")
def test_article_headings_are_covered():
    lines = [
        l for f in SEED.glob("*.txt") for l in f.read_text(encoding="utf-8").splitlines() if l.startswith("#")
    ]
    assert lines
    missing = {l: glossary.uncovered(l.split("：")[0]) for l in lines[1:]}  # line 0 is the article's title
    assert {l: m for l, m in missing.items() if m} == {}


def test_segmentation_rules():
    assert glossary.chinese_runs("## 2.3 Pretraining and fine-tuning (预训练与微调)") == ["预训练与微调"]
    assert glossary.uncovered("对齐性、均匀性与 SigLIP") == []  # 、 splits runs; 与 joins two terms
    assert glossary.uncovered("带掩码的自注意力 未知术语") == ["未知术语"]
    assert glossary.uncovered("未知术语") == ["未知术语"]
    assert glossary.uncovered("与") == []  # a lone connective is not a term, but it is not a gap either
    with pytest.raises(ValueError, match="text must be a str"):
        glossary.chinese_runs(None)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_chinese_heading_term_is_in_the_glossary(chapter):
    missing = {h.strip(): glossary.uncovered(h) for h in headings(chapter)}
    missing = {h: m for h, m in missing.items() if m}
    assert missing == {}, (
        f"add these terms to mmtutorial/glossary.tsv: {sorted({t for m in missing.values() for t in m})}"
    )
