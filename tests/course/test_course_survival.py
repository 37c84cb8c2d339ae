"""Course checks of 02_lifecycle_survival on tiny hand-made inputs with hand-worked answers."""

from __future__ import annotations

import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from helpers import course
from helpers.formatting import Skipped


# ----------------------------------------------------------------------------- exercise 1
@pytest.fixture
def truncated_surv():
    # Five customers, repeated ten times (Kaplan-Meier needs 30+ rows; copies leave it as is).
    # Naive risk sets (everyone from tenure 0): t=10: 5 at risk, 1 event -> 4/5; t=20: 4, 1
    # -> 3/5; t=35: 3, 1 -> 2/5.  S_naive(36) = 0.4.
    # With entry (at risk when entry < t <= duration): t=10: A, B, D -> 2/3; t=20: B, D ->
    # 1/3; t=35: B, C, E -> 2/9.  S_entry(36) = 2/9.  Answer: 0.4 - 2/9 = 0.1778.
    five = pd.DataFrame(
        {
            "entry": [0, 0, 30, 0, 30],
            "duration": [10, 40, 50, 20, 35],
            "event": [True, False, False, True, True],
        }
    )
    return pd.concat([five] * 10, ignore_index=True)


def test_entry_bias_check_passes_the_hand_worked_gap_and_explains_slips(truncated_surv):
    expected = 0.4 - 2 / 9
    assert course.check_survival_entry_bias(expected, truncated_surv, "en").passed
    assert course.check_survival_entry_bias(0.178, truncated_surv, "en").passed  # from a table
    reversed_ = course.check_survival_entry_bias(-expected, truncated_surv, "en")
    assert not reversed_.passed and "reversed" in reversed_.message
    missing = course.check_survival_entry_bias(None, truncated_surv, "zh")
    assert (
        not missing.passed
        and "还没有作答" in missing.message
        and "entry_col=None" in missing.message
    )
    percent = course.check_survival_entry_bias(17.8, truncated_surv, "en")
    assert not percent.passed and "percentage points" in percent.message
    wrong = course.check_survival_entry_bias(0.05, truncated_surv, "en")
    assert not wrong.passed and "Hint" in wrong.message and "reversed" not in wrong.message


def test_entry_bias_check_skips_without_delayed_entry(truncated_surv):
    flat = truncated_surv.assign(entry=0.0)
    result = course.check_survival_entry_bias(None, flat, "en")
    assert result.passed and "Skipped" in result.message


# ----------------------------------------------------------------------------- exercise 2
def _km(durations, events, label):
    return KaplanMeierFitter(label=label).fit(durations, event_observed=events)


def test_s36_gap_check_reads_both_curves():
    # affluent: one of three leaves at 10 -> S(36) = 2/3; mass: three of four leave by 30
    # -> S(36) = 1/4. Gap = 2/3 - 1/4 = 5/12.
    km_tier = {
        "affluent": _km([10, 40, 50], [True, False, False], "affluent"),
        "mass": _km([10, 20, 30, 40], [True, True, True, False], "mass"),
    }
    assert course.check_survival_s36_gap(5 / 12, km_tier, "en").passed
    assert course.check_survival_s36_gap(0.667 - 0.250, km_tier, "en").passed
    reversed_ = course.check_survival_s36_gap(-5 / 12, km_tier, "zh")
    assert not reversed_.passed and "符号反了" in reversed_.message
    missing = course.check_survival_s36_gap(None, km_tier, "en")
    assert not missing.passed and "Not answered" in missing.message and "S(36)" in missing.message
    assert not course.check_survival_s36_gap(0.3, km_tier, "en").passed
    assert not course.check_survival_s36_gap("0.42", km_tier, "en").passed
    skipped = course.check_survival_s36_gap(None, {"mass": km_tier["mass"]}, "en")
    assert skipped.passed and "Skipped" in skipped.message


# ----------------------------------------------------------------------------- exercise 3
def test_soft_hard_aum_check_divides_run_off_by_closure():
    # hard: 100 + 300 = 400; soft: 500 + 700 + 1000 = 2200 -> 5.5 (customers: 3 / 2 = 1.5).
    final = pd.DataFrame(
        {
            "churn_type_label": pd.array(
                ["hard", "hard", "soft", "soft", "soft", "none"], dtype="string"
            ),
            "aum": [100.0, 300.0, 500.0, 700.0, 1000.0, 99999.0],
        }
    )
    assert course.check_survival_soft_hard_aum(5.5, final, "en").passed
    inverted = course.check_survival_soft_hard_aum(400 / 2200, final, "en")
    assert not inverted.passed and "inverted" in inverted.message
    by_count = course.check_survival_soft_hard_aum(1.5, final, "zh")
    assert not by_count.passed and "人数" in by_count.message
    missing = course.check_survival_soft_hard_aum(None, final, "en")
    assert not missing.passed and "churn_type_label" in missing.message
    assert not course.check_survival_soft_hard_aum(-5.5, final, "en").passed
    no_types = course.check_survival_soft_hard_aum(None, final.drop(columns="churn_type_label"))
    assert no_types.passed and "跳过" in no_types.message
    hard_only = final.assign(churn_type_label=["hard", "hard", "none", "none", "none", "none"])
    assert course.check_survival_soft_hard_aum(None, hard_only, "en").passed


# ----------------------------------------------------------------------------- exercise 4
def test_top_tier_risk_share_check_uses_aum_at_risk_not_headcount():
    # wealth 300 + private 200 = 500 of 1,000 at risk -> 0.5; by headcount 2 of 5 = 0.4.
    warning = pd.DataFrame(
        {
            "tier": pd.Categorical(["mass", "mass", "wealth", "private", "affluent"]),
            "aum_at_risk": [100.0, 100.0, 300.0, 200.0, 300.0],
        }
    )
    assert course.check_survival_top_tier_risk_share(0.5, warning, "en").passed
    headcount = course.check_survival_top_tier_risk_share(0.4, warning, "en")
    assert not headcount.passed and "share of customers" in headcount.message
    percent = course.check_survival_top_tier_risk_share(50, warning, "en")
    assert not percent.passed and "percentage" in percent.message
    missing = course.check_survival_top_tier_risk_share(None, warning, "zh")
    assert not missing.passed and "还没有作答" in missing.message and "wealth" in missing.message
    wrong = course.check_survival_top_tier_risk_share(0.3, warning, "en")
    assert not wrong.passed and "share of customers" not in wrong.message
    empty = course.check_survival_top_tier_risk_share(None, warning.iloc[0:0], "en")
    assert empty.passed and "Skipped" in empty.message


# ----------------------------------------------------------------------------- skipped steps
def test_checks_treat_a_skipped_step_like_a_missing_object():
    skipped = Skipped("surv_skip_flat")
    for check in (
        course.check_survival_entry_bias,
        course.check_survival_s36_gap,
        course.check_survival_soft_hard_aum,
        course.check_survival_top_tier_risk_share,
    ):
        result = check(None, skipped, "en")
        assert result.passed and "Skipped" in result.message, check.__name__
