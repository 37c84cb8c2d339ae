"""Course exercises of ``04_retention_roi`` (挽留与 ROI): checks for retention-spend decisions.

Each check recomputes the right answer from the same objects the notebook built (the A/B
evaluation, the targeting mix, the value-by-budget curve, the plan), so nothing is hard-coded
and the checks stay right for any dataset, month, budget or channel. A check passes with
"skipped" when the data makes its exercise inapplicable (planner mode has no campaign to
evaluate, so its steps arrive as ``Skipped``; an empty plan has nothing to cost), and never
raises for a wrong, odd or missing answer. Common slips (a positive difference taken for
proof, average ROI instead of the return on the extra spend, the old contact cost left in) get
their own hint.

Re-exported by :mod:`helpers.course`, so notebooks call ``course.check_retention_...``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from helpers.course.checks import CheckResult, check
from helpers.course.checks import as_number as _as_number
from helpers.course.checks import is_number as _is_number
from helpers.course.checks import say as _say  # shared helpers
from helpers.course.checks import skip as _skip
from helpers.formatting import is_skipped

__all__ = [
    "check_retention_claim_effect",
    "check_retention_sure_things",
    "check_retention_stop_budget",
    "check_retention_visit_break_even",
]


def _number_problem(answer: Any, lang: str, minimum: float = 0.0) -> str | None:
    """Message when ``answer`` is not a finite number of at least ``minimum``."""
    if not _is_number(answer):
        return _say(
            lang,
            f"答案应是一个数字,而你给的是 {type(answer).__name__}。",
            f"The answer should be a number, not a {type(answer).__name__}.",
        )
    if float(answer) < minimum:
        return _say(
            lang,
            f"答案不应小于 {minimum:g},你给的是 {answer!r}。",
            f"The answer cannot be below {minimum:g}; you gave {answer!r}.",
        )
    return None


def _near(answer: Any, value: float, relative: float) -> bool:
    """Is a numeric ``answer`` within ``relative`` x ``value`` of ``value``?"""
    return (
        _is_number(answer)
        and math.isfinite(value)
        and abs(float(answer) - value) <= relative * max(abs(value), 1e-12)
    )


def _relative(tolerance: float, expected: float) -> float:
    """``check``'s tolerance is relative only above 1; make it relative for small answers too."""
    return tolerance * abs(expected) / max(1.0, abs(expected)) if expected else tolerance


# ----------------------------------------------------------------------------- exercise 04-1
def check_retention_claim_effect(
    answer: Any, evaluation: pd.DataFrame | None, lang: str = "zh", metric: str = "retained"
) -> CheckResult:
    """Exercise 04-1: the offers we may claim raised retention (CI of the difference above 0).

    Parameters
    ----------
    answer : the learner's list of offer codes, ``[]`` when no offer can be claimed.
    evaluation : the notebook's ``evaluation`` (``retention.evaluate``); a ``Skipped`` (or
        ``None``) in planner mode.
    metric : the outcome whose interval is read.

    An offer counts only when its whole confidence interval lies above zero (``ci_low > 0``);
    a positive difference whose interval crosses zero is not evidence. Order does not matter.
    """
    exercise = "04-1"
    if evaluation is None or is_skipped(evaluation) or evaluation.empty:
        return _skip(
            exercise,
            lang,
            "本数据集没有挽留活动(规划模式),没有可评估的效果。",
            "this dataset has no retention campaign (planner mode), so there is no effect to judge.",
        )
    rows = evaluation[evaluation["metric"] == metric]
    if rows.empty:
        return _skip(
            exercise,
            lang,
            f"评估表中没有 {metric} 指标。",
            f"the evaluation has no {metric} metric.",
        )
    offers = sorted(rows["offer"].astype(str))
    expected = sorted(rows.loc[rows["ci_low"] > 0, "offer"].astype(str))
    positive = sorted(rows.loc[rows["difference"] > 0, "offer"].astype(str))

    def validate(value: Any) -> str | None:
        if isinstance(value, (list, tuple, set)) and all(isinstance(v, str) for v in value):
            unknown = sorted(set(value) - set(offers))
            if unknown:
                return _say(
                    lang,
                    f"活动中没有礼遇 {unknown};可选的是 {offers}。",
                    f"The campaign has no offer {unknown}; the offers are {offers}.",
                )
            return None
        return _say(
            lang,
            f'答案应是礼遇代码的列表,例如 ["{offers[0]}"],一个都不能确认时写 [];你给的是 {value!r}。',
            f'The answer should be a list of offer codes, e.g. ["{offers[0]}"], or [] when none '
            f"can be claimed; you gave {value!r}.",
        )

    hint_zh = (
        "提示:在上面的效果表(`evaluation` 中 metric 为 retained 的行)里,"
        "只有置信区间下限 `ci_low` 大于 0 的礼遇才能说“确实有效”;答案是这些礼遇代码组成的列表。"
    )
    hint_en = (
        "Hint: in the effect table above (rows of `evaluation` whose metric is retained), only "
        "an offer whose lower bound `ci_low` is above 0 can be claimed to work; answer with "
        "the list of those offer codes."
    )
    given = sorted(set(answer)) if isinstance(answer, (list, tuple, set)) else answer
    if isinstance(given, list) and given != expected and given == positive:
        hint_zh += (
            " 你选的是留存率差为正的礼遇,但差为正而区间跨过 0,只说明这次样本量下还看不出效果。"
        )
        hint_en += (
            " You picked the offers with a positive difference; when the interval crosses 0, "
            "the campaign was too small to tell the effect from chance."
        )
    return check(
        exercise, given, expected, lang, hint_zh=hint_zh, hint_en=hint_en, validate=validate
    )


