"""The analytic base table and survival frames (helpers.features.abt).

Hand-made panels start in January 2025 (month offset 0 = 2025-01-31); expected values are
worked out by hand in the comments. Ground-truth and reference tests use the committed sample.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from helpers import paths
from helpers.config import ChurnDefinition, cross_sell_products, product_catalogue
from helpers.data import Dataset, load_dataset
from helpers.features import (
    abt_columns,
    abt_feature_columns,
    build_abt,
    draining_customers,
    survival_frame,
    time_varying_frame,
)

START = "2025-01"
PRODUCTS = list(product_catalogue()["code"])
CROSS_SELL = cross_sell_products()


def month(offset: int) -> pd.Timestamp:
    return (pd.Period(START, freq="M") + offset).to_timestamp(how="end").normalize()


def make_bank(
    aum: dict[str, list],
    months: int | None = None,
    customers: dict[str, dict] | None = None,
    balances: dict[str, dict[str, list]] | None = None,
    **tables: pd.DataFrame,
) -> Dataset:
    """A tiny panel: ``aum[customer]`` lists AUM per month from Jan 2025 (None = no row).

    ``customers[customer]`` overrides customer columns (open_date, close_date, birth_year..);
    ``balances[customer][column]`` gives a per-month list for another balance column.
    Extra keyword tables (transactions, holdings, contacts) are passed through.
    """
    customers = customers or {}
    balances = balances or {}
    rows = []
    for customer_id, values in aum.items():
        extra = balances.get(customer_id, {})
        for offset, value in enumerate(values):
            if value is None:
                continue
            row = {
                "customer_id": customer_id,
                "month": month(offset),
                "demand_deposit": float(value),
                "time_deposit": 0.0,
                "wealth_mgmt": 0.0,
                "funds": 0.0,
                "insurance": 0.0,
                "aum_total": float(value),
                "loan_balance": 0.0,
                "card_spend": 0.0,
                "txn_count": 0,
                "txn_amount": 0.0,
                "digital_logins": 0,
                "payroll": False,
            }
            for column, per_month in extra.items():
                row[column] = per_month[offset]
            rows.append(row)
    frame_rows = []
    for customer_id in aum:
        row = {
            "customer_id": customer_id,
            "name": "张三",
            "mobile": "13800000000",
            "gender": "F",
            "birth_year": 1980,
            "open_date": pd.Timestamp("2020-01-15"),
            "close_date": pd.NaT,
            "close_reason": None,
            "branch_id": "B01",
            "rm_id": "RM1",
            "channel": "branch",
            "risk_level": "R2",
        }
        row.update(customers.get(customer_id, {}))
        row["open_date"] = pd.Timestamp(row["open_date"])
        row["close_date"] = pd.Timestamp(row["close_date"]) if row["close_date"] else pd.NaT
        frame_rows.append(row)
    all_tables = {
        "customers": pd.DataFrame(frame_rows),
        "monthly_balances": pd.DataFrame(rows),
    }
    all_tables.update(tables)
    return Dataset.from_frames(all_tables)


def one(abt: pd.DataFrame, customer_id: str) -> pd.Series:
    return abt.set_index("customer_id").loc[customer_id]


# --------------------------------------------------------------------------------------------
# Shape and columns
# --------------------------------------------------------------------------------------------
def test_abt_has_exactly_the_architecture_columns_and_dtypes():
    ds = make_bank({"A": [60_000] * 6, "B": [1_000] * 6})
    abt = build_abt(ds, as_of="2025-03", horizon=3)
    assert list(abt.columns) == abt_columns()
    assert abt["customer_id"].tolist() == ["A", "B"]
    assert abt["as_of"].dtype == "datetime64[ns]"
    assert (abt["as_of"] == pd.Timestamp("2025-03-31")).all()
    for column in ["payroll", "event"] + [f"held_{code}" for code in PRODUCTS]:
        assert abt[column].dtype == bool, column
    for column in ["churn_label"] + [f"took_{code}" for code in CROSS_SELL]:
        assert abt[column].dtype == "boolean", column
    assert abt["tier"].cat.ordered
    for column in ["age", "tenure_months", "txn_count_3m", "contacts_12m", "entry", "duration"]:
        assert abt[column].dtype == "int64", column
    # features come first, then labels and survival columns
    assert abt_columns()[: len(abt_feature_columns())] == abt_feature_columns()


def test_static_columns_age_and_tenure():
    ds = make_bank(
        {"A": [5000] * 6},
        customers={"A": {"birth_year": 1990, "open_date": "2024-11-30", "rm_id": None}},
    )
    row = one(build_abt(ds, as_of="2025-03", horizon=1), "A")
    assert row["age"] == 35
    # opened November 2024: Nov, Dec, Jan, Feb, Mar = 5 months on book at March
    assert row["tenure_months"] == 5
    assert row["rm_id"] is None


# --------------------------------------------------------------------------------------------
# Trailing windows
# --------------------------------------------------------------------------------------------
def test_trailing_means_and_trends():
    values = [1000.0 * k for k in range(1, 14)]  # Jan 2025 .. Jan 2026: 1,000 .. 13,000
    ds = make_bank(
        {
            "A": values,
            "short": [None] * 11 + [4000, 6000],  # rows in Dec 2025 and Jan 2026 only
            "zero": [5000] * 9 + [0, 5000, 5000, 8000],  # AUM 0 three months before as_of
        },
        balances={
            "A": {
                "card_spend": [1.0] * 10 + [10.0, 20.0, 30.0],
                "digital_logins": [1] * 10 + [2, 3, 4],
                "payroll": [True] * 5 + [False] * 4 + [True] * 4,
            }
        },
    )
    abt = build_abt(ds, as_of="2026-01", horizon=1)
    a = one(abt, "A")
    assert a["aum"] == 13_000
    assert a["aum_avg_3m"] == pytest.approx(12_000)  # 11, 12, 13 thousand
    assert a["aum_avg_6m"] == pytest.approx(10_500)  # 8 .. 13
    assert a["aum_avg_12m"] == pytest.approx(7_500)  # 2 .. 13
    assert a["aum_trend_3m"] == pytest.approx(13 / 10 - 1)
    assert a["aum_trend_6m"] == pytest.approx(13 / 7 - 1)
    assert a["aum_trend_12m"] == pytest.approx(13 / 1 - 1)
    assert a["card_spend_3m"] == pytest.approx(60.0)
    assert a["digital_logins_3m"] == 9
    assert a["payroll"]
    # months Feb 2025 .. Jan 2026: Feb-May True (4), Jun-Sep False, Oct-Jan True (4)
    assert a["payroll_months_12m"] == 8
    short = one(abt, "short")
    assert short["aum_avg_3m"] == pytest.approx(5000)  # uses the 2 months it has
    assert short["aum_avg_12m"] == pytest.approx(5000)
    assert short["aum_trend_3m"] == 0.0  # no row 3 months before: trend undefined -> 0
    assert short["aum_trend_12m"] == 0.0
    zero = one(abt, "zero")
    assert zero["aum_trend_3m"] == 0.0  # AUM 0 three months before: undefined -> 0
    assert zero["aum_trend_6m"] == pytest.approx(8000 / 5000 - 1)


def test_tier_boundaries_lower_bound_inclusive():
    aum = {
        "a": 0.0,
        "b": 49_999.99,
        "c": 50_000.0,
        "d": 499_999.99,
        "e": 500_000.0,
        "f": 5_999_999.0,
        "g": 6_000_000.0,
    }
    ds = make_bank({key: [value] * 2 for key, value in aum.items()})
    abt = build_abt(ds, as_of="2025-02", horizon=1)
    # 0 is over the soft floor? no: 0 < 1,000, but two months are not a confirmed run
    assert abt.set_index("customer_id")["tier"].astype(str).to_dict() == {
        "a": "mass",
        "b": "mass",
        "c": "affluent",
        "d": "affluent",
        "e": "wealth",
        "f": "wealth",
        "g": "private",
    }


# --------------------------------------------------------------------------------------------
# Transactions and contacts
# --------------------------------------------------------------------------------------------
def test_transaction_recency_frequency_amount_from_transactions():
    transactions = pd.DataFrame(
        {
            "customer_id": ["A", "A", "A", "B", "B", "B"],
            "txn_date": pd.to_datetime(
                [
                    "2025-06-20",  # recency: June 30 - June 20 = 10 days
                    "2025-04-01",  # first day of the 3-month window (Apr-Jun): in
                    "2025-07-01",  # after as_of: ignored
                    "2025-03-31",  # last day before the 3-month window: 12m only
                    "2024-07-01 09:30",  # first day of the 12-month window (Jul 2024 on): in
                    "2024-06-30",  # before the 12-month window: out
                ],
                format="ISO8601",
            ),
            "amount": [100.0, 50.0, 999.0, 70.0, 20.0, 5.0],
            "direction": "out",
            "channel": "mobile",
            "txn_type": "payment",
        }
    )
    ds = make_bank(
        {"A": [5000] * 12, "B": [5000] * 12, "C": [5000] * 12}, transactions=transactions
    )
    abt = build_abt(ds, as_of="2025-06", horizon=3)
    a, b, c = one(abt, "A"), one(abt, "B"), one(abt, "C")
    assert (a["txn_recency_days"], a["txn_count_3m"], a["txn_amount_3m"], a["txn_count_12m"]) == (
        10,
        2,
        150.0,
        2,
    )
    # March 31 -> June 30 is 91 days
    assert (b["txn_recency_days"], b["txn_count_3m"], b["txn_amount_3m"], b["txn_count_12m"]) == (
        91,
        0,
        0.0,
        2,
    )
    # never transacted: days from the data window's first day (2025-01-01) to the end of June
    assert c["txn_recency_days"] == 181
    assert c["txn_count_12m"] == 0
    assert abt.attrs["transactions_source"] == "transactions"


def test_transaction_features_fall_back_to_monthly_balances():
    ds = make_bank(
        {"A": [5000] * 6},
        balances={"A": {"txn_count": [2, 0, 3, 0, 0, 0], "txn_amount": [10.0, 0, 30.0, 0, 0, 0]}},
    )
    row = one(build_abt(ds, as_of="2025-06", horizon=0 + 1), "A")
    # last month with transactions is March: March 31 -> June 30 = 91 days
    assert row["txn_recency_days"] == 91
    assert row["txn_count_3m"] == 0
    assert row["txn_count_12m"] == 5
    ds = make_bank(
        {"A": [5000] * 6},
        balances={"A": {"txn_count": [0, 0, 0, 1, 0, 4], "txn_amount": [0, 0, 0, 7.5, 0, 2.5]}},
    )
    row = one(build_abt(ds, as_of="2025-06", horizon=1), "A")
    assert (row["txn_recency_days"], row["txn_count_3m"], row["txn_amount_3m"]) == (0, 5, 10.0)


def test_contact_counts_use_calendar_month_windows():
    dates = [
        "2025-04-01",  # first day of Apr-Jun: 3m and 12m
        "2025-06-30 23:00",  # last day of June (with a time of day): 3m and 12m
        "2025-03-31",  # 12m only
        "2024-07-01",  # first day of the 12-month window: 12m
        "2024-06-30",  # too early
        "2025-07-01",  # after as_of
    ]
    contacts = pd.DataFrame(
        {
            "customer_id": "A",
            "contact_date": pd.to_datetime(dates, format="ISO8601"),
            "channel": "phone",
            "rm_id": "RM1",
            "purpose": "follow_up",
            "outcome": "reached",
        }
    )
    ds = make_bank({"A": [5000] * 8, "B": [5000] * 8}, contacts=contacts)
    abt = build_abt(ds, as_of="2025-06", horizon=1)
    assert (one(abt, "A")["contacts_3m"], one(abt, "A")["contacts_12m"]) == (2, 4)
    assert (one(abt, "B")["contacts_3m"], one(abt, "B")["contacts_12m"]) == (0, 0)


# --------------------------------------------------------------------------------------------
# Products and take-up labels
# --------------------------------------------------------------------------------------------
def holdings_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "customer_id": customer_id,
                "product": product,
                "open_date": pd.Timestamp(opened),
                "close_date": pd.Timestamp(closed) if closed else pd.NaT,
            }
            for customer_id, product, opened, closed in rows
        ]
    )


def test_product_flags_count_and_take_up_labels():
    holdings = holdings_frame(
        [
            ("A", "current_account", "2020-01-15", None),
            ("A", "fund", "2025-06-30", None),  # opened on the as_of day: held
            ("A", "insurance", "2023-01-01", "2025-06-15"),  # closed inside June: not held
            ("A", "credit_card", "2022-05-01", "2025-07-02"),  # closed after June: held
            ("A", "wealth_mgmt", "2025-07-01", None),  # opened in the horizon: took
            ("A", "mortgage", "2026-01-05", None),  # after the 6-month horizon: not took
            ("A", "insurance", "2025-12-31", None),  # re-opened on the horizon's last day
        ]
    )
    ds = make_bank({"A": [5000] * 13, "B": [5000] * 13}, holdings=holdings)
    abt = build_abt(ds, as_of="2025-06", horizon=6)
    a = one(abt, "A")
    held = {code for code in PRODUCTS if a[f"held_{code}"]}
    assert held == {"current_account", "fund", "credit_card"}
    assert a["product_count"] == 2  # current_account is not a cross-sell product
    assert a["took_wealth_mgmt"] is True or a["took_wealth_mgmt"] == True  # noqa: E712
    assert bool(a["took_insurance"])
    assert a["took_mortgage"] == False  # noqa: E712
    assert pd.isna(a["took_fund"])  # already held at as_of
    assert pd.isna(a["took_credit_card"])
    b = one(abt, "B")
    assert b["product_count"] == 0
    assert not any(b[f"held_{code}"] for code in PRODUCTS)
    assert all(b[f"took_{code}"] == False for code in CROSS_SELL)  # noqa: E712


# --------------------------------------------------------------------------------------------
# Who is active, churn labels, and the end of the data
# --------------------------------------------------------------------------------------------
def test_active_population_and_churn_labels():
    ds = make_bank(
        {
            "stays": [5000] * 12,
            "new_later": [None] * 7 + [5000] * 5,  # opens in August, after as_of
            "closed_in_june": [5000] * 6 + [None] * 6,
            "soft_by_june": [5000, 5000, 800, 800, 800, 800] + [800] * 6,  # confirmed May
            "soft_running": [5000] * 5 + [800] * 7,  # run Jun, Jul, Aug: confirmed August
            "closes_october": [5000] * 10 + [None] * 2,
        },
        customers={
            "new_later": {"open_date": "2025-08-03"},
            "closed_in_june": {"close_date": "2025-06-10"},
            "closes_october": {"close_date": "2025-10-31"},
        },
    )
    abt = build_abt(ds, as_of="2025-06", horizon=3)
    assert abt["customer_id"].tolist() == ["closes_october", "soft_running", "stays"]
    labels = abt.set_index("customer_id")
    assert labels["churn_label"].tolist() == [False, True, False]
    assert labels["churn_type_label"].tolist() == ["none", "soft", "none"]
    # horizon 4 (Jul-Oct) catches the October closure
    longer = build_abt(ds, as_of="2025-06", horizon=4).set_index("customer_id")
    assert longer.loc["closes_october", "churn_label"] == True  # noqa: E712
    assert longer.loc["closes_october", "churn_type_label"] == "hard"
    # hard-only definition: the soft run-off is no churn, and soft_by_june is active again
    hard = build_abt(ds, as_of="2025-06", horizon=3, churn=ChurnDefinition(kind="hard"))
    assert "soft_by_june" in set(hard["customer_id"])
    assert not hard["churn_label"].any()


def test_labels_are_missing_when_the_horizon_passes_the_data():
    holdings = holdings_frame([("A", "fund", "2025-01-01", None)])
    ds = make_bank({"A": [5000] * 12, "B": [5000] * 12}, holdings=holdings)  # Jan-Dec 2025
    known = build_abt(ds, as_of="2025-06", horizon=6)  # Jul-Dec: inside the data
    assert known["churn_label"].notna().all()
    assert known.attrs["labels_known"]
    unknown = build_abt(ds, as_of="2025-07", horizon=6)  # Aug-Jan 2026: past the data
    label_columns = ["churn_label", "churn_type_label"] + [f"took_{c}" for c in CROSS_SELL]
    assert unknown[label_columns].isna().all().all()
    assert not unknown.attrs["labels_known"]
    # the scoring month (latest) is the default as_of
    latest = build_abt(ds)
    assert (latest["as_of"] == pd.Timestamp("2025-12-31")).all()
    assert latest["churn_label"].isna().all()


# --------------------------------------------------------------------------------------------
# Survival columns
# --------------------------------------------------------------------------------------------
def test_abt_survival_columns_use_delayed_entry_at_as_of():
    ds = make_bank(
        {"old": [5000] * 12, "closer": [5000] * 9 + [None] * 3, "young": [None] * 3 + [5000] * 9},
        customers={
            "old": {"open_date": "2020-01-15"},
            "closer": {"open_date": "2024-12-01", "close_date": "2025-10-05"},
            "young": {"open_date": "2025-04-20"},
        },
    )
    abt = build_abt(ds, as_of="2025-06", horizon=3).set_index("customer_id")
    # old: Jan 2020 .. Jun 2025 = 66 months on book; censored at Dec 2025 = 72
    assert abt.loc["old", ["entry", "duration", "event"]].tolist() == [66, 72, False]
    # closer: Dec 2024 .. Jun 2025 = 7; closes October: Dec 2024 .. Oct 2025 = 11
    assert abt.loc["closer", ["entry", "duration", "event"]].tolist() == [7, 11, True]
    # young: Apr .. Jun 2025 = 3; censored at Dec = 9
    assert abt.loc["young", ["entry", "duration", "event"]].tolist() == [3, 9, False]
    assert (abt["entry"] == abt["tenure_months"]).all()


def test_survival_frame_entry_duration_event_for_left_truncated_customers():
    holdings = holdings_frame(
        [("old", "fund", "2019-01-01", None), ("old", "insurance", "2025-02-01", None)]
    )
    ds = make_bank(
        {
            "old": [60_000] * 12,
            "new": [None] * 3 + [5000] * 9,
            "drains": [5000] * 4 + [800] * 8,  # run May, Jun, Jul: onset May, confirmed Jul
            "gone_before": [None] * 12,  # closed before the window
        },
        customers={
            "old": {"open_date": "2020-01-15", "birth_year": 1970},
            "new": {"open_date": "2025-04-02"},
            "drains": {"open_date": "2024-10-10"},
            "gone_before": {"open_date": "2019-01-01", "close_date": "2024-11-11"},
        },
        holdings=holdings,
    )
    surv = survival_frame(ds).set_index("customer_id")
    assert list(surv.index) == ["drains", "new", "old"]
    # old: at risk from February 2025 (a row the month before: helpers.months.AT_RISK_RULE),
    # so it enters at the 61 months on book completed at the end of January 2025 (Jan 2020 ..
    # Jan 2025). Onset dating ends follow-up soft_months - 1 = 2 months before December:
    # October 2025 = 70
    assert surv.loc["old", ["entry", "duration", "event"]].tolist() == [61, 70, False]
    assert surv.loc["new", ["entry", "duration"]].tolist() == [0, 7]  # Apr .. Oct
    # drains: Oct 2024 .. May 2025 = 8 months on book at the onset; entry Oct 2024-Jan 2025 = 4
    assert surv.loc["drains", ["entry", "duration", "event"]].tolist() == [4, 8, True]
    assert surv.loc["drains", "event_type"] == "soft"
    # covariates at the first window month
    assert surv.loc["old", "product_count"] == 1  # insurance opens in February
    assert surv.loc["old", "tier"] == "affluent"
    assert surv.loc["old", "age"] == 55
    assert surv.loc["old", "log_aum"] == pytest.approx(np.log1p(60_000))
    assert surv.loc["new", "entry_month"] == pd.Timestamp("2025-04-30")
    # confirmed dating: soft churn in July, follow-up to December
    confirmed = survival_frame(ds, soft_dating="confirmed").set_index("customer_id")
    assert confirmed.loc["drains", "duration"] == 10
    assert confirmed.loc["old", "duration"] == 72
    # entry < duration always (lifelines refuses entry >= duration)
    assert (surv["entry"] < surv["duration"]).all()


def test_time_varying_frame_lags_covariates_as_the_generator_defines_them():
    holdings = holdings_frame(
        [("A", "fund", "2025-02-14", None), ("A", "current_account", "2020-01-01", None)]
    )
    contacts = pd.DataFrame(
        {
            "customer_id": ["A"],
            "contact_date": [pd.Timestamp("2025-03-05")],
            "channel": "phone",
            "rm_id": "RM1",
            "purpose": "follow_up",
            "outcome": "reached",
        }
    )
    ds = make_bank(
        {"A": [10_000, 10_000, 10_000, 10_000, 6_000, 6_000, 9_000, 9_000]},
        customers={"A": {"open_date": "2024-12-01", "close_date": "2025-08-20"}},
        balances={
            "A": {
                "digital_logins": [0, 4, 3, 4, 0, 0, 0, 0],
                "payroll": [True, True, False, False, False, False, False, False],
            }
        },
        holdings=holdings,
        contacts=contacts,
    )
    tv = time_varying_frame(ds, churn=ChurnDefinition(kind="hard"))
    # at risk Feb .. Aug (from the second data month); closes in August (event row)
    assert tv["month"].dt.strftime("%Y-%m").tolist() == [f"2025-{m:02d}" for m in range(2, 9)]
    # opened December 2024: at the end of January 2 months on book
    assert tv["start"].tolist() == [2, 3, 4, 5, 6, 7, 8]
    assert (tv["stop"] == tv["start"] + 1).all()
    assert tv["event"].tolist() == [False] * 6 + [True]
    assert tv["event_type"].iloc[-1] == "hard"
    # covariates of month t come from month t-1
    assert tv["product_count"].tolist() == [0, 1, 1, 1, 1, 1, 1]  # fund opened in February
    assert tv["payroll"].tolist() == [True, True, False, False, False, False, False]
    assert tv["digital_active"].tolist() == [False, True, False, True, False, False, False]
    # contact in March counts for months t with t-3 <= March <= t-1: April, May, June
    assert tv["rm_contact_3m"].tolist() == [False, False, True, True, True, False, False]
    # AUM(t-1) < 0.7 AUM(t-4): t-1 = May (6,000 < 7,000 vs January) -> row June; June vs Feb
    assert tv["aum_drop_3m"].tolist() == [False, False, False, False, True, True, False]
    assert tv["log_aum"].iloc[0] == pytest.approx(np.log1p(10_000) - 10)
    # restricting to some customers filters inside DuckDB
    assert time_varying_frame(ds, customer_ids=["B"]).empty
    assert len(time_varying_frame(ds, customer_ids=["A"])) == len(time_varying_frame(ds))


# --------------------------------------------------------------------------------------------
# Errors and flat mode
# --------------------------------------------------------------------------------------------
def test_bad_arguments_give_clear_errors():
    ds = make_bank({"A": [5000] * 3})
    with pytest.raises(
        ValueError, match="outside the data: monthly_balances covers 2025-01 to 2025-03"
    ):
        build_abt(ds, as_of="2025-09")
    with pytest.raises(ValueError, match="YYYY-MM"):
        build_abt(ds, as_of="September")
    with pytest.raises(ValueError, match="horizon"):
        build_abt(ds, as_of="2025-02", horizon=0)
    with pytest.raises(TypeError, match="ChurnDefinition"):
        build_abt(ds, churn="soft")
    flat = Dataset.from_frames({"flat": pd.DataFrame({"customer_id": ["1"]})}, mode="flat")
    with pytest.raises(ValueError, match="flat customer table"):
        time_varying_frame(flat)


def test_flat_mode_returns_the_flat_frame_under_abt_names():
    flat = pd.DataFrame(
        {
            "customer_id": ["007", "012"],
            "duration_months": [12.0, 40.0],
            "event": [True, False],
            "value": [49_999.0, 50_000.0],
            "held_fund": [True, False],
            "held_credit_card": [True, True],
            "treatment": ["control", "rate_coupon"],
            "outcome": [True, False],
            "age": [30, 50],
        }
    )
    abt = build_abt(Dataset.from_frames({"flat": flat}, mode="flat"))
    assert abt["customer_id"].tolist() == ["007", "012"]
    assert abt["as_of"].isna().all()
    assert abt["entry"].tolist() == [0, 0]
    assert abt["duration"].tolist() == [12.0, 40.0]
    assert abt["aum"].tolist() == [49_999.0, 50_000.0]
    assert abt["tier"].astype(str).tolist() == ["mass", "affluent"]
    assert abt["product_count"].tolist() == [2, 1]
    assert {"treatment", "outcome", "age", "event"} <= set(abt.columns)
    with_tier = build_abt(
        Dataset.from_frames({"flat": flat.assign(tier=["wealth", "mass"])}, mode="flat")
    )
    assert with_tier["tier"].cat.ordered
    assert with_tier.sort_values("tier")["customer_id"].tolist() == ["012", "007"]
    surv = survival_frame(Dataset.from_frames({"flat": flat}, mode="flat"))
    assert surv.columns[:5].tolist() == ["customer_id", "entry", "duration", "event", "event_type"]


# --------------------------------------------------------------------------------------------
# Against the pandas reference, the truth, and the future (sample data)
# --------------------------------------------------------------------------------------------
def _load_reference():
    spec = importlib.util.spec_from_file_location(
        "bench_abt", paths.BENCHMARKS_DIR / "bench_abt.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sample_subset() -> dict[str, pd.DataFrame]:
    """Every table of the committed sample, for a fixed 1,500 of its customers."""
    ds = load_dataset(validate=False)
    customers = ds.table("customers")
    keep = set(customers["customer_id"].sort_values().iloc[::6].head(1500))
    return {
        name: ds.table(name)[ds.table(name)["customer_id"].isin(keep)].reset_index(drop=True)
        for name in ds.tables()
    }


@pytest.mark.parametrize("as_of", ["2025-06", "2026-04", "2026-10"])
def test_duckdb_abt_equals_the_pandas_reference(sample_subset, as_of):
    reference = _load_reference().reference_abt(sample_subset, as_of, horizon=6)
    abt = build_abt(Dataset.from_frames(sample_subset), as_of=as_of, horizon=6)
    assert len(abt) > 1000
    pd.testing.assert_frame_equal(abt, reference, check_dtype=False, rtol=1e-9)


def test_duckdb_abt_equals_the_reference_without_transactions_table(sample_subset):
    tables = {k: v for k, v in sample_subset.items() if k != "transactions"}
    reference = _load_reference().reference_abt(tables, "2026-01", horizon=3)
    abt = build_abt(Dataset.from_frames(tables), as_of="2026-01", horizon=3)
    assert abt.attrs["transactions_source"] == "monthly_balances"
    pd.testing.assert_frame_equal(abt, reference, check_dtype=False, rtol=1e-9)


def _change_everything_after(tables: dict[str, pd.DataFrame], as_of: str, seed: int):
    """Rewrite, drop and add rows dated after as_of in every table."""
    rng = np.random.default_rng(seed)
    after = pd.Period(as_of, freq="M").to_timestamp(how="end").normalize() + pd.Timedelta(days=1)
    changed = {name: frame.copy() for name, frame in tables.items()}

    def later_dates(count: int) -> pd.Series:
        return pd.Series(after + pd.to_timedelta(rng.integers(0, 150, count), unit="D"))

    balances = changed["monthly_balances"]
    late = balances["month"] >= after
    money = [
        "demand_deposit",
        "time_deposit",
        "wealth_mgmt",
        "funds",
        "insurance",
        "loan_balance",
        "card_spend",
        "txn_amount",
    ]
    for column in money:
        balances.loc[late, column] = rng.uniform(0, 2e5, late.sum())
    balances.loc[late, "aum_total"] = balances.loc[late, money[:5]].sum(axis=1)
    balances.loc[late, "txn_count"] = rng.integers(0, 30, late.sum())
    balances.loc[late, "digital_logins"] = rng.integers(0, 30, late.sum())
    balances.loc[late, "payroll"] = rng.random(late.sum()) < 0.5
    drop = late & (rng.random(len(balances)) < 0.2)
    changed["monthly_balances"] = balances.loc[~drop].reset_index(drop=True)

    for name, column in [
        ("transactions", "txn_date"),
        ("contacts", "contact_date"),
        ("campaigns", "assigned_date"),
    ]:
        frame = changed[name]
        late = frame[column] >= after
        frame.loc[late, column] = later_dates(late.sum()).to_numpy()
        extra = frame.sample(200, random_state=seed, replace=True).copy()
        extra[column] = later_dates(len(extra)).to_numpy()
        if name == "transactions":
            frame.loc[late, "amount"] = rng.uniform(1, 1e5, late.sum())
        changed[name] = pd.concat([frame.loc[~(late & (rng.random(len(frame)) < 0.3))], extra])

    holdings = changed["holdings"]
    late_open = holdings["open_date"] >= after
    holdings.loc[late_open, "open_date"] = later_dates(late_open.sum()).to_numpy()
    holdings.loc[late_open, "product"] = rng.choice(CROSS_SELL, late_open.sum())
    late_close = holdings["close_date"] >= after
    holdings.loc[late_close, "close_date"] = later_dates(late_close.sum()).to_numpy()
    new = holdings.sample(300, random_state=seed).copy()
    new["product"] = rng.choice(CROSS_SELL, len(new))
    new["open_date"] = later_dates(len(new)).to_numpy()
    new["close_date"] = pd.NaT
    changed["holdings"] = pd.concat([holdings, new], ignore_index=True)

    customers = changed["customers"]
    late_close = customers["close_date"] >= after
    customers.loc[late_close, "close_date"] = later_dates(late_close.sum()).to_numpy()
    open_now = customers["close_date"].isna() & (rng.random(len(customers)) < 0.1)
    customers.loc[open_now, "close_date"] = later_dates(open_now.sum()).to_numpy()
    late_open = customers["open_date"] >= after
    customers.loc[late_open, "open_date"] = later_dates(late_open.sum()).to_numpy()
    return changed


@pytest.mark.parametrize("as_of", ["2025-09", "2026-04"])
def test_no_feature_uses_data_after_as_of(sample_subset, as_of):
    original = build_abt(Dataset.from_frames(sample_subset), as_of=as_of, horizon=6)
    changed_tables = _change_everything_after(sample_subset, as_of, seed=7)
    changed = build_abt(Dataset.from_frames(changed_tables), as_of=as_of, horizon=6)
    features = abt_feature_columns()
    pd.testing.assert_frame_equal(original[features], changed[features])
    # the change did reach the labels (otherwise this test could not fail)
    label_columns = ["churn_label"] + [f"took_{code}" for code in CROSS_SELL] + ["duration"]
    assert not original[label_columns].equals(changed[label_columns])


def test_churn_events_match_the_generator_truth():
    """On the sample, every detected churn is a true churn with the true month and type."""
    from helpers.features import churn_events

    ds = load_dataset(validate=False)
    truth = pd.read_parquet(paths.SAMPLE_DIR / "truth_customers.parquet")
    truth = truth.dropna(subset=["true_churn_month"])
    events = churn_events(ds, dating="onset").merge(truth, on="customer_id", how="outer")
    detected = events.dropna(subset=["churn_month"])
    assert len(detected) > 1000
    assert (detected["churn_month"] == pd.to_datetime(detected["true_churn_month"])).all()
    assert (detected["churn_type"] == detected["true_churn_type"]).all()
    # misses are soft run-offs that began in the last 2 data months (not confirmed yet)
    missed = events[events["churn_month"].isna()]
    assert (missed["true_churn_type"] == "soft").all()
    assert (pd.to_datetime(missed["true_churn_month"]) >= pd.Timestamp("2026-09-30")).all()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_time_varying_cox_recovers_the_true_hazard_ratios(kind):
    """A time-varying Cox fit on time_varying_frame finds truth.json's log hazard ratios."""
    import json

    from lifelines import CoxTimeVaryingFitter

    from helpers.features import TIME_VARYING_COVARIATES

    ds = load_dataset(validate=False)
    truth = json.loads((paths.SAMPLE_DIR / "truth.json").read_text(encoding="utf-8"))
    true = {item["name"]: item[kind] for item in truth["churn"]["covariates"]}
    assert set(true) == set(TIME_VARYING_COVARIATES)
    long = time_varying_frame(ds)
    frame = long[["customer_id", "start", "stop"] + TIME_VARYING_COVARIATES].copy()
    # cause-specific hazard: the other kind of churn censors
    frame["event"] = long["event"] & (long["event_type"] == kind)
    fitted = CoxTimeVaryingFitter().fit(
        frame, id_col="customer_id", start_col="start", stop_col="stop", event_col="event"
    )
    for name, value in true.items():
        estimate, error = fitted.params_[name], fitted.standard_errors_[name]
        assert np.sign(estimate) == np.sign(value), (name, estimate, value)
        # 12 estimates (6 x 2 kinds): 3.5 standard errors keeps chance failures rare
        assert abs(estimate - value) < 3.5 * error, (name, estimate, value, error)


