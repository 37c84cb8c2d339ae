"""SQL text behind :mod:`helpers.features.abt`: churn events, the ABT, survival frames.

Every query runs in DuckDB over the views of :meth:`helpers.data.dataset.Dataset.connect` (one
view per canonical table), so the heavy aggregation never passes through pandas. The SQL is
kept close to ANSI so it can move to Spark SQL when one machine is no longer enough:

- window functions (``AVG ... OVER (... RANGE BETWEEN 12 PRECEDING AND 1 PRECEDING)``,
  ``ROW_NUMBER``), ``CASE``, ``COALESCE``, ``LEAST``/``GREATEST``, ``EXTRACT``;
- ``LAST_DAY`` (DuckDB, Spark, Oracle, MySQL, Snowflake) and ``DATEDIFF('day', a, b)``
  (DuckDB, Snowflake; Spark spells it ``DATEDIFF(b, a)``) are the non-ANSI functions;
- all as-of boundaries are computed in Python and written as ``DATE 'YYYY-MM-DD'`` literals,
  so no engine-specific date arithmetic is needed;
- integer sums and counts are cast to ``BIGINT`` (DuckDB returns HUGEINT otherwise, which
  reaches pandas as slow object columns: FIELD-NOTES "HUGEINT trap");
- **money is summed exactly, in whole cents (fen)** (:func:`cents_sql`, :func:`money_sum_sql`,
  :func:`money_avg_sql`): a parallel floating-point SUM or AVG adds in whatever order the
  threads finish, so two builds of the same ABT differed in the last bits (7e-9) and KPIs were
  not reproducible; Spark adds in yet another order. Integer sums are exact in any order and
  any engine, and the one division at the end is a single IEEE operation, so DuckDB (any
  thread count) and Spark give bit-identical features. Amounts are rounded to the cent first
  (a source value with more decimals moves by less than half a cent).

Months are compared through a *month index* ``year * 12 + month``; date ranges are
half-open (``>= first day`` and ``< first day of the next month``) so that timestamps with
a time of day and month columns stored as the first or last day of the month all work.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from helpers.config import ChurnDefinition
from helpers.months import month_index, month_start, shift_month


def date_literal(stamp: pd.Timestamp) -> str:
    """``DATE 'YYYY-MM-DD'`` literal for SQL."""
    return f"DATE '{pd.Timestamp(stamp):%Y-%m-%d}'"


def string_literal(value: str) -> str:
    """Single-quoted SQL string literal (quotes doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


def cents_sql(expression: str) -> str:
    """An amount as whole cents: ``BIGINT``, rounded half away from zero."""
    return f"CAST(ROUND({expression} * 100) AS BIGINT)"


def money_sum_sql(cents: str) -> str:
    """Exact sum of a cents expression, as DOUBLE yuan (NULL over no rows)."""
    return f"CAST(SUM({cents}) AS DOUBLE) / 100"


def money_avg_sql(cents: str, over: str = "") -> str:
    """Exact average of a cents expression, as DOUBLE yuan (NULL over no rows).

    ``over`` is an optional window clause (``"OVER (...)"``) applied to both aggregates.
    """
    return (
        f"CAST(SUM({cents}) {over} AS DOUBLE) "
        f"/ CAST(NULLIF(COUNT({cents}) {over}, 0) AS DOUBLE) / 100"
    )


def month_index_sql(column: str) -> str:
    """SQL for the month index of a date/timestamp column.

    The column is cast to DATE first. Besides being portable, this dodges a DuckDB 2.0.1
    bug: on a TIMESTAMP_NS column read from Parquet, arithmetic on ``EXTRACT(YEAR ...)``
    gets wrong statistics and a filter such as ``EXTRACT(YEAR FROM month) * 12 + ... <= n``
    is pruned to an empty result (checked on the sample: 0 rows instead of 186,320).
    """
    return (
        f"(EXTRACT(YEAR FROM CAST({column} AS DATE)) * 12"
        f" + EXTRACT(MONTH FROM CAST({column} AS DATE)))"
    )


# --------------------------------------------------------------------------------------------
# Churn events
# --------------------------------------------------------------------------------------------
def hard_churn_sql() -> str:
    """Hard churn: one row per closed customer, dated at the month-end of ``close_date``."""
    return """
        SELECT customer_id,
               LAST_DAY(CAST(close_date AS DATE)) AS churn_month,
               LAST_DAY(CAST(close_date AS DATE)) AS onset_month,
               'hard' AS churn_type
        FROM customers
        WHERE close_date IS NOT NULL"""


def soft_flags_sql(
    churn: ChurnDefinition, up_to: str | None = None, since: str | None = None
) -> str:
    """Customer-months flagged by the soft-churn rule: ``customer_id``, ``month`` (month-end
    DATE), ``month_index``.

    A customer-month is *flagged* when AUM is below ``soft_floor`` or below
    ``(1 - soft_drop)`` times the exact (cents) average AUM of the (up to) 12 previous months;
    in a customer's first data month there is no trailing average, so only the floor can
    flag it. A flag looks back only, so it never depends on later months: the flags of the
    whole window, stored once per run, answer every as-of month (:func:`soft_churn_sql`'s
    ``flags``). ``up_to`` (a date literal) leaves out later months; ``since`` leaves out
    earlier ones, which makes the flags exact from 12 months after it only (their trailing
    average is complete then).
    """
    drop_factor = 1.0 - float(churn.soft_drop)
    trailing_window = (
        "OVER (PARTITION BY customer_id ORDER BY month_index "
        "RANGE BETWEEN 12 PRECEDING AND 1 PRECEDING)"
    )
    bounds = "" if up_to is None else f" AND CAST(month AS DATE) <= {up_to}"
    bounds += "" if since is None else f" AND CAST(month AS DATE) >= {since}"
    # Exact pre-filter (saves the window sort for most customers): a flagged month has AUM
    # below the floor or below drop_factor x an average of earlier months, which is at most
    # drop_factor x the customer's maximum; so customers whose minimum is not below
    # GREATEST(floor, drop_factor x maximum) can never be flagged.
    return f"""
        WITH soft_candidates AS (
            SELECT customer_id
            FROM monthly_balances
            GROUP BY customer_id
            HAVING MIN(aum_total) < GREATEST({float(churn.soft_floor)!r},
                                             {drop_factor!r} * MAX(aum_total))
        ),
        soft_months AS (
            SELECT customer_id, month, month_index, aum_total,
                   {money_avg_sql("aum_cents", trailing_window)} AS trailing_aum
            FROM (
                SELECT customer_id,
                       LAST_DAY(CAST(month AS DATE)) AS month,
                       {month_index_sql("month")} AS month_index,
                       CAST(aum_total AS DOUBLE) AS aum_total,
                       {cents_sql("aum_total")} AS aum_cents
                FROM monthly_balances
                WHERE customer_id IN (SELECT customer_id FROM soft_candidates){bounds}
            ) AS balances
        )
        SELECT customer_id, month, month_index
        FROM soft_months
        WHERE aum_total < {float(churn.soft_floor)!r}
           OR aum_total < {drop_factor!r} * trailing_aum"""


def soft_churn_sql(churn: ChurnDefinition, flags: str | None = None) -> str:
    """Soft churn: the first month that completes a run of ``soft_months`` flagged months.

    Months are flagged by :func:`soft_flags_sql` (``flags`` names a table of its rows for the
    whole window, e.g. the run's stored copy; without it they are computed here). Edge cases:

    - the trailing average uses whatever previous months exist (a customer with 4 months of
      history is compared with those 4); in a customer's first data month there is no
      trailing average, so only the floor can flag it;
    - flagged months count as consecutive only when their month indexes are consecutive
      (a missing month breaks the run, found with the gaps-and-islands trick
      ``month_index - ROW_NUMBER()``);
    - soft churn is dated at the month that *confirms* the run (its ``soft_months``-th month),
      so it is known from data up to that month only: no look-ahead;
    - only the first confirmed run counts (a customer who recovers later stays churned);
    - ``onset_month`` is the run's first month, when the run-off began (for survival
      analysis, where covariates must precede the event).
    """
    source = flags if flags is not None else f"({soft_flags_sql(churn)}) AS flags"
    return f"""
        WITH soft_flagged AS (
            SELECT customer_id, month, month_index,
                   month_index - ROW_NUMBER() OVER (
                       PARTITION BY customer_id ORDER BY month_index
                   ) AS run_id
            FROM {source}
        ),
        soft_runs AS (
            SELECT customer_id, month,
                   ROW_NUMBER() OVER (
                       PARTITION BY customer_id, run_id ORDER BY month_index
                   ) AS run_position,
                   MIN(month) OVER (PARTITION BY customer_id, run_id) AS onset_month
            FROM soft_flagged
        )
        SELECT customer_id, month AS churn_month, onset_month, 'soft' AS churn_type
        FROM (
            SELECT customer_id, month, onset_month,
                   ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY month) AS run_rank
            FROM soft_runs
            WHERE run_position = {int(churn.soft_months)}
        ) AS confirmed
        WHERE run_rank = 1"""


def churn_events_sql(
    churn: ChurnDefinition, dating: str = "confirmed", flags: str | None = None
) -> str:
    """One row per churned customer: ``customer_id, churn_month, churn_type``.

    ``flags`` names a table of :func:`soft_flags_sql`'s rows for the whole window (see
    :func:`soft_churn_sql`).

    ``dating="confirmed"`` dates soft churn at the month that confirms the run (what the ABT
    uses: known from data up to that month); ``"onset"`` at the run's first month (survival
    frames). ``kind="either"`` keeps each customer's first event by that dating; on a tie
    the closure wins, because it is the recorded fact.
    """
    if dating not in {"confirmed", "onset"}:
        raise ValueError(f"dating must be 'confirmed' or 'onset', not {dating!r}")
    month_column = "churn_month" if dating == "confirmed" else "onset_month"
    parts = []
    if churn.kind in {"hard", "either"}:
        parts.append(hard_churn_sql())
    if churn.kind in {"soft", "either"}:
        parts.append(soft_churn_sql(churn, flags))
    union = "\n        UNION ALL\n".join(
        f"SELECT * FROM ({part}) AS part_{i}" for i, part in enumerate(parts)
    )
    return f"""
        SELECT customer_id, churn_month, churn_type
        FROM (
            SELECT customer_id, {month_column} AS churn_month, churn_type,
                   ROW_NUMBER() OVER (
                       PARTITION BY customer_id
                       ORDER BY {month_column}, CASE WHEN churn_type = 'hard' THEN 0 ELSE 1 END
                   ) AS event_rank
            FROM ({union}) AS all_events
        ) AS ranked
        WHERE event_rank = 1"""


# --------------------------------------------------------------------------------------------
# ABT
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AbtWindow:
    """Month boundaries of one ABT build (computed once in Python, used as SQL literals).

    Attributes
    ----------
    as_of : pd.Timestamp
        Month-end of the as-of month M.
    horizon : int
        Performance window length h (months).
    first_month, last_month : pd.Timestamp
        Month-ends of the data window's first and last months.
    """

    as_of: pd.Timestamp
    horizon: int
    first_month: pd.Timestamp
    last_month: pd.Timestamp

    @property
    def as_of_index(self) -> int:
        return month_index(self.as_of)

    @property
    def after_as_of(self) -> pd.Timestamp:
        """First day after M: every feature uses dates strictly before it."""
        return self.as_of + pd.Timedelta(days=1)

    @property
    def horizon_end(self) -> pd.Timestamp:
        return shift_month(self.as_of, self.horizon)

    @property
    def labels_known(self) -> bool:
        """Whether the whole performance window (M, M+h] lies inside the data."""
        return month_index(self.horizon_end) <= month_index(self.last_month)

    def start_of_last(self, months: int) -> pd.Timestamp:
        """First day of the trailing ``months``-month window ending at M."""
        return month_start(shift_month(self.as_of, -(months - 1)))


def transaction_months_sql() -> str:
    """Each customer's transactions per calendar month: ``customer_id``, ``month`` (first
    day), ``transactions``, ``amount_cents`` (sum of each row's amount in cents, as the ABT
    sums them), ``first_date``, ``last_date``. Rows without a date are left out, as every ABT
    leaves them out.

    The ABT's transaction features (count and amount over the last 3 and 12 months, date of
    the last transaction before the month's end) are sums and maxima over whole months, so
    they come out the same from these rows: a run builds them once (71M transactions become
    19M customer-months at a million customers) instead of every ABT scanning every
    transaction (:func:`abt_sql`'s ``transaction_months``).
    """
    return f"""
        SELECT customer_id,
               CAST(DATE_TRUNC('month', CAST(txn_date AS DATE)) AS DATE) AS month,
               CAST(COUNT(*) AS BIGINT) AS transactions,
               CAST(SUM({cents_sql("amount")}) AS BIGINT) AS amount_cents,
               MIN(CAST(txn_date AS DATE)) AS first_date,
               MAX(CAST(txn_date AS DATE)) AS last_date
        FROM transactions
        WHERE txn_date IS NOT NULL
        GROUP BY customer_id, CAST(DATE_TRUNC('month', CAST(txn_date AS DATE)) AS DATE)"""


def abt_sql(
    window: AbtWindow,
    churn: ChurnDefinition,
    products: list[str],
    cross_sell: list[str],
    has_transactions: bool,
    has_holdings: bool,
    has_contacts: bool,
    events_table: str | None = None,
    transaction_months: str | None = None,
) -> str:
    """The whole panel-mode ABT as one query (see :func:`helpers.features.abt.build_abt`).

    ``events_table`` names a registered table of the churn events already computed
    (``customer_id`` as text, ``churn_month``, ``churn_type``: :func:`churn_events_sql`'s
    rows): the run builds them once instead of once per ABT (half of an ABT's work at a
    million customers). Without it the events are computed inside the query.
    ``transaction_months`` likewise names a table of :func:`transaction_months_sql`'s rows,
    read instead of ``transactions`` (the same features).
    """
    if events_table is None:
        events_sql = churn_events_sql(churn)
        customer_key = "c.customer_id"
    else:
        events_sql = (
            f"SELECT customer_id, CAST(churn_month AS DATE) AS churn_month, churn_type "
            f"FROM {events_table}"
        )
        customer_key = "CAST(c.customer_id AS VARCHAR)"
    as_of = date_literal(window.as_of)
    after = date_literal(window.after_as_of)
    as_of_index = window.as_of_index
    after_horizon = date_literal(window.horizon_end + pd.Timedelta(days=1))
    last_month = date_literal(window.last_month)
    start_3m = date_literal(window.start_of_last(3))
    start_12m = date_literal(window.start_of_last(12))
    # 13 months: AUM 12 months before M is needed for the 12-month trend
    start_13m = date_literal(window.start_of_last(13))
    known = "TRUE" if window.labels_known else "FALSE"
    # Never transacted: recency is capped at the days from the data window's first day to M
    recency_cap = (window.after_as_of - month_start(window.first_month)).days

    # The transaction features from one of three sources, one query shape: (table, the
    # column dated by month or day, transactions per row, cents per row, last date per row).
    if has_transactions and transaction_months is not None:
        source = (transaction_months, "month", "transactions", "amount_cents", "last_date")
    elif has_transactions:
        source = ("transactions", "txn_date", "1", cents_sql("amount"), "CAST(txn_date AS DATE)")
    else:  # monthly_balances.txn_count / txn_amount: recency at month granularity
        source = (
            "monthly_balances",
            "month",
            "txn_count",
            cents_sql("txn_amount"),
            "CASE WHEN txn_count > 0 THEN LAST_DAY(CAST(month AS DATE)) END",
        )
    table, dated, count, cents, last_date = source
    recent_amount = f"CASE WHEN {dated} >= {start_3m} THEN {cents} ELSE 0 END"
    transaction_cte = f"""
        txn AS (
            SELECT customer_id,
                   MAX({last_date}) AS last_txn_date,
                   CAST(SUM(CASE WHEN {dated} >= {start_3m} THEN {count} ELSE 0 END)
                       AS BIGINT) AS txn_count_3m,
                   {money_sum_sql(recent_amount)} AS txn_amount_3m,
                   CAST(SUM(CASE WHEN {dated} >= {start_12m} THEN {count} ELSE 0 END)
                       AS BIGINT) AS txn_count_12m
            FROM {table}
            WHERE {dated} < {after}
            GROUP BY customer_id
        ),"""

    if has_holdings:
        held_at = f"open_date < {after} AND (close_date IS NULL OR close_date >= {after})"
        took_in = f"open_date >= {after} AND open_date < {after_horizon}"
        held_columns = ",\n                   ".join(
            f"MAX(CASE WHEN product = {string_literal(code)} AND {held_at} "
            f"THEN 1 ELSE 0 END) AS held_{code}"
            for code in products
        )
        took_columns = ",\n                   ".join(
            f"MAX(CASE WHEN product = {string_literal(code)} AND {took_in} "
            f"THEN 1 ELSE 0 END) AS took_raw_{code}"
            for code in cross_sell
        )
        holdings_cte = f"""
        held AS (
            SELECT customer_id,
                   {held_columns},
                   {took_columns}
            FROM holdings
            GROUP BY customer_id
        ),"""
    else:
        holdings_cte = ""

    if has_contacts:
        contacts_cte = f"""
        touched AS (
            SELECT customer_id,
                   CAST(SUM(CASE WHEN contact_date >= {start_3m} THEN 1 ELSE 0 END) AS BIGINT)
                       AS contacts_3m,
                   CAST(COUNT(*) AS BIGINT) AS contacts_12m
            FROM contacts
            WHERE contact_date >= {start_12m} AND contact_date < {after}
            GROUP BY customer_id
        ),"""
    else:
        contacts_cte = ""

    held_select = (
        ",\n            ".join(
            f"COALESCE(h.held_{code}, 0) = 1 AS held_{code}" for code in products
        )
        if has_holdings
        else ",\n            ".join(f"FALSE AS held_{code}" for code in products)
    )
    product_count = (
        " + ".join(f"COALESCE(h.held_{code}, 0)" for code in cross_sell) if has_holdings else "0"
    )
    took_select = ",\n            ".join(
        (
            f"CASE WHEN NOT {known} OR COALESCE(h.held_{code}, 0) = 1 THEN NULL "
            f"ELSE COALESCE(h.took_raw_{code}, 0) = 1 END AS took_{code}"
        )
        if has_holdings
        else f"CAST(NULL AS BOOLEAN) AS took_{code}"
        for code in cross_sell
    )
    holdings_join = "LEFT JOIN held AS h ON h.customer_id = a.customer_id" if has_holdings else ""
    contacts_select = (
        "COALESCE(k.contacts_3m, 0) AS contacts_3m,\n            "
        "COALESCE(k.contacts_12m, 0) AS contacts_12m"
        if has_contacts
        else "CAST(0 AS BIGINT) AS contacts_3m,\n            CAST(0 AS BIGINT) AS contacts_12m"
    )
    contacts_join = (
        "LEFT JOIN touched AS k ON k.customer_id = a.customer_id" if has_contacts else ""
    )

    def last_months(months: int, value: str, otherwise: str = "ELSE 0 ") -> str:
        """``value`` in the trailing ``months`` months up to as_of, else 0 (or NULL)."""
        return f"CASE WHEN month_index > {as_of_index - months} THEN {value} {otherwise}END"

    # Closures always end a customer's activity; with kind="soft" they censor the survival
    # time instead of counting as events.
    end_month = (
        f"COALESCE(a.churn_month, LEAST(COALESCE(a.close_month, {last_month}), {last_month}))"
    )

    return f"""
        WITH events AS ({events_sql}
        ),
        active AS (
            SELECT c.customer_id, c.branch_id, c.rm_id, c.gender, c.birth_year, c.channel,
                   c.risk_level,
                   {month_index_sql("c.open_date")} AS open_index,
                   LAST_DAY(CAST(c.close_date AS DATE)) AS close_month,
                   CASE WHEN e.churn_month <= {last_month} THEN e.churn_month END AS churn_month,
                   e.churn_type
            FROM customers AS c
            LEFT JOIN events AS e ON e.customer_id = {customer_key}
            WHERE c.open_date < {after}
              AND (c.close_date IS NULL OR c.close_date >= {after})
              AND (e.churn_month IS NULL OR e.churn_month > {as_of})
        ),
        balances AS (
            SELECT customer_id,
                   {month_index_sql("month")} AS month_index,
                   CAST(aum_total AS DOUBLE) AS aum_total,
                   {cents_sql("aum_total")} AS aum_cents,
                   demand_deposit, time_deposit, wealth_mgmt, funds, insurance, loan_balance,
                   {cents_sql("card_spend")} AS card_spend_cents, digital_logins, payroll
            FROM monthly_balances
            WHERE month >= {start_13m} AND month < {after}
        ),
        balance_features AS (
            SELECT customer_id,
                   MAX(CASE WHEN month_index = {as_of_index} THEN aum_total END) AS aum,
                   MAX(CASE WHEN month_index = {as_of_index} THEN demand_deposit END)
                       AS demand_deposit,
                   MAX(CASE WHEN month_index = {as_of_index} THEN time_deposit END) AS time_deposit,
                   MAX(CASE WHEN month_index = {as_of_index} THEN wealth_mgmt END) AS wealth_mgmt,
                   MAX(CASE WHEN month_index = {as_of_index} THEN funds END) AS funds,
                   MAX(CASE WHEN month_index = {as_of_index} THEN insurance END) AS insurance,
                   MAX(CASE WHEN month_index = {as_of_index} THEN loan_balance END) AS loan_balance,
                   {money_avg_sql(last_months(3, "aum_cents", ""))} AS aum_avg_3m,
                   {money_avg_sql(last_months(6, "aum_cents", ""))} AS aum_avg_6m,
                   {money_avg_sql(last_months(12, "aum_cents", ""))} AS aum_avg_12m,
                   MAX(CASE WHEN month_index = {as_of_index - 3} THEN aum_total END) AS aum_lag_3,
                   MAX(CASE WHEN month_index = {as_of_index - 6} THEN aum_total END) AS aum_lag_6,
                   MAX(CASE WHEN month_index = {as_of_index - 12} THEN aum_total END)
                       AS aum_lag_12,
                   {money_sum_sql(last_months(3, "card_spend_cents"))} AS card_spend_3m,
                   CAST(SUM(CASE WHEN month_index > {as_of_index - 3} THEN digital_logins
                       ELSE 0 END) AS BIGINT) AS digital_logins_3m,
                   MAX(CASE WHEN month_index = {as_of_index} AND payroll THEN 1 ELSE 0 END)
                       AS payroll,
                   CAST(SUM(CASE WHEN month_index > {as_of_index - 12} AND payroll THEN 1 ELSE 0
                       END) AS BIGINT) AS payroll_months_12m
            FROM balances
            GROUP BY customer_id
        ),{transaction_cte}{holdings_cte}{contacts_cte}
        joined AS (
            SELECT a.*, b.aum, b.demand_deposit, b.time_deposit, b.wealth_mgmt, b.funds,
                   b.insurance, b.loan_balance, b.aum_avg_3m, b.aum_avg_6m, b.aum_avg_12m,
                   b.aum_lag_3, b.aum_lag_6, b.aum_lag_12, b.card_spend_3m, b.digital_logins_3m,
                   b.payroll, b.payroll_months_12m,
                   t.last_txn_date, t.txn_count_3m, t.txn_amount_3m, t.txn_count_12m
            FROM active AS a
            LEFT JOIN balance_features AS b ON b.customer_id = a.customer_id
            LEFT JOIN txn AS t ON t.customer_id = a.customer_id
        )
        SELECT
            a.customer_id,
            a.branch_id,
            a.rm_id,
            a.gender,
            CAST({window.as_of.year} - a.birth_year AS BIGINT) AS age,
            a.channel,
            a.risk_level,
            CAST({as_of_index} - a.open_index + 1 AS BIGINT) AS tenure_months,
            a.aum, a.demand_deposit, a.time_deposit, a.wealth_mgmt, a.funds, a.insurance,
            a.loan_balance, a.aum_avg_3m, a.aum_avg_6m, a.aum_avg_12m,
            {trend_sql("a.aum", "a.aum_lag_3")} AS aum_trend_3m,
            {trend_sql("a.aum", "a.aum_lag_6")} AS aum_trend_6m,
            {trend_sql("a.aum", "a.aum_lag_12")} AS aum_trend_12m,
            COALESCE(a.card_spend_3m, 0) AS card_spend_3m,
            COALESCE(a.digital_logins_3m, 0) AS digital_logins_3m,
            COALESCE(a.payroll, 0) = 1 AS payroll,
            COALESCE(a.payroll_months_12m, 0) AS payroll_months_12m,
            CAST(COALESCE(DATEDIFF('day', a.last_txn_date, {as_of}), {recency_cap}) AS BIGINT)
                AS txn_recency_days,
            COALESCE(a.txn_count_3m, 0) AS txn_count_3m,
            COALESCE(a.txn_amount_3m, 0) AS txn_amount_3m,
            COALESCE(a.txn_count_12m, 0) AS txn_count_12m,
            {contacts_select},
            {held_select},
            CAST({product_count} AS BIGINT) AS product_count,
            CASE WHEN NOT {known} THEN NULL
                 ELSE COALESCE(a.churn_month < {after_horizon}, FALSE) END AS churn_label,
            CASE WHEN NOT {known} THEN NULL
                 WHEN a.churn_month < {after_horizon} THEN a.churn_type
                 ELSE 'none' END AS churn_type_label,
            {took_select},
            CAST({as_of_index} - a.open_index + 1 AS BIGINT) AS entry,
            CAST({month_index_sql(end_month)} - a.open_index + 1 AS BIGINT) AS duration,
            a.churn_month IS NOT NULL AS event
        FROM joined AS a
        {holdings_join}
        {contacts_join}
        ORDER BY a.customer_id"""


def trend_sql(current: str, before: str) -> str:
    """``current / before - 1``; 0 when ``before`` is missing or zero (architecture.md §4)."""
    return (
        f"CASE WHEN {before} IS NULL OR {before} = 0 OR {current} IS NULL THEN 0.0 "
        f"ELSE {current} / {before} - 1 END"
    )
