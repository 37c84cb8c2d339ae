"""The notebook steps of 04_retention_roi: planner mode flows through as one Skipped.

Hand-made inputs: the tiny panel of ``dataset_fixtures`` (one campaign, C1, of two customers)
and small frames whose answers are worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dataset_fixtures import panel_frames

from helpers import config, formatting
from helpers import retention as rr
from helpers.data import Dataset

NEEDS_CAMPAIGN = formatting.Skipped("rr_note_needs_campaign")


@pytest.fixture
def panel():
    return Dataset.from_frames(panel_frames())


@pytest.fixture
def no_campaign():
    return Dataset.from_frames({k: v for k, v in panel_frames().items() if k != "campaigns"})


def test_load_campaign_is_skipped_without_campaign_roles(no_campaign):
    assert rr.load_campaign(no_campaign) == NEEDS_CAMPAIGN


def test_load_campaign_reads_the_campaign_and_still_fails_on_a_wrong_id(panel):
    campaign = rr.load_campaign(panel)
    assert isinstance(campaign, rr.Campaign)
    assert campaign.info["campaign_id"] == "C1" and campaign.offers == ["rate_coupon"]
    assert campaign.frame["arm"].tolist() == ["control", "rate_coupon"]
    with pytest.raises(rr.CampaignDataError, match="'C9' not found"):
        rr.load_campaign(panel, "C9")


def test_load_campaign_tiers_on_the_pack_ladder(panel):
    default = rr.load_campaign(panel, ladder=config.resolve_ladder(None))
    assert default.frame["tier"].astype(str).tolist() == ["mass", "mass"]  # AUM 1,750.5
    low = config.resolve_ladder([1000, 2000, 3000])
    assert rr.load_campaign(panel, ladder=low).frame["tier"].astype(str).tolist() == [
        "affluent",
        "affluent",
    ]


def test_every_campaign_step_passes_planner_mode_on(no_campaign):
    campaign = rr.load_campaign(no_campaign)
    assert rr.arms_table(campaign) is campaign
    assert rr.plot_campaign_balance(campaign, "en") is campaign
    evaluation = rr.evaluate(campaign, 0.95)
    assert evaluation is campaign
    assert rr.display_table(rr.retention_rows(evaluation), "en") is campaign
    assert rr.plot_campaign_effects(evaluation, "en") is campaign
    valued = rr.with_value(campaign, no_campaign, 36, 6, 0.05, 1.0)
    assert rr.campaign_value(valued, evaluation, "phone", {"phone": 15.0}) is campaign
    uplift = rr.uplift_models(valued, "auto", 5, 0)
    qini = rr.learner_comparison(uplift, valued, 10, 100, 0.95, 0)
    assert qini is campaign
    assert rr.qini_coefficients(qini) is campaign
    gate = rr.evidence(qini, uplift)
    assert gate is campaign and rr.evidence_remarks(gate, campaign) == []
    assert rr.plot_qini_by_offer(qini, valued, gate, 100, "en") is campaign
    deciles = rr.uplift_deciles(uplift, valued, gate, 0)
    assert rr.plot_deciles_by_offer(deciles, "en") is campaign
    mix = rr.campaign_targeting_mix(uplift, valued, gate, 0.3, 0.95, 0)
    assert rr.plot_targeting_outcomes(mix, "en") is campaign
    assert rr.plot_targeting_mix(mix, "en") is campaign
    assert rr.aum_uplift_deciles(valued, uplift, 5, 0) is campaign


def test_campaign_notes_say_which_mode():
    planner = rr.campaign_notes(NEEDS_CAMPAIGN, 0.1)
    assert [note.key for note in planner] == ["rr_note_planner"]
    assert "ASSUMED" in planner[0].text("en") and "10%" in planner[0].text("en")
    frame = pd.DataFrame({"arm": ["control", "offer"], "retained": [True, False]})
    flat = rr.Campaign(frame, {"assigned_month": None, "without_features": 0})
    assert [note.key for note in rr.campaign_notes(flat, 0.1)] == ["rr_note_flat_features"]
    panel = rr.Campaign(frame, {"assigned_month": "2026-09", "without_features": 3})
    notes = rr.campaign_notes(panel, 0.1)
    assert [note.key for note in notes] == ["rr_note_without_features"]
    assert notes[0].text("en").startswith("3 campaign customers")


def test_campaign_value_costs_each_contact_by_its_channel(panel):
    campaign = rr.load_campaign(panel)
    valued = rr.Campaign(campaign.frame.assign(clv=[1000.0, 2000.0], p_churn_h=0.1), campaign.info)
    evaluation = pd.DataFrame(
        {"metric": ["retained"], "offer": ["rate_coupon"], "difference": [0.1]}
        | {"ci_low": [-0.1], "ci_high": [0.3]}
    )
    value = rr.campaign_value(valued, evaluation, "phone", {"phone": 15.0, "sms": 0.5})
    # the treated customer was sent an SMS (0.5) with a 50 RMB coupon
    assert value["spend"].tolist() == pytest.approx([50.5])
    assert value["mean_clv"].tolist() == pytest.approx([2000.0])


def test_aum_uplift_is_skipped_without_aum_after():
    frame = pd.DataFrame({"arm": ["control", "offer"], "retained": [True, False]})
    models = rr.UpliftModels(pd.DataFrame(), {})
    result = rr.aum_uplift_deciles(rr.Campaign(frame, {}), models)
    assert result == formatting.Skipped("rr_note_aum_flat")


def test_load_clv_takes_the_upstream_table_or_says_why_not(panel):
    table = pd.DataFrame({"customer_id": [1, 2], "clv": [10.0, 20.0], "p_churn_h": [0.1, 0.2]})
    clv, source = rr.load_clv(panel, "2026-10", table)
    assert source == "artifact" and clv["customer_id"].tolist() == ["1", "2"]
    assert table["customer_id"].tolist() == [1, 2]  # the caller's table is left alone
    missing = formatting.Skipped(
        "nb_upstream_missing", notebook="02_lifecycle_survival", name="clv"
    )
    assert rr.clv_notes(missing) == [missing]
    assert rr.clv_notes(table) == []
    clv, source = rr.load_clv(panel, "2026-10", missing)
    assert source in {"survival", "fallback"}
    assert {"customer_id", "clv", "p_churn_h"} <= set(clv.columns)


def test_plan_options_in_planner_mode_assume_a_save_rate():
    candidates = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "p_churn_h": [0.5, 0.1],
            "clv": [10_000.0, 1_000.0],
            "rm_id": ["R1", None],
        }
    )
    skipped = (NEEDS_CAMPAIGN,) * 3
    options = rr.plan_options(candidates, *skipped, 15.0, {}, 50.0, 0.1)
    # a: 0.05 x 10,000 - 65 = 435; b: 0.01 x 1,000 - 65 < 0
    by_id = options.options.set_index("customer_id")
    assert by_id.loc["a", "net_value"] == pytest.approx(435.0)
    assert by_id.loc["b", "net_value"] == pytest.approx(-55.0)
    assert set(by_id["offer"]) == {"offer"} and set(by_id["basis"]) == {"assumed"}
    assert by_id["uplift_se"].isna().all()  # assumed, not measured: no interval
    assert rr.planning_segments(options) == formatting.Skipped("rr_note_planner_no_segments")
    plan = rr.select_plan(options.options, 1000.0)
    assert plan["customer_id"].tolist() == ["a"] and plan["best_offer"].tolist() == ["offer"]
    assert [n.key for n in rr.plan_notes(plan)] == ["rr_choice_exact", "rr_plan_value_assumed"]
    priced = rr.plan_options(candidates, *skipped, 15.0, {"offer": 5.0})
    assert priced.options.set_index("customer_id").loc["a", "cost"] == pytest.approx(20.0)


def test_display_table_names_columns_by_label_key_and_translates_codes():
    table = pd.DataFrame(
        {"offer": ["rate_coupon", "mystery"], "customers": [3, 4], "lower": [0.1, 0.2]}
        | {"incremental_low": [1.0, 2.0], "other": ["x", "y"]}
    )
    shown = rr.display_table(table, "en")
    assert shown.columns.tolist() == [
        "rr_col_offer",
        "rr_col_customers",
        "rr_col_lower",
        "rr_col_incremental_low",
        "other",
    ]
    assert shown["rr_col_offer"].tolist() == ["Rate coupon", "mystery"]
    # in Chinese both lower bounds read 下限: the second keeps its code beside the label
    assert rr.display_table(table, "zh").columns[3] == "下限 (incremental_low)"
    assert table.columns[0] == "offer"  # the input is left alone


def test_planning_without_a_campaign():
    candidates = pd.DataFrame({"p_churn_h": [0.1, 0.3]})
    p_control = rr.control_retention(NEEDS_CAMPAIGN, candidates)
    assert p_control == pytest.approx(0.8)
    assert rr.detectable_effect_notes(NEEDS_CAMPAIGN, p_control) == []
    sizes = rr.sample_sizes(p_control, 0.03, 0.95, 0.8)
    assert sizes["effect"].tolist() == [0.01, 0.02, 0.03, 0.05]


def test_planning_from_a_campaign():
    frame = pd.DataFrame(
        {"arm": ["control"] * 400 + ["a"] * 400 + ["b"] * 400, "retained": [1, 1, 1, 0] * 300}
    )
    campaign = rr.Campaign(frame, {})
    assert rr.control_retention(campaign, pd.DataFrame()) == pytest.approx(0.75)
    notes = rr.detectable_effect_notes(campaign, 0.75, 0.95, 0.8)
    assert notes[0].key == "rr_mde_sentence"
    assert notes[0].values["n_treated"] == 400 and notes[0].values["n_control"] == 400
    expected = rr.minimum_detectable_effect(400, 400, 0.75, 0.05, 0.8)
    assert 0 < expected < 0.1
    assert notes[0].values["mde"] == pytest.approx(expected)


def test_summaries_and_sensitivity_of_a_plan():
    plan = pd.DataFrame(
        {"uplift": [0.02, 0.04], "clv": [10_000.0, 10_000.0], "cost": [65.0, 65.0]}
        | {"gross_value": [200.0, 400.0]}
    )
    summary = rr.plan_summary(plan, "en")
    assert summary.columns.tolist() == ["rr_col_item", "rr_col_value_text"]
    # break-even 130 / 20,000 = 0.65%; mean uplift 3.00%; ROI (600 - 130) / 130 = 361.5%
    assert summary["rr_col_value_text"].tolist() == ["0.65%", "3.00%", "361.5%"]
    empty = rr.plan_summary(plan.iloc[:0], "en")
    assert empty["rr_col_value_text"].tolist()[:2] == ["", ""]
    sensitivity = rr.plan_sensitivity(plan, 15.0)
    assert sensitivity["roi_base"].iloc[0] == pytest.approx(470 / 130)
    candidates = pd.DataFrame({"clv": [100.0, 300.0], "p_churn_h": [0.1, 0.2]})
    text = rr.candidate_summary(candidates, "artifact", "en")["rr_col_value_text"].tolist()
    candidates.attrs["counts"] = {"draining": 3, "outside_population": 7}
    counted = rr.candidate_summary(candidates, "artifact", "en")["rr_col_value_text"].tolist()
    assert counted[:3] == ["2", "3", "7"]
    assert text == ["2", "200", "15.0%", "the clv artifact of this run's survival notebook"]


def test_greedy_gap_samples_at_most_exact_cap():
    rng = np.random.default_rng(0)
    options = pd.DataFrame(
        {
            "customer_id": np.repeat([f"c{i}" for i in range(25)], 2),
            "offer": ["a", "b"] * 25,
            "net_value": np.r_[rng.uniform(1, 100, 40), -rng.uniform(1, 10, 10)],
            "cost": rng.uniform(10, 60, 50),
            "rm_id": None,
        }
    )
    gaps = rr.greedy_gap(rr.PlanOptions(options, pd.DataFrame()), 500.0, 0, exact_cap=20, seed=1)
    assert len(gaps) == 4
    assert (gaps["exact_value"] >= gaps["greedy_value"] - 1e-9).all()
    assert (gaps["lp_bound"] >= gaps["exact_value"] - 1e-6).all()  # a true upper bound
    # 20 customers with a worthwhile option, 10 of them drawn (2 options each):
    # budgets up to twice the sampled share of the budget, 2 x 500 x 10 / 20
    assert gaps["budget"].max() <= 2 * 500.0 * 10 / 20 + 1e-9
    assert gaps["proven"].all()  # a small problem: the solver proves every selection optimal


def test_an_exact_solve_stopped_by_its_time_limit_is_not_called_proven(monkeypatch):
    """HiGHS returns its best selection at the time limit (status 1): not proven optimal."""
    from scipy import optimize

    solve = optimize.milp

    def stopped(*args, **kwargs):
        result = solve(*args, **kwargs)
        result.status = 1  # what HiGHS reports when the time limit stops it
        return result

    monkeypatch.setattr(optimize, "milp", stopped)
    report = {}
    picked = rr.exact_targets([5.0, 4.0, 3.0], [2.0, 2.0, 2.0], 4.0, report=report)
    assert picked.sum() == 2 and report == {"proven": False}


def test_greedy_gap_with_no_worthwhile_option_is_all_zero():
    # a table whose candidates all lose money (no campaign, low value): nothing to plan, no crash
    options = pd.DataFrame(
        {"customer_id": ["c1", "c2"], "offer": ["a", "a"], "net_value": [-5.0, -1.0],
         "cost": [10.0, 10.0], "rm_id": None}
    )  # fmt: skip
    gaps = rr.greedy_gap(rr.PlanOptions(options, pd.DataFrame()), 500.0, 0, seed=1)
    assert (gaps[["greedy_value", "exact_value", "lp_bound", "gap"]].to_numpy() == 0).all()
