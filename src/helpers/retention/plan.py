"""Planning the next retention campaign: parameters, candidates, plan, target list, KPIs.

The notebook-sized steps of ``04_retention_roi`` that turn uplift and customer value into a
contact plan: check the parameters, pick the candidates the campaign's estimates hold for
(its tested population, without the customers already draining), attach CLV and churn risk,
choose one offer per customer and whom to contact under a budget and RM capacity together,
write the RM target list and the KPIs (each with its interval).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from helpers.features import build_abt, draining_customers
from helpers.formatting import Skipped, kpi
from helpers.retention.offers import campaign_population, offer_rules
from helpers.retention.segments import value_interval
from helpers.retention.targeting import choice_budget_curve, choose_offers_and_targets

BALANCE_COVARIATES = (
    "aum",
    "age",
    "tenure_months",
    "digital_logins_3m",
    "digital_logins_avg_3m",
    "contacts_3m",
    "product_count",
    "payroll",
    "txn_count_3m",
    "tier",
)


def check_parameters(
    learner: str,
    contact_channel: str,
    contact_costs: Mapping[str, float],
    candidate_share: float,
    budget: float,
    confidence: float,
) -> None:
    """Clear errors for the notebook's parameters (raised before any work is done)."""
    if learner not in {"auto", "t", "x", "dr"}:
        raise ValueError(
            f"learner must be 'auto' (the best held-out Qini per offer), 't' (T-learner), "
            f"'x' (X-learner) or 'dr' (DR-learner), not {learner!r}"
        )
    if contact_channel not in contact_costs:
        raise ValueError(
            f"contact_channel {contact_channel!r} has no cost in contact_costs "
            f"(channels: {sorted(contact_costs)})"
        )
    if not 0 < candidate_share <= 1:
        raise ValueError(f"candidate_share must be in (0, 1], not {candidate_share}")
    if budget < 0:
        raise ValueError(f"budget must be >= 0, not {budget}")
    if not 0.5 < confidence < 1:
        raise ValueError(f"confidence must be between 0.5 and 1, not {confidence}")


