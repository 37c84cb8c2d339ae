"""The one-page monthly summary (05), the index's actions and every report's "what this means"
box: KPIs, trends, back-tests and actions read from the run's artifacts.

This face is the package's only public import: ``from helpers import summary``.
"""

from helpers.summary.actions import (
    BACKTESTS,
    HISTORY_ARTIFACT,
    HISTORY_TWINS,
    LISTS,
    TILES,
    Artifacts,
    actions,
    actions_markdown,
    backtest_overview,
    kpi_tiles,
    list_href,
    read_artifacts,
    section_href,
)
from helpers.summary.boxes import report_box, summary_box
from helpers.summary.monthly import (
    SUMMARY_ITEMS,
    TIER_KEYS,
    UPSTREAM,
    MissingArtifactError,
    UpstreamStatus,
    display_table,
    findings,
    plot_headline_changes,
    plot_tier_mix,
    previous_artifacts,
    read_kpis,
    require_upstream,
    status_table,
    summary_table,
    tier_mix,
    upstream_status,
)

__all__ = [
    "Artifacts",
    "BACKTESTS",
    "HISTORY_ARTIFACT",
    "HISTORY_TWINS",
    "LISTS",
    "SUMMARY_ITEMS",
    "TIER_KEYS",
    "TILES",
    "UPSTREAM",
    "actions",
    "actions_markdown",
    "backtest_overview",
    "display_table",
    "findings",
    "kpi_tiles",
    "list_href",
    "MissingArtifactError",
    "plot_headline_changes",
    "plot_tier_mix",
    "previous_artifacts",
    "read_artifacts",
    "read_kpis",
    "report_box",
    "require_upstream",
    "section_href",
    "status_table",
    "summary_box",
    "summary_table",
    "tier_mix",
    "upstream_status",
    "UpstreamStatus",
]