# ----------------------------------------------------------------------------- exercise 04-2
def check_retention_sure_things(
    answer: Any,
    mix: pd.DataFrame | None,
    lang: str = "zh",
    offer: str = "rate_coupon",
    strategy: str = "risk",
) -> CheckResult:
    """Exercise 04-2: expected sure things among the customers ``strategy`` targeting contacts.

    Parameters
    ----------
    answer : the learner's expected count (a rounded whole number is accepted).
    mix : the notebook's ``mix`` (``retention.campaign_targeting_mix``); a ``Skipped`` (or
        ``None``) in planner mode.
    offer : the offer whose rows are read.
    strategy : the targeting rule (``"risk"``: highest churn risk first).

    Sure things would have stayed without the offer: every RMB spent on them is wasted.
    """
    exercise = "04-2"
    if mix is None or is_skipped(mix) or mix.empty:
        return _skip(
            exercise,
            lang,
            "本数据集没有挽留活动(规划模式),无法估计客户类型。",
            "this dataset has no retention campaign (planner mode), so response types cannot be estimated.",
        )
    row = mix[(mix["offer"].astype(str) == offer) & (mix["strategy"].astype(str) == strategy)]
    if row.empty:
        return _skip(
            exercise,
            lang,
            f"活动中没有礼遇 {offer}。",
            f"the campaign has no {offer} offer.",
        )
    expected = float(row["sure_thing"].iloc[0])
    contacts = float(row["contacts"].iloc[0])
    others = mix[(mix["offer"].astype(str) == offer) & (mix["strategy"].astype(str) != strategy)]
    hint_zh = (
        f'提示:在 `mix` 中找 offer 为 "{offer}"、strategy 为 "{strategy}" 的那一行,'
        "读 `sure_thing` 列(期望人数,可以四舍五入到整数)。"
    )
    hint_en = (
        f'Hint: in `mix`, take the row whose offer is "{offer}" and strategy is "{strategy}" '
        "and read its `sure_thing` column (an expected count; rounding to a whole number is fine)."
    )
    if _near(answer, expected / contacts if contacts else math.nan, 1e-3):
        hint_zh += " 你给的是占比;题目问的是人数。"
        hint_en += " You gave a share; the question asks for a number of customers."
    elif any(_near(answer, float(value), 1e-3) for value in others["sure_thing"]):
        hint_zh += f" 你读的是另一种选人方式的行,要的是 {strategy}(只按流失风险)。"
        hint_en += f" You read another targeting rule's row; the question is about {strategy} (churn risk alone)."
    return check(
        exercise,
        _as_number(answer),
        expected,
        lang,
        # read off a table or rounded to a whole customer: half a customer either way is right
        tolerance=0.5 / max(1.0, abs(expected)),
        hint_zh=hint_zh,
        hint_en=hint_en,
        validate=lambda value: _number_problem(value, lang),
    )


