"""Unit tests of the decision layer of 04: offer rules, segment effects, joint choice, ANCOVA,
the evidence gate. Small frames whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import retention as rr

RULES = {
    "campaign_population": {"min_aum": 2000, "at_risk_share": 1.0},
    "uplift_features": ["aum", "tier", "contacts_3m"],
    "offers": {
        "rate_coupon": {
            "cost": {"kind": "aum_rate", "annual_rate": 0.005, "months": 12, "cap": 3000},
            "reach": [{"column": "aum", "min": 20000}],
        },
        "fee_waiver": {
            "cost": {"kind": "fixed", "amount": 50},
            "reach": [
                {"column": "digital_logins_3m", "min": 12},
                {"column": "digital_logins_avg_3m", "min": 4},
                {"column": "aum", "max": 50000},
            ],
        },
    },
}


# ----------------------------------------------------------------------------- offer rules
def test_the_bundled_offer_rules_load():
    rules = rr.offer_rules()
    assert set(rules["offers"]) == {"rate_coupon", "fee_waiver"}
    assert rules["campaign_population"]["min_aum"] == 2000


def test_bad_offer_rules_list_every_problem(tmp_path):
    path = tmp_path / "offers.yaml"
    path.write_text(
        "campaign_population: {at_risk_share: 0}\n"
        "offers:\n"
        "  coupon: {cost: {kind: percent}}\n"
        "  waiver: {cost: {kind: fixed}, reach: [{column: aum}]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError) as error:
        rr.offer_rules(path)
    message = str(error.value)
    assert str(path) in message
    assert "campaign_population.at_risk_share must be in (0, 1]" in message
    assert "offers.coupon.cost.kind must be one of ('fixed', 'aum_rate'), not 'percent'" in message
    assert "offers.waiver.cost.amount (RMB) is missing or not a number" in message
    assert "offers.waiver.reach[0] must be {column: <name>, min: value} and/or max" in message


def test_costs_follow_each_offers_rule_customer_by_customer():
    frame = pd.DataFrame({"aum": [100_000.0, 1_000_000.0, np.nan]})
    costs = rr.offer_cost_matrix(frame, ["rate_coupon", "fee_waiver", "other"], RULES)
    # 0.5% a year for 12 months: 500; capped at 3,000; no balance known: the cap, never free
    assert costs["rate_coupon"].tolist() == [500.0, 3000.0, 3000.0]
    assert costs["fee_waiver"].tolist() == [50.0] * 3
    assert costs["other"].tolist() == [50.0] * 3  # no rule: the default
    overridden = rr.offer_cost_matrix(frame, ["rate_coupon"], RULES, {"rate_coupon": 80.0})
    assert overridden["rate_coupon"].tolist() == [80.0] * 3


def test_an_offer_reaches_only_whom_its_conditions_allow():
    panel = pd.DataFrame(
        {"aum": [10_000.0, 30_000.0, 60_000.0, 30_000.0], "digital_logins_3m": [20, 20, 20, 3]}
    )
    reach = rr.reach_matrix(panel, ["rate_coupon", "fee_waiver"], RULES)
    assert reach["rate_coupon"].tolist() == [False, True, True, True]
    # digital (12+ logins in 3 months) and below the 50,000 fee exemption
    assert reach["fee_waiver"].tolist() == [True, True, False, False]
    flat = pd.DataFrame({"aum": [30_000.0, 30_000.0], "digital_logins_avg_3m": [5.0, 1.0]})
    assert rr.reach_matrix(flat, ["fee_waiver"], RULES)["fee_waiver"].tolist() == [True, False]
    assert rr.reach_notes(flat, ["fee_waiver"], RULES) == []
    bare = pd.DataFrame({"tier": ["mass"]})
    assert [n.key for n in rr.reach_notes(bare, ["rate_coupon"], RULES)] == [
        "rr_note_reach_unchecked"
    ]


def test_candidates_meet_the_campaigns_eligibility_rules():
    frame = pd.DataFrame(
        {
            "aum": [1000.0, 3000.0, 5000.0, 7000.0, 90_000.0],
            "tier": ["mass", "mass", "mass", "mass", "affluent"],
            "p_churn_h": [0.9, 0.1, 0.5, 0.3, 0.2],
        }
    )
    assert rr.campaign_population(frame, RULES).tolist() == [False, True, True, True, True]
    half = {"campaign_population": {"min_aum": 2000, "at_risk_share": 0.5}}
    # within each tier, the riskier half of the eligible: mass 3 eligible -> 2, affluent 1 -> 1
    assert rr.campaign_population(frame, half).tolist() == [False, False, True, True, True]


# ----------------------------------------------------------------------------- segments
def _campaign(counts):
    """Rows from {segment: (kept_treated, n_treated, kept_control, n_control)}."""
    rows = []
    for segment, (kt, nt, kc, nc) in counts.items():
        rows += [("offer", True, segment)] * kt + [("offer", False, segment)] * (nt - kt)
        rows += [("control", True, segment)] * kc + [("control", False, segment)] * (nc - kc)
    return pd.DataFrame(rows, columns=["arm", "retained", "segment"])


def test_segment_effects_by_hand():
    frame = _campaign({"a": (90, 100, 80, 100), "b": (45, 50, 40, 50)})
    table = rr.segment_effects(frame, "offer", frame["segment"]).set_index("segment")
    assert table.loc["a", "effect"] == pytest.approx(0.10)
    assert table.loc["a", "churn_treated"] == pytest.approx(0.10)
    # churn 10% vs 20%: relative risk with a half added to churners and customers
    assert table.loc["a", "rrr"] == pytest.approx(1 - 10.5 / 20.5)
    assert table.loc["a", "rrr_low"] < table.loc["a", "rrr"] < table.loc["a", "rrr_high"]
    # the segments agree: no differences beyond noise, both get the pooled reduction
    assert table["weight"].tolist() == [0.0, 0.0]
    assert table["shrunk"].tolist() == pytest.approx([1 - 15.5 / 30.5] * 2)


def test_shrinkage_keeps_real_differences_and_discounts_small_segments():
    frame = _campaign(
        {"big_yes": (950, 1000, 800, 1000), "big_no": (800, 1000, 800, 1000), "tiny": (5, 5, 3, 5)}
    )
    table = rr.segment_effects(frame, "offer", frame["segment"]).set_index("segment")
    assert table.loc["big_yes", "shrunk"] > 0.6 > table.loc["big_no", "shrunk"] + 0.5
    assert table.loc["tiny", "weight"] < table.loc["big_yes", "weight"]
    # a segment with too few customers in an arm takes the pooled value
    few = _campaign({"a": (90, 100, 80, 100), "b": (2, 3, 1, 3)})
    table = rr.segment_effects(few, "offer", few["segment"]).set_index("segment")
    assert np.isnan(table.loc["b", "rrr"]) and table.loc["b", "shrunk"] == table.loc["b", "pooled"]


def test_horizon_risk_and_the_plans_value_interval():
    # 10% over 6 months is a constant hazard; over 12 months 1 - 0.9^2
    assert rr.horizon_risk([0.1], 6, 12)[0] == pytest.approx(0.19)
    plan = pd.DataFrame(
        {
            "best_offer": ["a", "a", "b"],
            "clv": [1000.0, 3000.0, 2000.0],
            "uplift_se": [0.01, 0.02, 0.05],
            "net_value": [10.0, 20.0, 30.0],
        }
    )
    value, low, high = rr.value_interval(plan, 0.95)
    # offer a: 1000 x .01 + 3000 x .02 = 70 (errors add up); b: 100; independent offers
    sd = np.sqrt(70**2 + 100**2)
    assert value == 60.0
    assert (low, high) == pytest.approx((60 - 1.959964 * sd, 60 + 1.959964 * sd))


# ----------------------------------------------------------------------------- joint choice
def _options(rows, rm=None):
    frame = pd.DataFrame(rows, columns=["customer_id", "offer", "net_value", "cost"])
    frame["gross_value"] = frame["net_value"] + frame["cost"]
    frame["rm_id"] = rm
    return frame


def test_joint_choice_beats_picking_the_best_offer_first():
    # A: a1 worth 60 for 90 or a2 worth 50 for 40; B: b1 worth 45 for 50; budget 100.
    # Best offer first (a1) leaves no room for B: 60. Together: a2 + b1 = 95.
    options = _options([("A", "a1", 60, 90), ("A", "a2", 50, 40), ("B", "b1", 45, 50)])
    chosen, info = rr.choose_offers_and_targets(options, 100.0)
    assert set(options.loc[chosen, "offer"]) == {"a2", "b1"}
    assert info == {"method": "exact", "value": 95.0, "bound": 95.0, "gap": 0.0}
    greedy = rr.greedy_choice(options["net_value"], options["cost"], options["customer_id"], 100)
    assert set(options.loc[greedy, "offer"]) == {"a2", "b1"}
    bound = rr.lagrangian_bound(options["net_value"], options["cost"], options["customer_id"], 100)
    assert bound >= 95.0 - 1e-9
    # with a budget to spare, greedy upgrades A to its better offer
    rich = rr.greedy_choice(options["net_value"], options["cost"], options["customer_id"], 1000)
    assert set(options.loc[rich, "offer"]) == {"a1", "b1"}


def test_rm_capacity_binds_the_choice_and_the_bound():
    options = _options([("A", "a1", 60, 90), ("A", "a2", 50, 40), ("B", "b1", 45, 50)], "RM1")
    chosen, info = rr.choose_offers_and_targets(options, 100.0, capacity=1)
    assert options.loc[chosen, "offer"].tolist() == ["a1"] and info["value"] == 60.0
    values = options["net_value"], options["cost"], options["customer_id"]
    assert rr.lagrangian_bound(*values, 100.0, 1, options["rm_id"]) >= 60.0 - 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_is_feasible_and_the_bound_is_above_the_optimum(seed):
    rng = np.random.default_rng(seed)
    n = 60
    options = _options(
        {
            "customer_id": np.repeat(np.arange(30), 2).astype(str),
            "offer": ["a", "b"] * 30,
            "net_value": rng.uniform(-20, 100, n),
            "cost": rng.uniform(5, 80, n),
        },
        np.repeat(rng.choice(np.array(["R1", "R2", None], dtype=object), n // 2), 2),
    )  # a customer's offers share their RM
    values = options["net_value"], options["cost"], options["customer_id"]
    greedy = rr.greedy_choice(*values, 500.0, 4, options["rm_id"])
    exact, info = rr.choose_offers_and_targets(options, 500.0, 4)
    bound = rr.lagrangian_bound(*values, 500.0, 4, options["rm_id"])
    for chosen in (greedy, exact):
        picked = options[chosen]
        assert picked["cost"].sum() <= 500.0 + 1e-6 and picked["customer_id"].is_unique
        assert picked["rm_id"].dropna().value_counts().max() <= 4
    assert options.loc[greedy, "net_value"].sum() <= info["value"] + 1e-6 <= bound + 1e-6


def test_the_budget_curve_uses_the_same_choice():
    options = _options([("A", "a1", 60, 90), ("A", "a2", 50, 40), ("B", "b1", 45, 50)])
    curve = rr.choice_budget_curve(options, [40.0, 100.0, 200.0])
    assert curve["expected_net"].tolist() == [50.0, 95.0, 105.0]
    assert curve["spend"].tolist() == [40.0, 90.0, 140.0]
    assert curve["roi"].tolist() == pytest.approx([50 / 40, 95 / 90, 105 / 140])


# ----------------------------------------------------------------------------- ANCOVA
def test_ancova_removes_chance_imbalance_in_the_pre_period_balance():
    rng = np.random.default_rng(4)
    n = 400
    before = rng.lognormal(10, 1, 2 * n)
    before[:n] *= 1.5  # the treated arm happens to start richer
    treated = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    after = 0.9 * before + 1000 * treated + rng.normal(0, 500, 2 * n)
    raw = after[treated].mean() - after[~treated].mean()
    result = rr.ancova_difference(
        after[treated], before[treated], after[~treated], before[~treated]
    )
    assert abs(raw - 1000) > 5000  # the imbalance shows up as a fake effect
    assert result["ci_low"] < 1000 < result["ci_high"] and result["p_value"] < 1e-6
    # the same numbers as ordinary least squares of after on [1, treated, before - mean]
    design = np.column_stack([np.ones(2 * n), treated, before - before.mean()])
    beta = np.linalg.lstsq(design, after, rcond=None)[0]
    assert result["difference"] == pytest.approx(beta[1])
    assert result["slope"] == pytest.approx(beta[2])
    with pytest.raises(rr.CampaignDataError, match="each arm needs at least two complete rows"):
        rr.ancova_difference([1.0], [1.0], [1.0, 2.0], [1.0, 2.0])


def test_evaluate_campaign_adjusts_aum_after_for_aum_before():
    frame = pd.DataFrame(
        {
            "arm": ["control", "offer"] * 50,
            "retained": [True] * 100,
            "aum_before": np.arange(100.0) * 10,
            "aum_after": np.arange(100.0) * 10 + np.tile([0.0, 5.0], 50),
        }
    )
    table = rr.evaluate_campaign(frame).set_index("metric")
    assert table.loc["aum_after", "test"] == "ancova (aum_before)"
    assert table.loc["aum_after", "difference"] == pytest.approx(5.0)
    assert table.loc["aum_after_unadjusted", "test"] == "welch t"
    assert table.loc["aum_after_unadjusted", "difference"] == pytest.approx(15.0)


# ----------------------------------------------------------------------------- the gate
def _coefficients(rows):
    return pd.DataFrame(rows, columns=["offer", "score", "qini", "lower", "upper", "beats_risk"])


def test_the_gate_needs_a_lower_bound_above_zero_and_a_win_over_risk():
    coefficients = _coefficients(
        [
            ("a", "t", 0.010, 0.002, 0.02, 0.9), ("a", "dr", 0.008, 0.001, 0.02, 0.8),
            ("a", "risk", 0.004, -0.001, 0.01, np.nan),
            ("b", "t", 0.005, -0.001, 0.01, 0.7), ("b", "risk", 0.001, -0.004, 0.006, np.nan),
            ("c", "t", 0.005, 0.001, 0.01, 0.3), ("c", "risk", 0.006, 0.002, 0.01, np.nan),
        ]
    )  # fmt: skip
    chosen = rr.choose_learners(coefficients, "auto")
    assert chosen == {"a": "t", "b": "t", "c": "t"}
    assert rr.choose_learners(coefficients, "dr")["a"] == "dr"
    gate = rr.uplift_evidence(coefficients, chosen).set_index("offer")
    assert gate["uses_model"].tolist() == [True, False, False]
    assert gate.loc["b", "beats_random"] == False and gate.loc["c", "beats_risk"] == False  # noqa: E712
    keys = [note.key for note in rr.evidence_notes(gate.reset_index())]
    assert keys == [
        "rr_evidence_model", "rr_evidence_not_above_random", "rr_evidence_not_above_risk"
    ]  # fmt: skip


def test_targeting_outcomes_are_measured_on_the_outcomes():
    arm = np.array(["offer", "control"] * 50)
    retained = np.r_[np.tile([1, 0], 15), np.tile([1, 1], 35)]
    # the first 30 customers: treated stay, control leave; the score ranks them first
    score = np.r_[np.ones(30), np.zeros(70)]
    table = rr.targeting_outcomes({"uplift": score}, arm, retained, "offer", share=0.3, seed=0)
    row = table.set_index("strategy").loc["uplift"]
    assert row["contacts"] == 30 and row["difference"] == pytest.approx(1.0)
    assert row["saved"] == pytest.approx(30.0) and row["saved_low"] < 30.0
    assert set(table["strategy"]) == {"uplift", "random"}


def _bound_by_group_by(value, cost, customer, budget, capacity=None, group=None):
    """The Lagrangian bound with pandas group-bys per evaluation (the first implementation)."""
    from helpers.retention import targeting

    value, cost = np.asarray(value, float), np.asarray(cost, float)
    customers = targeting._codes(customer)
    group = None if group is None else np.asarray(group, dtype=object)
    codes, slots = targeting._capacity_limits(group, capacity, len(value))
    customer_group = pd.Series(codes).groupby(customers).first().to_numpy()

    def bound(lam):
        reduced = np.maximum(pd.Series(value - lam * cost).groupby(customers).max().to_numpy(), 0)
        order = np.lexsort((-reduced, customer_group))
        rank = pd.Series(customer_group[order]).groupby(customer_group[order]).cumcount()
        keep = rank.to_numpy() < slots[customer_group[order]]
        return lam * float(budget) + float(reduced[order][keep].sum())

    low, high = 0.0, float(np.max(np.where(cost > 0, value / cost, 0.0))) + 1.0
    for _ in range(60):
        a, b = low + (high - low) / 3, high - (high - low) / 3
        low, high = (low, b) if bound(a) <= bound(b) else (a, high)
    return min(bound(low), bound(high), bound(0.0))


@pytest.mark.parametrize("capacity", [None, 1, 3])
def test_the_sorted_lagrangian_bound_equals_the_group_by_one(capacity):
    rng = np.random.default_rng(7)
    n = 3000
    customer = np.array([f"c{int(i)}" for i in rng.integers(0, 900, n)])
    value, cost = rng.normal(10, 25, n), rng.uniform(1, 60, n)
    group = np.array([f"rm{int(c[1:]) % 41}" for c in customer], dtype=object)
    expected = _bound_by_group_by(value, cost, customer, 4000.0, capacity, group)
    # the same bound function, searched by golden section instead of the oracle's ternary
    # search: the same minimum to 1e-9
    found = rr.lagrangian_bound(value, cost, customer, 4000.0, capacity, group)
    assert found == pytest.approx(expected, rel=1e-9)
