"""Trends from the data's own history: the last 12 months of the pack's headline measures.

A first pack already has a trend: the monthly balances hold two years, so every headline
measure (active customers, AUM, tier mix, tier moves, churn, product take-up) is computed for
each of the last months straight from the dataset, with the same definitions as this month's
figures. A previous pack then only adds what history cannot give (last month's model
outputs).

**One customer base.** "Active customers" at a month-end are customers with an account open
at that month-end who have not churned (closure or run-off, under the pack's churn
definition) by then: the analytic base table's population, the base of every share in the
pack. :func:`customer_base_note` is the footnote that says so wherever a share is shown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.config import ChurnDefinition, cross_sell_products, resolve_ladder
from helpers.features import (
    cached_frame,
    cents_sql,
    churn_events,
    churn_month_indexes,
    money_sum_sql,
    month_index_sql,
)
from helpers.formatting import Note, Skipped, format_change, format_kpi, skippable
from helpers.months import month_end, month_index, month_label, month_start
from helpers.plotting import tier_palette

#: Measures of the history frame: (column, unit, label key).
MEASURES = (
    ("customers", "count", "mg_measure_customers"),
    ("aum", "rmb", "mg_measure_aum"),
    ("upgrades", "count", "mg_measure_upgrades"),
    ("downgrades", "count", "mg_measure_downgrades"),
    ("churned", "count", "mg_measure_churned"),
    ("churn_rate", "pct", "mg_measure_churn_rate"),
    ("takeups", "count", "mg_measure_takeups"),
)


def monthly_history(
    ds,
    month: str | None,
    ladder: pd.DataFrame | None = None,
    churn: ChurnDefinition | None = None,
    months: int = 12,
) -> pd.DataFrame | Skipped:
    """One row per month, the last ``months`` months up to ``month`` and the same month a year
    before (for the year-on-year change), as far as the data reach back.

    Columns: ``month`` (``YYYY-MM``), ``customers`` (active: open and not churned by the
    month-end), ``aum`` (their AUM), ``share_<tier>`` (share of active customers per tier of
    ``ladder`` on month-end AUM), ``upgrades`` / ``downgrades`` (active in both months, tier up
    or down since the month before), ``churned`` (churn events dated in the month, the pack's
    definition), ``churn_rate`` (churned / active the month before) and ``takeups`` (cross-sell
    products opened in the month by active customers; absent without holdings).

    Flat data have no history: a :class:`Skipped` saying so.
    """
    if getattr(ds, "mode", "panel") == "flat" or not month:
        return Skipped("mg_history_flat")
    ladder = resolve_ladder(None) if ladder is None else ladder
    churn = churn or ChurnDefinition()
    available = ds.months()
    first_wanted = month_label(month, -max(months, 13))
    window = [m for m in available if first_wanted <= m <= month]
    if len(window) < 2:
        return Skipped("mg_history_short", months=len(window))
    products = cross_sell_products() if ds.has("holdings") else None
    parameters = {
        "window": [window[0], window[-1]],
        "months": months,
        "lower": [float(value) for value in ladder["lower"]],
        "codes": [str(code) for code in ladder["code"]],
        "churn": churn.to_dict(),
        "products": products,
    }
    return cached_frame(
        ds,
        "monthly_history",
        parameters,
        lambda: _history_frame(ds, window, ladder, churn, products, months),
    )


def _tier_sql(column: str, lower: list[float]) -> str:
    """SQL twin of ``clip(searchsorted(lower, column, side="right") - 1, 0)``.

    ``lower`` is the ladder's bounds, ascending and finite (``resolve_ladder`` checks).
    """
    steps = [f"CASE WHEN {column} >= {bound!r} THEN 1 ELSE 0 END" for bound in lower[1:]]
    return " + ".join(steps) if steps else "0"


def _history_frame(
    ds,
    window: list[str],
    ladder: pd.DataFrame,
    churn: ChurnDefinition,
    products: list[str] | None,
    months: int,
) -> pd.DataFrame:
    """The history of :func:`monthly_history`, aggregated in SQL (one row per month returns).

    At a million customers the window holds 14M balance rows: they stay in DuckDB (or Spark);
    only the churn events (one row per churned customer) go the other way.
    """
    events = churn_events(ds, churn)
    tier = _tier_sql("COALESCE(aum, 0)", sorted(float(value) for value in ladder["lower"]))
    shares = ", ".join(
        f"SUM(CASE WHEN tier = {index} THEN 1 ELSE 0 END) AS tier_{index}"
        for index in range(len(ladder))
    )
    moving = "OVER (PARTITION BY customer_id ORDER BY month_index)"
    takeup_cte = takeup_join = takeup_column = ""
    if products is not None:
        listed = ", ".join("'" + str(code).replace("'", "''") + "'" for code in products)
        takeup_cte = f"""
        , opened AS (
            SELECT CAST(customer_id AS VARCHAR) AS customer_id,
                   CAST({month_index_sql("open_date")} AS BIGINT) AS month_index
            FROM holdings WHERE product IN ({listed or "NULL"}) AND open_date IS NOT NULL
        ),
        takeups AS (
            SELECT a.month_index, COUNT(*) AS takeups
            FROM opened o JOIN active a
              ON o.customer_id = a.customer_id AND o.month_index = a.month_index
            GROUP BY a.month_index
        )"""
        takeup_join = "LEFT JOIN takeups t ON t.month_index = m.month_index"
        takeup_column = ", COALESCE(t.takeups, 0) AS takeups"
    # Active: on the book at the month-end and not churned by then (churn month after it).
    query = f"""
        WITH balances AS (
            SELECT CAST(customer_id AS VARCHAR) AS customer_id,
                   CAST({month_index_sql("month")} AS BIGINT) AS month_index,
                   CAST(aum_total AS DOUBLE) AS aum
            FROM monthly_balances
            WHERE CAST(month AS DATE) >= $first AND CAST(month AS DATE) < $after
        ),
        active AS (
            SELECT b.customer_id, b.month_index, b.aum, {tier} AS tier
            FROM balances b LEFT JOIN __fp_churned_at e ON b.customer_id = e.customer_id
            WHERE e.churn_index IS NULL OR e.churn_index > b.month_index
        ),
        moved AS (
            SELECT month_index, aum, tier,
                   LAG(tier) {moving} AS tier_before,
                   LAG(month_index) {moving} AS month_before
            FROM active
        ),
        monthly AS (
            SELECT month_index, COUNT(*) AS customers,
                   COALESCE({money_sum_sql(cents_sql("aum"))}, 0) AS aum,
                   SUM(CASE WHEN month_before = month_index - 1 AND tier > tier_before
                       THEN 1 ELSE 0 END) AS upgrades,
                   SUM(CASE WHEN month_before = month_index - 1 AND tier < tier_before
                       THEN 1 ELSE 0 END) AS downgrades,
                   {shares}
            FROM moved GROUP BY month_index
        ){takeup_cte}
        SELECT m.*{takeup_column}
        FROM monthly m {takeup_join}
        ORDER BY m.month_index
    """
    con = ds.connect()
    try:
        con.register("__fp_churned_at", churn_month_indexes(events))
        bounds = {
            "first": month_start(window[0]).date(),
            "after": month_start(window[-1], 1).date(),
        }
        raw = con.execute(query, bounds).df()
    finally:
        con.close()
    ends = {month_index(label): month_end(label) for label in window}
    frame = pd.DataFrame(
        index=pd.DatetimeIndex([ends[int(i)] for i in raw["month_index"]], name="month")
    )
    frame["customers"] = raw["customers"].astype("int64").to_numpy()
    frame["aum"] = raw["aum"].astype(float).to_numpy()
    active = frame["customers"].where(frame["customers"] > 0).astype(float)
    for position, code in enumerate(ladder["code"]):
        counts = raw[f"tier_{position}"].astype(float).to_numpy()
        frame[f"share_{code}"] = (counts / active).fillna(0.0)
    frame["upgrades"] = raw["upgrades"].astype(float).to_numpy()
    frame["downgrades"] = raw["downgrades"].astype(float).to_numpy()
    start, end = frame.index[0], frame.index[-1]
    churned = events[events["churn_month"].between(start, end)].groupby("churn_month").size()
    frame["churned"] = churned.reindex(frame.index).fillna(0).astype(int)
    frame["churn_rate"] = frame["churned"] / frame["customers"].shift(1)
    if products is not None:
        frame["takeups"] = raw["takeups"].astype(int).to_numpy()
    # The first month of the window has no month before it: no moves, no churn rate.
    frame.loc[frame.index[0], ["upgrades", "downgrades", "churn_rate"]] = np.nan
    frame = frame.iloc[1:] if len(frame) > months + 1 else frame
    frame.index = [stamp.strftime("%Y-%m") for stamp in frame.index]
    frame.index.name = "month"
    return frame.reset_index()


_CHURN_CACHE: dict = {}


def churned_by(ds, month: str, churn: ChurnDefinition | None = None) -> set:
    """Customers who churned (pack definition, confirmed dating) by the end of ``month``:
    they are outside the pack's customer base from then on. Cached per dataset and churn."""
    churn = churn or ChurnDefinition()
    key = (id(ds), repr(churn))
    if key not in _CHURN_CACHE:
        _CHURN_CACHE.clear()
        _CHURN_CACHE[key] = (ds, churn_events(ds, churn))
    events = _CHURN_CACHE[key][1]
    return set(events.loc[events["churn_month"] <= month_end(month), "customer_id"])


