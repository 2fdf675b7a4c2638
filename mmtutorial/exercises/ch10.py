"""Self-checks for chapter 10 (applications: retrieval, zero-shot classification, a retrieval service)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from mmtutorial.eval import build_zero_shot_classifier, paired_positives, recall_at_k
from mmtutorial.exercises import WrongAnswer, expect

# Exercise 1: a query with P positives among G gallery items, ranked at random; recall@K.
G, P, K = 20, 3, 5


def check_chance_level(answer) -> bool:
    """Exercise 1: chance recall@5 of a query with 3 positives among 20 gallery items."""
    expect(answer is not None, "assign your probability to `answer`")
    want = 1 - math.comb(G - P, K) / math.comb(G, K)
    if abs(float(answer) - P * K / G) < 1e-6:
        raise WrongAnswer(
            "P * K / G counts a query with two positives in the top 5 twice: use the complement"
        )
    if abs(float(answer) - K / G) < 1e-6:
        raise WrongAnswer("K / G is the chance level with one positive; this query has three")
    expect(
        abs(float(answer) - want) < 1e-6, "hint: 1 - P(no positive in the top 5) = 1 - C(17, 5) / C(20, 5)"
    )
    return True


def _recall_cases() -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    ties = torch.zeros(3, 4)
    pos_ties = torch.tensor(
        [[True, False, False, False], [False, False, True, False], [False, True, False, True]]
    )
    g = torch.Generator().manual_seed(10)
    scores = torch.randint(0, 3, (12, 9), generator=g).float()
    positives = torch.rand(12, 9, generator=g) < 0.25
    positives[:, 0] |= ~positives.any(dim=1)
    cases = [(ties, pos_ties, k) for k in (1, 2, 3)] + [(scores, positives, k) for k in (1, 3, 5)]
    cases.append((torch.randn(30, 30, generator=g), paired_positives(30), 5))
    return cases


def check_recall_function(fn: Callable[[torch.Tensor, torch.Tensor, int], float]) -> bool:
    """Exercise 2: ``fn(scores (Q, G), positives bool (Q, G), k) -> float`` equals the package's recall@k,
    with several positives per query and ties broken by gallery index."""
    expect(callable(fn), "define `my_recall_at_k(scores, positives, k)` and pass the function itself")
    for i, (scores, positives, k) in enumerate(_recall_cases()):
        got = float(fn(scores.clone(), positives.clone(), k))
        want = recall_at_k(scores, positives, k)
        if abs(got - want) > 1e-6:
            hint = (
                "ties: of two items with the same score, the lower gallery index ranks first "
                "(torch.sort(..., stable=True))"
                if i < 6
                else "a query is a hit when ANY of its positives is in the top k"
            )
            raise WrongAnswer(f"case {i} (k={k}): got {got:.4f}, want {want:.4f}; {hint}")
    return True


CLASSES = ("cat", "dog", "bird")
TEMPLATES = ("a photo of a {}", "a drawing of a {}", "{}")


def exercise_encoder(texts: list[str]) -> torch.Tensor:
    """A fixed 'text encoder' for exercise 3: each text -> a seeded random vector ``(8,)`` with a norm that
    depends on the text's length (so whether you normalise before averaging matters)."""
    out = []
    for t in texts:
        seed = sum((i + 1) * ord(c) for i, c in enumerate(t)) % (2**31)
        v = torch.randn(8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        out.append(v * (1 + len(t)) ** 2)
    return torch.stack(out)


def check_prompt_ensemble(weights) -> bool:
    """Exercise 3: zero-shot class weights ``(3, 8)`` for CLASSES x TEMPLATES with ``exercise_encoder``."""
    expect(weights is not None, "assign your (3, 8) class weights to `weights`")
    weights = torch.as_tensor(weights, dtype=torch.float64)
    expect(weights.shape == (3, 8), f"one row per class: shape (3, 8), got {tuple(weights.shape)}")
    want = build_zero_shot_classifier(exercise_encoder, list(CLASSES), list(TEMPLATES)).double()
    raw = torch.stack(
        [F.normalize(exercise_encoder([t.format(c) for t in TEMPLATES]).mean(0), dim=0) for c in CLASSES]
    )
    if torch.allclose(weights, raw, atol=1e-4):
        raise WrongAnswer("normalise each prompt's embedding BEFORE averaging, then normalise the mean again")
    expect(
        torch.allclose(weights.norm(dim=1), torch.ones(3, dtype=torch.float64), atol=1e-4),
        "each class weight is a unit vector: normalise the average",
    )
    expect(torch.allclose(weights, want, atol=1e-4), "hint: normalize(mean_t normalize(encode(t(c))))")
    return True
