"""Budget-constrained targeting for retention campaigns: whom to contact.

Each candidate (a customer with the offer chosen for them) has a net expected value and a
cost. :func:`greedy_targets` takes the best value per unit cost under a budget and RM
capacity (vectorised; fine at a million customers); :func:`exact_targets` solves the same
problem exactly as a mixed-integer programme (``scipy.optimize.milp``) for a capped sample or
a branch, optionally choosing the offer too (:mod:`helpers.retention.knapsack` holds the
single-budget references); :func:`greedy_vs_exact` shows where greedy is optimal and how far
from optimal it can be; :func:`budget_curve` gives value and ROI as a function of the budget.
Re-exported by :mod:`helpers.retention.roi`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, sparse


def _capacity_limits(
    group: np.ndarray | None, capacity: int | Mapping | None, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Encode capacity groups: (group code per item, remaining slots per code).

    Items whose group is missing (e.g. mass customers with no RM, served by the call centre)
    get their own unconstrained code.
    """
    if capacity is None:
        return np.zeros(n, dtype=np.int64), np.array([np.iinfo(np.int64).max])
    if group is None:
        return np.zeros(n, dtype=np.int64), np.array([int(capacity)])
    labels = pd.Series(group)
    codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    slots = np.array(
        [
            int(capacity.get(u, 0)) if isinstance(capacity, Mapping) else int(capacity)
            for u in uniques
        ]
        + [np.iinfo(np.int64).max],  # the last code collects items without a group
        dtype=np.int64,
    )
    codes = np.where(codes < 0, len(uniques), codes)
    return codes.astype(np.int64), slots


def _within_slots(
    codes: np.ndarray, slots: np.ndarray, usable: np.ndarray, keys: np.ndarray | None
) -> np.ndarray:
    """Per item: whether its group can never use more than its slots (its usable options, or
    distinct choice keys among them, number no more than the slots)."""
    if keys is None:
        counts = np.bincount(codes, weights=usable, minlength=len(slots))
    else:
        pairs = pd.DataFrame({"code": codes[usable], "key": keys[usable]}).drop_duplicates()
        counts = np.bincount(pairs["code"].to_numpy(), minlength=len(slots))
    return counts[codes] <= slots[codes]


def greedy_targets(
    value: Sequence[float],
    cost: Sequence[float],
    budget: float,
    capacity: int | Mapping | None = None,
    group: Sequence | None = None,
    max_passes: int = 50,
) -> np.ndarray:
    """Choose whom to contact: greedy by net value per unit cost, under budget and capacity.

    Items (customers, each with their chosen offer) with positive net ``value`` are taken in
    decreasing order of ``value / cost``; an item is skipped when it no longer fits the
    remaining budget or its group (RM) is full, and the walk continues. This is the classic
    greedy for the 0/1 knapsack: optimal when costs are equal (then it simply takes the most
    valuable), and in general within one item's value of the optimum (its value is at least
    the LP bound minus the largest single value), but it can be beaten when a high-ratio but
    expensive item crowds out two cheaper ones; see :func:`exact_targets`.

    The walk is vectorised: each pass takes the longest prefix that fits, so the number of
    passes is the number of skips plus one (capped at ``max_passes``; past that the result
    is a slightly conservative greedy).

    Parameters
    ----------
    value : net expected value of contacting each item (RMB).
    cost : total cost of contacting each item (RMB, > 0).
    budget : total spend allowed.
    capacity : max contacts, in total (``group`` None) or per group (int, or mapping
        group -> slots). None = no capacity limit.
    group : capacity group of each item (e.g. ``rm_id``); missing = unconstrained.

    Returns
    -------
    Boolean array: True = contact.
    """
    value = np.asarray(value, dtype=float)
    cost = np.asarray(cost, dtype=float)
    if np.any(cost <= 0):
        raise ValueError("every cost must be positive (a contact always costs something)")
    n = len(value)
    codes, slots_left = _capacity_limits(
        None if group is None else np.asarray(group, dtype=object), capacity, n
    )
    slots_left = slots_left.copy()
    order = np.lexsort((-value, -(value / cost)))  # by ratio, ties by larger value
    value_o, cost_o, codes_o = value[order], cost[order], codes[order]
    chosen_o = np.zeros(n, dtype=bool)
    remaining = float(budget)
    for _ in range(max_passes):
        eligible = (~chosen_o) & (value_o > 0) & (cost_o <= remaining + 1e-9)
        eligible &= slots_left[codes_o] > 0
        if not eligible.any():
            break
        index = np.flatnonzero(eligible)
        # rank of each eligible item within its capacity group, in greedy order
        rank = pd.Series(codes_o[index]).groupby(codes_o[index]).cumcount().to_numpy()
        within_capacity = rank < slots_left[codes_o[index]]
        index = index[within_capacity]
        spend = np.cumsum(cost_o[index])
        fits = spend <= remaining + 1e-9
        # the prefix that fits: stop at the first item that does not
        stop = np.argmin(fits) if not fits.all() else len(fits)
        taken = index[:stop]
        if len(taken) == 0:  # cannot happen (eligible items fit alone); guards the loop
            break
        chosen_o[taken] = True
        remaining -= float(cost_o[taken].sum())
        np.subtract.at(slots_left, codes_o[taken], 1)
        if stop == len(fits):
            break
    chosen = np.zeros(n, dtype=bool)
    chosen[order] = chosen_o
    return chosen


