"""Course exercises of ``01_tiering`` (分层管理): checks that tell a learner why an answer is off.

Each check recomputes the expected answer from the same objects the notebook built (the ABT,
the ladder, the fish-pond grid, the migration, the AUM bridge), so nothing is hard-coded and the
checks stay right for any dataset, month or ``tier_thresholds``. A check passes with "skipped"
when the data makes its exercise inapplicable (flat data has no migration or bridge; a minimal
extract has no fish-pond grid: the notebook's object is then ``None`` or a
:class:`~helpers.formatting.Skipped`), and never raises for a wrong, odd or missing answer.

Re-exported by :mod:`helpers.course`, so notebooks call ``course.check_tiering_...``.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from helpers import config
from helpers.course.checks import CheckResult, check
from helpers.course.checks import as_number as _as_number
from helpers.course.checks import is_number as _is_number
from helpers.course.checks import say as _say  # shared helpers
from helpers.course.checks import share_problem as _share_problem
from helpers.course.checks import skip as _skip
from helpers.formatting import is_skipped

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


def _count_problem(answer: Any, lang: str) -> str | None:
    """Message when ``answer`` is not a whole number of customers."""
    if not _is_number(answer):
        return _say(
            lang,
            f"答案应是一个客户人数(整数),而你给的是 {type(answer).__name__}。",
            f"The answer should be a number of customers (a whole number), not a {type(answer).__name__}.",
        )
    if float(answer) != int(answer) or answer < 0:
        return _say(
            lang,
            f"客户人数应是非负整数,而你给的是 {answer!r}。",
            f"A number of customers is a whole number of at least 0, but you gave {answer!r}.",
        )
    return None


# ----------------------------------------------------------------------------- exercise 01-1
def check_tiering_threshold_move(
    answer: Any,
    frame: pd.DataFrame,
    ladder: pd.DataFrame,
    lang: str = "zh",
    threshold: float = 100_000,
    tier: str = "affluent",
) -> CheckResult:
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

    exercise = "01-1"
    codes = ladder["code"].tolist()
    if (
        is_skipped(frame)
        or "basis_value" not in frame
        or frame["basis_value"].notna().sum() == 0
        or tier not in codes
        or codes.index(tier) == 0
        or ladder["lower"].isna().any()
    ):
        return _skip(
            exercise,
            lang,
            "本数据集的层级来自标签而不是资产余额,无法移动门槛。",
            "the tiers in this dataset come from labels, not from AUM, so no threshold can move.",
        )
    bounds = ladder["lower"].astype(float).tolist()[1:]
    bounds[codes.index(tier) - 1] = float(threshold)
    try:
        moved = config.resolve_ladder(bounds, ladder=ladder)
    except ValueError:
        return _skip(
            exercise,
            lang,
            f"在本次运行的阶梯上,{threshold:,.0f} 元放不进相邻两层的门槛之间。",
            f"on this run's ladder, {threshold:,.0f} does not fit between the neighbouring bounds.",
        )
    basis = frame["basis_value"]
    before = config.assign_tiers(basis, ladder).astype(str)
    after = config.assign_tiers(basis, moved).astype(str)
    expected = int((before != after).sum())
    old = float(ladder.loc[ladder["code"] == tier, "lower"].iloc[0])
    hint_zh = (
        f"提示:只有 `basis_value` 落在旧门槛 {old:,.0f} 与新门槛 {threshold:,.0f} 之间"
        "(含较低的那个,不含较高的那个)的客户会换层;数一数他们有多少人。"
    )
    hint_en = (
        f"Hint: only customers whose `basis_value` lies between the old bound {old:,.0f} and "
        f"the new one {threshold:,.0f} (the lower included, the higher not) change tier; count them."
    )
    if _is_number(answer) and expected and int(answer) == int((basis < threshold).sum()):
        hint_zh += " 你数的是所有低于新门槛的客户,其中大部分本来就是大众客户,层级并没有变。"
        hint_en += " You counted everyone below the new bound; most of them were mass already and keep their tier."
    return check(
        exercise,
        _as_number(answer),
        expected,
        lang,
        tolerance=0,
        hint_zh=hint_zh,
        hint_en=hint_en,
        validate=lambda value: _count_problem(value, lang),
    )


# ----------------------------------------------------------------------------- exercise 01-2
def check_tiering_rm_customers(
    answer: Any, grid: pd.DataFrame | None, lang: str = "zh"
) -> CheckResult:
    """Exercise 01-2: customers the fish-pond grid assigns to an RM (dedicated or team).

    Parameters
    ----------
    answer : the learner's count.
    grid : the notebook's ``grid`` (``tiering.fishpond``), ``None`` or Skipped when it was
        skipped.
    """
    exercise = "01-2"
    if grid is None or is_skipped(grid) or not {"coverage", "customers"} <= set(grid.columns):
        return _skip(
            exercise,
            lang,
            "本数据集没有足够的字段画鱼塘矩阵。",
            "this dataset has too few columns for the fish-pond grid.",
        )
    coverage = grid["coverage"].astype(str)
    expected = int(grid.loc[coverage.isin(RM_COVERAGE), "customers"].sum())
    dedicated = int(grid.loc[coverage == "rm_dedicated", "customers"].sum())
    hint_zh = "提示:把 `grid` 中 coverage 为 rm_dedicated(专属客户经理)和 rm_shared(团队经营)的格子的 customers 相加;digital 格子走线上经营。"
    hint_en = "Hint: add `customers` over the `grid` cells whose coverage is rm_dedicated (own RM) or rm_shared (RM team); digital cells are served online."
    if _is_number(answer) and int(answer) == dedicated != expected:
        hint_zh += " 你只数了专属客户经理的格子,团队经营的客户也要客户经理。"
        hint_en += " You counted only the dedicated-RM cells; RM-team customers need RMs too."
    return check(
        exercise,
        _as_number(answer),
        expected,
        lang,
        tolerance=0,
        hint_zh=hint_zh,
        hint_en=hint_en,
        validate=lambda value: _count_problem(value, lang),
    )


# ----------------------------------------------------------------------------- exercise 01-3
def check_tiering_downgrade_share(
    answer: Any, migration: pd.DataFrame | None, lang: str = "zh", tier: str = "wealth"
) -> CheckResult:
    """Exercise 01-3: share of last month's ``tier`` customers whose tier fell this month.

    Parameters
    ----------
    answer : the learner's share (0 to 1).
    migration : the notebook's ``migration`` (``tiering.monthly_migration``), ``None`` or
        Skipped without monthly history.
    tier : the tier whose row of the migration matrix is read.

    Customers who left the book are not downgrades: they are the ``churned`` column.
    """
    exercise = "01-3"
    if migration is None or is_skipped(migration):
        return _skip(
            exercise,
            lang,
            "本数据集没有月度历史,没有迁移矩阵。",
            "this dataset has no monthly history, so there is no migration matrix.",
        )
    before = migration["tier_before"].astype(str)
    row = migration[before == tier]
    if row.empty:
        return _skip(
            exercise,
            lang,
            f"上月没有 {tier} 层级的客户。",
            f"no customer was in the {tier} tier last month.",
        )
    movement = row["movement"].astype(str)
    expected = float((movement == "down").mean())
    with_churn = float(movement.isin(["down", "churned"]).mean())
    hint_zh = f'提示:用 `tiering.transition_matrix(migration, "rate")`,在 {tier} 这一行把比它低的层级(对角线左边)的比例相加;“churned”列是流失,不算降层。'
    hint_en = f'Hint: in `tiering.transition_matrix(migration, "rate")`, add the {tier} row\'s shares in the tiers below it (left of the diagonal); the "churned" column is leaving, not a downgrade.'
    if (
        _is_number(answer)
        and with_churn != expected
        and math.isclose(float(answer), with_churn, rel_tol=1e-3)
    ):
        hint_zh += " 你把流失的客户也算进去了。"
        hint_en += " You included the customers who left."
    return check(
        exercise,
        _as_number(answer),
        expected,
        lang,
        tolerance=1e-3,
        hint_zh=hint_zh,
        hint_en=hint_en,
        validate=lambda value: _share_problem(value, lang),
    )


# ----------------------------------------------------------------------------- exercise 01-4
def check_tiering_bridge_driver(
    answer: Any, bridge: pd.DataFrame | None, lang: str = "zh"
) -> CheckResult:
    """Exercise 01-4: the AUM bridge step that moved AUM the most (largest absolute amount).

    Parameters
    ----------
    answer : the learner's step code: ``new``, ``up``, ``down``, ``stay`` or ``churned``.
    bridge : the notebook's ``bridge`` (``tiering.aum_bridge``), ``None`` or Skipped without
        history.

    When two steps tie for the largest amount, either is right.
    """
    exercise = "01-4"
    if bridge is None or is_skipped(bridge):
        return _skip(
            exercise,
            lang,
            "本数据集没有月度历史,没有资产余额桥。",
            "this dataset has no monthly history, so there is no AUM bridge.",
        )
    steps = bridge[bridge["step"].isin(BRIDGE_DRIVERS)].set_index("step")["amount_fen"]
    size = steps.abs()
    if size.empty or size.max() == 0:
        return _skip(exercise, lang, "本月资产余额没有变化。", "AUM did not change this month.")
    leaders = [step for step in BRIDGE_DRIVERS if step in size.index and size[step] == size.max()]
    named = isinstance(answer, str) and answer in BRIDGE_DRIVERS
    expected = answer if named and answer in leaders else leaders[0]
    hint_zh = '提示:比较 `bridge` 中 new、up、down、stay、churned 五行 amount 的绝对值(流出是负数,也算“变动大”),答案是那一行的 step,例如 "down"。'
    hint_en = 'Hint: compare the absolute `amount` of the new, up, down, stay and churned rows of `bridge` (an outflow is negative and still a big move); answer with that row\'s step, e.g. "down".'
    if named and answer not in leaders and answer in steps.index and steps[answer] != 0:
        share = abs(int(steps[answer])) / int(size.max())
        hint_zh += f" 你选的 {answer} 只有最大一项的 {share:.0%}。"
        hint_en += f" The {answer} step you chose is only {share:.0%} of the largest."

    def validate(value: Any) -> str | None:
        if isinstance(value, str) and value in BRIDGE_DRIVERS:
            return None
        return _say(
            lang,
            f"答案应是以下步骤代码之一:{', '.join(BRIDGE_DRIVERS)};你给的是 {value!r}。",
            f"The answer should be one of the step codes {', '.join(BRIDGE_DRIVERS)}; you gave {value!r}.",
        )

    return check(
        exercise, answer, expected, lang, hint_zh=hint_zh, hint_en=hint_en, validate=validate
    )
