"""Unit tests for helpers.propensity: hand-computed answers on tiny hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from helpers import propensity
from helpers.propensity import (
    decile_table,
    gain_curve,
    holdout_metrics,
    reliability_table,
    top_k_capture,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """HistGradientBoosting's OpenMP threads spin badly on a shared, busy 2-core machine
    (FIELD-NOTES: oversubscription); tests run under xdist, so one thread each."""
    with threadpool_limits(limits=1):
        yield


# ============================================================================ evaluation
def test_decile_table_hand_computed():
    y = [1, 0, 1, 0, 0, 1, 0, 0, 0, 0]
    score = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    table = decile_table(y, score, bins=5)
    assert table["customers"].tolist() == [2, 2, 2, 2, 2]
    assert table["buyers"].tolist() == [1, 1, 1, 0, 0]
    assert table["rate"].tolist() == [0.5, 0.5, 0.5, 0.0, 0.0]
    # overall rate 3/10: lift of a 50% group is 0.5 / 0.3
    assert table["lift"].tolist() == pytest.approx([5 / 3, 5 / 3, 5 / 3, 0, 0])
    assert table["cumulative_capture"].tolist() == pytest.approx([1 / 3, 2 / 3, 1, 1, 1])
    # cumulative lift: (1/2)/.3, (2/4)/.3, (3/6)/.3, (3/8)/.3, (3/10)/.3
    assert table["cumulative_lift"].tolist() == pytest.approx([5 / 3, 5 / 3, 5 / 3, 1.25, 1.0])
    assert table.loc[0, "max_score"] == 0.9 and table.loc[0, "min_score"] == 0.8


def test_decile_table_uneven_sizes_and_input_order_does_not_matter():
    y = np.array([0, 1, 0, 0, 1, 0, 1])
    score = np.array([0.1, 0.9, 0.3, 0.2, 0.8, 0.4, 0.5])
    table = decile_table(y, score, bins=3)
    # 7 customers in 3 groups: 3, 2, 2 (first groups take the remainder)
    assert table["customers"].tolist() == [3, 2, 2]
    # ranked: .9(1) .8(1) .5(1) | .4(0) .3(0) | .2(0) .1(0)
    assert table["buyers"].tolist() == [3, 0, 0]
    shuffled = np.random.default_rng(0).permutation(7)
    again = decile_table(y[shuffled], score[shuffled], bins=3)
    pd.testing.assert_frame_equal(table, again)


def test_decile_table_ties_keep_input_order():
    # All scores tied: the stable sort keeps input order, so the buyer in row 0 is in group 1.
    table = decile_table([1, 0, 0, 0], [0.5, 0.5, 0.5, 0.5], bins=2)
    assert table["buyers"].tolist() == [1, 0]


def test_decile_table_rejects_bad_input():
    with pytest.raises(ValueError, match="cannot cut 3 customers into 5 groups"):
        decile_table([0, 1, 0], [0.1, 0.2, 0.3], bins=5)
    with pytest.raises(ValueError, match="0/1"):
        decile_table([0, 2, 0], [0.1, 0.2, 0.3], bins=2)
    with pytest.raises(ValueError, match="missing"):
        decile_table([0, 1, 0], [0.1, np.nan, 0.3], bins=2)
    with pytest.raises(ValueError, match="same length"):
        decile_table([0, 1], [0.1, 0.2, 0.3], bins=2)


def test_gain_curve_exact():
    curve = gain_curve([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1], points=None)
    assert curve["share_contacted"].tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert curve["share_captured"].tolist() == [0, 0.5, 1.0, 1.0, 1.0]
    assert np.isnan(curve.loc[0, "lift"])
    assert curve["lift"].tolist()[1:] == pytest.approx([2.0, 2.0, 4 / 3, 1.0])
    # a random score's gain curve ends at (1, 1) too, and has the requested resolution
    sampled = gain_curve(np.r_[np.ones(30), np.zeros(970)], np.arange(1000.0), points=10)
    assert len(sampled) == 11 and sampled["share_captured"].iloc[-1] == 1.0


def test_top_k_capture_hand_computed():
    y = [1, 0, 1, 0, 0, 0, 0, 0, 1, 0]
    score = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    table = top_k_capture(y, score, shares=(0.1, 0.25, 1.0))
    # 10% -> 1 contacted, 25% -> ceil(2.5) = 3 contacted, 100% -> 10
    assert table["contacted"].tolist() == [1, 3, 10]
    assert table["buyers"].tolist() == [1, 2, 3]
    assert table["capture"].tolist() == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert table["lift"].tolist() == pytest.approx([1 / 0.3, (2 / 3) / 0.3, 1.0])
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        top_k_capture(y, score, shares=(0,))


def test_holdout_metrics_and_single_class():
    metrics = holdout_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert metrics["roc_auc"] == pytest.approx(0.75)
    # Brier: mean of (.1^2, .4^2, .65^2, .2^2)
    assert metrics["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert metrics["base_rate"] == 0.5 and metrics["buyers"] == 2
    one_class = holdout_metrics([0, 0, 0], [0.1, 0.2, 0.3])
    assert np.isnan(one_class["roc_auc"]) and np.isnan(one_class["average_precision"])


def test_reliability_table():
    table = reliability_table([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.8], bins=2)
    assert table["mean_predicted"].tolist() == pytest.approx([0.2, 0.7])
    assert table["observed_rate"].tolist() == [0.0, 1.0]


# ============================================================================ affinity
@pytest.fixture
def four_customers():
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4"],
            "tier": ["x", "x", "y", "y"],
            "held_a": [True, True, True, False],
            "held_b": [True, True, False, False],
            "held_c": [False, False, True, True],
        }
    )


def test_product_affinity_hand_computed(four_customers):
    matrix = propensity.holding_matrix(four_customers, ["a", "b", "c"])
    assert matrix.index.tolist() == ["c1", "c2", "c3", "c4"]
    rules = propensity.product_affinity(matrix).set_index(["antecedent", "consequent"])
    # a -> b: both 2 of 4, P(b|a) = 2/3, P(b) = 1/2, lift 4/3
    assert rules.loc[("a", "b"), "both"] == 2
    assert rules.loc[("a", "b"), "support"] == pytest.approx(0.5)
    assert rules.loc[("a", "b"), "confidence"] == pytest.approx(2 / 3)
    assert rules.loc[("a", "b"), "lift"] == pytest.approx(4 / 3)
    # b -> a: P(a|b) = 1, P(a) = 3/4, lift 4/3
    assert rules.loc[("b", "a"), "confidence"] == pytest.approx(1.0)
    assert rules.loc[("b", "a"), "lift"] == pytest.approx(4 / 3)
    # a -> c: 1 of the 3 a-holders, P(c) = 1/2, lift 2/3; b -> c never together
    assert rules.loc[("a", "c"), "lift"] == pytest.approx(2 / 3)
    assert rules.loc[("b", "c"), "confidence"] == 0.0
    assert len(rules) == 6  # no self-rules


def test_also_hold_keeps_only_positive_association(four_customers):
    rules = propensity.product_affinity(propensity.holding_matrix(four_customers))
    table = propensity.also_hold(rules, top=2, min_support=0.1)
    pairs = list(zip(table["antecedent"], table["consequent"], strict=True))
    assert pairs == [("a", "b"), ("b", "a")]  # c has no partner with lift > 1
    assert table["rank"].tolist() == [1, 1]


def test_penetration_by_tier(four_customers):
    table = propensity.penetration_by_tier(four_customers, ["a", "b", "c"]).set_index("tier")
    assert table.loc["x", ["a", "b", "c"]].tolist() == [1.0, 1.0, 0.0]
    assert table.loc["y", ["a", "b", "c"]].tolist() == [0.5, 0.0, 1.0]
    assert table.loc["all", ["a", "b", "c"]].tolist() == [0.75, 0.5, 0.5]
    assert table.loc["all", "customers"] == 4


def test_holding_matrix_names_missing_flags(four_customers):
    with pytest.raises(KeyError, match="held_fund"):
        propensity.holding_matrix(four_customers, ["a", "fund"])


# ============================================================================ next best product
def _values(*rows):
    return pd.DataFrame(rows, columns=["product", "annual_value", "order"])


def test_next_best_product_tie_breaking():
    values = _values(("a", 100.0, 0), ("b", 300.0, 1), ("c", 100.0, 2))
    scores = pd.DataFrame(
        {
            "customer_id": ["highest_value", "equal_value", "equal_all", "floor", "held"],
            "p_a": [0.20, 0.30, 0.40, 0.04, np.nan],
            "p_b": [0.10, 0.10, 0.01, 0.01, np.nan],
            "p_c": [0.05, 0.05, 0.40, 0.03, 0.50],
        }
    )
    result = propensity.next_best_product(scores, values, min_probability=0.05)
    # row 1: a 20 vs b 30 vs c 5 -> b (expected value wins over probability)
    # row 2: a .3x100 = 30 equals b .1x300 = 30 -> a (higher probability)
    # row 3: a and c both .4 x 100 = 40 -> a (catalogue order); b below the floor
    # row 4: nothing reaches 5% -> no offer; row 5: only c (a and b already held)
    assert result["product"].tolist() == ["b", "a", "a", None, "c"]
    assert result["expected_value"].tolist()[:3] == pytest.approx([30.0, 30.0, 40.0])
    assert np.isnan(result.loc[3, "probability"])
    assert result["candidates"].tolist() == [3, 3, 2, 0, 1]
    # reversing the catalogue order flips only the full tie
    reversed_values = values.assign(order=[2, 1, 0])
    flipped = propensity.next_best_product(scores, reversed_values, min_probability=0.05)
    assert flipped["product"].tolist() == ["b", "a", "c", None, "c"]


def test_product_values_from_catalogue_and_unknown_products():
    values = propensity.product_values(["wealth_mgmt", "fund", "caravan"]).set_index("product")
    assert values.loc["wealth_mgmt", "annual_value"] == 900
    assert values.loc["fund", "annual_value"] == 700
    # catalogue order: wealth_mgmt is listed before fund
    assert values.loc["wealth_mgmt", "order"] < values.loc["fund", "order"]
    assert not values.loc["caravan", "in_catalogue"]
    assert values.loc["caravan", "annual_value"] == 1.0
    assert values.loc["caravan", "order"] > values.loc["fund", "order"]


def test_next_best_product_errors():
    with pytest.raises(ValueError, match="min_probability"):
        propensity.next_best_product(pd.DataFrame({"customer_id": [], "p_a": []}), None, 2)
    with pytest.raises(ValueError, match="no p_<product>"):
        propensity.next_best_product(pd.DataFrame({"customer_id": ["x"]}))
    with pytest.raises(KeyError, match="no annual value"):
        propensity.next_best_product(
            pd.DataFrame({"customer_id": ["x"], "p_z": [0.5]}), _values(("a", 1.0, 0))
        )


def test_call_lists_capacity_order_and_pools():
    recommendations = pd.DataFrame(
        {
            "customer_id": ["1", "2", "3", "4", "5", "6"],
            "product": ["a", "a", "b", None, "a", "b"],
            "probability": [0.5, 0.4, 0.2, np.nan, 0.3, 0.3],
            "expected_value": [50.0, 40.0, 60.0, np.nan, 30.0, 30.0],
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["1", "2", "3", "4", "5", "6"],
            "rm_id": ["R2", "R1", "R1", "R1", None, "R1"],
            "name": ["张三", "李四", "王五", "赵六", "钱七", "孙八"],
        }
    )
    lists = propensity.call_lists(recommendations, customers, capacity=2)
    # R1: 3 (60), 2 (40), 6 (30) -> capacity 2 keeps 3 and 2; 4 has no offer
    # R2: 1; unassigned pool (rm None) last: 5
    assert lists["customer_id"].tolist() == ["3", "2", "1", "5"]
    assert lists["rm_id"].tolist() == ["R1", "R1", "R2", None]
    assert lists["rank"].tolist() == [1, 2, 1, 1]
    assert "name" in lists.columns
    flat = propensity.call_lists(recommendations, customers[["customer_id"]], capacity=3)
    assert flat["customer_id"].tolist() == ["3", "1", "2"]  # one pool
    with pytest.raises(ValueError, match="capacity"):
        propensity.call_lists(recommendations, customers, capacity=0)


def test_reasons_in_words():
    contributions = pd.DataFrame(
        {"payroll": [0.9, -0.2], "aum": [0.3, 0.01], "age": [0.02, -0.1]}, index=[10, 11]
    )
    values = pd.DataFrame(
        {"payroll": [True, False], "aum": [523000.4, 12.5], "age": [40, 30]}, index=[10, 11]
    )
    texts = propensity.reasons_in_words(contributions, values, lang="en", top=3)
    # age's 0.02 is below the 0.05 threshold; customer 11 has nothing raising the score
    assert texts.loc[10].split("; ")[0].endswith(": yes")
    assert texts.loc[10].split("; ")[1].endswith(": 523,000")
    assert len(texts.loc[10].split("; ")) == 2
    assert texts.loc[11] == ""


# ============================================================================ features
def test_feature_columns_excludes_ids_labels_and_future_columns():
    frame = pd.DataFrame(
        {
            "customer_id": ["1", "2", "3"],
            "as_of": pd.to_datetime(["2026-04-30"] * 3),
            "rm_id": ["r1", "r2", "r3"],
            "age": [30, 40, 50],
            "payroll": [True, False, True],
            "channel": ["branch", "mobile", "branch"],
            "free_text": ["x1", "x2", "x3"],
            "constant": [1.0, 1.0, 1.0],
            "opened": pd.to_datetime(["2020-01-01", "2021-01-01", "2022-01-01"]),
            "held_fund": [True, False, False],
            "held_insurance": [False, True, False],
            "took_insurance": [pd.NA, True, False],
            "churn_label": [False, True, False],
            "duration": [10, 20, 30],
            "event": [False, True, False],
            "entry": [0, 1, 2],
        }
    )
    frame["product_count"] = [1, 1, 0]
    numeric, categorical = propensity.feature_columns(frame, "insurance", max_categories=2)
    assert numeric == ["age", "payroll", "held_fund", "product_count"]
    assert categorical == ["channel"]  # free_text has 3 values > max_categories
    # flat mode: the target is the held_ flag, and product_count counts it: excluded;
    # duration is plain tenure there, so it is a feature
    numeric, _ = propensity.feature_columns(frame, "insurance", max_categories=2, mode="flat")
    assert numeric == ["age", "payroll", "held_fund", "duration"]


def test_shift_month():
    assert propensity.shift_month("2026-10", -6) == "2026-04"
    assert propensity.shift_month("2026-02", -3) == "2025-11"


# ============================================================================ models
def _synthetic_bank(customers=5000, seed=1):
    """Customers with two products whose true take-up logits are known."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer_id": [f"{i:07d}" for i in range(customers)],
            "age": rng.integers(20, 70, customers),
            "aum": rng.lognormal(10, 1.5, customers),
            "payroll": rng.random(customers) < 0.3,
            "channel": rng.choice(["branch", "mobile", "payroll"], customers),
            "noise": rng.normal(size=customers),
            "held_fund": rng.random(customers) < 0.2,
            "held_insurance": rng.random(customers) < 0.1,
            "held_rare": False,
        }
    )
    true_fund = 1 / (1 + np.exp(-(-3 + 0.8 * np.log(frame.aum / 20000) + 1.2 * frame.payroll)))
    true_insurance = 1 / (1 + np.exp(-(-3 + 0.06 * (frame.age - 45))))
    frame["took_fund"] = pd.array(rng.random(customers) < true_fund, dtype="boolean")
    frame["took_insurance"] = pd.array(rng.random(customers) < true_insurance, dtype="boolean")
    frame["took_rare"] = pd.array(np.arange(customers) < 3, dtype="boolean")
    frame.loc[frame.held_fund, "took_fund"] = pd.NA
    frame.loc[frame.held_insurance, "took_insurance"] = pd.NA
    truth = pd.DataFrame({"fund": true_fund, "insurance": true_insurance})
    return frame, truth


