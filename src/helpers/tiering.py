"""Customer tiering (客户分层): AUM tiers, per-tier profile, tier migration and the AUM bridge.

The business idea (``seed/``): a bank that serves every customer the same way (一刀切) wastes
its relationship managers on customers who do not need them and neglects those who do.
Tiering by value is the base of differentiated service; watching customers *move* between
tiers month to month shows where the pond is filling up and where it is leaking.

Conventions
-----------
- Tiers come from a ladder (``helpers.config.tier_ladder()``): each tier is ``[lower, upper)``,
  lower bound **inclusive**, upper bound **exclusive** (exactly 50,000 RMB is 潜力 / affluent,
  exactly 6,000,000 is 私行 / private). AUM below the lowest bound (a negative AUM from a
  data quirk) falls into the lowest tier; missing AUM gets no tier (``<NA>``) unless
  ``missing="raise"``.
- Tier codes are an *ordered* pandas Categorical, so ``>`` / ``<`` mean up / down the ladder.
- The AUM bridge is computed in integer fen (0.01 RMB), so its steps add up **exactly** to the
  month-over-month change of the book.

Migration and the AUM bridge live in :mod:`helpers.tiering_migration`; scores, segments, the
fish-pond grid and behavioural clusters in
:mod:`helpers.tiering_segments`. Both are re-exported here; plots are in :mod:`helpers.tiering_plots`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import config

#: Tier basis -> number of trailing months averaged (``month_end`` = the month itself).
TIER_BASES: dict[str, int] = {"month_end": 1, "avg_3m": 3, "avg_6m": 6, "avg_12m": 12}

TOTAL_ROW = "total"


# --------------------------------------------------------------------------------------------
# Ladder and tier assignment
# --------------------------------------------------------------------------------------------


def resolve_ladder(
    thresholds: Sequence[float] | None = None,
    ladder: pd.DataFrame | str | Path | None = None,
) -> pd.DataFrame:
    """Return a tier ladder, optionally with its thresholds overridden.

    Parameters
    ----------
    thresholds : sequence of float, optional
        New lower bounds (RMB, inclusive) of every tier except the lowest, in ascending
        order: for the default 4-tier ladder, e.g. ``[50000, 500000, 6000000]``. ``None``
        or empty keeps the ladder's own bounds.
    ladder : DataFrame or path, optional
        A ladder as returned by :func:`helpers.config.tier_ladder` (``code``, ``name_zh``,
        ``name_en``, ``lower``), or the path of a YAML file in that format. Default: the
        bundled ladder.

    Returns
    -------
    DataFrame
        ``code``, ``name_zh``, ``name_en``, ``lower`` (inclusive), ``upper`` (exclusive), sorted
        by ``lower``.

    Raises
    ------
    ValueError
        When the thresholds do not match the number of tiers or are not strictly increasing.
    """
    if ladder is None or isinstance(ladder, str | Path):
        ladder = config.tier_ladder(ladder)
    ladder = ladder.sort_values("lower").reset_index(drop=True).copy()
    if thresholds is None or len(thresholds) == 0:
        ladder["upper"] = ladder["lower"].shift(-1).fillna(float("inf"))
        return ladder
    expected = len(ladder) - 1
    if len(thresholds) != expected:
        raise ValueError(
            f"tier_thresholds has {len(thresholds)} values {list(thresholds)}; the ladder has "
            f"{len(ladder)} tiers ({', '.join(ladder['code'])}), so it needs {expected} lower "
            f"bounds, one for every tier above the lowest, in ascending order"
        )
    try:
        bounds = np.asarray([float(value) for value in thresholds])
    except (TypeError, ValueError):
        raise ValueError(f"tier_thresholds must be numbers (RMB), not {list(thresholds)}") from None
    steps = np.diff(np.concatenate([[ladder["lower"].iloc[0]], bounds]))
    if not np.isfinite(bounds).all() or (steps <= 0).any():
        raise ValueError(
            f"tier_thresholds must be finite and strictly increasing, each above the lowest "
            f"tier's bound {ladder['lower'].iloc[0]:,.0f}; got {list(thresholds)}"
        )
    ladder.loc[1:, "lower"] = bounds
    ladder["lower"] = ladder["lower"].astype(float)
    ladder["upper"] = ladder["lower"].shift(-1).fillna(float("inf"))
    return ladder


def assign_tiers(
    values: pd.Series | Sequence[float],
    ladder: pd.DataFrame | None = None,
    *,
    missing: str = "na",
) -> pd.Series:
    """Assign each value to its tier on the ladder.

    Parameters
    ----------
    values : Series or sequence of float
        AUM (or another value measure) in RMB, one per customer.
    ladder : DataFrame, optional
        From :func:`resolve_ladder`; default the bundled ladder.
    missing : {"na", "raise"}
        What to do with missing values: leave the tier missing, or raise.

    Returns
    -------
    Series
        Ordered Categorical of tier codes, same index as ``values`` (a plain sequence gets a
        RangeIndex). A value equal to a lower bound belongs to that tier (``lower`` inclusive,
        ``upper`` exclusive); values below the lowest bound belong to the lowest tier.
    """
    if missing not in {"na", "raise"}:
        raise ValueError(f"missing must be 'na' or 'raise', not {missing!r}")
    ladder = resolve_ladder(ladder=ladder)
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    numeric = pd.to_numeric(series, errors="coerce").astype(float)
    not_numbers = numeric.isna() & series.notna()
    if not_numbers.any():
        rows = np.flatnonzero(not_numbers.to_numpy())[:10].tolist()
        examples = series[not_numbers].head(5).tolist()
        raise ValueError(
            f"tier values must be numbers (RMB); rows {rows} hold {examples}. "
            f"Convert them (thousands separators, currency signs) before tiering."
        )
    is_missing = numeric.isna().to_numpy()
    if missing == "raise" and is_missing.any():
        rows = np.flatnonzero(is_missing)[:10].tolist()
        raise ValueError(
            f"{int(is_missing.sum())} customers have no AUM value to tier (rows {rows}...); "
            f"fill or drop them, or call assign_tiers(..., missing='na')"
        )
    # The shared rule (architecture.md §9): lower bound inclusive, below the ladder -> lowest.
    tiers = config.assign_tiers(numeric, ladder)
    tiers.index = series.index
    return tiers


def tiers_from_labels(
    labels: pd.Series, ladder: pd.DataFrame | None = None
) -> tuple[pd.Series, pd.DataFrame]:
    """Map tier labels (flat mode ``tier`` role) onto the ladder.

    Labels match a ladder tier by ``code``, ``name_zh`` or ``name_en`` (case and surrounding
    spaces ignored). When every label matches, the result uses the ladder's codes and order.
    When some do not (a bank's own tier names), the labels themselves become the tiers, in
    alphabetical order, and the returned ladder lists them with unknown bounds, so the rest of
    the report still works and says the order is not known.

    Returns
    -------
    (Series, DataFrame)
        Ordered Categorical of tier codes, and the ladder that describes them.
    """
    ladder = resolve_ladder(ladder=ladder)
    lookup: dict[str, str] = {}
    for column in ("code", "name_zh", "name_en"):
        for key, code in zip(ladder[column], ladder["code"], strict=True):
            lookup[str(key).strip().lower()] = code
    text = labels.astype("string").str.strip()
    mapped = text.str.lower().map(lookup)
    unmatched = text.notna() & mapped.isna()
    if not unmatched.any():
        dtype = pd.CategoricalDtype(ladder["code"].tolist(), ordered=True)
        return pd.Series(
            pd.Categorical(mapped, dtype=dtype), index=labels.index, name="tier"
        ), ladder
    own = sorted(text.dropna().unique().tolist())
    own_ladder = pd.DataFrame(
        {"code": own, "name_zh": own, "name_en": own, "lower": np.nan, "upper": np.nan}
    )
    dtype = pd.CategoricalDtype(own, ordered=True)
    return pd.Series(pd.Categorical(text, dtype=dtype), index=labels.index, name="tier"), own_ladder


def tier_names(ladder: pd.DataFrame, lang: str = "zh") -> dict[str, str]:
    """Map tier code -> display name in ``lang`` (``zh`` or ``en``)."""
    column = "name_zh" if lang == "zh" else "name_en"
    return dict(zip(ladder["code"], ladder[column], strict=True))


def describe_ladder(ladder: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """Return the ladder as a readable table: tier, name, from (inclusive), to (exclusive)."""
    names = tier_names(ladder, lang)
    return pd.DataFrame(
        {
            "tier": ladder["code"],
            "name": ladder["code"].map(names),
            "lower_inclusive": ladder["lower"],
            "upper_exclusive": ladder["upper"],
        }
    )


# --------------------------------------------------------------------------------------------
# Snapshots from the monthly balances (DuckDB, so it scales to millions of customers)
# --------------------------------------------------------------------------------------------


def month_start(month: str, offset: int = 0) -> pd.Timestamp:
    """First day of ``month`` (``YYYY-MM``) shifted by ``offset`` months."""
    return (pd.Period(month, "M") + offset).to_timestamp(how="start")


def month_label(month: str, offset: int) -> str:
    """``YYYY-MM`` of ``month`` shifted by ``offset`` months."""
    return str(pd.Period(month, "M") + offset)


def tier_snapshot(
    balances,
    month: str,
    basis: str = "month_end",
    ladder: pd.DataFrame | None = None,
    churned: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Tier every customer on the book at ``month``.

    Parameters
    ----------
    balances : duckdb connection or DataFrame
        A DuckDB connection with a ``monthly_balances`` view (``Dataset.connect()``) or the
        ``monthly_balances`` table itself (columns ``customer_id``, ``month``, ``aum_total``).
    month : str
        ``YYYY-MM``.
    basis : {"month_end", "avg_3m", "avg_6m", "avg_12m"}
        What the tier is computed on: month-end AUM, or the average AUM over the trailing
        3 / 6 / 12 months ending at ``month`` (over the months the customer was on the book,
        so a customer who joined last month is averaged over one month).
    ladder : DataFrame, optional
        From :func:`resolve_ladder`.
    churned : DataFrame, optional
        ``customer_id``, ``churn_month`` (as from ``helpers.features.churn_events``): customers
        whose churn month is on or before ``month`` are off the book, as in the ABT.

    Returns
    -------
    DataFrame
        ``customer_id``, ``month`` (str), ``aum`` (month-end AUM), ``basis_value``, ``tier``;
        one row per customer with a balance row at ``month``, sorted by ``customer_id``.
    """
    if basis not in TIER_BASES:
        raise ValueError(f"tier_basis must be one of {list(TIER_BASES)}, not {basis!r}")
    import duckdb

    window = TIER_BASES[basis]
    if isinstance(balances, pd.DataFrame):
        missing = {"customer_id", "month", "aum_total"} - set(balances.columns)
        if missing:
            raise ValueError(
                f"monthly_balances lacks column(s) {sorted(missing)} needed for tiering; "
                f"it has {list(balances.columns)}"
            )
        connection = duckdb.connect()
        connection.register("monthly_balances", balances)
    else:
        connection = balances
    # Compare month starts so that month-end dates, first-of-month dates and timestamps all work.
    query = """
        SELECT CAST(customer_id AS VARCHAR) AS customer_id,
               CAST(max(CASE WHEN date_trunc('month', month) = $this THEN aum_total END)
                    AS DOUBLE) AS aum,
               CAST(avg(aum_total) AS DOUBLE) AS basis_value
        FROM monthly_balances
        WHERE date_trunc('month', month) > $first AND date_trunc('month', month) <= $this
        GROUP BY 1
        HAVING max(CASE WHEN date_trunc('month', month) = $this THEN 1 ELSE 0 END) = 1
    """
    params = {
        "this": month_start(month).to_pydatetime(),
        "first": month_start(month, -window).to_pydatetime(),
    }
    snapshot = connection.execute(query, params).df()
    if churned is not None and len(churned):
        month_end = month_start(month, 1) - pd.Timedelta(days=1)
        gone = churned.loc[pd.to_datetime(churned["churn_month"]) <= month_end, "customer_id"]
        snapshot = snapshot[~snapshot["customer_id"].isin(set(gone.astype(str)))]
    if basis == "month_end":
        snapshot["basis_value"] = snapshot["aum"]
    snapshot = snapshot.sort_values("customer_id", kind="stable").reset_index(drop=True)
    snapshot.insert(1, "month", month)
    snapshot["tier"] = assign_tiers(snapshot["basis_value"], ladder).values
    return snapshot


# --------------------------------------------------------------------------------------------
# Per-tier profile
# --------------------------------------------------------------------------------------------


def tier_profile(
    frame: pd.DataFrame,
    *,
    tier: str = "tier",
    aum: str = "aum",
    products: str = "product_count",
    contacts: str = "contacts_3m",
    rm: str = "rm_id",
) -> pd.DataFrame:
    """Per-tier table: customers, AUM, shares, average products, contact frequency, RM coverage.

    Columns that are absent from ``frame`` are left out of the result (flat data often has no
    contacts or RM). Every tier of the Categorical appears, even when empty, then a ``total``
    row.

    Returns
    -------
    DataFrame
        ``tier``, ``customers``, ``customer_share``, ``aum``, ``aum_share``, ``avg_aum``, and
        when available ``avg_products``, ``avg_contacts_3m``, ``rm_coverage`` (share of
        customers with an RM).
    """
    data = pd.DataFrame({"tier": frame[tier]})
    aggregations: dict[str, tuple[str, str]] = {"customers": ("tier", "size")}
    if aum in frame:
        data["aum"] = frame[aum].astype(float)
        aggregations["aum"] = ("aum", "sum")
    if products in frame:
        data["avg_products"] = frame[products].astype(float)
        aggregations["avg_products"] = ("avg_products", "mean")
    if contacts in frame:
        data["avg_contacts_3m"] = frame[contacts].astype(float)
        aggregations["avg_contacts_3m"] = ("avg_contacts_3m", "mean")
    if rm in frame:
        data["rm_coverage"] = frame[rm].notna() & (frame[rm].astype("string").str.len() > 0)
        aggregations["rm_coverage"] = ("rm_coverage", "mean")
    grouped = data.groupby("tier", observed=False).agg(**aggregations)
    total = data.drop(columns="tier").agg(
        {k: v[1] for k, v in aggregations.items() if k != "customers"}
    )
    total_row = pd.DataFrame([{"customers": len(data), **total.to_dict()}], index=[TOTAL_ROW])
    table = pd.concat([grouped, total_row])
    table.index = table.index.astype(str)
    table["customers"] = table["customers"].astype("int64")
    table.insert(1, "customer_share", table["customers"] / max(len(data), 1))
    if "aum" in table:
        book = data["aum"].sum()
        position = table.columns.get_loc("aum") + 1
        table.insert(position, "aum_share", table["aum"] / book if book else np.nan)
        table.insert(position + 1, "avg_aum", table["aum"] / table["customers"].replace(0, np.nan))
    return table.rename_axis("tier").reset_index()


from helpers.tiering_clusters import BehaviourClusters  # noqa: E402
from helpers.tiering_migration import (  # noqa: E402  (re-export: one public namespace)
    BRIDGE_STEPS,
    CHURNED_COLUMN,
    MOVEMENTS,
    NEW_ROW,
    aum_bridge,
    downgrade_watch_list,
    migration_summary,
    tier_migration,
    transition_matrix,
    window_migration_counts,
)
from helpers.tiering_segments import (  # noqa: E402  (re-export: one public namespace)
    assign_segments,
    fishpond_grid,
    potential_scores,
    quantile_scores,
    score_customers,
    segment_summary,
    tiering_rules,
    value_bands,
    with_product_count,
)

__all__ = [
    "BRIDGE_STEPS",
    "CHURNED_COLUMN",
    "MOVEMENTS",
    "NEW_ROW",
    "TIER_BASES",
    "BehaviourClusters",
    "assign_segments",
    "assign_tiers",
    "aum_bridge",
    "describe_ladder",
    "downgrade_watch_list",
    "fishpond_grid",
    "migration_summary",
    "potential_scores",
    "quantile_scores",
    "resolve_ladder",
    "score_customers",
    "segment_summary",
    "tier_migration",
    "tier_names",
    "tier_profile",
    "tier_snapshot",
    "tiering_rules",
    "tiers_from_labels",
    "transition_matrix",
    "value_bands",
    "window_migration_counts",
    "with_product_count",
]
