"""One call per step of the ``01_tiering`` notebook, whichever the dataset's mode.

Part of :mod:`helpers.tiering` (re-exported there). A step the data cannot feed returns a
:class:`~helpers.formatting.Skipped` with the reason (a flat table has no monthly history for a
migration matrix, an AUM bridge or a watch list; the report month may be the data's first; a
minimal extract may have no score dimensions for named segments, no features to cluster on, no
potential for the fish-pond grid). Every step that consumes such a result is
:func:`~helpers.formatting.skippable`, so the notebook calls the same functions on every
dataset and never branches; ``ctx.show`` shows each reason once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from helpers import i18n, privacy
from helpers.features import churn_events
from helpers.formatting import Note, Skipped, is_skipped, skippable
from helpers.months import month_label
from helpers.tiering.clusters import BehaviourClusters, cluster_feature_columns
from helpers.tiering.ladder import tier_snapshot, tier_snapshots
from helpers.tiering.migration import (
    downgrade_watch_list,
    tier_migration,
    transition_matrix,
    window_migration_counts,
)
from helpers.tiering.segments import (
    assign_segments,
    fishpond_grid,
    missing_segment_dimensions,
    potential_scores,
    segment_summary,
    strategy_for,
    value_bands,
)

#: How each tiering column is shown (its own name or its ``tiering_`` label key).
MONEY_COLUMNS: tuple[str, ...] = (
    "lower_inclusive", "upper_exclusive", "aum", "avg_aum", "aum_before", "aum_after",
    "aum_change", "amount",
)  # fmt: skip
PCT_COLUMNS: tuple[str, ...] = ("customer_share", "aum_share", "rm_coverage", "share")
INT_COLUMNS: tuple[str, ...] = ("customers",)


# --------------------------------------------------------------------------------------------
# Display
# --------------------------------------------------------------------------------------------


def formats(table: pd.DataFrame | Skipped, decimals: int = 0) -> dict:
    """``money`` / ``pct`` / ``ints`` arguments of ``ctx.show`` for a tiering display table.

    ``table`` comes from :func:`helpers.tiering.for_display` (columns renamed to label keys).
    Only the columns the table has are named, so one notebook cell serves every dataset (a flat
    table without RMs has no ``rm_coverage``). A skipped table needs no formats: ``{}``.
    """
    if is_skipped(table):
        return {}
    columns = set(table.columns)

    def present(names: Sequence[str]) -> list[str]:
        found = []
        for name in names:
            for key in (f"tiering_{name}", name):
                if key in columns:
                    found.append(key)
                    break
        return found

    return {
        "money": present(MONEY_COLUMNS),
        "pct": present(PCT_COLUMNS),
        "ints": present(INT_COLUMNS),
        "decimals": decimals,
    }


def describe_run(description: pd.DataFrame, basis: str, lang: str = "zh") -> pd.DataFrame:
    """The run's description (``ctx.describe()``) with the tier basis as a last row."""
    row = pd.DataFrame({"item": [i18n.t("tiering_item_basis", lang)], "value": [basis]})
    return pd.concat([description, row], ignore_index=True)


def tier_notes(frame: pd.DataFrame, source: str) -> list[Note]:
    """Remarks on where the tiers came from (``tier_customers``' frame and source)."""
    notes = []
    dropped = frame.attrs.get("dropped_churned")
    if dropped:
        notes.append(Note("tiering_note_flat_churned", n=dropped))
    if source in ("labels", "own_labels"):
        notes.append(Note("tiering_note_tier_from_labels"))
    if source == "own_labels":
        notes.append(Note("tiering_note_own_labels"))
    return notes