@pytest.fixture(scope="module")
def fitted():
    frame, truth = _synthetic_bank()
    models = propensity.CrossSellModels(products=["fund", "insurance", "rare"], seed=5).fit(frame)
    return frame, truth, models


def test_models_recover_known_signal(fitted):
    frame, truth, models = fitted
    assert models.mode_ == "panel"
    assert models.products_ == ["fund", "insurance"]
    assert "rare" in models.skipped_ and "need at least 20" in models.skipped_["rare"]
    holdout = models.holdout_
    for product in models.products_:
        part = holdout[holdout["product"] == product]
        rows = frame.set_index("customer_id").index.get_indexer(part["customer_id"])
        true_auc = holdout_metrics(part["y"], truth[product].to_numpy()[rows])["roc_auc"]
        model_auc = models.metrics_.set_index("product").loc[product, "roc_auc"]
        assert model_auc > true_auc - 0.04, (product, model_auc, true_auc)
        # calibrated: the mean probability is close to the observed rate on the holdout
        assert part["probability"].mean() == pytest.approx(part["y"].mean(), abs=0.02)
    comparison = models.comparison_
    assert set(comparison["model"]) == {"logistic", "hgb"}
    assert comparison.groupby("product")["chosen"].sum().tolist() == [1, 1]
    assert (comparison["roc_auc_mean"] > 0.6).all()