# --------------------------------------------------------------------------------------------
# Already draining: a run-off under way that the churn definition has not confirmed yet
# --------------------------------------------------------------------------------------------
def test_draining_customers_are_those_mid_run_off_at_the_as_of_month():
    ds = make_bank(
        {
            "steady": [5000] * 12,
            "drains": [5000] * 4 + [800] * 8,  # flagged from May: confirmed in July
            "dips": [5000] * 5 + [900] + [5000] * 6,  # one flagged month (June), then back
        }
    )
    assert draining_customers(ds, "2025-04").empty
    may = draining_customers(ds, "2025-05")
    assert may["customer_id"].tolist() == ["drains"] and may["months_flagged"].tolist() == [1]
    assert may["onset_month"].tolist() == [pd.Timestamp("2025-05-31")]
    june = draining_customers(ds, "2025-06").set_index("customer_id")
    assert june["months_flagged"].to_dict() == {"dips": 1, "drains": 2}
    assert "dips" not in set(draining_customers(ds, "2025-07")["customer_id"])
    # only data up to the as-of month: June does not know July confirms the run
    abt = build_abt(ds, "2025-06", 3)
    assert set(june.index) <= set(abt["customer_id"])  # still "active" in the ABT
    assert bool(one(abt, "drains")["churn_label"]) is True  # ... and about to be confirmed
    assert draining_customers(ds, "2025-06", ChurnDefinition(kind="hard")).empty


