"""Retrieval recall@k: hand-built cases with several positives per query, ties, chance levels, directions."""

from __future__ import annotations

import math

import pytest
import torch

from mmtutorial.eval import (
    best_positive_rank,
    chance_recall_at_k,
    cross_modal_retrieval,
    paired_positives,
    positives_from_labels,
    recall_at_k,
    retrieval_report,
)


def naive_recall(scores: torch.Tensor, positives: torch.Tensor, k: int) -> float:
    """Readable reference: rank of g = #items scoring higher + #items scoring equal with a lower index."""
    hits = 0
    for q in range(scores.shape[0]):
        best = min(
            sum(
                1
                for h in range(scores.shape[1])
                if scores[q, h] > scores[q, g] or (scores[q, h] == scores[q, g] and h < g)
            )
            for g in range(scores.shape[1])
            if positives[q, g]
        )
        hits += best < k
    return hits / scores.shape[0]


def test_hand_built_several_positives():
    scores = torch.tensor(
        [
            [0.9, 0.8, 0.1, 0.7, 0.2],  # positives 1, 4: ranks 1 and 3 -> hit from k=2
            [0.1, 0.2, 0.3, 0.4, 0.5],  # positives 0, 1, 2: best rank 2 -> hit from k=3
            [0.5, 0.1, 0.9, 0.3, 0.0],  # positive 2: rank 0 -> hit from k=1
        ]
    )
    positives = torch.tensor(
        [
            [False, True, False, False, True],
            [True, True, True, False, False],
            [False, False, True, False, False],
        ]
    )
    assert recall_at_k(scores, positives, 1) == pytest.approx(1 / 3)
    assert recall_at_k(scores, positives, 2) == pytest.approx(2 / 3)
    assert recall_at_k(scores, positives, 3) == pytest.approx(1.0)
    for k in range(1, 6):
        assert recall_at_k(scores, positives, k) == pytest.approx(naive_recall(scores, positives, k))


def test_ties_are_broken_by_gallery_index():
    scores = torch.zeros(3, 4)  # every item tied
    positives = torch.zeros(3, 4, dtype=torch.bool)
    positives[0, 0] = True  # lowest index: first
    positives[1, 2] = True  # third
    positives[2, 3] = positives[2, 1] = True  # second at best
    assert [recall_at_k(scores, positives, k) for k in (1, 2, 3, 4)] == pytest.approx([1 / 3, 2 / 3, 1, 1])
    # a tie between a negative and a positive: the lower index wins either way round
    s = torch.tensor([[1.0, 1.0, 0.0]])
    assert recall_at_k(s, torch.tensor([[True, False, False]]), 1) == 1.0
    assert recall_at_k(s, torch.tensor([[False, True, False]]), 1) == 0.0


def test_matches_naive_reference_on_random_tied_scores():
    g = torch.Generator().manual_seed(0)
    for trial in range(20):
        Q, G = int(torch.randint(1, 7, (1,), generator=g)), int(torch.randint(1, 9, (1,), generator=g))
        scores = torch.randint(0, 3, (Q, G), generator=g).float()  # many ties
        positives = torch.rand(Q, G, generator=g) < 0.3
        positives[torch.arange(Q), torch.randint(0, G, (Q,), generator=g)] = True  # at least one per row
        for k in range(1, G + 1):
            assert recall_at_k(scores, positives, k) == pytest.approx(naive_recall(scores, positives, k)), (
                trial
            )


def test_agrees_with_clip_benchmark_formula_without_ties():
    # CLIP_benchmark: topk indices -> one-hot -> any positive among them
    g = torch.Generator().manual_seed(1)
    scores = torch.randn(50, 40, generator=g)
    positives = positives_from_labels(torch.randint(0, 8, (50,), generator=g), torch.arange(40) % 8)
    for k in (1, 5, 10):
        topk = scores.topk(k, dim=1).indices
        hit = torch.zeros_like(positives).scatter_(1, topk, True) & positives
        assert recall_at_k(scores, positives, k) == pytest.approx(float(hit.any(dim=1).float().mean()))


def test_chance_level_formula_and_simulation():
    assert chance_recall_at_k(paired_positives(10), 3) == pytest.approx(0.3)  # one positive: k / G
    positives = torch.zeros(2, 6, dtype=torch.bool)
    positives[0, :2] = True  # p = 2
    positives[1, :5] = True  # p = 5 > G - k: always a hit at k = 2
    expect = ((1 - math.comb(4, 2) / math.comb(6, 2)) + 1.0) / 2
    assert chance_recall_at_k(positives, 2) == pytest.approx(expect)
    # random scores reach the chance level (within 3 standard errors)
    g = torch.Generator().manual_seed(2)
    n = 4000
    pos = positives_from_labels(torch.randint(0, 5, (n,), generator=g), torch.arange(20) % 5)  # 4 positives
    r = recall_at_k(torch.rand(n, 20, generator=g), pos, 2)
    c = chance_recall_at_k(pos, 2)
    assert abs(r - c) < 3 * math.sqrt(c * (1 - c) / n)