def test_holdout_excludes_holders_and_is_never_trained_on(fitted):
    frame, _, models = fitted
    holdout = models.holdout_
    fund = holdout[holdout["product"] == "fund"]
    holders = set(frame.loc[frame["held_fund"], "customer_id"])
    assert not holders & set(fund["customer_id"])
    assert set(fund["customer_id"]) <= set(models.holdout_customers_)
    share = len(models.holdout_customers_) / len(frame)
    assert share == pytest.approx(0.25, abs=0.001)


def test_permutation_importance_ranks_true_drivers_first(fitted):
    frame, _, models = fitted
    importances = models.permutation_importances(frame, n_repeats=3)
    fund = importances[importances["product"] == "fund"].set_index("feature")
    assert set(fund.index[fund["rank"] <= 2]) == {"aum", "payroll"}
    insurance = importances[importances["product"] == "insurance"]
    assert insurance.iloc[0]["feature"] == "age"


def test_predict_is_nan_for_holders_and_deterministic(fitted):
    frame, _, models = fitted
    scores = models.predict(frame)
    assert scores["p_fund"].isna().tolist() == frame["held_fund"].tolist()
    assert scores["p_fund"].dropna().between(0, 1).all()
    again = propensity.CrossSellModels(products=["fund", "insurance"], seed=5).fit(frame)
    pd.testing.assert_frame_equal(scores, again.predict(frame))
    long = models.predict_long(frame)
    assert len(long) == scores[["p_fund", "p_insurance"]].notna().sum().sum()


