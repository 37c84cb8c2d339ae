"""Portfolio overview and soft data-quality checks for ``00_data_overview``.

Hard problems (wrong types, impossible values) are :mod:`helpers.data.schema`'s job and stop a run;
the checks here are the ones an analyst wants to *see* each month (coverage, consistency,
gaps) before trusting the other notebooks. Aggregations over the monthly and transaction
tables run in DuckDB over the dataset's views, so they scale past memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.config import ChurnDefinition, assign_tiers, product_catalogue, tier_ladder
from helpers.features import cached_frame, stored_transaction_months, string_literal
from helpers.formatting import Note, Skipped, kpi, skippable
from helpers.months import month_end
from helpers.overview.history import churned_by
from helpers.plotting import rmb_formatter, sample_note, tier_palette

BALANCE_PARTS = ["demand_deposit", "time_deposit", "wealth_mgmt", "funds", "insurance"]
DATE_COLUMNS = {
    "customers": "open_date",
    "monthly_balances": "month",
    "transactions": "txn_date",
    "holdings": "open_date",
    "contacts": "contact_date",
    "campaigns": "assigned_date",
}


def inventory(ds) -> pd.DataFrame:
    """One row per table: rows, columns, distinct customers and the date range covered."""
    con = ds.connect()
    rows = []
    names = ["flat"] if ds.mode == "flat" else [t for t in DATE_COLUMNS if ds.has(t)]
    for name in names:
        columns = [c[0] for c in con.execute(f"DESCRIBE {name}").fetchall()]
        date_column = DATE_COLUMNS.get(name)
        date_sql = f", min({date_column}), max({date_column})" if date_column else ", NULL, NULL"
        query = (
            f"SELECT CAST(count(*) AS BIGINT), CAST(count(DISTINCT customer_id) AS BIGINT)"
            f"{date_sql} FROM {name}"
        )
        months = stored_transaction_months(ds) if name == "transactions" else None
        if months is not None and ds.validated:
            # The run's transactions per customer and month (19M rows instead of 71M at a
            # million customers) give the same figures: validation leaves no row without a
            # date or customer, and every row counts in its month.
            query = (
                "SELECT CAST(coalesce(sum(transactions), 0) AS BIGINT), "
                "CAST(count(DISTINCT customer_id) AS BIGINT), min(first_date), max(last_date) "
                f"FROM read_parquet({string_literal(str(months))})"
            )
        count, customers, first, last = con.execute(query).fetchone()
        rows.append(
            {
                "ov_table": name,
                "ov_rows": count,
                "ov_columns": len(columns),
                "ov_customers": customers,
                "ov_first": None if first is None else str(first)[:10],
                "ov_last": None if last is None else str(last)[:10],
            }
        )
    return pd.DataFrame(rows)


def missing_shares(ds) -> pd.DataFrame:
    """Share of missing values per column of every table (only columns with any missing)."""
    con = ds.connect()
    rows = []
    names = ["flat"] if ds.mode == "flat" else [t for t in DATE_COLUMNS if ds.has(t)]
    for name in names:
        columns = [c[0] for c in con.execute(f"DESCRIBE {name}").fetchall()]
        selects = ", ".join(f'avg(CASE WHEN "{c}" IS NULL THEN 1.0 ELSE 0.0 END)' for c in columns)
        shares = con.execute(f"SELECT {selects} FROM {name}").fetchone()
        rows += [
            {"ov_table": name, "column": c, "ov_missing_pct": float(s or 0.0)}
            for c, s in zip(columns, shares, strict=True)
            if s
        ]
    return pd.DataFrame(rows, columns=["ov_table", "column", "ov_missing_pct"])


def month_snapshot(
    ds, month: str, ladder: pd.DataFrame | None = None, churn: ChurnDefinition | None = None
) -> pd.DataFrame:
    """The pack's customer base at ``month`` with their balances and tier: customers with a
    balance row at the month-end who have not churned by then (``churn``, default the pack's
    default definition). Soft-churned accounts stay open but are no longer customers to count.
    """
    parameters = {
        "month": f"{month_end(month):%Y-%m}",
        "churn": (churn or ChurnDefinition()).to_dict(),
    }
    # The overview asks for it six times (checks, KPIs, values, tiers, composition,
    # penetration), with and without the pack's ladder: one query per run, tiered here.
    snapshot = cached_frame(
        ds, "month_snapshot", parameters, lambda: _month_snapshot(ds, month, churn)
    )
    snapshot["tier"] = assign_tiers(snapshot["aum_total"], ladder).astype(str)
    return snapshot


def _month_snapshot(ds, month: str, churn) -> pd.DataFrame:
    """:func:`month_snapshot` without the run cache and the tiers."""
    con = ds.connect()
    try:
        snapshot = con.execute(
            "SELECT * FROM monthly_balances WHERE month = CAST(? AS DATE)",
            [month_end(month).date()],
        ).df()
    finally:
        con.close()
    snapshot = snapshot[~snapshot["customer_id"].isin(churned_by(ds, month, churn))]
    return snapshot.reset_index(drop=True)


def quality_checks(ds, month: str) -> pd.DataFrame:
    """Soft checks on the month's data: each row is a check, its result and pass/warn."""
    con = ds.connect()
    last_day = month_end(month).date()
    checks: list[tuple[str, str, bool]] = []

    months = pd.to_datetime(pd.Series(ds.months()))
    expected = pd.period_range(months.min(), months.max(), freq="M")
    gaps = len(expected) - len(months)
    checks.append(("months_without_gaps", f"{len(months)} months, {gaps} missing", gaps == 0))

    # Validation allows one row per customer and month (a repeat fails the load, or is set
    # aside by quarantine), so a validated dataset has none to count (a GROUP BY over every
    # balance row: ~3 s at a million customers); unvalidated frames are counted.
    duplicates = 0
    if not ds.validated:
        duplicates = con.execute(
            "SELECT CAST(count(*) AS BIGINT) FROM (SELECT customer_id, month FROM "
            "monthly_balances GROUP BY 1, 2 HAVING count(*) > 1)"
        ).fetchone()[0]
    checks.append(("one_row_per_customer_month", f"{duplicates} duplicates", duplicates == 0))

    parts = " + ".join(BALANCE_PARTS)
    worst = con.execute(
        f"SELECT coalesce(max(abs(aum_total - ({parts}))), 0) FROM monthly_balances WHERE month = ?",
        [last_day],
    ).fetchone()[0]
    checks.append(("aum_equals_sum_of_parts", f"max difference {worst:,.2f} RMB", worst < 1.0))

    open_without_row = con.execute(
        "SELECT CAST(count(*) AS BIGINT) FROM customers c WHERE c.open_date <= ? "
        "AND (c.close_date IS NULL OR c.close_date > ?) AND NOT EXISTS (SELECT 1 FROM "
        "monthly_balances b WHERE b.customer_id = c.customer_id AND b.month = ?)",
        [last_day, last_day, last_day],
    ).fetchone()[0]
    checks.append(
        ("open_customers_have_balances", f"{open_without_row} without a row", open_without_row == 0)
    )

    snapshot = month_snapshot(ds, month)
    high_tiers = snapshot[snapshot["tier"].isin(["wealth", "private"])]
    customers = ds.table("customers")[["customer_id", "rm_id"]]
    covered = high_tiers.merge(customers, on="customer_id", how="left")["rm_id"].notna()
    coverage = float(covered.mean()) if len(covered) else 1.0
    checks.append(("rm_coverage_wealth_private", f"{coverage:.1%}", coverage >= 0.9))

    zero_share = float((snapshot["aum_total"] <= 0).mean()) if len(snapshot) else 0.0
    checks.append(("zero_aum_share", f"{zero_share:.1%}", zero_share < 0.2))
    return pd.DataFrame(checks, columns=["ov_check", "ov_result", "passed"])


