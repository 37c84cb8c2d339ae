"""The analytic base table (ABT), churn events and survival frames.

Everything here follows the observation / performance window discipline of DESIGN.md §4:
an ABT built *as of* month M has one row per customer active at the end of M; its features
use data up to the end of M only, and its labels come from months M+1 .. M+h. Models are
trained on an earlier as-of month (labels known) and scored on the latest one (labels NA).

Heavy aggregation runs in DuckDB over the dataset's views (:meth:`Dataset.connect`), in SQL
kept close to ANSI (see :mod:`helpers.features.sql`); pandas only receives one row per
customer.

>>> from helpers.data import load_dataset
>>> ds = load_dataset()
>>> abt = build_abt(ds, as_of="2026-04", horizon=6)      # training frame, labels known
>>> score = build_abt(ds, as_of="2026-10", horizon=6)    # scoring frame, labels NA
>>> events = churn_events(ds)                            # who churned, when, how
>>> surv = survival_frame(ds)                            # for lifelines, with delayed entry

Time scale of the survival columns: *months on book*, the opening month counting as month 1.
A customer opened in March who churns in May has ``duration = 3``; ``tenure_months`` at an
as-of month is measured the same way, so ``tenure_months`` at M equals the number of
month-ends the customer has been open for, M included.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.config import (
    ChurnDefinition,
    assign_tiers,
    cross_sell_products,
    product_catalogue,
    tier_ladder,
)
from helpers.features.cache import cached_file, cached_frame, stored_file, stored_frame, warm_frame
from helpers.features.sql import (
    AbtWindow,
    abt_sql,
    churn_events_sql,
    soft_flags_sql,
    string_literal,
    transaction_months_sql,
)
from helpers.months import month_end, month_label

__all__ = [
    "ABT_ID_COLUMNS",
    "ABT_LABEL_COLUMNS",
    "ABT_SURVIVAL_COLUMNS",
    "abt_columns",
    "abt_feature_columns",
    "build_abt",
    "churn_events",
]

#: Identifier and static columns at the front of the ABT.
ABT_ID_COLUMNS = [
    "customer_id",
    "as_of",
    "branch_id",
    "rm_id",
    "gender",
    "age",
    "channel",
    "risk_level",
    "tenure_months",
]
#: Numeric / boolean behaviour features (besides the product flags and tier).
ABT_BEHAVIOUR_COLUMNS = [
    "aum",
    "demand_deposit",
    "time_deposit",
    "wealth_mgmt",
    "funds",
    "insurance",
    "loan_balance",
    "aum_avg_3m",
    "aum_avg_6m",
    "aum_avg_12m",
    "aum_trend_3m",
    "aum_trend_6m",
    "aum_trend_12m",
    "card_spend_3m",
    "digital_logins_3m",
    "payroll",
    "payroll_months_12m",
    "txn_recency_days",
    "txn_count_3m",
    "txn_amount_3m",
    "txn_count_12m",
    "contacts_3m",
    "contacts_12m",
]
#: Survival columns (outcomes, like the labels: they use data after as_of).
ABT_SURVIVAL_COLUMNS = ["entry", "duration", "event"]
ABT_LABEL_COLUMNS = ["churn_label", "churn_type_label"]  # + took_<code>, see abt_columns()

_PANEL_REQUIRED = ("customers", "monthly_balances")

#: View name of the run's soft-churn flags in a query (:func:`_soft_flags`).
SOFT_FLAGS = "__fp_soft_flags"


def abt_feature_columns(products: list[str] | None = None) -> list[str]:
    """Names of the ABT columns that are features (known at as_of), in ABT order.

    Parameters
    ----------
    products : list of str, optional
        Product codes for the ``held_<code>`` flags; None -> the default catalogue.
    """
    products = list(product_catalogue()["code"]) if products is None else products
    return (
        ABT_ID_COLUMNS
        + ABT_BEHAVIOUR_COLUMNS
        + [f"held_{code}" for code in products]
        + ["product_count", "tier"]
    )


def abt_columns(
    products: list[str] | None = None, cross_sell: list[str] | None = None
) -> list[str]:
    """All panel-mode ABT columns in order: features, labels, survival (architecture.md §4)."""
    cross_sell = cross_sell_products() if cross_sell is None else cross_sell
    return (
        abt_feature_columns(products)
        + ABT_LABEL_COLUMNS
        + [f"took_{code}" for code in cross_sell]
        + ABT_SURVIVAL_COLUMNS
    )


# --------------------------------------------------------------------------------------------
# Checks with readable messages
# --------------------------------------------------------------------------------------------
def _require_panel(ds, what: str) -> None:
    if ds.mode != "panel":
        raise ValueError(
            f"{what} needs monthly history (a panel dataset); dataset {ds.name!r} is a flat "
            "customer table. Use build_abt(ds) for the flat ABT, which has duration and event "
            "but no history."
        )
    missing = [table for table in _PANEL_REQUIRED if not ds.has(table)]
    if missing:
        raise ValueError(
            f"{what} needs the table(s) {missing}; dataset {ds.name!r} has {ds.tables()}"
        )


def _check_churn(churn) -> ChurnDefinition:
    if not isinstance(churn, ChurnDefinition):
        raise TypeError(
            f"churn must be a helpers.config.ChurnDefinition, not {type(churn).__name__}; "
            "e.g. ChurnDefinition(kind='hard')"
        )
    return churn


def _data_window(ds) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last data month (month-ends). MIN/MAX come from Parquet statistics, where
    ``ds.months()`` (DISTINCT over every row) costs about a second at 1M customers."""
    bounds = _fetch(
        ds,
        "SELECT MIN(CAST(month AS DATE)) AS first_month, MAX(CAST(month AS DATE)) AS last_month "
        "FROM monthly_balances",
    )
    first, last = bounds.iloc[0]
    if pd.isna(first):
        raise ValueError(
            f"dataset {ds.name!r}: table monthly_balances has no months (column 'month' is "
            "empty); the ABT needs at least one month of balances"
        )
    return month_end(pd.Timestamp(first)), month_end(pd.Timestamp(last))


