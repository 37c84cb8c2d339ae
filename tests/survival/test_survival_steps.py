"""The notebook steps of helpers.survival (02_lifecycle_survival) on hand-made inputs.

Each step returns a table, a figure, remarks or a ``Skipped`` reason; these tests pin the
flat-mode and no-churn-type skips, the pass-through of a skipped step, the pack's tier ladder,
and the KPI records the monthly summary reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import survival
from helpers.config import ChurnDefinition
from helpers.data import Dataset
from helpers.formatting import Bullets, Note, Skipped

FLAT = Skipped("surv_skip_flat")
FLAT_PLAN = survival.split_plan([], None, 6)
MONTHS = [f"2025-{m:02d}" for m in range(1, 13)] + [f"2026-{m:02d}" for m in range(1, 11)]
PANEL_PLAN = survival.split_plan(MONTHS, "2026-10", 6)


@pytest.fixture(scope="module")
def fitted():
    """A Cox model on a simulated frame where x raises churn (hazard ratio e^0.7)."""
    rng = np.random.default_rng(11)
    n = 2000
    x = rng.binomial(1, 0.5, n)
    duration = rng.exponential(1 / (0.02 * np.exp(0.7 * x)))
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "entry": 0.0,
            "duration": np.minimum(duration, 60) + 0.01,
            "event": duration < 60,
            "x": x,
            "aum": rng.lognormal(10, 1, n),
            "tier": "mass",
            "tenure_months": rng.integers(1, 60, n),
        }
    )
    return frame, survival.ChurnCox(["x"]).fit(frame)


# ----------------------------------------------------------------------------- the plan
def test_plan_knows_its_tenure_column_and_the_flat_mode_note():
    assert FLAT_PLAN.mode == "flat" and FLAT_PLAN.tenure_col == "duration"
    assert PANEL_PLAN.mode == "time" and PANEL_PLAN.tenure_col == "tenure_months"
    assert survival.plan_notes(FLAT_PLAN) == [FLAT]
    assert survival.plan_notes(PANEL_PLAN) == []
    assert "没有月度历史" in FLAT.text("zh") and "no monthly history" in FLAT.text("en")


def test_plan_for_a_dataset_uses_its_months_or_none_in_flat_mode():
    flat = Dataset.from_frames({"flat": pd.DataFrame({"customer_id": ["a"]})}, mode="flat")
    assert survival.data_months(flat) == []
    assert survival.plan_for(flat, None, 6).mode == "flat"


def test_horizon_error_names_the_parameter():
    with pytest.raises(ValueError, match="churn_horizon_months"):
        survival.split_plan(MONTHS, "2025-03", 6)


def test_run_table_adds_churn_definition_and_validation():
    described = pd.DataFrame({"item": ["Dataset"], "value": ["x"]})
    table = survival.run_table(described, ChurnDefinition(kind="hard"), PANEL_PLAN, "en")
    assert table["item"].tolist() == ["Dataset", "Churn definition", "Model validation"]
    assert table["value"].iloc[1] == "hard" and "time split" in table["value"].iloc[2]


# ----------------------------------------------------------------------------- tier ladder
def test_competing_risks_need_churn_types():
    frame = pd.DataFrame({"entry": 0.0, "duration": [1.0, 2.0], "event": [True, False]})
    cif = survival.competing_incidence(frame)
    assert cif == Skipped("surv_no_event_type")
    assert "竞争风险分析已跳过" in cif.text("zh")
    assert survival.plot_cumulative_incidence(cif, "en") == cif
    assert survival.competing_risks_bullets(cif, 60, "en") == cif
    typed = frame.assign(event_type=pd.array([pd.NA, pd.NA], dtype="string"))
    assert survival.competing_incidence(typed) == cif


def test_competing_risks_bullets_one_sentence_per_tier():
    rng = np.random.default_rng(5)
    n = 400
    frame = pd.DataFrame(
        {
            "entry": 0.0,
            "duration": rng.integers(1, 80, n).astype(float),
            "event": rng.random(n) < 0.5,
            "event_type": rng.choice(["hard", "soft"], n),
            "tier": rng.choice(["mass", "wealth"], n),
        }
    )
    bullets = survival.competing_risks_bullets(survival.competing_incidence(frame), 60, "en")
    assert isinstance(bullets, Bullets) and len(bullets.items) == 2
    assert bullets.items[0].startswith("Mass") and bullets.items[1].startswith("Wealth")


# ----------------------------------------------------------------------------- remarks
def test_remarks_are_notes_with_the_same_words_as_before(fitted):
    frame, model = fitted
    result = survival.logrank_test(frame, "x")
    notes = survival.logrank_notes(result, "X")
    assert [n.key for n in notes] == ["surv_logrank_differ"]
    assert notes[0].text("en") == survival.logrank_in_words(result, "X", "en")
    ok = survival.ph_notes([], 5000, 0.01, "en")
    assert [n.key for n in ok] == ["surv_ph_ok"] and "5,000" in ok[0].text("en")
    remedy = survival.ph_notes(["payroll"], 100, 0.01, "en")
    assert "Payroll customer" in remedy[0].text("en")
    scored = pd.DataFrame({"aum": [10.0, 20.0, 5000.0]})
    drained = survival.drained_notes(scored, 1000.0)
    assert drained[0].key == "surv_drained_left_off"
    assert drained[0].text("zh") == survival.drained_in_words(scored, 1000.0, "zh")
    assert survival.drained_notes(scored, 0)[0].key == "surv_drained_no_floor"
    assert survival.drained_notes(scored, 1.0)[0].key == "surv_drained_none"
    bullets = survival.hazard_ratio_bullets(model.hazard_ratios("en"), "en")
    assert " ".join(bullets.items) == survival.hazard_ratios_in_words(
        model.hazard_ratios("en"), "en"
    )


def test_brier_on_the_holdout_by_hand(fitted):
    _, model = fitted
    holdout = pd.DataFrame({"churn_label": pd.array([True, False, None, False], "boolean")})
    probability = pd.Series([0.5, 0.25, 0.9, 0.0])
    # Known rows: (0.5 - 1)^2 + 0.25^2 + 0^2 = 0.3125 over 3. Base: mean 1/3 for everyone:
    # (2/3)^2 + 2 (1/3)^2 = 6/9 over 3 = 2/9.
    brier = survival.holdout_brier(probability, holdout)
    assert brier == pytest.approx(0.3125 / 3)
    (note,) = survival.brier_notes(brier, holdout)
    assert isinstance(note, Note) and note.values["base"] == pytest.approx(2 / 9)


# ----------------------------------------------------------------------------- model steps
@pytest.mark.slow  # model recovery / equivalence: full suite only (make test-fast < 1 min)
def test_ph_check_step_stratifies_only_when_the_check_fails(fitted):
    frame, _ = fitted
    rng = np.random.default_rng(2)
    frame = frame.assign(noise=rng.normal(size=len(frame)), other=rng.normal(size=len(frame)))
    covariates = ["x", "noise", "other"]
    model, ph, strata = survival.fit_with_ph_check(frame, covariates, 0.0, 1000, 0, 0.0)
    assert strata == [] and model.strata == [] and model.covariates == covariates
    assert list(ph.columns) == ["covariate", "test_statistic", "p_value", "fails"]
    assert list(survival.ph_display(ph).columns)[0] == "surv_covariate"
    # Every factor "fails" at level 1: the two worst become strata, the third stays a factor.
    model, ph, strata = survival.fit_with_ph_check(frame, covariates, 0.0, 1000, 0, 1.0)
    assert len(strata) == 2 and model.strata == strata
    assert model.covariates == [c for c in covariates if c not in strata]
    refit = survival.refit_final(model, frame)
    assert (refit.covariates, refit.strata, refit.penalizer) == (
        model.covariates, model.strata, model.penalizer,
    )  # fmt: skip


def test_scores_warning_list_and_clv_tables(fitted):
    frame, model = fitted
    score = frame.assign(stage="mature", rm_id=["r1", "r2"] * (len(frame) // 2))
    scored = survival.score_churn(model, score, PANEL_PLAN)
    assert scored["p_churn"].between(0, 1).all()
    assert np.allclose(scored["aum_at_risk"], scored["p_churn"] * scored["aum"])
    table = survival.risk_scores_table(scored)
    assert list(table.columns) == survival.RISK_SCORE_COLUMNS and table["stage"].dtype == object
    by_tier = survival.risk_by_tier(scored)
    assert by_tier["customers"].tolist() == [len(frame)]
    people = pd.DataFrame(
        {"customer_id": score["customer_id"], "name": "张三", "mobile": "13812345678"}
    )
    ds = Dataset.from_frames({"customers": people})
    listed = survival.warning_list(ds, scored, model, 3, 5, 0.0, "en")
    assert len(listed) == 5 and listed["rm_id"].value_counts().max() <= 3
    assert list(listed.columns) == [c for c in survival.WARNING_COLUMNS if c in listed.columns]
    # Ranked by expected AUM lost (probability x AUM), the money at stake, not probability.
    assert listed["aum_at_risk"].is_monotonic_decreasing and listed["name"].iloc[0] == "张三"
    shown = survival.warning_display(listed)
    assert shown["name"].iloc[0] != "张三" and "surv_p_churn" in shown.columns
    clv = pd.DataFrame(
        {
            "customer_id": scored["customer_id"],
            "clv": 1.0,
            "expected_months": 2.0,
            "monthly_margin": 0.5,
        }
    )
    summary = survival.clv_summary(survival.clv_with_tiers(clv, scored))
    assert summary.loc[0, "tier"] == "mass" and summary.loc[0, "total"] == len(frame)


def test_lifecycle_rule_is_the_stage_function():
    abt = pd.DataFrame(
        {"aum": [500.0, 5000, 5000, 5000], "tenure_months": [40, 3, 40, 40],
         "aum_trend_6m": [0.0, 0.0, -0.5, 0.5]}
    )  # fmt: skip
    rule = survival.LifecycleRule(12, 0.1, -0.2, 1000.0)
    assert rule.stages(abt).astype(str).tolist() == ["dormant", "new", "declining", "growing"]
    pd.testing.assert_series_equal(
        rule.stages(abt), survival.lifecycle_stage(abt, 12, 0.1, -0.2, 1000.0)
    )


# ----------------------------------------------------------------------------- KPIs
def test_kpis_are_the_records_the_summary_reads(fitted):
    frame, _ = fitted
    score = pd.DataFrame({"p_churn": [0.1, 0.3], "aum_at_risk": [10.0, 30.0]})
    clv = pd.DataFrame({"clv": [100.0, 50.0]})
    warning = pd.DataFrame({"customer_id": ["a"]})
    kpis = survival.survival_kpis(frame, score, warning, 0.7, FLAT, clv)
    keyed = {r["key"]: r for r in kpis}
    assert [r["key"] for r in kpis][:3] == ["churn_rate", "aum_at_risk", "median_tenure"]
    assert [k for k, r in keyed.items() if r["headline"]] == ["churn_rate", "aum_at_risk"]
    assert keyed["churn_rate"]["value"] == pytest.approx(0.2)
    assert keyed["aum_at_risk"] == {**keyed["aum_at_risk"], "value": 40.0, "unit": "rmb"}
    assert keyed["surv_kpi_brier"]["value"] is None  # skipped in flat mode
    assert keyed["surv_kpi_warning_list_size"]["value"] == 1
    assert keyed["surv_kpi_total_clv"]["value"] == 150.0
    assert keyed["median_tenure"]["unit"] == "months"
    stays = frame.assign(event=False)  # the curve never drops to one half
    none = survival.survival_kpis(stays, score, warning, 0.7, 0.04, clv)
    assert none[2]["value"] is None and none[8]["value"] == 0.04
    assert keyed["surv_kpi_already_draining"]["value"] == 0


def test_kpis_count_the_already_draining_as_churning(fitted):
    """Customers in a run-off are outside the model, not outside the bank's losses."""
    frame, _ = fitted
    score = pd.DataFrame({"p_churn": [0.1, 0.3], "aum_at_risk": [10.0, 30.0]})
    clv = pd.DataFrame({"clv": [100.0, 50.0]})
    draining = pd.DataFrame({"customer_id": ["d"], "aum": [500.0]})
    kpis = {r["key"]: r for r in survival.survival_kpis(
        frame, score, score.iloc[:0], 0.7, 0.1, clv, draining
    )}  # fmt: skip
    # (0.1 + 0.3 + 1) / 3 customers; 10 + 30 + the 500 still there
    assert kpis["churn_rate"]["value"] == pytest.approx(1.4 / 3)
    assert kpis["aum_at_risk"]["value"] == pytest.approx(540.0)
    assert kpis["surv_kpi_already_draining"]["value"] == 1


