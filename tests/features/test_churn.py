"""Churn events (helpers.features.abt.churn_events) on tiny hand-made panels.

Each panel starts in January 2025; a customer's AUM list gives one monthly_balances row per
month (``None`` = no row that month). Expected churn months are worked out by hand in the
comments.
"""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.config import ChurnDefinition
from helpers.data import Dataset
from helpers.features import churn_events

START = "2025-01"


def month(offset: int) -> pd.Timestamp:
    """Month-end ``offset`` months after January 2025 (0 = 2025-01-31)."""
    return (pd.Period(START, freq="M") + offset).to_timestamp(how="end").normalize()


def make_bank(aum: dict[str, list], close_dates: dict[str, str] | None = None) -> Dataset:
    close_dates = close_dates or {}
    rows = []
    for customer_id, values in aum.items():
        for offset, value in enumerate(values):
            if value is None:
                continue
            rows.append(
                {
                    "customer_id": customer_id,
                    "month": month(offset),
                    "aum_total": float(value),
                    "demand_deposit": float(value),
                }
            )
    balances = pd.DataFrame(rows)
    ids = list(aum)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "open_date": pd.Timestamp("2020-03-10"),
            "close_date": pd.to_datetime([close_dates.get(i) for i in ids]),
            "birth_year": 1980,
            "gender": "F",
            "channel": "branch",
        }
    )
    return Dataset.from_frames({"customers": customers, "monthly_balances": balances})


def events_by_customer(ds, **kwargs) -> dict[str, tuple[str, str]]:
    events = churn_events(ds, **kwargs)
    return {
        row.customer_id: (f"{row.churn_month:%Y-%m}", row.churn_type) for row in events.itertuples()
    }


def test_hard_churn_is_dated_at_the_month_of_closure():
    ds = make_bank({"A": [5000] * 6, "B": [5000] * 6}, close_dates={"A": "2025-04-17"})
    events = churn_events(ds)
    assert list(events.columns) == ["customer_id", "churn_month", "churn_type"]
    assert events["churn_month"].dtype == "datetime64[ns]"
    # closed on 17 April -> churn month is the month-end 2025-04-30
    assert events_by_customer(ds) == {"A": ("2025-04", "hard")}


def test_soft_churn_below_floor_is_dated_at_the_confirming_month():
    # months 2, 3, 4 (Mar, Apr, May) are under the 1,000 floor: confirmed in May
    ds = make_bank({"A": [5000, 5000, 800, 800, 800, 5000], "B": [5000] * 6})
    assert events_by_customer(ds) == {"A": ("2025-05", "soft")}
    # the run started in March: that is the onset
    assert events_by_customer(ds, dating="onset") == {"A": ("2025-03", "soft")}


def test_soft_churn_needs_consecutive_months():
    # flagged Feb, Mar | Apr recovers | May, Jun, Jul flagged -> confirmed in July
    ds = make_bank({"A": [5000, 800, 800, 5000, 800, 800, 800]})
    assert events_by_customer(ds) == {"A": ("2025-07", "soft")}
    # a missing month (no row in April) also breaks the run: Feb, Mar | May, Jun -> no churn
    ds = make_bank({"A": [5000, 800, 800, None, 800, 800]})
    assert events_by_customer(ds) == {}


def test_soft_churn_by_drop_from_trailing_average():
    # 12 months at 100,000, then 15,000: each month is compared with the mean of the up to 12
    # months before it. Month 12: 15,000 < 0.2 x 100,000 = 20,000. Month 13: mean of 11 x
    # 100,000 + 15,000 = 92,916.7 -> threshold 18,583: flagged. Month 14: mean 85,833 ->
    # 17,167: flagged. Confirmed in month 14 = 2026-03.
    ds = make_bank({"A": [100_000] * 12 + [15_000] * 3})
    assert events_by_customer(ds) == {"A": ("2026-03", "soft")}
    # 19,000: flagged in month 12 (< 20,000) but not in month 13 (threshold 18,650) -> no churn
    ds = make_bank({"A": [100_000] * 12 + [19_000] * 3})
    assert events_by_customer(ds) == {}


def test_short_history_uses_the_months_it_has():
    # Two months at 50,000, then 5,000 (above the floor). Month 2: mean 50,000 -> 10,000: yes.
    # Month 3: mean 35,000 -> 7,000: yes. Month 4: mean 27,500 -> 5,500: yes -> 2025-05.
    ds = make_bank({"A": [50_000, 50_000, 5_000, 5_000, 5_000]})
    assert events_by_customer(ds) == {"A": ("2025-05", "soft")}
    # A customer's first month has no trailing average: only the floor can flag it. 1,500
    # three times is above the floor and never below 20% of its own past -> no churn.
    ds = make_bank({"A": [1_500, 1_500, 1_500]})
    assert events_by_customer(ds) == {}


def test_either_takes_the_first_event_and_hard_wins_a_tie():
    ds = make_bank(
        {
            "soft_first": [5000, 800, 800, 800, 800, 800],  # soft confirmed Apr, closes Jun
            "hard_first": [5000, 5000, 800, 800, 800, None],  # closes in May, soft would be May
            "tie": [5000, 800, 800, 800, None, None],  # soft confirmed Apr, closes in Apr
        },
        close_dates={"soft_first": "2025-06-03", "hard_first": "2025-05-20", "tie": "2025-04-28"},
    )
    assert events_by_customer(ds) == {
        "soft_first": ("2025-04", "soft"),
        "hard_first": ("2025-05", "hard"),
        "tie": ("2025-04", "hard"),
    }
    # by onset, hard_first's run started in March, before its closure
    assert events_by_customer(ds, dating="onset")["hard_first"] == ("2025-03", "soft")


def test_kind_selects_hard_or_soft_only():
    ds = make_bank(
        {"closer": [5000] * 4, "drainer": [5000, 800, 800, 800]},
        close_dates={"closer": "2025-03-01"},
    )
    assert events_by_customer(ds, churn=ChurnDefinition(kind="hard")) == {
        "closer": ("2025-03", "hard")
    }
    assert events_by_customer(ds, churn=ChurnDefinition(kind="soft")) == {
        "drainer": ("2025-04", "soft")
    }


def test_custom_definition_parameters_are_used():
    ds = make_bank({"A": [5000, 1500, 1500, 5000]})
    # default floor 1,000: nothing; floor 2,000 and 2 months: confirmed in March
    assert events_by_customer(ds) == {}
    definition = ChurnDefinition(kind="soft", soft_floor=2000, soft_months=2)
    assert events_by_customer(ds, churn=definition) == {"A": ("2025-03", "soft")}


def test_only_the_first_soft_run_counts():
    ds = make_bank({"A": [5000, 800, 800, 800, 5000, 5000, 800, 800, 800]})
    assert events_by_customer(ds) == {"A": ("2025-04", "soft")}


def test_bad_inputs_give_clear_errors():
    flat = Dataset.from_frames({"flat": pd.DataFrame({"customer_id": ["1"]})}, mode="flat")
    with pytest.raises(ValueError, match="flat customer table"):
        churn_events(flat)
    only_customers = Dataset.from_frames(
        {
            "customers": pd.DataFrame(
                {"customer_id": ["1"], "open_date": [pd.Timestamp("2020-01-01")]}
            )
        }
    )
    with pytest.raises(ValueError, match="monthly_balances"):
        churn_events(only_customers)
    ds = make_bank({"A": [5000]})
    with pytest.raises(TypeError, match="ChurnDefinition"):
        churn_events(ds, churn={"kind": "hard"})
    with pytest.raises(ValueError, match="dating"):
        churn_events(ds, dating="later")