def arm_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Customers, retention rate and average offer cost per arm of a campaign."""
    grouped = frame.groupby("arm", sort=True)
    table = pd.DataFrame(
        {
            "customers": grouped.size(),
            "retention_rate": grouped["retained"].mean(),
            "mean_cost": grouped["cost"].mean() if "cost" in frame.columns else np.nan,
        }
    )
    return table.reset_index()


def balance_covariates(frame: pd.DataFrame) -> list[str]:
    """The usual balance-check covariates that this campaign frame has."""
    return [c for c in BALANCE_COVARIATES if c in frame.columns and frame[c].notna().any()]


def attach_value(frame: pd.DataFrame, clv_table: pd.DataFrame) -> pd.DataFrame:
    """Add ``clv`` and ``p_churn_h`` (churn risk) to campaign or candidate rows.

    Customers without a CLV row (e.g. churned customers of a flat table) get the median CLV
    and median risk, so a missing value never silently drops a customer.
    """
    columns = ["customer_id", "clv", "p_churn_h"]
    merged = frame.drop(columns=[c for c in columns[1:] if c in frame.columns]).merge(
        clv_table[columns], on="customer_id", how="left"
    )
    for column in columns[1:]:
        merged[column] = merged[column].fillna(clv_table[column].median())
    return merged


def next_campaign_candidates(
    ds,
    month: str | None,
    clv_table: pd.DataFrame,
    share: float = 1.0,
    churn=None,
    margin_scale: float = 1.0,
    ladder: pd.DataFrame | None = None,
    rules: Mapping | None = None,
) -> pd.DataFrame:
    """Customers the next campaign may contact: those like the ones the last campaign tested.

    The ABT at ``month`` (panel; flat: the customers who have not churned), without the
    customers already draining (a run-off under way: listed by notebook 02, not offered a
    coupon), restricted to the last campaign's eligibility rules (``campaign_population`` of
    :func:`helpers.retention.offer_rules`: its uplift estimates hold only for customers like
    those it tested), then the ``share`` at highest churn risk. ``clv`` is multiplied by
    ``margin_scale`` (the bank's margins against the catalogue's). ``attrs["counts"]`` says
    how many were active, draining, outside the tested population and kept.
    """
    rules = rules if rules is not None else offer_rules()
    abt = build_abt(ds, month if ds.mode == "panel" else None, churn=churn, ladder=ladder)
    if ds.mode == "flat" and "event" in abt.columns:
        abt = abt[~abt["event"].astype(bool)]
    active = len(abt)
    draining = draining_customers(ds, month, churn) if ds.mode == "panel" else None
    if draining is not None and len(draining):
        abt = abt[~abt["customer_id"].isin(set(draining["customer_id"]))]
    after_draining = len(abt)
    candidates = attach_value(abt, clv_table.assign(clv=clv_table["clv"] * margin_scale))
    candidates = candidates[campaign_population(candidates, rules).to_numpy()]
    tested = len(candidates)
    keep = int(np.ceil(share * len(candidates)))
    order = np.argsort(-candidates["p_churn_h"].to_numpy(), kind="stable")[:keep]
    result = candidates.iloc[order].reset_index(drop=True)
    result.attrs["counts"] = {
        "active": active,
        "draining": active - after_draining,
        "outside_population": after_draining - tested,
        "candidates": len(result),
    }
    return result


def offer_mix(plan: pd.DataFrame) -> pd.DataFrame:
    """Per offer in the plan: customers, mean uplift counted on, mean CLV, net value."""
    table = plan.groupby("best_offer").agg(
        customers=("customer_id", "size"),
        uplift=("uplift", "mean"),
        clv=("clv", "mean"),
        net_value=("net_value", "sum"),
    )
    return table.reset_index().rename(columns={"best_offer": "offer"})


def budget_grid(budget: float, options: pd.DataFrame | None = None, steps: int = 8) -> np.ndarray:
    """Budgets for the value-by-budget curve.

    Up to twice ``budget``, but no further than what contacting every customer with a
    worthwhile option would cost (``options``: their cheapest worthwhile option each, +10%;
    beyond that more budget buys nothing), in ``steps`` even steps.
    """
    upper = 2.0 * max(float(budget), 1.0)
    if options is not None and len(options) and "net_value" in options.columns:
        useful = options[options["net_value"] > 0]
        needed = float(useful.groupby("customer_id")["cost"].max().sum()) * 1.1
        if needed > 0:
            upper = min(upper, needed)
    return np.linspace(upper / steps, upper, steps)


def capacity_arguments(rows: pd.DataFrame, contacts_per_rm: int, group: str = "rm_id"):
    """``(capacity, group)`` for the targeting functions: per-RM limit, or none.

    ``contacts_per_rm`` <= 0, or no ``rm_id`` column (a flat table), means no capacity limit.
    """
    if (
        contacts_per_rm
        and contacts_per_rm > 0
        and group in rows.columns
        and rows[group].notna().any()
    ):
        return int(contacts_per_rm), rows[group].to_numpy(dtype=object)
    return None, None


#: Columns of the retention plan (one row per customer contacted).
PLAN_COLUMNS = ["customer_id", "best_offer", "segment", "basis", "uplift", "uplift_se", "clv",
                "gross_value", "offer_cost", "cost", "net_value", "p_churn_h", "rm_id"]  # fmt: skip


def select_plan(
    options: pd.DataFrame, budget: float, contacts_per_rm: int = 0, exact_cap: int = 5000
) -> pd.DataFrame:
    """Whom to contact with which offer: the joint offer-and-budget choice, best first.

    One offer per customer, chosen inside the budget and the RM capacity
    (:func:`choose_offers_and_targets`: exact for up to ``exact_cap`` worthwhile options,
    greedy with a stated bound above). ``contacts_per_rm`` > 0 limits contacts per RM
    (customers without an RM, served by the call centre, are not limited). ``attrs["choice"]``
    holds the method, value, bound and gap.
    """
    capacity, _ = capacity_arguments(options, contacts_per_rm)
    frame = options.copy()
    if capacity is not None:
        frame["rm_id"] = frame["rm_id"].astype(object)
    chosen, info = choose_offers_and_targets(frame, budget, capacity, "rm_id", exact_cap)
    plan = frame[chosen].rename(columns={"offer": "best_offer"})
    plan = plan[[c for c in PLAN_COLUMNS if c in plan.columns]]
    plan = plan.sort_values("net_value", ascending=False, ignore_index=True)
    plan.attrs["choice"] = info
    return plan


def plan_budget_curve(
    options: pd.DataFrame, budgets, contacts_per_rm: int = 0, exact_cap: int = 5000
) -> pd.DataFrame:
    """:func:`choice_budget_curve`: the same choice, costs and RM capacity at each budget."""
    capacity, _ = capacity_arguments(options, contacts_per_rm)
    return choice_budget_curve(options, budgets, capacity, "rm_id", exact_cap)


def target_list(plan: pd.DataFrame, ds, candidates: pd.DataFrame, size: int = 500) -> pd.DataFrame:
    """The RM target list: who to contact with which offer, most valuable first.

    Columns: ``customer_id``, ``name`` and ``mobile`` (panel; masked when saved),
    ``rm_id``, ``tier``, ``aum``, ``p_churn_h``, ``best_offer``, ``uplift``, ``clv``,
    ``net_value``; at most ``size`` rows.
    """
    keep = ["customer_id"] + [
        c for c in ("rm_id", "tier", "aum") if c in candidates.columns and c not in plan.columns
    ]
    table = plan.merge(candidates[keep], on="customer_id", how="left")
    if ds.mode == "panel" and ds.has("customers"):
        people = ds.table("customers")[["customer_id", "name", "mobile"]]
        table = table.merge(people, on="customer_id", how="left")
    columns = ["customer_id", "name", "mobile", "rm_id", "tier", "aum", "p_churn_h"]
    columns += ["best_offer", "uplift", "clv", "net_value"]
    table = table[[c for c in columns if c in table.columns]]
    if "tier" in table.columns:
        table["tier"] = table["tier"].astype(str)
    return table.sort_values("net_value", ascending=False, ignore_index=True).head(size)


def _interval_sum(values, lows, highs, confidence: float) -> tuple[float, float, float]:
    """Sum of independent estimates with normal intervals: (sum, low, high)."""
    z = stats.norm.ppf(0.5 + confidence / 2)
    values, lows, highs = (np.asarray(a, dtype=float) for a in (values, lows, highs))
    se = (highs - lows) / (2 * z)
    total, spread = float(values.sum()), float(np.sqrt((se**2).sum()))
    return total, total - z * spread, total + z * spread


def retention_kpis(
    value: pd.DataFrame | Skipped | None,
    evaluation: pd.DataFrame | Skipped | None,
    plan: pd.DataFrame,
    confidence: float = 0.95,
) -> list[dict]:
    """KPIs of the notebook as :func:`helpers.formatting.kpi` records, each with its interval.

    Last campaign (None in planner mode): customers kept and ROI from the A/B effect on
    retention, AUM kept from the ANCOVA-adjusted effect on AUM after; next campaign: the
    plan's net value and ROI with the interval of the segment effects it counts on. A KPI
    whose interval crosses zero is recorded as not significant (never stated as a fact).
    """
    records = []
    roi = kept = kept_aum = (None, None, None)
    if isinstance(value, pd.DataFrame) and len(value):
        kept = _interval_sum(value["incremental_retained"], value["incremental_low"],
                             value["incremental_high"], confidence)  # fmt: skip
        spend = float(value["spend"].sum())
        clv_value = _interval_sum(value["value"], value["incremental_low"] * value["mean_clv"],
                                  value["incremental_high"] * value["mean_clv"], confidence)  # fmt: skip
        if spend > 0:
            roi = tuple((v - spend) / spend for v in clv_value)
    if isinstance(evaluation, pd.DataFrame) and (evaluation["metric"] == "aum_after").any():
        aum = evaluation[evaluation["metric"] == "aum_after"]
        n = aum["n_treated"].to_numpy(float)
        kept_aum = _interval_sum(aum["difference"] * n, aum["ci_low"] * n, aum["ci_high"] * n,
                                 confidence)  # fmt: skip
    spend_next = float(plan["cost"].sum())
    assumed = "uplift_se" not in plan.columns or plan["uplift_se"].isna().all()
    if assumed:
        net = (float(plan["net_value"].sum()), None, None)
    else:
        net = value_interval(plan, confidence)
    next_roi = tuple(None if v is None or spend_next <= 0 else v / spend_next for v in net)
    break_even = float(plan["cost"].sum() / plan["clv"].sum()) if len(plan) else None
    # ROI as a share (-40.5%, as the summary says it), with its interval
    records += [
        kpi("campaign_roi", roi[0], "pct", headline=True, lower=roi[1], upper=roi[2]),
        kpi("rr_kpi_incremental_retained", kept[0], "count", lower=kept[1], upper=kept[2]),
        kpi("rr_kpi_incremental_aum", kept_aum[0], "rmb", lower=kept_aum[1], upper=kept_aum[2]),
        kpi("next_campaign_value", net[0], "rmb", headline=True, lower=net[1], upper=net[2]),
        kpi("rr_kpi_next_roi", next_roi[0], "pct", lower=next_roi[1], upper=next_roi[2]),
        kpi("rr_kpi_next_contacts", int(len(plan)), "count"),
        kpi("rr_kpi_break_even_uplift", break_even, "pp"),
    ]
    return records


def aum_kept_ratio(frame: pd.DataFrame, cap: float = 3.0) -> pd.Series:
    """Share of the pre-campaign AUM still there at the horizon: ``aum_after / aum_before``.

    0 for leavers (``aum_after`` is 0) and for customers with no AUM before; capped at ``cap``.
    Uplift models on this ratio, multiplied back by ``aum_before``, rank the true AUM uplift
    far better than models on raw AUM, whose few very large balances swamp everything (on a
    generated bank: Spearman 0.67 against 0.14 for the rate coupon).
    """
    before = pd.to_numeric(frame["aum_before"], errors="coerce")
    ratio = pd.to_numeric(frame["aum_after"], errors="coerce") / before.where(before > 0)
    return ratio.clip(0, cap).fillna(0.0).rename("aum_kept_ratio")
