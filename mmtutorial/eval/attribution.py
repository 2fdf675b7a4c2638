"""How much does each modality contribute? Ablation and exact Shapley values over modalities.

Both start from a *value function* ``v(S)``: the score (e.g. accuracy) of the model when it sees only the
modalities in the set ``S`` (the others missing). With ``N`` the set of all ``M`` modalities:

- **ablation** (leave one out): ``a_m = v(N) - v(N \\ {m})``. Cheap (``M + 1`` evaluations) but blind to
  redundancy: if two modalities carry the same information, removing either costs nothing and both get ~0;
  if they only work together, both get the full credit and the credits sum to more than there is.
- **Shapley value** (Shapley 1953): the average, over all ``M!`` orders of adding modalities, of what ``m``
  adds when it joins:

  ``phi_m = sum_{S subset N \\ {m}} |S|! (M - |S| - 1)! / M! * (v(S + {m}) - v(S))``

  exact here (``2^M`` evaluations; ``M`` is small). It is the only attribution that is *efficient*
  (``sum_m phi_m = v(N) - v({})``), *symmetric* (interchangeable modalities get equal credit), gives 0 to a
  *dummy* (a modality that never changes ``v``) and is *additive* over value functions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

ValueFn = Callable[[frozenset[str]], float]


def _check_players(players: Sequence[str]) -> tuple[str, ...]:
    players = tuple(players)
    if not players or len(set(players)) != len(players) or not all(isinstance(p, str) for p in players):
        raise ValueError(f"players must be distinct modality names (at least one), got {players!r}")
    if len(players) > 12:
        raise ValueError(
            f"players must be at most 12 for exact Shapley values (2^M subsets), got {len(players)}"
        )
    return players


def _value(value: ValueFn, subset: frozenset[str]) -> float:
    v = value(subset)
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"value({set(subset)}) must return a number, got {v!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"value({set(subset)}) must be finite, got {v}")
    return v


def coalition_values(value: ValueFn, players: Sequence[str]) -> dict[frozenset[str], float]:
    """``v(S)`` for every subset ``S`` of ``players`` (``2^M`` calls), keyed by frozenset."""
    players = _check_players(players)
    return {
        frozenset(s): _value(value, frozenset(s))
        for r in range(len(players) + 1)
        for s in itertools.combinations(players, r)
    }


def ablation(value: ValueFn | dict[frozenset[str], float], players: Sequence[str]) -> dict[str, float]:
    """Leave-one-out contributions ``{m: v(N) - v(N \\ {m})}``.

    ``value`` is the value function or a table from :func:`coalition_values`.
    """
    players = _check_players(players)
    v = value.__getitem__ if isinstance(value, dict) else (lambda s: _value(value, s))
    full = frozenset(players)
    return {m: v(full) - v(full - {m}) for m in players}


def shapley_values(value: ValueFn | dict[frozenset[str], float], players: Sequence[str]) -> dict[str, float]:
    """Exact Shapley values ``{m: phi_m}`` of ``players`` under ``value`` (module doc).

    ``value`` is the value function (called once per subset) or a table from :func:`coalition_values`.
    """
    players = _check_players(players)
    table = value if isinstance(value, dict) else coalition_values(value, players)
    missing = [
        set(s)
        for r in range(len(players) + 1)
        for s in itertools.combinations(players, r)
        if frozenset(s) not in table
    ]
    if missing:
        raise ValueError(f"value table lacks subsets {missing[:3]} of players {players}")
    n = len(players)
    phi = {}
    for m in players:
        rest = [p for p in players if p != m]
        total = 0.0
        for r in range(n):
            weight = math.factorial(r) * math.factorial(n - r - 1) / math.factorial(n)
            for s in itertools.combinations(rest, r):
                s = frozenset(s)
                total += weight * (table[s | {m}] - table[s])
        phi[m] = total
    return phi
