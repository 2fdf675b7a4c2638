"""``fit(param_groups=...)``: caller-made optimizer groups (layer-wise rates, gradual unfreezing)."""

from __future__ import annotations

import pytest
import tiny_training as tiny
import torch
from tiny_training import ce, data
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from mmtutorial.training import check_param_groups, fit, lr_factor

pytestmark = pytest.mark.usefixtures("one_thread")


def model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))


def cfg(**kw):
    return tiny.cfg(**{"warmup_steps": 3, **kw})


def groups(m):  # layer-wise: the lower layer at a tenth of the top's rate, no decay on the top
    return [
        {"params": m[0].parameters(), "lr": 1e-3},
        {"params": list(m[2].parameters()), "lr": 1e-2, "weight_decay": 0.0},
    ]


def test_each_group_follows_the_schedule_from_its_own_base_rate():
    seen = []  # per optimizer step: (lr, weight_decay) of each group, read just before the step
    hook = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: seen.append([(g["lr"], g["weight_decay"]) for g in opt.param_groups])
    )
    m, config = model(), cfg(min_lr_ratio=0.2)
    try:
        run = fit(m, ce, data(), config, param_groups=groups(m))
    finally:
        hook.remove()
    assert len(seen) == config.steps
    for t, step in enumerate(seen):
        f = lr_factor(t, config.steps, config.warmup_steps, config.min_lr_ratio)
        assert step[0][0] == pytest.approx(1e-3 * f) and step[1][0] == pytest.approx(1e-2 * f)
        assert step[0][1] == config.weight_decay and step[1][1] == 0.0  # a group's own option wins
    assert [r["lr"] for r in run.history] == pytest.approx([s[0][0] for s in seen])  # logged: group 0's
    assert seen[config.warmup_steps - 1][1][0] == pytest.approx(1e-2)  # the top reaches its own base rate


def test_resume_with_param_groups_continues_exactly(tmp_path):
    m = model()
    straight = fit(m, ce, data(), cfg(), out_dir=tmp_path / "straight", param_groups=groups(m))
    m = model()
    fit(m, ce, data(), cfg(), out_dir=tmp_path / "r", stop_at=5, param_groups=groups(m))
    m = model(seed=7)
    resumed = fit(m, ce, data(), cfg(), out_dir=tmp_path / "r", resume=True, param_groups=groups(m))
    assert resumed.losses() == straight.losses()[5:]
    for p, q in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(p, q)
    m = model()
    with pytest.raises(ValueError):  # other groups than the checkpoint's: the optimizer state cannot load
        fit(
            m,
            ce,
            data(),
            cfg(),
            out_dir=tmp_path / "r",
            resume=True,
            param_groups=[{"params": m.parameters()}],
        )


def test_a_parameter_unfrozen_mid_run_trains_from_then_on():
    m = model()
    for p in m[0].parameters():
        p.requires_grad_(False)
    calls = []

    def loss(net, b):  # gradual unfreezing: the lower layer joins at step 6
        calls.append(1)
        if len(calls) == 7:
            for p in net[0].parameters():
                p.requires_grad_(True)
        return ce(net, b)

    before = m[0].weight.clone()
    fit(m, loss, data(), cfg(), param_groups=[{"params": m.parameters()}])
    assert not torch.equal(m[0].weight, before)
    m2 = model()
    for p in m2[0].parameters():
        p.requires_grad_(False)
    fit(m2, ce, data(), cfg(), param_groups=[{"params": m2.parameters()}])
    assert torch.equal(m2[0].weight, before)  # frozen throughout: untouched by AdamW's decay as well


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda m: [], "non-empty list"),
        (lambda m: {"params": m.parameters()}, "non-empty list"),
        (lambda m: [{"lr": 1e-3}], "'params' key"),
        (lambda m: [{"params": []}, {"params": m.parameters()}], "empty"),
        (lambda m: [{"params": m[0].parameters()}], "in no param group"),
        (
            lambda m: [{"params": m.parameters()}, {"params": [m[0].bias]}],
            "param_groups[0] and param_groups[1]",
        ),
        (lambda m: [{"params": m.parameters(), "lr": -1.0}], "'lr'] must be >= 0"),
        (lambda m: [{"params": [*m.parameters(), torch.zeros(2, requires_grad=True)]}], "not a parameter"),
    ],
)
def test_bad_param_groups_are_refused(make, words):
    m = model()
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        check_param_groups(m, make(m))
    m = model()
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        fit(m, ce, data(), cfg(steps=1), param_groups=make(m))
