"""Survival frames over the whole data window: one row per customer, or one per customer-month.

Public entry points are re-exported by :mod:`helpers.features.abt` (``survival_frame``,
``time_varying_frame``); the SQL runs in DuckDB over the dataset's views.

Time scale: months on book, the opening month counting as month 1 (as ``tenure_months`` in
the ABT; :func:`helpers.months.months_on_book`). The at-risk rule is the generator's
(:data:`helpers.months.AT_RISK_RULE`): a customer is at risk in month t with a row at t-1. A
customer who opened before the data window is *left-truncated*: it is in the data only because
it was still there when the window opened, and it is at risk from the window's second month,
so it enters the risk set at ``entry`` = the months on book completed at the end of the
window's first month, not at zero. A customer opened inside the window has ``entry = 0``
(nobody is at risk in their opening month, so 0 and 1 give the same curves). Churn in month t
gives ``duration`` = months on book at t, so ``duration > entry`` (lifelines requires it;
a closure in the window's first month, not at risk under the rule, is left out).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.config import ChurnDefinition, assign_tiers, cross_sell_products
from helpers.features.abt import (
    _as_ns,
    _check_churn,
    _data_window,
    _fetch,
    _require_panel,
    _soft_flags,
    build_abt,
)
from helpers.features.cache import cached_frame
from helpers.features.sql import (
    churn_events_sql,
    date_literal,
    month_index_sql,
    soft_flags_sql,
    string_literal,
)
from helpers.months import month_end, month_index, month_start, shift_month

#: Covariates of :func:`time_varying_frame`, each measured at the end of the previous month.
TIME_VARYING_COVARIATES = [
    "log_aum",
    "product_count",
    "rm_contact_3m",
    "digital_active",
    "aum_drop_3m",
    "payroll",
]


def follow_up_end(churn: ChurnDefinition, last_month: pd.Timestamp, soft_dating: str):
    """Last month of follow-up: with onset dating, soft runs that start in the window's last
    ``soft_months - 1`` months cannot be confirmed yet, so follow-up stops before them
    (administrative censoring for everybody, so no cause is favoured)."""
    if soft_dating not in {"confirmed", "onset"}:
        raise ValueError(f"soft_dating must be 'confirmed' or 'onset', not {soft_dating!r}")
    if soft_dating == "onset" and churn.kind != "hard":
        return shift_month(last_month, -(int(churn.soft_months) - 1))
    return last_month


def draining_customers(ds, as_of: str | None = None, churn: ChurnDefinition | None = None):
    """Customers in a run-off at ``as_of`` that the churn definition has not confirmed yet.

    Soft churn is confirmed only after ``soft_months`` consecutive flagged months, so at an
    as-of month a customer whose balance has been flagged for the last 1 .. ``soft_months - 1``
    months is still "active" in the ABT, yet already leaving: a model that learns from them
    learns to spot a run-off under way (it will be confirmed within the horizon), which makes
    it look better than it is and says nothing about whom a call could still keep. Survival
    training and evaluation leave them out; reports list them separately as "already
    draining". Only data up to ``as_of`` is used.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (str), ``onset_month`` (month-end of the run's first flagged month),
        ``months_flagged`` (int); empty for ``churn.kind == "hard"`` and for flat datasets.
        Customers who already churned by ``as_of`` may appear; callers keep the active ones.
    """
    churn = _check_churn(churn or ChurnDefinition())
    empty = pd.DataFrame(
        {
            "customer_id": pd.Series(dtype=str),
            "onset_month": pd.Series(dtype="datetime64[ns]"),
            "months_flagged": pd.Series(dtype="int64"),
        }
    )
    if ds.mode == "flat" or churn.kind == "hard" or int(churn.soft_months) < 2:
        return empty
    _require_panel(ds, "draining_customers")
    first_month, last_month = _data_window(ds)
    as_of_end = last_month if as_of in (None, "") else month_end(as_of)
    # Several steps of a run ask for the same month (scoring, training, evaluation, lists):
    # the window query over every balance row runs once per run.
    return cached_frame(
        ds,
        "draining",
        {"as_of": f"{as_of_end:%Y-%m}", "churn": churn.to_dict()},
        lambda: _draining(ds, churn, first_month, as_of_end, empty),
    )


def _draining(ds, churn, first_month, as_of_end, empty: pd.DataFrame) -> pd.DataFrame:
    """:func:`draining_customers` without the run cache."""
    as_of_index = month_index(as_of_end)
    earliest = as_of_index - (int(churn.soft_months) - 2)
    stored, files = _soft_flags(ds, churn)
    if stored:  # the run's flags of the whole window: a flag never depends on later months
        flags = f"SELECT * FROM {stored} WHERE month_index <= {as_of_index}"
    else:
        # Flags from the earliest month that matters on, each with its full 12-month
        # trailing average: older balance rows cannot change the answer.
        since = month_start(shift_month(as_of_end, -(int(churn.soft_months) - 2) - 12))
        flags = soft_flags_sql(churn, date_literal(as_of_end), date_literal(since))
    sql = f"""
        WITH flags AS (SELECT * FROM ({flags}) AS flagged)
        SELECT customer_id, MIN(month) AS onset_month,
               CAST(COUNT(*) AS BIGINT) AS months_flagged
        FROM flags
        WHERE month_index >= {earliest} AND month_index <= {as_of_index}
        GROUP BY customer_id
        HAVING MAX(month_index) = {as_of_index}
           AND COUNT(*) = {as_of_index} - MIN(month_index) + 1
        ORDER BY customer_id"""
    frame = _fetch(ds, sql, files=files)
    if frame.empty:
        return empty
    frame = _as_ns(frame, ["onset_month"])
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["months_flagged"] = frame["months_flagged"].astype("int64")
    # A run that started before the window's first month is not known to be short: keep it,
    # its length inside the window is what the data can say.
    frame.attrs.update({"as_of": f"{as_of_end:%Y-%m}", "first_month": f"{first_month:%Y-%m}"})
    return frame.reset_index(drop=True)


def _population_sql(
    churn: ChurnDefinition,
    first_month: pd.Timestamp,
    end_month: pd.Timestamp,
    dating: str,
    flags: str | None = None,
) -> str:
    """Customers ever active in the window, with open/end month indexes and their event.

    ``end_month`` is the end of follow-up; events after it are censored. ``flags``: as in
    :func:`helpers.features.sql.churn_events_sql`.
    """
    window_start = date_literal(month_start(first_month))
    after_end = date_literal(end_month + pd.Timedelta(days=1))
    last = date_literal(end_month)
    stop_month = f"COALESCE(e.churn_month_in, LEAST(COALESCE(e.close_month, {last}), {last}))"
    return f"""
        events AS ({churn_events_sql(churn, dating, flags)}
        ),
        population AS (
            SELECT e.*,
                   {month_index_sql(stop_month)} AS end_index
            FROM (
                SELECT c.customer_id, c.gender, c.birth_year, c.channel, c.branch_id, c.rm_id,
                       c.risk_level,
                       {month_index_sql("c.open_date")} AS open_index,
                       LAST_DAY(CAST(c.close_date AS DATE)) AS close_month,
                       CASE WHEN ev.churn_month <= {last} THEN ev.churn_month END AS churn_month_in,
                       CASE WHEN ev.churn_month <= {last} THEN ev.churn_type END AS event_type
                FROM customers AS c
                LEFT JOIN events AS ev ON ev.customer_id = c.customer_id
                WHERE c.open_date < {after_end}
                  AND (c.close_date IS NULL OR c.close_date >= {window_start})
                  AND (ev.churn_month IS NULL OR ev.churn_month >= {window_start})
            ) AS e
        )"""


def survival_frame(
    ds,
    churn: ChurnDefinition | None = None,
    soft_dating: str = "onset",
    ladder: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per customer ever active in the data window, for lifelines with delayed entry.

    Parameters
    ----------
    ds : helpers.data.dataset.Dataset
        Panel dataset; a flat dataset gives its flat ABT's ``entry = 0``, ``duration``,
        ``event`` (no history, no delayed entry) and ``event_type`` missing.
    churn : helpers.config.ChurnDefinition, optional
        Default ``ChurnDefinition()``.
    soft_dating : {"onset", "confirmed"}
        ``"onset"`` (default) dates a soft churn at the first month of the run-off, which is
        when the customer left, and ends follow-up ``soft_months - 1`` months before the last
        data month (runs starting later cannot be confirmed yet). ``"confirmed"`` dates it at
        the confirming month, as :func:`helpers.features.abt.build_abt` does, and follows up to
        the last data month.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``customer_id``:

        - ``customer_id`` (str);
        - ``entry`` (int): months on book completed at the end of the window's first month
          for customers opened before it (at risk from the second window month), 0 for
          customers opened inside the window;
        - ``duration`` (int): months on book at the churn month, or at censoring (the end of
          follow-up; a closure censors when ``churn.kind == "soft"``);
        - ``event`` (bool), ``event_type`` (``"hard"``, ``"soft"`` or ``<NA>``);
        - ``entry_month``: the customer's first month in the data (month-end), where the
          static covariates below are measured: ``tier`` (ordered categorical, default
          ladder), ``payroll`` (bool), ``log_aum`` (``log(1 + AUM)``), ``product_count``
          (cross-sell products held at the end of that month), and ``channel``, ``gender``,
          ``age`` (year of that month - birth year), ``branch_id``, ``risk_level``.

    Notes
    -----
    A customer who churned (or closed) before the window is not in the frame; soft churn is
    only detectable inside the window (see :func:`helpers.features.abt.churn_events`).
    """
    churn = _check_churn(churn or ChurnDefinition())
    if ds.mode == "flat":
        flat = build_abt(ds, ladder=ladder)
        if "duration" not in flat.columns or "event" not in flat.columns:
            raise ValueError(
                f"flat dataset {ds.name!r} maps no duration and event roles; a survival frame "
                "needs both (map the tenure column to 'duration' and the churn flag to 'event')"
            )
        flat["event_type"] = pd.Series(pd.NA, index=flat.index, dtype="string")
        front = ["customer_id", "entry", "duration", "event", "event_type"]
        return flat[front + [c for c in flat.columns if c not in front and c != "as_of"]]
    _require_panel(ds, "survival_frame")
    parameters = {
        "churn": churn.to_dict(),
        "soft_dating": soft_dating,
        "ladder": None if ladder is None else ladder.to_dict("records"),
    }
    return cached_frame(
        ds,
        "survival_frame",
        parameters,
        lambda: _panel_survival_frame(ds, churn, soft_dating, ladder),
    )


