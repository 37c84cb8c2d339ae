"""Course exercises of ``01_tiering`` (分层管理): checks that tell a learner why an answer is off.

Each check recomputes the expected answer from the same objects the notebook built (the ABT,
the ladder, the fish-pond grid, the migration, the AUM bridge), so nothing is hard-coded and the
checks stay right for any dataset, month or ``tier_thresholds``. A check passes with "skipped"
when the data makes its exercise inapplicable (flat data has no migration or bridge; a minimal
extract has no fish-pond grid), and never raises for a wrong, odd or missing answer.

Re-exported by :mod:`helpers.course`, so notebooks call ``course.check_tiering_...``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from helpers import config, i18n
from helpers.course.checks import (
    Slip,
    check,
    code_problem,
    count_problem,
    exercise,
    label_slips,
    msg,
    percent_slip,
    share_problem,
    skip,
)

__all__ = [
    "check_tiering_threshold_move",
    "check_tiering_rm_customers",
    "check_tiering_downgrade_share",
    "check_tiering_bridge_driver",
]

#: Change steps of the AUM bridge a learner can name (start and end are totals, not drivers).
BRIDGE_DRIVERS: tuple[str, ...] = ("new", "up", "down", "stay", "churned")

#: Fish-pond coverage values that put a relationship manager on the customer.
RM_COVERAGE: tuple[str, ...] = ("rm_dedicated", "rm_shared")


def _share_for_count(expected: int, total: int) -> list[Slip]:
    """The count divided by everyone: a share where a number of customers was asked for."""
    if not total or not expected:
        return []
    return [Slip(expected / total, msg("course_slip_share_for_count"))]


# ----------------------------------------------------------------------------- exercise 01-1
@exercise("01-1", handles=("abt", "basis_value", "ladder"))
def check_tiering_threshold_move(
    ex: str,
    answer: Any,
    frame: pd.DataFrame | None,
    ladder: pd.DataFrame,
    lang: str = "zh",
    threshold: float = 100_000,
    tier: str = "affluent",
):
    """Exercise 01-1: customers whose tier changes when ``tier``'s lower bound moves to ``threshold``.

    Parameters
    ----------
    answer : the learner's count.
    frame : the notebook's ``abt``: ``basis_value`` (the AUM the tier is based on).
    ladder : the run's ladder (``config.resolve_ladder``), the bounds before the move.
    threshold : the new lower bound (RMB, inclusive) of ``tier``; the other bounds stay.
    tier : code of the tier whose lower bound moves.

    The expected count re-tiers ``basis_value`` on both ladders and counts the customers whose
    tier differs, so it holds whichever way the bound moves.
    """
    codes = ladder["code"].tolist()
    if (
        frame is None
        or "basis_value" not in frame
        or frame["basis_value"].notna().sum() == 0
        or tier not in codes
        or codes.index(tier) == 0
        or ladder["lower"].isna().any()
    ):
        return skip(ex, lang, msg("course_skip_labels_only"))
    bounds = ladder["lower"].astype(float).tolist()[1:]
    bounds[codes.index(tier) - 1] = float(threshold)
    try:
        moved = config.resolve_ladder(bounds, ladder=ladder)
    except ValueError:
        return skip(ex, lang, msg("course_skip_threshold_fit", threshold=threshold))
    basis = frame["basis_value"]
    before = config.assign_tiers(basis, ladder).astype(str)
    after = config.assign_tiers(basis, moved).astype(str)
    expected = int((before != after).sum())
    old = float(ladder.loc[ladder["code"] == tier, "lower"].iloc[0])
    low, high = sorted([old, float(threshold)])
    slips = [
        Slip(int((basis < threshold).sum()), msg("course_01_1_everyone_below")),
        Slip(int(basis.between(low, high, inclusive="both").sum()), msg("course_01_1_boundary")),
        Slip(int(((after == tier) & (before == tier)).sum()), msg("course_01_1_stayers")),
        *_share_for_count(expected, int(basis.notna().sum())),
    ]
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=0,
        hint=msg("course_hint_01_1", old=old, new=float(threshold)),
        validate=count_problem,
        slips=slips,
    )


# ----------------------------------------------------------------------------- exercise 01-2
@exercise("01-2", handles=("grid", "coverage", "customers", "rm_dedicated", "rm_shared"))
def check_tiering_rm_customers(ex: str, answer: Any, grid: pd.DataFrame | None, lang: str = "zh"):
    """Exercise 01-2: customers the fish-pond grid assigns to an RM (dedicated or team).

    Parameters
    ----------
    answer : the learner's count.
    grid : the notebook's ``grid`` (``tiering.fishpond``), ``None`` when it was skipped.
    """
    if grid is None or not {"coverage", "customers"} <= set(grid.columns):
        return skip(ex, lang, msg("course_skip_no_grid"))
    coverage = grid["coverage"].astype(str)
    customers = grid["customers"].astype(int)
    expected = int(customers[coverage.isin(RM_COVERAGE)].sum())
    slips = [
        Slip(int(customers[coverage == "rm_dedicated"].sum()), msg("course_01_2_dedicated_only")),
        Slip(int(customers[coverage == "rm_shared"].sum()), msg("course_01_2_shared_only")),
        Slip(int(customers[~coverage.isin(RM_COVERAGE)].sum()), msg("course_01_2_digital")),
        *_share_for_count(expected, int(customers.sum())),
    ]
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=0,
        hint=msg("course_hint_01_2"),
        validate=count_problem,
        slips=slips,
    )


# ----------------------------------------------------------------------------- exercise 01-3
@exercise("01-3", handles=("migration", "tiering.transition_matrix", "wealth"))
def check_tiering_downgrade_share(
    ex: str, answer: Any, migration: pd.DataFrame | None, lang: str = "zh", tier: str = "wealth"
):
    """Exercise 01-3: share of last month's ``tier`` customers whose tier fell this month.

    Parameters
    ----------
    answer : the learner's share (0 to 1).
    migration : the notebook's ``migration`` (``tiering.monthly_migration``), ``None`` without
        monthly history.
    tier : the tier whose row of the migration matrix is read.

    Customers who left the book are not downgrades: they are the ``churned`` column.
    """
    if migration is None:
        return skip(ex, lang, msg("course_skip_no_history"))
    row = migration[migration["tier_before"].astype(str) == tier]
    if row.empty:
        return skip(ex, lang, msg("course_skip_empty_tier", tier=tier))
    movement = row["movement"].astype(str)
    downs = int((movement == "down").sum())
    expected = downs / len(row)
    slips = [
        Slip(float(movement.isin(["down", "churned"]).mean()), msg("course_01_3_with_churn")),
        Slip(float((movement == "up").mean()), msg("course_01_3_upgrades", tier=tier)),
        Slip(downs / len(migration), msg("course_01_3_denominator", tier=tier)),
        Slip(1 - expected, msg("course_slip_complement")),
        *percent_slip(expected),
    ]
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=1e-3,
        hint=msg("course_hint_01_3", tier=tier),
        validate=share_problem,
        slips=slips,
    )


# ----------------------------------------------------------------------------- exercise 01-4
@exercise("01-4", handles=("bridge", "step", "amount"))
def check_tiering_bridge_driver(
    ex: str, answer: Any, bridge: pd.DataFrame | None, lang: str = "zh"
):
    """Exercise 01-4: the AUM bridge step that moved AUM the most (largest absolute amount).

    Parameters
    ----------
    answer : the learner's step code: ``new``, ``up``, ``down``, ``stay`` or ``churned``.
    bridge : the notebook's ``bridge`` (``tiering.aum_bridge``), ``None`` without history.

    When two steps tie for the largest amount, either is right. A step written as the chart
    labels it ("降层客户", "Downgrades") is recognised and explained.
    """
    if bridge is None:
        return skip(ex, lang, msg("course_skip_no_history"))
    steps = bridge[bridge["step"].isin(BRIDGE_DRIVERS)].set_index("step")["amount_fen"]
    size = steps.abs()
    if size.empty or size.max() == 0:
        return skip(ex, lang, msg("course_skip_no_change"))
    leaders = [step for step in BRIDGE_DRIVERS if step in size.index and size[step] == size.max()]
    expected = answer if isinstance(answer, str) and answer in leaders else leaders[0]
    labels = {
        i18n.t(f"tiering_bridge_{step}", language): step
        for step in (*BRIDGE_DRIVERS, "start", "end")
        for language in i18n.LANGUAGES
    }
    slips = label_slips(labels, expected, "step")
    biggest_rise = str(steps.idxmax())
    if steps.max() > 0 and biggest_rise not in leaders:
        slips.append(Slip(biggest_rise, msg("course_01_4_sign")))
    slips += [Slip(total, msg("course_01_4_total")) for total in ("start", "end")]
    slips += [
        Slip(step, msg("course_01_4_smaller", share=abs(int(steps[step])) / int(size.max())))
        for step in steps.index
        if step not in leaders and steps[step] != 0
    ]
    return check(
        ex,
        answer,
        expected,
        lang,
        hint=msg("course_hint_01_4"),
        validate=lambda value: code_problem(value, BRIDGE_DRIVERS),
        slips=slips,
    )
