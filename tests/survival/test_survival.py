"""Unit tests for helpers.survival, survival_cox, lifecycle and clv on hand-made frames.

Expected values are worked out by hand in the comments (product-limit, log-rank O - E,
CLV sums), or come from a simulation whose truth is known exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_rossi
from lifelines.statistics import multivariate_logrank_test, proportional_hazard_test
from lifelines.utils import restricted_mean_survival_time

from helpers import survival
from helpers.survival import (
    ChurnCox,
    check_proportional_hazards,
    choose_penalizer,
    drained_in_words,
    drivers_in_words,
    early_warning_list,
    hazard_ratios_in_words,
    holdout_concordance,
    ph_remedy_strata,
)
from helpers.survival import clv as clv
from helpers.survival import lifecycle as lifecycle


# ----------------------------------------------------------------------------- fixtures
def simulate_left_truncated(
    n: int = 30000, seed: int = 7, betas=(-0.7, 0.4), window: int = 24, max_open: int = 120
):
    """Customers opened 0..max_open months before a window, monthly cloglog churn hazard.

    Only customers still there when the window opens are kept (real left truncation).
    Returns (frame, true cumulative baseline hazard at the covariate means function).
    """
    rng = np.random.default_rng(seed)
    opened_before = rng.integers(0, max_open + 1, n)
    x1 = rng.binomial(1, 0.4, n)
    x2 = rng.normal(size=n)
    end = opened_before + window
    churn_month = np.full(n, np.inf)
    alive = np.ones(n, bool)
    for month in range(1, int(end.max()) + 1):
        hazard = 1 - np.exp(-np.exp(-4.0 - 0.01 * month + betas[0] * x1 + betas[1] * x2))
        leaving = alive & (rng.random(n) < hazard) & (month <= end)
        churn_month[leaving] = month
        alive &= ~leaving
    kept = churn_month > opened_before
    frame = pd.DataFrame(
        {
            "customer_id": [f"{i:06d}" for i in range(kept.sum())],
            "entry": opened_before[kept].astype(float),
            "duration": np.minimum(churn_month[kept], end[kept]).astype(float),
            "event": churn_month[kept] <= end[kept],
            "x1": x1[kept],
            "x2": x2[kept],
        }
    )

    def true_cumulative(tenure, mean_x1, mean_x2):
        months = np.arange(1, int(max(tenure)) + 1)
        rate = np.exp(-4.0 - 0.01 * months + betas[0] * mean_x1 + betas[1] * mean_x2)
        cumulative = np.concatenate([[0.0], np.cumsum(rate)])
        return cumulative[np.asarray(tenure, int)]

    return frame, true_cumulative


@pytest.fixture(scope="module")
def truncated():
    return simulate_left_truncated()


@pytest.fixture(scope="module")
def rossi():
    data = load_rossi().rename(columns={"week": "duration", "arrest": "event"})
    data["entry"] = 0.0
    data["customer_id"] = data.index.astype(str)
    return data


# ----------------------------------------------------------------------------- Kaplan-Meier
def test_kaplan_meier_matches_hand_computed_product_limit():
    frame = pd.DataFrame(
        {"duration": [2, 3, 3, 5, 6, 8], "event": [1, 1, 0, 1, 0, 1], "entry": 0.0}
    )
    fitter = survival.fit_kaplan_meier(frame, min_size=1)["all"]
    # t=2: 6 at risk, 1 event -> 5/6; t=3: 5 at risk, 1 event (1 censored) -> 5/6 * 4/5;
    # t=5: 3 at risk -> * 2/3; t=8: 1 at risk, 1 event -> 0.
    expected = [5 / 6, 5 / 6 * 4 / 5, 5 / 6 * 4 / 5 * 2 / 3, 0.0]
    np.testing.assert_allclose(survival.survival_at(fitter, [2, 3, 5, 8]), expected)
    np.testing.assert_allclose(survival.survival_at(fitter, [1, 4, 7]), [1, 4 / 6, 4 / 9])


def test_kaplan_meier_with_delayed_entry_uses_entry_in_risk_sets():
    frame = pd.DataFrame(
        {"duration": [3, 5, 6, 4], "event": [1, 1, 1, 0], "entry": [0.0, 2.0, 4.0, 0.0]}
    )
    fitter = survival.fit_kaplan_meier(frame, min_size=1)["all"]
    # t=3: at risk = customers 1, 2 (entered at 2), 4 -> 3; 1 event -> 2/3.
    # t=5: at risk = customers 2 and 3 (entered at 4) -> 2; 1 event -> 2/3 * 1/2.
    # t=6: customer 3 alone -> 0.
    np.testing.assert_allclose(survival.survival_at(fitter, [3, 5, 6]), [2 / 3, 1 / 3, 0.0])


def test_km_summary_reports_not_reached_when_curve_stays_above_half():
    frame = pd.DataFrame(
        {"duration": [5, 10, 10, 10], "event": [1, 0, 0, 0], "entry": 0.0, "tier": "mass"}
    )
    table = survival.km_summary(
        survival.fit_kaplan_meier(frame, group="tier", min_size=1), times=[6]
    )
    assert table.loc[0, "surv_median_months"] == "未达到"
    assert table.loc[0, "surv_events"] == 1 and table.loc[0, "surv_customers"] == 4
    assert table.loc[0, "S(6)"] == pytest.approx(0.75)


def test_km_entry_bias_shows_naive_curve_overstating_survival(truncated):
    frame, _ = truncated
    table = survival.km_entry_bias(frame, times=[12, 60])
    assert (table["surv_difference"] > 0.1).all()


# ----------------------------------------------------------------------------- log-rank
def test_logrank_without_entry_equals_lifelines(rossi):
    groups = rossi.assign(segment=rossi["prio"].clip(0, 3))
    ours = survival.logrank_test(groups, "segment")
    theirs = multivariate_logrank_test(groups["duration"], groups["segment"], groups["event"])
    assert ours.test_statistic == pytest.approx(theirs.test_statistic)
    # The delayed-entry code path with negligible entries gives the same statistic.
    shifted = survival.logrank_test(groups.assign(entry=1e-9), "segment")
    assert shifted.test_statistic == pytest.approx(theirs.test_statistic, rel=1e-9)


def test_logrank_with_delayed_entry_matches_hand_computation():
    frame = pd.DataFrame(
        {
            "segment": ["A", "A", "B", "B"],
            "entry": [0.0, 1.0, 0.0, 2.0],
            "duration": [2.0, 4.0, 3.0, 5.0],
            "event": [True, True, True, False],
        }
    )
    result = survival.logrank_test(frame, "segment")
    # Risk sets entry < t <= duration. t=2: A 2, B 1 (B2 enters at 2, not yet at risk);
    # A event: E_A = 2/3, V = 1*(3-1)/(3-1) * 2/3 * 1/3 = 2/9. t=3: A 1, B 2; B event:
    # E_A = 1/3, V = 2/9. t=4: A 1, B 1; A event: E_A = 1/2, V = 1/4.
    # O_A - E_A = 2 - 1.5 = 0.5; chi2 = 0.25 / (2/9 + 2/9 + 1/4).
    assert result.test_statistic == pytest.approx(0.25 / (4 / 9 + 1 / 4))
    assert result.degrees_of_freedom == 1


def test_logrank_in_words_says_whether_segments_differ(rossi):
    groups = rossi.assign(segment=rossi["prio"].clip(0, 3))
    result = survival.logrank_test(groups, "segment")
    assert "differs" in survival.logrank_in_words(result, "prior arrests", "en")
    same = survival.logrank_test(rossi.assign(segment=rossi.index % 2), "segment")
    assert "no significant difference" in survival.logrank_in_words(same, "half", "en")


# ----------------------------------------------------------------------------- Cox
def test_cox_reproduces_lifelines_coefficients_on_rossi(rossi):
    covariates = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    model = ChurnCox(covariates).fit(rossi)
    assert model.cox_.params_["fin"] == pytest.approx(-0.3794, abs=5e-5)
    assert model.cox_.params_["age"] == pytest.approx(-0.0574, abs=5e-5)
    assert model.cox_.params_["prio"] == pytest.approx(0.0915, abs=5e-5)
    reference = CoxPHFitter().fit(rossi[[*covariates, "duration", "event"]], "duration", "event")
    pd.testing.assert_series_equal(model.cox_.params_, reference.params_, check_names=False)
    # Without delayed entry our Breslow baseline is lifelines' own.
    np.testing.assert_allclose(
        model.baseline_cumulative_hazard_["baseline"].to_numpy(),
        reference.baseline_cumulative_hazard_.iloc[:, 0].to_numpy(),
    )
    # ... and so are conditional churn probabilities.
    sample = rossi.head(20).assign(now=10.0)
    ours = model.predict_churn_probability(sample, horizon=6, current_col="now")
    theirs = (
        1
        - reference.predict_survival_function(
            sample[covariates], times=[6.0], conditional_after=sample["now"]
        ).iloc[0]
    )
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-6)


def test_cox_with_entry_recovers_truth_and_our_baseline_fixes_lifelines(truncated):
    frame, true_cumulative = truncated
    model = ChurnCox(["x1", "x2"]).fit(frame)
    summary = model.cox_.summary
    # Grouped monthly data with Efron ties: allow 4 standard errors around the truth.
    for covariate, truth in {"x1": -0.7, "x2": 0.4}.items():
        assert abs(summary.loc[covariate, "coef"] - truth) < 4 * summary.loc[covariate, "se(coef)"]
    naive = ChurnCox(["x1", "x2"]).fit(frame, entry_col=None)
    assert abs(naive.cox_.params_["x1"] - -0.7) > abs(model.cox_.params_["x1"] - -0.7)
    times = np.array([12.0, 36.0, 60.0])
    truth = true_cumulative(times, *model.cox_._norm_mean[["x1", "x2"]])
    ours = model.cumulative_baseline_at(times)
    # Few customers opened inside the window, so early risk sets are small: 15% at most.
    np.testing.assert_allclose(ours, truth, rtol=0.15)
    lifelines_own = model.cox_.baseline_cumulative_hazard_.iloc[:, 0].reindex(times).to_numpy()
    assert (lifelines_own < 0.3 * truth).all()  # the bug our baseline works around


def test_cox_design_log_money_trend_clip_and_one_hot():
    frame = pd.DataFrame(
        {
            "aum": [0.0, np.e - 1, 10.0],
            "aum_trend_3m": [-5.0, 0.5, 9.0],
            "payroll": [True, False, True],
            "channel": ["branch", "mobile", "branch"],
        }
    )
    model = ChurnCox(["aum", "aum_trend_3m", "payroll", "channel"])
    model._learn_design(frame)
    design = model.design(frame)
    np.testing.assert_allclose(design["log_aum"], [0.0, 1.0, np.log(11.0)])
    np.testing.assert_allclose(design["aum_trend_3m"], [-1.0, 0.5, 2.0])
    np.testing.assert_allclose(design["payroll"], [1, 0, 1])
    assert list(design.columns) == ["log_aum", "aum_trend_3m", "payroll", "channel=mobile"]


def test_cox_errors_name_the_column_and_rows():
    frame = pd.DataFrame(
        {"duration": [3.0, 4.0], "event": [True, False], "entry": 0.0, "age": [30, None]}
    )
    with pytest.raises(ValueError, match=r"'age' has 1 missing.*rows \[1\]"):
        ChurnCox(["age"]).fit(frame)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['income'\]"):
        ChurnCox(["income"]).fit(frame)
    bad = frame.assign(duration=[3.0, -1.0], age=[30, 40])
    with pytest.raises(ValueError, match=r"'duration' must be a positive.*rows \[1\]"):
        ChurnCox(["age"]).fit(bad)
    with pytest.raises(ValueError, match="no churn events"):
        ChurnCox(["age"]).fit(frame.assign(event=False, age=[30, 40]))


def test_prepare_frame_caps_follow_up_for_a_time_split():
    abt = pd.DataFrame(
        {
            "customer_id": ["1", "2", "3"],
            "tenure_months": [10, 20, 30],
            "duration": [12, 29, 40],
            "event": [True, True, False],
        }
    )
    frame = survival.prepare_frame(abt, followup_months=6)
    assert frame["entry"].tolist() == [10, 20, 30]
    assert frame["duration"].tolist() == [12, 26, 36]  # customer 2 churned after the cap
    assert frame["event"].tolist() == [True, False, False]
    with pytest.raises(ValueError, match="missing column"):
        survival.prepare_frame(abt.drop(columns="event"))


@pytest.mark.slow  # model recovery / equivalence: full suite only (make test-fast < 1 min)
def test_penalizer_choice_and_concordance(truncated):
    frame, _ = truncated
    best, table = choose_penalizer(frame, ["x1", "x2"], grid=(0.0, 5.0), folds=3, seed=1)
    assert best == 0.0  # a heavy penalty shrinks true effects and fits held-out data worse
    assert table["mean_log_likelihood"].iloc[0] > table["mean_log_likelihood"].iloc[1]
    model = ChurnCox(["x1", "x2"]).fit(frame)
    assert 0.55 < holdout_concordance(model, frame) < 0.8


@pytest.mark.slow  # model recovery / equivalence: full suite only (make test-fast < 1 min)
def test_ph_check_flags_time_varying_effect_and_stratifying_remedies_it():
    rng = np.random.default_rng(3)
    n = 3000
    x = rng.binomial(1, 0.5, n)
    noise = rng.normal(size=n)
    # x triples the hazard in the first 10 months and divides it by 3 afterwards.
    early = rng.exponential(1 / np.where(x == 1, 0.06, 0.02))
    late = 10 + rng.exponential(1 / np.where(x == 1, 0.01, 0.03))
    duration = np.where(early < 10, early, late)
    frame = pd.DataFrame(
        {
            "duration": np.minimum(duration, 40) + 0.01,
            "event": duration < 40,
            "entry": 0.0,
            "x": x,
            "noise": noise,
        }
    )
    model = ChurnCox(["x", "noise"]).fit(frame)
    table = check_proportional_hazards(model, frame, sample_cap=3000, seed=0)
    assert table.set_index("covariate").loc["x", "fails"]
    assert not table.set_index("covariate").loc["noise", "fails"]
    strata = ph_remedy_strata(table, model)
    assert strata == ["x"]
    stratified = ChurnCox(["noise"], strata=strata).fit(frame)
    assert list(stratified.baseline_cumulative_hazard_.columns) == ["0", "1"]
    probability = stratified.predict_churn_probability(frame.assign(now=5.0).head(50), 6, "now")
    assert probability.between(0, 1).all()


def test_hazard_ratio_words_name_raising_and_lowering_factors(truncated):
    frame, _ = truncated
    model = ChurnCox(["x1", "x2"]).fit(frame)
    words = hazard_ratios_in_words(model.hazard_ratios("en"), "en")
    assert "speed up churn: x2" in words and "slow churn: x1" in words


def test_drivers_in_words_pick_the_largest_positive_contribution(truncated):
    frame, _ = truncated
    model = ChurnCox(["x1", "x2"]).fit(frame)
    customers = pd.DataFrame({"x1": [0, 1], "x2": [3.0, -2.0]})
    words = drivers_in_words(model, customers, top=2, lang="en")
    # Customer 0: x2 far above average (beta > 0) dominates, then x1 = 0, a 0/1 factor read
    # as "no" (beta < 0 so not having it raises risk). Customer 1 has no positive contribution.
    assert words.iloc[0].startswith("x2 above average")
    assert "x1 no ×" in words.iloc[0]
    assert words.iloc[1] == ""


# ----------------------------------------------------------------------------- early warning
def test_early_warning_list_caps_per_rm_and_ranks():
    scored = pd.DataFrame(
        {
            "customer_id": list("abcdef"),
            "rm_id": ["r1", "r1", "r1", "r2", None, None],
            "p": [0.9, 0.8, 0.7, 0.5, 0.95, 0.1],
        }
    )
    listed = early_warning_list(scored, "p", rm_capacity=2)
    assert listed["customer_id"].tolist() == ["e", "a", "b", "d", "f"]
    assert listed["rank"].tolist() == [1, 2, 3, 4, 5]
    assert early_warning_list(scored, "p", rm_capacity=2, min_probability=0.6)[
        "customer_id"
    ].tolist() == ["e", "a", "b"]
    no_rm = early_warning_list(scored.drop(columns="rm_id"), "p", rm_capacity=3)
    assert no_rm["customer_id"].tolist() == ["e", "a", "b"]
    with pytest.raises(ValueError, match="rm_capacity"):
        early_warning_list(scored, "p", rm_capacity=0)


def test_early_warning_list_leaves_drained_customers_off_and_counts_them():
    # a and b are the riskiest but hold tens of RMB: already drained, nothing left to save.
    # c (exactly at the floor) stays; e has unknown AUM and stays; the rest rank by p.
    scored = pd.DataFrame(
        {
            "customer_id": list("abcdef"),
            "rm_id": ["r1", "r1", "r1", "r1", "r2", "r2"],
            "p": [0.95, 0.9, 0.6, 0.5, 0.4, 0.3],
            "aum": [46.74, 12.0, 1000.0, 250000.0, np.nan, 999.99],
        }
    )
    listed = early_warning_list(scored, "p", rm_capacity=2, min_aum=1000)
    # r1 keeps its two riskiest of c, d (a, b dropped first, so they free r1's slots);
    # r2 keeps e only, because f (999.99) is below the floor.
    assert listed["customer_id"].tolist() == ["c", "d", "e"]
    assert listed["rank"].tolist() == [1, 2, 3]
    assert listed["p"].is_monotonic_decreasing
    # Without the floor the drained customers take r1's two slots.
    assert early_warning_list(scored, "p", rm_capacity=2)["customer_id"].tolist() == [
        "a",
        "b",
        "e",
        "f",
    ]
    # Three customers below 1,000 RMB: 46.74 + 12 + 999.99 = 1,058.73 -> "1,059".
    words = drained_in_words(scored, 1000, "en")
    assert words.startswith("3 customers with AUM below ¥1,000 are left off")
    assert "¥1,059 in all" in words
    assert "3 位客户" in drained_in_words(scored, 1000, "zh")
    assert "No customer" in drained_in_words(scored, 10, "en")
    assert "no AUM floor" in drained_in_words(scored, 0, "en")
    with pytest.raises(ValueError, match="aum"):
        early_warning_list(scored.drop(columns="aum"), "p", min_aum=1000)
    # No floor: no AUM column needed.
    assert len(early_warning_list(scored.drop(columns="aum"), "p", rm_capacity=9)) == 6


# ----------------------------------------------------------------------------- calibration
def test_calibration_table_and_brier_score_by_hand():
    probability = pd.Series([0.1, 0.2, 0.3, 0.4])
    observed = pd.Series([False, False, True, pd.NA], dtype="boolean")
    table = survival.calibration_table(probability, observed, bins=3)
    assert table["customers"].tolist() == [1, 1, 1]
    assert table["observed"].tolist() == [0.0, 0.0, 1.0]
    # (0.1^2 + 0.2^2 + 0.7^2) / 3 = 0.18
    assert survival.brier_score([0.1, 0.2, 0.3], [0, 0, 1]) == pytest.approx(0.18)


# ----------------------------------------------------------------------------- competing risks
def test_aalen_johansen_cumulative_incidence_by_hand():
    frame = pd.DataFrame(
        {
            "duration": [1.0, 2.0, 3.0, 4.0],
            "event": [True, True, False, True],
            "event_type": ["hard", "soft", "none", "hard"],
            "entry": 0.0,
        }
    )
    fitters = survival.fit_cumulative_incidence(frame, group=None, min_size=1)
    table = survival.cumulative_incidence_table(fitters, times=[1, 4])
    # t=1: 1 hard of 4 -> CIF_hard 1/4, S = 3/4. t=2: 1 soft of 3 -> CIF_soft = 3/4 * 1/3.
    # t=3 censored. t=4: 1 hard of 1 -> CIF_hard += S(3) = 1/2 -> 3/4.
    assert table.loc[0, "hard_1m"] == pytest.approx(0.25)
    assert table.loc[0, "hard_4m"] == pytest.approx(0.75)
    assert table.loc[0, "soft_4m"] == pytest.approx(0.25)
    words = survival.competing_risks_in_words(table, 4, "en")
    assert "mostly closure" in words


# ----------------------------------------------------------------------------- lifecycle
def test_lifecycle_stage_rule_order():
    abt = pd.DataFrame(
        {
            "aum": [500.0, 50000, 50000, 50000, 50000, 50000],
            "tenure_months": [60, 6, 60, 60, 60, 60],
            "aum_trend_6m": [0.0, -0.5, -0.3, 0.2, 0.05, 0.0],
            "txn_count_3m": [5, 5, 5, 5, 5, 0],
        }
    )
    stages = lifecycle.lifecycle_stage(abt)
    assert stages.astype(str).tolist() == [
        "dormant",  # AUM under the floor, whatever else
        "new",  # tenure < 12, even though AUM fell
        "declining",
        "growing",
        "mature",
        "dormant",  # no transactions in 3 months
    ]
    sizes = lifecycle.stage_sizes(stages)
    assert sizes.set_index("surv_stage").loc["dormant", "customers"] == 2
    assert sizes["share"].sum() == pytest.approx(1.0)


def test_stage_transitions_count_opened_and_exited():
    previous = pd.DataFrame({"customer_id": ["1", "2", "3"], "stage": ["new", "mature", "mature"]})
    current = pd.DataFrame({"customer_id": ["1", "2", "4"], "stage": ["growing", "mature", "new"]})
    table = lifecycle.stage_transitions(previous, current)
    assert table.loc["new", "growing"] == 1
    assert table.loc["mature", "mature"] == 1
    assert table.loc["mature", "exited"] == 1
    assert table.loc["opened", "new"] == 1
    assert table.to_numpy().sum() == 4
    shares = lifecycle.stage_transitions(previous, current, normalize=True)
    assert shares.loc["mature", "exited"] == pytest.approx(0.5)


# ----------------------------------------------------------------------------- CLV
def test_clv_of_a_hand_made_customer():
    survival_curve = np.array([[1.0, 0.9, 0.8, 0.7]])  # S(0..3), horizon 3 months
    value, months = clv.discounted_value(survival_curve, [100.0], annual_discount_rate=0.0)
    # Margin earned at the start of months 1..3 while still there: 100 * (1 + 0.9 + 0.8).
    assert value[0] == pytest.approx(270.0)
    assert months[0] == pytest.approx(2.7)
    value, _ = clv.discounted_value(survival_curve, [100.0], annual_discount_rate=0.12)
    # 100 * (1 * 1.12^(-1/12) + 0.9 * 1.12^(-2/12) + 0.8 * 1.12^(-3/12))
    # = 100 * (0.990600 + 0.9 * 0.981289 + 0.8 * 0.972065) = 265.1413
    assert value[0] == pytest.approx(265.1413, abs=1e-3)
    # expected_months is the restricted mean survival time of the step curve: a KM curve
    # with S = 1, 0.9, 0.8, 0.7 at months 0..3 (10 customers, one churn at each of 1, 2, 3).
    step = KaplanMeierFitter().fit([1, 2, 3] + [5] * 7, [1, 1, 1] + [0] * 7)
    np.testing.assert_allclose(survival.survival_at(step, [1, 2, 3]), [0.9, 0.8, 0.7])
    assert months[0] == pytest.approx(restricted_mean_survival_time(step, t=3))


def test_monthly_margin_by_hand():
    abt = pd.DataFrame(
        {"demand_deposit": [12000.0], "time_deposit": [12000.0], "card_spend_3m": [3000.0]}
    )
    # 12000 * 0.018 / 12 + 12000 * 0.008 / 12 + 3000 / 3 * 0.006 = 18 + 8 + 6
    assert clv.monthly_margin(abt).iloc[0] == pytest.approx(32.0)
    flat = pd.DataFrame({"aum": [12000.0]})
    assert clv.monthly_margin(flat, flat_margin_rate=0.012).iloc[0] == pytest.approx(12.0)
    with pytest.raises(ValueError, match="no balance columns"):
        clv.monthly_margin(pd.DataFrame({"x": [1]}))


def test_clv_frame_columns_and_consistency(truncated):
    frame, _ = truncated
    model = ChurnCox(["x1", "x2"]).fit(frame)
    scoring = frame.head(100).assign(tenure_months=frame["entry"].head(100), aum=100000.0)
    table = clv.clv_frame(model, scoring, horizon=24, churn_horizon=6)
    assert list(table.columns) == clv.CLV_COLUMNS
    assert table["expected_months"].between(0, 24).all()
    direct = model.predict_churn_probability(scoring, 6)
    np.testing.assert_allclose(table["p_churn_h"], direct.to_numpy())
    # Riskier customers are worth less at the same margin.
    assert np.corrcoef(table["p_churn_h"], table["clv"])[0, 1] < -0.9


def test_survival_labels_have_both_languages():
    import yaml

    from helpers.paths import LOCALES_DIR

    with open(LOCALES_DIR / "survival.yaml", encoding="utf-8") as handle:
        labels = yaml.safe_load(handle)
    broken = [
        key
        for key, texts in labels.items()
        if not (key.startswith("surv_") or key in {"churn_rate", "aum_at_risk", "median_tenure"})
        or not isinstance(texts, dict)
        or set(texts) != {"zh", "en"}
        or not all(isinstance(text, str) and text for text in texts.values())
    ]
    assert broken == []


def test_schoenfeld_test_on_delayed_entry_agrees_with_lifelines_without_entry():
    """With every entry at 0 and no tied times, the PH test is lifelines' rank test exactly."""
    rossi = load_rossi()
    rossi["week"] = rossi["week"] + np.random.default_rng(0).random(len(rossi)) * 0.5
    fitted = CoxPHFitter().fit(rossi, "week", "arrest")
    reference = proportional_hazard_test(fitted, rossi, time_transform="rank").summary
    reference.index = [name[0] if isinstance(name, tuple) else name for name in reference.index]
    ours = survival.schoenfeld_test(
        rossi.drop(columns=["week", "arrest"]), rossi["week"].to_numpy(),
        rossi["arrest"].to_numpy(), None, fitted.params_, fitted.variance_matrix_,
    ).set_index("covariate")  # fmt: skip
    np.testing.assert_allclose(
        ours["test_statistic"], reference.loc[ours.index, "test_statistic"], rtol=1e-6
    )
    # age breaks proportional hazards in the rossi data (a known result)
    assert ours.loc["age", "p_value"] < 0.01 and ours.loc["fin", "p_value"] > 0.5