def _panel_survival_frame(ds, churn: ChurnDefinition, soft_dating: str, ladder) -> pd.DataFrame:
    """:func:`survival_frame` in panel mode, without the run cache."""
    first_month, last_month = _data_window(ds)
    end_month = follow_up_end(churn, last_month, soft_dating)
    first_index = month_index(first_month)
    cross_sell = ", ".join(string_literal(code) for code in cross_sell_products())
    holdings_cte = (
        f""",
        entry_products AS (
            SELECT f.customer_id,
                   CAST(COUNT(DISTINCT h.product) AS BIGINT) AS product_count
            FROM first_balance AS f
            JOIN holdings AS h ON h.customer_id = f.customer_id
            WHERE h.product IN ({cross_sell})
              AND h.open_date < f.month + INTERVAL '1' DAY
              AND (h.close_date IS NULL OR h.close_date >= f.month + INTERVAL '1' DAY)
            GROUP BY f.customer_id
        )"""
        if ds.has("holdings")
        else ""
    )
    products_join = (
        "LEFT JOIN entry_products AS ep ON ep.customer_id = p.customer_id"
        if ds.has("holdings")
        else ""
    )
    product_count = "COALESCE(ep.product_count, 0)" if ds.has("holdings") else "CAST(0 AS BIGINT)"
    flags, files = _soft_flags(ds, churn)
    population = _population_sql(churn, first_month, end_month, soft_dating, flags)
    sql = f"""
        WITH {population},
        first_balance AS (
            SELECT customer_id, month, aum_total, payroll
            FROM (
                SELECT customer_id, LAST_DAY(CAST(month AS DATE)) AS month,
                       CAST(aum_total AS DOUBLE) AS aum_total, payroll,
                       ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY month) AS month_rank
                FROM monthly_balances
            ) AS ranked
            WHERE month_rank = 1
        ){holdings_cte}
        SELECT p.customer_id,
               CAST(CASE WHEN p.open_index < {first_index}
                         THEN {first_index} - p.open_index + 1 ELSE 0 END AS BIGINT) AS entry,
               CAST(p.end_index - p.open_index + 1 AS BIGINT) AS duration,
               p.churn_month_in IS NOT NULL AS event,
               p.event_type,
               f.month AS entry_month,
               f.aum_total AS aum_at_entry,
               COALESCE(f.payroll, FALSE) AS payroll,
               {product_count} AS product_count,
               p.channel, p.gender,
               CAST(EXTRACT(YEAR FROM f.month) - p.birth_year AS BIGINT) AS age,
               p.branch_id, p.risk_level
        FROM population AS p
        LEFT JOIN first_balance AS f ON f.customer_id = p.customer_id
        {products_join}
        WHERE p.open_index >= {first_index} OR p.end_index > {first_index}
        ORDER BY p.customer_id"""
    frame = _fetch(ds, sql, files=files)
    frame = _as_ns(frame, ["entry_month"])
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["event"] = frame["event"].astype(bool)
    frame["payroll"] = frame["payroll"].astype(bool)
    frame["event_type"] = frame["event_type"].astype("string")
    frame["tier"] = assign_tiers(frame["aum_at_entry"], ladder)
    frame["log_aum"] = np.log1p(frame["aum_at_entry"].clip(lower=0))
    frame = frame.drop(columns="aum_at_entry")
    columns = [
        "customer_id",
        "entry",
        "duration",
        "event",
        "event_type",
        "entry_month",
        "tier",
        "payroll",
        "log_aum",
        "product_count",
        "channel",
        "gender",
        "age",
        "branch_id",
        "risk_level",
    ]
    frame.attrs.update(
        {
            "churn": churn.to_dict(),
            "first_month": f"{first_month:%Y-%m}",
            "follow_up_end": f"{end_month:%Y-%m}",
            "soft_dating": soft_dating,
        }
    )
    return frame[columns].reset_index(drop=True)


