"""Worst-group metrics, group reweighting and the group DRO loss (Sagawa et al. 2020)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmtutorial.eval.groups import group_accuracy, group_ids, worst_group_accuracy
from mmtutorial.losses.group_dro import GroupDRO, group_mean_losses, inverse_frequency_weights


def test_group_metrics_by_hand():
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    colour = torch.tensor([0, 0, 1, 1, 1, 0])
    groups = group_ids(labels, colour, 2)
    assert groups.tolist() == [0, 0, 1, 3, 3, 2]
    pred = torch.tensor([0, 0, 1, 1, 1, 0])  # reads the colour: right on the majority, wrong on the minority
    acc = group_accuracy(pred, labels, groups)
    assert acc == {0: 1.0, 1: 0.0, 2: 0.0, 3: 1.0}
    assert worst_group_accuracy(pred, labels, groups) == 0.0
    assert worst_group_accuracy(F.one_hot(labels, 2).float(), labels, groups) == 1.0  # scores work too
    with pytest.raises(ValueError, match="attribute"):
        group_ids(labels, colour + 1, 2)
    with pytest.raises(ValueError, match="groups"):
        group_accuracy(pred, labels, groups[:3])


def test_group_mean_losses_and_weights():
    losses = torch.tensor([1.0, 3.0, 5.0, 7.0])
    groups = torch.tensor([0, 0, 2, 0])
    mean, counts = group_mean_losses(losses, groups, 3)
    assert mean.tolist() == pytest.approx([11 / 3, 0.0, 5.0]) and counts.tolist() == [3, 0, 1]
    w = inverse_frequency_weights(groups, 3)
    assert w.mean().item() == pytest.approx(1.0)
    assert w[groups == 0].sum().item() == pytest.approx(w[groups == 2].sum().item())  # each group weighs 2
    with pytest.raises(ValueError, match="groups"):
        group_mean_losses(losses, torch.tensor([0, 0, 3, 0]), 3)
    with pytest.raises(ValueError, match="losses"):
        group_mean_losses(torch.tensor([1.0, float("inf"), 0.0, 0.0]), groups, 3)


def test_dro_weights_move_to_the_worst_group():
    dro = GroupDRO(3, eta=0.5)
    groups = torch.tensor([0, 0, 1, 1, 2, 2])
    losses = torch.tensor([0.1, 0.1, 2.0, 2.0, 0.5, 0.5])
    history = [dro.q.clone()]
    for _ in range(10):
        dro(losses, groups)
        history.append(dro.q.clone())
    q = torch.stack(history)
    assert torch.allclose(q.sum(1), torch.ones(len(q)))
    assert (q[1:, 1] > q[:-1, 1]).all(), "the worst group's weight grows at every step"
    assert (q[1:, 0] < q[:-1, 0]).all(), "the best group's weight shrinks"
    assert q[-1].argmax() == 1 and q[-1, 1] > 0.9
    # exponentiated gradient: q_t is proportional to exp(eta * t * L_g) for a fixed loss
    want = torch.softmax(0.5 * 10 * torch.tensor([0.1, 2.0, 0.5]), 0)
    torch.testing.assert_close(q[-1], want)
    dro.eval()
    dro(losses, groups)
    torch.testing.assert_close(dro.q, q[-1])  # eval mode only reads q


def test_dro_gradient_and_absent_groups():
    dro = GroupDRO(3, eta=1.0)
    losses = torch.tensor([1.0, 3.0, 2.0], requires_grad=True)
    groups = torch.tensor([0, 0, 1])  # group 2 is absent from this batch
    loss = dro(losses, groups)
    q = dro.q.clone()
    assert q[2] < q[1] and q[2] < q[0], "an absent group keeps its weight before renormalising"
    loss.backward()
    # d loss / d l_i = q_{g_i} / n_{g_i}: the q of after the update, not differentiated
    torch.testing.assert_close(losses.grad, torch.stack([q[0] / 2, q[0] / 2, q[1]]))
    torch.testing.assert_close(loss, q[0] * 2.0 + q[1] * 2.0)


def _toy_spurious(n, majority, seed):
    # label y in {0, 1}; a noisy core feature says y; a clean spurious feature equals y in `majority` of rows
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    agree = torch.rand(n, generator=g) < majority
    s = torch.where(agree, y, 1 - y)
    core = (2 * y - 1).float() + 1.0 * torch.randn(n, generator=g)
    spur = (2 * s - 1).float() + 0.1 * torch.randn(n, generator=g)
    return torch.stack([core, spur], 1), y, group_ids(y, s, 2)


def _train(x, y, groups, method):
    torch.manual_seed(0)
    w = torch.zeros(2, 2, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.5)
    dro = GroupDRO(4, eta=1.0)
    for _ in range(300):
        per = F.cross_entropy(x @ w, y, reduction="none")
        loss = per.mean() if method == "erm" else dro(per, groups)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return w.detach()


def test_dro_raises_worst_group_accuracy_on_a_spurious_toy():
    x, y, g = _toy_spurious(2000, 0.95, 0)
    xt, yt, gt = _toy_spurious(4000, 0.5, 1)
    wga = {m: worst_group_accuracy(xt @ _train(x, y, g, m), yt, gt) for m in ("erm", "dro")}
    assert wga["erm"] < 0.5  # leans on the spurious feature: the minority groups fail
    assert wga["dro"] > wga["erm"] + 0.2
