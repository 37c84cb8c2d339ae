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
from scipy import optimize, sparse, stats

from helpers.config import margin_rates

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
        size = sample_size_proportions(p_control, effect, alpha, power, ratio)
        rows.append({"effect": effect, **size})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- value
def monthly_margin(
    frame: pd.DataFrame,
    balance_margins: Mapping[str, float] | None = None,
    flow_margins: Mapping[str, float] | None = None,
    aum_margin: float = 0.01,
) -> pd.Series:
    """Monthly margin (RMB) of each customer from balances x annual margin rates / 12.

    Uses the product catalogue's ``balance_margins`` on whichever balance columns the frame
    has (ABT: ``demand_deposit`` ... ``loan_balance``) plus ``card_spend_3m / 3`` x the card
    flow margin. A flat table with only ``aum`` (or ``value``) gets ``aum x aum_margin / 12``.
    """
    default_balance, default_flow = margin_rates()
    balance_margins = dict(balance_margins or default_balance)
    flow_margins = dict(flow_margins or default_flow)
    present = [column for column in balance_margins if column in frame.columns]
    if present:
        monthly = sum(
            frame[column].astype(float).fillna(0.0).clip(lower=0) * balance_margins[column] / 12
            for column in present
        )
        if "card_spend_3m" in frame.columns and "card_spend" in flow_margins:
            spend = frame["card_spend_3m"].astype(float).fillna(0.0) / 3
            monthly = monthly + spend * flow_margins["card_spend"]
        return pd.Series(monthly, index=frame.index, name="monthly_margin")
    for column in ("aum", "value"):
        if column in frame.columns:
            aum = frame[column].astype(float).fillna(0.0).clip(lower=0)
            return pd.Series(aum * aum_margin / 12, index=frame.index, name="monthly_margin")
    raise CampaignDataError(
        "monthly_margin: the table has no balance columns "
        f"({sorted(balance_margins)}) and no 'aum'/'value' column to value customers with"
    )


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


