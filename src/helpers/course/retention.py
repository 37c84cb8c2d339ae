"""Course exercises of ``04_retention_roi`` (挽留与 ROI): checks for retention-spend decisions.

Each check recomputes the right answer from the same objects the notebook built (the A/B
evaluation, the targeting mix, the value-by-budget curve, the plan), so nothing is hard-coded
and the checks stay right for any dataset, month, budget or channel. A check passes with
"skipped" when the data makes its exercise inapplicable (planner mode has no campaign to
evaluate, so its steps arrive as ``None``; an empty plan has nothing to cost), and never
raises for a wrong, odd or missing answer. Common slips (a positive difference taken for
proof, average ROI instead of the return on the extra spend, the old contact cost left in, an
offer's name instead of its code) get their own explanation.

Re-exported by :mod:`helpers.course`, so notebooks call ``course.check_retention_...``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.course.checks import (
    Slip,
    check,
    exercise,
    inverted_slip,
    is_number,
    msg,
    number_problem,
    percent_slip,
    skip,
)

__all__ = [
    "check_retention_claim_effect",
    "check_retention_sure_things",
    "check_retention_stop_budget",
    "check_retention_visit_break_even",
]


def _relative(tolerance: float, expected: float) -> float:
    """``check``'s tolerance is relative only above 1; make it relative for small answers too."""
    return tolerance * abs(expected) / max(1.0, abs(expected)) if expected else tolerance


def _offer_labels(offers: list[str]) -> dict[str, str]:
    """Each offer's display name, in both languages, mapped to its code."""
    catalogue = i18n.catalogue()
    return {
        i18n.t(f"rr_offer_{offer}", language): offer
        for offer in offers
        if f"rr_offer_{offer}" in catalogue
        for language in i18n.LANGUAGES
    }


# ----------------------------------------------------------------------------- exercise 04-1
@exercise("04-1", handles=("evaluation", "metric", "retained", "ci_low", "offer"))
def check_retention_claim_effect(
    ex: str,
    answer: Any,
    evaluation: pd.DataFrame | None,
    lang: str = "zh",
    metric: str = "retained",
):
    """Exercise 04-1: the offers we may claim raised retention (CI of the difference above 0).

    Parameters
    ----------
    answer : the learner's list of offer codes, ``[]`` when no offer can be claimed.
    evaluation : the notebook's ``evaluation`` (``retention.evaluate``); ``None`` in planner mode.
    metric : the outcome whose interval is read.

    An offer counts only when its whole confidence interval lies above zero (``ci_low > 0``);
    a positive difference whose interval crosses zero is not evidence. Order does not matter.
    """
    if evaluation is None or evaluation.empty:
        return skip(ex, lang, msg("course_skip_no_campaign"))
    rows = evaluation[evaluation["metric"] == metric]
    if rows.empty:
        return skip(ex, lang, msg("course_skip_no_metric", metric=metric))
    offers = sorted(rows["offer"].astype(str))
    expected = sorted(rows.loc[rows["ci_low"] > 0, "offer"].astype(str))
    positive = sorted(rows.loc[rows["difference"] > 0, "offer"].astype(str))
    labels = _offer_labels(offers)

    def validate(value: Any) -> Any:
        if isinstance(value, str):
            return msg("course_04_1_not_list", example=offers[0])
        if not isinstance(value, (list, tuple, set)) or not all(isinstance(v, str) for v in value):
            return msg("course_04_1_need_list", example=offers[0], answer=repr(value)[:80])
        named = sorted(v for v in value if v in labels)
        if named:
            return msg("course_04_1_label", label=named[0])
        unknown = sorted(set(value) - set(offers))
        if unknown:
            return msg("course_04_1_unknown", unknown=", ".join(unknown), offers=", ".join(offers))
        return None

    given = sorted(set(answer)) if isinstance(answer, (list, tuple, set)) else answer
    slips = [Slip(positive, msg("course_04_1_positive"))]
    if len(offers) > 1:
        slips.append(Slip(offers, msg("course_04_1_all")))
    return check(
        ex, given, expected, lang, hint=msg("course_hint_04_1"), validate=validate, slips=slips
    )