def test_logistic_contributions_add_up_to_the_score(fitted):
    frame, _, models = fitted
    product = "fund"
    assert models.chosen_[product] == "logistic"  # the truth is logistic in log(aum)
    sample = frame.iloc[:20]
    contributions = models.contributions(sample, product)
    base = models.base_models_[product]
    numeric, categorical = models.features_[product]
    design = propensity.design_matrix(sample, numeric, categorical)
    logit = base.decision_function(design)
    model = base.named_steps["model"]
    at_centre = model.intercept_[0] + models._centre[product] @ model.coef_[0]
    np.testing.assert_allclose(contributions.sum(axis=1), logit - at_centre, atol=1e-9)
    # payroll customers get a positive payroll contribution, others a negative one
    payroll = sample["payroll"].to_numpy()
    assert (contributions["payroll"].to_numpy()[payroll] > 0).all()
    assert (contributions["payroll"].to_numpy()[~payroll] < 0).all()


def test_hgb_contributions_are_zero_at_the_reference():
    frame, _ = _synthetic_bank(customers=3000, seed=2)
    models = propensity.CrossSellModels(products=["fund"], candidates=("hgb",), seed=1).fit(frame)
    assert models.chosen_["fund"] == "hgb"
    sample = frame.iloc[:10].copy()
    reference = models.reference_["fund"].iloc[0]
    sample["aum"] = reference["aum"]
    contributions = models.contributions(sample, "fund")
    assert (contributions["aum"] == 0).all()
    assert contributions.shape == (10, len(sum(models.features_["fund"], [])))


