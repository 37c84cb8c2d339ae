"""Tests for helpers.tiering.steps: one call per notebook step, a Skipped where data is lacking.

The 01_tiering notebook never branches: each step either runs or returns a ``Skipped`` that
every later step passes on. These tests pin both sides: what a step computes when it can, and
which reason it gives when it cannot (flat data, first month, too few columns).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import config, features, formatting, tiering
from helpers.data import load_dataset
from helpers.formatting import Note, Skipped
from helpers.paths import SAMPLE_FLAT_SPEC, SAMPLE_SPEC

FLAT = Skipped("tiering_note_flat")


@pytest.fixture(scope="module")
def panel():
    return load_dataset(SAMPLE_SPEC)


@pytest.fixture(scope="module")
def flat():
    return load_dataset(SAMPLE_FLAT_SPEC)


@pytest.fixture(scope="module")
def churned(panel):
    return tiering.churned_customers(panel, config.ChurnDefinition())


def _migration() -> pd.DataFrame:
    rows = [
        ("A", "2026-09-30", 10_000.0), ("A", "2026-10-31", 60_000.0),
        ("B", "2026-09-30", 600_000.0), ("B", "2026-10-31", 400_000.0),
        ("C", "2026-09-30", 100_000.0), ("C", "2026-10-31", 120_000.0),
        ("D", "2026-09-30", 30_000.0), ("E", "2026-10-31", 7_000_000.0),
    ]  # fmt: skip
    balances = pd.DataFrame(rows, columns=["customer_id", "month", "aum_total"])
    balances["month"] = pd.to_datetime(balances["month"])
    before = tiering.tier_snapshot(balances, "2026-09")
    after = tiering.tier_snapshot(balances, "2026-10")
    return tiering.tier_migration(before, after)


# --------------------------------------------------------------------------------------------
# Display
# --------------------------------------------------------------------------------------------


def test_formats_name_only_the_columns_a_table_has():
    ladder = config.resolve_ladder()
    profile = tiering.tier_profile(
        pd.DataFrame({"tier": config.assign_tiers([10.0, 60_000.0]), "aum": [10.0, 60_000.0]})
    )
    table = tiering.for_display(profile, ladder, "zh")
    assert tiering.formats(table) == {
        "money": ["tiering_aum", "tiering_avg_aum"],
        "pct": ["tiering_customer_share", "tiering_aum_share"],
        "ints": ["tiering_customers"],
        "decimals": 0,
    }
    # columns without a tiering_ label keep their own name (the clusters' "share")
    clusters = pd.DataFrame({"cluster": [0], "customers": [3], "share": [1.0], "profile": ["x"]})
    assert tiering.formats(tiering.for_display(clusters, ladder, "en"), decimals=2)["pct"] == [
        "share"
    ]
    # the formats fit formatting.show, which refuses a column the table lacks
    formatting.show(table, lang="zh", **tiering.formats(table))
    assert tiering.formats(FLAT) == {}


def test_for_display_and_plots_pass_a_skipped_step_on():
    ladder = config.resolve_ladder()
    assert tiering.for_display(FLAT, ladder, "zh") is FLAT
    assert tiering.plot_transition_heatmap(FLAT, {}, lang="zh") is FLAT
    assert tiering.plot_aum_bridge(FLAT) is FLAT
    assert tiering.plot_cluster_choice(FLAT) is FLAT
    assert tiering.transition_matrix(FLAT, "rate") is FLAT
    assert tiering.transition_table(FLAT) is FLAT
    assert tiering.migration_summary(FLAT) is FLAT
    assert tiering.aum_bridge(FLAT) is FLAT
    assert tiering.bridge_table(tiering.aum_bridge(FLAT)) is FLAT
    assert tiering.rm_list(FLAT, ladder, "zh") is FLAT


def test_describe_run_adds_the_tier_basis():
    description = pd.DataFrame({"item": ["数据集"], "value": ["sample"]})
    table = tiering.describe_run(description, "avg_3m", "zh")
    assert table.to_dict("list") == {"item": ["数据集", "分层依据"], "value": ["sample", "avg_3m"]}


def test_tier_notes_say_where_the_tiers_came_from():
    frame = pd.DataFrame({"customer_id": ["a"]})
    assert tiering.tier_notes(frame, "snapshot") == []
    frame.attrs["dropped_churned"] = 3
    notes = tiering.tier_notes(frame, "own_labels")
    assert [note.key for note in notes] == [
        "tiering_note_flat_churned", "tiering_note_tier_from_labels", "tiering_note_own_labels",
    ]  # fmt: skip
    assert "3" in notes[0].text("en")


def test_score_sources_lists_columns_and_average_scores():
    frame = pd.DataFrame({"aum": [1.0, 2.0, 3.0, 4.0], "txn_count_12m": [0, 0, 5, 9]})
    scores = tiering.score_customers(frame, n=4)
    table = tiering.score_sources(scores, "en")
    assert table.columns.tolist() == [
        "tiering_dimension", "tiering_source_columns", "tiering_avg_score",
    ]  # fmt: skip
    row = table.set_index("tiering_source_columns").loc["aum"]
    assert row["tiering_avg_score"] == f"{scores['score_monetary'].mean():.2f}"


# --------------------------------------------------------------------------------------------
# Snapshots and the migration window
# --------------------------------------------------------------------------------------------


def test_flat_data_skips_every_history_step(flat):
    ladder = config.resolve_ladder()
    churned = tiering.churned_customers(flat)
    assert churned == FLAT
    assert tiering.current_snapshot(flat, "2026-10", "month_end", ladder, churned) == FLAT
    window = tiering.migration_window(flat, "2026-10", 12, "month_end", ladder, churned)
    assert window == FLAT
    for step in (
        tiering.monthly_migration(window, FLAT),
        tiering.window_migration(window, FLAT),
        tiering.window_notes(window),
        tiering.window_title(window, "zh"),
        tiering.window_trend(window),
        tiering.watch_list(flat, tiering.monthly_migration(window, FLAT)),
    ):
        assert step == FLAT
    assert "单表(flat)模式" in FLAT.text("zh")


def test_first_month_has_no_migration(panel, churned):
    first = panel.months()[0]
    ladder = config.resolve_ladder()
    window = tiering.migration_window(panel, first, 12, "month_end", ladder, churned)
    assert window == Skipped("tiering_note_first_month")


def test_window_snapshots_and_migrations_on_the_sample(panel, churned):
    ladder = config.resolve_ladder()
    month = panel.latest_month()
    assert churned.equals(features.churn_events(panel, churn=config.ChurnDefinition()))
    current = tiering.current_snapshot(panel, month, "avg_3m", ladder, churned)
    window = tiering.migration_window(panel, month, 3, "avg_3m", ladder, churned)
    assert window.months == ["2026-07", "2026-08", "2026-09", "2026-10"]
    pd.testing.assert_frame_equal(window.snapshots[-1], current)
    assert tiering.window_notes(window) == []
    assert tiering.window_title(window, "en") == "Tier migration over 3 months (% of row)"
    monthly = tiering.monthly_migration(window, current)
    expected = tiering.tier_migration(window.snapshots[-2], current)
    pd.testing.assert_frame_equal(monthly, expected)
    long_run = tiering.window_migration(window, current)
    assert set(long_run["customer_id"]) >= set(current["customer_id"])
    trend = tiering.window_trend(window)
    assert trend["month"].tolist() == window.months[1:]
    assert int(trend.iloc[-1]["down"]) == int((monthly["movement"] == "down").sum())


def test_a_short_history_says_where_the_window_starts(panel, churned):
    ladder = config.resolve_ladder()
    window = tiering.migration_window(panel, "2025-01", 12, "month_end", ladder, churned)
    assert window.months == ["2024-11", "2024-12", "2025-01"]
    (note,) = tiering.window_notes(window)
    assert isinstance(note, Note) and note.key == "tiering_note_window_short"
    assert note.values == {"months": 12, "first": "2024-11"}


# --------------------------------------------------------------------------------------------
# Segments, clusters, the fish-pond grid
# --------------------------------------------------------------------------------------------


def test_segments_are_skipped_when_a_dimension_is_missing():
    frame = pd.DataFrame({"aum": [1.0, 2.0, 3.0]})
    scores = tiering.score_customers(frame)
    assert tiering.segment_codes(scores) is pd.NA
    segments = tiering.named_segments(frame.assign(segment=pd.NA), scores)
    assert segments.key == "tiering_note_no_segments"
    assert "frequency" in segments.values["missing"]
    assert tiering.segment_table(segments) is segments
    assert tiering.plot_segments(segments) is segments


def test_segments_when_the_scores_allow_them():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "aum": rng.uniform(0, 1e6, 50),
            "txn_count_12m": rng.integers(0, 40, 50),
            "txn_recency_days": rng.integers(0, 300, 50),
        }
    )
    scores = tiering.score_customers(frame)
    frame["segment"] = tiering.segment_codes(scores)
    segments = tiering.named_segments(frame, scores, lang="en")
    assert segments["customers"].sum() == frame["segment"].notna().sum()
    assert "segment" not in tiering.segment_table(segments)


def test_clustering_is_skipped_without_features_or_customers():
    frame = pd.DataFrame({"aum": np.arange(20.0)})
    clusters = tiering.fit_clusters(frame, (3, 7), 4000, 1)
    assert clusters == Skipped("tiering_note_no_clusters")
    assert tiering.cluster_labels(clusters) is pd.NA
    assert tiering.cluster_table(clusters) is clusters
    assert tiering.plot_cluster_profiles(clusters) is clusters
    few = pd.DataFrame({"aum": [1.0, 2.0, 3.0], "txn_count_12m": [1, 2, 3]})
    assert tiering.fit_clusters(few, (3, 7), 4000, 1) == clusters


def test_clusters_fitted_with_their_table():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"aum": rng.lognormal(10, 1, 300), "txn_count_12m": rng.poisson(10, 300).astype(float)}
    )
    clusters = tiering.fit_clusters(frame, (2, 3), 100, 7)
    assert isinstance(clusters, tiering.BehaviourClusters) and clusters.sample_cap == 100
    assert tiering.cluster_labels(clusters).equals(clusters.labels_)
    table = tiering.cluster_table(clusters, "en")
    assert table.columns.tolist() == ["cluster", "customers", "share", "profile"]
    assert table["customers"].sum() == 300


def test_fishpond_grid_or_the_reason_it_is_skipped():
    tiers = config.assign_tiers([1_000.0, 60_000.0, 700_000.0, 7e6])
    bare = tiering.with_potential(pd.DataFrame({"tier": tiers}))
    assert bare["value_band"].astype(str).tolist() == ["low", "mid", "high", "high"]
    grid = tiering.fishpond(bare)
    assert grid == Skipped("tiering_note_no_grid")
    assert tiering.with_strategy(bare, grid) is bare
    frame = pd.DataFrame({"tier": tiers, "aum": [1_000.0, 60_000.0, 700_000.0, 7e6]})
    frame["aum_trend_6m"] = [0.1, -0.2, 0.0, 0.3]
    rich = tiering.with_potential(frame)
    grid = tiering.fishpond(rich, lang="en")
    assert len(grid) == 9 and grid["customers"].sum() == 4
    assert {"coverage", "retention_call"} <= set(tiering.with_strategy(rich, grid).columns)


# --------------------------------------------------------------------------------------------
# Watch list and KPIs
# --------------------------------------------------------------------------------------------


class _Customers:
    mode = "panel"

    def __init__(self, customers: pd.DataFrame):
        self.customers = customers

    def has(self, name: str) -> bool:
        return name == "customers"

    def table(self, name: str) -> pd.DataFrame:
        return self.customers


def test_watch_list_notes_and_top_rows():
    customers = pd.DataFrame(
        {"customer_id": ["B"], "rm_id": ["R1"], "name": ["张三丰"], "mobile": ["13812345678"]}
    )
    watch = tiering.watch_list(_Customers(customers), _migration())
    assert watch["customer_id"].tolist() == ["B"]
    (note,) = tiering.watch_notes(watch, 30)
    assert note.key == "tiering_note_watch_rows" and note.values == {"rows": 1, "shown": 1}
    top = tiering.watch_top(watch, 30)
    assert top["name"].tolist() == ["张**"]
    assert tiering.watch_by_rm(watch, top=15)["customers"].tolist() == [1]
    (empty,) = tiering.watch_notes(watch.iloc[:0], 30)
    assert empty.key == "tiering_note_watch_empty"


def test_kpis_and_tiers_treat_a_skipped_history_as_none():
    migration = _migration()
    profile = tiering.tier_profile(
        pd.DataFrame({"tier": migration["tier_after"].dropna(), "aum": 1.0})
    )
    assert tiering.tiering_kpis(profile, FLAT, FLAT) == tiering.tiering_kpis(profile)
    flat = pd.DataFrame({"customer_id": ["a", "b"], "aum": [1.0, 60_000.0]})
    tiered, _, source = tiering.tier_customers(flat, config.resolve_ladder(), FLAT)
    assert source == "value" and tiered["tier"].astype(str).tolist() == ["mass", "affluent"]


def test_tier_profile_of_labels_alone_counts_customers():
    tiers, _ = tiering.tiers_from_labels(pd.Series(["大众客户", "私行客户", "大众客户"]))
    profile = tiering.tier_profile(pd.DataFrame({"tier": tiers}))
    assert profile.columns.tolist() == ["tier", "customers", "customer_share"]
    assert profile["customers"].tolist() == [2, 0, 0, 1, 3]
