"""Course checks of 03_cross_sell_propensity: right answers pass, wrong and missing ones explain why."""

import numpy as np
import pandas as pd
import pytest

from helpers import course


def test_checks_are_reexported_by_the_course_module():
    for name in (
        "check_propensity_co_holding_lift",
        "check_propensity_top_decile_lift",
        "check_propensity_top_share_capture",
        "check_propensity_pipeline_product",
    ):
        assert callable(getattr(course, name)), name


# ----------------------------------------------------------------------------- 03-1
@pytest.fixture
def holdings():
    # 10 customers: 4 hold wealth management, 3 of them also a fund; 5 hold a fund in all.
    # confidence = 3/4, P(fund) = 5/10, lift = 0.75 / 0.5 = 1.5; support = 3/10.
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(10)],
            "held_wealth_mgmt": [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
            "held_fund": [1, 1, 1, 0, 1, 1, 0, 0, 0, 0],
            "held_insurance": [0] * 10,
        }
    ).astype({"held_wealth_mgmt": bool, "held_fund": bool, "held_insurance": bool})


def test_co_holding_lift_passes_the_hand_computed_lift(holdings):
    assert course.check_propensity_co_holding_lift(1.5, holdings, "en").passed
    assert course.check_propensity_co_holding_lift(np.float64(1.5), holdings, "zh").passed
    # lift is symmetric: fund -> wealth_mgmt is (3/5) / (4/10) = 1.5 as well
    assert course.check_propensity_co_holding_lift(
        1.5, holdings, "en", antecedent="fund", consequent="wealth_mgmt"
    ).passed


def test_co_holding_lift_explains_wrong_and_missing_answers(holdings):
    confidence = course.check_propensity_co_holding_lift(0.75, holdings, "en")
    assert not confidence.passed and "confidence" in confidence.message
    support = course.check_propensity_co_holding_lift(0.3, holdings, "en")
    assert not support.passed and "support" in support.message
    missing = course.check_propensity_co_holding_lift(None, holdings, "zh")
    assert not missing.passed and "还没有作答" in missing.message and "affinity" in missing.message
    text = course.check_propensity_co_holding_lift("1.5", holdings, "en")
    assert not text.passed and "should be a number" in text.message
    inverted = course.check_propensity_co_holding_lift(1 / 1.5, holdings, "en")
    assert not inverted.passed and "inverted" in inverted.message


def test_co_holding_lift_is_skipped_without_the_products(holdings):
    nobody = course.check_propensity_co_holding_lift(
        None, holdings, "en", antecedent="insurance", consequent="fund"
    )
    assert nobody.passed and "Skipped" in nobody.message
    absent = course.check_propensity_co_holding_lift(None, holdings.drop(columns="held_fund"), "zh")
    assert absent.passed and "跳过" in absent.message


# ----------------------------------------------------------------------------- 03-2 and 03-3
@pytest.fixture
def holdout():
    # 20 fund customers ranked by probability (descending in input order): buyers at ranks
    # 1, 2, 3 and 7; overall rate 4/20 = 0.2. Decile 1 = ranks 1-2: rate 1.0, lift 5.0.
    # Top 20% = ranks 1-4: 3 of 4 buyers, capture 0.75. Another product must be ignored.
    probability = np.linspace(0.95, 0.05, 20)
    fund = pd.DataFrame(
        {
            "product": "fund",
            "customer_id": [f"c{i}" for i in range(20)],
            "y": [1, 1, 1, 0, 0, 0, 1] + [0] * 13,
            "probability": probability,
        }
    )
    other = fund.assign(product="insurance", y=1 - fund["y"])
    # shuffled on purpose: the check must rank by probability, not trust the row order
    return pd.concat([fund, other]).sample(frac=1, random_state=7).reset_index(drop=True)


def test_top_decile_lift_passes_the_hand_computed_lift(holdout):
    assert course.check_propensity_top_decile_lift(5.0, holdout, "fund", "en").passed
    # the other product: 16 buyers of 20, decile 1 has none -> lift 0
    assert course.check_propensity_top_decile_lift(0, holdout, "insurance", "en").passed


def test_top_decile_lift_matches_the_notebook_decile_table():
    from helpers.propensity import evaluation as propensity_eval

    generator = np.random.default_rng(3)
    probability = generator.random(1_003)
    outcome = (generator.random(1_003) < probability * 0.3).astype(int)
    frame = pd.DataFrame({"product": "fund", "y": outcome, "probability": probability})
    lift = propensity_eval.decile_table(outcome, probability)["lift"].iloc[0]
    assert course.check_propensity_top_decile_lift(lift, frame, "fund", "en").passed
    capture = propensity_eval.top_k_capture(outcome, probability, shares=(0.2,))
    assert course.check_propensity_top_share_capture(
        capture["capture"].iloc[0], frame, "fund", "en"
    ).passed
    # the decile table's cumulative capture at decile 2 (202 customers, not 201) is accepted
    deciles = propensity_eval.decile_table(outcome, probability)
    assert course.check_propensity_top_share_capture(
        deciles["cumulative_capture"].iloc[1], frame, "fund", "en"
    ).passed


