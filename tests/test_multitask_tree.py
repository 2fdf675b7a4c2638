"""mmtutorial.multitask on a label tree: parent map, consistency, joint decoding, hidden labels, emoji."""

from __future__ import annotations

import itertools

import pytest
import torch

from mmtutorial.multitask import (
    MISSING,
    EqualWeighting,
    HardSharing,
    HierarchicalSharing,
    hide_labels,
    multitask_step,
    parent_index,
    train_multitask,
    tree_consistency,
    tree_decode,
)

# a small tree: coarse 0 -> fine {0, 1}, coarse 1 -> fine {2}, coarse 2 -> fine {3, 4}
PARENT = torch.tensor([0, 0, 1, 2, 2])


# Tiny models: one thread avoids thread-pool overhead on a busy machine (conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


# ---- parent map -------------------------------------------------------------------------------------------
def test_parent_index_reads_the_tree_from_label_pairs():
    fine = torch.tensor([4, 0, 2, 1, 3, 0, 4])
    assert torch.equal(parent_index(PARENT[fine], fine, 5), PARENT)


def test_parent_index_refuses_what_is_not_a_tree():
    fine = torch.tensor([0, 1, 2, 3, 4, 3])
    coarse = torch.tensor([0, 0, 1, 2, 2, 1])  # fine 3 under coarse 2 and 1
    with pytest.raises(ValueError, match=r"fine class 3 .*\[1, 2\]"):
        parent_index(coarse, fine, 5)
    with pytest.raises(ValueError, match=r"none for \[4\]"):
        parent_index(PARENT[:4], torch.arange(4), 5)
    with pytest.raises(ValueError, match="integer"):
        parent_index(PARENT.float(), torch.arange(5), 5)
    with pytest.raises(ValueError, match="fine must have shape"):
        parent_index(PARENT, torch.arange(4), 5)
    with pytest.raises(ValueError, match="missing"):
        parent_index(torch.tensor([0, MISSING]), torch.tensor([0, 1]), 2)


# ---- consistency ------------------------------------------------------------------------------------------
def test_tree_consistency_counts_paths_that_agree():
    fine_pred = torch.tensor([0, 1, 2, 3, 4, 2])
    coarse_pred = torch.tensor([0, 1, 1, 2, 0, 0])  # agree: rows 0, 2, 3
    assert tree_consistency(coarse_pred, fine_pred, PARENT) == pytest.approx(3 / 6)
    assert tree_consistency(PARENT[fine_pred], fine_pred, PARENT) == 1.0
    # a common slip: comparing the ids themselves, not the fine prediction's parent
    assert float((coarse_pred == fine_pred).float().mean()) != pytest.approx(3 / 6)


def test_tree_consistency_checks_its_input():
    with pytest.raises(ValueError, match="fine_pred must be in"):
        tree_consistency(torch.tensor([0]), torch.tensor([5]), PARENT)
    with pytest.raises(ValueError, match="at least one"):
        tree_consistency(torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long), PARENT)
    with pytest.raises(ValueError, match="fine_pred must have shape"):
        tree_consistency(torch.tensor([0, 1]), torch.tensor([0]), PARENT)
    with pytest.raises(ValueError, match="parent"):
        tree_consistency(torch.tensor([0]), torch.tensor([0]), PARENT.float())


# ---- joint decoding ---------------------------------------------------------------------------------------
def test_tree_decode_is_the_most_likely_path_by_brute_force():
    g = torch.Generator().manual_seed(0)
    coarse, fine = torch.randn(64, 3, generator=g) * 2, torch.randn(64, 5, generator=g) * 2
    c_pred, f_pred = tree_decode(coarse, fine, PARENT)
    assert tree_consistency(c_pred, f_pred, PARENT) == 1.0
    lp_c, lp_f = coarse.log_softmax(-1), fine.log_softmax(-1)
    for i in range(64):
        paths = [
            (lp_c[i, c] + lp_f[i, f], c, f)
            for c, f in itertools.product(range(3), range(5))
            if PARENT[f] == c
        ]
        _, c_best, f_best = max(paths)
        assert (int(c_pred[i]), int(f_pred[i])) == (c_best, f_best)
    # it changes some predictions: independent argmaxes disagree with the tree on these random logits
    assert tree_consistency(coarse.argmax(-1), fine.argmax(-1), PARENT) < 1.0
    # a uniform coarse head leaves the fine argmax alone
    _, f_only = tree_decode(torch.zeros(64, 3), fine, PARENT)
    assert torch.equal(f_only, fine.argmax(-1))


