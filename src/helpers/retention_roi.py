"""Retention campaigns: A/B evaluation, sample size, value-weighted ROI, budget targeting.

The questions of notebook ``04_retention_roi``, in order: did the last campaign work
(:func:`evaluate_campaign`, :func:`standardized_mean_differences`), how big must the next one
be (:func:`sample_size_proportions`, :func:`minimum_detectable_effect`), what is a contact
worth (:func:`simple_clv`, :func:`offer_values`, :func:`campaign_roi`,
:func:`break_even_uplift`), whom to contact under a budget and RM capacity
(:func:`greedy_targets`, :func:`exact_targets`, :func:`knapsack_dp`, :func:`budget_curve`) and
how sure we are (:func:`roi_sensitivity`). Uplift models live in :mod:`helpers.uplift`, plots
in :mod:`helpers.retention_plots`.

Conventions: an *arm* is ``"control"`` or an offer name; retention is the positive outcome
(1 = stayed); uplift is P(stay | offer) - P(stay | control), in probability points (0-1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from helpers.retention_targeting import (  # noqa: F401  (re-exported: one import for notebooks)
    budget_curve,
    exact_targets,
    greedy_targets,
    greedy_vs_exact,
    knapsack_dp,
)

CONTROL = "control"
# Contact cost by channel (RMB per contact): a sober default an analyst overrides with the
# bank's own figures (an RM visit costs an hour of salary, an SMS almost nothing).
DEFAULT_CONTACT_COSTS = {"visit": 80.0, "phone": 15.0, "wechat": 3.0, "sms": 0.5}


class CampaignDataError(ValueError):
    """The campaign table cannot be evaluated; the message says which column/rows and why."""


# ----------------------------------------------------------------------------- arms
def campaign_arms(campaigns: pd.DataFrame) -> pd.Series:
    """Arm of each campaign row: ``"control"`` or the offer name.

    Accepts the canonical ``campaigns`` table (``group`` + ``offer``) or a frame that already
    has an ``arm`` or a flat ``treatment`` column.

    Raises
    ------
    CampaignDataError
        When none of those columns exist, or treatment rows carry no offer.
    """
    if "arm" in campaigns.columns:
        return campaigns["arm"].astype(str)
    if "treatment" in campaigns.columns:
        return campaigns["treatment"].astype(str)
    missing = [column for column in ("group", "offer") if column not in campaigns.columns]
    if missing:
        raise CampaignDataError(
            f"campaigns: missing column(s) {missing}; expected 'group' (control/treatment) and "
            "'offer', or a ready-made 'arm' / 'treatment' column"
        )
    group = campaigns["group"].astype(str).str.lower()
    bad_group = ~group.isin(["control", "treatment"])
    if bad_group.any():
        rows = list(campaigns.index[bad_group][:10])
        values = sorted(group[bad_group].unique())[:5]
        raise CampaignDataError(
            f"campaigns.group: values {values} at rows {rows}; expected 'control' or 'treatment'"
        )
    offer = campaigns["offer"].astype("string")
    no_offer = (group == "treatment") & (offer.isna() | offer.isin(["none", ""])).fillna(True)
    if no_offer.any():
        rows = list(campaigns.index[no_offer][:10])
        raise CampaignDataError(
            f"campaigns.offer: treatment rows {rows} have no offer; expected an offer name"
        )
    arm = offer.where(group == "treatment", CONTROL).astype(str)
    arm.name = "arm"
    return arm


def _check_arms(arm: pd.Series, control: str) -> list[str]:
    """Offers present besides the control arm; clear error when a comparison is impossible."""
    counts = arm.value_counts()
    if control not in counts.index:
        raise CampaignDataError(
            f"campaign has no '{control}' rows (arms found: {sorted(counts.index)}); a randomised "
            "control group is needed to measure any effect"
        )
    offers = sorted(a for a in counts.index if a != control)
    if not offers:
        raise CampaignDataError("campaign has only control rows; no offer to evaluate")
    return offers


# ----------------------------------------------------------------------------- loading
def campaign_frame(ds, campaign_id: str = "", churn=None) -> tuple[pd.DataFrame, dict]:
    """Campaign customers with the features they had *before* the campaign.

    Panel mode: the rows of one campaign (``campaign_id``; "" = the latest by assigned date)
    joined to the ABT built as of the assigned month (features up to that month-end only, so
    nothing the offer changed leaks into the model). Flat mode: the flat rows that carry a
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
    from helpers.features import build_abt

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
    abt = build_abt(ds, assigned_month, int(rows["horizon_months"].max()), churn)
    abt = abt.drop(columns=[c for c in abt.columns if c in rows.columns and c != "customer_id"])
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
    artifacts=None,
    horizon: int = 36,
    churn_horizon: int = 6,
    annual_discount_rate: float = 0.05,
) -> tuple[pd.DataFrame, str]:
    """Customer lifetime value and churn risk for the customers active at ``as_of``.

    In order of preference: the survival notebook's ``clv`` artifact in ``artifacts`` (same run,
    same month); else :func:`helpers.clv.customer_clv` (Cox survival model); else the simple
    fallback :func:`simple_clv` with the book's average churn rate.

    Returns
    -------
    (frame, source) : frame with ``customer_id``, ``clv``, ``p_churn_h`` (churn probability
    within ``churn_horizon`` months), ``monthly_margin``; source is ``"artifact"``,
    ``"survival"`` or ``"fallback"``.
    """
    from pathlib import Path

    from helpers import clv as clv_module

    if artifacts is not None:
        path = Path(artifacts) / "clv.parquet"
        if path.exists():
            table = pd.read_parquet(path)
            if {"customer_id", "clv", "p_churn_h"} <= set(table.columns):
                table["customer_id"] = table["customer_id"].astype(str)
                return table, "artifact"
    try:
        return clv_module.customer_clv(
            ds, as_of, horizon, churn_horizon, annual_discount_rate=annual_discount_rate
        ), "survival"
    except (ValueError, KeyError, RuntimeError, ArithmeticError):
        # e.g. too little history before as_of to train the survival model
        from helpers.features import build_abt

        abt = build_abt(ds, as_of) if ds.mode == "panel" else build_abt(ds)
        if ds.mode == "flat" and "event" in abt.columns:
            abt = abt[~abt["event"].astype(bool)]
        margin = clv_module.monthly_margin(abt)
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


