"""Churn ranking model choice, leakage guard, data-driven defaults, strata (issue 13 §1, §4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from helpers import survival
from helpers.formatting import Skipped
from helpers.survival import ChurnCox, ChurnRanker, auc_interval


def _flat_frame(n: int = 1500, seed: int = 1, leak: bool = False) -> pd.DataFrame:
    """A flat churn table whose churn depends non-linearly on ``usage`` and on ``plan``."""
    rng = np.random.default_rng(seed)
    usage = rng.normal(size=n)
    plan = rng.choice(["monthly", "yearly", "two_year"], size=n, p=[0.5, 0.3, 0.2])
    calls = rng.poisson(2, size=n)
    logit = -1.0 + 1.5 * (usage**2 > 1) + 0.8 * (plan == "monthly") + 0.3 * calls
    event = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "duration": rng.integers(1, 60, size=n).astype(float),
            "event": event,
            "entry": 0.0,
            "usage": usage,
            "plan": plan,
            "calls": calls,
        }
    )
    if leak:
        frame["cancel_reason_code"] = np.where(event, 1.0, 0.0) + rng.normal(0, 0.01, n)
    return frame


@pytest.fixture(scope="module")
def fitted():
    frame = _flat_frame()
    with threadpool_limits(limits=1):
        cox = ChurnCox(["usage", "plan", "calls"], 0.01).fit(frame)
        ranker = ChurnRanker("flat", cox, 6, seed=3).fit(frame)
    return frame, ranker


@pytest.mark.slow
def test_ranker_compares_three_models_and_picks_the_best(fitted):
    _, ranker = fitted
    table = ranker.metrics_
    assert list(table["model"]) == ["logistic", "gradient_boosting", "cox"]
    assert table["chosen"].sum() == 1
    best = table.loc[table["auc"].idxmax(), "model"]
    assert ranker.chosen_ == best
    # the churn driver is non-linear (usage squared): boosting must see what linear models miss
    assert ranker.chosen_ == "gradient_boosting"
    assert (table["lower"] < table["auc"]).all() and (table["auc"] < table["upper"]).all()


@pytest.mark.slow
def test_ranker_scores_new_rows(fitted):
    frame, ranker = fitted
    scores = ranker.predict(frame.head(50))
    assert scores.shape == (50,) and np.all((scores >= 0) & (scores <= 1))


@pytest.mark.slow
def test_leakage_guard_flags_a_column_that_restates_the_label():
    frame = _flat_frame(leak=True)
    with threadpool_limits(limits=1):
        cox = ChurnCox(["usage", "calls"], 0.01).fit(frame)
        ranker = ChurnRanker("flat", cox, 6, seed=3, candidates=("logistic", "cox")).fit(frame)
    assert list(ranker.leaks_["feature"]) == ["cancel_reason_code"]
    keys = [note.key for note in survival.ranking_notes(ranker)]
    assert "surv_leak_feature" in keys and "surv_leak_model" in keys


@pytest.mark.slow
def test_no_leak_warning_on_honest_data(fitted):
    _, ranker = fitted
    keys = [note.key for note in survival.ranking_notes(ranker)]
    assert keys == ["surv_ranking_chosen"]


@pytest.mark.slow
def test_metric_records_have_the_artifact_columns(fitted):
    _, ranker = fitted
    records = survival.metric_records(ranker)
    assert len(records) == 3
    assert set(records[0]) == {
        "notebook", "target", "model", "chosen", "metric", "value", "lower", "upper", "n"
    }  # fmt: skip
    assert {r["target"] for r in records} == {"churn"}


def test_too_few_churners_is_a_skipped_step_not_a_crash():
    frame = _flat_frame(n=200)
    frame["event"] = False
    frame.loc[:3, "event"] = True
    cox = ChurnCox(["usage"], 0.1).fit(frame)
    plan = survival.split_plan([], None, 6)
    result = survival.choose_churn_ranker(frame, plan, cox)
    assert isinstance(result, Skipped)
    assert survival.metric_records(result) == []


def test_auc_interval_matches_hanley_mcneil_by_hand():
    # AUC 0.8, 50 churners, 50 stayers: Q1 = 0.8/1.2 = 0.6667, Q2 = 2*0.64/1.8 = 0.7111,
    # var = (0.16 + 49*(0.6667-0.64) + 49*(0.7111-0.64)) / 2500 = 4.951/2500, SE = 0.0445
    lower, upper = auc_interval(0.8, 50, 50)
    assert (upper - lower) / (2 * 1.96) == pytest.approx(0.0445, abs=0.0002)


# ----------------------------------------------------------------------------- defaults
def test_default_covariates_use_the_mapped_features_with_the_documented_rule():
    frame = _flat_frame(n=400)
    frame["region"] = [f"r{i % 40}" for i in range(len(frame))]  # 40 levels: high cardinality
    frame["held_phone"] = True
    frame["constant"] = 1
    chosen = survival.default_covariates(frame)
    assert chosen == ["usage", "plan", "calls"]


def test_rare_levels_are_pooled_into_other():
    frame = _flat_frame(n=1000)
    frame.loc[:4, "plan"] = "legacy"  # 5 rows: under 30 rows and 1%
    frame.loc[5:9, "plan"] = "promo"
    model = ChurnCox(["plan", "usage"], 0.01).fit(frame)
    assert "plan=(other)" in model.design_columns_
    assert not any("legacy" in c or "promo" in c for c in model.design_columns_)


def test_prediction_works_with_two_strata():
    """Issue 13: stratified on two columns, prediction crashed (shapes (n,) and (2,))."""
    frame = _flat_frame(n=800)
    frame["senior"] = np.arange(len(frame)) % 2 == 0
    model = ChurnCox(["usage", "calls"], 0.01, strata=["plan", "senior"]).fit(frame)
    probability = model.predict_churn_probability(frame, 6, "duration")
    assert probability.notna().all() and len(probability) == len(frame)
    assert len(model.baseline_cumulative_hazard_.columns) == 6


def test_stratification_always_keeps_a_covariate(monkeypatch):
    frame = _flat_frame(n=600)

    def every_covariate_fails(model, *args, **kwargs):
        return pd.DataFrame(
            {"covariate": model.design_columns_, "test_statistic": 99.0, "p_value": 1e-9,
             "fails": True}
        )  # fmt: skip

    monkeypatch.setattr(survival.steps, "check_proportional_hazards", every_covariate_fails)
    model, _, strata = survival.fit_with_ph_check(frame, ["usage", "calls"], 0.01)
    assert strata and model.covariates  # a hazard ratio is left to rank with
    concordance = survival.holdout_concordance(model, frame)
    assert concordance != 0.5


def test_segment_defaults_to_a_column_that_exists():
    frame = _flat_frame(n=300)
    frame["tier"] = "mass"
    assert survival.segment_column(frame, "") == "plan"
    assert survival.segment_column(frame, "calls") == "calls" or isinstance(
        survival.segment_column(frame, "calls"), Skipped
    )
    missing = survival.segment_column(frame, "payroll")
    assert isinstance(missing, Skipped) and "plan" in missing.text("en")
    assert isinstance(survival.segment_curves(frame, missing), Skipped)


def test_segment_prefers_payroll_then_features_then_tier():
    frame = _flat_frame(n=300).drop(columns=["plan", "calls"])
    frame["tier"] = np.where(np.arange(len(frame)) % 3 == 0, "wealth", "mass")
    assert survival.segment_column(frame, "") == "tier"
    frame["payroll"] = np.arange(len(frame)) % 2 == 0
    assert survival.segment_column(frame, "") == "payroll"


def test_the_chosen_ranker_is_fitted_on_a_capped_stratified_sample():
    frame = _flat_frame(n=1200, seed=4)
    with threadpool_limits(limits=1):
        capped = ChurnRanker("flat", None, 6, seed=3, candidates=("logistic",), fit_cap=400)
        capped.fit(frame)
        whole = ChurnRanker("flat", None, 6, seed=3, candidates=("logistic",)).fit(frame)
    assert capped.fitted_rows_ == 400 and whole.fitted_rows_ == 1200
    keys = [note.key for note in survival.ranking_notes(capped)]
    assert "surv_ranking_fit_sample" in keys
    assert "surv_ranking_fit_sample" not in [n.key for n in survival.ranking_notes(whole)]


def test_a_refit_without_cross_validation_fits_only_its_one_candidate():
    frame = _flat_frame(n=800, seed=5)
    with threadpool_limits(limits=1):
        again = ChurnRanker(
            "flat", None, 6, seed=3, candidates=("logistic",), cross_validate=False
        ).fit(frame)
    assert again.chosen_ == "logistic" and again.metrics_.empty and again.leaks_.empty
    assert again.predict(frame.head(5)).shape == (5,)
    with pytest.raises(ValueError, match="exactly one candidate"):
        ChurnRanker("flat", None, 6, cross_validate=False)
