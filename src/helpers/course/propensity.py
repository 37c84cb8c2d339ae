"""Course exercises of ``03_cross_sell_propensity`` (交叉销售): checks for cross-sell decisions.

Each check recomputes the right answer from the same objects the notebook built (the customers'
holding flags, the models' holdout scores, the RM call lists), so nothing is hard-coded and the
checks stay right for any dataset, month, horizon or focus product. A check passes with
"skipped" when the data makes its exercise inapplicable (a product nobody holds, a holdout
without buyers, empty call lists), and never raises for a wrong, odd or missing answer.
Common slips (the confidence instead of the lift, the take-up rate instead of the lift, the
random 20% instead of the captured share, the product with most calls instead of most value)
get their own hint. A skipped step (:class:`helpers.formatting.Skipped`), given as the answer
or as the data, counts as missing, like None.

Re-exported by :mod:`helpers.course`, so notebooks call ``course.check_propensity_...``.
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
from helpers.course.checks import share_problem as _share_problem
from helpers.course.checks import skip as _skip
from helpers.formatting import is_skipped
from helpers.propensity import product_label

__all__ = [
    "check_propensity_co_holding_lift",
    "check_propensity_top_decile_lift",
    "check_propensity_top_share_capture",
    "check_propensity_pipeline_product",
]

#: Prefix of the holding flags in the ABT / flat table (``held_fund``...).
HELD_PREFIX = "held_"


def _given(value: Any) -> Any:
    """``value``, or None when it is a skipped step (a Skipped counts as missing)."""
    return None if is_skipped(value) else value


def _near(answer: Any, value: float, tolerance: float = 1e-3) -> bool:
    """True when ``answer`` is a number within ``tolerance`` (relative) of ``value``."""
    return (
        _is_number(answer)
        and math.isfinite(value)
        and abs(float(answer) - value) <= tolerance * max(1.0, abs(value))
    )


def _multiple_problem(answer: Any, lang: str) -> str | None:
    """Message when ``answer`` is not a multiple (a non-negative number, 1 = random)."""
    if not _is_number(answer):
        return _say(
            lang,
            f"答案应是一个倍数(数字,1 表示与随机相同),而你给的是 {type(answer).__name__}。",
            f"The answer should be a multiple (a number; 1 means no better than random), not a {type(answer).__name__}.",
        )
    if float(answer) < 0:
        return _say(
            lang,
            f"提升度不会是负数,而你给的是 {answer!r}。",
            f"A lift is never negative, but you gave {answer!r}.",
        )
    return None


def _focus_holdout(holdout: pd.DataFrame | None, focus: Any) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes and probabilities of the focus product's holdout customers, ranked highest first.

    Ties keep their input order (stable sort), as :mod:`helpers.propensity.evaluation` does.
    """
    holdout = _given(holdout)
    if holdout is None or not {"product", "y", "probability"} <= set(holdout.columns):
        return np.array([]), np.array([])
    part = holdout[holdout["product"].astype(str) == str(focus)]
    probability = part["probability"].to_numpy(dtype=float)
    outcome = part["y"].to_numpy(dtype=float)
    order = np.argsort(-probability, kind="stable")
    return outcome[order], probability[order]


# ----------------------------------------------------------------------------- exercise 03-1
def check_propensity_co_holding_lift(
    answer: Any,
    frame: pd.DataFrame,
    lang: str = "zh",
    antecedent: str = "wealth_mgmt",
    consequent: str = "fund",
) -> CheckResult:
    """Exercise 03-1: co-holding lift of ``consequent`` among holders of ``antecedent``.

    Parameters
    ----------
    answer : the learner's lift.
    frame : the notebook's ``score`` frame with ``held_<product>`` flags (one row per customer).
    antecedent, consequent : product codes: lift = P(holds consequent | holds antecedent) /
        P(holds consequent).

    The expected lift is counted from the holding flags directly (not read from the notebook's
    affinity table), so a slip in either would show.
    """
    exercise = "03-1"
    answer, frame = _given(answer), _given(frame)
    columns = [f"{HELD_PREFIX}{antecedent}", f"{HELD_PREFIX}{consequent}"]
    if frame is None or not set(columns) <= set(frame.columns) or len(frame) == 0:
        return _skip(
            exercise,
            lang,
            f"本数据集没有 {antecedent} 或 {consequent} 的持有标志。",
            f"this dataset has no holding flag for {antecedent} or {consequent}.",
        )
    held_a = frame[columns[0]].fillna(False).astype(bool).to_numpy()
    held_b = frame[columns[1]].fillna(False).astype(bool).to_numpy()
    if held_a.sum() == 0 or held_b.sum() == 0:
        return _skip(
            exercise,
            lang,
            f"没有客户持有 {antecedent} 或 {consequent},提升度无从谈起。",
            f"no customer holds {antecedent} or {consequent}, so there is no lift to compute.",
        )
    confidence = float((held_a & held_b).sum() / held_a.sum())
    share_b = float(held_b.mean())
    expected = confidence / share_b
    support = float((held_a & held_b).mean())
    hint_zh = (
        f"提示:提升度 = P(持有 {consequent} | 持有 {antecedent}) ÷ P(持有 {consequent})。"
        f"在 `affinity` 表中找 antecedent 为 {antecedent}、consequent 为 {consequent} 的那一行,读 lift 列。"
    )
    hint_en = (
        f"Hint: lift = P(holds {consequent} | holds {antecedent}) / P(holds {consequent}). "
        f"In `affinity`, take the row whose antecedent is {antecedent} and consequent is "
        f"{consequent}, and read its lift."
    )
    if _near(answer, confidence) and not _near(expected, confidence):
        hint_zh += f" 你给的是置信度 P(持有 {consequent} | 持有 {antecedent}),还要除以全体客户中持有 {consequent} 的比例。"
        hint_en += f" You gave the confidence P(holds {consequent} | holds {antecedent}); divide it by the share of all customers holding {consequent}."
    elif _near(answer, support) and not _near(expected, support):
        hint_zh += " 你给的是支持度(同时持有两者的客户占比),不是提升度。"
        hint_en += " You gave the support (the share holding both), not the lift."
    return check(
        exercise,
        _as_number(answer),
        expected,
        lang,
        tolerance=1e-3,
        hint_zh=hint_zh,
        hint_en=hint_en,
        validate=lambda value: _multiple_problem(value, lang),
    )