def _fetch(
    ds,
    sql: str,
    frames: dict[str, pd.DataFrame] | None = None,
    files: dict[str, Path] | None = None,
) -> pd.DataFrame:
    """Run ``sql`` on a fresh connection of ``ds``; ``frames`` are registered as extra views,
    ``files`` (Parquet, DuckDB only) become views over the file."""
    con = ds.connect()
    try:
        for name, frame in (frames or {}).items():
            con.register(name, frame)
        for name, path in (files or {}).items():
            con.execute(
                f"CREATE VIEW {name} AS SELECT * FROM read_parquet({string_literal(str(path))})"
            )
        return con.sql(sql).df()
    finally:
        con.close()


def _run_table(ds, kind: str, parameters: dict, sql: str, write: bool = True) -> Path | None:
    """The run's Parquet copy of ``sql``'s rows, written by the first step of the run that
    needs it (``write=False``: only if a step has written it already); None outside a run, or
    on Spark (where the queries read the tables on the cluster)."""
    if ds.spec.engine == "spark":
        return None
    if not write:
        return stored_file(ds, kind, parameters)

    def copy(path: Path) -> None:
        con = ds.connect()
        try:
            con.execute(f"COPY ({sql}) TO {string_literal(str(path))} (FORMAT PARQUET)")
        finally:
            con.close()

    return cached_file(ds, kind, parameters, copy)


def _transaction_months(ds, write: bool = True) -> Path | None:
    """The run's table of transactions per customer and month (:func:`transaction_months_sql`),
    written by the first ABT of the run that needs it; None outside a run, without
    transactions, or on Spark."""
    if not ds.has("transactions"):
        return None
    return _run_table(ds, "transaction_months", {}, transaction_months_sql(), write)


def stored_transaction_months(ds) -> Path | None:
    """:func:`_transaction_months` if an ABT of the run has written it already; never writes."""
    return _transaction_months(ds, write=False)