# ----------------------------------------------------------------------------- intervals
def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (good coverage even near 0 or 1)."""
    if n <= 0:
        return (np.nan, np.nan)
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denominator
    half = z / denominator * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return (centre - half, centre + half)


def proportion_difference(
    successes_treated: float,
    n_treated: float,
    successes_control: float,
    n_control: float,
    confidence: float = 0.95,
    method: str = "newcombe",
) -> dict:
    """Difference of two proportions (treated - control) with a confidence interval and test.

    Parameters
    ----------
    successes_treated, n_treated, successes_control, n_control : counts.
    confidence : two-sided level of the interval.
    method : ``"newcombe"`` (hybrid Wilson score interval, Newcombe 1998 method 10; the
        default because the Wald interval under-covers for rates near 0 or 1) or ``"wald"``.

    Returns
    -------
    dict with ``rate_treated``, ``rate_control``, ``difference``, ``ci_low``, ``ci_high``,
    ``z`` and ``p_value`` (two-sided pooled two-proportion z-test).
    """
    if min(n_treated, n_control) <= 0:
        raise CampaignDataError("proportion_difference: each arm needs at least one customer")
    p1, p2 = successes_treated / n_treated, successes_control / n_control
    difference = p1 - p2
    z_crit = stats.norm.ppf(0.5 + confidence / 2)
    if method == "wald":
        se = np.sqrt(p1 * (1 - p1) / n_treated + p2 * (1 - p2) / n_control)
        low, high = difference - z_crit * se, difference + z_crit * se
    elif method == "newcombe":
        l1, u1 = wilson_interval(successes_treated, n_treated, confidence)
        l2, u2 = wilson_interval(successes_control, n_control, confidence)
        low = difference - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        high = difference + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    else:
        raise ValueError(f"method must be 'newcombe' or 'wald', not {method!r}")
    pooled = (successes_treated + successes_control) / (n_treated + n_control)
    se_pooled = np.sqrt(pooled * (1 - pooled) * (1 / n_treated + 1 / n_control))
    z = difference / se_pooled if se_pooled > 0 else 0.0
    return {
        "rate_treated": p1,
        "rate_control": p2,
        "difference": difference,
        "ci_low": float(low),
        "ci_high": float(high),
        "z": float(z),
        "p_value": float(2 * stats.norm.sf(abs(z))),
    }


def welch_difference(treated: Sequence[float], control: Sequence[float], confidence=0.95) -> dict:
    """Difference of means (treated - control) with Welch's t interval and test.

    Welch's test does not assume equal variances, which matters for AUM: the offer arms and the
    control rarely have the same spread.

    Returns
    -------
    dict with ``mean_treated``, ``mean_control``, ``difference``, ``ci_low``, ``ci_high``,
    ``t``, ``df`` and ``p_value``.
    """
    x = np.asarray(treated, dtype=float)
    y = np.asarray(control, dtype=float)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if len(x) < 2 or len(y) < 2:
        raise CampaignDataError("welch_difference: each arm needs at least two non-missing values")
    var_x, var_y = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = np.sqrt(var_x + var_y)
    difference = x.mean() - y.mean()
    # Welch-Satterthwaite degrees of freedom.
    df = (var_x + var_y) ** 2 / (var_x**2 / (len(x) - 1) + var_y**2 / (len(y) - 1))
    t_crit = stats.t.ppf(0.5 + confidence / 2, df)
    t_stat = difference / se if se > 0 else 0.0
    return {
        "mean_treated": float(x.mean()),
        "mean_control": float(y.mean()),
        "difference": float(difference),
        "ci_low": float(difference - t_crit * se),
        "ci_high": float(difference + t_crit * se),
        "t": float(t_stat),
        "df": float(df),
        "p_value": float(2 * stats.t.sf(abs(t_stat), df)),
    }


def evaluate_campaign(
    frame: pd.DataFrame,
    binary: Sequence[str] = ("retained",),
    continuous: Sequence[str] = ("aum_after",),
    control: str = CONTROL,
    confidence: float = 0.95,
    method: str = "newcombe",
) -> pd.DataFrame:
    """Each offer against control on every outcome: rates/means, difference, CI, p-value.

    Parameters
    ----------
    frame : campaign rows with an arm (see :func:`campaign_arms`) and the outcome columns.
    binary : 0/1 outcomes compared as proportions (:func:`proportion_difference`).
    continuous : amounts compared as means with Welch's test (:func:`welch_difference`).
    control : name of the control arm.

    Returns
    -------
    DataFrame with one row per (metric, offer): ``metric``, ``offer``, ``n_treated``,
    ``n_control``, ``treated``, ``control``, ``difference``, ``ci_low``, ``ci_high``,
    ``p_value``, ``test``.
    """
    arm = campaign_arms(frame)
    offers = _check_arms(arm, control)
    missing = [c for c in [*binary, *continuous] if c not in frame.columns]
    if missing:
        raise CampaignDataError(f"campaigns: outcome column(s) {missing} not found")
    rows = []
    is_control = (arm == control).to_numpy()
    for metric in binary:
        outcome = frame[metric]
        if outcome.isna().any():
            bad = list(frame.index[outcome.isna()][:10])
            raise CampaignDataError(f"campaigns.{metric}: missing outcome at rows {bad}")
        values = outcome.astype(float).to_numpy()
        if not np.isin(values, [0.0, 1.0]).all():
            raise CampaignDataError(f"campaigns.{metric}: expected 0/1 or True/False values")
        for offer in offers:
            treated = (arm == offer).to_numpy()
            result = proportion_difference(
                values[treated].sum(),
                treated.sum(),
                values[is_control].sum(),
                is_control.sum(),
                confidence,
                method,
            )
            rows.append(
                {
                    "metric": metric,
                    "offer": offer,
                    "n_treated": int(treated.sum()),
                    "n_control": int(is_control.sum()),
                    "treated": result["rate_treated"],
                    "control": result["rate_control"],
                    "difference": result["difference"],
                    "ci_low": result["ci_low"],
                    "ci_high": result["ci_high"],
                    "p_value": result["p_value"],
                    "test": f"{method} / z",
                }
            )
    for metric in continuous:
        values = pd.to_numeric(frame[metric], errors="coerce").to_numpy(dtype=float)
        for offer in offers:
            treated = (arm == offer).to_numpy()
            result = welch_difference(values[treated], values[is_control], confidence)
            rows.append(
                {
                    "metric": metric,
                    "offer": offer,
                    "n_treated": int(treated.sum()),
                    "n_control": int(is_control.sum()),
                    "treated": result["mean_treated"],
                    "control": result["mean_control"],
                    "difference": result["difference"],
                    "ci_low": result["ci_low"],
                    "ci_high": result["ci_high"],
                    "p_value": result["p_value"],
                    "test": "welch t",
                }
            )
    return pd.DataFrame(rows)


def standardized_mean_differences(
    frame: pd.DataFrame,
    covariates: Sequence[str],
    arm: pd.Series | str = "arm",
    control: str = CONTROL,
) -> pd.DataFrame:
    """Covariate balance: standardised mean difference of each covariate, offer vs control.

    SMD = (mean_offer - mean_control) / sqrt((var_offer + var_control) / 2). Booleans are
    treated as 0/1; text columns are expanded to one indicator per level. With randomisation
    |SMD| should be small; |SMD| > 0.1 is the usual flag for imbalance worth adjusting for.

    Returns
    -------
    DataFrame with ``covariate``, ``offer``, ``mean_treated``, ``mean_control``, ``smd``.
    """
    arms = frame[arm] if isinstance(arm, str) else pd.Series(arm, index=frame.index)
    offers = _check_arms(arms.astype(str), control)
    missing = [c for c in covariates if c not in frame.columns]
    if missing:
        raise CampaignDataError(f"balance check: covariate column(s) {missing} not found")
    columns = {}
    for name in covariates:
        series = frame[name]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            columns[name] = series.astype(float)
        else:
            for level, indicator in pd.get_dummies(series.astype("string"), dtype=float).items():
                columns[f"{name}={level}"] = indicator
    matrix = pd.DataFrame(columns, index=frame.index)
    is_control = (arms == control).to_numpy()
    mean_control = matrix[is_control].mean()
    var_control = matrix[is_control].var(ddof=1)
    rows = []
    for offer in offers:
        treated = (arms == offer).to_numpy()
        mean_treated = matrix[treated].mean()
        pooled = np.sqrt((matrix[treated].var(ddof=1) + var_control) / 2)
        smd = (mean_treated - mean_control) / pooled.replace(0, np.nan)
        rows.append(
            pd.DataFrame(
                {
                    "covariate": matrix.columns,
                    "offer": offer,
                    "mean_treated": mean_treated.to_numpy(),
                    "mean_control": mean_control.to_numpy(),
                    "smd": smd.fillna(0.0).to_numpy(),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


# ----------------------------------------------------------------------------- sample size
def _z_sum(alpha: float, power: float) -> float:
    return stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)


def sample_size_proportions(
    p_control: float, effect: float, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0
) -> dict:
    """Customers per arm needed to detect a retention uplift of ``effect`` points.

    Closed form with unpooled variances (the same variance the Wald interval uses):
    ``n_control = (z_{1-alpha/2} + z_{power})^2 * (p_c q_c + p_t q_t / ratio) / effect^2`` and
    ``n_treated = ratio * n_control``, rounded up.

    Parameters
    ----------
    p_control : expected retention rate without the offer.
    effect : uplift to detect, p_treated - p_control (may be negative).
    ratio : treated customers per control customer (e.g. 4 for a 80/20 split).
    """
    p_treated = p_control + effect
    if not (0 < p_control < 1 and 0 < p_treated < 1):
        raise ValueError("p_control and p_control + effect must both lie strictly in (0, 1)")
    if effect == 0:
        raise ValueError("effect must be non-zero")
    variance = p_control * (1 - p_control) + p_treated * (1 - p_treated) / ratio
    n_control = int(np.ceil(_z_sum(alpha, power) ** 2 * variance / effect**2))
    n_treated = int(np.ceil(ratio * n_control))
    return {"n_control": n_control, "n_treated": n_treated, "n_total": n_control + n_treated}


def minimum_detectable_effect(
    n_treated: int, n_control: int, p_control: float, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest positive retention uplift a campaign of this size detects with ``power``.

    Solves ``effect = (z_{1-alpha/2} + z_{power}) * sqrt(p_c q_c / n_c + p_t q_t / n_t)`` for
    ``p_t = p_c + effect`` (the variance depends on the effect, hence a root-finder); the
    inverse of :func:`sample_size_proportions`.
    """
    if min(n_treated, n_control) <= 0:
        raise ValueError("both arms need customers")
    z = _z_sum(alpha, power)

    def gap(effect: float) -> float:
        p_t = p_control + effect
        return effect - z * np.sqrt(
            p_control * (1 - p_control) / n_control + p_t * (1 - p_t) / n_treated
        )

    upper = 1 - p_control - 1e-12
    if gap(upper) < 0:
        return float("nan")  # even the largest possible uplift is not detectable
    return float(optimize.brentq(gap, 1e-12, upper))