def score_sources(scores: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """Which columns fed each score dimension, and the average score (two decimals)."""
    used = scores.attrs["columns"]
    return pd.DataFrame(
        {
            "tiering_dimension": [i18n.t(f"tiering_dim_{dimension}", lang) for dimension in used],
            "tiering_source_columns": [", ".join(columns) for columns in used.values()],
            "tiering_avg_score": [f"{scores[f'score_{d}'].mean():.2f}" for d in used],
        }
    )


# --------------------------------------------------------------------------------------------
# Tier snapshots and the migration window (panel data only)
# --------------------------------------------------------------------------------------------


def churned_customers(ds, churn=None) -> pd.DataFrame | Skipped:
    """Churn events of a panel dataset (``features.churn_events``); flat data: Skipped."""
    if ds.mode == "flat":
        return Skipped("tiering_note_flat")
    return churn_events(ds, churn=churn)


@skippable
def current_snapshot(
    ds, month: str, basis: str, ladder: pd.DataFrame, churned: pd.DataFrame
) -> pd.DataFrame | Skipped:
    """Every customer on the book at ``month`` tiered on ``basis`` (:func:`tier_snapshot`)."""
    if ds.mode == "flat":
        return Skipped("tiering_note_flat")
    connection = ds.connect()
    try:
        return tier_snapshot(connection, month, basis, ladder, churned)
    finally:
        connection.close()


@dataclass
class TierWindow:
    """Tier snapshots of the months from ``span`` months before the report month (or the
    data's first month, when later) to the report month, oldest first."""

    months: list[str]
    snapshots: list[pd.DataFrame]
    span: int


@skippable
def migration_window(
    ds, month: str, span: int, basis: str, ladder: pd.DataFrame, churned: pd.DataFrame
) -> TierWindow | Skipped:
    """The snapshots the migration matrices, the bridge and the trend compare.

    Skipped for a flat table (no history) and when ``month`` is the data's first month (no
    previous month to compare with).
    """
    if ds.mode == "flat":
        return Skipped("tiering_note_flat")
    data_months = ds.months()
    if month is None or month_label(month, -1) not in data_months:
        return Skipped("tiering_note_first_month")
    start = max(month_label(month, -span), data_months[0])
    months = [label for label in data_months if start <= label <= month]
    connection = ds.connect()
    try:
        snapshots = tier_snapshots(connection, months, basis, ladder, churned)
    finally:
        connection.close()
    return TierWindow(months=months, snapshots=snapshots, span=span)


@skippable
def monthly_migration(window: TierWindow, current: pd.DataFrame) -> pd.DataFrame:
    """Last month against the report month (:func:`tier_migration`)."""
    return tier_migration(window.snapshots[-2], current)


@skippable
def window_migration(window: TierWindow, current: pd.DataFrame) -> pd.DataFrame:
    """The window's first month against the report month (:func:`tier_migration`)."""
    return tier_migration(window.snapshots[0], current)


@skippable
def window_notes(window: TierWindow) -> list[Note]:
    """A remark when the data is shorter than the requested window."""
    if len(window.months) > window.span:
        return []
    return [Note("tiering_note_window_short", months=window.span, first=window.months[0])]


@skippable
def window_title(window: TierWindow, lang: str = "zh") -> str:
    """Title of the long-window migration matrix (months it spans)."""
    return i18n.t("tiering_title_matrix_window", lang, months=len(window.months) - 1)


@skippable
def window_trend(window: TierWindow) -> pd.DataFrame:
    """Month-by-month movement counts across the window (:func:`window_migration_counts`)."""
    return window_migration_counts(window.snapshots)


@skippable
def transition_table(migration: pd.DataFrame, measure: str = "customers") -> pd.DataFrame:
    """:func:`transition_matrix` as a flat table (``tier_before`` a column), for Parquet."""
    return transition_matrix(migration, measure).reset_index()


@skippable
def bridge_table(bridge: pd.DataFrame) -> pd.DataFrame:
    """The AUM bridge's steps as shown in the report: ``step``, ``customers``, ``amount``."""
    return bridge[["step", "customers", "amount"]]


# --------------------------------------------------------------------------------------------
# Segments, clusters, the fish-pond grid
# --------------------------------------------------------------------------------------------


def segment_codes(scores: pd.DataFrame):
    """Each customer's named segment (:func:`assign_segments`); ``<NA>`` when the scores lack
    a dimension the segment rules need."""
    return pd.NA if missing_segment_dimensions(scores) else assign_segments(scores)


def named_segments(
    frame: pd.DataFrame, scores: pd.DataFrame, lang: str = "zh"
) -> pd.DataFrame | Skipped:
    """:func:`segment_summary` of ``frame`` (with ``segment``); Skipped when the scores lack a
    dimension the segment rules need."""
    missing = missing_segment_dimensions(scores)
    if missing:
        return Skipped("tiering_note_no_segments", missing=", ".join(missing))
    return segment_summary(frame, lang=lang)


@skippable
def segment_table(segments: pd.DataFrame) -> pd.DataFrame:
    """The segment summary as shown (names, without the codes)."""
    return segments.drop(columns="segment")


def fit_clusters(
    frame: pd.DataFrame, k_range: tuple[int, int], sample_cap: int, seed: int
) -> BehaviourClusters | Skipped:
    """:class:`BehaviourClusters` fitted on ``frame``; Skipped with fewer than two features or
    no more customers than the largest k."""
    features = cluster_feature_columns(frame)
    if len(features) < 2 or len(frame) <= k_range[1]:
        return Skipped("tiering_note_no_clusters")
    return BehaviourClusters(k_range=k_range, sample_cap=sample_cap, seed=seed).fit(frame)


def cluster_labels(clusters: BehaviourClusters | Skipped):
    """Each customer's cluster; ``<NA>`` when clustering was skipped."""
    return pd.NA if is_skipped(clusters) else clusters.labels_


@skippable
def cluster_table(clusters: BehaviourClusters, lang: str = "zh") -> pd.DataFrame:
    """Per cluster: ``cluster``, ``customers``, ``share`` and its profile in plain words."""
    profile = clusters.describe(lambda key: i18n.t(key, lang), lang=lang)
    return clusters.profiles_[["customers", "share"]].assign(profile=profile).reset_index()


def with_potential(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the potential scores the data supports and the value band of each tier."""
    potential = potential_scores(frame, required=False)
    result = frame.copy() if potential is None else frame.join(potential)
    result["value_band"] = value_bands(result["tier"])
    return result


def fishpond(frame: pd.DataFrame, lang: str = "zh") -> pd.DataFrame | Skipped:
    """:func:`fishpond_grid` of ``frame`` (from :func:`with_potential`); Skipped when the data
    supports no potential score or no value band."""
    if "potential_band" not in frame or frame["value_band"].isna().all():
        return Skipped("tiering_note_no_grid")
    return fishpond_grid(frame, lang=lang)


def with_strategy(frame: pd.DataFrame, grid: pd.DataFrame | Skipped) -> pd.DataFrame:
    """``frame`` with each customer's service strategy (``coverage``, ``retention_call``) from
    the grid cell; unchanged when the grid was skipped."""
    if is_skipped(grid):
        return frame
    return frame.join(strategy_for(frame["value_band"], frame["potential_band"]))


# --------------------------------------------------------------------------------------------
# The downgrade watch list
# --------------------------------------------------------------------------------------------


@skippable
def watch_list(ds, migration: pd.DataFrame) -> pd.DataFrame:
    """:func:`downgrade_watch_list` with the customers' RM, branch, name and mobile."""
    customers = ds.table("customers") if ds.has("customers") else None
    return downgrade_watch_list(migration, customers)


@skippable
def watch_notes(watch: pd.DataFrame, rows: int) -> list[Note]:
    """How many customers moved down and how many of them the report lists."""
    if watch.empty:
        return [Note("tiering_note_watch_empty")]
    return [Note("tiering_note_watch_rows", rows=len(watch), shown=min(rows, len(watch)))]


@skippable
def watch_top(watch: pd.DataFrame, rows: int) -> pd.DataFrame:
    """The ``rows`` largest AUM losses, by RM, PII masked (``helpers.privacy``)."""
    top = watch.nsmallest(min(rows, len(watch)), "aum_change")
    order = [column for column in ("rm_id", "aum_change") if column in top]
    return privacy.mask_frame(top.sort_values(order))
