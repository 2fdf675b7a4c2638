"""Self-checks for chapter 12 (tools, trends, FAQ and the glossary)."""

from __future__ import annotations

import math

from mmtutorial.exercises import WrongAnswer, expect
from mmtutorial.glossary import english


def check_collapsed_loss(answer) -> bool:
    """Exercise 1: CLIP loss of N = 1024 pairs whose embeddings all equal one unit vector."""
    expect(answer is not None, "assign your loss to `answer`")
    value = float(answer)
    if abs(value - math.log2(1024)) < 1e-6:
        raise WrongAnswer("cross-entropy uses the natural logarithm: log, not log2")
    if abs(value) < 1e-6:
        raise WrongAnswer("identical embeddings do not make the loss zero: every pair looks equally likely")
    expect(abs(value - math.log(1024)) < 1e-6, "hint: every logit is equal, so the softmax is uniform over N")
    return True


def check_uncertainty_weights(weights) -> bool:
    """Exercise 2: uncertainty weighting's weights ``exp(-s) / 2`` at its optimum for L = (4, 0.01)."""
    expect(weights is not None, "assign your two weights to `weights`")
    w = [float(x) for x in weights]
    expect(len(w) == 2, f"one weight per task: two floats, got {len(w)}")
    if abs(w[0] - 1 / 4.0) < 1e-6 and abs(w[1] - 1 / 0.01) < 1e-6:
        raise WrongAnswer("close: the objective has a factor 1/2, so the weight is exp(-s) / 2 = 1 / (2 L)")
    if abs(w[0] - 2.0) < 1e-6:
        raise WrongAnswer("the weight falls as the loss grows: exp(-s) = 1 / L at the optimum")
    expect(
        all(abs(a - b) < 1e-6 for a, b in zip(w, (1 / 8.0, 1 / 0.02), strict=True)),
        "hint: set d/ds (exp(-s) L + s) = 0",
    )
    return True


def check_glossary_lookup(answer) -> bool:
    """Exercise 3: the English of 微调阶段, 迁移学习, 分布外 from the course glossary."""
    expect(answer is not None, "assign a list of three English strings to `answer`")
    answer = [str(a).strip().lower() for a in answer]
    want = [english(t).lower() for t in ("微调阶段", "迁移学习", "分布外")]
    expect(len(answer) == 3, f"three terms, got {len(answer)}")
    expect(answer == want, "hint: mmtutorial.glossary.english(term) for each term, in order")
    return True