def time_varying_frame(
    ds,
    churn: ChurnDefinition | None = None,
    soft_dating: str = "onset",
    customer_ids=None,
) -> pd.DataFrame:
    """Long customer-month frame for lifelines' ``CoxTimeVaryingFitter``.

    The covariates are those of the synthetic generator's churn hazards, built exactly as
    ``truth.json["churn"]`` defines them (all measured at the end of month t-1 for the hazard
    of month t), so a time-varying Cox fit on this frame can be compared with the true log
    hazard ratios.

    Parameters
    ----------
    ds : helpers.data.dataset.Dataset
        Panel dataset.
    churn : helpers.config.ChurnDefinition, optional
        Default ``ChurnDefinition()``.
    soft_dating : {"onset", "confirmed"}
        As in :func:`survival_frame`. Keep ``"onset"`` for time-varying models: with
        ``"confirmed"`` the covariates of the months before the event already contain the
        run-off itself (AUM collapsed), which is the outcome, not a driver.
    customer_ids : iterable of str, optional
        Only these customers (filtered inside DuckDB before the heavy joins). The frame has
        about 20 rows per customer, so at 1M customers pass a seeded sample, e.g.
        ``survival_frame(ds)["customer_id"].sample(50_000, random_state=seed)``.

    Returns
    -------
    pandas.DataFrame
        One row per customer and month t at risk, from the customer's *second* data month
        (the first has no month t-1 to measure covariates in; as in the generator, nobody is
        at risk in the month they open or in the window's first month) to its churn or the end
        of follow-up, sorted by ``customer_id`` and ``start``:

        - ``customer_id``, ``month`` (month-end of t);
        - ``start`` = months on book at the end of t-1, ``stop = start + 1`` (int);
        - ``event`` (bool): churned in month t; ``event_type`` (``"hard"``/``"soft"``/NA);
        - covariates at the end of month t-1 (``TIME_VARYING_COVARIATES``):
          ``log_aum`` = ln(1 + aum_total) - 10 (centred as in the generator),
          ``product_count`` (cross-sell products with a holdings spell open at that
          month-end), ``rm_contact_3m`` (bool: a contacts row in months t-3 .. t-1; months
          before the window count as none), ``digital_active`` (bool: digital_logins >= 4),
          ``aum_drop_3m`` (bool: AUM(t-1) < 0.7 x AUM(t-4); False without a row at t-4),
          ``payroll`` (bool).

    Notes
    -----
    The frame has about 20 rows per customer: at 1M customers fit on a sample of customers.
    """
    churn = _check_churn(churn or ChurnDefinition())
    _require_panel(ds, "time_varying_frame")
    frames = {}
    if customer_ids is not None:
        if isinstance(customer_ids, str):
            raise TypeError("customer_ids must be a list of ids, not a single string")
        frames["selected_customers"] = pd.DataFrame(
            {"customer_id": pd.Series(list(customer_ids), dtype=object).astype(str).unique()}
        )
    only_selected = (
        "WHERE b.customer_id IN (SELECT customer_id FROM selected_customers)" if frames else ""
    )
    first_month, last_month = _data_window(ds)
    end_month = follow_up_end(churn, last_month, soft_dating)
    cross_sell = ", ".join(string_literal(code) for code in cross_sell_products())
    if ds.has("holdings"):
        # holdings spells open at the month-end: open_date <= month-end, close_date after it
        holdings_cte = f""",
        product_counts AS (
            SELECT m.customer_id, m.month_index,
                   CAST(COUNT(DISTINCT h.product) AS BIGINT) AS product_count
            FROM monthly AS m
            JOIN holdings AS h ON h.customer_id = m.customer_id
                              AND h.open_date < m.month + INTERVAL '1' DAY
                              AND (h.close_date IS NULL
                                   OR h.close_date >= m.month + INTERVAL '1' DAY)
            WHERE h.product IN ({cross_sell})
            GROUP BY m.customer_id, m.month_index
        )"""
        products_join = (
            "LEFT JOIN product_counts AS pc ON pc.customer_id = m.customer_id "
            "AND pc.month_index = m.month_index"
        )
        product_count = "COALESCE(pc.product_count, 0)"
    else:
        holdings_cte, products_join, product_count = "", "", "CAST(0 AS BIGINT)"
    if ds.has("contacts"):
        contacts_cte = f""",
        contact_months AS (
            SELECT customer_id, {month_index_sql("contact_date")} AS month_index,
                   CAST(COUNT(*) AS BIGINT) AS contacts
            FROM contacts
            GROUP BY customer_id, {month_index_sql("contact_date")}
        )"""
        # a contact in the covariate month or the two before it (t-3 .. t-1 for month t)
        contacted = """COALESCE(SUM(cm.contacts) OVER (
                       PARTITION BY m.customer_id ORDER BY m.month_index
                       RANGE BETWEEN 2 PRECEDING AND CURRENT ROW), 0) > 0"""
        contacts_join = (
            "LEFT JOIN contact_months AS cm ON cm.customer_id = m.customer_id "
            "AND cm.month_index = m.month_index"
        )
    else:
        contacts_cte, contacted, contacts_join = "", "FALSE", ""
    flags, files = _soft_flags(ds, churn)
    population = _population_sql(churn, first_month, end_month, soft_dating, flags)
    sql = f"""
        WITH {population},
        monthly AS (
            SELECT b.customer_id, LAST_DAY(CAST(b.month AS DATE)) AS month,
                   {month_index_sql("b.month")} AS month_index,
                   CAST(b.aum_total AS DOUBLE) AS aum_total, b.payroll, b.digital_logins
            FROM monthly_balances AS b
            {only_selected}
        ){holdings_cte}{contacts_cte},
        covariates AS (
            SELECT m.customer_id, m.month, m.month_index, m.aum_total,
                   {product_count} AS product_count,
                   COALESCE(m.payroll, FALSE) AS payroll,
                   {contacted} AS rm_contact_3m,
                   COALESCE(m.digital_logins, 0) >= 4 AS digital_active,
                   -- AUM exactly 3 months earlier (NULL without a row there)
                   MAX(m.aum_total) OVER (
                       PARTITION BY m.customer_id ORDER BY m.month_index
                       RANGE BETWEEN 3 PRECEDING AND 3 PRECEDING
                   ) AS aum_3_before
            FROM monthly AS m
            {products_join}
            {contacts_join}
        )
        SELECT p.customer_id,
               c.month AS covariate_month,
               CAST(c.month_index - p.open_index + 1 AS BIGINT) AS start,
               CAST(c.month_index - p.open_index + 2 AS BIGINT) AS stop,
               (p.churn_month_in IS NOT NULL AND p.end_index = c.month_index + 1) AS event,
               CASE WHEN p.end_index = c.month_index + 1 THEN p.event_type END AS event_type,
               LN(1 + GREATEST(c.aum_total, 0)) - 10 AS log_aum,
               c.product_count,
               c.rm_contact_3m,
               c.digital_active,
               COALESCE(c.aum_total < 0.7 * c.aum_3_before, FALSE) AS aum_drop_3m,
               c.payroll
        FROM population AS p
        JOIN covariates AS c ON c.customer_id = p.customer_id
        WHERE c.month_index + 1 <= p.end_index
          AND c.month_index + 1 <= {month_index(end_month)}
        ORDER BY p.customer_id, start"""
    frame = _fetch(ds, sql, frames, files)
    frame = _as_ns(frame, ["covariate_month"])
    frame.insert(1, "month", frame.pop("covariate_month") + pd.offsets.MonthEnd(1))
    frame["customer_id"] = frame["customer_id"].astype(str)
    for column in ["event", "payroll", "rm_contact_3m", "digital_active", "aum_drop_3m"]:
        frame[column] = frame[column].astype(bool)
    frame["event_type"] = frame["event_type"].astype("string")
    frame.attrs.update(
        {
            "churn": churn.to_dict(),
            "follow_up_end": f"{end_month:%Y-%m}",
            "soft_dating": soft_dating,
        }
    )
    return frame.reset_index(drop=True)
