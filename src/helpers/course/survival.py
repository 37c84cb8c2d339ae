"""Course checks for ``02_lifecycle_survival``: churn decisions a learner works out.

Each check recomputes the right answer from the same objects the learner used (the survival
frame, the Kaplan-Meier curves, the model frames, the warning list), so nothing is hard-coded
and the checks stay right when the data or the month changes. A check passes with "skipped"
when the data cannot support the exercise (a flat table has no delayed entry and no churn
types), and never raises for a wrong or missing answer; an object the notebook could not
compute (a :class:`~helpers.formatting.Skipped` step) counts as missing, like None. Common
slips (the subtraction the wrong way round, a count share instead of an AUM share, the ratio
inverted, percentage points for a fraction) get their own explanation.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from helpers import survival
from helpers.course.checks import (
    Slip,
    check,
    exercise,
    inverted_slip,
    msg,
    number_problem,
    percent_slip,
    share_problem,
    sign_slip,
    skip,
)

__all__ = [
    "check_survival_entry_bias",
    "check_survival_s36_gap",
    "check_survival_soft_hard_aum",
    "check_survival_top_tier_risk_share",
]

#: Tenure (months) the entry-bias and tier-gap exercises read the curves at.
READ_AT_MONTHS = 36
#: Tiers served by dedicated wealth / private-banking RMs.
TOP_TIERS = ("wealth", "private")
# Shares read off a table shown to 0.1%: two rounded readings differ by at most 0.001.
SHARE_TOLERANCE = 2e-3


def _survival_at(fitter, months: float) -> float:
    return float(fitter.survival_function_at_times([months]).to_numpy()[0])


def _levels(*values: float) -> list[Slip]:
    """One of the two survival rates itself, where their difference was asked for."""
    return [Slip(value, msg("course_slip_level")) for value in values]


# ----------------------------------------------------------------------------- exercise 02-1
@exercise(
    "02-1", handles=("surv", "survival.fit_kaplan_meier", "entry_col=None", "survival.survival_at")
)
def check_survival_entry_bias(ex: str, answer: Any, surv: pd.DataFrame | None, lang: str = "zh"):
    """Exercise 02-1: how much ignoring delayed entry overstates 36-month survival.

    Expected: S(36) of the naive Kaplan-Meier curve (everyone observed from tenure 0) minus
    S(36) of the curve with delayed entry, as a fraction (positive: the naive one is rosier).
    Skipped without delayed entry (a flat table: every entry is 0).
    """
    if surv is None or "entry" not in surv.columns or not (surv["entry"] > 0).any():
        return skip(ex, lang, msg("course_skip_no_entry"))
    naive = _survival_at(survival.fit_kaplan_meier(surv, entry_col=None)["all"], READ_AT_MONTHS)
    corrected = _survival_at(survival.fit_kaplan_meier(surv)["all"], READ_AT_MONTHS)
    expected = naive - corrected
    slips = [
        Slip(-expected, msg("course_02_1_sign")),
        *percent_slip(expected, "course_slip_points"),
        *_levels(naive, corrected),
    ]
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=SHARE_TOLERANCE,
        hint=msg("course_hint_02_1"),
        validate=lambda value: number_problem(value, -1, 1),
        slips=slips,
    )


# ----------------------------------------------------------------------------- exercise 02-2
@exercise("02-2", handles=("km_tier", "affluent", "mass", "survival.survival_at"))
def check_survival_s36_gap(ex: str, answer: Any, km_tier: dict | None, lang: str = "zh"):
    """Exercise 02-2: S(36) of affluent customers minus S(36) of mass customers.

    ``km_tier`` is the ``{tier: KaplanMeierFitter}`` dict of ``survival.fit_kaplan_meier``.
    Skipped when either tier has no curve (too few customers).
    """
    if not km_tier or "affluent" not in km_tier or "mass" not in km_tier:
        return skip(ex, lang, msg("course_skip_no_tier_curve"))
    affluent = _survival_at(km_tier["affluent"], READ_AT_MONTHS)
    mass = _survival_at(km_tier["mass"], READ_AT_MONTHS)
    expected = affluent - mass
    slips = [
        *sign_slip(expected, "affluent", "mass"),
        *percent_slip(expected, "course_slip_points"),
        *_levels(affluent, mass),
    ]
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=SHARE_TOLERANCE,
        hint=msg("course_hint_02_2"),
        validate=lambda value: number_problem(value, -1, 1),
        slips=slips,
    )


# ----------------------------------------------------------------------------- exercise 02-3
@exercise("02-3", handles=("final", "churn_type_label", "aum", "soft", "hard"))
def check_survival_soft_hard_aum(
    ex: str, answer: Any, final: pd.DataFrame | None, lang: str = "zh"
):
    """Exercise 02-3: AUM of customers who drained (soft churn) over AUM of those who closed.

    ``final`` is the model frame of customers active ``churn_horizon_months`` months before the
    report month, with ``churn_type_label`` (hard / soft / none) over the following months and
    ``aum`` at its as-of month. Skipped when the data or the churn definition give only one
    churn type (flat table, ``churn_kind`` "hard" or "soft").
    """
    if final is None or not {"churn_type_label", "aum"} <= set(final.columns):
        return skip(ex, lang, msg("course_skip_no_churn_types"))
    kinds = final["churn_type_label"].astype("string")
    lost = final.groupby(kinds)["aum"].sum()
    hard, soft = float(lost.get("hard", 0.0)), float(lost.get("soft", 0.0))
    if hard <= 0 or soft <= 0:
        return skip(ex, lang, msg("course_skip_one_churn_type"))
    expected = soft / hard
    counts = kinds.value_counts()
    slips = [
        *inverted_slip(expected, "soft", "hard"),
        Slip(float(counts.get("soft", 0)) / float(counts.get("hard", 1)), msg("course_02_3_count")),
        Slip(soft / (soft + hard), msg("course_02_3_share")),
        *percent_slip(expected, "course_slip_percent_multiple"),
    ]
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=1e-2,
        hint=msg("course_hint_02_3"),
        validate=lambda value: number_problem(value, minimum=0),
        slips=slips,
    )


# ----------------------------------------------------------------------------- exercise 02-4
@exercise("02-4", handles=("warning", "tier", "aum_at_risk", "wealth", "private"))
def check_survival_top_tier_risk_share(
    ex: str, answer: Any, warning: pd.DataFrame | None, lang: str = "zh"
):
    """Exercise 02-4: share of the warning list's AUM at risk held by wealth / private customers.

    Skipped when the list is empty or has no AUM at risk.
    """
    if (
        warning is None
        or not {"tier", "aum_at_risk"} <= set(warning.columns)
        or not warning["aum_at_risk"].sum() > 0
    ):
        return skip(ex, lang, msg("course_skip_empty_warning"))
    top = warning["tier"].astype(str).isin(TOP_TIERS)
    expected = float(warning.loc[top, "aum_at_risk"].sum() / warning["aum_at_risk"].sum())
    slips = [
        Slip(float(top.mean()), msg("course_slip_customer_share", column="aum_at_risk")),
        Slip(1 - expected, msg("course_slip_complement")),
        *percent_slip(expected),
    ]
    if "aum" in warning.columns and warning["aum"].sum() > 0:
        aum_share = float(warning.loc[top, "aum"].sum() / warning["aum"].sum())
        if not math.isclose(aum_share, expected, rel_tol=1e-3):
            slips.append(Slip(aum_share, msg("course_02_4_aum_column")))
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=SHARE_TOLERANCE,
        hint=msg("course_hint_02_4"),
        validate=share_problem,
        slips=slips,
    )