def portfolio_kpis(ds, month: str) -> list[dict]:
    """Headline figures of the book at ``month`` (panel mode), as KPI records."""
    con = ds.connect()
    last_day = month_end(month)
    month_start = last_day.to_period("M").to_timestamp()
    snapshot = month_snapshot(ds, month)
    # holdings is optional (the README requires only customers + monthly_balances); only
    # the one customer base (active customers) counts
    held = None
    if ds.has("holdings"):
        held_by = con.execute(
            "SELECT h.customer_id FROM holdings h JOIN monthly_balances b "
            "ON b.customer_id = h.customer_id AND b.month = ? WHERE h.open_date <= ? "
            "AND (h.close_date IS NULL OR h.close_date > ?) AND h.product <> 'current_account'",
            [last_day.date(), last_day.date(), last_day.date()],
        ).df()
        held = int(held_by["customer_id"].isin(snapshot["customer_id"]).sum())
    customers = ds.table("customers")
    opened = customers["open_date"].between(month_start, last_day)
    closed = customers["close_date"].between(month_start, last_day)
    active = len(snapshot)
    aum = snapshot["aum_total"]
    return [
        kpi("ov_active_customers", active, "count", headline=True),
        kpi("ov_total_aum", float(aum.sum()), "rmb", headline=True),
        kpi("ov_avg_aum", float(aum.mean()) if active else None, "rmb"),
        kpi("ov_median_aum", float(aum.median()) if active else None, "rmb"),
        kpi(
            "ov_products_per_customer",
            held / active if active and held is not None else None,
            "ratio",
        ),
        kpi("ov_payroll_share", float(snapshot["payroll"].mean()) if active else None, "pct"),
        kpi(
            "ov_digital_share",
            float((snapshot["digital_logins"] > 0).mean()) if active else None,
            "pct",
        ),
        kpi("ov_new_customers", int(opened.sum()), "count"),
        kpi("ov_closed_customers", int(closed.sum()), "count"),
    ]


