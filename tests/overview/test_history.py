"""The monthly history (trends of every report) against a plain pandas recomputation.

The history is aggregated in SQL so that 14M balance rows at a million customers never
reach pandas. The reference below is the pandas implementation it replaced (round 2), written
row by row: customers, AUM, tier shares, tier moves between consecutive months, churn and
take-ups must agree on the bundled sample and on a ladder with a bound at -inf.
"""

import numpy as np
import pandas as pd
import pytest

from helpers import paths
from helpers.config import ChurnDefinition, cross_sell_products, resolve_ladder
from helpers.data import load_dataset
from helpers.features import churn_events
from helpers.months import month_end, month_label
from helpers.overview import monthly_history


@pytest.fixture(scope="module")
def ds():
    return load_dataset(paths.SAMPLE_SPEC)


def _reference(ds, month, ladder, churn, months=12):
    window = [m for m in ds.months() if month_label(month, -max(months, 13)) <= m <= month]
    start, end = month_end(window[0]), month_end(window[-1])
    balances = ds.table("monthly_balances")[["customer_id", "month", "aum_total"]].copy()
    balances["month"] = pd.to_datetime(balances["month"]) + pd.offsets.MonthEnd(0)
    balances = balances[balances["month"].between(start, end)]
    balances = balances.rename(columns={"aum_total": "aum"}).astype({"aum": float})
    events = churn_events(ds, churn)
    balances = balances.merge(events[["customer_id", "churn_month"]], on="customer_id", how="left")
    active = balances[~(balances["churn_month"] <= balances["month"])].copy()
    lower = ladder["lower"].to_numpy(float)
    tier = np.searchsorted(lower, active["aum"].fillna(0).to_numpy(), side="right") - 1
    active["tier"] = np.clip(tier, 0, None)
    grouped = active.groupby("month")
    frame = pd.DataFrame({"customers": grouped.size(), "aum": grouped["aum"].sum()})
    shares = pd.crosstab(active["month"], active["tier"], normalize="index")
    for index, code in enumerate(ladder["code"]):
        frame[f"share_{code}"] = shares[index] if index in shares.columns else 0.0
    ordered = active.sort_values(["customer_id", "month"])
    previous_tier = ordered.groupby("customer_id")["tier"].shift(1)
    previous_month = ordered.groupby("customer_id")["month"].shift(1)
    consecutive = previous_month == ordered["month"] - pd.offsets.MonthEnd(1)
    moves = pd.DataFrame(
        {
            "month": ordered["month"],
            "upgrades": (ordered["tier"] > previous_tier) & consecutive,
            "downgrades": (ordered["tier"] < previous_tier) & consecutive,
        }
    )
    frame = frame.join(moves.groupby("month")[["upgrades", "downgrades"]].sum().astype(float))
    churned = events[events["churn_month"].between(start, end)].groupby("churn_month").size()
    frame["churned"] = churned.reindex(frame.index).fillna(0).astype(int)
    frame["churn_rate"] = frame["churned"] / frame["customers"].shift(1)
    holdings = ds.table("holdings")
    holdings = holdings[holdings["product"].isin(cross_sell_products())]
    opened = pd.to_datetime(holdings["open_date"]) + pd.offsets.MonthEnd(0)
    taken = pd.DataFrame({"customer_id": holdings["customer_id"], "month": opened})
    taken = taken.merge(active[["customer_id", "month"]], on=["customer_id", "month"])
    frame["takeups"] = taken.groupby("month").size().reindex(frame.index).fillna(0).astype(int)
    frame.loc[frame.index[0], ["upgrades", "downgrades", "churn_rate"]] = np.nan
    frame = frame.iloc[1:] if len(frame) > months + 1 else frame
    frame.index = [stamp.strftime("%Y-%m") for stamp in frame.index]
    return frame


@pytest.mark.parametrize("kind", ["either", "hard"])
def test_history_equals_the_pandas_reference(ds, kind):
    churn = ChurnDefinition(kind=kind)
    ladder = resolve_ladder(None)
    month = ds.months()[-1]
    got = monthly_history(ds, month, ladder, churn).set_index("month")
    expected = _reference(ds, month, ladder, churn)
    assert list(got.index) == list(expected.index)
    assert len(got) == 13  # 12 months and the same month a year before
    assert got["customers"].sum() > 0 and got["takeups"].sum() > 0
    assert got["upgrades"].iloc[1:].sum() > 0 and got["downgrades"].iloc[1:].sum() > 0
    for column in expected.columns:
        # AUM is summed in whole cents (exact in any order), the reference in floats
        rtol = 1e-9 if column == "aum" else 0
        np.testing.assert_allclose(
            got[column].to_numpy(float), expected[column].to_numpy(float), rtol=rtol,
            err_msg=column,
        )  # fmt: skip


def test_history_with_an_unreached_tier(ds):
    """A bound above every balance (the tier stays empty: share 0) and a lowered one."""
    ladder = resolve_ladder(None).copy()
    ladder.loc[ladder.index[-1], "lower"] = 1e15
    ladder.loc[ladder.index[1], "lower"] = 20_000.0
    month = ds.months()[-3]
    got = monthly_history(ds, month, ladder).set_index("month")
    expected = _reference(ds, month, ladder, ChurnDefinition())
    assert (got[f"share_{ladder['code'].iloc[-1]}"] == 0).all()
    for column in [c for c in expected.columns if c.startswith("share_")] + ["upgrades"]:
        np.testing.assert_allclose(
            got[column].to_numpy(float), expected[column].to_numpy(float), err_msg=column
        )


def test_a_missing_month_is_not_a_tier_move(ds):
    """A customer without a balance row one month is not "moved" when they come back: moves
    count only between consecutive months (the sample has no gaps, so one is made here)."""
    from helpers.data import Dataset

    tables = {name: ds.table(name) for name in ("customers", "monthly_balances", "holdings")}
    balances = tables["monthly_balances"]
    month = ds.months()[-1]
    gap = pd.Timestamp(month_end(month_label(month, -4)))
    stamps = pd.to_datetime(balances["month"]) + pd.offsets.MonthEnd(0)
    ids = balances["customer_id"].drop_duplicates().iloc[::3]  # every third customer
    # and make their balance jump across the gap, so a move would show if gaps were bridged
    after = stamps > gap
    balances = balances.assign(
        aum_total=np.where(balances["customer_id"].isin(ids) & after, 3e6, balances["aum_total"])
    )
    tables["monthly_balances"] = balances[~(balances["customer_id"].isin(ids) & (stamps == gap))]
    holed = Dataset.from_frames(tables)
    ladder = resolve_ladder(None)
    got = monthly_history(holed, month, ladder).set_index("month")
    expected = _reference(holed, month, ladder, ChurnDefinition())
    for column in ["customers", "upgrades", "downgrades"]:
        np.testing.assert_allclose(
            got[column].to_numpy(float), expected[column].to_numpy(float), err_msg=column
        )
    back = month_label(month, -3)
    assert got.loc[back, "upgrades"] < 0.5 * len(ids)  # the returners are not counted