def test_directions_are_named_by_the_query_side():
    # 2 images, 4 captions (captions 0, 1 describe image 0; captions 2, 3 describe image 1)
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    texts = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.1]])
    positives = positives_from_labels(torch.tensor([0, 1]), torch.tensor([0, 0, 1, 1]))  # (images, texts)
    out = cross_modal_retrieval(images, texts, ("image", "text"), positives, ks=(1, 2, 4))
    scores = images @ torch.nn.functional.normalize(texts, dim=-1).T
    # image -> text: image 0's top text is caption 0 (hit); image 1's top is caption 1 (a caption of image 0)
    assert out["image_to_text_r1"] == pytest.approx(0.5)
    assert out["image_to_text_r1"] == pytest.approx(recall_at_k(scores, positives, 1))
    # text -> image: caption 1 and caption 3 pick the wrong image; 2 of 4 right
    assert out["text_to_image_r1"] == pytest.approx(0.5)
    assert out["text_to_image_r1"] == pytest.approx(recall_at_k(scores.T.contiguous(), positives.T, 1))
    assert out["image_to_text_r1_chance"] == pytest.approx(0.5)  # 2 of 4 texts are positive
    assert out["text_to_image_r1_chance"] == pytest.approx(0.5)
    assert "text_to_image_r4" not in out  # k > G (2 images) is skipped, not clipped
    assert out["image_to_text_r4"] == 1.0


def test_report_keys_and_chance():
    out = retrieval_report(torch.eye(4), paired_positives(4), "audio", "image", ks=(1, 2))
    assert out == {
        "audio_to_image_r1": 1.0,
        "audio_to_image_r1_chance": 0.25,
        "audio_to_image_r2": 1.0,
        "audio_to_image_r2_chance": 0.5,
    }


@pytest.mark.parametrize(
    ("scores", "positives", "k", "match"),
    [
        (torch.zeros(0, 5), torch.zeros(0, 5, dtype=torch.bool), 1, "at least one query"),
        (torch.zeros(3, 0), torch.zeros(3, 0, dtype=torch.bool), 1, "at least one query"),
        (torch.zeros(3, 4), torch.ones(3, 5, dtype=torch.bool), 1, "positives must have shape"),
        (torch.zeros(3, 4), torch.ones(3, 4), 1, "positives must have dtype torch.bool"),
        (torch.zeros(4), torch.ones(4, dtype=torch.bool), 1, "scores must be 2-D"),
        (torch.full((2, 2), float("nan")), torch.ones(2, 2, dtype=torch.bool), 1, "finite"),
        (torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.bool), 1, "floating-point"),
        (torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool), 0, r"k must be in \[1, G=3\]"),
        (torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool), 4, r"k must be in \[1, G=3\]"),
        (torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool), 1.0, "k must be an int"),
        (
            torch.zeros(2, 3),
            torch.tensor([[True, False, False], [False] * 3]),
            1,
            r"1 of 2 queries have none",
        ),
    ],
)
def test_errors(scores, positives, k, match):
    with pytest.raises(ValueError, match=match):
        recall_at_k(scores, positives, k)


def test_cross_modal_errors():
    with pytest.raises(ValueError, match="same number of rows"):
        cross_modal_retrieval(torch.randn(3, 4), torch.randn(5, 4))
    with pytest.raises(ValueError, match="b must have shape"):
        cross_modal_retrieval(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValueError, match="names must be two different"):
        cross_modal_retrieval(torch.randn(3, 4), torch.randn(3, 4), names=("image", "image"))
    with pytest.raises(ValueError, match="at least one query"):
        cross_modal_retrieval(torch.randn(0, 4), torch.randn(0, 4))
    with pytest.raises(ValueError, match="query must be a modality name"):
        retrieval_report(torch.eye(2), paired_positives(2), "image to", "text")
    with pytest.raises(ValueError, match="labels must be integer"):
        positives_from_labels(torch.zeros(3), torch.zeros(3))


def test_best_positive_rank_equals_stable_sort_in_chunks():
    g = torch.Generator().manual_seed(4)
    scores = torch.randint(0, 4, (37, 11), generator=g).double()  # ties everywhere, fp64
    positives = torch.rand(37, 11, generator=g) < 0.3
    positives[:, 5] |= ~positives.any(dim=1)
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    want = positives.gather(1, order).float().argmax(dim=1)  # position of the first positive in the ranking
    for chunk in (1, 5, 37, 1024):
        assert torch.equal(best_positive_rank(scores, positives, chunk=chunk), want)