def _soft_flags(ds, churn: ChurnDefinition) -> tuple[str | None, dict[str, Path]]:
    """The run's table of soft-churn flags over the whole window (:func:`soft_flags_sql`):
    ``(SOFT_FLAGS, {SOFT_FLAGS: path})``, the view name for the SQL and the ``files`` for
    :func:`_fetch`; ``(None, {})`` outside a run, on Spark and when the definition has no soft
    churn (the SQL then computes the flags itself).

    Every month's churn events, the survival frame's onset events and the "already draining"
    lists read the same flags: the window over every balance row runs once per run.
    """
    if churn.kind == "hard":
        return None, {}
    parameters = {"soft_floor": float(churn.soft_floor), "soft_drop": float(churn.soft_drop)}
    path = _run_table(ds, "soft_flags", parameters, soft_flags_sql(churn))
    return (None, {}) if path is None else (SOFT_FLAGS, {SOFT_FLAGS: path})


def _as_ns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """DuckDB returns dates as datetime64[us]; the canonical unit is ns (architecture §1)."""
    for column in columns:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame


# --------------------------------------------------------------------------------------------
# Churn events
# --------------------------------------------------------------------------------------------
def churn_events(
    ds, churn: ChurnDefinition | None = None, dating: str = "confirmed"
) -> pd.DataFrame:
    """Each churned customer's first churn event under a churn definition.

    Parameters
    ----------
    ds : helpers.data.dataset.Dataset
        A panel dataset (``customers`` and ``monthly_balances``).
    churn : helpers.config.ChurnDefinition, optional
        Default ``ChurnDefinition()`` (``kind="either"``, floor 1,000 RMB, 80 % drop, 3 months).
    dating : {"confirmed", "onset"}
        Month of a soft churn: ``"confirmed"`` (default, as in the ABT) is the month that
        completes the run of ``soft_months`` flagged months; ``"onset"`` is the run's first
        month, when the run-off began. Hard churn is the closure month either way.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (str), ``churn_month`` (month-end, datetime64[ns]), ``churn_type``
        (``"hard"`` or ``"soft"``), one row per churned customer, sorted by customer_id.

    Notes
    -----
    - **hard**: ``customers.close_date`` is set; dated at the month-end of the closure.
    - **soft**: for ``soft_months`` consecutive months AUM is below ``soft_floor`` or below
      ``(1 - soft_drop)`` x the average AUM of the previous (up to) 12 months. Dated at the
      month that confirms the run, so it is known from data up to that month. Customers with
      less than 12 months of history are compared with the months they have; a customer's
      first month can only be flagged by the floor. A missing month breaks a run.
    - **either**: the earlier of the two; a closure wins a tie.
    - Soft churn is found only inside the data window: a customer who had already run off
      before the window starts shows up as soft-churned in the window's ``soft_months``-th
      month.
    """
    _require_panel(ds, "churn_events")
    churn = _check_churn(churn or ChurnDefinition())

    def build() -> pd.DataFrame:
        flags, files = _soft_flags(ds, churn)
        events_sql = churn_events_sql(churn, dating, flags)
        sql = f"SELECT * FROM ({events_sql}) AS events ORDER BY customer_id"
        events = _as_ns(_fetch(ds, sql, files=files), ["churn_month"])
        events["customer_id"] = events["customer_id"].astype(str)
        return events.reset_index(drop=True)

    return cached_frame(ds, "churn_events", {"churn": churn.to_dict(), "dating": dating}, build)


def churn_month_indexes(events: pd.DataFrame) -> pd.DataFrame:
    """Each customer's first churn month as a month number (``year * 12 + month``).

    ``events``: ``customer_id`` and ``churn_month`` (as :func:`churn_events` returns them).
    Returns ``customer_id`` (str) and ``churn_index`` (int64), one row per customer with a
    churn month: the table SQL joins to drop churned customers from later months (a customer
    is off the book from the month whose number is at least ``churn_index``).
    """
    first = events.drop_duplicates("customer_id")
    stamps = pd.to_datetime(first["churn_month"])
    known = stamps.notna().to_numpy()
    return pd.DataFrame(
        {
            "customer_id": first["customer_id"].astype(str).to_numpy()[known],
            "churn_index": (stamps.dt.year * 12 + stamps.dt.month)
            .to_numpy()[known]
            .astype("int64"),
        }
    )


