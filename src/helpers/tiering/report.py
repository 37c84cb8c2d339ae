"""Report side of :mod:`helpers.tiering` (re-exported there): display tables, RM lists,
the tier assignments artifact and the KPI records for the monthly summary."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from helpers import formatting as reporting
from helpers import i18n, privacy
from helpers.formatting import Skipped, format_number, is_skipped, kpi, skippable
from helpers.tiering.ladder import TOTAL_ROW, tier_names

# --------------------------------------------------------------------------------------------
# Display
# --------------------------------------------------------------------------------------------


@skippable
def for_display(
    frame: pd.DataFrame, ladder: pd.DataFrame | None = None, lang: str = "zh"
) -> pd.DataFrame:
    """A copy of a tiering table ready for ``reporting.show(..., lang=lang)``.

    Codes become words in ``lang`` (tier codes -> ladder names, movements, bridge steps,
    value/potential bands, service coverage) and column names become label keys
    (``tiering_<column>`` when that label exists), which ``reporting.show`` translates.
    Pass money/percent columns to ``show`` by their keys, e.g. ``"tiering_aum"``, or let
    :func:`helpers.tiering.formats` name them (``ctx.show(table, **tiering.formats(table))``).
    """

    catalogue = i18n.catalogue()
    names = tier_names(ladder, lang) if ladder is not None else {}
    names.update(
        {
            TOTAL_ROW: i18n.t("tiering_total", lang),
            "new": i18n.t("tiering_move_new", lang),
            "churned": i18n.t("tiering_move_churned", lang),
        }
    )
    prefixes = {
        "movement": "tiering_move_",
        "step": "tiering_bridge_",
        "value_band": "tiering_band_",
        "potential_band": "tiering_band_",
        "coverage": "tiering_coverage_",
    }
    shown = frame.copy()
    for column in shown.columns:
        if column in {"tier", "tier_before", "tier_after"}:
            shown[column] = shown[column].astype(object).map(lambda v: names.get(v, v))
        elif column in prefixes:
            shown[column] = (
                shown[column].astype(str).map(lambda v, p=prefixes[column]: i18n.t(p + v, lang))
            )
        elif column == "retention_call":
            shown[column] = shown[column].map({True: "✓", False: ""})
        elif column == "rm_id":
            shown[column] = shown[column].astype(object).fillna(i18n.t("tiering_no_rm", lang))
        elif column in {"avg_products", "avg_contacts_3m", "potential_index"}:
            # averages need decimals that reporting.show's money format does not give
            shown[column] = shown[column].map(lambda v: format_number(v, 2))
    renames = {}
    for column in shown.columns:
        key = f"tiering_{column}"
        if column == "retention_call":
            key = "tiering_retention_call_column"
        if key in catalogue:
            renames[column] = key
    return shown.rename(columns=renames)


def show_table(
    frame: pd.DataFrame,
    ladder: pd.DataFrame | None = None,
    lang: str = "zh",
    *,
    money: Sequence[str] = (),
    pct: Sequence[str] = (),
    ints: Sequence[str] = (),
    decimals: int = 0,
):
    """Display a tiering table: :func:`for_display`, then ``reporting.show`` in ``lang``.

    ``money`` / ``pct`` / ``ints`` name the frame's own columns; columns the data does not
    have (no RM column in a flat table, say) are ignored, so one notebook cell serves every
    dataset.
    """

    shown = for_display(frame, ladder, lang)
    renamed = dict(zip(frame.columns, shown.columns, strict=True))

    def keys(columns: Sequence[str]) -> list[str]:
        return [renamed[column] for column in columns if column in renamed]

    return reporting.show(
        shown, money=keys(money), pct=keys(pct), ints=keys(ints), decimals=decimals, lang=lang
    )


@skippable
def watch_by_rm(watch: pd.DataFrame, top: int | None = None) -> pd.DataFrame:
    """Downgraded customers and their AUM change per RM (customers without an RM together).

    Parameters
    ----------
    watch : DataFrame
        From :func:`helpers.tiering.downgrade_watch_list`.
    top : int, optional
        Keep only the ``top`` RMs with the largest AUM loss.

    Returns
    -------
    DataFrame
        ``rm_id`` (missing for customers without an RM), ``customers``, ``aum_change``;
        largest AUM loss first.
    """
    if "rm_id" not in watch:
        return pd.DataFrame(
            {"rm_id": [pd.NA], "customers": [len(watch)], "aum_change": [watch["aum_change"].sum()]}
        ).head(top)
    table = (
        watch.groupby(watch["rm_id"].astype(object).where(watch["rm_id"].notna()), dropna=False)
        .agg(customers=("customer_id", "size"), aum_change=("aum_change", "sum"))
        .reset_index()
        .sort_values(["aum_change", "rm_id"], na_position="last", kind="stable")
    )
    table["customers"] = table["customers"].astype("int64")
    return table.reset_index(drop=True).head(top)


@skippable
def rm_list(
    watch: pd.DataFrame, ladder: pd.DataFrame | None = None, lang: str = "zh"
) -> pd.DataFrame:
    """The watch list as RMs receive it: PII masked, codes as words, headers in ``lang``.

    Masking happens here, before the headers are translated, because
    ``helpers.privacy.mask_frame`` finds PII by the canonical names ``name`` and ``mobile``.
    """

    shown = for_display(privacy.mask_frame(watch), ladder, lang)
    return shown.rename(columns=lambda column: i18n.t(column, lang))


# --------------------------------------------------------------------------------------------
# Artifacts for the monthly summary
# --------------------------------------------------------------------------------------------

#: Columns of the tier assignments artifact, in order (those present are written).
ASSIGNMENT_COLUMNS: tuple[str, ...] = (
    "customer_id", "month", "tier", "basis_value", "aum", "score_recency", "score_frequency",
    "score_monetary", "score_depth", "score_engagement", "rfm_code", "segment", "cluster",
    "potential_index", "potential_band", "value_band", "coverage", "retention_call", "rm_id",
    "branch_id",
)  # fmt: skip


def assignment_table(frame: pd.DataFrame, month: str | None) -> pd.DataFrame:
    """Tier assignments artifact: one row per customer, codes as plain strings (Parquet-safe).

    Columns: those of :data:`ASSIGNMENT_COLUMNS` present in ``frame``; ``month`` is the
    report month (``None`` in flat mode).
    """
    table = frame.copy()
    table["month"] = month
    columns = [column for column in ASSIGNMENT_COLUMNS if column in table]
    table = table[columns]
    for column in (
        "tier",
        "segment",
        "potential_band",
        "value_band",
        "coverage",
        "rm_id",
        "branch_id",
    ):
        if column in table:
            table[column] = table[column].astype("string")
    return table.reset_index(drop=True)


def tiering_kpis(
    profile: pd.DataFrame,
    migration: pd.DataFrame | Skipped | None = None,
    bridge: pd.DataFrame | Skipped | None = None,
) -> list[dict]:
    """KPI records for ``kpis_01_tiering.json`` (architecture.md §10 keys included).

    Always: ``tiering_kpi_customers`` and (with AUM) ``tiering_kpi_aum`` (not headlines: the
    overview's book totals head the index), and
    ``tier_share_<code>`` per tier (share of customers). With a migration (panel mode):
    ``tier_upgrades``, ``tier_downgrades`` (headline), ``tiering_kpi_new``,
    ``tiering_kpi_churned``, ``tiering_kpi_downgrade_aum`` and, from the bridge,
    ``net_aum_change`` (headline, RMB, exactly end minus start). A skipped migration or
    bridge (:class:`~helpers.formatting.Skipped`, flat data) counts as none.
    """
    migration = None if is_skipped(migration) else migration
    bridge = None if is_skipped(bridge) else bridge

    rows = profile.set_index("tier")
    total = rows.loc[TOTAL_ROW]
    records = [kpi("tiering_kpi_customers", int(total["customers"]), "count")]
    if "aum" in rows:
        records.append(kpi("tiering_kpi_aum", float(total["aum"]), "rmb"))
    for code, row in rows.drop(index=TOTAL_ROW).iterrows():
        records.append(kpi(f"tier_share_{code}", float(row["customer_share"]), "pct"))
    if migration is not None:
        movement = migration["movement"].astype(str)
        fallen = migration[movement == "down"]
        records += [
            kpi("tier_upgrades", int((movement == "up").sum()), "count"),
            kpi("tier_downgrades", int((movement == "down").sum()), "count", headline=True),
            kpi("tiering_kpi_new", int((movement == "new").sum()), "count"),
            kpi("tiering_kpi_churned", int((movement == "churned").sum()), "count"),
            kpi(
                "tiering_kpi_downgrade_aum",
                float((fallen["aum_after"] - fallen["aum_before"]).sum()),
                "rmb",
            ),
        ]
    if bridge is not None:
        fen = bridge.set_index("step")["amount_fen"]
        records.append(
            kpi("net_aum_change", int(fen["end"] - fen["start"]) / 100, "rmb", headline=True)
        )
    return records