def test_tree_decode_checks_its_input():
    with pytest.raises(ValueError, match="parent must have one entry per fine class"):
        tree_decode(torch.zeros(2, 3), torch.zeros(2, 4), PARENT)
    with pytest.raises(ValueError, match="parent must be < 2"):
        tree_decode(torch.zeros(2, 2), torch.zeros(2, 5), PARENT)
    with pytest.raises(ValueError, match="fine_logits must have shape"):
        tree_decode(torch.zeros(2, 3), torch.zeros(3, 5), PARENT)
    with pytest.raises(ValueError, match="finite"):
        tree_decode(torch.full((2, 3), float("nan")), torch.zeros(2, 5), PARENT)


# ---- hidden labels ----------------------------------------------------------------------------------------
def test_hide_labels_keeps_the_asked_share_of_labelled_samples():
    y = torch.arange(100) % 7
    y[:10] = MISSING
    out = hide_labels(y, 0.25, torch.Generator().manual_seed(3))
    assert int((out >= 0).sum()) == round(0.25 * 90)
    assert bool((out[:10] == MISSING).all())  # missing stays missing
    kept = out >= 0
    assert torch.equal(out[kept], y[kept])  # kept labels are unchanged
    assert torch.equal(out, hide_labels(y, 0.25, torch.Generator().manual_seed(3)))  # reproducible
    assert not torch.equal(out, hide_labels(y, 0.25, torch.Generator().manual_seed(4)))
    assert torch.equal(hide_labels(y, 1.0), y) and bool((hide_labels(y, 0.0) == MISSING).all())
    assert torch.equal(y[:12], torch.tensor([MISSING] * 10 + [3, 4]))  # the input is not modified


def test_hide_labels_checks_its_input():
    with pytest.raises(ValueError, match="keep must be a fraction"):
        hide_labels(torch.arange(4), 1.5)
    with pytest.raises(ValueError, match="integer"):
        hide_labels(torch.rand(4), 0.5)
    with pytest.raises(ValueError, match="labels must be 1-D"):
        hide_labels(torch.zeros(2, 2, dtype=torch.long), 0.5)


# ---- a batch with no label at all -------------------------------------------------------------------------
def test_a_batch_without_any_label_takes_no_step():
    torch.manual_seed(0)
    model = HardSharing(4, {"a": 3}, hidden=(5,))
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.Adam(model.parameters(), lr=0.1, weight_decay=0.1)
    rec = multitask_step(model, torch.randn(6, 4), {"a": torch.full((6,), MISSING)}, opt, EqualWeighting(1))
    assert rec["skipped"] and not bool(rec["present"].any())
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before, strict=True))
    assert not opt.state  # Adam's moments untouched
    # in a loop: labels on a quarter of the samples, so some batches have none, still trains
    y = hide_labels(torch.arange(64) % 3, 0.25, torch.Generator().manual_seed(1))
    hist = train_multitask(model, torch.randn(64, 4), {"a": y}, epochs=2, batch_size=4, log_every=1)
    assert all(torch.isfinite(e).all() for e in hist["epoch_losses"])
    assert 0 < len(hist["log"]) < 2 * 16  # the empty batches log nothing