# ----------------------------------------------------------------------------- targeting
def _capacity_limits(
    group: np.ndarray | None, capacity: int | Mapping | None, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Encode capacity groups: (group code per item, remaining slots per code).

    Items whose group is missing (e.g. mass customers with no RM, served by the call centre)
    get their own unconstrained code.
    """
    if capacity is None:
        return np.zeros(n, dtype=np.int64), np.array([np.iinfo(np.int64).max])
    if group is None:
        return np.zeros(n, dtype=np.int64), np.array([int(capacity)])
    labels = pd.Series(group)
    codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    slots = np.array(
        [
            int(capacity.get(u, 0)) if isinstance(capacity, Mapping) else int(capacity)
            for u in uniques
        ]
        + [np.iinfo(np.int64).max],  # the last code collects items without a group
        dtype=np.int64,
    )
    codes = np.where(codes < 0, len(uniques), codes)
    return codes.astype(np.int64), slots


def greedy_targets(
    value: Sequence[float],
    cost: Sequence[float],
    budget: float,
    capacity: int | Mapping | None = None,
    group: Sequence | None = None,
    max_passes: int = 50,
) -> np.ndarray:
    """Choose whom to contact: greedy by net value per unit cost, under budget and capacity.

    Items (customers, each with their chosen offer) with positive net ``value`` are taken in
    decreasing order of ``value / cost``; an item is skipped when it no longer fits the
    remaining budget or its group (RM) is full, and the walk continues. This is the classic
    greedy for the 0/1 knapsack: optimal when costs are equal (then it simply takes the most
    valuable), and in general within one item's value of the optimum (its value is at least
    the LP bound minus the largest single value), but it can be beaten when a high-ratio but
    expensive item crowds out two cheaper ones; see :func:`exact_targets`.

    The walk is vectorised: each pass takes the longest prefix that fits, so the number of
    passes is the number of skips plus one (capped at ``max_passes``; past that the result
    is a slightly conservative greedy).

    Parameters
    ----------
    value : net expected value of contacting each item (RMB).
    cost : total cost of contacting each item (RMB, > 0).
    budget : total spend allowed.
    capacity : max contacts, in total (``group`` None) or per group (int, or mapping
        group -> slots). None = no capacity limit.
    group : capacity group of each item (e.g. ``rm_id``); missing = unconstrained.

    Returns
    -------
    Boolean array: True = contact.
    """
    value = np.asarray(value, dtype=float)
    cost = np.asarray(cost, dtype=float)
    if np.any(cost <= 0):
        raise ValueError("every cost must be positive (a contact always costs something)")
    n = len(value)
    codes, slots_left = _capacity_limits(
        None if group is None else np.asarray(group, dtype=object), capacity, n
    )
    slots_left = slots_left.copy()
    order = np.lexsort((-value, -(value / cost)))  # by ratio, ties by larger value
    value_o, cost_o, codes_o = value[order], cost[order], codes[order]
    chosen_o = np.zeros(n, dtype=bool)
    remaining = float(budget)
    for _ in range(max_passes):
        eligible = (~chosen_o) & (value_o > 0) & (cost_o <= remaining + 1e-9)
        eligible &= slots_left[codes_o] > 0
        if not eligible.any():
            break
        index = np.flatnonzero(eligible)
        # rank of each eligible item within its capacity group, in greedy order
        rank = pd.Series(codes_o[index]).groupby(codes_o[index]).cumcount().to_numpy()
        within_capacity = rank < slots_left[codes_o[index]]
        index = index[within_capacity]
        spend = np.cumsum(cost_o[index])
        fits = spend <= remaining + 1e-9
        # the prefix that fits: stop at the first item that does not
        stop = np.argmin(fits) if not fits.all() else len(fits)
        taken = index[:stop]
        if len(taken) == 0:  # cannot happen (eligible items fit alone); guards the loop
            break
        chosen_o[taken] = True
        remaining -= float(cost_o[taken].sum())
        np.subtract.at(slots_left, codes_o[taken], 1)
        if stop == len(fits):
            break
    chosen = np.zeros(n, dtype=bool)
    chosen[order] = chosen_o
    return chosen


def exact_targets(
    value: Sequence[float],
    cost: Sequence[float],
    budget: float,
    capacity: int | Mapping | None = None,
    group: Sequence | None = None,
    choice: Sequence | None = None,
    relax: bool = False,
    time_limit: float = 60.0,
) -> np.ndarray:
    """Exact targeting by mixed-integer programming (``scipy.optimize.milp``, HiGHS).

    Maximise ``sum(value_i x_i)`` subject to ``sum(cost_i x_i) <= budget``, at most
    ``capacity`` contacts per group, and at most one option per ``choice`` key (pass
    ``choice=customer_id`` with one row per customer x offer to choose the offer too: the
    multiple-choice knapsack). Meant for a capped sample or a branch: HiGHS solves tens of
    thousands of binaries in seconds, but it is not the tool for a million.

    Parameters
    ----------
    relax : solve the LP relaxation (0 <= x <= 1) instead; its objective is an upper bound on
        any selection's value, cheap even when large, and so bounds how far greedy can be from
        the optimum.

    Returns
    -------
    Boolean array (``relax=False``) or the fractional solution (``relax=True``).
    """
    value = np.asarray(value, dtype=float)
    cost = np.asarray(cost, dtype=float)
    n = len(value)
    usable = value > 0  # an item with non-positive value is never worth taking
    rows_blocks = [sparse.csr_matrix(cost.reshape(1, -1))]
    upper = [float(budget)]
    if capacity is not None:
        codes, slots = _capacity_limits(
            None if group is None else np.asarray(group, dtype=object), capacity, n
        )
        constrained = slots[codes] < np.iinfo(np.int64).max
        if constrained.any():
            groups = np.unique(codes[constrained])
            lookup = {g: i for i, g in enumerate(groups)}
            row = np.array([lookup[g] for g in codes[constrained]])
            matrix = sparse.csr_matrix(
                (np.ones(constrained.sum()), (row, np.flatnonzero(constrained))),
                shape=(len(groups), n),
            )
            rows_blocks.append(matrix)
            upper.extend(slots[groups].astype(float))
    if choice is not None:
        keys, _ = pd.factorize(pd.Series(choice))
        matrix = sparse.csr_matrix((np.ones(n), (keys, np.arange(n))), shape=(keys.max() + 1, n))
        rows_blocks.append(matrix)
        upper.extend([1.0] * matrix.shape[0])
    constraints = optimize.LinearConstraint(
        sparse.vstack(rows_blocks).tocsr(), -np.inf, np.array(upper)
    )
    bounds = optimize.Bounds(np.zeros(n), np.where(usable, 1.0, 0.0))
    result = optimize.milp(
        -np.where(usable, value, 0.0),
        constraints=constraints,
        bounds=bounds,
        integrality=np.zeros(n) if relax else np.ones(n),
        options={"time_limit": time_limit, "disp": False},
    )
    if result.x is None:
        raise RuntimeError(f"targeting solver failed: {result.message}")
    if relax:
        return result.x
    return result.x > 0.5


def knapsack_dp(value: Sequence[float], cost: Sequence[int], budget: int) -> np.ndarray:
    """Exact 0/1 knapsack by dynamic programming on integer costs (small problems).

    A transparent reference for :func:`exact_targets` when costs are whole RMB (round them
    first). Time and memory are O(n x budget).

    Returns
    -------
    Boolean array: True = take.
    """
    value = np.asarray(value, dtype=float)
    cost = np.asarray(cost)
    if not np.issubdtype(cost.dtype, np.integer):
        if not np.allclose(cost, np.round(cost)):
            raise ValueError("knapsack_dp needs integer costs; round them to whole units first")
        cost = np.round(cost).astype(np.int64)
    budget = int(budget)
    n = len(value)
    best = np.zeros(budget + 1)
    keep = np.zeros((n, budget + 1), dtype=bool)
    for item in range(n):
        weight = int(cost[item])
        if value[item] <= 0 or weight > budget:
            continue
        # vectorised over capacities: taking the item at capacity b uses best[b - weight]
        candidate = best[: budget + 1 - weight] + value[item]
        improves = candidate > best[weight:] + 1e-12
        keep[item, weight:] = improves
        best[weight:] = np.where(improves, candidate, best[weight:])
    chosen = np.zeros(n, dtype=bool)
    remaining = budget
    for item in range(n - 1, -1, -1):
        if keep[item, remaining]:
            chosen[item] = True
            remaining -= int(cost[item])
    return chosen


def budget_curve(
    gross_value: Sequence[float],
    cost: Sequence[float],
    budgets: Sequence[float],
    capacity: int | Mapping | None = None,
    group: Sequence | None = None,
) -> pd.DataFrame:
    """Expected value and ROI of the greedy plan at each budget.

    Returns
    -------
    DataFrame: ``budget``, ``contacts``, ``spend``, ``expected_gross``, ``expected_net``,
    ``roi`` (net / spend).
    """
    gross = np.asarray(gross_value, dtype=float)
    cost = np.asarray(cost, dtype=float)
    net = gross - cost
    rows = []
    for budget in budgets:
        chosen = greedy_targets(net, cost, budget, capacity, group)
        spend = float(cost[chosen].sum())
        rows.append(
            {
                "budget": float(budget),
                "contacts": int(chosen.sum()),
                "spend": spend,
                "expected_gross": float(gross[chosen].sum()),
                "expected_net": float(net[chosen].sum()),
                "roi": float(net[chosen].sum() / spend) if spend > 0 else np.nan,
            }
        )
    return pd.DataFrame(rows)


def greedy_vs_exact(
    value: Sequence[float],
    cost: Sequence[float],
    budgets: Sequence[float],
    capacity: int | Mapping | None = None,
    group: Sequence | None = None,
    time_limit: float = 20.0,
) -> pd.DataFrame:
    """Greedy, exact (MILP) and LP-bound value at several budgets, with the greedy gap.

    ``gap`` = exact - greedy (RMB) and ``gap_pct`` = gap / exact. ``lp_bound`` bounds the
    optimum from above at any size, so ``lp_bound - greedy`` is a certified worst case even
    where the exact solve is too slow.
    """
    value = np.asarray(value, dtype=float)
    rows = []
    for budget in budgets:
        greedy = greedy_targets(value, cost, budget, capacity, group)
        exact = exact_targets(value, cost, budget, capacity, group, time_limit=time_limit)
        relaxed = exact_targets(value, cost, budget, capacity, group, relax=True)
        greedy_value = float(value[greedy].sum())
        exact_value = float(value[exact].sum())
        rows.append(
            {
                "budget": float(budget),
                "greedy_value": greedy_value,
                "exact_value": exact_value,
                "lp_bound": float(np.dot(np.where(value > 0, value, 0.0), relaxed)),
                "gap": exact_value - greedy_value,
                "gap_pct": (exact_value - greedy_value) / exact_value if exact_value > 0 else 0,
                "same_selection": bool((greedy == exact).all()),
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
