"""mmtutorial.multitask: aggregation contracts, weightings against their papers' formulas, masks, models.

Independent checks: fixed vectors worked out by hand, a brute-force min-norm solver, the CAGrad definition
as a max-min over a ball, and torchjd's aggregators where they define the same thing (torchjd's CAGrad
needs cvxpy, which is not installed, so CAGrad is checked against its definition instead).
"""

from __future__ import annotations

import ast
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torchjd.aggregation as jd
from torch import nn

from mmtutorial.multitask import (
    MISSING,
    CrossStitch,
    DynamicWeightAverage,
    EqualWeighting,
    GradNorm,
    HardSharing,
    HierarchicalSharing,
    MMoE,
    RandomLossWeighting,
    SoftSharing,
    UncertaintyWeighting,
    aggregate,
    conflict_fraction,
    cosine_matrix,
    delta_m,
    mgda_weights,
    multitask_step,
    norm_ratios,
    task_gradients,
    task_losses,
    train_multitask,
)

D64 = torch.float64


# Tiny models: one thread avoids thread-pool overhead on a busy machine (conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


def t64(rows):
    return torch.tensor(rows, dtype=D64)


# ---- aggregate: contract ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad",
    [
        torch.ones(3, dtype=D64),
        torch.ones(2, 3, 4, dtype=D64),
        torch.ones(0, 3, dtype=D64),
        t64([[1.0, float("nan")], [0.0, 1.0]]),
        t64([[1.0, float("inf")], [0.0, 1.0]]),
        torch.ones(2, 3, dtype=torch.long),
    ],
)
@pytest.mark.parametrize("method", ["sum", "pcgrad", "mgda", "cagrad"])
def test_aggregate_rejects_bad_grads(bad, method):
    with pytest.raises(ValueError, match="grads"):
        aggregate(bad, method)


def test_aggregate_rejects_unknown_method_and_keyword():
    g = torch.randn(2, 3)
    with pytest.raises(ValueError, match="method"):
        aggregate(g, "upgrad")
    with pytest.raises(ValueError, match="keywords"):
        aggregate(g, "mgda", c=0.5)
    with pytest.raises(ValueError, match="c must be"):
        aggregate(g, "cagrad", c=-1.0)


def test_sum_is_the_sum():
    g = torch.randn(4, 7, dtype=D64)
    torch.testing.assert_close(aggregate(g, "sum"), g.sum(0))


@pytest.mark.parametrize("method", ["sum", "pcgrad", "mgda", "cagrad"])
def test_one_task_is_its_own_gradient(method):
    g = torch.randn(1, 5, dtype=D64)
    # CAGrad with one task: g_w = g_0 = g, so d = g + c |g| / |g| g = (1 + c) g, as the paper's formula says
    want = 1.5 * g[0] if method == "cagrad" else g[0]
    torch.testing.assert_close(aggregate(g, method), want)


# ---- PCGrad -----------------------------------------------------------------------------------------------
def test_pcgrad_two_tasks_fixed_vectors():
    g = t64([[1.0, 0.0], [-1.0, 1.0]])  # dot = -1: g1 - (-1/2) g2 = [0.5, 0.5]; g2 - (-1/1) g1 = [0, 1]
    torch.testing.assert_close(aggregate(g, "pcgrad"), t64([0.5, 1.5]))
    agree = t64([[1.0, 0.0], [1.0, 1.0]])  # no conflict: plain sum
    torch.testing.assert_close(aggregate(agree, "pcgrad"), agree.sum(0))


