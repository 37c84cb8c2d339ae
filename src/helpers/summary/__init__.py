"""The one-page monthly summary (05): KPIs and deltas from the other notebooks' artifacts.

This face is the package's only public import: ``from helpers import summary``.
"""

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
    "SUMMARY_ITEMS",
    "TIER_KEYS",
    "UPSTREAM",
    "display_table",
    "findings",
    "MissingArtifactError",
    "plot_headline_changes",
    "plot_tier_mix",
    "previous_artifacts",
    "read_kpis",
    "require_upstream",
    "status_table",
    "summary_table",
    "tier_mix",
    "upstream_status",
    "UpstreamStatus",
]
