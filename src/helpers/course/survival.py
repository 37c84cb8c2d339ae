"""Course checks for ``02_lifecycle_survival``: churn decisions a learner works out.

Each check recomputes the right answer from the same objects the learner used (the survival
frame, the Kaplan-Meier curves, the model frames, the warning list), so nothing is hard-coded
and the checks stay right when the data or the month changes. A check passes with "skipped"
when the data cannot support the exercise (a flat table has no delayed entry and no churn
types), and never raises for a wrong or missing answer; an object the notebook could not
compute (a :class:`~helpers.formatting.Skipped` step) counts as missing, like None. Common
slips (the subtraction the wrong way round, a count share instead of an AUM share) get their
own hint.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from helpers import survival
from helpers.course.checks import CheckResult, check
from helpers.formatting import is_skipped

__all__ = [
    "check_survival_entry_bias",
    "check_survival_s36_gap",
    "check_survival_soft_hard_aum",
    "check_survival_top_tier_risk_share",
]

#: Tenure (months) the entry-bias and tier-gap exercises read the curves at.
READ_AT_MONTHS = 36
#: Tiers served by dedicated wealth / private-banking advisers.
TOP_TIERS = ("wealth", "private")
# Shares read off a table shown to 0.1%: two rounded readings differ by at most 0.001.
SHARE_TOLERANCE = 2e-3


def _skipped(exercise: str, lang: str, why_zh: str, why_en: str) -> CheckResult:
    return CheckResult(exercise, True, f"跳过:{why_zh}" if lang == "zh" else f"Skipped: {why_en}")


def _is_number(answer: Any) -> bool:
    return (
        isinstance(answer, (int, float, np.integer, np.floating))
        and not isinstance(answer, bool)
        and math.isfinite(float(answer))
    )


def _number_between(low: float, high: float, lang: str):
    """A validator: the answer must be a finite number in [low, high]."""

    def validate(answer: Any) -> str | None:
        if not _is_number(answer):
            return "答案应是一个数字。" if lang == "zh" else "The answer should be a number."
        if not low <= float(answer) <= high:
            return (
                f"答案应在 {low:g} 到 {high:g} 之间(小数,不是百分数),你给的是 {answer!r}。"
                if lang == "zh"
                else f"The answer should lie between {low:g} and {high:g} (a fraction, not a "
                f"percentage); you gave {answer!r}."
            )
        return None

    return validate


def _with_slip(
    result: CheckResult,
    answer: Any,
    slip_value: float,
    tolerance: float,
    slip_zh: str,
    slip_en: str,
    lang: str,
) -> CheckResult:
    """Add a specific hint when a wrong answer matches a known slip."""
    if result.passed or not _is_number(answer) or not math.isfinite(slip_value):
        return result
    if abs(float(answer) - slip_value) <= tolerance * max(1.0, abs(slip_value)):
        result.message = f"{result.message} {slip_zh if lang == 'zh' else slip_en}"
    return result


def _survival_at(fitter, months: float) -> float:
    return float(fitter.survival_function_at_times([months]).to_numpy()[0])


# ----------------------------------------------------------------------------- exercise 1
def check_survival_entry_bias(answer, surv: pd.DataFrame, lang: str = "zh") -> CheckResult:
    """Exercise 02-1: how much ignoring delayed entry overstates 36-month survival.

    Expected: S(36) of the naive Kaplan-Meier curve (everyone observed from tenure 0) minus
    S(36) of the curve with delayed entry, as a fraction (positive: the naive one is rosier).
    Skipped without delayed entry (a flat table: every entry is 0).
    """

    exercise = "02-1"
    if (
        surv is None
        or is_skipped(surv)
        or "entry" not in surv.columns
        or not (surv["entry"] > 0).any()
    ):
        return _skipped(
            exercise,
            lang,
            "数据没有观察窗口起点(单表模式),不存在延迟进入。",
            "no data window start (flat mode), so there is no delayed entry.",
        )
    naive = _survival_at(survival.fit_kaplan_meier(surv, entry_col=None)["all"], READ_AT_MONTHS)
    corrected = _survival_at(survival.fit_kaplan_meier(surv)["all"], READ_AT_MONTHS)
    expected = naive - corrected
    result = check(
        exercise,
        answer,
        expected,
        lang,
        tolerance=SHARE_TOLERANCE,
        hint_zh="提示:用 `survival.fit_kaplan_meier(surv, entry_col=None)` 和 `survival.fit_kaplan_meier(surv)` "
        "各拟合一条曲线,用 `survival.survival_at(曲线, [36])` 读出 36 个月的留存率,朴素值减去正确值;"
        "也可以读上面对比表中 36 个月那一行。",
        hint_en="Hint: fit one curve with `survival.fit_kaplan_meier(surv, entry_col=None)` and one with "
        "`survival.fit_kaplan_meier(surv)`, read each at 36 months with `survival.survival_at(curve, [36])`, "
        "and subtract the corrected value from the naive one; or read the 36-month row of the table above.",
        validate=_number_between(-1, 1, lang),
    )
    return _with_slip(
        result,
        answer,
        -expected,
        SHARE_TOLERANCE,
        "你好像减反了:应是忽略延迟进入的值减去考虑延迟进入的值(朴素曲线更乐观,差值为正)。",
        "It looks reversed: subtract the delayed-entry value from the naive one (the naive "
        "curve is rosier, so the gap is positive).",
        lang,
    )


# ----------------------------------------------------------------------------- exercise 2
def check_survival_s36_gap(answer, km_tier: dict, lang: str = "zh") -> CheckResult:
    """Exercise 02-2: S(36) of affluent customers minus S(36) of mass customers.

    ``km_tier`` is the ``{tier: KaplanMeierFitter}`` dict of ``survival.fit_kaplan_meier``.
    Skipped when either tier has no curve (too few customers).
    """
    exercise = "02-2"
    if is_skipped(km_tier) or not km_tier or "affluent" not in km_tier or "mass" not in km_tier:
        return _skipped(
            exercise,
            lang,
            "大众或富裕层级的客户太少,没有留存曲线。",
            "the mass or affluent tier has too few customers for a curve.",
        )
    affluent = _survival_at(km_tier["affluent"], READ_AT_MONTHS)
    mass = _survival_at(km_tier["mass"], READ_AT_MONTHS)
    expected = affluent - mass
    result = check(
        exercise,
        answer,
        expected,
        lang,
        tolerance=SHARE_TOLERANCE,
        hint_zh="提示:在上面的留存表里读 S(36) 一列,用 affluent(富裕)行减去 mass(大众)行;"
        "或用 `survival.survival_at(km_tier['affluent'], [36])`。答案是小数(0.10 表示 10 个百分点)。",
        hint_en="Hint: read the S(36) column of the survival table above and subtract the mass row "
        "from the affluent row, or use `survival.survival_at(km_tier['affluent'], [36])`. "
        "Answer as a fraction (0.10 means 10 percentage points).",
        validate=_number_between(-1, 1, lang),
    )
    return _with_slip(
        result,
        answer,
        -expected,
        SHARE_TOLERANCE,
        "你好像减反了:应是富裕客户减去大众客户。",
        "It looks reversed: affluent minus mass.",
        lang,
    )


# ----------------------------------------------------------------------------- exercise 3
def check_survival_soft_hard_aum(answer, final: pd.DataFrame, lang: str = "zh") -> CheckResult:
    """Exercise 02-3: AUM of customers who drained (soft churn) over AUM of those who closed.

    ``final`` is the model frame of customers active ``churn_horizon_months`` months before the report
    month, with ``churn_type_label`` (hard / soft / none) over the following months and
    ``aum`` at its as-of month. Skipped when the data or the churn definition give only one
    churn type (flat table, ``churn_kind`` "hard" or "soft").
    """
    exercise = "02-3"
    if final is None or is_skipped(final) or not {"churn_type_label", "aum"} <= set(final.columns):
        return _skipped(
            exercise,
            lang,
            "数据没有区分流失类型(销户 / 资产流失)。",
            "the data do not distinguish churn types (closure / run-off).",
        )
    lost = final.groupby(final["churn_type_label"].astype("string"))["aum"].sum()
    hard, soft = float(lost.get("hard", 0.0)), float(lost.get("soft", 0.0))
    if hard <= 0 or soft <= 0:
        return _skipped(
            exercise,
            lang,
            "当前流失口径下只有一种流失类型(参数 churn_kind 为 hard 或 soft)。",
            'only one churn type under this churn definition (churn_kind "hard" or "soft").',
        )
    expected = soft / hard
    tolerance = 1e-2
    result = check(
        exercise,
        answer,
        expected,
        lang,
        tolerance=tolerance,
        hint_zh="提示:在 `final` 中按 `churn_type_label` 分组,对 `aum` 求和,用 soft 那一组除以 hard 那一组。",
        hint_en="Hint: group `final` by `churn_type_label`, sum `aum`, and divide the soft total by "
        "the hard total.",
        validate=_number_between(0, math.inf, lang),
    )
    result = _with_slip(
        result,
        answer,
        hard / soft,
        tolerance,
        "你好像除反了:应是资产流失(soft)除以销户(hard)。",
        "It looks inverted: soft (run-off) divided by hard (closure).",
        lang,
    )
    counts = final["churn_type_label"].astype("string").value_counts()
    count_ratio = float(counts.get("soft", 0)) / float(counts.get("hard", 1))
    return _with_slip(
        result,
        answer,
        count_ratio,
        tolerance,
        "这是人数之比;题目问的是资产余额(aum)之比。",
        "That is the ratio of customers; the question asks for the ratio of AUM.",
        lang,
    )


# ----------------------------------------------------------------------------- exercise 4
def check_survival_top_tier_risk_share(
    answer, warning: pd.DataFrame, lang: str = "zh"
) -> CheckResult:
    """Exercise 02-4: share of the warning list's AUM at risk held by wealth / private customers.

    Skipped when the list is empty or has no AUM at risk.
    """
    exercise = "02-4"
    if (
        warning is None
        or is_skipped(warning)
        or not {"tier", "aum_at_risk"} <= set(warning.columns)
        or not warning["aum_at_risk"].sum() > 0
    ):
        return _skipped(
            exercise,
            lang,
            "预警名单为空或没有风险资产。",
            "the warning list is empty or holds no AUM at risk.",
        )
    top = warning["tier"].astype(str).isin(TOP_TIERS)
    expected = float(warning.loc[top, "aum_at_risk"].sum() / warning["aum_at_risk"].sum())
    result = check(
        exercise,
        answer,
        expected,
        lang,
        tolerance=SHARE_TOLERANCE,
        hint_zh="提示:在 `warning` 中取 tier 为 wealth 或 private 的行,把它们的 aum_at_risk 之和除以全部 "
        "aum_at_risk 之和;结果是 0 到 1 之间的小数。",
        hint_en="Hint: in `warning`, sum aum_at_risk over the rows whose tier is wealth or private and "
        "divide by the total aum_at_risk; a fraction between 0 and 1.",
        validate=_number_between(0, 1, lang),
    )
    return _with_slip(
        result,
        answer,
        float(top.mean()),
        SHARE_TOLERANCE,
        "这是客户人数的占比;题目问的是风险资产(aum_at_risk)的占比。",
        "That is the share of customers; the question asks for the share of AUM at risk.",
        lang,
    )
