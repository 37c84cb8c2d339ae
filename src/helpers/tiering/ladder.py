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

Migration and the AUM bridge live in :mod:`helpers.tiering.migration`; scores, segments, the
fish-pond grid and behavioural clusters in
:mod:`helpers.tiering.segments`. Both are re-exported here; plots are in :mod:`helpers.tiering.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers.config import assign_tiers, resolve_ladder
from helpers.features import cents_sql, churn_month_indexes, money_avg_sql
from helpers.formatting import Skipped
from helpers.months import month_index, month_label, month_start

#: Tier basis -> number of trailing months averaged (``month_end`` = the month itself).
TIER_BASES: dict[str, int] = {"month_end": 1, "avg_3m": 3, "avg_6m": 6, "avg_12m": 12}

TOTAL_ROW = "total"


# --------------------------------------------------------------------------------------------
# Ladder and tier assignment
# --------------------------------------------------------------------------------------------


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


def describe_ladder(ladder: pd.DataFrame) -> pd.DataFrame:
    """The ladder as a table: ``tier`` (code), ``lower_inclusive``, ``upper_exclusive`` (RMB;
    missing for the top tier, which has no upper bound)."""
    return pd.DataFrame(
        {
            "tier": ladder["code"],
            "lower_inclusive": ladder["lower"].astype(float),
            "upper_exclusive": ladder["upper"].astype(float).replace(np.inf, np.nan),
        }
    )


# --------------------------------------------------------------------------------------------
# Snapshots from the monthly balances (DuckDB, so it scales to millions of customers)
# --------------------------------------------------------------------------------------------


def tier_history(
    balances,
    months: Sequence[str],
    basis: str = "month_end",
    ladder: pd.DataFrame | None = None,
    churned: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Tier every customer on the book at each of ``months``, in one pass over the balances.

    Parameters
    ----------
    balances : duckdb connection or DataFrame
        A DuckDB connection with a ``monthly_balances`` view (``Dataset.connect()``) or the
        ``monthly_balances`` table itself (columns ``customer_id``, ``month``, ``aum_total``).
    months : sequence of str
        ``YYYY-MM`` months to tier.
    basis : {"month_end", "avg_3m", "avg_6m", "avg_12m"}
        What the tier is computed on: month-end AUM, or the average AUM over the trailing
        3 / 6 / 12 months ending at each month (over the months the customer was on the book,
        so a customer who joined last month is averaged over one month; a ``RANGE`` window on
        the month number, so a missing month is not replaced by an older one).
    ladder : DataFrame, optional
        From :func:`resolve_ladder`.
    churned : DataFrame, optional
        ``customer_id``, ``churn_month`` (as from ``helpers.features.abt.churn_events``): a
        customer whose churn month is on or before a month is off the book that month, as in
        the ABT.

    Returns
    -------
    DataFrame
        ``customer_id``, ``month`` (str), ``aum`` (month-end AUM), ``basis_value``, ``tier``
        (ordered Categorical); one row per customer and month with a balance row, sorted by
        month then ``customer_id``.
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
    wanted = sorted({month_index(month) for month in months})
    labels = {month_index(month): month_label(month) for month in months}
    first = min(months)
    # The trailing average is summed in whole cents: exact, so the same in any thread order
    # and on Spark (helpers.features.sql, "money is summed exactly").
    basis_sql = (
        "aum_total"
        if window == 1
        else money_avg_sql(
            cents_sql("aum_total"),
            f"OVER (PARTITION BY customer_id ORDER BY month_index "
            f"RANGE BETWEEN {window - 1} PRECEDING AND CURRENT ROW)",
        )
    )
    # A customer whose churn month is on or before a month is off the book that month: the
    # filter runs in SQL (at a million customers x 13 months, mapping churn months onto the
    # fetched rows in pandas cost more than the query).
    churn_join = churn_filter = ""
    if churned is not None and len(churned):
        connection.register("__fp_churned_at", churn_month_indexes(churned))
        churn_join = "LEFT JOIN __fp_churned_at c ON w.customer_id = c.customer_id"
        churn_filter = "AND (c.churn_index IS NULL OR c.churn_index > w.month_index)"
    # Month numbers (year * 12 + month) make month-end dates, first-of-month dates and
    # timestamps all work, and keep the SQL portable (Spark SQL has the same functions).
    # CAST(month AS DATE) first: DuckDB 2.0.1 returned no rows for a filter on EXTRACT(...)
    # of a TIMESTAMP_NS Parquet column (tests/test_tiering.py::test_sample_* caught it).
    query = f"""
        WITH balances AS (
            SELECT CAST(customer_id AS VARCHAR) AS customer_id,
                   CAST(EXTRACT(YEAR FROM CAST(month AS DATE)) * 12
                        + EXTRACT(MONTH FROM CAST(month AS DATE)) AS BIGINT) AS month_index,
                   CAST(aum_total AS DOUBLE) AS aum_total
            FROM monthly_balances
            WHERE CAST(month AS DATE) >= $first AND CAST(month AS DATE) < $after
        ),
        windowed AS (
            SELECT customer_id, month_index, aum_total AS aum, {basis_sql} AS basis_value
            FROM balances
        )
        SELECT w.customer_id, w.month_index, w.aum, CAST(w.basis_value AS DOUBLE) AS basis_value
        FROM windowed w {churn_join}
        WHERE w.month_index IN ({", ".join(str(index) for index in wanted)}) {churn_filter}
        ORDER BY w.month_index, w.customer_id
    """
    params = {
        "first": month_start(first, 1 - window).date(),
        "after": month_start(max(months), 1).date(),
    }
    history = connection.execute(query, params).df()
    history.insert(1, "month", history.pop("month_index").map(labels))
    history["tier"] = assign_tiers(history["basis_value"], ladder).values
    return history


def tier_snapshot(
    balances,
    month: str,
    basis: str = "month_end",
    ladder: pd.DataFrame | None = None,
    churned: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Tier every customer on the book at ``month`` (one month of :func:`tier_history`).

    Returns
    -------
    DataFrame
        ``customer_id``, ``month`` (str), ``aum`` (month-end AUM), ``basis_value``, ``tier``;
        one row per customer with a balance row at ``month``, sorted by ``customer_id``.
    """
    return tier_history(balances, [month], basis, ladder, churned).reset_index(drop=True)


def tier_snapshots(
    balances,
    months: Sequence[str],
    basis: str = "month_end",
    ladder: pd.DataFrame | None = None,
    churned: pd.DataFrame | None = None,
) -> list[pd.DataFrame]:
    """:func:`tier_history` split into one snapshot per month, in the order of ``months``."""
    history = tier_history(balances, months, basis, ladder, churned)
    # The history is sorted by month, so each month is one run of rows: the snapshots are
    # views of those runs, not copies (a group-by split held the 1M x 13-month history twice,
    # +1.1 GB at the peak). The runs do not overlap, so a change to one snapshot stays in it.
    labels = history["month"].to_numpy()
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]]) if len(labels) else []
    stops = [*starts[1:], len(labels)]
    groups = {
        labels[start]: history.iloc[start:stop].set_axis(
            pd.RangeIndex(stop - start), axis=0, copy=False
        )
        for start, stop in zip(starts, stops, strict=True)
    }
    empty = history.iloc[:0]
    return [groups.get(month_label(month), empty) for month in months]


def check_basis(basis: str, flat: bool = False) -> str:
    """Validate the ``tier_basis`` parameter; flat data (no history) can only use month-end."""
    if basis not in TIER_BASES:
        raise ValueError(f"tier_basis must be one of {list(TIER_BASES)}, not {basis!r}")
    return "month_end" if flat else basis


def tier_customers(
    frame: pd.DataFrame,
    ladder: pd.DataFrame,
    snapshot: pd.DataFrame | Skipped | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Put the run's tiers on the ABT (panel) or flat frame.

    Parameters
    ----------
    frame : DataFrame
        ABT (``helpers.features.abt.build_abt``) or the flat-mode ABT.
    ladder : DataFrame
        The run's ladder (:func:`resolve_ladder`, thresholds applied).
    snapshot : DataFrame, optional
        Panel mode: :func:`tier_snapshot` of the report month. Its ``aum`` (month-end),
        ``basis_value`` and ``tier`` replace the ABT's, so every table of the report uses one
        tiering (the ABT's own ``tier`` is always month-end on the default ladder). A
        :class:`~helpers.formatting.Skipped` snapshot (flat data) counts as none.

    Returns
    -------
    (DataFrame, DataFrame, str)
        The frame with ``tier`` (ordered Categorical) and ``basis_value`` (flat mode: without
        the customers flagged as churned, counted in ``attrs["dropped_churned"]``); the ladder that
        describes the tiers; and where the tiers came from: ``snapshot``, ``value`` (flat AUM
        on the ladder), ``labels`` (flat tier column matched to the ladder) or ``own_labels``
        (flat tier names unknown to the ladder, used as they are).

    Raises
    ------
    ValueError
        When the data has neither a value (AUM) nor a tier column.
    """
    if isinstance(snapshot, Skipped):
        snapshot = None
    # A flat table's mapped tier column wins over its value (the bank's own tiers); the flat
    # ABT marks it, since it also fills "tier" from the value when no tier column is mapped.
    tier_from_role = bool(frame.attrs.get("tier_from_role")) and "tier" in frame
    result = frame.copy()
    if snapshot is None and "event" in result:
        # A flat table keeps customers who already left (event = churned); the tier
        # structure describes the book as it is, so they are left out.
        churned = result["event"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        result = result[~churned].reset_index(drop=True)
        result.attrs["dropped_churned"] = int(churned.sum())
    if snapshot is not None:
        keep = snapshot[["customer_id", "aum", "basis_value", "tier"]]
        result = result.drop(columns=[c for c in ("aum", "basis_value", "tier") if c in result])
        result = result.merge(keep, on="customer_id", how="left")
        return result, ladder, "snapshot"
    if tier_from_role and result["tier"].notna().any():
        tiers, own_ladder = tiers_from_labels(result["tier"], ladder)
        result["tier"] = tiers.values
        result["basis_value"] = result["aum"].astype(float) if "aum" in result else np.nan
        matched = own_ladder["lower"].notna().all()
        return result, own_ladder, "labels" if matched else "own_labels"
    if "aum" in result and result["aum"].notna().any():
        result["basis_value"] = result["aum"].astype(float)
        result["tier"] = assign_tiers(result["basis_value"], ladder).values
        return result, ladder, "value"
    if "tier" in result:
        tiers, own_ladder = tiers_from_labels(result["tier"], ladder)
        result["tier"] = tiers.values
        result["basis_value"] = np.nan
        matched = own_ladder["lower"].notna().all()
        return result, own_ladder, "labels" if matched else "own_labels"
    raise ValueError(
        "tiering needs either a value (AUM / balance) column or a tier column; the dataset maps "
        f"neither (columns: {list(frame.columns)}). Map the 'value' or 'tier' role in the spec."
    )


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
    measures = {k: v[1] for k, v in aggregations.items() if k != "customers"}
    # tier labels alone (no AUM, products, contacts or RM): the total row is a count only
    total = data.drop(columns="tier").agg(measures).to_dict() if measures else {}
    total_row = pd.DataFrame([{"customers": len(data), **total}], index=[TOTAL_ROW])
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