# ----------------------------------------------------------------------------- exercise 04-3
def stop_budget(curve: pd.DataFrame, hurdle: float = 1.0) -> float:
    """Largest budget of the curve before extra spend stops paying ``hurdle`` per RMB.

    Walking up the budgets of ``rr.plan_budget_curve``, each step's marginal return is
    ``(expected_net - previous expected_net) / (spend - previous spend)``, starting from
    nothing spent. The answer is the budget of the last step before the first whose marginal
    return is below ``hurdle`` (a step that buys nothing more also stops the walk); 0.0 when
    even the first step falls short.

    Parameters
    ----------
    curve : ``budget``, ``spend`` and ``expected_net`` per budget.
    hurdle : net RMB each extra RMB must bring back.
    """
    steps = curve.sort_values("budget", ignore_index=True)
    extra_net = steps["expected_net"].diff().fillna(steps["expected_net"])
    extra_spend = steps["spend"].diff().fillna(steps["spend"])
    marginal = extra_net / extra_spend.where(extra_spend > 0)
    paying = (marginal >= hurdle).cummin()
    return float(steps.loc[paying, "budget"].max()) if paying.any() else 0.0


def check_retention_stop_budget(
    answer: Any, curve: pd.DataFrame, lang: str = "zh", hurdle: float = 1.0
) -> CheckResult:
    """Exercise 04-3: the budget at which to stop (see :func:`stop_budget`).

    Parameters
    ----------
    answer : the learner's budget (RMB, a value of ``curve["budget"]``, or 0 for none).
    curve : the notebook's ``curve`` (``rr.plan_budget_curve``).
    hurdle : net RMB each extra RMB must bring back.

    Average ROI (``curve["roi"]``) stays high long after the extra money stops paying; the
    exercise teaches to decide on the marginal return.
    """
    exercise = "04-3"
    if curve is None or is_skipped(curve) or curve.empty or not (curve["contacts"] > 0).any():
        return _skip(
            exercise,
            lang,
            "没有任何客户值得联系,预算曲线是空的。",
            "no customer is worth contacting, so the budget curve is empty.",
        )
    expected = stop_budget(curve, hurdle)
    steps = curve.sort_values("budget", ignore_index=True)
    hint_zh = (
        "提示:按 budget 从小到大,每一档相对上一档(第一档相对 0)算“多出的 expected_net ÷ 多出的 spend”,"
        f"找到第一档低于 {hurdle:g} 的地方,答案是它前一档的 budget(第一档就不够时答 0)。"
    )
    hint_en = (
        "Hint: going up the budgets, divide each step's extra expected_net by its extra spend "
        f"(the first step against zero); stop at the first step below {hurdle:g} and answer "
        "the budget of the step before it (0 when even the first falls short)."
    )
    at_answer = steps[np.isclose(steps["budget"], float(answer))] if _is_number(answer) else []
    if len(at_answer) and float(at_answer["budget"].iloc[0]) != expected:
        if float(at_answer["budget"].iloc[0]) == float(steps["budget"].iloc[-1]):
            hint_zh += " 你选的是净增值最大的预算,但最后几档每多花 1 元换回的远不到 1 元。"
            hint_en += (
                " You chose the budget with the most net value, but its last steps bring back "
                "far less than 1 RMB per extra RMB."
            )
        elif float(at_answer["budget"].iloc[0]) == float(steps["budget"].iloc[0]):
            hint_zh += (
                " 你选的是平均 ROI 最高的预算;平均 ROI 总是随预算下降,该看每一档“多花的钱”的回报。"
            )
            hint_en += (
                " You chose the budget with the highest average ROI; average ROI always falls "
                "as the budget grows, so decide on the return of each extra step instead."
            )
    elif _is_number(answer) and np.isclose(steps["spend"], float(answer), rtol=1e-3).any():
        hint_zh += " 你给的是 spend(实际花费);答案要的是那一档的 budget。"
        hint_en += " You gave a spend; the answer is that step's budget."
    return check(
        exercise,
        _as_number(answer),
        expected,
        lang,
        tolerance=_relative(1e-3, expected),
        hint_zh=hint_zh,
        hint_en=hint_en,
        validate=lambda value: _number_problem(value, lang),
    )