def aum_by_tier(ds, month: str) -> pd.DataFrame:
    """Customers and AUM per tier at ``month``, with shares and averages."""
    snapshot = month_snapshot(ds, month)
    return summarise_tiers(snapshot["tier"], snapshot["aum_total"])


def summarise_tiers(tiers: pd.Series, aum: pd.Series, ladder: pd.DataFrame | None = None):
    """Customers, AUM, shares and average AUM per tier, in ladder order."""
    frame = pd.DataFrame({"tier": tiers.astype(str).to_numpy(), "aum": aum.to_numpy()})
    ladder = tier_ladder() if ladder is None else ladder
    grouped = frame.groupby("tier")["aum"].agg(customers="size", aum="sum")
    grouped = (
        grouped.reindex(ladder["code"]).fillna(0).reset_index().rename(columns={"code": "tier"})
    )
    grouped["customers"] = grouped["customers"].astype("int64")
    grouped["customer_share"] = grouped["customers"] / max(grouped["customers"].sum(), 1)
    grouped["aum_share"] = grouped["aum"] / (grouped["aum"].sum() or 1.0)
    grouped["avg_aum"] = grouped["aum"] / grouped["customers"].replace(0, np.nan)
    return grouped


def aum_composition(ds, month: str, ladder: pd.DataFrame | None = None):
    """Share of each balance type in AUM per tier at ``month`` (rows sum to 1).

    Flat mode has no balance parts: the result is :class:`~helpers.formatting.Skipped`.
    """
    if ds.mode == "flat":
        return Skipped("ov_skip_composition_flat")
    snapshot = month_snapshot(ds, month, ladder)
    sums = snapshot.groupby("tier")[BALANCE_PARTS].sum()
    codes = (tier_ladder() if ladder is None else ladder)["code"]
    sums = sums.reindex([t for t in codes if t in sums.index])
    return sums.div(sums.sum(axis=1).replace(0, np.nan), axis=0)


def monthly_trend(ds):
    """Customers and total AUM per month over the whole window (flat mode: Skipped)."""
    if ds.mode == "flat":
        return Skipped("ov_skip_trend_flat")
    return (
        ds.connect()
        .execute(
            "SELECT month, CAST(count(*) AS BIGINT) AS customers, "
            "CAST(sum(aum_total) AS DOUBLE) AS aum_total FROM monthly_balances "
            "GROUP BY month ORDER BY month"
        )
        .df()
    )


