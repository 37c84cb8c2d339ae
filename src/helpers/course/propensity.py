"""Course exercises of ``03_cross_sell_propensity`` (交叉销售): checks for cross-sell decisions.

Each check recomputes the right answer from the same objects the notebook built (the customers'
holding flags, the models' holdout scores, the RM call lists), so nothing is hard-coded and the
checks stay right for any dataset, month, horizon or focus product. A check passes with
"skipped" when the data makes its exercise inapplicable (a product nobody holds, a holdout
without buyers, empty call lists), and never raises for a wrong, odd or missing answer.
Common slips (the confidence instead of the lift, the take-up rate instead of the lift, the
random 20% instead of the captured share, the product with most calls instead of most value,
the product's name instead of its code) get their own explanation.

Re-exported by :mod:`helpers.course`, so notebooks call ``course.check_propensity_...``.
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
    code_problem,
    exercise,
    label_slips,
    msg,
    number_problem,
    percent_slip,
    share_problem,
    skip,
)
from helpers.propensity import product_label

__all__ = [
    "check_propensity_co_holding_lift",
    "check_propensity_top_decile_lift",
    "check_propensity_top_share_capture",
    "check_propensity_pipeline_product",
]

#: Prefix of the holding flags in the ABT / flat table (``held_fund``...).
HELD_PREFIX = "held_"


def _focus_holdout(holdout: pd.DataFrame | None, focus: Any) -> np.ndarray:
    """Outcomes of the focus product's holdout customers, ranked by probability, highest first.

    Ties keep their input order (stable sort), as :mod:`helpers.propensity.evaluation` does.
    """
    if holdout is None or not {"product", "y", "probability"} <= set(holdout.columns):
        return np.array([])
    part = holdout[holdout["product"].astype(str) == str(focus)]
    probability = part["probability"].to_numpy(dtype=float)
    order = np.argsort(-probability, kind="stable")
    return part["y"].to_numpy(dtype=float)[order]


def _lift_slips(expected: float) -> list[Slip]:
    """A lift turned upside down, or written as a percentage."""
    inverted = [Slip(1 / expected, msg("course_slip_lift_inverted"))] if expected else []
    return [*inverted, *percent_slip(expected, "course_slip_percent_multiple")]


# ----------------------------------------------------------------------------- exercise 03-1
@exercise(
    "03-1", handles=("affinity", "antecedent", "consequent", "lift", "wealth_mgmt", "fund", "score")
)
def check_propensity_co_holding_lift(
    ex: str,
    answer: Any,
    frame: pd.DataFrame | None,
    lang: str = "zh",
    antecedent: str = "wealth_mgmt",
    consequent: str = "fund",
):
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
    columns = [f"{HELD_PREFIX}{antecedent}", f"{HELD_PREFIX}{consequent}"]
    names = {"antecedent": antecedent, "consequent": consequent}
    if frame is None or not set(columns) <= set(frame.columns) or len(frame) == 0:
        return skip(ex, lang, msg("course_skip_no_flags", **names))
    held_a = frame[columns[0]].fillna(False).astype(bool).to_numpy()
    held_b = frame[columns[1]].fillna(False).astype(bool).to_numpy()
    if held_a.sum() == 0 or held_b.sum() == 0:
        return skip(ex, lang, msg("course_skip_nobody_holds", **names))
    confidence = float((held_a & held_b).sum() / held_a.sum())
    share_b = float(held_b.mean())
    expected = confidence / share_b
    slips = [
        Slip(confidence, msg("course_03_1_confidence", **names)),
        Slip(float((held_a & held_b).mean()), msg("course_03_1_support")),
        Slip(share_b, msg("course_03_1_base", **names)),
        *_lift_slips(expected),
    ]
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=1e-3,
        hint=msg("course_hint_03_1", **names),
        validate=lambda value: number_problem(value, minimum=0),
        slips=slips,
    )


# ----------------------------------------------------------------------------- exercise 03-2
@exercise("03-2", handles=("deciles", "focus", "decile", "lift"))
def check_propensity_top_decile_lift(
    ex: str, answer: Any, holdout: pd.DataFrame | None, focus: Any, lang: str = "zh"
):
    """Exercise 03-2: lift of the top decile of the focus product's holdout scores.

    Parameters
    ----------
    answer : the learner's lift (take-up rate in decile 1 / overall take-up rate).
    holdout : the notebook's ``models.holdout_``: ``product``, ``y``, ``probability``.
    focus : code of the focus product (the notebook's ``focus``).

    Decile 1 holds the ``ceil(n / 10)`` highest-scored customers (the first of ten groups as
    equal as possible, as in :func:`helpers.propensity.evaluation.decile_table`).
    """
    outcome = _focus_holdout(holdout, focus)
    if len(outcome) == 0 or outcome.sum() == 0:
        return skip(ex, lang, msg("course_skip_no_buyers", product=focus))
    top = outcome[: math.ceil(len(outcome) / min(10, len(outcome)))]
    overall_rate = float(outcome.mean())
    top_rate = float(top.mean())
    expected = top_rate / overall_rate
    slips = [
        Slip(top_rate, msg("course_03_2_rate")),
        Slip(float(top.sum() / outcome.sum()), msg("course_03_2_capture")),
        Slip(overall_rate, msg("course_03_2_base")),
        *_lift_slips(expected),
    ]
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=1e-3,
        hint=msg("course_hint_03_2"),
        validate=lambda value: number_problem(value, minimum=0),
        slips=slips,
    )


# ----------------------------------------------------------------------------- exercise 03-3
@exercise("03-3", handles=("models.holdout_", "focus", "propensity.top_k_capture"))
def check_propensity_top_share_capture(
    ex: str,
    answer: Any,
    holdout: pd.DataFrame | None,
    focus: Any,
    lang: str = "zh",
    share: float = 0.2,
):
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
    outcome = _focus_holdout(holdout, focus)
    if len(outcome) == 0 or outcome.sum() == 0:
        return skip(ex, lang, msg("course_skip_no_buyers", product=focus))
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
    if any(
        isinstance(answer, (int, float)) and math.isclose(answer, value, abs_tol=1e-3)
        for value in accepted
    ):
        expected = float(answer)
    random_share = called / total
    slips = [
        Slip(random_share, msg("course_03_3_random", share=share)),
        Slip(float(outcome[:called].mean()), msg("course_03_3_rate")),
        *percent_slip(expected),
    ]
    if random_share:
        slips.append(Slip(expected / random_share, msg("course_03_3_lift")))
    return check(
        ex,
        answer,
        expected,
        lang,
        tolerance=1e-3,
        hint=msg("course_hint_03_3", share=share),
        validate=share_problem,
        slips=slips,
    )


# ----------------------------------------------------------------------------- exercise 03-4
@exercise("03-4", handles=("calls", "product", "expected_value"))
def check_propensity_pipeline_product(
    ex: str, answer: Any, calls: pd.DataFrame | None, lang: str = "zh"
):
    """Exercise 03-4: the product with the highest total expected value on the call lists.

    Parameters
    ----------
    answer : the learner's product code (e.g. ``"fund"``). A catalogue name ("基金",
        "Mutual funds") is recognised and explained: the answer is the code.
    calls : the notebook's ``calls`` (``propensity.rm_call_list``): ``product``, ``expected_value``.

    When two products tie for the largest total, either is right.
    """
    if calls is None or len(calls) == 0 or not {"product", "expected_value"} <= set(calls):
        return skip(ex, lang, msg("course_skip_no_calls"))
    products = calls["product"].astype(str)
    totals = calls["expected_value"].astype(float).groupby(products, sort=False).sum()
    leaders = [code for code in totals.index if math.isclose(totals[code], totals.max())]
    expected = answer if isinstance(answer, str) and answer in leaders else leaders[0]
    labels = {
        product_label(code, language): code for code in totals.index for language in i18n.LANGUAGES
    }
    slips = label_slips(labels, expected, "product")
    counts = products.value_counts()
    most_calls = str(counts.index[0])
    if most_calls not in leaders:
        slips.append(Slip(most_calls, msg("course_03_4_count")))
    slips += [
        Slip(code, msg("course_03_4_smaller", share=totals[code] / totals.max()))
        for code in totals.index
        if code not in leaders
    ]
    return check(
        ex,
        answer,
        expected,
        lang,
        hint=msg("course_hint_03_4"),
        validate=lambda value: code_problem(value, totals.index),
        slips=slips,
    )