def minimum_detectable_difference_means(
    n_treated: int, n_control: int, std: float, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest difference in means (e.g. AUM kept, RMB) detectable with ``power``.

    ``(z_{1-alpha/2} + z_{power}) * std * sqrt(1/n_t + 1/n_c)`` (normal approximation).
    """
    return float(_z_sum(alpha, power) * std * np.sqrt(1 / n_treated + 1 / n_control))


def power_table(
    p_control: float,
    effects: Sequence[float],
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
) -> pd.DataFrame:
    """Sample size per arm for several effect sizes (the planning table for the next campaign)."""
    rows = []
    for effect in effects:
        if not 0 < p_control + effect < 1 or effect == 0:
            continue  # an effect that would push retention past 100% cannot be planned for
        size = sample_size_proportions(p_control, effect, alpha, power, ratio)
        rows.append({"effect": effect, **size})
    return pd.DataFrame(rows)


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


# ----------------------------------------------------------------------------- notebook steps
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
    if learner not in {"t", "x"}:
        raise ValueError(f"learner must be 't' (T-learner) or 'x' (X-learner), not {learner!r}")
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
    ds, month: str | None, clv_table: pd.DataFrame, share: float = 0.3, churn=None
) -> pd.DataFrame:
    """Customers to consider for the next campaign: the ``share`` at highest churn risk.

    The uplift models learn from the last campaign, which (like most retention campaigns)
    contacted the customers at highest risk; scoring far outside that population would be
    extrapolation, so candidates are chosen the same way. Panel: ABT at ``month``; flat: the
    customers who have not churned.
    """
    from helpers.features import build_abt

    abt = build_abt(ds, month, churn=churn) if ds.mode == "panel" else build_abt(ds)
    if ds.mode == "flat" and "event" in abt.columns:
        abt = abt[~abt["event"].astype(bool)]
    candidates = attach_value(abt, clv_table)
    keep = int(np.ceil(share * len(candidates)))
    order = np.argsort(-candidates["p_churn_h"].to_numpy(), kind="stable")[:keep]
    return candidates.iloc[order].reset_index(drop=True)


def offer_mix(best: pd.DataFrame) -> pd.DataFrame:
    """How many customers each recommendation covers, with mean uplift and value."""
    table = best.groupby("best_offer").agg(
        customers=("customer_id", "size"),
        uplift=("uplift", "mean"),
        clv=("clv", "mean"),
        net_value=("net_value", "sum"),
    )
    return table.reset_index().rename(columns={"best_offer": "offer"})


def budget_grid(budget: float, best: pd.DataFrame | None = None, steps: int = 8) -> np.ndarray:
    """Budgets for the value-by-budget curve.

    Up to twice ``budget``, but no further than what contacting every recommended option
    would cost (``best``; beyond that more budget buys nothing), in ``steps`` even steps.
    """
    upper = 2.0 * max(float(budget), 1.0)
    if best is not None and "recommended" in best.columns:
        needed = float(best.loc[best["recommended"], "cost"].sum()) * 1.1
        if needed > 0:
            upper = min(upper, needed)
    return np.linspace(upper / steps, upper, steps)


def capacity_arguments(rows: pd.DataFrame, rm_capacity: int, group: str = "rm_id"):
    """``(capacity, group)`` for the targeting functions: per-RM limit, or none.

    ``rm_capacity`` <= 0, or no ``rm_id`` column (a flat table), means no capacity limit.
    """
    if rm_capacity and rm_capacity > 0 and group in rows.columns and rows[group].notna().any():
        return int(rm_capacity), rows[group].to_numpy(dtype=object)
    return None, None


def select_plan(best: pd.DataFrame, budget: float, rm_capacity: int = 0) -> pd.DataFrame:
    """Greedy plan for the recommended options: rows of ``best`` to contact, best first.

    ``rm_capacity`` > 0 limits contacts per RM (customers without an RM, served by the call
    centre, are not limited); 0 means no capacity limit.
    """
    plan = best[best["recommended"]].reset_index(drop=True)
    capacity, groups = capacity_arguments(plan, rm_capacity)
    chosen = greedy_targets(plan["net_value"], plan["cost"], budget, capacity, groups)
    return plan[chosen].sort_values("net_value", ascending=False, ignore_index=True)


def plan_budget_curve(best: pd.DataFrame, budgets, rm_capacity: int = 0) -> pd.DataFrame:
    """:func:`budget_curve` of the recommended options under the same RM capacity."""
    plan = best[best["recommended"]].reset_index(drop=True)
    capacity, groups = capacity_arguments(plan, rm_capacity)
    return budget_curve(plan["gross_value"], plan["cost"], budgets, capacity, groups)


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


def retention_kpis(
    value: pd.DataFrame | None,
    evaluation: pd.DataFrame | None,
    plan: pd.DataFrame,
    contact_cost: float,
) -> dict:
    """KPIs of the notebook, as ``ctx.save_kpis`` records (last campaign and next plan).

    The last campaign's KPIs are None in planner mode (no campaign measured).
    """
    campaign_roi_value = kept = kept_aum = None
    if value is not None and len(value):
        spend = value["spend"].sum()
        campaign_roi_value = float((value["value"].sum() - spend) / spend) if spend > 0 else None
        kept = float(value["incremental_retained"].sum())
    if evaluation is not None and (evaluation["metric"] == "aum_after").any():
        aum = evaluation[evaluation["metric"] == "aum_after"]
        kept_aum = float((aum["difference"] * aum["n_treated"]).sum())
    spend_next = float(plan["cost"].sum())
    net_next = float(plan["net_value"].sum())
    return {
        "rr_kpi_campaign_roi": {"value": campaign_roi_value, "unit": "ratio", "headline": True},
        "rr_kpi_incremental_retained": {"value": kept, "unit": "count", "headline": True},
        "rr_kpi_incremental_aum": {"value": kept_aum, "unit": "rmb"},
        "rr_kpi_next_value": {"value": net_next, "unit": "rmb", "headline": True},
        "rr_kpi_next_roi": {
            "value": net_next / spend_next if spend_next > 0 else None,
            "unit": "ratio",
        },
        "rr_kpi_next_contacts": {"value": int(len(plan)), "unit": "count"},
        "rr_kpi_break_even_uplift": {
            "value": break_even_uplift(plan["clv"], plan["cost"]) if len(plan) else None,
            "unit": "pct",
        },
    }