def product_penetration(ds, month: str) -> pd.DataFrame:
    """Share of the month's active customers holding each catalogue product (no rows without
    a holdings table: the chart then says the data hold no products)."""
    if not ds.has("holdings"):
        return pd.DataFrame(columns=["code", "name_zh", "name_en", "holders", "penetration"])
    con = ds.connect()
    last_day = month_end(month).date()
    holders = con.execute(
        "SELECT h.customer_id, h.product FROM holdings h JOIN monthly_balances b "
        "ON b.customer_id = h.customer_id AND b.month = ? "
        "WHERE h.open_date <= ? AND (h.close_date IS NULL OR h.close_date > ?)",
        [last_day, last_day, last_day],
    ).df()
    base = month_snapshot(ds, month)["customer_id"]
    holders = holders[holders["customer_id"].isin(base)]
    holders = holders.groupby("product")["customer_id"].nunique().rename("holders").reset_index()
    active = len(base)
    catalogue = product_catalogue()[["code", "name_zh", "name_en"]]
    table = catalogue.merge(holders, left_on="code", right_on="product", how="left")
    table["holders"] = table["holders"].fillna(0).astype("int64")
    table["penetration"] = table["holders"] / max(active, 1)
    return table[["code", "name_zh", "name_en", "holders", "penetration"]]


def flat_summary(ds) -> list[dict]:
    """Headline figures for a flat customer table (whatever roles it maps), as KPI records."""
    flat = ds.table("flat")
    records = [kpi("ov_active_customers", len(flat), "count", headline=True)]
    if "value" in flat:
        records += [
            kpi("ov_total_aum", float(flat["value"].sum()), "rmb", headline=True),
            kpi("ov_avg_aum", float(flat["value"].mean()), "rmb"),
            kpi("ov_median_aum", float(flat["value"].median()), "rmb"),
        ]
    held = [c for c in flat.columns if c.startswith("held_")]
    if held:
        records.append(
            kpi("ov_products_per_customer", float(flat[held].sum(axis=1).mean()), "ratio")
        )
    if "event" in flat:
        records.append(kpi("ov_churned", float(flat["event"].mean()), "pct"))
    if "duration_months" in flat:
        records.append(kpi("ov_tenure", float(flat["duration_months"].median()), "months"))
    return records


def flat_quality_checks(ds) -> pd.DataFrame:
    """Soft checks on a flat table: duplicate ids, missing role values, negative balances."""
    flat = ds.table("flat")
    checks: list[tuple[str, str, bool]] = []
    duplicates = int(flat["customer_id"].duplicated().sum())
    checks.append(("one_row_per_customer", f"{duplicates} duplicates", duplicates == 0))
    for column in ("duration_months", "event", "value", "tier"):
        if column in flat:
            share = float(flat[column].isna().mean())
            checks.append((f"missing_{column}", f"{share:.1%}", share < 0.05))
    if "value" in flat:
        negative = float((flat["value"] < 0).mean())
        checks.append(("negative_value_share", f"{negative:.1%}", negative == 0))
    return pd.DataFrame(checks, columns=["ov_check", "ov_result", "passed"])


def flat_penetration(ds) -> pd.DataFrame:
    """Share of customers holding each product flag of a flat table."""
    flat = ds.table("flat")
    held = [c for c in flat.columns if c.startswith("held_")]
    return pd.DataFrame(
        {
            "code": [c.removeprefix("held_") for c in held],
            "holders": [int(flat[c].sum()) for c in held],
            "penetration": [float(flat[c].mean()) for c in held],
        }
    )


# ----------------------------------------------------------------------------- plots
def _tier_name(code, lang: str) -> str:
    """The tier's label; a bank's own tier code without a label is shown as it is."""
    key = f"tier_{code}"
    return i18n.t(key, lang) if key in i18n.catalogue() else str(code)


def _tier_names(codes, lang: str) -> list[str]:
    return [_tier_name(code, lang) for code in codes]


