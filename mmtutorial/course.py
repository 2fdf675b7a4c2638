"""The course map, in one place: every chapter's number, file, titles and article section.

The README's chapter table (:func:`readme_table`) and each chapter's "where this chapter sits / what comes
next" lines (:func:`where`) are rendered from :data:`CHAPTERS`, so a title or a section number changes
here once.

>>> from mmtutorial.course import chapter, where
>>> chapter(4).file
'chapters/04_fusion.ipynb'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chapter:
    """One chapter of the course.

    ``section`` is the article's section number ("-" for a chapter of our own); ``title_zh`` the article's
    Chinese title of that section; ``does`` one line of what the learner does.
    """

    number: int
    stem: str
    title: str
    section: str
    title_zh: str
    does: str

    @property
    def name(self) -> str:
        """The notebook's file name without extension, e.g. ``04_fusion``."""
        return f"{self.number:02d}_{self.stem}"

    @property
    def file(self) -> str:
        """The notebook's path from the repository root."""
        return f"chapters/{self.name}.ipynb"

    @property
    def heading(self) -> str:
        """The chapter's title as its notebook writes it, e.g. ``4 · Multimodal fusion (3.2.2 模态融合)``."""
        zh = self.title_zh if self.section == "-" else f"{self.section} {self.title_zh}"
        return f"{self.number} · {self.title} ({zh})"


CHAPTERS: tuple[Chapter, ...] = (
    Chapter(
        0,
        "setup",
        "Setup: your environment and how chapters are checked",
        "-",
        "环境准备",
        "checks the environment, learns how chapters are checked, tours the package, meets the data",
    ),
    Chapter(
        1,
        "background",
        "Background: why multimodal models",
        "1",
        "背景介绍",
        "sees one scene as image, caption, sound and video; CLIP / Flamingo / data2vec; the four limitations",
    ),
    Chapter(
        2,
        "core_concepts",
        "Core concepts and how they connect",
        "2",
        "核心概念与联系",
        "one checked demo per concept: modality, multimodal learning, pretraining/fine-tuning, transfer, "
        "attention, contrastive, multi-task",
    ),
    Chapter(
        3,
        "encoders",
        "Modality encoders",
        "3.2.1",
        "模态特征提取",
        "builds text, image, audio and video encoders; probes offline pretrained MiniLM and "
        "EfficientNet-Lite0",
    ),
    Chapter(
        4,
        "fusion",
        "Multimodal fusion",
        "3.2.2",
        "模态融合",
        "compares concatenation, attention, gated, interactive fusion and more on a task that needs "
        "interaction",
    ),
    Chapter(
        5,
        "contrastive_math",
        "The mathematics of contrastive learning",
        "3.2.4 + 4",
        "对比学习 · 数学模型和公式详细讲解",
        "derives InfoNCE/CLIP, SigLIP and NT-Xent and their gradients; trains a two-tower model",
    ),
    Chapter(
        6,
        "efficient_contrastive",
        "Efficient contrastive losses: the N × N memory wall",
        "1.2",
        "计算资源要求高",
        "the N x N memory wall, online log-sum-exp, the chunked loss and the Triton kernel",
    ),
    Chapter(
        7,
        "multitask",
        "Multi-task learning",
        "3.2.3",
        "多任务学习",
        "hard, soft, hierarchical sharing and MMoE; gradient conflict; loss weighting and gradient surgery "
        "against the plain sum",
    ),
    Chapter(
        8,
        "finetuning",
        "Pretraining and fine-tuning",
        "3.2.5",
        "迁移学习",
        "pretrains (contrastive, data2vec), then full / partial / layer-wise / LoRA / LP-FT / WiSE-FT, "
        "compared in and out of distribution",
    ),
    Chapter(
        9,
        "project",
        "Project practice: train, evaluate, resume, scale",
        "5",
        "项目实践",
        "trains a two-tower CLIP from a shell with a config, evaluates retrieval, resumes from a checkpoint, "
        "runs on 2 processes with torchrun",
    ),
    Chapter(
        10,
        "applications",
        "Applications: zero-shot classification, any-to-any retrieval, VQA and a retrieval service",
        "6",
        "实际应用场景",
        "zero-shot classification, text/audio/video-to-image retrieval, captioning by retrieval, VQA, "
        "a FAISS retrieval service",
    ),
    Chapter(
        11,
        "limits",
        "Limits: interpretability and robustness",
        "1.2, 3.3",
        "局限性 · 算法优缺点",
        "interpretability (attention, saliency, modality attribution) and robustness (adversarial, missing "
        "modality)",
    ),
    Chapter(
        12,
        "resources_summary_faq",
        "Tools, trends and answers",
        "7, 8, 9",
        "工具和资源推荐 · 总结 · 常见问题与解答",
        "tools and resources, trends and challenges, an FAQ with runnable answers, a bilingual glossary",
    ),
)


def chapter(number: int) -> Chapter:
    """The chapter with this number (0-12); ``ValueError`` for any other."""
    for ch in CHAPTERS:
        if ch.number == number:
            return ch
    raise ValueError(f"number: no chapter {number!r}; the course has chapters 0-{CHAPTERS[-1].number}")


def readme_table() -> str:
    """The README's chapter table (markdown): one row per chapter, linked to its notebook."""
    rows = [
        "| chapter | article section | what you do |",
        "|---|---|---|",
    ]
    for ch in CHAPTERS:
        section = "-" if ch.section == "-" else f"{ch.section} {ch.title_zh}"
        rows.append(f"| [{ch.name}]({ch.file}) {ch.title} | {section} | {ch.does} |")
    return "\n".join(rows) + "\n"


def where(number: int) -> str:
    """Where chapter ``number`` sits in the course and what comes next: three lines of plain text."""
    ch = chapter(number)
    last = CHAPTERS[-1].number
    lines = [f"Where this chapter sits (本章位置): chapter {ch.number} of 0-{last}, {ch.heading}."]
    if number > 0:
        prev = chapter(number - 1)
        lines.append(f"Before it: chapter {prev.number}, {prev.title} ({prev.name}).")
    if number < CHAPTERS[-1].number:
        nxt = chapter(number + 1)
        lines.append(f"Next: chapter {nxt.number}, {nxt.title} ({nxt.name}): {nxt.does}.")
    else:
        lines.append("This is the last chapter.")
    return "\n".join(lines)


def print_where(number: int) -> None:
    """Print :func:`where` (what a chapter's first code cell calls)."""
    print(where(number))
