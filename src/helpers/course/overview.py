"""Checks for the exercises of ``00_data_overview``."""

from __future__ import annotations

from helpers.config import cross_sell_products
from helpers.course.checks import CheckResult, check, fraction_problem
from helpers.formatting import is_skipped


# ----------------------------------------------------------------------------- 00 exercises
# Each check computes the expected answer from the same data the learner used, so nothing
# is hard-coded and the checks stay right when the data or the month changes.
def check_top_tier_aum_share(answer, tiers, lang: str = "zh") -> CheckResult:
    """Exercise 00-1: share of AUM held by wealth and private-banking customers (0 to 1)."""
    if tiers is None or is_skipped(tiers):
        return CheckResult(
            "00-1",
            True,
            "本数据集没有资产余额,跳过。" if lang == "zh" else "No AUM in this dataset; skipped.",
        )
    expected = float(tiers.loc[tiers["tier"].isin(["wealth", "private"]), "aum_share"].sum())
    return check(
        "00-1",
        answer,
        expected,
        lang,
        tolerance=1e-3,
        hint_zh="提示:在层级表里把 wealth 和 private 两行的 aum_share 相加,结果是 0 到 1 之间的小数。",
        hint_en="Hint: add the aum_share of the wealth and private rows of the tier table; a fraction between 0 and 1.",
        validate=fraction_problem,
    )


def check_mean_to_median(answer, kpis: list[dict], lang: str = "zh") -> CheckResult:
    """Exercise 00-2: average AUM divided by median AUM (how concentrated the book is)."""
    values = {record["key"]: record["value"] for record in kpis}
    if not values.get("ov_median_aum"):
        return CheckResult(
            "00-2", True, "没有资产中位数,跳过。" if lang == "zh" else "No median AUM; skipped."
        )
    expected = values["ov_avg_aum"] / values["ov_median_aum"]
    return check(
        "00-2",
        answer,
        expected,
        lang,
        tolerance=1e-3,
        hint_zh="提示:用核心指标表中的户均资产除以资产中位数。",
        hint_en="Hint: divide the average AUM by the median AUM from the key-figures table.",
    )


def check_biggest_gap(answer, penetration, lang: str = "zh") -> CheckResult:
    """Exercise 00-3: code of the cross-sell product with the lowest penetration."""

    candidates = penetration[penetration["code"].isin(cross_sell_products())]
    if candidates.empty:
        candidates = penetration
    if candidates.empty:
        return CheckResult(
            "00-3", True, "没有产品数据,跳过。" if lang == "zh" else "No product data; skipped."
        )
    expected = candidates.sort_values(["penetration", "code"]).iloc[0]["code"]
    return check(
        "00-3",
        answer,
        expected,
        lang,
        hint_zh="提示:在渗透率表中找 penetration 最小的交叉销售产品,答案是产品代码(如 'fund')。",
        hint_en="Hint: find the cross-sell product with the smallest penetration; answer with its code (e.g. 'fund').",
        validate=lambda a: (
            None
            if isinstance(a, str)
            else (
                "答案应是产品代码字符串。"
                if lang == "zh"
                else "The answer should be a product code string."
            )
        ),
    )