def test_display_tables_use_label_keys():
    counts = survival.event_counts(
        pd.DataFrame({"event": [True, False], "event_type": ["soft", None]}), "event_type"
    )
    formats = survival.count_formats(counts)
    assert formats["pct"] == ["surv_event_rate"] and "surv_events_soft" in formats["ints"]
    cv = pd.DataFrame({"penalizer": [0.0], "mean_log_likelihood": [-1.0], "sd": [0.1]})
    assert list(survival.cv_display(cv).columns) == [
        "surv_penalizer", "surv_mean_log_likelihood", "surv_sd",
    ]  # fmt: skip


@pytest.mark.slow  # 5.5 s: an equality check of a speed-up; the full suite runs it
def test_backtest_reuses_this_months_model_frames_with_the_same_result():
    """The back-test's two months are the model frames' (time split): passing them gives the
    back-test it would build itself; frames of another month are not used."""
    from helpers import paths
    from helpers.data import load_dataset

    ds = load_dataset(paths.SAMPLE_SPEC)
    month, churn = ds.latest_month(), ChurnDefinition()
    plan = survival.split_plan(ds.months(), month, 6)
    assert plan.mode == "time"
    train, holdout, final = survival.model_frames(ds, plan, churn, 0)
    used = survival.available_covariates(train, [])
    model = survival.refit_final(survival.ChurnCox(used, penalizer=0.1).fit(train), final, None, 0)
    ranker = survival.choose_churn_ranker(final, plan, model, 0, 2000, None)
    arguments = (ds, month, 6, model, churn, None, None, 20, 200, 0.0, "en", ranker, None, 0)
    built = survival.backtest_warning(*arguments)
    kept = train.copy(), holdout.copy()
    reused = survival.backtest_warning(*arguments, frames=(train, holdout))
    pd.testing.assert_frame_equal(train, kept[0])  # the notebook's frames are left as they were
    pd.testing.assert_frame_equal(holdout, kept[1])
    pd.testing.assert_frame_equal(reused.customers, built.customers)
    pd.testing.assert_frame_equal(reused.calibration, built.calibration)
    assert (reused.as_of, reused.horizon) == (built.as_of, built.horizon)
    # frames of other months (here swapped) are built again, not used
    swapped = survival.backtest_warning(*arguments, frames=(holdout, train))
    pd.testing.assert_frame_equal(swapped.customers, built.customers)


