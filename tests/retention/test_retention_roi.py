"""Unit tests for helpers.retention.roi with answers worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers import retention as rr
from helpers.formatting import Skipped
from helpers.retention.targeting import exact_targets

Z975 = 1.959963984540054  # z_{0.975}
Z80 = 0.8416212335729143  # z_{0.80}


# ----------------------------------------------------------------------------- A/B
def test_wald_interval_and_pooled_test_by_hand():
    result = rr.proportion_difference(80, 100, 70, 100, method="wald")
    # se = sqrt(.8*.2/100 + .7*.3/100) = sqrt(.0037)
    half = Z975 * np.sqrt(0.0037)
    assert result["difference"] == pytest.approx(0.10)
    assert result["ci_low"] == pytest.approx(0.10 - half)
    assert result["ci_high"] == pytest.approx(0.10 + half)
    # pooled p = .75: z = .1 / sqrt(.75*.25*(2/100)) = 1.63299
    assert result["z"] == pytest.approx(0.1 / np.sqrt(0.75 * 0.25 * 0.02))
    assert result["p_value"] == pytest.approx(0.10247, abs=1e-4)


def test_newcombe_interval_matches_published_example():
    # Newcombe (1998), Stat Med 17:873, example (a): 56/70 - 48/80, method 10 -> (0.0524, 0.3339)
    result = rr.proportion_difference(56, 70, 48, 80, method="newcombe")
    assert result["difference"] == pytest.approx(56 / 70 - 48 / 80)
    assert result["ci_low"] == pytest.approx(0.0524, abs=5e-5)
    assert result["ci_high"] == pytest.approx(0.3339, abs=5e-5)


def test_newcombe_stays_inside_bounds_where_wald_does_not():
    # all 20 treated stay, 18/20 control: Wald's interval is degenerate on the treated side
    newcombe = rr.proportion_difference(20, 20, 18, 20, method="newcombe")
    assert -1 <= newcombe["ci_low"] < 0.1 < newcombe["ci_high"] <= 1
    assert newcombe["ci_low"] < 0  # not significant with 20 per arm


def test_welch_by_hand_and_against_scipy():
    treated, control = [1, 2, 3, 4], [2, 4, 6]
    result = rr.welch_difference(treated, control)
    # var_t/n = (5/3)/4, var_c/n = 4/3; df = 1.75^2 / ((5/12)^2/3 + (4/3)^2/2) = 3.23472
    assert result["difference"] == pytest.approx(-1.5)
    assert result["df"] == pytest.approx(3.23472, abs=1e-4)
    assert result["t"] == pytest.approx(-1.5 / np.sqrt(1.75))
    reference = stats.ttest_ind(treated, control, equal_var=False)
    assert result["p_value"] == pytest.approx(reference.pvalue)
    half = stats.t.ppf(0.975, result["df"]) * np.sqrt(1.75)
    assert result["ci_high"] == pytest.approx(-1.5 + half)


def _campaign_frame() -> pd.DataFrame:
    # control 6/10 stay; coupon 8/10; waiver 7/10
    retained = [1] * 6 + [0] * 4 + [1] * 8 + [0] * 2 + [1] * 7 + [0] * 3
    return pd.DataFrame(
        {
            "customer_id": [f"{i:03d}" for i in range(30)],
            "group": ["control"] * 10 + ["treatment"] * 20,
            "offer": ["none"] * 10 + ["rate_coupon"] * 10 + ["fee_waiver"] * 10,
            "retained": np.array(retained, dtype=bool),
            "aum_after": np.arange(30, dtype=float) * 100,
        }
    )


def test_evaluate_campaign_rows_per_offer_and_metric():
    table = rr.evaluate_campaign(_campaign_frame())
    assert set(table["offer"]) == {"rate_coupon", "fee_waiver"}
    coupon = table.query("metric == 'retained' and offer == 'rate_coupon'").iloc[0]
    assert coupon["treated"] == pytest.approx(0.8)
    assert coupon["control"] == pytest.approx(0.6)
    assert coupon["difference"] == pytest.approx(0.2)
    assert coupon["n_treated"] == 10 and coupon["n_control"] == 10
    aum = table.query("metric == 'aum_after' and offer == 'fee_waiver'").iloc[0]
    # fee_waiver rows 20..29 -> mean 2450; control rows 0..9 -> mean 450
    assert aum["difference"] == pytest.approx(2000.0)
    assert aum["test"] == "welch t"


def test_campaign_errors_are_clear():
    frame = _campaign_frame()
    with pytest.raises(rr.CampaignDataError, match="no 'control' rows"):
        rr.evaluate_campaign(frame[frame["group"] == "treatment"])
    bad = frame.copy()
    bad.loc[12, "offer"] = "none"
    with pytest.raises(rr.CampaignDataError, match=r"treatment rows \[12\] have no offer"):
        rr.evaluate_campaign(bad)
    bad = frame.copy()
    bad["group"] = bad["group"].replace({"control": "holdout"})
    with pytest.raises(rr.CampaignDataError, match="campaigns.group.*holdout"):
        rr.evaluate_campaign(bad)
    with pytest.raises(rr.CampaignDataError, match="not found"):
        rr.evaluate_campaign(frame, binary=("stayed",))
    bad = frame.copy()
    bad["retained"] = bad["retained"].astype(object)
    bad.loc[3, "retained"] = None
    with pytest.raises(rr.CampaignDataError, match=r"missing outcome at rows \[3\]"):
        rr.evaluate_campaign(bad)


def test_standardized_mean_differences_by_hand():
    frame = pd.DataFrame(
        {
            "arm": ["offer"] * 4 + ["control"] * 4,
            "x": [1, 2, 3, 2, 2, 3, 4, 3],
            "payroll": [True, True, False, False, True, False, False, False],
            "channel": ["a", "a", "b", "b", "a", "b", "b", "b"],
        }
    )
    table = rr.standardized_mean_differences(frame, ["x", "payroll", "channel"]).set_index(
        "covariate"
    )
    # x: means 2 vs 3, variances 2/3 and 2/3 -> SMD = -1 / sqrt(2/3)
    assert table.loc["x", "smd"] == pytest.approx(-1 / np.sqrt(2 / 3))
    # payroll: .5 (var 1/3) vs .25 (var .25) -> .25 / sqrt((1/3 + .25) / 2)
    assert table.loc["payroll", "smd"] == pytest.approx(0.25 / np.sqrt((1 / 3 + 0.25) / 2))
    assert table.loc["channel=a", "smd"] == pytest.approx(0.46291, abs=1e-5)


# ----------------------------------------------------------------------------- sample size
def test_sample_size_closed_form():
    size = rr.sample_size_proportions(0.80, 0.05)
    # (1.96 + 0.8416)^2 * (.8*.2 + .85*.15) / .05^2 = 902.6 -> 903 per arm
    expected = (Z975 + Z80) ** 2 * (0.16 + 0.1275) / 0.05**2
    assert expected == pytest.approx(902.62, abs=0.01)
    assert size == {"n_control": 903, "n_treated": 903, "n_total": 1806}
    two_to_one = rr.sample_size_proportions(0.80, 0.05, ratio=2)
    # variance .16 + .1275/2 = .22375 -> 702.5 -> 703 control, 1406 treated
    assert two_to_one["n_control"] == 703 and two_to_one["n_treated"] == 1406


def test_mde_inverts_sample_size():
    mde = rr.minimum_detectable_effect(903, 903, 0.80)
    assert 0.049 < mde <= 0.05  # 903 was rounded up, so slightly below .05
    size = rr.sample_size_proportions(0.80, mde)
    assert size["n_control"] in (903, 904)
    assert rr.minimum_detectable_difference_means(100, 100, 10.0) == pytest.approx(
        (Z975 + Z80) * 10 * np.sqrt(0.02)
    )
    with pytest.raises(ValueError, match="strictly in"):
        rr.sample_size_proportions(0.98, 0.05)


def test_power_table_is_monotone():
    table = rr.power_table(0.8, [0.02, 0.05, 0.1])
    assert table["n_control"].is_monotonic_decreasing


# ----------------------------------------------------------------------------- value
def test_simple_clv_by_hand():
    # no churn, no discount: margin x months
    assert rr.simple_clv(100, 0.0, 6, 36, 0.0)[0] == pytest.approx(3600)
    # 50% monthly churn, no discount, 2 months: 100 * (.5 + .25)
    assert rr.simple_clv(100, 0.5, 1, 2, 0.0)[0] == pytest.approx(75)
    # one month, 10% a year: 100 / 1.1^(1/12)
    assert rr.simple_clv(100, 0.0, 6, 1, 0.10)[0] == pytest.approx(100 / 1.1 ** (1 / 12))


def test_roi_and_break_even_by_hand():
    gross = np.array([0.1, 0.05]) * np.array([2000, 1000])  # 200 + 50
    assert rr.campaign_roi(gross, [50, 50]) == pytest.approx(1.5)
    assert rr.break_even_uplift([2000, 1000], [50, 50]) == pytest.approx(100 / 3000)
    # at the break-even uplift the ROI is exactly zero
    uplift = rr.break_even_uplift([2000, 1000], [50, 50])
    assert rr.campaign_roi(uplift * np.array([2000, 1000]), [50, 50]) == pytest.approx(0)


def test_best_offer_by_hand():
    uplift = pd.DataFrame(
        {"A": [0.10, 0.01, 0.0], "B": [0.05, 0.02, 0.0]},
        index=pd.Index(["c1", "c2", "c3"], name="customer_id"),
    )
    values = rr.offer_values(uplift, [1000, 1000, 1000], {"A": 20, "B": 5}, 10)
    assert len(values) == 6
    c1a = values.query("customer_id == 'c1' and offer == 'A'").iloc[0]
    assert c1a["net_value"] == pytest.approx(100 - 30)
    best = rr.best_offer(values).set_index("customer_id")
    # c1: A 70 vs B 35 -> A; c2: A -20 vs B 5 -> B; c3: both negative -> none
    assert best["best_offer"].to_dict() == {"c1": "A", "c2": "B", "c3": "none"}
    assert best.loc["c2", "net_value"] == pytest.approx(5)
    assert not best.loc["c3", "recommended"]
    with pytest.raises(ValueError, match="no cost for offer"):
        rr.offer_values(uplift, [1, 1, 1], {"A": 1}, 0)


# ----------------------------------------------------------------------------- targeting
def test_greedy_by_ratio_is_suboptimal_and_exact_fixes_it():
    value, cost, budget = [10, 7, 7], [6, 5, 5], 10
    greedy = rr.greedy_targets(value, cost, budget)
    # greedy takes the best ratio (10/6) and then nothing else fits: value 10
    assert greedy.tolist() == [True, False, False]
    exact = rr.exact_targets(value, cost, budget)
    assert exact.tolist() == [False, True, True]  # 7 + 7 = 14
    assert rr.knapsack_dp(value, cost, budget).tolist() == [False, True, True]
    table = rr.greedy_vs_exact(np.array(value, float), cost, [10])
    assert table.loc[0, "gap"] == pytest.approx(4)
    # LP bound: all of the best ratio (10, cost 6) + 4/5 of the next (7) = 15.6
    assert table.loc[0, "lp_bound"] == pytest.approx(15.6)
    assert rr.lp_bound(value, cost, budget) == pytest.approx(15.6)


def test_greedy_skips_what_does_not_fit_and_continues():
    # ratios 2, 1.5, 1: take A (5), skip B (6 > 1 left), take C (1)
    chosen = rr.greedy_targets([10, 9, 1], [5, 6, 1], 6)
    assert chosen.tolist() == [True, False, True]


def test_greedy_is_optimal_with_equal_costs():
    value, cost = [5, 3, 8, 1, -2], [2, 2, 2, 2, 2]
    greedy = rr.greedy_targets(value, cost, 4)
    assert greedy.tolist() == [True, False, True, False, False]
    assert (greedy == rr.exact_targets(value, cost, 4)).all()


def test_capacity_per_rm_and_unassigned_customers():
    value = [9, 8, 7, 3, 1]
    cost = [1, 1, 1, 1, 1]
    group = ["r1", "r1", "r1", "r2", None]
    chosen = rr.greedy_targets(value, cost, 100, capacity=2, group=group)
    # r1 full after 9 and 8; r2 takes 3; the customer without an RM is unconstrained
    assert chosen.tolist() == [True, True, False, True, True]
    exact = rr.exact_targets(value, cost, 100, capacity=2, group=group)
    assert exact.tolist() == chosen.tolist()
    total = rr.greedy_targets(value, cost, 100, capacity=3)
    assert total.tolist() == [True, True, True, False, False]
    per_rm = rr.greedy_targets(value, cost, 100, capacity={"r1": 1, "r2": 0}, group=group)
    assert per_rm.tolist() == [True, False, False, False, True]


def test_exact_multiple_choice_picks_the_cheaper_offer():
    # customer 1: offer A (value 10, cost 6) or B (6, 2); customer 2: A (7, 5); budget 7
    value, cost = [10, 6, 7], [6, 2, 5]
    customer = ["c1", "c1", "c2"]
    exact = rr.exact_targets(value, cost, 7, choice=customer)
    assert exact.tolist() == [False, True, True]  # 6 + 7 = 13 beats 10


def test_greedy_within_one_item_of_lp_bound_on_random_data():
    rng = np.random.default_rng(7)
    value = rng.gamma(2.0, 50.0, 300)
    cost = rng.uniform(5, 80, 300)
    for budget in (200, 1000, 4000):
        greedy = rr.greedy_targets(value, cost, budget)
        exact = rr.exact_targets(value, cost, budget)
        dp = rr.knapsack_dp(value, np.ceil(cost).astype(int), budget)
        lp = np.dot(value, rr.exact_targets(value, cost, budget, relax=True))
        assert rr.lp_bound(value, cost, budget) == pytest.approx(lp, rel=1e-6)
        assert cost[greedy].sum() <= budget + 1e-9 and cost[exact].sum() <= budget + 1e-9
        assert value[greedy].sum() <= value[exact].sum() + 1e-6 <= lp + 1e-3
        assert value[greedy].sum() >= lp - value.max()
        # DP on rounded-up costs is feasible for the real costs, so it cannot beat the MILP
        assert value[dp].sum() <= value[exact].sum() + 1e-6


def test_budget_curve_by_hand():
    curve = rr.budget_curve([200, 50, 10], [50, 50, 50], [0, 100, 1000])
    assert curve["contacts"].tolist() == [0, 1, 1]  # net values 150, 0, -40: only one pays
    row = curve.iloc[1]
    assert row["spend"] == 50 and row["expected_net"] == 150 and row["roi"] == pytest.approx(3)
    with pytest.raises(ValueError, match="positive"):
        rr.greedy_targets([1], [0], 10)


# ----------------------------------------------------------------------------- sensitivity
def test_roi_sensitivity_by_hand():
    table = rr.roi_sensitivity([0.1], [1000], [20], [30]).set_index("parameter")
    assert table["roi_base"].iloc[0] == pytest.approx(1.0)  # 100 / 50 - 1
    assert table.loc["uplift", "roi_low"] == pytest.approx(0.0)
    assert table.loc["uplift", "roi_high"] == pytest.approx(2.0)
    assert table.loc["margin", "roi_low"] == pytest.approx(0.6)
    assert table.loc["offer_cost", "roi_high"] == pytest.approx(100 / 60 - 1)
    assert table.loc["contact_cost", "roi_high"] == pytest.approx(0.25)
    assert list(table.index) == ["uplift", "contact_cost", "offer_cost", "margin"]
    with pytest.raises(ValueError, match="unknown sensitivity"):
        rr.roi_sensitivity([0.1], [1000], [20], [30], ranges={"tax": (0, 1)})


def test_assumed_uplift():
    assert rr.assumed_uplift([0.2, 0.5], 0.1).tolist() == pytest.approx([0.02, 0.05])
    with pytest.raises(ValueError, match="between 0 and 1"):
        rr.assumed_uplift([0.2], 1.5)


# ----------------------------------------------------------------------------- notebook steps
def test_campaign_frame_joins_features_as_of_the_assigned_month():
    from dataset_fixtures import panel_frames

    from helpers.data import Dataset

    ds = Dataset.from_frames(panel_frames())
    frame, info = rr.campaign_frame(ds)
    assert info["campaign_id"] == "C1" and info["assigned_month"] == "2026-09"
    assert info["without_features"] == 0 and info["customers"] == 2
    assert frame.set_index("customer_id")["arm"].to_dict() == {
        "0001": "control",
        "0002": "rate_coupon",
    }
    assert frame["aum"].tolist() == pytest.approx([1750.5, 1750.5])  # balances at 2026-09
    assert frame["retained"].dtype == bool
    with pytest.raises(rr.CampaignDataError, match=r"campaign 'C9' not found; campaigns: \['C1'\]"):
        rr.campaign_frame(ds, "C9")
    no_campaigns = {k: v for k, v in panel_frames().items() if k != "campaigns"}
    with pytest.raises(rr.CampaignDataError, match="no campaigns table"):
        rr.campaign_frame(Dataset.from_frames(no_campaigns))


def test_campaign_features_are_the_abt_features_whatever_the_horizon():
    """The campaign frame reads the ABT of the run's churn horizon (shared with its CLV); its
    features are those of the ABT at the campaign's own horizon, and no ABT outcome (labels,
    survival columns: they look past the assigned month) rides along."""
    from helpers import paths
    from helpers.data import load_dataset
    from helpers.features import abt_feature_columns, build_abt

    ds = load_dataset(paths.SAMPLE_SPEC)
    frame, info = rr.campaign_frame(ds)
    own = build_abt(ds, info["assigned_month"], info["horizon_months"])
    assert info["horizon_months"] != 6  # the sample's campaign looks further than the default
    campaign = ds.table("campaigns")
    features = [c for c in abt_feature_columns() if c not in campaign.columns]
    expected = frame[["customer_id"]].merge(own[["customer_id", *features]], how="left")
    pd.testing.assert_frame_equal(frame[["customer_id", *features]], expected)
    outcomes = ["churn_label", "churn_type_label", "entry", "duration", "event"]
    assert not [c for c in frame.columns if c in outcomes or c.startswith("took_")]


def test_offer_costs_from_campaign():
    frame = pd.DataFrame({"arm": ["control", "A", "A", "B"], "cost": [0, 10.0, 30.0, 5.0]})
    costs = rr.offer_costs_from_campaign(frame, ["A", "B", "C"], {"B": 7.0}, default=50.0)
    # A: the campaign's average 20; B: the analyst's figure; C: never run, the default
    assert costs == {"A": 20.0, "B": 7.0, "C": 50.0}
    no_cost = rr.offer_costs_from_campaign(frame.drop(columns="cost"), ["A"], default=9.0)
    assert no_cost == {"A": 9.0}


def test_last_campaign_value_by_hand():
    frame = _campaign_frame()
    frame["arm"] = rr.campaign_arms(frame)
    evaluation = rr.evaluate_campaign(frame, continuous=())
    clv = np.where(frame["arm"] == "rate_coupon", 1000.0, 500.0)
    value = rr.last_campaign_value(evaluation, frame, clv, contact_cost=5.0).set_index("offer")
    # +20 points x 10 customers = 2 kept, x CLV 1000 = 2000; spend = 10 x (15 offer + 5 contact)
    frame_cost = frame.assign(cost=np.where(frame["arm"] == "control", 0.0, 15.0))
    coupon = rr.last_campaign_value(evaluation, frame_cost, clv, 5.0).set_index("offer")
    coupon = coupon.loc["rate_coupon"]
    assert coupon["incremental_retained"] == pytest.approx(2.0)
    assert coupon["value"] == pytest.approx(2000.0)
    assert coupon["spend"] == pytest.approx(10 * 15 + 10 * 5)
    assert coupon["roi"] == pytest.approx((2000 - 200) / 200)
    assert coupon["roi_low"] < coupon["roi"] < coupon["roi_high"]
    # without a cost column the planning cost per offer is used
    planned = rr.last_campaign_value(
        evaluation, frame, clv, 5.0, offer_cost={"rate_coupon": 15.0, "fee_waiver": 0.0}
    ).set_index("offer")
    assert planned.loc["rate_coupon", "spend"] == pytest.approx(200.0)
    assert value.loc["fee_waiver", "incremental_retained"] == pytest.approx(1.0)


def test_plan_selection_kpis_and_target_list():
    best = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "best_offer": ["A", "A", "B", "none"],
            "uplift": [0.1, 0.05, 0.04, 0.0],
            "clv": [1000.0, 1000.0, 1000.0, 100.0],
            "gross_value": [100.0, 50.0, 40.0, 0.0],
            "cost": [20.0, 20.0, 10.0, 20.0],
            "net_value": [80.0, 30.0, 30.0, -20.0],
            "recommended": [True, True, True, False],
            "rm_id": ["r1", "r1", "r2", "r2"],
        }
    )
    plan = rr.select_plan(best, budget=40.0, contacts_per_rm=1)
    # one per RM: a (r1, ratio 4) then c (r2, ratio 3); b's RM is full
    assert plan["customer_id"].tolist() == ["a", "c"]
    assert rr.select_plan(best, budget=40.0, contacts_per_rm=0)["customer_id"].tolist() == [
        "a",
        "c",
    ]
    assert rr.select_plan(best, budget=100.0)["customer_id"].tolist() == ["a", "b", "c"]
    grid = rr.budget_grid(1000.0, best)
    assert grid.max() == pytest.approx(55.0)  # recommended options cost 50; beyond, nothing to buy
    records = rr.retention_kpis(Skipped("rr_note_needs_campaign"), None, plan)
    kpis = {record["key"]: record for record in records}
    assert [record["key"] for record in records] == [
        "campaign_roi",
        "rr_kpi_incremental_retained",
        "rr_kpi_incremental_aum",
        "next_campaign_value",
        "rr_kpi_next_roi",
        "rr_kpi_next_contacts",
        "rr_kpi_break_even_uplift",
    ]
    assert kpis["campaign_roi"]["value"] is None and kpis["campaign_roi"]["headline"]
    assert kpis["campaign_roi"]["label_en"] == "Last campaign ROI"
    assert kpis["next_campaign_value"]["value"] == pytest.approx(110.0)
    assert kpis["rr_kpi_next_roi"]["value"] == pytest.approx(110.0 / 30.0)
    assert kpis["rr_kpi_break_even_uplift"]["value"] == pytest.approx(30.0 / 2000.0)
    assert kpis["rr_kpi_break_even_uplift"]["unit"] == "pp"
    assert (
        sum(record["headline"] for record in records) == 2
    )  # ROI and next-campaign value; the overview heads the index
    candidates = pd.DataFrame(
        {"customer_id": ["a", "c"], "tier": ["mass", "wealth"], "aum": [1.0, 2.0]}
    )
    ds = type("Flat", (), {"mode": "flat"})()
    table = rr.target_list(plan, ds, candidates, size=1)
    assert table.columns.tolist() == ["customer_id", "rm_id", "tier", "aum", "best_offer",
                                      "uplift", "clv", "net_value"]  # fmt: skip
    assert table["customer_id"].tolist() == ["a"]


def test_attach_value_fills_missing_customers_with_medians():
    frame = pd.DataFrame({"customer_id": ["a", "b", "z"]})
    clv = pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "clv": [100.0, 300.0, 200.0], "p_churn_h": [0.1, 0.3, 0.2]}
    )
    merged = rr.attach_value(frame, clv)
    assert merged["clv"].tolist() == [100.0, 300.0, 200.0]  # z gets the median
    assert merged["p_churn_h"].tolist() == pytest.approx([0.1, 0.3, 0.2])


def test_check_parameters_gives_clear_errors():
    costs = {"phone": 15.0}
    rr.check_parameters("t", "phone", costs, 0.3, 1000.0, 0.95)
    rr.check_parameters("auto", "phone", costs, 0.3, 1000.0, 0.95)
    rr.check_parameters("dr", "phone", costs, 0.3, 1000.0, 0.95)
    with pytest.raises(ValueError, match="learner must be 'auto'.*'dr'"):
        rr.check_parameters("s", "phone", costs, 0.3, 1000.0, 0.95)
    with pytest.raises(ValueError, match=r"'visit' has no cost.*\['phone'\]"):
        rr.check_parameters("t", "visit", costs, 0.3, 1000.0, 0.95)
    with pytest.raises(ValueError, match="candidate_share"):
        rr.check_parameters("t", "phone", costs, 0.0, 1000.0, 0.95)


def test_power_table_skips_effects_past_full_retention():
    table = rr.power_table(0.97, [0.01, 0.02, 0.05])
    assert table["effect"].tolist() == [0.01, 0.02]


def test_aum_kept_ratio_by_hand():
    frame = pd.DataFrame(
        {"aum_before": [1000.0, 1000.0, 0.0, 100.0], "aum_after": [1100.0, 0.0, 50.0, 1000.0]}
    )
    # kept 110%; left (0); no AUM before (0); capped at 3x
    assert rr.aum_kept_ratio(frame).tolist() == pytest.approx([1.1, 0.0, 0.0, 3.0])


def _best_by_enumeration(value, cost, budget, capacity, group, choice):
    """The optimum of the multiple-choice knapsack with capacities, by trying every subset."""
    import itertools

    codes, _ = pd.factorize(pd.Series(group))  # -1: no RM, no limit
    best = 0.0
    for size in range(len(value) + 1):
        for chosen in map(list, itertools.combinations(range(len(value)), size)):
            if cost[chosen].sum() > budget + 1e-9 or len(set(choice[chosen])) < size:
                continue
            limited = codes[chosen][codes[chosen] >= 0]
            if len(limited) and np.bincount(limited).max() > capacity:
                continue
            best = max(best, float(value[chosen].sum()))
    return best


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("presolve", [True, False])
def test_exact_targets_match_enumeration_with_offers_and_rm_capacity(seed, presolve):
    # Rows that can never bind are left out of the programme (groups with no more usable
    # customers than slots, customers with one usable option): the optimum must not move.
    rng = np.random.default_rng(seed)
    customers = rng.integers(0, 7, 12)
    value = np.round(rng.normal(40, 30, 12), 1)  # some options are not worth taking
    cost = np.round(rng.uniform(5, 30, 12), 1)
    group = np.array(rng.choice(["rm1", "rm2", "rm3", None], 12), dtype=object)
    capacity = int(rng.integers(1, 3))
    budget = float(cost.sum() * rng.uniform(0.2, 0.6))
    chosen = exact_targets(
        value, cost, budget, capacity, group, choice=customers, presolve=presolve, rel_gap=1e-9
    )
    expected = _best_by_enumeration(value, cost, budget, capacity, group, customers)
    assert value[chosen].sum() == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert cost[chosen].sum() <= budget + 1e-9
    assert len(set(customers[chosen])) == chosen.sum()
    assert (pd.Series(group[chosen]).dropna().value_counts() <= capacity).all()