# ----------------------------------------------------------------------------- deltas
@skippable
def history_deltas(history: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """This month, last month, the same month last year and the two changes per measure.

    Rows: ``measure``, ``unit``, ``value``, ``last_month``, ``last_year``, ``vs_last_month``,
    ``vs_last_year`` (shares change in share units: 0.004 is 0.4 percentage points).
    """
    units = {column: unit for column, unit, _ in MEASURES}
    columns = columns or [c for c in units if c in history.columns]
    table = history.set_index("month")
    this = table.index[-1]
    last_month = month_label(this, -1)
    last_year = month_label(this, -12)
    rows = []
    for column in columns:
        unit = units.get(column, "pct" if column.startswith("share_") else "count")
        value = table.at[this, column]
        before = table[column].get(last_month, np.nan)
        year = table[column].get(last_year, np.nan)
        rows.append(
            {
                "measure": column,
                "unit": unit,
                "value": value,
                "last_month": before,
                "last_year": year,
                "vs_last_month": value - before,
                "vs_last_year": value - year,
            }
        )
    return pd.DataFrame(rows)


def measure_label(column: str, lang: str, ladder: pd.DataFrame | None = None) -> str:
    """A measure's name in words (tier shares use the ladder's tier names)."""
    if column.startswith("share_"):
        code = column.removeprefix("share_")
        name = _tier_name(code, lang, ladder)
        return i18n.t("mg_measure_tier_share", lang, tier=name)
    keys = {c: key for c, _, key in MEASURES}
    return i18n.t(keys.get(column, column), lang)


def _tier_name(code: str, lang: str, ladder: pd.DataFrame | None) -> str:
    if ladder is not None and f"name_{lang}" in ladder.columns:
        match = ladder.loc[ladder["code"] == code, f"name_{lang}"]
        if len(match):
            return str(match.iloc[0])
    return i18n.t(f"code.tier.{code}", lang)


@skippable
def trend_table(
    history: pd.DataFrame,
    columns: list[str] | None = None,
    lang: str = "zh",
    ladder: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The deltas as a display table: indicator, this month, change vs last month and vs the
    same month last year, formatted (counts, ¥ 万/亿 or million/billion, pp for shares)."""
    deltas = history_deltas(history, columns)
    return pd.DataFrame(
        {
            "kpi_indicator": [measure_label(m, lang, ladder) for m in deltas["measure"]],
            "mg_this_month": [
                format_kpi(v, u, lang, compact=True)
                for v, u in zip(deltas["value"], deltas["unit"], strict=True)
            ],
            "mg_vs_last_month": [
                format_change(v, u, lang)
                for v, u in zip(deltas["vs_last_month"], deltas["unit"], strict=True)
            ],
            "mg_vs_last_year": [
                format_change(v, u, lang) or i18n.t("mg_no_data", lang)
                for v, u in zip(deltas["vs_last_year"], deltas["unit"], strict=True)
            ],
        }
    )


def customer_base_note(month: str | None = None) -> Note:
    """The footnote of every share: which customers the pack counts as its base."""
    return Note("mg_customer_base", month=month or "")


# ----------------------------------------------------------------------------- charts
@skippable
def plot_history(
    history: pd.DataFrame,
    columns: list[str],
    lang: str = "zh",
    ladder: pd.DataFrame | None = None,
    title: str | None = None,
):
    """Small multiples, one panel per measure, of the last 12 months (at most 5 lines each).

    Money panels read in 万/亿 (zh) or million/billion (en); shares in %. The report month is
    the last point, marked and labelled with its value.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    units = {column: unit for column, unit, _ in MEASURES}
    columns = [c for c in columns if c in history.columns]
    figure, axes = plt.subplots(
        1, len(columns), figsize=(3.2 * len(columns) + 0.8, 3.0), squeeze=False
    )
    labels = [m[2:] if lang == "zh" else m for m in history["month"]]
    for ax, column in zip(axes[0], columns, strict=True):
        unit = units.get(column, "pct" if column.startswith("share_") else "count")
        values = history[column].astype(float)
        ax.plot(range(len(values)), values, marker="o", markersize=3, color="#4C78A8")
        ax.plot(len(values) - 1, values.iloc[-1], marker="o", markersize=7, color="#B2182B")
        ax.annotate(
            format_kpi(values.iloc[-1], unit, lang, compact=True),
            (len(values) - 1, values.iloc[-1]),
            textcoords="offset points",
            xytext=(0, 8),
            ha="right",
            fontsize=9,
            color="#B2182B",
        )
        ax.yaxis.set_major_formatter(
            FuncFormatter(lambda v, _, u=unit: format_kpi(v, u, lang, compact=True))
        )
        ax.set_xticks(range(0, len(values), 3), labels[::3], fontsize=8)
        ax.set_title(measure_label(column, lang, ladder), fontsize=10)
        ax.margins(y=0.25)
    if title:
        figure.suptitle(title, fontsize=12, fontweight="bold")
    figure.tight_layout()
    return figure


@skippable
def plot_tier_mix_history(history: pd.DataFrame, ladder: pd.DataFrame, lang: str = "zh"):
    """Share of active customers per tier over the last 12 months (one line per tier)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    codes = [c for c in ladder["code"] if f"share_{c}" in history.columns]
    colours = tier_palette(codes)
    figure, axes = plt.subplots(1, len(codes), figsize=(3.0 * len(codes) + 0.6, 2.8))
    axes = np.atleast_1d(axes)
    labels = [m[2:] if lang == "zh" else m for m in history["month"]]
    for ax, code in zip(axes, codes, strict=True):
        values = history[f"share_{code}"].astype(float)
        ax.plot(range(len(values)), values, marker="o", markersize=3, color=colours[code])
        ax.annotate(
            format_kpi(values.iloc[-1], "pct", lang),
            (len(values) - 1, values.iloc[-1]),
            textcoords="offset points",
            xytext=(0, 8),
            ha="right",
            fontsize=9,
        )
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_kpi(v, "pct", lang)))
        ax.set_xticks(range(0, len(values), 3), labels[::3], fontsize=8)
        ax.set_title(_tier_name(code, lang, ladder), fontsize=10)
        ax.margins(y=0.3)
    figure.suptitle(i18n.t("mg_tier_mix_trend", lang), fontsize=12, fontweight="bold")
    figure.tight_layout()
    return figure
