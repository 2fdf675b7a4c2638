"""Shapley values over modalities: the axioms on hand-built games, and the definition over orderings."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from mmtutorial.eval.attribution import ablation, coalition_values, shapley_values

PLAYERS = ("image", "audio", "text")


def synergy(s: frozenset[str]) -> float:
    # image and audio are worth 2 each, 3 more together; text never changes anything (a dummy)
    return 2.0 * ("image" in s) + 2.0 * ("audio" in s) + 3.0 * ({"image", "audio"} <= s)


def test_hand_built_game():
    phi = shapley_values(synergy, PLAYERS)
    assert phi == pytest.approx({"image": 3.5, "audio": 3.5, "text": 0.0})  # the bonus 3 is split evenly
    full, empty = synergy(frozenset(PLAYERS)), synergy(frozenset())
    assert sum(phi.values()) == pytest.approx(full - empty)  # efficiency
    # leave-one-out gives both the whole bonus: its credits sum to 10, more than the 7 there is
    assert ablation(synergy, PLAYERS) == pytest.approx({"image": 5.0, "audio": 5.0, "text": 0.0})


def test_redundant_modalities():
    # either modality alone is enough: ablation says neither matters, Shapley splits the credit
    def either(s):
        return 0.9 if s else 0.5

    assert ablation(either, PLAYERS) == pytest.approx({m: 0.0 for m in PLAYERS})
    phi = shapley_values(either, PLAYERS)
    assert phi == pytest.approx({m: 0.4 / 3 for m in PLAYERS})


def _by_orderings(table, players):
    # the definition: the average over all M! orders of the value a player adds when it joins
    phi = dict.fromkeys(players, 0.0)
    orders = list(itertools.permutations(players))
    for order in orders:
        s = frozenset()
        for m in order:
            phi[m] += (table[s | {m}] - table[s]) / len(orders)
            s = s | {m}
    return phi


@pytest.mark.parametrize("seed", range(5))
def test_random_games_efficiency_symmetry_and_definition(seed):
    rnd = random.Random(seed)
    players = ("a", "b", "c", "d")
    table = {frozenset(s): rnd.uniform(-1, 1) for r in range(5) for s in itertools.combinations(players, r)}
    phi = shapley_values(table, players)
    assert phi == pytest.approx(_by_orderings(table, players), abs=1e-12)
    assert sum(phi.values()) == pytest.approx(table[frozenset(players)] - table[frozenset()], abs=1e-12)
    # symmetry: make a and b interchangeable (v(S + a) = v(S + b) for every S without them)
    sym = dict(table)
    for r in range(3):
        for s in itertools.combinations(("c", "d"), r):
            sym[frozenset(s) | {"b"}] = sym[frozenset(s) | {"a"}]
    phi = shapley_values(sym, players)
    assert phi["a"] == pytest.approx(phi["b"], abs=1e-12)
    # additivity: phi(v + w) = phi(v) + phi(w)
    w = {s: rnd.uniform(-1, 1) for s in table}
    both = shapley_values({s: table[s] + w[s] for s in table}, players)
    sep_v, sep_w = shapley_values(table, players), shapley_values(w, players)
    assert both == pytest.approx({m: sep_v[m] + sep_w[m] for m in players}, abs=1e-12)


def test_value_function_called_once_per_subset():
    calls = []

    def v(s):
        calls.append(s)
        return len(s) ** 2

    table = coalition_values(v, PLAYERS)
    assert len(calls) == len(set(calls)) == 2 ** len(PLAYERS) == len(table)
    assert shapley_values(table, PLAYERS) == pytest.approx({m: 3.0 for m in PLAYERS})  # 9 / 3 each
    assert math.isclose(sum(ablation(table, PLAYERS).values()), 3 * (9 - 4))


def test_bad_inputs():
    with pytest.raises(ValueError, match="players"):
        shapley_values(synergy, ("image", "image"))
    with pytest.raises(ValueError, match="players"):
        shapley_values(synergy, ())
    with pytest.raises(ValueError, match="must return a number"):
        shapley_values(lambda s: "high", PLAYERS)
    with pytest.raises(ValueError, match="finite"):
        shapley_values(lambda s: float("nan"), PLAYERS)
    with pytest.raises(ValueError, match="lacks subsets"):
        shapley_values({frozenset(): 0.0}, PLAYERS)