def test_top_decile_lift_explains_wrong_and_missing_answers(holdout):
    rate = course.check_propensity_top_decile_lift(1.0, holdout, "fund", "en")
    assert not rate.passed and "take-up rate" in rate.message and "divide" in rate.message
    capture = course.check_propensity_top_decile_lift(0.5, holdout, "fund", "en")
    assert not capture.passed and "cumulative capture" in capture.message
    missing = course.check_propensity_top_decile_lift(None, holdout, "fund", "zh")
    assert not missing.passed and "还没有作答" in missing.message and "deciles" in missing.message
    negative = course.check_propensity_top_decile_lift(-2, holdout, "fund", "en")
    assert not negative.passed and "cannot be below 0" in negative.message


def test_top_share_capture_passes_and_explains(holdout):
    assert course.check_propensity_top_share_capture(0.75, holdout, "fund", "en").passed
    assert course.check_propensity_top_share_capture(1.0, holdout, "fund", "en", share=0.4).passed
    random = course.check_propensity_top_share_capture(0.2, holdout, "fund", "en")
    assert not random.passed and "at random" in random.message
    percent = course.check_propensity_top_share_capture(75, holdout, "fund", "en")
    assert not percent.passed and "percentage" in percent.message and "75" in percent.message
    missing = course.check_propensity_top_share_capture(None, holdout, "fund", "zh")
    assert not missing.passed and "还没有作答" in missing.message and "20%" in missing.message


def test_holdout_checks_are_skipped_without_buyers(holdout):
    no_buyers = holdout.assign(y=0)
    assert course.check_propensity_top_decile_lift(None, no_buyers, "fund", "en").passed
    skipped = course.check_propensity_top_share_capture(None, holdout, "mortgage", "en")
    assert skipped.passed and "Skipped" in skipped.message


# ----------------------------------------------------------------------------- 03-4
@pytest.fixture
def calls():
    # fund: 3 customers, 3 x 100 = 300; insurance: 2 customers, 2 x 400 = 800 -> insurance.
    return pd.DataFrame(
        {
            "rm_id": ["r1", "r1", "r2", "r2", "r2"],
            "customer_id": list("abcde"),
            "product": ["fund", "fund", "fund", "insurance", "insurance"],
            "expected_value": [100.0, 100.0, 100.0, 400.0, 400.0],
        }
    )


def test_pipeline_product_passes_the_code_and_explains_its_name(calls):
    from helpers import propensity

    assert course.check_propensity_pipeline_product("insurance", calls, "en").passed
    name = propensity.product_label("insurance", "zh")
    named = course.check_propensity_pipeline_product(name, calls, "zh")
    assert not named.passed and "选对了" in named.message and "`product`" in named.message
    tie = calls.assign(expected_value=[100.0, 100.0, 200.0, 200.0, 200.0])
    assert course.check_propensity_pipeline_product("fund", tie, "en").passed
    assert course.check_propensity_pipeline_product("insurance", tie, "en").passed


def test_pipeline_product_explains_wrong_and_missing_answers(calls):
    most_calls = course.check_propensity_pipeline_product("fund", calls, "en")
    assert not most_calls.passed and "head count" in most_calls.message
    more = pd.concat([calls, calls.iloc[[0]].assign(customer_id="f", product="time_deposit")])
    smaller = course.check_propensity_pipeline_product("time_deposit", more, "en")
    assert not smaller.passed and "only 12%" in smaller.message  # 100 / 800
    unknown = course.check_propensity_pipeline_product("mortgage", calls, "en")
    assert not unknown.passed and "`fund`, `insurance`" in unknown.message
    missing = course.check_propensity_pipeline_product(None, calls, "zh")
    assert (
        not missing.passed
        and "还没有作答" in missing.message
        and "expected_value" in missing.message
    )


def test_pipeline_product_is_skipped_on_empty_lists(calls):
    skipped = course.check_propensity_pipeline_product(None, calls.iloc[:0], "zh")
    assert skipped.passed and "跳过" in skipped.message


# ----------------------------------------------------------------------------- skipped steps
def test_a_skipped_step_counts_as_missing(holdings, holdout, calls):
    from helpers.formatting import Skipped

    skipped = Skipped("ps_no_models")
    lift = course.check_propensity_co_holding_lift(1.5, skipped, "en")
    assert lift.passed and "Skipped" in lift.message
    assert course.check_propensity_top_decile_lift(None, skipped, "fund", "en").passed
    assert course.check_propensity_top_share_capture(None, skipped, "fund", "en").passed
    assert course.check_propensity_pipeline_product("fund", skipped, "zh").passed
    # a Skipped answer is no answer: the learner is told so, never a traceback
    for result in (
        course.check_propensity_co_holding_lift(skipped, holdings, "zh"),
        course.check_propensity_top_decile_lift(skipped, holdout, "fund", "zh"),
        course.check_propensity_top_share_capture(skipped, holdout, "fund", "zh"),
        course.check_propensity_pipeline_product(skipped, calls, "zh"),
    ):
        assert not result.passed and "还没有作答" in result.message