def _warning_list_by_copies(scored, probability_col, rm_capacity=20, max_customers=None,
                            min_probability=0.0, min_aum=0.0, aum_col="aum", rank_by=None):  # fmt: skip
    """The early-warning list as first written (filter and sort the whole frame): the oracle."""
    data = scored[scored[probability_col] >= min_probability]
    if min_aum > 0:
        aum = pd.to_numeric(data[aum_col], errors="coerce")
        data = data[~(aum < min_aum).fillna(False).astype(bool)]
    order = rank_by or probability_col
    data = data.sort_values([order, probability_col, "customer_id"], ascending=[False, False, True])
    if "rm_id" in data.columns:
        pool = data["rm_id"].astype("string").fillna("unassigned")
        data = data[data.groupby(pool.to_numpy()).cumcount() < rm_capacity]
    else:
        data = data.head(rm_capacity)
    if max_customers is not None:
        data = data.head(max_customers)
    data = data.reset_index(drop=True)
    data.insert(0, "rank", np.arange(1, len(data) + 1))
    return data


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"min_probability": 0.3, "max_customers": 40},
        {"min_aum": 5000.0, "rank_by": "aum_at_risk", "rm_capacity": 3},
        {"rm_capacity": 4, "drop_rm": True},
    ],
)
def test_early_warning_list_equals_the_whole_frame_version(options):
    rng = np.random.default_rng(11)
    n = 600
    scored = pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in rng.permutation(n)],
            "rm_id": rng.choice(["r1", "r2", "r3", None], size=n),
            "p": rng.choice([0.1, 0.2, 0.5, 0.9], size=n),  # ties broken by the id
            "aum": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0, 20000, n)),
            "tier": rng.choice(["mass", "affluent"], size=n),
        },
        index=rng.permutation(n) + 1000,  # an index that is neither sorted nor positional
    )
    scored["aum_at_risk"] = scored["p"] * scored["aum"]
    options = dict(options)
    if options.pop("drop_rm", False):
        scored = scored.drop(columns="rm_id")
    expected = _warning_list_by_copies(scored, "p", **options)
    pd.testing.assert_frame_equal(early_warning_list(scored, "p", **options), expected)