# ----------------------------------------------------------------------------- exercise 04-4
def check_retention_visit_break_even(
    answer: Any,
    plan: pd.DataFrame,
    contact_cost: float,
    visit_cost: float | None,
    lang: str = "zh",
) -> CheckResult:
    """Exercise 04-4: the plan's break-even uplift if every contact became a branch visit.

    Parameters
    ----------
    answer : the learner's break-even uplift (a fraction, e.g. 0.004 for 0.4 points).
    plan : the notebook's ``plan`` (``rr.select_plan``): ``cost`` (offer + current contact)
        and ``clv`` per contacted customer.
    contact_cost : RMB per contact on the current channel (already inside ``plan["cost"]``).
    visit_cost : RMB per visit (``contact_costs["visit"]``); ``None`` skips the exercise.

    Break-even: the same uplift ``u`` for everyone pays the costs when
    ``u x sum(CLV) = sum(cost)``; with visits each cost is ``cost - contact_cost + visit_cost``.
    """
    exercise = "04-4"
    if (
        plan is None
        or is_skipped(plan)
        or plan.empty
        or visit_cost is None
        or float(plan["clv"].sum()) <= 0
    ):
        return _skip(
            exercise,
            lang,
            "计划里没有客户(或没有上门拜访的成本),无法计算盈亏平衡点。",
            "the plan contacts nobody (or there is no visit cost), so there is no break-even.",
        )
    cost = plan["cost"].astype(float)
    clv = plan["clv"].astype(float)
    visits = cost - float(contact_cost) + float(visit_cost)
    expected = float(visits.sum() / clv.sum())
    hint_zh = (
        "提示:把 `plan` 中每位客户的 `cost` 减去当前渠道的 `contact_cost`、再加上上门拜访的成本,"
        "求和后除以 `plan['clv']` 的总和;答案是小数(0.004 表示 0.4 个百分点)。"
    )
    hint_en = (
        "Hint: take each customer's `cost` in `plan`, subtract the current channel's "
        "`contact_cost` and add the visit cost; divide the sum by the sum of `plan['clv']`. "
        "Answer as a fraction (0.004 means 0.4 points)."
    )
    slips = [
        (
            float((cost + float(visit_cost)).sum() / clv.sum()),
            "你没有减掉原来渠道的联系成本:换成上门拜访后就不再打电话了。",
            "You kept the old channel's contact cost: with visits, the old contact is not made.",
        ),
        (
            float(cost.sum() / clv.sum()),
            "这是现在渠道下的盈亏平衡点(第 15 节的表);要换成上门拜访的成本。",
            "That is the break-even on the current channel (section 15's table); use the visit cost.",
        ),
        (
            float((visits / clv.where(clv > 0)).mean()),
            "你算的是每位客户比例的平均值;应该用总成本除以总客户价值。",
            "You averaged each customer's ratio; divide total cost by total customer value.",
        ),
        (
            expected * 100,
            "看起来是百分数;请除以 100,写成小数。",
            "That looks like a percentage; divide by 100 to give a fraction.",
        ),
    ]
    for value, slip_zh, slip_en in slips:
        if not math.isclose(value, expected, rel_tol=1e-3) and _near(answer, value, 1e-3):
            hint_zh += " " + slip_zh
            hint_en += " " + slip_en
            break
    return check(
        exercise,
        _as_number(answer),
        expected,
        lang,
        tolerance=_relative(1e-3, expected),
        hint_zh=hint_zh,
        hint_en=hint_en,
        validate=lambda value: _number_problem(value, lang),
    )