def exact_targets(
    value: Sequence[float],
    cost: Sequence[float],
    budget: float,
    capacity: int | Mapping | None = None,
    group: Sequence | None = None,
    choice: Sequence | None = None,
    relax: bool = False,
    time_limit: float = 60.0,
    report: dict | None = None,
    presolve: bool = True,
    rel_gap: float = 1e-4,
) -> np.ndarray:
    """Exact targeting by mixed-integer programming (``scipy.optimize.milp``, HiGHS).

    Maximise ``sum(value_i x_i)`` subject to ``sum(cost_i x_i) <= budget``, at most
    ``capacity`` contacts per group, and at most one option per ``choice`` key (pass
    ``choice=customer_id`` with one row per customer x offer to choose the offer too: the
    multiple-choice knapsack). Meant for a capped sample or a branch: HiGHS solves tens of
    thousands of binaries in seconds, but it is not the tool for a million.

    Parameters
    ----------
    relax : solve the LP relaxation (0 <= x <= 1) instead; its objective is an upper bound on
        any selection's value, and so bounds how far greedy can be from the optimum. For a
        budget alone use :func:`lp_bound` (closed form, fast at a million rows; HiGHS took
        minutes there).

    ``report`` (a dict, optional) receives ``proven``: whether HiGHS proved the selection
    optimal, False when it stopped at ``time_limit`` with the best selection found so far.

    ``presolve`` and ``rel_gap`` are HiGHS' presolve switch and relative optimality gap (its
    defaults). On Fishpond's samples for the greedy check (about one option per customer, one
    contact slot per RM) HiGHS' presolve took 2.6 of every 2.7 s per solve; without it, and with
    a gap of 1e-6, the same optima came in 0.1 s (the check's settings:
    :data:`helpers.retention.next_campaign.GAP_CHECK_SOLVER`).

    Returns
    -------
    Boolean array (``relax=False``) or the fractional solution (``relax=True``).
    """
    value = np.asarray(value, dtype=float)
    cost = np.asarray(cost, dtype=float)
    n = len(value)
    if report is not None:
        report["proven"] = True
    if n == 0:  # nothing worth planning (no candidate has a positive net value)
        return np.zeros(0, dtype=float if relax else bool)
    usable = value > 0  # an item with non-positive value is never worth taking
    rows_blocks = [sparse.csr_matrix(cost.reshape(1, -1))]
    upper = [float(budget)]
    keys = None if choice is None else pd.factorize(pd.Series(choice))[0]
    if capacity is not None:
        codes, slots = _capacity_limits(
            None if group is None else np.asarray(group, dtype=object), capacity, n
        )
        constrained = slots[codes] < np.iinfo(np.int64).max
        # Only groups that could exceed their slots get a row: the rest can never bind
        # (usable options, one per choice key at most). HiGHS' presolve spent 2.6 s per solve
        # finding that out on a 3,000-option sample of the 1M bank.
        constrained &= usable & ~_within_slots(codes, slots, usable, keys)
        if constrained.any():
            groups = np.unique(codes[constrained])
            lookup = {g: i for i, g in enumerate(groups)}
            row = np.array([lookup[g] for g in codes[constrained]])
            matrix = sparse.csr_matrix(
                (np.ones(constrained.sum()), (row, np.flatnonzero(constrained))),
                shape=(len(groups), n),
            )
            rows_blocks.append(matrix)
            upper.extend(slots[groups].astype(float))
    if keys is not None:
        # one row per key with two or more usable options (one option is held to 1 by its bound)
        shared = usable & (np.bincount(keys, weights=usable, minlength=keys.max() + 1)[keys] > 1)
        if shared.any():
            rows, _ = pd.factorize(keys[shared])
            matrix = sparse.csr_matrix(
                (np.ones(shared.sum()), (rows, np.flatnonzero(shared))), shape=(rows.max() + 1, n)
            )
            rows_blocks.append(matrix)
            upper.extend([1.0] * matrix.shape[0])
    constraints = optimize.LinearConstraint(
        sparse.vstack(rows_blocks).tocsr(), -np.inf, np.array(upper)
    )
    bounds = optimize.Bounds(np.zeros(n), np.where(usable, 1.0, 0.0))
    result = optimize.milp(
        -np.where(usable, value, 0.0),
        constraints=constraints,
        bounds=bounds,
        integrality=np.zeros(n) if relax else np.ones(n),
        options={
            "time_limit": time_limit,
            "disp": False,
            "presolve": presolve,
            "mip_rel_gap": rel_gap,
        },
    )
    if result.x is None:
        raise RuntimeError(f"targeting solver failed: {result.message}")
    if report is not None:
        report["proven"] = bool(result.status == 0)  # 1: stopped at the time limit
    if relax:
        return result.x
    return result.x > 0.5


