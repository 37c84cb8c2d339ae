"""Retention campaigns: A/B evaluation, sample size, value-weighted ROI, budget targeting.

The questions of notebook ``04_retention_roi``, in order: did the last campaign work
(:func:`evaluate_campaign`, :func:`standardized_mean_differences`), how big must the next one
be (:func:`sample_size_proportions`, :func:`minimum_detectable_effect`), what is a contact
worth (:func:`simple_clv`, :func:`offer_values`, :func:`campaign_roi`,
:func:`break_even_uplift`), whom to contact under a budget and RM capacity
(:func:`greedy_targets`, :func:`exact_targets`, :func:`knapsack_dp`, :func:`budget_curve`) and
how sure we are (:func:`roi_sensitivity`). Uplift models live in :mod:`helpers.retention.uplift`, plots
in :mod:`helpers.retention.plots`.

Conventions: an *arm* is ``"control"`` or an offer name; retention is the positive outcome
(1 = stayed); uplift is P(stay | offer) - P(stay | control), in probability points (0-1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from helpers.features import abt_feature_columns, build_abt
from helpers.formatting import Skipped
from helpers.retention.ab import (
    CampaignDataError,
    campaign_arms,
)
from helpers.survival import customer_clv, monthly_margin

# Contact cost by channel (RMB per contact): a sober default an analyst overrides with the
# bank's own figures (an RM visit costs an hour of salary, an SMS almost nothing).
DEFAULT_CONTACT_COSTS = {"visit": 80.0, "phone": 15.0, "wechat": 3.0, "sms": 0.5}
#: Columns a CLV table must have to be used as it is.
CLV_NEEDED = ("customer_id", "clv", "p_churn_h")


# ----------------------------------------------------------------------------- loading
def campaign_frame(
    ds, campaign_id: str = "", churn=None, horizon: int = 6
) -> tuple[pd.DataFrame, dict]:
    """Campaign customers with the features they had *before* the campaign.

    Panel mode: the rows of one campaign (``campaign_id``; "" = the latest by assigned date)
    joined to the feature columns of the ABT built as of the assigned month (features up to
    that month-end only, so nothing the offer changed leaks into the model; the ABT's labels
    and survival columns look past it and are not the campaign's outcome, ``retained`` is).
    Features do not depend on the ABT's ``horizon``: pass the run's churn horizon and the
    month's ABT is built once for the campaign and its CLV. Flat mode: the flat rows that carry a
    treatment; their features are whatever the table holds (often measured *after* the
    campaign: the notebook says so).

    Returns
    -------
    frame : one row per campaign customer: ``customer_id``, ``arm``, ``retained`` (bool), the
        campaign columns (panel) and the ABT features.
    info : dict with ``campaign_id``, ``assigned_month`` (None in flat mode),
        ``horizon_months``, ``customers``, ``without_features`` (campaign customers missing
        from the ABT), ``dropped_no_outcome`` (flat rows with a group but no outcome).

    Raises
    ------
    CampaignDataError
        When the dataset has no campaign, or the campaign id or month is not in the data.
    """

    if ds.mode == "flat":
        abt = build_abt(ds, churn=churn)
        if "treatment" not in abt.columns or "outcome" not in abt.columns:
            raise CampaignDataError(
                "flat table: the spec maps no 'treatment' and 'outcome' roles, so there is no "
                "campaign to evaluate"
            )
        in_campaign = abt["treatment"].notna()
        no_outcome = in_campaign & abt["outcome"].isna()
        frame = abt[in_campaign & ~no_outcome].copy()
        frame["arm"] = frame["treatment"].astype(str)
        frame["retained"] = frame["outcome"].astype(bool)
        info = {
            "campaign_id": "flat",
            "assigned_month": None,
            "horizon_months": None,
            "customers": len(frame),
            "without_features": 0,
            "dropped_no_outcome": int(no_outcome.sum()),
        }
        return frame.reset_index(drop=True), info
    if not ds.has("campaigns"):
        raise CampaignDataError("the dataset has no campaigns table: nothing to evaluate")
    campaigns = ds.table("campaigns")
    if campaigns.empty:
        raise CampaignDataError("the campaigns table is empty: nothing to evaluate")
    if not campaign_id:
        latest = campaigns.sort_values("assigned_date", kind="stable").iloc[-1]
        campaign_id = str(latest["campaign_id"])
    rows = campaigns[campaigns["campaign_id"].astype(str) == str(campaign_id)].copy()
    if rows.empty:
        available = sorted(campaigns["campaign_id"].astype(str).unique())
        raise CampaignDataError(f"campaign {campaign_id!r} not found; campaigns: {available}")
    assigned = pd.Timestamp(rows["assigned_date"].max())
    assigned_month = assigned.strftime("%Y-%m")
    if assigned_month not in ds.months():
        raise CampaignDataError(
            f"campaign {campaign_id}: assigned month {assigned_month} is outside the balances "
            f"window ({ds.months()[0]} to {ds.months()[-1]}); its features cannot be built"
        )
    rows["arm"] = campaign_arms(rows)
    abt = build_abt(ds, assigned_month, horizon, churn)
    features = set(abt_feature_columns()) - set(rows.columns)
    abt = abt[[c for c in abt.columns if c in features or c == "customer_id"]]
    frame = rows.merge(abt, on="customer_id", how="left", indicator=True)
    without = int((frame.pop("_merge") == "left_only").sum())
    frame["retained"] = frame["retained"].astype(bool)
    info = {
        "campaign_id": str(campaign_id),
        "assigned_month": assigned_month,
        "horizon_months": int(rows["horizon_months"].max()),
        "customers": len(frame),
        "without_features": without,
        "dropped_no_outcome": 0,
    }
    return frame.reset_index(drop=True), info


def offer_costs_from_campaign(
    frame: pd.DataFrame,
    offers: Sequence[str],
    overrides: Mapping[str, float] | None = None,
    default: float = 50.0,
) -> dict[str, float]:
    """Expected offer cost per contacted customer, by offer.

    The analyst's ``overrides`` win; otherwise the average ``cost`` the last campaign spent per
    customer of that offer (a rate coupon's cost depends on balance and months kept, so the
    average is the honest expectation); otherwise ``default`` (e.g. a flat table has no cost).
    """
    overrides = dict(overrides or {})
    costs = {}
    for offer in offers:
        if offer in overrides:
            costs[offer] = float(overrides[offer])
        elif "cost" in frame.columns and (frame["arm"] == offer).any():
            costs[offer] = float(frame.loc[frame["arm"] == offer, "cost"].mean())
        else:
            costs[offer] = float(default)
    return costs


def load_clv(
    ds,
    as_of: str | None,
    upstream: pd.DataFrame | Skipped | None = None,
    horizon: int = 36,
    churn_horizon: int = 6,
    annual_discount_rate: float = 0.05,
    churn=None,
) -> tuple[pd.DataFrame, str]:
    """Customer lifetime value and churn risk for the customers active at ``as_of``.

    In order of preference: ``upstream``, the survival notebook's ``clv`` artifact as
    ``ctx.upstream("02_lifecycle_survival", "clv")`` returns it (a table of this run, month
    and parameters; a :class:`~helpers.formatting.Skipped` or None when there is none); else
    :func:`helpers.survival.customer_clv` (Cox survival model); else the simple fallback
    :func:`simple_clv` with an assumed churn rate.

    Returns
    -------
    (frame, source) : frame with ``customer_id``, ``clv``, ``p_churn_h`` (churn probability
    within ``churn_horizon`` months), ``monthly_margin``; source is ``"artifact"``,
    ``"survival"`` or ``"fallback"``.
    """
    if isinstance(upstream, pd.DataFrame) and set(CLV_NEEDED) <= set(upstream.columns):
        table = upstream.copy()
        table["customer_id"] = table["customer_id"].astype(str)
        return table, "artifact"
    try:
        return customer_clv(
            ds, as_of, horizon, churn_horizon, churn, annual_discount_rate=annual_discount_rate
        ), "survival"
    except (ValueError, KeyError, RuntimeError, ArithmeticError):
        # e.g. too little history before as_of to train the survival model
        abt = build_abt(ds, as_of, churn=churn) if ds.mode == "panel" else build_abt(ds)
        if ds.mode == "flat" and "event" in abt.columns:
            abt = abt[~abt["event"].astype(bool)]
        margin = monthly_margin(abt)
        churn_rate = 0.1  # a plain assumption when no survival model can be fitted
        values = simple_clv(margin, churn_rate, churn_horizon, horizon, annual_discount_rate)
        frame = pd.DataFrame(
            {
                "customer_id": abt["customer_id"].astype(str).to_numpy(),
                "clv": values,
                "p_churn_h": churn_rate,
                "monthly_margin": margin.to_numpy(float),
            }
        )
        return frame, "fallback"


def clv_notes(upstream: pd.DataFrame | Skipped | None) -> list[Skipped]:
    """Why notebook 02's CLV is not used (its :class:`Skipped`), or nothing when it is."""
    return [upstream] if isinstance(upstream, Skipped) else []


# ----------------------------------------------------------------------------- value
def simple_clv(
    monthly_margin: Sequence[float] | float,
    churn_probability: Sequence[float] | float,
    churn_horizon_months: int = 6,
    clv_horizon_months: int = 36,
    annual_discount_rate: float = 0.08,
) -> np.ndarray:
    """Discounted expected margin over ``clv_horizon_months``: the fallback CLV.

    Used when neither the survival notebook's ``clv`` artifact nor ``helpers.survival`` is
    available. The churn probability over ``churn_horizon_months`` is turned into a constant
    monthly hazard ``h = 1 - (1 - p)^(1 / H)``; with monthly discount factor
    ``d = (1 + r)^(-1/12)`` and ``a = (1 - h) d``,
    ``CLV = m * sum_{t=1..T} a^t = m * a (1 - a^T) / (1 - a)``.
    """
    margin = np.atleast_1d(np.asarray(monthly_margin, dtype=float))
    probability = np.clip(np.atleast_1d(np.asarray(churn_probability, dtype=float)), 0, 1 - 1e-12)
    hazard = 1 - (1 - probability) ** (1 / churn_horizon_months)
    discount = (1 + annual_discount_rate) ** (-1 / 12)
    a = (1 - hazard) * discount
    months = clv_horizon_months
    with np.errstate(invalid="ignore", divide="ignore"):
        annuity = np.where(np.isclose(a, 1.0), months, a * (1 - a**months) / (1 - a))
    return margin * annuity


def offer_values(
    uplift: pd.DataFrame,
    clv: pd.Series | Sequence[float],
    offer_cost: Mapping[str, float],
    contact_cost: pd.Series | Sequence[float] | float,
) -> pd.DataFrame:
    """Expected incremental value of every (customer, offer) option.

    ``gross_value = uplift x CLV``; ``cost = offer_cost + contact_cost``;
    ``net_value = gross_value - cost``. The offer cost is the *expected* cost per contacted
    customer (what the last campaign spent per treated customer, or the analyst's figure).

    Parameters
    ----------
    uplift : one column per offer (retention uplift, 0-1), one row per customer; the index
        is kept as ``customer_id``.
    clv : value of keeping each customer (RMB), aligned with ``uplift``'s rows.
    offer_cost : RMB per contacted customer, by offer (every offer column needs one).
    contact_cost : RMB per contact, scalar or per customer.

    Returns
    -------
    Long DataFrame: ``customer_id``, ``offer``, ``uplift``, ``clv``, ``gross_value``, ``cost``,
    ``net_value``, ordered by customer then offer.
    """
    missing = [offer for offer in uplift.columns if offer not in offer_cost]
    if missing:
        raise ValueError(f"offer_cost has no cost for offer(s) {missing}")
    n = len(uplift)
    clv_values = np.asarray(clv, dtype=float).reshape(-1)
    contact = np.broadcast_to(np.asarray(contact_cost, dtype=float), (n,))
    if len(clv_values) != n:
        raise ValueError(f"clv has {len(clv_values)} values for {n} customers")
    offers = list(uplift.columns)
    k = len(offers)
    uplift_values = uplift.to_numpy(dtype=float).reshape(-1)  # row-major: customer, then offer
    clv_long = np.repeat(clv_values, k)
    cost_long = np.repeat(contact, k) + np.tile([float(offer_cost[o]) for o in offers], n)
    gross = uplift_values * clv_long
    return pd.DataFrame(
        {
            "customer_id": np.repeat(uplift.index.to_numpy(), k),
            "offer": np.tile(offers, n),
            "uplift": uplift_values,
            "clv": clv_long,
            "gross_value": gross,
            "cost": cost_long,
            "net_value": gross - cost_long,
        }
    )


def best_offer(values: pd.DataFrame) -> pd.DataFrame:
    """Best option per customer: the offer with the highest net value, or ``"none"``.

    ``values`` is the long frame of :func:`offer_values`. A customer whose best net value is
    not positive is recommended ``"none"`` (contacting them loses money in expectation).

    Returns
    -------
    One row per customer: ``customer_id``, ``best_offer``, ``uplift``, ``clv``,
    ``gross_value``, ``cost``, ``net_value`` of that offer, and ``recommended`` (bool).
    """
    order = values.sort_values(["customer_id", "net_value"], ascending=[True, False], kind="stable")
    best = order.drop_duplicates("customer_id", keep="first").reset_index(drop=True)
    best = best.rename(columns={"offer": "best_offer"})
    best["recommended"] = best["net_value"] > 0
    best.loc[~best["recommended"], "best_offer"] = "none"
    return best


def campaign_roi(gross_value: Sequence[float], cost: Sequence[float]) -> float:
    """Campaign ROI = (total incremental value - total cost) / total cost.

    ``gross_value`` is uplift x CLV per contacted customer (before costs).
    """
    total_cost = float(np.sum(cost))
    if total_cost <= 0:
        return float("nan")
    return (float(np.sum(gross_value)) - total_cost) / total_cost


def break_even_uplift(clv: Sequence[float], cost: Sequence[float]) -> float:
    """Average retention uplift at which a campaign on these customers breaks even.

    With the same uplift ``u`` for everyone, ROI = 0 when ``u x sum(CLV) = sum(cost)``, so
    ``u* = sum(cost) / sum(CLV)``. Per customer it is ``cost_i / CLV_i``.
    """
    total_clv = float(np.sum(clv))
    return float(np.sum(cost)) / total_clv if total_clv > 0 else float("inf")


def last_campaign_value(
    evaluation: pd.DataFrame,
    frame: pd.DataFrame,
    clv: pd.Series,
    contact_cost,
    metric: str = "retained",
    offer_cost: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """What the last campaign earned, per offer, from its measured (A/B) effect.

    ``incremental_retained = difference x n_treated`` (customers kept because of the offer,
    with the CI of the difference), ``value = incremental_retained x mean CLV of the offer's
    customers``, ``spend = offer costs actually paid + contact_cost x n_treated``,
    ``roi = (value - spend) / spend`` with the same CI propagated.

    Parameters
    ----------
    evaluation : output of :func:`evaluate_campaign`.
    frame : the campaign rows (``arm``, ``cost`` if known).
    clv : CLV per campaign row (RMB, aligned with ``frame``).
    contact_cost : RMB per contacted (treated) customer: a number, or one per row (e.g. the
        cost of each row's ``contact_channel``).
    offer_cost : RMB per treated customer by offer, used only when ``frame`` has no ``cost``.
    """
    rows = []
    results = evaluation[evaluation["metric"] == metric]
    clv = pd.Series(np.asarray(clv, dtype=float), index=frame.index)
    contact = np.broadcast_to(np.asarray(contact_cost, dtype=float), (len(frame),))
    for _, result in results.iterrows():
        treated = frame["arm"] == result["offer"]
        n_treated = int(treated.sum())
        if "cost" in frame.columns:
            offer_spend = float(frame.loc[treated, "cost"].sum())
        else:  # no recorded cost (e.g. a flat table): the planning cost of the offer
            offer_spend = float((offer_cost or {}).get(result["offer"], 0.0)) * n_treated
        spend = offer_spend + float(contact[treated.to_numpy()].sum())
        mean_clv = float(clv[treated].mean())
        kept = result["difference"] * n_treated
        low, high = result["ci_low"] * n_treated, result["ci_high"] * n_treated
        rows.append(
            {
                "offer": result["offer"],
                "n_treated": n_treated,
                "incremental_retained": kept,
                "incremental_low": low,
                "incremental_high": high,
                "mean_clv": mean_clv,
                "value": kept * mean_clv,
                "spend": spend,
                "roi": (kept * mean_clv - spend) / spend if spend > 0 else np.nan,
                "roi_low": (low * mean_clv - spend) / spend if spend > 0 else np.nan,
                "roi_high": (high * mean_clv - spend) / spend if spend > 0 else np.nan,
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- sensitivity
def roi_sensitivity(
    uplift: Sequence[float],
    clv: Sequence[float],
    offer_cost: Sequence[float],
    contact_cost: Sequence[float],
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """ROI of a fixed target list when each assumption moves within a range (tornado table).

    The list stays fixed: the question is "does the plan we are about to run still pay if an
    assumption is off?". Each parameter is a multiplier on its base value, one at a time:
    ``uplift`` (the model's uplift), ``margin`` (scales CLV linearly), ``offer_cost``,
    ``contact_cost``.

    Returns
    -------
    DataFrame: ``parameter``, ``low``, ``high`` (multipliers), ``roi_low``, ``roi_high``,
    ``roi_base``, ``swing`` (|roi_high - roi_low|), sorted by swing, largest first.
    """
    ranges = dict(
        ranges
        or {
            "uplift": (0.5, 1.5),
            "margin": (0.8, 1.2),
            "offer_cost": (0.5, 1.5),
            "contact_cost": (0.5, 2.0),
        }
    )
    unknown = set(ranges) - {"uplift", "margin", "offer_cost", "contact_cost"}
    if unknown:
        raise ValueError(f"unknown sensitivity parameter(s) {sorted(unknown)}")
    base = {
        "uplift": np.asarray(uplift, float),
        "margin": np.asarray(clv, float),
        "offer_cost": np.asarray(offer_cost, float),
        "contact_cost": np.asarray(contact_cost, float),
    }

    def roi(scales: Mapping[str, float]) -> float:
        gross = base["uplift"] * scales.get("uplift", 1) * base["margin"] * scales.get("margin", 1)
        spend = base["offer_cost"] * scales.get("offer_cost", 1) + base[
            "contact_cost"
        ] * scales.get("contact_cost", 1)
        return campaign_roi(gross, np.broadcast_to(spend, gross.shape))

    roi_base = roi({})
    rows = [
        {
            "parameter": name,
            "low": low,
            "high": high,
            "roi_low": roi({name: low}),
            "roi_high": roi({name: high}),
            "roi_base": roi_base,
        }
        for name, (low, high) in ranges.items()
    ]
    table = pd.DataFrame(rows)
    table["swing"] = (table["roi_high"] - table["roi_low"]).abs()
    return table.sort_values("swing", ascending=False, ignore_index=True)


def assumed_uplift(churn_probability: Sequence[float], save_rate: float) -> np.ndarray:
    """Planner uplift when no campaign has been measured: a share of the churn risk is saved.

    ``uplift_i = save_rate x P(churn_i)``: an offer that keeps, say, 10% of the customers who
    would otherwise leave. Assumed, not estimated; the notebook says so.
    """
    if not 0 <= save_rate <= 1:
        raise ValueError(f"save_rate must be between 0 and 1, not {save_rate}")
    return save_rate * np.clip(np.asarray(churn_probability, dtype=float), 0, 1)