# ----------------------------------------------------------------------------- exercise 04-2
@exercise("04-2", handles=("mix", "strategy", "offer", "sure_thing", "risk", "rate_coupon"))
def check_retention_sure_things(
    ex: str,
    answer: Any,
    mix: pd.DataFrame | None,
    lang: str = "zh",
    offer: str = "rate_coupon",
    strategy: str = "risk",
):
    """Exercise 04-2: expected sure things among the customers ``strategy`` targeting contacts.

    Parameters
    ----------
    answer : the learner's expected count (a rounded whole number is accepted).
    mix : the notebook's ``mix`` (``retention.campaign_targeting_mix``); ``None`` in planner mode.
    offer : the offer whose rows are read.
    strategy : the targeting rule (``"risk"``: highest churn risk first).

    Sure things would have stayed without the offer: every RMB spent on them is wasted.
    """
    if mix is None or mix.empty:
        return skip(ex, lang, msg("course_skip_no_campaign_types"))
    same_offer = mix[mix["offer"].astype(str) == offer]
    row = same_offer[same_offer["strategy"].astype(str) == strategy]
    if row.empty:
        return skip(ex, lang, msg("course_skip_no_offer", offer=offer))
    expected = float(row["sure_thing"].iloc[0])
    contacts = float(row["contacts"].iloc[0])
    slips = []
    if contacts:
        slips.append(Slip(expected / contacts, msg("course_slip_share_for_count")))
    slips += [
        Slip(float(value), msg("course_04_2_other_rule", strategy=strategy))
        for value in same_offer.loc[same_offer["strategy"].astype(str) != strategy, "sure_thing"]
    ]
    if "persuadable" in row.columns:
        slips.append(Slip(float(row["persuadable"].iloc[0]), msg("course_04_2_persuadable")))
    slips.append(Slip(contacts, msg("course_04_2_contacts")))
    return check(
        ex,
        answer,
        expected,
        lang,
        # read off a table or rounded to a whole customer: half a customer either way is right
        tolerance=0.5 / max(1.0, abs(expected)),
        hint=msg("course_hint_04_2", offer=offer, strategy=strategy),
        validate=lambda value: number_problem(value, minimum=0),
        slips=slips,
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


@exercise("04-3", handles=("curve", "budget", "spend", "expected_net"))
def check_retention_stop_budget(
    ex: str, answer: Any, curve: pd.DataFrame | None, lang: str = "zh", hurdle: float = 1.0
):
    """Exercise 04-3: the budget at which to stop (see :func:`stop_budget`).

    Parameters
    ----------
    answer : the learner's budget (RMB, a value of ``curve["budget"]``, or 0 for none).
    curve : the notebook's ``curve`` (``rr.plan_budget_curve``).
    hurdle : net RMB each extra RMB must bring back.

    Average ROI (``curve["roi"]``) stays high long after the extra money stops paying; the
    exercise teaches to decide on the marginal return.
    """
    if curve is None or curve.empty or not (curve["contacts"] > 0).any():
        return skip(ex, lang, msg("course_skip_empty_curve"))
    expected = stop_budget(curve, hurdle)
    budgets = curve.sort_values("budget", ignore_index=True)["budget"].astype(float)
    slips = []
    beyond = budgets[budgets > expected]
    if len(beyond):  # checked first: the step just past the answer is the most precise slip
        slips.append(Slip(float(beyond.iloc[0]), msg("course_04_3_one_too_far", hurdle=hurdle)))
    slips += [
        Slip(float(budgets.iloc[-1]), msg("course_04_3_max_net", hurdle=hurdle)),
        Slip(float(budgets.iloc[0]), msg("course_04_3_average_roi")),
    ]
    spends = curve["spend"].astype(float)
    slips += [
        Slip(float(spend), msg("course_04_3_spend"))
        for spend in spends
        if not np.isclose(budgets, spend, rtol=1e-3).any()
    ]
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=_relative(1e-3, expected),
        hint=msg("course_hint_04_3", hurdle=hurdle),
        validate=lambda value: number_problem(value, minimum=0),
        slips=slips,
    )


# ----------------------------------------------------------------------------- exercise 04-4
@exercise("04-4", handles=("plan", "cost", "clv", "contact_cost", 'contact_costs["visit"]'))
def check_retention_visit_break_even(
    ex: str,
    answer: Any,
    plan: pd.DataFrame | None,
    contact_cost: float,
    visit_cost: float | None,
    lang: str = "zh",
):
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
    if plan is None or plan.empty or visit_cost is None or float(plan["clv"].sum()) <= 0:
        return skip(ex, lang, msg("course_skip_no_plan"))
    cost = plan["cost"].astype(float)
    clv = plan["clv"].astype(float)
    visits = cost - float(contact_cost) + float(visit_cost)
    expected = float(visits.sum() / clv.sum())
    slips = [
        Slip(float((cost + float(visit_cost)).sum() / clv.sum()), msg("course_04_4_kept_contact")),
        Slip(float(cost.sum() / clv.sum()), msg("course_04_4_current_channel")),
        Slip(float((visits / clv.where(clv > 0)).mean()), msg("course_04_4_averaged")),
        *inverted_slip(expected, "cost", "clv"),
        *percent_slip(expected),
    ]
    slips = [slip for slip in slips if is_number(slip.value) and math.isfinite(slip.value)]
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=_relative(1e-3, expected),
        hint=msg("course_hint_04_4"),
        validate=lambda value: number_problem(value, minimum=0),
        slips=slips,
    )
