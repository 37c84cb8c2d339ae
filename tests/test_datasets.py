"""Tests for helpers.datasets: specs, loading (CSV/Excel/Parquet, flat mode), Dataset API."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.datasets import Dataset


def _panel_frames() -> dict[str, pd.DataFrame]:
    customers = pd.DataFrame(
        {
            "customer_id": [1, 2],  # ints on purpose: from_frames must turn ids into strings
            "open_date": pd.to_datetime(["2020-01-15", "2024-12-03"]),
            "close_date": pd.to_datetime([None, None]),
        }
    )
    balances = pd.DataFrame(
        {
            "customer_id": ["1", "1", "2"],
            "month": pd.to_datetime(["2024-11-30", "2024-12-31", "2024-12-31"]),
            "aum_total": [100.0, 200.0, 50.0],
        }
    )
    return {"customers": customers, "monthly_balances": balances}


def test_from_frames_tables_months_and_ids():
    ds = Dataset.from_frames(_panel_frames())
    assert ds.mode == "panel" and ds.name == "in-memory"
    assert ds.has("customers") and not ds.has("transactions")
    assert ds.table("customers")["customer_id"].tolist() == ["1", "2"]
    assert ds.months() == ["2024-11", "2024-12"]
    assert ds.latest_month() == "2024-12"
    assert ds.roles() == {"customers", "balances_history", "duration", "event", "value", "tier"}


def test_from_frames_connect_views_use_canonical_names():
    ds = Dataset.from_frames(_panel_frames())
    con = ds.connect()
    total = con.sql(
        "SELECT customer_id, sum(aum_total) FROM monthly_balances GROUP BY 1 ORDER BY 1"
    )
    assert total.fetchall() == [("1", 300.0), ("2", 50.0)]
    assert ds.fingerprint()["rows"] == {"customers": 2, "monthly_balances": 3}


def test_from_frames_flat_roles_and_unknown_table():
    flat = pd.DataFrame(
        {"customer_id": ["a"], "duration_months": [3.0], "event": [True], "held_fund": [False]}
    )
    ds = Dataset.from_frames({"flat": flat}, mode="flat")
    assert ds.roles() == {"customers", "duration", "event", "products"}
    assert ds.months() == [] and ds.latest_month() is None
    with pytest.raises(KeyError, match="flat"):
        ds.table("customers")
    with pytest.raises(ValueError, match="unknown table"):
        Dataset.from_frames({"balances": flat})