# ---- hierarchical sharing on a tree ------------------------------------------------------------------------
def test_hierarchical_coarse_low_fine_high_gradients():
    # Søgaard & Goldberg: group read at layer 1, subgroup at layer 2 stacked on it
    torch.manual_seed(0)
    m = HierarchicalSharing(6, {"group": 3, "subgroup": 5}, {"group": 1, "subgroup": 2}, hidden=(8, 7))
    out = m(torch.randn(4, 6))
    assert out["group"].shape == (4, 3) and out["subgroup"].shape == (4, 5)
    g1, g2 = m.layers[0][0].weight, m.layers[1][0].weight
    grad_group = torch.autograd.grad(out["group"].sum(), [g1, g2], allow_unused=True, retain_graph=True)
    grad_sub = torch.autograd.grad(out["subgroup"].sum(), [g1, g2], allow_unused=True)
    assert grad_group[0] is not None and grad_group[1] is None  # group never reaches layer 2
    assert grad_sub[0] is not None and grad_sub[1] is not None  # subgroup trains both


# ---- the emoji tasks --------------------------------------------------------------------------------------
def test_make_emoji_tasks_checks_arguments_before_any_work():
    from mmtutorial.multitask.emoji_tasks import make_emoji_tasks

    with pytest.raises(ValueError, match="modalities"):
        make_emoji_tasks(modalities=("image", "audio"))
    with pytest.raises(ValueError, match="modalities"):
        make_emoji_tasks(modalities=())
    with pytest.raises(ValueError, match="n_test"):
        make_emoji_tasks(n_test=5000)
    with pytest.raises(ValueError, match="image_dims"):
        make_emoji_tasks(image_dims=2000)
    with pytest.raises(ValueError, match="image_dims"):
        make_emoji_tasks(n_test=1900, image_dims=64)  # 14 training emoji give at most 14 axes
    with pytest.raises(ValueError, match="seed"):
        make_emoji_tasks(seed=-1)


@pytest.mark.slow
def test_make_emoji_tasks_features_labels_and_tree():
    from mmtutorial.data.emoji import catalogue, label_names
    from mmtutorial.multitask.emoji_tasks import make_emoji_tasks

    data = make_emoji_tasks(n_test=600, seed=0, image_dims=32)
    names, records = label_names(), catalogue()
    assert data.task_classes == {"group": 9, "subgroup": 98}
    assert data.x["train"].shape == (1314, 32 + 384) and data.x["test"].shape == (600, 416)
    assert data.meta["feature_dims"] == {"image": 32, "text": 384}
    tr, te = data.meta["index"]["train"], data.meta["index"]["test"]
    assert len(set(tr.tolist()) | set(te.tolist())) == len(records)  # a partition of the catalogue
    x = data.x["train"]
    torch.testing.assert_close(x.mean(0), torch.zeros(416), atol=1e-4, rtol=0)  # standardised on train
    std = x.std(0)
    dead = std < 0.01  # MiniLM has a few dimensions that are constant (< 1e-8) for every input: they stay ~0
    assert int(dead.sum()) <= 3 and not bool(dead[:32].any()) and bool(torch.isfinite(x).all())
    torch.testing.assert_close(std[~dead], torch.ones(int((~dead).sum())), atol=1e-3, rtol=0)
    # image principal components: uncorrelated on the training split, decreasing variance before scaling
    c = torch.corrcoef(x[:, :32].T)
    assert float((c - torch.eye(32)).abs().max()) < 1e-3
    parent = data.meta["parent"]
    for split, idx in data.meta["index"].items():
        y = data.labels[split]
        for k, i in enumerate(idx[:50].tolist()):
            r = records[i]
            assert (
                names["group"][y["group"][k]] == r.group and names["subgroup"][y["subgroup"][k]] == r.subgroup
            )
            assert data.meta["names"][split][k] == r.name
        assert bool((parent[y["subgroup"]] == y["group"]).all())  # every label pair lies on the tree
    # one modality alone, and a different seed gives a different split of the same emoji
    img = make_emoji_tasks(n_test=600, seed=1, image_dims=32, modalities=("image",))
    assert img.x["train"].shape == (1314, 32) and not torch.equal(img.meta["index"]["test"], te)