@pytest.mark.parametrize(
    "as_of",
    ["2025-10", pytest.param("2026-04", marks=pytest.mark.slow)],  # random, time split
)
def test_the_fallback_clv_from_the_covariates_columns_equals_the_clv_from_whole_abts(as_of):
    """``customer_clv`` reads only its covariates' ABT columns; the model and every value are
    those of the same steps on whole ABTs (the oracle below)."""
    from helpers import paths
    from helpers.data import load_dataset
    from helpers.features import stratified_rows
    from helpers.survival.clv import clv_frame, customer_clv

    ds = load_dataset(paths.SAMPLE_SPEC)
    churn = ChurnDefinition()
    got = customer_clv(ds, as_of, churn=churn, fit_cap=2_000, seed=3)
    plan = survival.split_plan(ds.months(), as_of, 6)
    _, _, final = survival.model_frames(ds, plan, churn)  # whole ABTs
    rows = stratified_rows(final["event"].astype(bool).to_numpy(), 2_000, 3)
    used = survival.available_covariates(final, survival.DEFAULT_COVARIATES)
    model = survival.ChurnCox(used, 0.01).fit(final.iloc[rows])
    scoring, current = survival.scoring_frame(ds, plan, churn)
    expected = clv_frame(model, scoring, 36, 6, 0.05, current_col=current)
    pd.testing.assert_frame_equal(got, expected)
