"""Tests for helpers.tiering: hand-computed answers on tiny hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import config, months, tiering
from helpers.tiering import (
    BehaviourClusters,
    assign_segments,
    fishpond_grid,
    potential_scores,
    quantile_scores,
    score_customers,
    segment_summary,
    strategy_for,
    value_bands,
    with_product_count,
)

# --------------------------------------------------------------------------------------------
# Tier boundaries
# --------------------------------------------------------------------------------------------


def test_tier_boundaries_lower_inclusive_upper_exclusive():
    values = [0, 49_999.99, 50_000, 499_999.99, 500_000, 5_999_999.99, 6_000_000, 1e10]
    tiers = config.assign_tiers(values)
    assert tiers.tolist() == [
        "mass", "mass", "affluent", "affluent", "wealth", "wealth", "private", "private",
    ]  # fmt: skip
    assert tiers.cat.ordered and list(tiers.cat.categories) == [
        "mass",
        "affluent",
        "wealth",
        "private",
    ]


def test_negative_aum_is_lowest_tier_and_missing_aum_has_no_tier():
    tiers = config.assign_tiers(pd.Series([-250.0, np.nan, 50_000.0], index=["a", "b", "c"]))
    assert tiers["a"] == "mass"
    assert pd.isna(tiers["b"])
    assert tiers["c"] == "affluent"
    assert list(tiers.index) == ["a", "b", "c"]


def test_missing_aum_can_be_refused_with_the_rows_named():
    with pytest.raises(ValueError, match=r"1 customers have no AUM value.*rows \[1\]"):
        config.assign_tiers([10.0, None, 20.0], missing="raise")


def test_text_aum_is_a_clear_error():
    with pytest.raises(ValueError, match=r"rows \[1\] hold \['1,234.50'\]"):
        config.assign_tiers(pd.Series([10.0, "1,234.50"], dtype=object))


def test_thresholds_override_changes_tiers():
    ladder = config.resolve_ladder([100_000, 1_000_000, 10_000_000])
    assert ladder["lower"].tolist() == [0, 100_000, 1_000_000, 10_000_000]
    assert ladder["upper"].tolist()[:3] == [100_000, 1_000_000, 10_000_000]
    tiers = config.assign_tiers([50_000, 100_000, 6_000_000, 10_000_000], ladder)
    assert tiers.tolist() == ["mass", "affluent", "wealth", "private"]


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ([50_000, 500_000], "needs 3 lower bounds"),
        ([50_000, 40_000, 6_000_000], "strictly increasing"),
        ([0, 500_000, 6_000_000], "strictly increasing"),
        (["a", 1, 2], "must be numbers"),
    ],
)
def test_bad_thresholds_are_explained(thresholds, message):
    with pytest.raises(ValueError, match=message):
        config.resolve_ladder(thresholds)


def test_tiers_from_labels_matches_names_and_keeps_unknown_labels():
    tiers, ladder = tiering.tiers_from_labels(pd.Series(["财富客户", " Mass ", "private", None]))
    assert tiers.tolist()[:3] == ["wealth", "mass", "private"] and pd.isna(tiers.iloc[3])
    assert tiers.cat.ordered and list(ladder["code"]) == ["mass", "affluent", "wealth", "private"]
    own, own_ladder = tiering.tiers_from_labels(pd.Series(["金卡", "普卡", "金卡"]))
    assert own.tolist() == ["金卡", "普卡", "金卡"]
    assert own_ladder["code"].tolist() == ["普卡", "金卡"] and own_ladder["lower"].isna().all()


# --------------------------------------------------------------------------------------------
# Quantile scores with ties
# --------------------------------------------------------------------------------------------


def test_quantile_scores_distinct_values():
    assert quantile_scores(pd.Series([50, 10, 40, 20, 30])).tolist() == [5, 1, 4, 2, 3]


def test_quantile_scores_ties_share_a_score():
    # below counts: zeros 0 -> 1; 5 has 4 below -> 1 + 20 // 10 = 3; 6 -> 1 + 25 // 10 = 3;
    # 7 -> 1 + 30 // 10 = 4; 8 -> 4; 9 -> 1 + 40 // 10 = 5; 10 -> 5. Band 2 is empty.
    values = pd.Series([0, 0, 0, 0, 5, 6, 7, 8, 9, 10])
    assert quantile_scores(values).tolist() == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]


def test_quantile_scores_do_not_depend_on_row_order():
    values = pd.Series([3, 1, 3, 2, 3, 1, 5, 5, 4, 0, 2, 3], index=list("abcdefghijkl"))
    scores = quantile_scores(values)
    shuffled = values.sample(frac=1, random_state=7)
    assert quantile_scores(shuffled).sort_index().equals(scores.sort_index())
    # every tie gets one score
    assert scores.groupby(values).nunique().max() == 1


def test_quantile_scores_lower_is_better_and_missing_is_worst():
    days = pd.Series([1.0, 400.0, np.nan, 30.0, 5.0])
    # negated: -1 > -5 > -30 > -400; below counts 3, 0, -, 1, 2 of 4 -> 1 + 5*b//4
    assert quantile_scores(days, higher_is_better=False).tolist() == [4, 1, 1, 2, 3]


def test_quantile_scores_all_equal():
    assert quantile_scores(pd.Series([7, 7, 7])).tolist() == [1, 1, 1]


def _scoring_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5"],
            "txn_recency_days": [2, 10, 30, 90, 365],
            "txn_count_12m": [120, 60, 30, 12, 0],
            "aum": [900_000.0, 20_000.0, 300_000.0, 5_000.0, 700_000.0],
            "held_time_deposit": [True, False, True, False, True],
            "held_fund": [True, False, False, False, True],
            "held_current_account": [True] * 5,
            "digital_logins_3m": [30, 20, 10, 0, 0],
            "contacts_3m": [0, 3, 2, 1, 4],
        }
    )


def test_score_customers_hand_computed():
    scores = score_customers(_scoring_frame())
    assert scores["score_recency"].tolist() == [5, 4, 3, 2, 1]
    assert scores["score_frequency"].tolist() == [5, 4, 3, 2, 1]
    assert scores["score_monetary"].tolist() == [5, 2, 3, 1, 4]
    # product_count from held_* without the current account: 2, 0, 1, 0, 2 -> ties share
    assert scores["score_depth"].tolist() == [4, 1, 3, 1, 4]
    # engagement = mean of digital [5,4,3,1,1] and contacts [1,4,3,2,5], half up
    assert scores["score_engagement"].tolist() == [3, 4, 3, 2, 3]
    assert scores["rfm_code"].tolist() == ["555", "442", "333", "221", "114"]
    assert scores.attrs["columns"]["engagement"] == ["digital_logins_3m", "contacts_3m"]
    assert scores.attrs["missing"] == []


def test_score_customers_skips_dimensions_without_data():
    frame = _scoring_frame()[["customer_id", "aum", "txn_count_12m"]]
    scores = score_customers(frame)
    assert set(scores.columns) == {"score_frequency", "score_monetary"}
    assert set(scores.attrs["missing"]) == {"recency", "depth", "engagement"}
    with pytest.raises(ValueError, match=r"need score dimension\(s\) \['recency'\]"):
        assign_segments(scores)


def test_segments_from_rule_table():
    scores = pd.DataFrame(
        {
            "score_recency": [5, 2, 4, 1, 4, 3, 5, 1],
            "score_frequency": [4, 5, 1, 2, 5, 4, 3, 1],
            "score_monetary": [5, 4, 4, 5, 2, 1, 3, 1],
        }
    )
    segments = assign_segments(scores)
    assert segments.tolist() == [
        "important_value", "important_keep", "important_develop", "important_retain",
        "general_value", "general_keep", "general_develop", "general_retain",
    ]  # fmt: skip
    custom = [{"code": "top", "monetary": [5, 5]}, {"code": "rest"}]
    assert assign_segments(scores, custom).tolist() == ["top", "rest", "rest", "top"] + ["rest"] * 4


def test_segment_summary_counts_and_shares():
    frame = pd.DataFrame({"segment": pd.Categorical(["a", "a", "b"]), "aum": [100.0, 300.0, 600.0]})
    rules = [{"code": "a", "name_zh": "甲", "name_en": "A"}, {"code": "b", "name_zh": "乙", "name_en": "B"},
             {"code": "c", "name_zh": "丙", "name_en": "C"}]  # fmt: skip
    table = segment_summary(frame, rules=rules, lang="en")
    assert table["segment_name"].tolist() == ["A", "B", "C"]
    assert table["customers"].tolist() == [2, 1, 0]
    assert table["aum_share"].tolist() == pytest.approx([0.4, 0.6, 0.0])


# --------------------------------------------------------------------------------------------
# Fish-pond grid
# --------------------------------------------------------------------------------------------


def test_potential_components_and_bands():
    frame = pd.DataFrame(
        {
            "age": [30, 50, 70, 20, 60, 40],
            "payroll": [True, False, False, True, False, True],
            "product_count": [1, 8, 8, 0, 4, 2],
        }
    )
    parts = potential_scores(frame, cross_sell_count=8)
    assert parts.attrs["components"] == ["product_gap", "life_stage", "payroll"]
    assert parts["potential_life_stage"].tolist() == [5, 4, 1, 3, 2, 5]
    assert parts["potential_payroll"].tolist() == [5, 1, 1, 5, 1, 5]
    # gap 7, 0, 0, 8, 4, 6 -> strictly below: 4, 0, 0, 5, 2, 3 of 6 -> 1 + 5*b//6
    assert parts["potential_product_gap"].tolist() == [4, 1, 1, 5, 2, 3]
    index = [(4 + 5 + 5) / 3, 2, 1, (5 + 3 + 5) / 3, 5 / 3, (3 + 5 + 5) / 3]
    assert parts["potential_index"].tolist() == pytest.approx(index)
    # tertiles of the index: below 5, 2, 0, 3, 1, 3 of 6 -> 1 + 3*b//6 -> 3, 2, 1, 2, 1, 2
    assert parts["potential_band"].astype(str).tolist() == [
        "high",
        "mid",
        "low",
        "mid",
        "low",
        "mid",
    ]


def test_potential_needs_some_data():
    with pytest.raises(ValueError, match="no potential component"):
        potential_scores(pd.DataFrame({"x": [1, 2]}))


def test_fishpond_grid_has_nine_cells_with_strategies():
    tiers = pd.Series(pd.Categorical(["mass", "wealth", "private", "affluent", "mass"]))
    frame = pd.DataFrame(
        {
            "value_band": value_bands(tiers),
            "potential_band": pd.Categorical(["low", "high", "high", "mid", "low"]),
            "aum": [1_000.0, 800_000.0, 7_000_000.0, 60_000.0, 2_000.0],
        }
    )
    assert frame["value_band"].astype(str).tolist() == ["low", "high", "high", "mid", "low"]
    grid = fishpond_grid(frame, lang="en")
    assert len(grid) == 9 and grid["customers"].sum() == 5
    cell = grid.set_index(["value_band", "potential_band"])
    assert cell.loc[("high", "high"), "customers"] == 2
    assert cell.loc[("high", "high"), "aum"] == pytest.approx(7_800_000.0)
    assert cell.loc[("high", "high"), "coverage"] == "rm_dedicated"
    assert (
        cell.loc[("low", "low"), "customers"] == 2
        and cell.loc[("low", "low"), "coverage"] == "digital"
    )
    assert cell.loc[("mid", "high"), "customers"] == 0
    strategy = strategy_for(frame["value_band"], frame["potential_band"])
    assert strategy["coverage"].tolist() == [
        "digital",
        "rm_dedicated",
        "rm_dedicated",
        "rm_shared",
        "digital",
    ]


# --------------------------------------------------------------------------------------------
# Migration and the AUM bridge on a tiny two-month panel
# --------------------------------------------------------------------------------------------


def _two_month_panel() -> pd.DataFrame:
    """Six customers over Sep and Oct 2026; amounts chosen so every movement occurs once or twice.

    A 10,000 -> 60,000 (mass -> affluent, up)      B 600,000 -> 400,000 (wealth -> affluent, down)
    C 100,000 -> 120,000 (affluent, stays)         D 30,000 -> gone (churned)
    E absent -> 7,000,000 (new, private)           F 6,000,000 -> 5,999,999.99 (private -> wealth)
    """
    rows = [
        ("A", "2026-09-30", 10_000.0), ("A", "2026-10-31", 60_000.0),
        ("B", "2026-09-30", 600_000.0), ("B", "2026-10-31", 400_000.0),
        ("C", "2026-09-30", 100_000.0), ("C", "2026-10-31", 120_000.0),
        ("D", "2026-09-30", 30_000.0),
        ("E", "2026-10-31", 7_000_000.0),
        ("F", "2026-09-30", 6_000_000.0), ("F", "2026-10-31", 5_999_999.99),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["customer_id", "month", "aum_total"])
    frame["month"] = pd.to_datetime(frame["month"])
    return frame


@pytest.fixture
def migration():
    panel = _two_month_panel()
    before = tiering.tier_snapshot(panel, "2026-09")
    after = tiering.tier_snapshot(panel, "2026-10")
    return tiering.tier_migration(before, after)


def test_snapshot_tiers_each_month(migration):
    panel = _two_month_panel()
    before = tiering.tier_snapshot(panel, "2026-09")
    assert before["customer_id"].tolist() == ["A", "B", "C", "D", "F"]
    assert before["tier"].astype(str).tolist() == ["mass", "wealth", "affluent", "mass", "private"]
    assert (before["month"] == "2026-09").all()


def test_migration_movements(migration):
    moves = dict(zip(migration["customer_id"], migration["movement"].astype(str), strict=True))
    assert moves == {"A": "up", "B": "down", "C": "stay", "D": "churned", "E": "new", "F": "down"}
    assert migration.set_index("customer_id").loc[["A", "B", "F"], "steps"].tolist() == [1, -1, -1]


def test_transition_matrix_counts_rates_and_aum(migration):
    counts = tiering.transition_matrix(migration)
    assert list(counts.index) == ["mass", "affluent", "wealth", "private", "new"]
    assert list(counts.columns) == ["mass", "affluent", "wealth", "private", "churned"]
    expected = pd.DataFrame(0, index=counts.index, columns=counts.columns)
    expected.loc["mass", "affluent"] = 1
    expected.loc["mass", "churned"] = 1
    expected.loc["affluent", "affluent"] = 1
    expected.loc["wealth", "affluent"] = 1
    expected.loc["private", "wealth"] = 1
    expected.loc["new", "private"] = 1
    assert (counts.to_numpy() == expected.to_numpy()).all()
    rates = tiering.transition_matrix(migration, "rate")
    assert rates.loc["mass", "affluent"] == 0.5 and rates.loc["mass", "churned"] == 0.5
    assert rates.loc["affluent", "affluent"] == 1.0
    assert (
        rates.loc[["mass", "affluent", "wealth", "private", "new"]].sum(axis=1).tolist()
        == [1.0] * 5
    )
    aum = tiering.transition_matrix(migration, "aum_before")
    assert aum.loc["wealth", "affluent"] == 600_000 and aum.loc["mass", "churned"] == 30_000
    assert tiering.transition_matrix(migration, "aum_after").loc["new", "private"] == 7_000_000


def test_transition_rates_of_an_empty_tier_are_missing(migration):
    without_private = migration[migration["customer_id"] != "F"]
    rates = tiering.transition_matrix(without_private, "rate")
    assert rates.loc["private"].isna().all()


def test_migration_summary(migration):
    summary = tiering.migration_summary(migration).set_index("movement")
    assert summary["customers"].to_dict() == {"stay": 1, "up": 1, "down": 2, "new": 1, "churned": 1}
    assert summary.loc["down", "aum_change"] == pytest.approx(-200_000.01)
    assert summary.loc["new", "share"] == pytest.approx(1 / 5)


def test_aum_bridge_adds_up_exactly(migration):
    bridge = tiering.aum_bridge(migration).set_index("step")
    fen = bridge["amount_fen"]
    assert fen["start"] == 674_000_000  # 6,740,000.00 RMB
    assert fen["new"] == 700_000_000
    assert fen["up"] == 5_000_000
    assert fen["down"] == -20_000_001  # -200,000 (B) - 0.01 (F)
    assert fen["stay"] == 2_000_000
    assert fen["churned"] == -3_000_000
    assert fen["end"] == 1_357_999_999  # 13,579,999.99 RMB
    assert fen.drop("end").sum() == fen["end"]
    assert bridge.loc["end", "amount"] == pytest.approx(13_579_999.99)
    assert bridge["customers"].to_dict() == {
        "start": 5, "new": 1, "up": 1, "down": 2, "stay": 1, "churned": 1, "end": 5,
    }  # fmt: skip


def test_aum_bridge_exact_on_random_books():
    rng = np.random.default_rng(3)
    ids = np.array([f"{i:07d}" for i in range(5000)])
    tiers = config.assign_tiers
    before_ids = ids[rng.random(5000) < 0.9]
    after_ids = ids[rng.random(5000) < 0.9]
    before = pd.DataFrame({"customer_id": before_ids, "aum": rng.lognormal(11, 2, len(before_ids))})
    after = pd.DataFrame(
        {"customer_id": after_ids, "aum": rng.lognormal(11, 2, len(after_ids)) / 3}
    )
    before["tier"], after["tier"] = tiers(before["aum"]).values, tiers(after["aum"]).values
    bridge = tiering.aum_bridge(tiering.tier_migration(before, after)).set_index("step")
    start_fen = np.floor(before["aum"].to_numpy() * 100 + 0.5).astype(np.int64).sum()
    end_fen = np.floor(after["aum"].to_numpy() * 100 + 0.5).astype(np.int64).sum()
    assert bridge.loc["start", "amount_fen"] == start_fen
    assert bridge.loc["end", "amount_fen"] == end_fen
    assert bridge["amount_fen"].drop("end").sum() == end_fen
    # per-customer rounding to the fen moves the total by at most half a fen per customer
    assert abs(bridge.loc["end", "amount"] - after["aum"].sum()) <= 0.005 * len(after)


def test_trailing_average_basis_and_churn_exclusion():
    rows = [
        ("A", "2026-08-31", 90_000.0), ("A", "2026-09-30", 30_000.0), ("A", "2026-10-31", 40_000.0),
        ("B", "2026-10-31", 60_000.0),
        ("C", "2026-07-31", 1e6), ("C", "2026-08-31", 20_000.0), ("C", "2026-09-30", 20_000.0),
        ("C", "2026-10-31", 20_000.0),
    ]  # fmt: skip
    panel = pd.DataFrame(rows, columns=["customer_id", "month", "aum_total"])
    panel["month"] = pd.to_datetime(panel["month"])
    snapshot = tiering.tier_snapshot(panel, "2026-10", basis="avg_3m").set_index("customer_id")
    # A: (90k + 30k + 40k) / 3 = 53,333 -> affluent though month-end 40k is mass
    assert snapshot.loc["A", "basis_value"] == pytest.approx(160_000 / 3)
    assert snapshot.loc["A", "aum"] == 40_000 and snapshot.loc["A", "tier"] == "affluent"
    # B joined this month: averaged over its one month
    assert snapshot.loc["B", "basis_value"] == 60_000
    # C: July is outside the 3-month window
    assert snapshot.loc["C", "basis_value"] == 20_000 and snapshot.loc["C", "tier"] == "mass"
    month_end = tiering.tier_snapshot(panel, "2026-10").set_index("customer_id")
    assert month_end.loc["A", "tier"] == "mass"
    churned = pd.DataFrame(
        {"customer_id": ["C", "A"], "churn_month": pd.to_datetime(["2026-10-31", "2026-11-30"])}
    )
    kept = tiering.tier_snapshot(panel, "2026-10", churned=churned)
    assert kept["customer_id"].tolist() == ["A", "B"]


def test_snapshot_errors_are_clear():
    with pytest.raises(ValueError, match="tier_basis must be one of"):
        tiering.tier_snapshot(_two_month_panel(), "2026-10", basis="avg_2m")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['aum_total'\]"):
        tiering.tier_snapshot(pd.DataFrame({"customer_id": [], "month": []}), "2026-10")


def test_migration_rejects_duplicates_and_mismatched_ladders():
    before = pd.DataFrame({"customer_id": ["a", "a"], "aum": [1.0, 2.0]})
    before["tier"] = config.assign_tiers(before["aum"]).values
    with pytest.raises(ValueError, match="duplicated customer_id"):
        tiering.tier_migration(before, before.iloc[:1])
    other = before.iloc[:1].copy()
    other["tier"] = config.assign_tiers(other["aum"], config.resolve_ladder([10, 20, 30])).values
    other["tier"] = other["tier"].cat.rename_categories(["m", "a", "w", "p"])
    with pytest.raises(ValueError, match="same ladder"):
        tiering.tier_migration(before.iloc[:1], other)


def test_window_migration_counts():
    panel = _two_month_panel()
    snapshots = [tiering.tier_snapshot(panel, month) for month in ("2026-09", "2026-10")]
    counts = tiering.window_migration_counts(snapshots)
    assert counts.to_dict("records") == [
        {"month": "2026-10", "stay": 1, "up": 1, "down": 2, "new": 1, "churned": 1}
    ]


def test_downgrade_watch_list_by_rm(migration):
    customers = pd.DataFrame(
        {
            "customer_id": list("ABCDEF"),
            "rm_id": ["R2", "R2", "R1", None, "R1", None],
            "branch_id": ["B1"] * 6,
            "name": ["甲一", "乙二", "丙三", "丁四", "戊五", "己六"],
            "mobile": ["13800000001"] * 6,
        }
    )
    watch = tiering.downgrade_watch_list(migration, customers)
    assert watch["customer_id"].tolist() == ["B", "F"]  # R2 first, no-RM last
    assert watch.columns.tolist()[:5] == ["rm_id", "branch_id", "customer_id", "name", "mobile"]
    assert watch["aum_change"].tolist() == pytest.approx([-200_000.0, -0.01])
    assert tiering.downgrade_watch_list(migration, min_aum_loss=1.0)["customer_id"].tolist() == [
        "B"
    ]


# --------------------------------------------------------------------------------------------
# Per-tier profile
# --------------------------------------------------------------------------------------------


def test_tier_profile_hand_computed():
    frame = pd.DataFrame(
        {
            "tier": config.assign_tiers([10_000.0, 20_000.0, 100_000.0, 1_000_000.0]).values,
            "aum": [10_000.0, 20_000.0, 100_000.0, 1_000_000.0],
            "product_count": [0, 2, 3, 5],
            "contacts_3m": [0, 1, 2, 6],
            "rm_id": [None, "", "R1", "R2"],
        }
    )
    table = tiering.tier_profile(frame).set_index("tier")
    assert table.index.tolist() == ["mass", "affluent", "wealth", "private", "total"]
    assert table["customers"].tolist() == [2, 1, 1, 0, 4]
    assert table.loc["mass", "customer_share"] == 0.5
    assert table.loc["mass", "aum"] == 30_000 and table.loc["mass", "avg_aum"] == 15_000
    assert table.loc["wealth", "aum_share"] == pytest.approx(1_000_000 / 1_130_000)
    assert table.loc["mass", "avg_products"] == 1.0
    assert table.loc["total", "avg_contacts_3m"] == 2.25
    assert table.loc["mass", "rm_coverage"] == 0.0 and table.loc["total", "rm_coverage"] == 0.5
    assert table.loc["private", "customers"] == 0 and pd.isna(table.loc["private", "avg_aum"])


def test_with_product_count_ignores_the_current_account():
    frame = pd.DataFrame(
        {"held_current_account": [True, True], "held_x": [True, False], "held_y": [True, None]}
    )
    assert with_product_count(frame)["product_count"].tolist() == [2, 0]


# --------------------------------------------------------------------------------------------
# Clustering
# --------------------------------------------------------------------------------------------


def _three_groups(n: int = 600, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    centres = np.array([[2_000, 2, 1], [200_000, 30, 4], [3_000_000, 5, 7]], dtype=float)
    frame = pd.DataFrame(
        {
            "aum": centres[group, 0] * rng.lognormal(0, 0.1, n),
            "txn_count_12m": rng.poisson(centres[group, 1]),
            "product_count": centres[group, 2] + rng.integers(0, 2, n),
        }
    )
    return frame, group


def test_clusters_recover_planted_groups_and_are_deterministic():
    from sklearn.metrics import adjusted_rand_score

    frame, group = _three_groups()
    model = BehaviourClusters(k_range=(2, 6), sample_cap=400, seed=5).fit(frame)
    assert model.k_ == 3
    assert adjusted_rand_score(group, model.labels_) > 0.95
    again = BehaviourClusters(k_range=(2, 6), sample_cap=400, seed=5).fit(frame)
    assert again.labels_.equals(model.labels_)
    # cluster 0 has the lowest AUM centre (renumbered by the first feature)
    assert model.profiles_["aum"].is_monotonic_increasing
    assert model.profiles_["customers"].sum() == len(frame)
    assert model.predict(frame).equals(model.labels_)
    assert model.log_columns_ == ["aum", "txn_count_12m", "product_count"]


def test_cluster_descriptions_in_plain_words():
    frame, _ = _three_groups()
    model = BehaviourClusters(k_range=(3, 3), sample_cap=400, seed=5).fit(frame)
    words = {"tiering_high": "高", "tiering_low": "低", "tiering_feature_aum": "资产"}
    text = model.describe(lambda key: words.get(key, key), lang="zh")
    assert text.loc[0].startswith("资产低") or "资产低" in text.loc[0]
    assert "资产高" in text.loc[2]
    english = model.describe(lang="en")
    assert "high aum" in english.loc[2]


def test_clustering_input_errors():
    frame, _ = _three_groups(n=5)
    with pytest.raises(ValueError, match="more customers"):
        BehaviourClusters(k_range=(2, 6)).fit(frame)
    with pytest.raises(ValueError, match="not in the data"):
        BehaviourClusters(features=["nope", "aum"]).fit(_three_groups()[0])


# --------------------------------------------------------------------------------------------
# Configuration files, glue and display helpers
# --------------------------------------------------------------------------------------------


def test_rule_and_label_files_parse_into_complete_records():
    """A bare comma inside a YAML flow mapping silently splits a text: catch it."""
    import yaml

    from helpers.paths import LOCALES_DIR
    from helpers.tiering import tiering_rules

    rules = tiering_rules()
    keys = {"value", "potential", "coverage", "retention_call", "action_zh", "action_en"}
    assert all(set(row) == keys for row in rules["strategies"])
    assert len({(row["value"], row["potential"]) for row in rules["strategies"]}) == 9
    assert all({"code", "name_zh", "name_en"} <= set(rule) for rule in rules["segments"])
    with open(LOCALES_DIR / "tiering.yaml", encoding="utf-8") as handle:
        labels = yaml.safe_load(handle)
    assert all(set(texts) == {"zh", "en"} for texts in labels.values())
    assert labels["tiering_title_matrix_rate"]["zh"].endswith("按行)")


def test_tier_customers_panel_and_flat_sources():
    ladder = config.resolve_ladder()
    abt = pd.DataFrame({"customer_id": ["a", "b"], "aum": [1.0, 2.0], "tier": ["mass", "mass"]})
    snapshot = pd.DataFrame(
        {"customer_id": ["a", "b"], "aum": [10.0, 60_000.0], "basis_value": [10.0, 60_000.0]}
    )
    snapshot["tier"] = config.assign_tiers(snapshot["basis_value"]).values
    tiered, _, source = tiering.tier_customers(abt, ladder, snapshot)
    assert source == "snapshot" and tiered["tier"].astype(str).tolist() == ["mass", "affluent"]
    assert tiered["aum"].tolist() == [10.0, 60_000.0]
    flat = pd.DataFrame({"customer_id": ["a", "b"], "aum": [49_999.0, 50_000.0]})
    tiered, _, source = tiering.tier_customers(flat, config.resolve_ladder([40_000, 1e6, 1e7]))
    assert source == "value" and tiered["tier"].astype(str).tolist() == ["affluent", "affluent"]
    labelled = pd.DataFrame({"customer_id": ["a", "b"], "tier": ["私行客户", "大众客户"]})
    tiered, _, source = tiering.tier_customers(labelled, ladder)
    assert source == "labels" and tiered["tier"].astype(str).tolist() == ["private", "mass"]
    own = pd.DataFrame({"customer_id": ["a"], "tier": ["金卡"]})
    assert tiering.tier_customers(own, ladder)[2] == "own_labels"
    with pytest.raises(ValueError, match="neither"):
        tiering.tier_customers(pd.DataFrame({"customer_id": ["a"]}), ladder)


def test_display_helpers_translate_codes_and_mask_rm_lists(migration):
    ladder = config.resolve_ladder()
    shown = tiering.for_display(tiering.migration_summary(migration), ladder, "zh")
    assert shown["tiering_movement"].tolist()[:3] == ["层级不变", "升层", "降层"]
    customers = pd.DataFrame(
        {"customer_id": ["B", "F"], "rm_id": ["R1", None], "name": ["张三丰", "李四"],
         "mobile": ["13812345678", "13912345678"]}
    )  # fmt: skip
    watch = tiering.downgrade_watch_list(migration, customers)
    rm_list = tiering.rm_list(watch, ladder, "zh")
    assert rm_list["姓名"].tolist() == ["张**", "李*"]
    assert rm_list["手机号"].tolist() == ["138****5678", "139****5678"]
    assert rm_list["期初层级"].tolist() == ["财富客户", "私行客户"]
    assert rm_list["客户经理"].tolist() == ["R1", "未分配"]
    by_rm = tiering.watch_by_rm(watch)
    assert by_rm["customers"].tolist() == [1, 1]
    assert by_rm["aum_change"].tolist() == pytest.approx([-200_000.0, -0.01])


def test_kpis_and_assignment_artifact(migration):
    panel = _two_month_panel()
    after = tiering.tier_snapshot(panel, "2026-10")
    profile = tiering.tier_profile(after)
    records = tiering.tiering_kpis(profile, migration, tiering.aum_bridge(migration))
    values = {record["key"]: record["value"] for record in records}
    assert values["tiering_kpi_customers"] == 5
    assert values["tier_share_affluent"] == pytest.approx(3 / 5)
    assert values["tier_upgrades"] == 1 and values["tier_downgrades"] == 2
    assert values["net_aum_change"] == pytest.approx(13_579_999.99 - 6_740_000)
    headline = [record["key"] for record in records if record["headline"]]
    # book totals head the index from 00_data_overview; tiering adds its movements
    assert headline == [
        "tier_downgrades",
        "net_aum_change",
    ]
    assert all(record["label_zh"] != record["key"] for record in records)
    flat_records = tiering.tiering_kpis(profile)
    assert "tier_upgrades" not in {record["key"] for record in flat_records}
    table = tiering.assignment_table(after.assign(segment=pd.Categorical(["x"] * 5)), "2026-10")
    assert table.columns.tolist() == [
        "customer_id",
        "month",
        "tier",
        "basis_value",
        "aum",
        "segment",
    ]
    assert table["tier"].dtype == "string"


def test_flat_tiering_leaves_out_churned_customers():
    flat = pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "aum": [1.0, 2.0, 3.0], "event": [False, True, False]}
    )
    tiered, _, _ = tiering.tier_customers(flat, config.resolve_ladder())
    assert tiered["customer_id"].tolist() == ["a", "c"]
    assert tiered.attrs["dropped_churned"] == 1


# --------------------------------------------------------------------------------------------
# Ground truth on the generated sample
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample():
    from helpers.data import load_dataset

    dataset = load_dataset()
    connection = dataset.connect()
    balances = dataset.table("monthly_balances")
    yield dataset, connection, balances
    connection.close()


def test_sample_tier_mix_matches_the_generator_truth(sample):
    """The generator records the tier mix at the last month of the customers it never churned."""
    import json

    from helpers.paths import SAMPLE_DIR

    dataset, connection, _ = sample
    truth = json.loads((SAMPLE_DIR / "truth.json").read_text(encoding="utf-8"))
    truth_customers = pd.read_parquet(SAMPLE_DIR / "truth_customers.parquet")
    alive = set(truth_customers.loc[truth_customers["true_churn_month"].isna(), "customer_id"])
    snapshot = tiering.tier_snapshot(connection, dataset.latest_month())
    mix = snapshot.loc[snapshot["customer_id"].isin(alive), "tier"].value_counts(normalize=True)
    for code, share in truth["summary"]["tier_mix_end"].items():
        assert mix[code] == pytest.approx(share, abs=5e-5), code


def test_sample_snapshots_match_a_pandas_recomputation(sample):
    dataset, connection, balances = sample
    month = dataset.latest_month()
    snapshot = tiering.tier_snapshot(connection, month, basis="avg_3m").set_index("customer_id")
    ends = balances["month"].dt.to_period("M")
    last3 = balances[(ends > pd.Period(month, "M") - 3) & (ends <= pd.Period(month, "M"))]
    on_book = set(balances.loc[ends == pd.Period(month, "M"), "customer_id"])
    expected = last3[last3["customer_id"].isin(on_book)].groupby("customer_id")["aum_total"].mean()
    assert len(snapshot) == len(on_book)
    assert np.allclose(snapshot.loc[expected.index, "basis_value"], expected.to_numpy(), rtol=1e-12)
    expected_tiers = config.assign_tiers(expected)
    assert (snapshot.loc[expected.index, "tier"].astype(str) == expected_tiers.astype(str)).all()


def test_sample_bridge_adds_up_to_the_book_change(sample):
    from helpers.features import abt as features

    dataset, connection, balances = sample
    month = dataset.latest_month()
    previous = months.month_label(month, -1)
    churned = features.churn_events(dataset)
    before = tiering.tier_snapshot(connection, previous, churned=churned)
    after = tiering.tier_snapshot(connection, month, churned=churned)
    migration = tiering.tier_migration(before, after)
    bridge = tiering.aum_bridge(migration).set_index("step")["amount_fen"]
    # independent: the books from the raw table, in fen, with the same churn exclusion
    gone = churned.set_index("customer_id")["churn_month"]

    def book_fen(label: str) -> int:
        rows = balances[balances["month"].dt.to_period("M") == pd.Period(label, "M")]
        churn_month = rows["customer_id"].map(gone)
        rows = rows[~(churn_month <= rows["month"])]
        return int(np.floor(rows["aum_total"].to_numpy() * 100 + 0.5).astype(np.int64).sum())

    assert bridge["start"] == book_fen(previous)
    assert bridge["end"] == book_fen(month)
    assert bridge.drop("end").sum() == bridge["end"]
    counts = tiering.transition_matrix(migration)
    assert (
        counts.drop(index="new").sum(axis=1).tolist()
        == before["tier"].value_counts(sort=False).tolist()
    )
    assert (
        counts.drop(columns="churned").sum(axis=0).tolist()
        == after["tier"].value_counts(sort=False).tolist()
    )
    # every movement is non-trivial on a real month
    summary = tiering.migration_summary(migration).set_index("movement")["customers"]
    assert (summary > 0).all()


def test_history_uses_a_range_window_and_window_counts_match_pairwise_migrations():
    rows = [
        ("A", "2026-07-31", 100_000.0), ("A", "2026-09-30", 10_000.0), ("A", "2026-10-31", 20_000.0),
        ("B", "2026-08-31", 60_000.0), ("B", "2026-09-30", 40_000.0),
        ("C", "2026-07-31", 7e6), ("C", "2026-08-31", 7e6), ("C", "2026-09-30", 400_000.0),
        ("C", "2026-10-31", 600_000.0),
        ("D", "2026-10-31", 1_000.0),
    ]  # fmt: skip
    panel = pd.DataFrame(rows, columns=["customer_id", "month", "aum_total"])
    panel["month"] = pd.to_datetime(panel["month"])
    history = tiering.tier_history(panel, ["2026-10"], basis="avg_3m").set_index("customer_id")
    # A has no August row: Aug-Oct averages September and October only (July is out of range)
    assert history.loc["A", "basis_value"] == 15_000
    months = ["2026-07", "2026-08", "2026-09", "2026-10"]
    snapshots = tiering.tier_snapshots(panel, months)
    assert [len(frame) for frame in snapshots] == [2, 2, 3, 3]
    counts = tiering.window_migration_counts(snapshots).set_index("month")
    for before, after in zip(snapshots[:-1], snapshots[1:], strict=True):
        pairwise = tiering.tier_migration(before, after)["movement"].value_counts()
        month = after["month"].iloc[0]
        assert counts.loc[month].to_dict() == {
            m: int(pairwise.get(m, 0)) for m in tiering.MOVEMENTS
        }
    # by hand: Aug: A left, B new, C stays; Sep: A new, B down (affluent -> mass), C down twice
    assert counts.loc["2026-08"].to_dict() == {
        "stay": 1,
        "up": 0,
        "down": 0,
        "new": 1,
        "churned": 1,
    }
    assert counts.loc["2026-09"].to_dict() == {
        "stay": 0,
        "up": 0,
        "down": 2,
        "new": 1,
        "churned": 0,
    }
    assert counts.loc["2026-10"].to_dict() == {
        "stay": 1,
        "up": 1,
        "down": 0,
        "new": 1,
        "churned": 1,
    }


def test_snapshots_are_the_history_split_by_month_and_changes_stay_in_their_month():
    rng = np.random.default_rng(3)
    months = ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09"]
    rows = [
        (f"C{c:03d}", pd.Timestamp(f"{month}-01") + pd.offsets.MonthEnd(0), rng.gamma(1, 80_000))
        for c in range(60)
        for month in months
        if month != "2026-07" and rng.random() < 0.8  # July has no balances at all
    ]
    panel = pd.DataFrame(rows, columns=["customer_id", "month", "aum_total"]).sample(
        frac=1, random_state=0
    )  # rows in no particular order
    asked = ["2026-09", "2026-05", "2026-07", "2026-06"]  # any order, one month without rows
    snapshots = tiering.tier_snapshots(panel, asked, basis="avg_3m")
    history = tiering.tier_history(panel, asked, basis="avg_3m")
    # the oracle: the group-by split the function used before it returned views
    expected = {m: f.reset_index(drop=True) for m, f in history.groupby("month", sort=False)}
    assert [len(s) for s in snapshots] == [len(expected.get(m, [])) for m in asked]
    for month, snapshot in zip(asked, snapshots, strict=True):
        if month in expected:
            pd.testing.assert_frame_equal(snapshot, expected[month])
        else:
            assert snapshot.empty and list(snapshot.columns) == list(history.columns)
    # a change to one snapshot does not reach the others
    before = [s.copy() for s in snapshots]
    snapshots[0].loc[:, "aum"] = -1.0
    snapshots[0]["extra"] = 1
    for snapshot, kept in zip(snapshots[1:], before[1:], strict=True):
        pd.testing.assert_frame_equal(snapshot, kept)