def budget_curve(
    gross_value: Sequence[float],
    cost: Sequence[float],
    budgets: Sequence[float],
    capacity: int | Mapping | None = None,
    group: Sequence | None = None,
) -> pd.DataFrame:
    """Expected value and ROI of the greedy plan at each budget.

    Returns
    -------
    DataFrame: ``budget``, ``contacts``, ``spend``, ``expected_gross``, ``expected_net``,
    ``roi`` (net / spend).
    """
    gross = np.asarray(gross_value, dtype=float)
    cost = np.asarray(cost, dtype=float)
    net = gross - cost
    rows = []
    for budget in budgets:
        chosen = greedy_targets(net, cost, budget, capacity, group)
        spend = float(cost[chosen].sum())
        rows.append(
            {
                "budget": float(budget),
                "contacts": int(chosen.sum()),
                "spend": spend,
                "expected_gross": float(gross[chosen].sum()),
                "expected_net": float(net[chosen].sum()),
                "roi": float(net[chosen].sum() / spend) if spend > 0 else np.nan,
            }
        )
    return pd.DataFrame(rows)


def greedy_vs_exact(
    value: Sequence[float],
    cost: Sequence[float],
    budgets: Sequence[float],
    capacity: int | Mapping | None = None,
    group: Sequence | None = None,
    time_limit: float = 20.0,
) -> pd.DataFrame:
    """Greedy, exact (MILP) and LP-bound value at several budgets, with the greedy gap.

    ``gap`` = exact - greedy (RMB) and ``gap_pct`` = gap / exact. ``lp_bound`` bounds the
    optimum from above at any size, so ``lp_bound - greedy`` is a certified worst case even
    where the exact solve is too slow.
    """
    value = np.asarray(value, dtype=float)
    cost = np.asarray(cost, dtype=float)
    rows = []
    for budget in budgets:
        if len(value) == 0:  # nothing worth contacting: both plans are empty
            rows.append({"budget": float(budget), "greedy_value": 0.0, "exact_value": 0.0,
                         "lp_bound": 0.0, "gap": 0.0, "gap_pct": 0.0, "same_selection": True})  # fmt: skip
            continue
        greedy = greedy_targets(value, cost, budget, capacity, group)
        exact = exact_targets(value, cost, budget, capacity, group, time_limit=time_limit)
        relaxed = exact_targets(value, cost, budget, capacity, group, relax=True)
        greedy_value = float(value[greedy].sum())
        exact_value = float(value[exact].sum())
        rows.append(
            {
                "budget": float(budget),
                "greedy_value": greedy_value,
                "exact_value": exact_value,
                "lp_bound": float(np.dot(np.where(value > 0, value, 0.0), relaxed)),
                "gap": exact_value - greedy_value,
                "gap_pct": (exact_value - greedy_value) / exact_value if exact_value > 0 else 0,
                "same_selection": bool((greedy == exact).all()),
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- offer and budget
def _codes(values) -> np.ndarray:
    return pd.factorize(pd.Series(values).astype(str))[0]


def greedy_choice(
    value: Sequence[float],
    cost: Sequence[float],
    customer: Sequence,
    budget: float,
    capacity: int | Mapping | None = None,
    group: Sequence | None = None,
    max_passes: int = 50,
) -> np.ndarray:
    """Greedy multiple-choice knapsack: at most one option (offer) per customer.

    Options with positive net ``value`` are taken by value per unit cost, skipping options of
    customers already chosen, options that no longer fit the budget and RMs that are full; a
    second walk then upgrades chosen customers to a better option of theirs (by extra value
    per extra cost) while the budget allows. Vectorised in passes like :func:`greedy_targets`.
    Its distance to the optimum is bounded by :func:`lagrangian_bound`.

    Returns
    -------
    Boolean array over the options: True = chosen.
    """
    value = np.asarray(value, dtype=float)
    cost = np.asarray(cost, dtype=float)
    if np.any(cost <= 0):
        raise ValueError("every cost must be positive (a contact always costs something)")
    n = len(value)
    customers = _codes(customer)
    codes, slots_left = _capacity_limits(
        None if group is None else np.asarray(group, dtype=object), capacity, n
    )
    slots_left = slots_left.copy()
    taken = np.zeros(customers.max() + 1 if n else 0, dtype=bool)
    order = np.lexsort((-value, -(value / np.where(cost > 0, cost, 1.0))))
    chosen = np.zeros(n, dtype=bool)
    remaining = float(budget)
    for _ in range(max_passes):
        eligible = (~chosen[order]) & (value[order] > 0) & (cost[order] <= remaining + 1e-9)
        eligible &= ~taken[customers[order]] & (slots_left[codes[order]] > 0)
        index = order[eligible]
        if index.size == 0:
            break
        index = index[~pd.Series(customers[index]).duplicated().to_numpy()]
        rank = pd.Series(codes[index]).groupby(codes[index]).cumcount().to_numpy()
        index = index[rank < slots_left[codes[index]]]
        fits = np.cumsum(cost[index]) <= remaining + 1e-9
        stop = len(fits) if fits.all() else int(np.argmin(fits))
        picked = index[:stop]
        if picked.size == 0:
            break
        chosen[picked] = True
        taken[customers[picked]] = True
        remaining -= float(cost[picked].sum())
        np.subtract.at(slots_left, codes[picked], 1)
        if stop == len(fits):
            break
    return _upgrade(value, cost, customers, codes, chosen, remaining)


def _upgrade(value, cost, customers, codes, chosen, remaining: float) -> np.ndarray:
    """Move chosen customers to a more valuable option of theirs while the budget allows.

    Only to an option in the same capacity group (a customer's offers share their RM), so
    the RMs' loads do not change.
    """
    if not chosen.any():
        return chosen
    current = pd.Series(np.where(chosen, np.arange(len(value)), -1)).groupby(customers).max()
    held = current.reindex(customers).to_numpy()
    has = held >= 0
    extra_value = np.where(has, value - value[np.maximum(held, 0)], 0.0)
    extra_cost = np.where(has, cost - cost[np.maximum(held, 0)], 0.0)
    better = has & ~chosen & (extra_value > 0) & (codes == codes[np.maximum(held, 0)])
    if not better.any():
        return chosen
    candidates = np.flatnonzero(better)
    ratio = extra_value[candidates] / np.maximum(extra_cost[candidates], 1e-9)
    candidates = candidates[np.argsort(-ratio, kind="stable")]
    candidates = candidates[~pd.Series(customers[candidates]).duplicated().to_numpy()]
    spend = np.cumsum(np.maximum(extra_cost[candidates], 0.0))
    moved = candidates[spend <= remaining + 1e-9]
    chosen = chosen.copy()
    chosen[held[moved]] = False
    chosen[moved] = True
    return chosen


def lagrangian_bound(
    value: Sequence[float],
    cost: Sequence[float],
    customer: Sequence,
    budget: float,
    capacity: int | Mapping | None = None,
    group: Sequence | None = None,
    iterations: int = 60,
) -> float:
    """Upper bound on any plan's value with one option per customer, a budget and RM capacity.

    Relaxing the budget with a multiplier ``lam >= 0`` leaves a problem solved exactly by
    sorting: each customer's best reduced value ``max_o(value - lam x cost)``, at most
    ``capacity`` customers per RM, so ``bound(lam) = lam x budget + that sum`` is above the
    optimum for every ``lam`` (weak duality); the bound is minimised over ``lam`` (convex, so a
    ternary search). Unlike the single-offer LP bound of :func:`lp_bound`, it stays valid with
    the offer choice and per-RM capacity.
    """
    value = np.asarray(value, dtype=float)
    cost = np.asarray(cost, dtype=float)
    if len(value) == 0:
        return 0.0
    customers = _codes(customer)
    codes, slots = _capacity_limits(
        None if group is None else np.asarray(group, dtype=object), capacity, len(value)
    )
    # the capacity group of a customer: that of their first option (an RM serves a customer)
    customer_group = pd.Series(codes).groupby(customers).first().to_numpy()
    # The search evaluates the bound ~130 times: sort the options by customer once, so each
    # evaluation is a few numpy passes (a pandas group-by per evaluation took 16 s at 1M).
    by_customer = np.argsort(customers, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(customers[by_customer]) != 0])
    value_sorted, cost_sorted = value[by_customer], cost[by_customer]

    def bound(lam: float) -> float:
        reduced = np.maximum.reduceat(value_sorted - lam * cost_sorted, starts)
        reduced = np.maximum(reduced, 0.0)
        order = np.lexsort((-reduced, customer_group))
        groups = customer_group[order]
        first = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        rank = np.arange(len(groups)) - np.repeat(first, np.diff(np.r_[first, len(groups)]))
        keep = rank < slots[groups]
        return lam * float(budget) + float(reduced[order][keep].sum())

    # Golden-section search: one new evaluation per step (a ternary search needs two), each
    # step keeping 0.618 of the interval (60 steps: 3e-13 of it). Every evaluated bound(lam)
    # is a valid upper bound, so the smallest one seen is returned.
    ratio = (5.0**0.5 - 1.0) / 2.0
    low, high = 0.0, float(np.max(np.where(cost > 0, value / cost, 0.0))) + 1.0
    left, right = high - ratio * (high - low), low + ratio * (high - low)
    at_left, at_right = bound(left), bound(right)
    best = min(at_left, at_right, bound(0.0))
    for _ in range(iterations):
        if at_left <= at_right:
            high, right, at_right = right, left, at_left
            left = high - ratio * (high - low)
            at_left = bound(left)
            best = min(best, at_left)
        else:
            low, left, at_left = left, right, at_right
            right = low + ratio * (high - low)
            at_right = bound(right)
            best = min(best, at_right)
    return min(best, bound(low), bound(high))


def choose_offers_and_targets(
    options: pd.DataFrame,
    budget: float,
    capacity: int | Mapping | None = None,
    group_column: str = "rm_id",
    exact_cap: int = 5000,
    time_limit: float = 30.0,
) -> tuple[np.ndarray, dict]:
    """Joint offer-and-budget choice: one offer per customer, within budget and RM capacity.

    ``options`` has one row per (customer, offer): ``customer_id``, ``net_value``, ``cost`` and
    (for capacity) ``group_column``. Options with positive value number at most ``exact_cap``:
    solved exactly (mixed-integer programme, :func:`exact_targets` with a choice constraint);
    more: :func:`greedy_choice`, with :func:`lagrangian_bound` stating how far from the
    optimum it can be.

    Returns
    -------
    (chosen, info)
        Boolean array over ``options``; ``info``: ``method`` ("exact" or "greedy"),
        ``value``, ``bound`` (upper bound on the optimum), ``gap`` (bound - value, RMB).
    """
    value = options["net_value"].to_numpy(float)
    cost = options["cost"].to_numpy(float)
    customer = options["customer_id"].to_numpy()
    group = options[group_column].to_numpy(dtype=object) if capacity is not None else None
    useful = value > 0
    chosen = np.zeros(len(options), dtype=bool)
    if useful.sum() == 0:
        return chosen, {"method": "exact", "value": 0.0, "bound": 0.0, "gap": 0.0}
    sub = np.flatnonzero(useful)
    sub_group = None if group is None else group[sub]
    if useful.sum() <= exact_cap:
        picked = exact_targets(value[sub], cost[sub], budget, capacity, sub_group,
                               choice=customer[sub], time_limit=time_limit)  # fmt: skip
        chosen[sub[picked]] = True
        total = float(value[chosen].sum())
        return chosen, {"method": "exact", "value": total, "bound": total, "gap": 0.0}
    picked = greedy_choice(value[sub], cost[sub], customer[sub], budget, capacity, sub_group)
    chosen[sub[picked]] = True
    total = float(value[chosen].sum())
    upper = lagrangian_bound(value[sub], cost[sub], customer[sub], budget, capacity, sub_group)
    return chosen, {"method": "greedy", "value": total, "bound": upper, "gap": upper - total}


def choice_budget_curve(
    options: pd.DataFrame,
    budgets: Sequence[float],
    capacity: int | Mapping | None = None,
    group_column: str = "rm_id",
    exact_cap: int = 5000,
) -> pd.DataFrame:
    """Value and ROI of the joint offer-and-budget plan at each budget (same costs, same rules).

    Returns
    -------
    DataFrame: ``budget``, ``contacts``, ``spend``, ``expected_gross``, ``expected_net``,
    ``roi`` (net / spend), ``method``.
    """
    rows = []
    for budget in budgets:
        chosen, info = choose_offers_and_targets(options, budget, capacity, group_column, exact_cap)
        spend = float(options.loc[chosen, "cost"].sum())
        net = float(options.loc[chosen, "net_value"].sum())
        rows.append(
            {
                "budget": float(budget),
                "contacts": int(chosen.sum()),
                "spend": spend,
                "expected_gross": float(options.loc[chosen, "gross_value"].sum()),
                "expected_net": net,
                "roi": net / spend if spend > 0 else np.nan,
                "method": info["method"],
            }
        )
    return pd.DataFrame(rows)