@skippable
def plot_tier_bars(tier_table: pd.DataFrame, lang: str = "zh", ax=None):
    """Customers share and AUM share per tier, side by side: the pyramid in one chart."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(8, 4))[1]
    names = _tier_names(tier_table["tier"], lang)
    positions = np.arange(len(names))
    ax.bar(
        positions - 0.2,
        tier_table["customer_share"],
        0.4,
        label=i18n.t("customers", lang),
        color="#9BB7D4",
    )
    ax.bar(
        positions + 0.2, tier_table["aum_share"], 0.4, label=i18n.t("aum", lang), color="#B2182B"
    )
    ax.set_xticks(positions, names)
    ax.yaxis.set_major_formatter(rmb_formatter(0.01))
    ax.set_ylabel(i18n.t("share", lang) + " (%)")
    ax.set_title(i18n.t("ov_aum_by_tier", lang))
    ax.legend()
    return ax


@skippable
def plot_composition(composition: pd.DataFrame, lang: str = "zh", ax=None):
    """Stacked shares of each balance type within each tier's AUM."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(8, 4))[1]
    renamed = composition.rename(columns={c: i18n.t(c, lang) for c in composition.columns})
    renamed.index = _tier_names(renamed.index, lang)
    renamed.plot(kind="barh", stacked=True, ax=ax, colormap="tab20c", width=0.7)
    ax.xaxis.set_major_formatter(rmb_formatter(0.01))
    ax.set_xlabel(i18n.t("share", lang) + " (%)")
    ax.set_ylabel("")
    ax.set_title(i18n.t("ov_aum_by_product", lang))
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return ax


@skippable
def plot_trend(trend: pd.DataFrame, lang: str = "zh", ax=None):
    """Total AUM (bars, 亿元 / RMB 100m) and customers (line) per month."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(9, 4))[1]
    labels = pd.to_datetime(trend["month"]).dt.strftime("%Y-%m")
    ax.bar(labels, trend["aum_total"] / 1e8, color="#4C78A8", alpha=0.8)
    ax.set_ylabel("亿元" if lang == "zh" else "RMB 100m")
    ax.tick_params(axis="x", rotation=90)
    right = ax.twinx()
    right.plot(labels, trend["customers"], color="#F58518", marker="o", markersize=3)
    right.set_ylabel(i18n.t("customers", lang))
    right.yaxis.set_major_formatter(rmb_formatter())
    right.grid(False)
    ax.set_title(i18n.t("ov_trend_title", lang))
    return ax


@skippable
def plot_penetration(penetration: pd.DataFrame, lang: str = "zh", ax=None):
    """Share of customers holding each product (Skipped when the data has no products)."""
    if penetration.empty:  # no holdings table, or a flat table without product flags
        return Skipped("ov_no_products")
    return _plot_penetration(penetration, lang, ax)


def _plot_penetration(penetration: pd.DataFrame, lang: str = "zh", ax=None):
    import matplotlib.pyplot as plt

    if penetration.empty:
        return Skipped("note_no_role", role="products")

    ax = ax or plt.subplots(figsize=(8, 4))[1]
    table = penetration.sort_values("penetration")
    if "name_zh" in table:
        names = table["name_zh"] if lang == "zh" else table["name_en"]
    else:
        names = table["code"]
    ax.barh(names, table["penetration"], color="#4C78A8")
    ax.xaxis.set_major_formatter(rmb_formatter(0.01))
    ax.set_xlabel(i18n.t("share", lang) + " (%)")
    ax.set_title(i18n.t("ov_penetration", lang))
    return ax


@skippable
def plot_value_distribution(
    values: pd.Series,
    lang: str = "zh",
    sample_cap: int = 20000,
    seed: int = 0,
    ax=None,
    ladder: pd.DataFrame | None = None,
):
    """Histogram of AUM on a log scale, with the tier boundaries marked; capped sample."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(8, 4))[1]
    clean = values.dropna()
    shown = clean.sample(n=min(sample_cap, len(clean)), random_state=seed) if len(clean) else clean
    ax.hist(np.log10(shown.clip(lower=1.0)), bins=50, color="#9BB7D4")
    ladder = tier_ladder() if ladder is None else ladder
    colours = tier_palette(list(ladder["code"]))
    for code, lower in zip(ladder["code"][1:], ladder["lower"][1:], strict=True):
        ax.axvline(np.log10(lower), color=colours[code], linestyle="--")
        ax.annotate(
            i18n.t(f"tier_{code}", lang),
            (np.log10(lower), ax.get_ylim()[1] * 0.9),
            rotation=90,
            ha="right",
            fontsize=8,
        )
    ax.set_xlabel("log10(" + i18n.t("aum", lang) + ")")
    ax.set_ylabel(i18n.t("customers", lang))
    ax.set_title(i18n.t("ov_value_distribution", lang))
    sample_note(ax, len(shown), len(clean), lang)
    return ax