# ----------------------------------------------------------------------------- exercise 03-2
def check_propensity_top_decile_lift(
    answer: Any, holdout: pd.DataFrame | None, focus: Any, lang: str = "zh"
) -> CheckResult:
    """Exercise 03-2: lift of the top decile of the focus product's holdout scores.

    Parameters
    ----------
    answer : the learner's lift (take-up rate in decile 1 / overall take-up rate).
    holdout : the notebook's ``models.holdout_``: ``product``, ``y``, ``probability``.
    focus : code of the focus product (the notebook's ``focus``).

    Decile 1 holds the ``ceil(n / 10)`` highest-scored customers (the first of ten groups as
    equal as possible, as in :func:`helpers.propensity.evaluation.decile_table`).
    """
    exercise = "03-2"
    answer = _given(answer)
    outcome, _ = _focus_holdout(holdout, focus)
    if len(outcome) == 0 or outcome.sum() == 0:
        return _skip(
            exercise,
            lang,
            f"产品 {focus} 的留出样本中没有购买者,提升度无从谈起。",
            f"the holdout of product {focus} has no buyers, so there is no lift.",
        )
    bins = min(10, len(outcome))
    top = outcome[: math.ceil(len(outcome) / bins)]
    overall_rate = float(outcome.mean())
    top_rate = float(top.mean())
    expected = top_rate / overall_rate
    capture = float(top.sum() / outcome.sum())
    hint_zh = "提示:在十分位表(`deciles` 中 product 为 `focus` 的行)里读第 1 组的 lift:第 1 组的购买率 ÷ 全部留出客户的购买率。"
    hint_en = "Hint: in the decile table (the `deciles` rows whose product is `focus`) read decile 1's lift: decile 1's take-up rate / the take-up rate of all holdout customers."
    if _near(answer, top_rate) and not _near(expected, top_rate):
        hint_zh += " 你给的是第 1 组的购买率,还要除以整体购买率,才知道比随机拨打好几倍。"
        hint_en += " You gave decile 1's take-up rate; divide it by the overall rate to see how many times better than random it is."
    elif _near(answer, capture) and not _near(expected, capture):
        hint_zh += " 你给的是第 1 组的累计捕获率(找到的购买者占比),不是提升度。"
        hint_en += (
            " You gave decile 1's cumulative capture (the share of buyers found), not the lift."
        )
    return check(
        exercise,
        _as_number(answer),
        expected,
        lang,
        tolerance=1e-3,
        hint_zh=hint_zh,
        hint_en=hint_en,
        validate=lambda value: _multiple_problem(value, lang),
    )


