"""Course checks of 04_retention_roi on tiny hand-made inputs with hand-worked answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import course
from helpers.course.retention import stop_budget
from helpers.formatting import Skipped


def test_checks_are_reexported_by_the_course_module():
    for name in (
        "check_retention_claim_effect",
        "check_retention_sure_things",
        "check_retention_stop_budget",
        "check_retention_visit_break_even",
    ):
        assert callable(getattr(course, name)), name


# ----------------------------------------------------------------------------- 04-1
@pytest.fixture
def evaluation():
    # fee_waiver: +3 points, CI [+0.5, +5.5] -> claimable; rate_coupon: +1.5, CI crosses 0;
    # sms_only: -2 points. The aum_after rows must be ignored (their CI is wholly above 0).
    return pd.DataFrame(
        {
            "metric": ["retained"] * 3 + ["aum_after"] * 3,
            "offer": ["fee_waiver", "rate_coupon", "sms_only"] * 2,
            "difference": [0.03, 0.015, -0.02, 500.0, 800.0, 100.0],
            "ci_low": [0.005, -0.013, -0.05, 10.0, 20.0, 5.0],
            "ci_high": [0.055, 0.044, 0.01, 990.0, 1580.0, 195.0],
        }
    )


def test_claim_check_passes_only_offers_whose_interval_is_above_zero(evaluation):
    assert course.check_retention_claim_effect(["fee_waiver"], evaluation, "en").passed
    assert course.check_retention_claim_effect(("fee_waiver",), evaluation, "en").passed
    none_claimable = evaluation.assign(ci_low=evaluation["ci_low"].where(lambda s: s < 0, -0.01))
    assert course.check_retention_claim_effect([], none_claimable, "en").passed
    order_free = evaluation.assign(ci_low=0.001)
    assert course.check_retention_claim_effect(
        ["sms_only", "fee_waiver", "rate_coupon"], order_free, "en"
    ).passed


def test_claim_check_explains_a_positive_difference_is_not_proof(evaluation):
    positive = course.check_retention_claim_effect(["rate_coupon", "fee_waiver"], evaluation, "en")
    assert not positive.passed and "crosses 0" in positive.message
    missing = course.check_retention_claim_effect(None, evaluation, "zh")
    assert not missing.passed and "还没有作答" in missing.message and "ci_low" in missing.message
    boolean = course.check_retention_claim_effect(True, evaluation, "en")
    assert not boolean.passed and "list of offer codes" in boolean.message
    unknown = course.check_retention_claim_effect(["coupon"], evaluation, "en")
    assert not unknown.passed and "no offer coupon" in unknown.message
    empty = course.check_retention_claim_effect([], evaluation, "en")
    assert not empty.passed and "Hint" in empty.message


def test_claim_check_is_skipped_in_planner_mode():
    skipped = course.check_retention_claim_effect(None, None, "en")
    assert skipped.passed and "Skipped" in skipped.message


# ----------------------------------------------------------------------------- 04-2
@pytest.fixture
def mix():
    return pd.DataFrame(
        {
            "strategy": ["uplift", "risk", "random"] * 2,
            "contacts": [100] * 6,
            "persuadable": [20.0, 5.0, 6.0, 18.0, 4.0, 7.0],
            "sure_thing": [70.0, 62.4, 80.0, 71.0, 55.3, 79.0],
            "lost_cause": [10.0, 30.0, 12.0, 11.0, 38.0, 13.0],
            "sleeping_dog": [0.0, 2.6, 2.0, 0.0, 2.7, 1.0],
            "offer": ["fee_waiver"] * 3 + ["rate_coupon"] * 3,
        }
    )


def test_sure_things_check_reads_the_risk_row_of_the_offer(mix):
    assert course.check_retention_sure_things(55.3, mix, "en").passed
    assert course.check_retention_sure_things(55, mix, "en").passed  # rounded is fine
    assert course.check_retention_sure_things(np.float64(55.3), mix, "en").passed
    assert course.check_retention_sure_things(62.4, mix, "en", offer="fee_waiver").passed
    assert not course.check_retention_sure_things(54, mix, "en").passed


def test_sure_things_check_names_the_slips(mix):
    share = course.check_retention_sure_things(0.553, mix, "en")
    assert not share.passed and "share" in share.message
    other_row = course.check_retention_sure_things(71.0, mix, "en")
    assert not other_row.passed and "another targeting rule" in other_row.message
    missing = course.check_retention_sure_things(None, mix, "zh")
    assert (
        not missing.passed and "还没有作答" in missing.message and "sure_thing" in missing.message
    )
    text = course.check_retention_sure_things("55", mix, "en")
    assert not text.passed and "should be a number" in text.message


def test_sure_things_check_is_skipped_without_a_campaign_or_the_offer(mix):
    assert course.check_retention_sure_things(None, None, "en").passed
    skipped = course.check_retention_sure_things(None, mix, "en", offer="offer")
    assert skipped.passed and "Skipped" in skipped.message


# ----------------------------------------------------------------------------- 04-3
@pytest.fixture
def curve():
    # Steps from zero: 1000 spent -> 5000 net (5.0 per RMB); +1000 -> +2000 (2.0);
    # +1000 -> +1200 (1.2); +1000 -> +500 (0.5, stop); +1000 -> +1500 (1.5, after the stop).
    # Average ROI falls all the way: 5.0, 3.5, 2.73, 2.18, 2.04. Answer: the 3rd budget, 3000.
    return pd.DataFrame(
        {
            "budget": [5000.0, 1000.0, 2000.0, 4000.0, 3000.0],  # unsorted on purpose
            "contacts": [50, 10, 20, 40, 30],
            "spend": [5000.0, 1000.0, 2000.0, 4000.0, 3000.0],
            "expected_net": [10200.0, 5000.0, 7000.0, 8700.0, 8200.0],
        }
    ).assign(roi=lambda frame: frame["expected_net"] / frame["spend"])


def test_stop_budget_walks_up_the_marginal_returns(curve):
    assert stop_budget(curve) == 3000.0
    assert stop_budget(curve, hurdle=2.0) == 2000.0
    assert stop_budget(curve, hurdle=6.0) == 0.0  # even the first step falls short
    assert stop_budget(curve, hurdle=0.1) == 5000.0
    # a step that buys nothing more (same spend, same net) stops the walk
    flat_step = pd.DataFrame(
        {"budget": [1000.0, 2000.0, 3000.0], "contacts": [10, 20, 20]}
        | {"spend": [1000.0, 2000.0, 2000.0], "expected_net": [5000.0, 7000.0, 7000.0]}
    )
    assert stop_budget(flat_step) == 2000.0


def test_stop_budget_check_passes_the_marginal_answer_and_explains_average_roi(curve):
    assert course.check_retention_stop_budget(3000.0, curve, "en").passed
    assert course.check_retention_stop_budget(3000, curve, "en").passed
    assert course.check_retention_stop_budget(2000.0, curve, "en", hurdle=2.0).passed
    most_net = course.check_retention_stop_budget(5000.0, curve, "en")
    assert not most_net.passed and "most net value" in most_net.message
    best_roi = course.check_retention_stop_budget(1000.0, curve, "zh")
    assert not best_roi.passed and "平均 ROI" in best_roi.message
    missing = course.check_retention_stop_budget(None, curve, "en")
    assert not missing.passed and "Not answered" in missing.message
    assert "expected_net" in missing.message


def test_stop_budget_check_names_a_spend_and_rejects_odd_answers(curve):
    spend = curve.assign(spend=curve["spend"] * 0.9)  # greedy leaves some budget unspent
    spent = course.check_retention_stop_budget(2700.0, spend, "en")
    assert not spent.passed and "You gave a `spend`" in spent.message
    text = course.check_retention_stop_budget("3000", curve, "en")
    assert not text.passed and "should be a number" in text.message
    negative = course.check_retention_stop_budget(-1.0, curve, "en")
    assert not negative.passed and "below 0" in negative.message


def test_stop_budget_check_is_skipped_when_nobody_is_worth_contacting(curve):
    nobody = curve.assign(contacts=0, spend=0.0, expected_net=0.0)
    skipped = course.check_retention_stop_budget(None, nobody, "en")
    assert skipped.passed and "Skipped" in skipped.message


# ----------------------------------------------------------------------------- 04-4
@pytest.fixture
def plan():
    # costs include a 15 RMB phone contact; with an 80 RMB visit: 115, 295, 115 -> 525.
    # CLV total 100,000 -> break-even 0.00525 (phone: 330 / 100,000 = 0.0033).
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "cost": [50.0, 230.0, 50.0],
            "clv": [20_000.0, 50_000.0, 30_000.0],
            "uplift": [0.03, 0.02, 0.01],
        }
    )


def test_visit_break_even_check_swaps_the_contact_cost(plan):
    assert course.check_retention_visit_break_even(0.00525, plan, 15.0, 80.0, "en").passed
    assert course.check_retention_visit_break_even(np.float64(0.00525), plan, 15.0, 80.0).passed
    assert not course.check_retention_visit_break_even(0.0053, plan, 15.0, 80.0, "en").passed


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (0.0057, "old channel's contact cost"),  # (330 + 3 x 80) / 100,000
        (0.0033, "current channel"),  # the phone break-even
        ((115 / 20_000 + 295 / 50_000 + 115 / 30_000) / 3, "averaged each customer's ratio"),
        (0.525, "percentage"),
    ],
)
def test_visit_break_even_check_names_the_slips(plan, answer, words):
    result = course.check_retention_visit_break_even(answer, plan, 15.0, 80.0, "en")
    assert not result.passed and words in result.message


def test_visit_break_even_check_explains_missing_answers_and_skips_an_empty_plan(plan):
    missing = course.check_retention_visit_break_even(None, plan, 15.0, 80.0, "zh")
    assert (
        not missing.passed and "还没有作答" in missing.message and "contact_cost" in missing.message
    )
    listed = course.check_retention_visit_break_even([0.00525], plan, 15.0, 80.0, "en")
    assert not listed.passed and "should be a number" in listed.message
    assert course.check_retention_visit_break_even(None, plan.iloc[:0], 15.0, 80.0).passed
    no_visit = course.check_retention_visit_break_even(None, plan, 15.0, None, "en")
    assert no_visit.passed and "Skipped" in no_visit.message


# ----------------------------------------------------------------------------- planner mode
def test_checks_treat_a_skipped_step_like_a_missing_one(curve, plan):
    skipped = Skipped("rr_note_needs_campaign")
    claim = course.check_retention_claim_effect(None, skipped, "en")
    assert claim.passed and "Skipped" in claim.message
    sure = course.check_retention_sure_things(None, skipped, "en")
    assert sure.passed and "Skipped" in sure.message
    assert course.check_retention_stop_budget(None, skipped, "en").passed
    assert course.check_retention_visit_break_even(None, skipped, 15.0, 80.0, "en").passed