def test_flat_mode_uses_holdings_as_targets():
    frame, _ = _synthetic_bank(customers=3000, seed=3)
    flat = frame.drop(columns=[c for c in frame.columns if c.startswith("took_")])
    # make holding depend on payroll so there is something to find
    rng = np.random.default_rng(0)
    flat["held_fund"] = rng.random(len(flat)) < np.where(flat["payroll"], 0.5, 0.1)
    models = propensity.CrossSellModels(products=["fund"], seed=0).fit(flat)
    assert models.mode_ == "flat"
    assert models.metrics_.loc[0, "roc_auc"] > 0.6
    scores = models.predict(flat, exclude_holders=False)
    assert scores["p_fund"].notna().all()  # holders can be scored too (look-alike score)
    offers = models.predict(flat)  # but nobody is offered what they hold
    assert offers["p_fund"].isna().tolist() == flat["held_fund"].tolist()
    texts = models.reasons(flat.iloc[:30], pd.Series(["fund"] * 30), lang="en")
    payroll_rows = flat.iloc[:30]["payroll"].to_numpy()
    assert texts[payroll_rows].str.contains("Payroll customer: yes").all()


def test_bad_parameters_and_data_give_clear_errors():
    frame, _ = _synthetic_bank(customers=300)
    with pytest.raises(ValueError, match="candidates"):
        propensity.CrossSellModels(candidates=("forest",)).fit(frame)
    with pytest.raises(ValueError, match="calibration"):
        propensity.CrossSellModels(calibration="magic").fit(frame)
    with pytest.raises(ValueError, match="holding flags"):
        propensity.CrossSellModels().fit(frame[["customer_id", "age"]])
    with pytest.raises(RuntimeError, match="fit"):
        propensity.CrossSellModels().predict(frame)