# ----------------------------------------------------------------------------- exercise 03-3
def check_propensity_top_share_capture(
    answer: Any,
    holdout: pd.DataFrame | None,
    focus: Any,
    lang: str = "zh",
    share: float = 0.2,
) -> CheckResult:
    """Exercise 03-3: share of the focus product's buyers found by calling the top ``share``.

    Parameters
    ----------
    answer : the learner's captured share (0 to 1).
    holdout : the notebook's ``models.holdout_``: ``product``, ``y``, ``probability``.
    focus : code of the focus product.
    share : share of holdout customers called, highest scores first.

    Calling the top ``share`` means ``ceil(share x n)`` customers (the capture table of
    :func:`helpers.propensity.evaluation.top_k_capture`). The decile table's cumulative capture at
    the matching decile can differ by a customer when ``n`` is not a multiple of ten; it is
    accepted too.
    """
    exercise = "03-3"
    answer = _given(answer)
    outcome, _ = _focus_holdout(holdout, focus)
    if len(outcome) == 0 or outcome.sum() == 0:
        return _skip(
            exercise,
            lang,
            f"产品 {focus} 的留出样本中没有购买者。",
            f"the holdout of product {focus} has no buyers.",
        )
    total = len(outcome)
    buyers = outcome.sum()
    called = int(np.ceil(share * total - 1e-9))
    expected = float(outcome[:called].sum() / buyers)
    accepted = [expected]
    deciles = share * 10
    if total >= 10 and math.isclose(deciles, round(deciles)) and round(deciles) >= 1:
        # the decile table's groups (numpy.array_split: the first ones one customer larger)
        sizes = [len(group) for group in np.array_split(np.arange(total), 10)]
        accepted.append(float(outcome[: sum(sizes[: round(deciles)])].sum() / buyers))
    if any(_near(answer, value) for value in accepted):
        expected = float(answer)
    random_share = called / total
    hint_zh = (
        f"提示:在第 5 节的捕获率表(或 `propensity.top_k_capture`)中读产品 `focus` 的“前 {share:.0%}”一列:"
        f"按得分从高到低拨打前 {share:.0%} 的留出客户,找到的购买者占全部购买者的比例。"
    )
    hint_en = (
        f"Hint: in the section 5 capture table (or `propensity.top_k_capture`) read the top "
        f"{share:.0%} column for product `focus`: calling the top {share:.0%} of holdout customers "
        "by score, the share of all buyers reached."
    )
    if _near(answer, random_share) and not _near(expected, random_share):
        hint_zh += f" {share:.0%} 是随机拨打能找到的比例;模型排序后应该更多。"
        hint_en += (
            f" {share:.0%} is what calling at random finds; ranking by the model should find more."
        )
    elif _is_number(answer) and float(answer) > 1:
        hint_zh += " 你给的可能是提升度(倍数),这里要的是占比。"
        hint_en += " You may have given a lift (a multiple); the question asks for a share."
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


# ----------------------------------------------------------------------------- exercise 03-4
def check_propensity_pipeline_product(
    answer: Any, calls: pd.DataFrame | None, lang: str = "zh"
) -> CheckResult:
    """Exercise 03-4: the product with the highest total expected value on the call lists.

    Parameters
    ----------
    answer : the learner's product code (e.g. ``"fund"``); the product's catalogue name in
        ``lang`` is accepted too.
    calls : the notebook's ``calls`` (``propensity.rm_call_list``): ``product``, ``expected_value``.

    When two products tie for the largest total, either is right.
    """

    exercise = "03-4"
    answer, calls = _given(answer), _given(calls)
    if calls is None or len(calls) == 0 or not {"product", "expected_value"} <= set(calls):
        return _skip(
            exercise,
            lang,
            "本期拨打名单为空,没有可比较的产品。",
            "the call lists are empty this period, so there is no product to compare.",
        )
    products = calls["product"].astype(str)
    totals = calls["expected_value"].astype(float).groupby(products, sort=False).sum()
    leaders = [code for code in totals.index if math.isclose(totals[code], totals.max())]
    names = {product_label(code, lang): code for code in totals.index}
    code = names.get(answer, answer) if isinstance(answer, str) else answer
    expected = code if code in leaders else leaders[0]
    counts = products.value_counts()
    hint_zh = (
        '提示:把 `calls` 按 product 分组,对 expected_value 求和,取合计最大的产品代码,例如 "fund"。'
    )
    hint_en = 'Hint: group `calls` by product, sum expected_value, and take the product code with the largest total, e.g. "fund".'
    if isinstance(code, str) and code in totals.index and code not in leaders:
        if counts.get(code, 0) == counts.max():
            hint_zh += " 你选的是名单上客户最多的产品;要比较的是预期价值合计,不是人数。"
            hint_en += " You chose the product with most customers on the lists; compare total expected value, not head count."
        share = totals[code] / totals.max()
        hint_zh += f" 你选的 {code} 的预期价值只有最高者的 {share:.0%}。"
        hint_en += f" The {code} you chose carries only {share:.0%} of the top product's value."

    def validate(value: Any) -> str | None:
        if isinstance(value, str) and value in totals.index:
            return None
        return _say(
            lang,
            f"答案应是名单上的产品代码之一:{', '.join(totals.index)};你给的是 {value!r}。",
            f"The answer should be one of the product codes on the lists: {', '.join(totals.index)}; you gave {value!r}.",
        )

    return check(
        exercise, code, expected, lang, hint_zh=hint_zh, hint_en=hint_en, validate=validate
    )