# ----------------------------------------------------------------------------- either mode
# One call per notebook step, whichever the dataset's mode, so the notebook stays thin.
def overview_checks(ds, month: str | None) -> pd.DataFrame:
    """Soft quality checks: :func:`quality_checks` (panel) or :func:`flat_quality_checks`."""
    return flat_quality_checks(ds) if ds.mode == "flat" else quality_checks(ds, month)


def overview_kpis(ds, month: str | None) -> list[dict]:
    """KPI records: :func:`portfolio_kpis` (panel) or :func:`flat_summary`."""
    return flat_summary(ds) if ds.mode == "flat" else portfolio_kpis(ds, month)


def display_checks(checks: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Checks with translated names and a pass/warning status column, for display."""
    shown = checks.copy()
    shown["ov_check"] = [i18n.t(f"ov_check_{name}", lang) for name in shown["ov_check"]]
    passed = shown.pop("passed")
    shown["ov_status"] = [i18n.t("ov_pass" if ok else "ov_warn", lang) for ok in passed]
    return shown


@skippable
def display_tiers(tiers: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Tier table with tier names in the report's language."""
    shown = tiers.copy()
    shown["tier"] = _tier_names(shown["tier"], lang)
    return shown


def aum_values(ds, month: str | None):
    """Customer AUM at ``month`` (panel) or the flat ``value`` role; Skipped when unmapped."""
    if ds.mode == "flat":
        values = ds.table("flat").get("value")
        return Skipped("note_no_role", role="value") if values is None else values
    return month_snapshot(ds, month)["aum_total"]


def tier_summary(ds, month: str | None, ladder: pd.DataFrame | None = None):
    """:func:`summarise_tiers` per tier; Skipped when the dataset has neither values nor tiers.

    A flat table's mapped tier column wins over its value: the bank's own tiers are shown as
    they are (on the ladder's order when they are its codes), with the value summed per tier
    when there is one. Otherwise the month's AUM is tiered on ``ladder``.
    """
    if ds.mode == "flat" and "tier" in ds.table("flat"):
        flat = ds.table("flat")
        labels = flat["tier"].astype("string")
        aum = flat["value"] if "value" in flat else pd.Series(np.nan, index=flat.index)
        known = tier_ladder() if ladder is None else ladder
        if not set(labels.dropna()) <= set(known["code"]):
            codes = sorted(labels.dropna().unique())
            known = pd.DataFrame({"code": codes})
        return summarise_tiers(labels.fillna("-"), aum.astype(float), known)
    values = aum_values(ds, month)
    if isinstance(values, Skipped):
        return values
    return summarise_tiers(assign_tiers(values, ladder), values, ladder)


def quarantine_table(ds):
    """Rows this month's load set aside (spec ``on_invalid: quarantine``), per table.

    Returns a table (``ov_table``, ``ov_rows``, ``ov_share`` of the table's rows as read,
    ``ov_reasons``, ``ov_file``: the file name ``fishpond run`` wrote them to, inside the
    spec's folder), or a :class:`~helpers.formatting.Note` saying nothing was set aside.
    """
    summary = ds.quarantine_summary()
    if summary.empty:
        return Note("ov_no_quarantine")
    rows = ds.fingerprint()["rows"]
    kept = summary["table"].map(rows).fillna(0).astype("int64")
    return pd.DataFrame(
        {
            "ov_table": summary["table"],
            "ov_rows": summary["rows"].astype("int64"),
            "ov_share": summary["rows"] / (kept + summary["rows"]).clip(lower=1),
            "ov_reasons": summary["reasons"],
            "ov_file": [Path(f).name if f else "" for f in summary["file"]],
        }
    )


def penetration(ds, month: str | None) -> pd.DataFrame:
    """Product penetration: :func:`product_penetration` (panel) or :func:`flat_penetration`."""
    return flat_penetration(ds) if ds.mode == "flat" else product_penetration(ds, month)
