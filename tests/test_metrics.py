"""Retrieval recall@k and accuracy on hand-made cases; augmentations for contrastive views."""

from __future__ import annotations

import pytest
import torch

from mmtutorial.data.augment import SpecAugment, image_views_transform, two_views
from mmtutorial.eval import paired_positives
from mmtutorial.eval import recall_at_k as eval_recall_at_k
from mmtutorial.metrics import accuracy, recall_at_k, retrieval_recall


def test_recall_hand_computed():
    # query 0 matches item 0 best; query 1's match is 2nd; query 2's match is 3rd
    q = torch.eye(3)
    g = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.5, 0.9], [0.0, 1.0, 0.1]])
    # sims = q @ g.T = g.T: row 1 = [0, 0.5, 1.0] -> own 0.5 is 2nd; row 2 = [0, 0.9, 0.1] -> own 0.1 is 2nd
    r = recall_at_k(q, g, ks=(1, 2, 3))
    assert r == {1: pytest.approx(1 / 3), 2: pytest.approx(1.0), 3: pytest.approx(1.0)}


def test_recall_both_directions_and_ties_by_index():
    a = torch.eye(4)
    rr = retrieval_recall(a, a, ks=(1,))
    assert rr == {"a->b@1": 1.0, "b->a@1": 1.0}
    same = torch.ones(4, 2)  # every item tied: the lower gallery index ranks first (as in mmtutorial.eval)
    assert recall_at_k(same, same, ks=(1, 2, 4, 9)) == {1: 0.25, 2: 0.5, 4: 1.0, 9: 1.0}
    # random embeddings: recall@1 near chance 1/N
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(200, 8, generator=g), torch.randn(200, 8, generator=g)
    assert recall_at_k(x, y, ks=(1,))[1] < 0.05


def test_recall_agrees_with_eval_contract():
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(30, 4, generator=g), torch.randn(30, 4, generator=g)
    got = recall_at_k(x, y, ks=(1, 5))
    for k in (1, 5):
        assert got[k] == eval_recall_at_k(x @ y.T, paired_positives(30), k)


def test_accuracy():
    assert accuracy(torch.tensor([1, 2, 3, 0]), torch.tensor([1, 2, 0, 0])) == 0.75
    assert accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1])) == 0.5


def test_metric_errors():
    with pytest.raises(ValueError, match="gallery must have shape"):
        recall_at_k(torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="k must be positive"):
        recall_at_k(torch.zeros(3, 2), torch.zeros(3, 2), ks=(0,))
    with pytest.raises(ValueError, match="query must hold at least one row"):  # not NaN
        recall_at_k(torch.zeros(0, 2), torch.zeros(0, 2))
    with pytest.raises(ValueError, match="query must hold at least one row"):
        retrieval_recall(torch.zeros(0, 2), torch.zeros(0, 2))
    with pytest.raises(ValueError, match="predictions must have shape"):
        accuracy(torch.zeros(3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="at least one label"):
        accuracy(torch.zeros(0), torch.zeros(0, dtype=torch.long))


def test_image_views_differ_but_keep_shape():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 32, 32)
    v1, v2 = two_views(image_views_transform(24), x)
    assert v1.shape == v2.shape == (4, 3, 24, 24)
    assert (v1 - v2).abs().mean() > 0.01
    assert 0 <= float(v1.min()) and float(v1.max()) <= 1


def test_spec_augment_masks_stripes():
    torch.manual_seed(0)
    spec = torch.rand(3, 40, 60) + 1.0  # no zeros before masking
    out = SpecAugment(freq_width=8, time_width=10, n_masks=1)(spec)
    assert out.shape == spec.shape
    zero = out == 0
    assert zero.any()
    # each zero lies on a fully zero mel row or a fully zero frame column of its item
    full_rows = zero.all(dim=2, keepdim=True)
    full_cols = zero.all(dim=1, keepdim=True)
    assert bool((zero <= (full_rows | full_cols)).all())
    with pytest.raises(ValueError, match="spec must be"):
        SpecAugment()(torch.rand(2, 3, 4, 5))
