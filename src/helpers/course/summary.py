"""Checks for the exercises of ``05_monthly_summary`` (管理层月报)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from helpers import i18n
from helpers.course.checks import (
    Slip,
    bool_problem,
    check,
    exercise,
    inverted_slip,
    msg,
    number_problem,
    percent_slip,
    share_problem,
    skip,
)

LANGS = i18n.LANGUAGES


def _summary_values(table: pd.DataFrame | None) -> dict:
    if table is None or not {"key", "value"} <= set(table.columns):
        return {}
    return dict(zip(table["key"], table["value"], strict=True))


# ----------------------------------------------------------------------------- 05-1
@exercise("05-1", handles=("table", "key", "value", "ov_total_aum", "ov_active_customers"))
def check_aum_per_customer(ex: str, answer: Any, table: pd.DataFrame | None, lang: str = "zh"):
    """Exercise 05-1: total AUM divided by active customers (RMB per customer)."""
    values = _summary_values(table)
    if not values.get("ov_active_customers") or values.get("ov_total_aum") is None:
        return skip(ex, lang, msg("course_skip_no_indicator"))
    expected = values["ov_total_aum"] / values["ov_active_customers"]
    slips = [
        *inverted_slip(expected, "ov_total_aum", "ov_active_customers"),
        Slip(expected / 10_000, msg("course_05_1_ten_thousand")),
    ]
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=1e-4,
        hint=msg("course_hint_05_1"),
        validate=lambda value: number_problem(value, minimum=0),
        slips=slips,
    )


# ----------------------------------------------------------------------------- 05-2
@exercise("05-2", handles=("table", "aum_at_risk", "ov_total_aum"))
def check_aum_at_risk_share(ex: str, answer: Any, table: pd.DataFrame | None, lang: str = "zh"):
    """Exercise 05-2: AUM at risk as a share of total AUM."""
    values = _summary_values(table)
    if values.get("aum_at_risk") is None or not values.get("ov_total_aum"):
        return skip(ex, lang, msg("course_skip_no_indicator"))
    expected = values["aum_at_risk"] / values["ov_total_aum"]
    slips = [*percent_slip(expected), *inverted_slip(expected, "aum_at_risk", "ov_total_aum")]
    if values.get("ov_active_customers"):
        per_customer = values["aum_at_risk"] / values["ov_active_customers"]
        slips.append(Slip(per_customer, msg("course_05_2_customers")))
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=1e-4,
        hint=msg("course_hint_05_2"),
        validate=share_problem,
        slips=slips,
    )


# ----------------------------------------------------------------------------- 05-3
@exercise("05-3", handles=("table", "campaign_roi"))
def check_repeat_campaign(ex: str, answer: Any, table: pd.DataFrame | None, lang: str = "zh"):
    """Exercise 05-3: does repeating the campaign pay (ROI above zero)?"""
    values = _summary_values(table)
    if values.get("campaign_roi") is None or pd.isna(values["campaign_roi"]):
        return skip(ex, lang, msg("course_skip_no_indicator"))
    expected = bool(values["campaign_roi"] > 0)
    words = [
        i18n.t(k, language) for k in ("course_word_yes", "course_word_no") for language in LANGS
    ]
    texts = {"True", "False", "true", "false", *words, *(word.title() for word in words)}
    slips = [Slip(text, msg("course_05_3_text")) for text in sorted(texts)]
    slips.append(Slip(float(values["campaign_roi"]), msg("course_05_3_number")))
    return check(
        ex,
        answer,
        expected,
        lang,
        hint=msg("course_hint_05_3"),
        validate=bool_problem,
        slips=slips,
    )