def test_pcgrad_three_tasks_every_order_is_reachable():
    # g1 = e1, g2 = e2, g3 = -(e1 + e2): projected g1 is [0.5, -0.5] or [0.5, 0] depending on the order,
    # g2 symmetrically, g3 always [0, 0]; so the sum is one of four vectors, worked out by hand.
    g = t64([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    expected = {(0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5)}
    seen = set()
    for seed in range(40):
        out = aggregate(g, "pcgrad", generator=torch.Generator().manual_seed(seed))
        key = tuple(round(v, 12) + 0.0 for v in out.tolist())
        assert key in expected
        seen.add(key)
    assert seen == expected
    a = aggregate(g, "pcgrad", generator=torch.Generator().manual_seed(3))
    b = aggregate(g, "pcgrad", generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("T", [2, 3, 5])
def test_pcgrad_matches_torchjd(T):
    # torchjd draws its orders with the global generator: seed both the same way and they visit the same order
    rng = torch.Generator().manual_seed(T)
    for seed in range(10):
        g = torch.randn(T, 6, generator=rng, dtype=D64)
        g[1] = -0.7 * g[0] + 0.3 * g[1]  # make conflicts likely
        torch.manual_seed(seed)
        want = jd.PCGrad()(g)
        got = aggregate(g, "pcgrad", generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


# ---- MGDA -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rows", "want"),
    [
        ([[1.0, 0.0], [0.0, 1.0]], [0.5, 0.5]),  # orthogonal, equal norms: the midpoint
        ([[1.0, 0.0], [2.0, 0.0]], [1.0, 0.0]),  # the shorter one is the min-norm point
        ([[1.0, 1.0], [-1.0, 1.0]], [0.0, 1.0]),
        ([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]], [2 / 3, 2 / 3, 2 / 3]),
        ([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]], [0.0, 0.0]),  # 0 is in the hull: Pareto stationary
        ([[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]], [0.5, 0.5]),  # the third gradient is not active
    ],
)
def test_mgda_fixed_vectors(rows, want):
    torch.testing.assert_close(aggregate(t64(rows), "mgda"), t64(want), atol=1e-12, rtol=0)


def _brute_force_min_norm(g: np.ndarray) -> np.ndarray:
    """Independent: the min-norm point over every face of the simplex (affine KKT system per subset)."""
    T = g.shape[0]
    K = g @ g.T
    best, best_norm = None, np.inf
    for r in range(1, T + 1):
        for S in itertools.combinations(range(T), r):
            A = np.zeros((r + 1, r + 1))
            A[:r, :r] = K[np.ix_(S, S)]
            A[:r, r] = A[r, :r] = 1.0
            b = np.zeros(r + 1)
            b[r] = 1.0
            a = np.linalg.lstsq(A, b, rcond=None)[0][:r]
            if (a < -1e-12).any():
                continue
            d = a @ g[list(S)]
            if d @ d < best_norm:
                best, best_norm = d, d @ d
    return best


@pytest.mark.parametrize("T", [2, 3, 4, 6])
def test_mgda_is_the_min_norm_point(T):
    rng = torch.Generator().manual_seed(10 + T)
    for trial in range(12):
        g = torch.randn(T, 9, generator=rng, dtype=D64) * (10.0 ** (trial % 3 - 1))
        if trial % 2:
            g[1] = -0.5 * g[0] + 0.05 * g[1]  # strongly conflicting pair
        d = aggregate(g, "mgda")
        alpha = mgda_weights(g)
        assert bool((alpha >= -1e-12).all()) and abs(float(alpha.sum()) - 1) < 1e-12
        scale = float(g.norm(dim=1).max()) ** 2
        # KKT: g_t . d >= |d|^2 for every task
        assert float((g @ d - d @ d).min()) >= -1e-9 * scale
        want = torch.from_numpy(_brute_force_min_norm(g.numpy()))
        torch.testing.assert_close(d, want, atol=1e-6 * math.sqrt(scale), rtol=0)


def test_mgda_matches_torchjd():
    rng = torch.Generator().manual_seed(1)
    for T in (2, 3, 4):
        g = torch.randn(T, 8, generator=rng, dtype=D64)
        want = jd.MGDA(epsilon=1e-9, max_iters=5000)(g)  # Frank-Wolfe: approaches the point at rate 1/k
        got = aggregate(g, "mgda")
        assert float(got.norm()) <= float(want.norm()) + 1e-9
        torch.testing.assert_close(got, want, atol=2e-3, rtol=0)


def test_mgda_float32_input_keeps_dtype():
    g = torch.randn(3, 5)
    assert aggregate(g, "mgda").dtype == torch.float32


# ---- CAGrad -----------------------------------------------------------------------------------------------
def test_cagrad_c_zero_is_the_mean():
    g = torch.randn(3, 6, dtype=D64)
    torch.testing.assert_close(aggregate(g, "cagrad", c=0.0), g.mean(0))


@pytest.mark.parametrize("T", [2, 3])
def test_cagrad_solves_its_max_min_problem(T):
    # Liu et al. 2021, eq. (3): d = argmax_{|d - g0| <= c |g0|} min_t g_t . d. Check d is on the ball and
    # beats 20,000 random points of the ball on the worst-case inner product.
    rng = torch.Generator().manual_seed(T)
    for _ in range(4):
        g = torch.randn(T, 4, generator=rng, dtype=D64)
        g[1] = -0.6 * g[0] + 0.4 * g[1]
        c = 0.5
        d = aggregate(g, "cagrad", c=c)
        g0 = g.mean(0)
        radius = c * float(g0.norm())
        assert abs(float((d - g0).norm()) - radius) < 1e-6 * radius
        u = torch.randn(20000, 4, generator=rng, dtype=D64)
        ball = g0 + radius * u / u.norm(dim=1, keepdim=True) * torch.rand(20000, 1, generator=rng, dtype=D64)
        best_random = float((ball @ g.T).min(dim=1).values.max())
        assert float((g @ d).min()) >= best_random - 1e-6 * float(g.norm()) ** 2
        assert float((g @ d).min()) >= float((g @ g0).min()) - 1e-9  # never worse than the mean


# ---- diagnostics ------------------------------------------------------------------------------------------
def test_diagnostics_on_fixed_vectors():
    g = t64([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])
    torch.testing.assert_close(cosine_matrix(g), t64([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 1.0]]))
    assert conflict_fraction(g) == pytest.approx(1 / 3)  # one pair of three
    torch.testing.assert_close(norm_ratios(g), t64([0.5, 1.0, 1.5]))
    assert conflict_fraction(g[:1]) == 0.0
    zero = t64([[0.0, 0.0], [1.0, 0.0]])
    torch.testing.assert_close(cosine_matrix(zero), t64([[0.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="grads"):
        cosine_matrix(torch.ones(3))


# ---- weightings -------------------------------------------------------------------------------------------
def test_uncertainty_weighting_formula_and_stationary_point():
    uw = UncertaintyWeighting(3).double()
    assert uw.log_var.shape == (3,) and torch.equal(uw.log_var.detach(), torch.zeros(3, dtype=D64))
    L = t64([0.5, 2.0, 7.0])
    torch.testing.assert_close(uw(L), L.sum() / 2)
    with torch.no_grad():
        uw.log_var.copy_(L.log())
    uw(L).backward()
    torch.testing.assert_close(uw.log_var.grad, torch.zeros(3, dtype=D64), atol=1e-12, rtol=0)
    with torch.no_grad():
        uw.log_var.copy_(t64([0.3, -1.0, 2.0]))
    Lr = L.clone().requires_grad_()
    want = ((-uw.log_var).exp() * L + uw.log_var).sum() / 2
    torch.testing.assert_close(uw(L), want)
    torch.autograd.gradcheck(uw, (Lr,))
    with pytest.raises(ValueError, match="losses"):
        uw(torch.ones(2, dtype=D64))


def test_equal_weighting_is_the_summed_loss_gradient():
    torch.manual_seed(0)
    model = HardSharing(5, {"a": 3, "b": 2}, hidden=(4,)).double()
    x = torch.randn(8, 5, dtype=D64)
    y = {"a": torch.randint(0, 3, (8,)), "b": torch.randint(0, 2, (8,))}
    losses, _ = task_losses(model(x), y)
    want = torch.autograd.grad(losses.sum(), list(model.parameters()))
    losses, _ = task_losses(model(x), y)
    got = torch.autograd.grad(EqualWeighting(2)(losses), list(model.parameters()))
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)
    losses, _ = task_losses(model(x), y)
    G = task_gradients(losses, model.shared_parameters())
    flat = torch.cat([g.reshape(-1) for g in want[: len(model.shared_parameters())]])
    torch.testing.assert_close(aggregate(G, "sum"), flat)


def test_dwa_matches_liu_2019():
    dwa = DynamicWeightAverage(3, temperature=2.0)
    L = t64([1.0, 1.0, 1.0])
    torch.testing.assert_close(dwa.weights(), torch.ones(3))
    dwa.end_epoch([1.0, 2.0, 4.0])
    torch.testing.assert_close(dwa.weights(), torch.ones(3))  # still w = 1 after one epoch
    dwa.end_epoch([0.5, 2.0, 2.0])
    r = np.array([0.5 / 1.0, 2.0 / 2.0, 2.0 / 4.0])
    want = 3 * np.exp(r / 2.0) / np.exp(r / 2.0).sum()
    np.testing.assert_allclose(dwa.weights().numpy(), want, rtol=1e-12)
    assert float(dwa(L)) == pytest.approx(want.sum())
    assert int(dwa.weights().argmax()) == 1  # the task whose loss did not fall gets the most weight
    with pytest.raises(ValueError, match="positive"):
        dwa.end_epoch([0.0, 1.0, 1.0])


def test_gradnorm_matches_chen_2018():
    # shared linear layer W (scalar output), two heads a_t: L_t = mean((a_t W x - y_t)^2); grad norms by hand
    torch.manual_seed(0)
    W = nn.Parameter(torch.randn(1, 3, dtype=D64))
    a = t64([2.0, -0.5])
    x = torch.randn(10, 3, dtype=D64)
    y = torch.randn(2, 10, dtype=D64)
    gn = GradNorm(2, alpha=1.5).double()
    with torch.no_grad():
        gn.task_weights.copy_(t64([0.7, 1.3]))

    def losses_of(W):
        h = (x @ W.T).squeeze(1)
        return torch.stack([((a[t] * h - y[t]) ** 2).mean() for t in range(2)])

    L0 = losses_of(W)
    gn(L0)  # first call records L(0)
    with torch.no_grad():
        W.add_(0.1)
    L = losses_of(W)
    lgrad = gn.backward(L, [W])
    # by hand: dL_t/dW = mean(2 (a_t h - y_t) a_t x)
    h = (x @ W.detach().T).squeeze(1)
    norms = torch.stack([(2 * ((a[t] * h - y[t]) * a[t]).unsqueeze(1) * x).mean(0).norm() for t in range(2)])
    w = gn.task_weights.detach()
    G = w * norms
    r = (L.detach() / L0.detach()) / (L.detach() / L0.detach()).mean()
    target = G.mean() * r**1.5
    assert float(lgrad) == pytest.approx(float((G - target).abs().sum()), rel=1e-10)
    torch.testing.assert_close(gn.task_weights.grad, torch.sign(G - target) * norms)
    with torch.no_grad():
        gn.task_weights.copy_(t64([0.2, 0.6]))
    gn.renormalize()
    torch.testing.assert_close(gn.task_weights.detach(), t64([0.5, 1.5]))


def test_rlw_draws_simplex_weights_reproducibly():
    a = RandomLossWeighting(4, generator=torch.Generator().manual_seed(0))
    b = RandomLossWeighting(4, generator=torch.Generator().manual_seed(0))
    L = torch.ones(4)
    draws = []
    for _ in range(3):
        assert float(a(L)) == pytest.approx(1.0)  # weights sum to 1
        b(L)
        torch.testing.assert_close(a.weights(), b.weights())
        assert bool((a.weights() > 0).all())
        draws.append(a.weights().clone())
    assert not torch.allclose(draws[0], draws[1])


# ---- per-sample task masks --------------------------------------------------------------------------------
def test_masked_samples_add_nothing():
    torch.manual_seed(0)
    logits = {"a": torch.randn(6, 3, requires_grad=True), "b": torch.randn(6, 2, requires_grad=True)}
    y = {"a": torch.tensor([0, 1, MISSING, 2, MISSING, 0]), "b": torch.full((6,), MISSING)}
    losses, present = task_losses(logits, y)
    assert present.tolist() == [True, False] and float(losses[1].detach()) == 0.0
    keep = y["a"] >= 0
    torch.testing.assert_close(losses[0], nn.functional.cross_entropy(logits["a"][keep], y["a"][keep]))
    losses.sum().backward()
    assert torch.all(logits["a"].grad[~keep] == 0)
    assert logits["b"].grad is None or torch.all(logits["b"].grad == 0)
    # an explicit mask does the same as the -1 label
    losses2, _ = task_losses(logits, {"a": torch.tensor([0, 1, 1, 2, 1, 0]), "b": y["b"]}, masks={"a": keep})
    torch.testing.assert_close(losses2, losses.detach())
    with pytest.raises(ValueError, match="labels"):
        task_losses(logits, {"a": torch.tensor([0, 1, 5, 2, 1, 0]), "b": y["b"]})


def test_absent_task_does_not_move_uncertainty_weight():
    torch.manual_seed(0)
    model = HardSharing(4, {"a": 2, "b": 2}, hidden=(3,))
    uw = UncertaintyWeighting(2)
    opt = torch.optim.SGD(list(model.parameters()) + list(uw.parameters()), lr=0.1)
    x = torch.randn(5, 4)
    y = {"a": torch.randint(0, 2, (5,)), "b": torch.full((5,), MISSING)}
    head_b = model.heads["b"].weight.detach().clone()
    multitask_step(model, x, y, opt, uw)
    assert float(uw.log_var[1].detach()) == 0.0 and float(uw.log_var[0].detach()) != 0.0
    assert torch.equal(model.heads["b"].weight.detach(), head_b)


def test_delta_m():
    assert delta_m({"a": 0.9, "b": 0.5}, {"a": 0.9, "b": 0.5}) == 0.0
    assert delta_m({"a": 0.99, "b": 0.5}, {"a": 0.9, "b": 0.5}) == pytest.approx(5.0)
    assert delta_m({"err": 0.5}, {"err": 1.0}, lower_is_better=("err",)) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="same tasks"):
        delta_m({"a": 1.0}, {"b": 1.0})


# ---- architectures ----------------------------------------------------------------------------------------
TASKS = {"a": 3, "b": 2, "c": 4}


def _models():
    return {
        "hard": HardSharing(6, TASKS, hidden=(8, 5)),
        "soft": SoftSharing(6, TASKS, hidden=(8, 5), coupling=0.1),
        "cross_stitch": CrossStitch(6, TASKS, hidden=(8, 5)),
        "hierarchical": HierarchicalSharing(6, TASKS, depth={"a": 1, "b": 2, "c": 2}, hidden=(8, 5)),
        "mmoe": MMoE(6, TASKS, hidden=(8, 5), num_experts=3),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_models_give_one_output_per_task(name):
    torch.manual_seed(0)
    model = _models()[name]
    out = model(torch.randn(7, 6))
    assert {t: tuple(v.shape) for t, v in out.items()} == {t: (7, k) for t, k in TASKS.items()}
    shared = {id(p) for p in model.shared_parameters()}
    assert shared.isdisjoint(id(p) for p in model.task_parameters())
    assert len(shared) + len(model.task_parameters()) == len(list(model.parameters()))
    with pytest.raises(ValueError, match="x must"):
        model(torch.randn(7, 5))


def test_model_arguments_are_checked():
    with pytest.raises(ValueError, match="task_classes"):
        HardSharing(4, {})
    with pytest.raises(ValueError, match="task_classes"):
        HardSharing(4, {"a": 1})
    with pytest.raises(ValueError, match="depth"):
        HierarchicalSharing(4, {"a": 2}, depth={"a": 3}, hidden=(4, 4))
    with pytest.raises(ValueError, match="depth"):
        HierarchicalSharing(4, {"a": 2, "b": 2}, depth={"a": 1}, hidden=(4, 4))


def test_soft_sharing_penalty_formula():
    torch.manual_seed(0)
    m = SoftSharing(6, TASKS, hidden=(8, 5), coupling=0.1)
    towers = [list(t.parameters()) for t in m.towers.values()]
    want = sum(
        ((p - q) ** 2).sum()
        for i, j in itertools.combinations(range(3), 2)
        for p, q in zip(towers[i], towers[j], strict=True)
    )
    torch.testing.assert_close(m.regularizer(), 0.1 * want)
    for tw in m.towers.values():  # identical towers: no penalty
        tw.load_state_dict(m.towers["a"].state_dict())
    assert m.coupling_penalty().item() == 0.0


def test_cross_stitch_identity_is_independent_towers():
    torch.manual_seed(0)
    m = CrossStitch(6, TASKS, hidden=(8, 5))
    with torch.no_grad():
        for alpha in m.stitch:
            alpha.copy_(torch.eye(3))
    x = torch.randn(4, 6)
    out = m(x)
    for k, t in enumerate(TASKS):
        h = x
        for layer in m.layers:
            h = torch.relu(layer[k](h))
        torch.testing.assert_close(out[t], m.heads[t](h))


def test_hierarchical_low_task_does_not_reach_high_layers():
    torch.manual_seed(0)
    m = HierarchicalSharing(6, TASKS, depth={"a": 1, "b": 2, "c": 2}, hidden=(8, 5))
    m(torch.randn(4, 6))["a"].sum().backward()
    assert m.layers[0][0].weight.grad is not None and m.layers[1][0].weight.grad is None


def test_mmoe_gates_are_distributions():
    torch.manual_seed(0)
    m = MMoE(6, TASKS, hidden=(8,), num_experts=3)
    m(torch.randn(4, 6))
    for g in m.last_gates.values():
        torch.testing.assert_close(g.sum(-1), torch.ones(4))


# ---- the training step ------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["pcgrad", "mgda", "cagrad"])
def test_step_writes_the_aggregate_on_shared_and_own_gradient_on_heads(method):
    torch.manual_seed(0)
    model = HardSharing(5, {"a": 3, "b": 2, "c": 2}, hidden=(4,)).double()
    x = torch.randn(9, 5, dtype=D64)
    y = {"a": torch.randint(0, 3, (9,)), "b": torch.randint(0, 2, (9,)), "c": torch.randint(0, 2, (9,))}
    losses, _ = task_losses(model(x), y)
    G = task_gradients(losses, model.shared_parameters())
    kw = {"generator": torch.Generator().manual_seed(0)} if method == "pcgrad" else {}
    want = aggregate(G, method, **kw)
    head_want = torch.autograd.grad(losses[1], model.heads["b"].weight)[0]
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    kw = {"generator": torch.Generator().manual_seed(0)} if method == "pcgrad" else {}
    rec = multitask_step(model, x, y, opt, EqualWeighting(3), method, diagnostics=True, **kw)
    got = torch.cat([p.grad.reshape(-1) for p in model.shared_parameters()])
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(model.heads["b"].weight.grad, head_want)
    assert rec["cosine"].shape == (3, 3)
    with pytest.raises(ValueError, match="EqualWeighting"):
        multitask_step(model, x, y, opt, UncertaintyWeighting(3), method)


def test_train_multitask_learns_and_checks_arguments():
    torch.manual_seed(0)
    x = torch.randn(200, 6)
    y = {"a": (x[:, 0] > 0).long(), "b": (x[:, 1] > 0).long()}
    y["b"][::3] = MISSING
    for strategy in ("ew", "uw", "dwa", "gradnorm", "rlw", "pcgrad", "mgda", "cagrad"):
        model = HardSharing(6, {"a": 2, "b": 2}, hidden=(16,))
        hist = train_multitask(model, x, y, strategy, epochs=4, batch_size=50, lr=1e-2, log_every=2)
        first, last = hist["epoch_losses"][0], hist["epoch_losses"][-1]
        assert bool((last < first).all()), strategy
        assert len(hist["log"]) == 8
    with pytest.raises(ValueError, match="strategy"):
        train_multitask(model, x, y, "nash")
    with pytest.raises(ValueError, match="labels"):
        train_multitask(model, x, {"a": y["a"]})
    with pytest.raises(ValueError, match="shared parameters"):
        train_multitask(SoftSharing(6, {"a": 2, "b": 2}, hidden=(4,)), x, y, "pcgrad", epochs=1)


# ---- layering ---------------------------------------------------------------------------------------------
def test_multitask_imports_only_lower_layers():
    allowed = {"types", "_validate", "data", "encoders", "fusion", "losses", "models", "multitask"}
    root = Path(__file__).resolve().parents[1] / "mmtutorial" / "multitask"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for n in names:
                if n.startswith("mmtutorial."):
                    assert n.split(".")[1] in allowed, f"{path.name} imports {n}"


# ---- the chapter's data ------------------------------------------------------------------------------------
def test_world_tasks_labels_and_masks():
    from mmtutorial.multitask.world_tasks import TASK_CLASSES, make_world_tasks

    data = make_world_tasks(n_train=40, n_test=20, seed=0)
    assert data.x["train"].shape == (40, 320) and data.x["test"].shape == (20, 320)
    assert bool(torch.isfinite(data.x["train"]).all())
    world = data.meta["world"]
    for i in range(40):
        y = {t: int(v[i]) for t, v in data.labels["train"].items()}
        order = world.scene(i).left_to_right()
        assert y["count"] == len(order) - 1
        assert world.config.shapes[y["shape"]] == order[0].shape
        assert world.config.colors[y["color"]] == order[0].color
        # relation is defined only with two or more shapes: a per-sample task mask
        assert (y["relation"] == MISSING) == (len(order) == 1)
        for t, k in TASK_CLASSES.items():
            assert -1 <= y[t] < k
