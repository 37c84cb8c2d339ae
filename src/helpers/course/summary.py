"""Checks for the exercises of ``05_monthly_summary``."""

from __future__ import annotations

from helpers.course.checks import CheckResult, check, fraction_problem


# ----------------------------------------------------------------------------- 05 exercises
def _summary_values(table) -> dict:
    return dict(zip(table["key"], table["value"], strict=True))


def _skipped(exercise: str, lang: str) -> CheckResult:
    return CheckResult(
        exercise,
        True,
        "本数据集没有这个指标,跳过。"
        if lang == "zh"
        else "This dataset has no such indicator; skipped.",
    )


def check_aum_per_customer(answer, table, lang: str = "zh") -> CheckResult:
    """Exercise 05-1: total AUM divided by active customers."""
    values = _summary_values(table)
    if not values.get("ov_active_customers") or "ov_total_aum" not in values:
        return _skipped("05-1", lang)
    return check(
        "05-1",
        answer,
        values["ov_total_aum"] / values["ov_active_customers"],
        lang,
        tolerance=1e-4,
        hint_zh="提示:在 `table` 中找到 key 为 ov_total_aum 和 ov_active_customers 的两行,用前者除以后者。",
        hint_en="Hint: take the rows with key ov_total_aum and ov_active_customers in `table` and divide.",
    )


def check_aum_at_risk_share(answer, table, lang: str = "zh") -> CheckResult:
    """Exercise 05-2: AUM at risk as a share of total AUM."""
    values = _summary_values(table)
    if "aum_at_risk" not in values or not values.get("ov_total_aum"):
        return _skipped("05-2", lang)
    return check(
        "05-2",
        answer,
        values["aum_at_risk"] / values["ov_total_aum"],
        lang,
        tolerance=1e-4,
        hint_zh="提示:aum_at_risk 除以 ov_total_aum,结果在 0 到 1 之间。",
        hint_en="Hint: aum_at_risk divided by ov_total_aum; a fraction between 0 and 1.",
        validate=fraction_problem,
    )


def check_repeat_campaign(answer, table, lang: str = "zh") -> CheckResult:
    """Exercise 05-3: does repeating the campaign pay (ROI above zero)?"""
    values = _summary_values(table)
    if "campaign_roi" not in values:
        return _skipped("05-3", lang)
    return check(
        "05-3",
        answer,
        bool(values["campaign_roi"] > 0),
        lang,
        hint_zh="提示:看 campaign_roi 是否大于 0;答案是 True 或 False。",
        hint_en="Hint: is campaign_roi above zero? Answer True or False.",
        validate=lambda a: (
            None
            if isinstance(a, bool)
            else (
                "答案应是 True 或 False。"
                if lang == "zh"
                else "The answer should be True or False."
            )
        ),
    )
