"""Score a plan against the generator's own effect model (see :mod:`helpers.synth`).

A retention plan states what its contacts are worth; on a generated bank the truth is known:
the generator's churn hazards and the campaign's offer effects. :func:`true_offer_uplift`
computes, for customers at a month-end, the true uplift of each offer over the next
``horizon`` months (the campaign's effect model, covariates as the tables show them at that
month-end, held there over the horizon), so a test can score a plan's contacts with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.config import cross_sell_products
from helpers.months import month_end, month_index, months_on_book
from helpers.synth.model import CAMPAIGN, CHURN_COVARIATES, LOG_AUM_CENTRE, log_baseline


def covariates_at(ds, as_of: str) -> pd.DataFrame:
    """The generator's churn covariates at month-end ``as_of`` from a dataset's tables.

    Columns: ``customer_id``, ``aum``, ``open_index``, each name of
    :data:`~helpers.synth.CHURN_COVARIATES` (definitions as in ``truth.json``) and
    ``contacts_3m`` (contacts in the three months up to ``as_of``: the over-contact rule).
    """
    end = month_end(as_of)
    index = month_index(end)
    balances = ds.table("monthly_balances")
    month = pd.to_datetime(balances["month"]) + pd.offsets.MonthEnd(0)
    now = balances[month == end].set_index("customer_id")
    before = balances[month == end - pd.offsets.MonthEnd(3)].set_index("customer_id")
    frame = pd.DataFrame(index=now.index)
    frame["aum"] = now["aum_total"].astype(float)
    frame["log_aum"] = np.log1p(frame["aum"].clip(lower=0)) - LOG_AUM_CENTRE
    lag = before["aum_total"].reindex(frame.index)
    frame["aum_drop_3m"] = (lag.notna() & (frame["aum"] < 0.7 * lag.fillna(0))).astype(float)
    frame["digital_active"] = (now["digital_logins"] >= 4).astype(float)
    frame["payroll"] = now["payroll"].astype(float)
    holdings = ds.table("holdings")
    open_now = (
        holdings["product"].isin(cross_sell_products())
        & (holdings["open_date"] <= end)
        & (holdings["close_date"].isna() | (holdings["close_date"] > end))
    )
    counts = holdings[open_now].groupby("customer_id")["product"].nunique()
    frame["product_count"] = counts.reindex(frame.index).fillna(0).astype(float)
    contacts = ds.table("contacts")
    contact_month = pd.to_datetime(contacts["contact_date"]) + pd.offsets.MonthEnd(0)
    recent = contacts[(contact_month > end - pd.offsets.MonthEnd(3)) & (contact_month <= end)]
    frame["contacts_3m"] = recent.groupby("customer_id").size().reindex(frame.index).fillna(0)
    frame["rm_contact_3m"] = (frame["contacts_3m"] > 0).astype(float)
    customers = ds.table("customers").set_index("customer_id")
    opened = pd.to_datetime(customers["open_date"].reindex(frame.index))
    frame["open_index"] = opened.dt.year * 12 + opened.dt.month
    frame.attrs["as_of_index"] = index
    return frame.reset_index()


def true_offer_uplift(ds, as_of: str, horizon: int | None = None) -> pd.DataFrame:
    """True retention uplift of each offer for the customers with a balance at ``as_of``.

    ``S_arm = exp(-exp(shift_arm) x L)``, ``L`` the sum over the next ``horizon`` months of
    the (hard + soft) hazards with the covariates at ``as_of`` (and months on book moving on);
    the shifts are the campaign's effect model (:data:`~helpers.synth.CAMPAIGN`).

    Returns
    -------
    DataFrame: ``customer_id``, ``true_uplift_rate_coupon``, ``true_uplift_fee_waiver``,
    ``true_survival_control``.
    """
    horizon = int(horizon or CAMPAIGN["horizon_months"])
    x = covariates_at(ds, as_of)
    base = month_index(month_end(as_of))
    cumulative = np.zeros(len(x))
    for k in range(1, horizon + 1):
        tenure = months_on_book(base + k, x["open_index"].to_numpy())
        for kind in ("hard", "soft"):
            eta = log_baseline(kind, tenure.astype(float))
            for item in CHURN_COVARIATES:
                eta = eta + item[kind] * x[item["name"]].to_numpy(float)
            cumulative += np.exp(eta)
    aum = x["aum"].to_numpy(float)
    high = aum >= CAMPAIGN["high_aum"]
    harm = np.where(x["contacts_3m"] >= CAMPAIGN["over_contacted"],
                    CAMPAIGN["over_contacted_log_hr"], 0.0)  # fmt: skip
    shift_coupon = (
        np.select(
            [high, aum >= CAMPAIGN["mid_aum"]],
            [CAMPAIGN["coupon_log_hr_high_aum"], CAMPAIGN["coupon_log_hr_mid_aum"]],
            0.0,
        )
        + harm
    )
    digital = x["digital_active"].to_numpy(float) > 0
    shift_fee = np.where(~high & digital, CAMPAIGN["fee_waiver_log_hr_mass_digital"], 0.0) + harm
    control = np.exp(-cumulative)
    return pd.DataFrame(
        {
            "customer_id": x["customer_id"].astype(str),
            "true_uplift_rate_coupon": np.exp(-np.exp(shift_coupon) * cumulative) - control,
            "true_uplift_fee_waiver": np.exp(-np.exp(shift_fee) * cumulative) - control,
            "true_survival_control": control,
        }
    )


def plan_truth_value(plan: pd.DataFrame, truth: pd.DataFrame) -> float:
    """A plan's net value with its uplift replaced by the truth: sum(true uplift x CLV - cost).

    ``plan`` has ``customer_id``, ``best_offer``, ``clv`` and ``cost``; ``truth`` is
    :func:`true_offer_uplift`.
    """
    table = truth.set_index("customer_id")
    ids = plan["customer_id"].astype(str)
    true = np.array(
        [table.at[c, f"true_uplift_{o}"] for c, o in zip(ids, plan["best_offer"], strict=True)]
    )
    return float((true * plan["clv"].to_numpy(float) - plan["cost"].to_numpy(float)).sum())