def test_draining_reads_only_the_months_it_needs_and_agrees_with_all_history():
    """The draining query starts 12 months before the earliest month that matters; on the
    sample (24 months) its answer equals the same query over every balance row."""
    from helpers import paths
    from helpers.data import load_dataset
    from helpers.features.abt import _fetch
    from helpers.features.sql import date_literal, soft_flags_sql
    from helpers.months import month_index

    ds = load_dataset(paths.SAMPLE_SPEC)
    churn = ChurnDefinition()
    for label in ds.months()[-3:]:
        as_of = pd.Period(label, freq="M").to_timestamp(how="end").normalize()
        index = month_index(as_of)
        earliest = index - (churn.soft_months - 2)
        reference = _fetch(
            ds,
            f"""
            WITH flags AS ({soft_flags_sql(churn, date_literal(as_of))})
            SELECT customer_id, CAST(COUNT(*) AS BIGINT) AS months_flagged FROM flags
            WHERE month_index >= {earliest} AND month_index <= {index}
            GROUP BY customer_id
            HAVING MAX(month_index) = {index} AND COUNT(*) = {index} - MIN(month_index) + 1
            ORDER BY customer_id""",
        )
        got = draining_customers(ds, label)
        assert len(got) > 5
        assert got["customer_id"].tolist() == reference["customer_id"].astype(str).tolist()
        assert got["months_flagged"].tolist() == reference["months_flagged"].tolist()
