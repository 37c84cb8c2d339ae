"""Checks for the exercises of ``00_data_overview`` (数据概览).

Each check computes the expected answer from the same data the learner used, so nothing is
hard-coded and the checks stay right when the data or the month changes.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from helpers.config import cross_sell_products
from helpers.course.checks import (
    Slip,
    check,
    code_problem,
    exercise,
    inverted_slip,
    label_slips,
    msg,
    number_problem,
    percent_slip,
    share_problem,
    skip,
)

TOP_TIERS = ("wealth", "private")


# ----------------------------------------------------------------------------- 00-1
@exercise("00-1", handles=("kpis", "ov_avg_aum", "ov_median_aum"))
def check_mean_to_median(ex: str, answer: Any, kpis: list[dict] | None, lang: str = "zh"):
    """Exercise 00-1: average AUM divided by median AUM (how concentrated the book is)."""
    values = {record["key"]: record["value"] for record in kpis or []}
    if not values.get("ov_median_aum") or values.get("ov_avg_aum") is None:
        return skip(ex, lang, msg("course_skip_no_median"))
    expected = values["ov_avg_aum"] / values["ov_median_aum"]
    slips = [
        *inverted_slip(expected, "ov_avg_aum", "ov_median_aum"),
        *percent_slip(expected, "course_slip_percent_multiple"),
    ]
    if values.get("ov_total_aum"):
        total = values["ov_total_aum"] / values["ov_median_aum"]
        slips.append(Slip(total, msg("course_00_1_total")))
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=1e-3,
        hint=msg("course_hint_00_1"),
        validate=lambda value: number_problem(value, minimum=0),
        slips=slips,
    )


# ----------------------------------------------------------------------------- 00-2
@exercise("00-2", handles=("tiers", "aum_share", "wealth", "private"))
def check_top_tier_aum_share(ex: str, answer: Any, tiers: pd.DataFrame | None, lang: str = "zh"):
    """Exercise 00-2: share of AUM held by wealth and private-banking customers (0 to 1)."""
    if tiers is None or not {"tier", "aum_share"} <= set(tiers.columns):
        return skip(ex, lang, msg("course_skip_no_aum"))
    tier = tiers["tier"].astype(str)
    expected = float(tiers.loc[tier.isin(TOP_TIERS), "aum_share"].sum())
    slips = [*percent_slip(expected)]
    if "customer_share" in tiers.columns:
        customers = float(tiers.loc[tier.isin(TOP_TIERS), "customer_share"].sum())
        slips.append(Slip(customers, msg("course_slip_customer_share", column="aum_share")))
    for alone, missing in (TOP_TIERS, TOP_TIERS[::-1]):
        share = float(tiers.loc[tier == alone, "aum_share"].sum())
        slips.append(Slip(share, msg("course_00_2_one_tier", tier=alone, missing=missing)))
    slips.append(Slip(1 - expected, msg("course_slip_complement")))
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=1e-3,
        hint=msg("course_hint_00_2"),
        validate=share_problem,
        slips=slips,
    )


# ----------------------------------------------------------------------------- 00-3
@exercise("00-3", handles=("penetration", "code"))
def check_biggest_gap(ex: str, answer: Any, penetration: pd.DataFrame | None, lang: str = "zh"):
    """Exercise 00-3: code of the cross-sell product with the lowest penetration.

    A product name as the chart shows it (``"个人房贷"``, ``"Mortgage"``) is recognised: the
    learner is told whether it names the right product and that the answer is its code.
    """
    if penetration is None or penetration.empty:
        return skip(ex, lang, msg("course_skip_no_products"))
    candidates = penetration[penetration["code"].isin(cross_sell_products())]
    if candidates.empty:
        candidates = penetration
    ranked = candidates.sort_values(["penetration", "code"])
    expected = str(ranked.iloc[0]["code"])
    labels = {
        str(row[column]): str(row["code"])
        for _, row in penetration.iterrows()
        for column in ("name_zh", "name_en")
        if column in penetration.columns and pd.notna(row[column])
    }
    highest = str(ranked.iloc[-1]["code"])
    slips = [
        *label_slips(labels, expected, "code"),
        Slip(highest, msg("course_00_3_highest")),
        Slip("current_account", msg("course_00_3_base_account")),
    ]
    codes = candidates["code"].astype(str).tolist()
    return check(
        ex,
        answer,
        expected,
        lang,
        hint=msg("course_hint_00_3"),
        validate=lambda value: code_problem(value, codes),
        slips=slips,
    )
