"""Single-budget knapsack references for the targeting of :mod:`helpers.retention.targeting`.

:func:`lp_bound` is the LP relaxation's value under a budget alone (Dantzig's bound, closed
form, fast at a million rows); :func:`knapsack_dp` the exact 0/1 knapsack by dynamic
programming on integer costs, a transparent reference for small problems.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def lp_bound(value: Sequence[float], cost: Sequence[float], budget: float) -> float:
    """Upper bound on any selection's value under a budget alone (the LP relaxation).

    The fractional knapsack is solved exactly by taking items in order of value per cost and
    a fraction of the first one that does not fit (Dantzig's bound). Greedy is then at most
    ``lp_bound - greedy value`` from the optimum, which is below the largest single value.
    """
    value = np.asarray(value, dtype=float)
    cost = np.asarray(cost, dtype=float)
    useful = value > 0
    value, cost = value[useful], cost[useful]
    order = np.argsort(-(value / cost), kind="stable")
    spend = np.cumsum(cost[order])
    full = spend <= budget
    total = float(value[order][full].sum())
    if not full.all():
        first_out = int(np.argmin(full))
        left = budget - (spend[first_out - 1] if first_out > 0 else 0.0)
        total += float(value[order][first_out] * left / cost[order][first_out])
    return total


def knapsack_dp(value: Sequence[float], cost: Sequence[int], budget: int) -> np.ndarray:
    """Exact 0/1 knapsack by dynamic programming on integer costs (small problems).

    A transparent reference for :func:`exact_targets` when costs are whole RMB (round them
    first). Time and memory are O(n x budget).

    Returns
    -------
    Boolean array: True = take.
    """
    value = np.asarray(value, dtype=float)
    cost = np.asarray(cost)
    if not np.issubdtype(cost.dtype, np.integer):
        if not np.allclose(cost, np.round(cost)):
            raise ValueError("knapsack_dp needs integer costs; round them to whole units first")
        cost = np.round(cost).astype(np.int64)
    budget = int(budget)
    n = len(value)
    best = np.zeros(budget + 1)
    keep = np.zeros((n, budget + 1), dtype=bool)
    for item in range(n):
        weight = int(cost[item])
        if value[item] <= 0 or weight > budget:
            continue
        # vectorised over capacities: taking the item at capacity b uses best[b - weight]
        candidate = best[: budget + 1 - weight] + value[item]
        improves = candidate > best[weight:] + 1e-12
        keep[item, weight:] = improves
        best[weight:] = np.where(improves, candidate, best[weight:])
    chosen = np.zeros(n, dtype=bool)
    remaining = budget
    for item in range(n - 1, -1, -1):
        if keep[item, remaining]:
            chosen[item] = True
            remaining -= int(cost[item])
    return chosen