# --------------------------------------------------------------------------------------------
# ABT
# --------------------------------------------------------------------------------------------
def build_abt(
    ds,
    as_of: str | None = None,
    horizon: int = 6,
    churn: ChurnDefinition | None = None,
    ladder: pd.DataFrame | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Build the analytic base table as of a month (docs/architecture.md §4).

    ``ladder`` is the pack's tier ladder (``ctx.ladder``; default: the bundled one): the
    ``tier`` column is computed on it, so every notebook of a pack tiers customers alike.
    ``columns`` asks for a few of the ABT's columns only (``customer_id`` comes first
    anyway): the same values and dtypes as in the whole ABT, and in panel mode the query
    computes only what they need (at a million customers a lifecycle stage's four columns
    take a third of the whole ABT's time). Unknown names raise ValueError.

    Parameters
    ----------
    ds : helpers.data.dataset.Dataset
        Panel or flat dataset.
    as_of : str, optional
        As-of month ``"YYYY-MM"``; None -> the dataset's latest month. Ignored in flat mode.
    horizon : int
        Performance window h in months: labels look at months ``as_of + 1 .. as_of + h``.
    churn : helpers.config.ChurnDefinition, optional
        Which churn the labels, the "active" filter and the survival columns use.

    Returns
    -------
    pandas.DataFrame
        **Panel mode**: one row per customer open at the end of ``as_of`` and not churned on or
        before it, sorted by ``customer_id``, with exactly the columns of :func:`abt_columns`:

        - ids and static: ``customer_id``, ``as_of`` (month-end), ``branch_id``, ``rm_id``,
          ``gender``, ``age`` (as_of year - birth year), ``channel``, ``risk_level``,
          ``tenure_months`` (months on book at as_of, opening month = 1);
        - balances at as_of and trailing windows (months M-k+1 .. M, using the months a
          customer has): ``aum_avg_*``; ``aum_trend_k = aum / aum k months before - 1``, 0
          when that month is missing or zero; ``card_spend_3m`` and ``digital_logins_3m`` are
          3-month sums; ``payroll`` at as_of; ``payroll_months_12m``;
        - transactions from ``transactions`` when present (else from
          ``monthly_balances.txn_count / txn_amount``, month granularity):
          ``txn_recency_days`` (days from the last transaction to the end of as_of; never
          transacted -> days since the data window's first day), ``txn_count_3m``,
          ``txn_amount_3m`` (both directions), ``txn_count_12m``;
        - ``contacts_3m``, ``contacts_12m`` (calendar months M-2 .. M and M-11 .. M);
        - ``held_<code>`` for every catalogue product at the end of as_of, ``product_count``
          (cross-sell products held), ``tier`` (ordered categorical from the default ladder);
        - labels (pandas nullable, ``<NA>`` when ``as_of + horizon`` is past the last data
          month): ``churn_label``, ``churn_type_label`` (``"hard"``, ``"soft"`` or
          ``"none"``), ``took_<code>`` per cross-sell product (opened within the window;
          ``<NA>`` for customers who already held it at as_of);
        - survival, delayed entry at the as-of month (the *landmark*: everybody in the ABT
          is at risk from the end of as_of, where the features are measured):
          ``entry = tenure_months``, ``duration`` = months on book at churn or at censoring
          (the last data month, or a closure when ``churn.kind == "soft"``), ``event``.
          In the scoring month every row is censored with ``duration == entry``.

        **Flat mode** (one customer table, no history: no trailing windows, trends, tier
        migration or labels over a horizon): the canonical flat frame renamed to ABT names
        where roles map: ``customer_id``, ``duration`` (from ``duration_months``),
        ``event``, ``entry = 0``, ``aum`` (from ``value``), ``tier`` (mapped, else from
        ``aum`` on the default ladder), ``held_*``, ``product_count`` (when product flags
        are mapped), ``treatment``, ``outcome`` and the extra features; ``as_of`` is None.

    Notes
    -----
    Closures always end a customer's activity. With ``churn.kind == "soft"`` a customer who
    closes inside the horizon without soft-churning first gets ``churn_label = False``.
    """
    churn = _check_churn(churn or ChurnDefinition())
    if ds.mode == "flat":
        flat = _flat_abt(ds, ladder)
        if columns is None:
            return flat
        wanted = _wanted_columns(columns, list(flat.columns), "the flat table")
        return flat[wanted]
    _require_panel(ds, "build_abt")
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be a whole number of months >= 1, not {horizon!r}")
    parameters = _abt_parameters(ds, as_of, horizon, churn)
    queried = None
    if columns is not None:
        columns = _wanted_columns(columns, abt_columns(), "the ABT")
        # a tier is drawn on the ladder from aum: the query brings aum along
        with_aum = [*columns, "aum"] if "tier" in columns else columns
        queried = _wanted_columns(with_aum, abt_columns(), "the ABT")
    # Asked for a few columns while the run has the whole ABT: reading beats a query.
    abt = None if queried is None else stored_frame(ds, "abt", parameters, queried)
    if abt is None:
        if queried is not None:
            parameters["columns"] = queried
        abt = cached_frame(
            ds, "abt", parameters, lambda: _panel_abt(ds, as_of, int(horizon), churn, None, queried)
        )
    if ladder is not None and "tier" in abt.columns:
        abt["tier"] = assign_tiers(abt["aum"], ladder)
    return abt if columns is None else abt[columns]


def _wanted_columns(columns: Sequence[str], known: list[str], where: str) -> list[str]:
    """``customer_id`` and ``columns`` (each once, in known order); unknown names raise."""
    if isinstance(columns, str):
        raise TypeError("columns must be a list of column names, not a single string")
    unknown = sorted(set(columns) - set(known))
    if unknown:
        raise ValueError(f"{where} has no columns {unknown}; it has {known}")
    wanted = {"customer_id", *columns}
    return [column for column in known if column in wanted]


def _abt_parameters(ds, as_of, horizon: int, churn: ChurnDefinition) -> dict:
    """The run cache's key of an ABT besides the data.

    One cached ABT per (month, horizon, churn definition): "the latest month" and its label
    share it, and the ladder only re-tiers the cached frame (cheap), so notebooks asking with
    and without the pack's ladder do not build it twice.
    """
    month = month_label(as_of) if as_of not in (None, "") else f"{_data_window(ds)[1]:%Y-%m}"
    return {"as_of": month, "horizon": int(horizon), "churn": churn.to_dict()}


def warm_abt(ds, as_of: str, horizon: int = 6, churn: ChurnDefinition | None = None) -> bool:
    """Build a panel ABT into this run's cache now, without holding it in memory.

    For a notebook that will need the ABT later while another notebook of the run needs it
    sooner: built early by whichever has a core to spare, read by both. Outside a batch run
    (no run cache) and for flat data it does nothing and returns False.
    """
    if ds.mode == "flat":
        return False
    churn = _check_churn(churn or ChurnDefinition())
    return warm_frame(
        ds,
        "abt",
        _abt_parameters(ds, as_of, horizon, churn),
        lambda: _panel_abt(ds, as_of, int(horizon), churn, None),
    )


def _panel_abt(
    ds, as_of, horizon: int, churn: ChurnDefinition, ladder, columns: list[str] | None = None
) -> pd.DataFrame:
    """:func:`build_abt` in panel mode, without the run cache; ``columns`` as there (already
    checked: ``customer_id`` first, in ABT order, ``aum`` with ``tier``)."""
    first_month, last_month = _data_window(ds)
    as_of_end = last_month if as_of in (None, "") else month_end(as_of)
    if not first_month <= as_of_end <= last_month:
        raise ValueError(
            f"as_of {as_of!r} is outside the data: monthly_balances covers "
            f"{first_month:%Y-%m} to {last_month:%Y-%m}"
        )
    window = AbtWindow(
        as_of=as_of_end, horizon=int(horizon), first_month=first_month, last_month=last_month
    )
    catalogue = product_catalogue()
    products = list(catalogue["code"])
    cross_sell = cross_sell_products()
    months_file = _transaction_months(ds)
    sql = abt_sql(
        window,
        churn,
        products=products,
        cross_sell=cross_sell,
        has_transactions=ds.has("transactions"),
        has_holdings=ds.has("holdings"),
        has_contacts=ds.has("contacts"),
        events_table="__fp_churn_events",
        transaction_months=None if months_file is None else "__fp_transaction_months",
    )
    # The churn events come from the run's cache (built once per run and churn definition).
    events = churn_events(ds, churn)[["customer_id", "churn_month", "churn_type"]]
    files = {} if months_file is None else {"__fp_transaction_months": months_file}
    output = abt_columns(products, cross_sell) if columns is None else columns
    if columns is not None:  # only the columns asked for: the optimiser drops the rest
        queried = [c for c in columns if c not in ("as_of", "tier")]
        sql = f"SELECT {', '.join(queried)} FROM ({sql}) AS abt ORDER BY customer_id"
    abt = _fetch(ds, sql, {"__fp_churn_events": events}, files)
    abt["customer_id"] = abt["customer_id"].astype(str)
    abt.insert(1, "as_of", pd.Series(as_of_end, index=abt.index, dtype="datetime64[ns]"))
    if "tier" in output:
        abt["tier"] = assign_tiers(abt["aum"], ladder)
    present = set(abt.columns)
    for column in ["payroll", "event"] + [f"held_{code}" for code in products]:
        if column in present:
            abt[column] = abt[column].astype(bool)
    for column in ["churn_label"] + [f"took_{code}" for code in cross_sell]:
        if column in present:
            abt[column] = abt[column].astype("boolean")
    if "churn_type_label" in present:
        abt["churn_type_label"] = abt["churn_type_label"].astype("string")
    integer_columns = [
        "age",
        "tenure_months",
        "digital_logins_3m",
        "payroll_months_12m",
        "txn_recency_days",
        "txn_count_3m",
        "txn_count_12m",
        "contacts_3m",
        "contacts_12m",
        "product_count",
        "entry",
        "duration",
    ]
    for column in (c for c in integer_columns if c in present):
        # Int64 only if a value is missing (e.g. a birth_year gap), plain int64 otherwise
        if abt[column].isna().any():
            abt[column] = abt[column].astype("Int64")
        else:
            abt[column] = abt[column].astype("int64")
    float_columns = [
        column
        for column in ABT_BEHAVIOUR_COLUMNS
        if column not in integer_columns and column != "payroll" and column in present
    ]
    abt[float_columns] = abt[float_columns].astype("float64")
    abt.attrs.update(
        {
            "as_of": f"{as_of_end:%Y-%m}",
            "horizon": int(horizon),
            "churn": churn.to_dict(),
            "labels_known": window.labels_known,
            "transactions_source": "transactions" if ds.has("transactions") else "monthly_balances",
        }
    )
    return abt[output].reset_index(drop=True)


def _flat_abt(ds, ladder: pd.DataFrame | None = None) -> pd.DataFrame:
    """The flat-mode ABT: the canonical flat frame under ABT names (no history).

    A mapped tier column wins; otherwise tiers come from ``aum`` on ``ladder``."""
    if not ds.has("flat"):
        raise ValueError(f"flat dataset {ds.name!r} has no 'flat' table; it has {ds.tables()}")
    flat = ds.table("flat").copy()
    flat = flat.rename(columns={"duration_months": "duration", "value": "aum"})
    flat["customer_id"] = flat["customer_id"].astype(str)
    flat.insert(1, "as_of", None)
    flat["entry"] = 0
    if "event" in flat.columns:
        flat["event"] = flat["event"].astype(bool)
    tier_from_role = "tier" in flat.columns  # the spec maps a tier column: it wins
    if "tier" not in flat.columns and "aum" in flat.columns:
        flat["tier"] = assign_tiers(flat["aum"], ladder)
    elif "tier" in flat.columns:
        codes = list((tier_ladder() if ladder is None else ladder)["code"])
        if set(flat["tier"].dropna()) <= set(codes):
            # same ordered categorical as in panel mode, so tier sorts mass < ... < private
            flat["tier"] = pd.Categorical(flat["tier"], categories=codes, ordered=True)
    held = [column for column in flat.columns if column.startswith("held_")]
    for column in held:
        flat[column] = flat[column].astype(bool)
    # Count the cross-sell products: the catalogue's, and every product the spec names that
    # the catalogue does not know (a product named like a catalogue code must not make the
    # others disappear); only catalogue products that are not cross-sell (the current
    # account) are left out.
    catalogue_only = set(product_catalogue()["code"]) - set(cross_sell_products())
    counted = [column for column in held if column.removeprefix("held_") not in catalogue_only]
    if counted and "product_count" not in flat.columns:
        flat["product_count"] = flat[counted].sum(axis=1).astype("int64")
    flat.attrs.update({"as_of": None, "mode": "flat", "tier_from_role": tier_from_role})
    return flat.reset_index(drop=True)
