"""Campaign A/B evaluation: effects with confidence intervals, balance, sample size.

Each offer of a randomised retention campaign is compared with its control group: retention
as a difference of proportions (Newcombe / Wald intervals, pooled z-test), amounts such as
AUM kept with Welch's t (:func:`evaluate_campaign`); covariate balance as standardised mean
differences (:func:`standardized_mean_differences`); the size of the next test
(:func:`sample_size_proportions`, :func:`minimum_detectable_effect`). Closed forms only (no
statsmodels), checked by hand in ``tests/test_retention_roi.py``. Re-exported by
:mod:`helpers.retention.roi`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

CONTROL = "control"


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


def ancova_difference(
    treated_outcome: Sequence[float],
    treated_covariate: Sequence[float],
    control_outcome: Sequence[float],
    control_covariate: Sequence[float],
    confidence: float = 0.95,
) -> dict:
    """Treated - control difference in means adjusted for a pre-period covariate (ANCOVA).

    OLS of ``y = a + d x treated + b x (covariate - its mean)`` with heteroskedasticity-robust
    (HC1) standard errors: the adjustment removes the part of the outcome the pre-period
    balance already explains (CUPED is the same estimator with b fitted on the pooled data), so
    chance imbalance in the pre-period balance no longer masquerades as an effect, and the
    interval narrows when the covariate predicts the outcome. Randomisation keeps ``d``
    unbiased whatever the outcome model.

    Returns
    -------
    dict with ``mean_treated``, ``mean_control`` (raw), ``difference`` (adjusted), ``se``,
    ``ci_low``, ``ci_high``, ``t``, ``df``, ``p_value``, ``slope``.
    """
    y_t = np.asarray(treated_outcome, dtype=float)
    y_c = np.asarray(control_outcome, dtype=float)
    x_t = np.asarray(treated_covariate, dtype=float)
    x_c = np.asarray(control_covariate, dtype=float)
    y = np.concatenate([y_t, y_c])
    x = np.concatenate([x_t, x_c])
    d = np.concatenate([np.ones(len(y_t)), np.zeros(len(y_c))])
    usable = ~(np.isnan(y) | np.isnan(x))
    y, x, d = y[usable], x[usable], d[usable]
    if min(d.sum(), (1 - d).sum()) < 2:
        raise CampaignDataError("ancova_difference: each arm needs at least two complete rows")
    design = np.column_stack([np.ones(len(y)), d, x - x.mean()])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ beta
    n, k = design.shape
    bread = np.linalg.pinv(design.T @ design)
    meat = (design * residual[:, None] ** 2).T @ design
    covariance = bread @ meat @ bread * n / (n - k)
    se = float(np.sqrt(covariance[1, 1]))
    df = n - k
    t_crit = stats.t.ppf(0.5 + confidence / 2, df)
    t_stat = beta[1] / se if se > 0 else 0.0
    return {
        "mean_treated": float(np.nanmean(y_t)),
        "mean_control": float(np.nanmean(y_c)),
        "difference": float(beta[1]),
        "se": se,
        "ci_low": float(beta[1] - t_crit * se),
        "ci_high": float(beta[1] + t_crit * se),
        "t": float(t_stat),
        "df": float(df),
        "p_value": float(2 * stats.t.sf(abs(t_stat), df)),
        "slope": float(beta[2]),
    }


def evaluate_campaign(
    frame: pd.DataFrame,
    binary: Sequence[str] = ("retained",),
    continuous: Sequence[str] = ("aum_after",),
    control: str = CONTROL,
    confidence: float = 0.95,
    method: str = "newcombe",
    adjust: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Each offer against control on every outcome: rates/means, difference, CI, p-value.

    Parameters
    ----------
    frame : campaign rows with an arm (see :func:`campaign_arms`) and the outcome columns.
    binary : 0/1 outcomes compared as proportions (:func:`proportion_difference`).
    continuous : amounts compared as means with Welch's test (:func:`welch_difference`).
    control : name of the control arm.
    adjust : ``{outcome: pre-period covariate}``, e.g. ``{"aum_after": "aum_before"}``: that
        outcome's row is the ANCOVA-adjusted difference (:func:`ancova_difference`, test
        ``"ancova (<covariate>)"``) and the unadjusted Welch row follows as
        ``<outcome>_unadjusted``. Default: ``aum_after`` on ``aum_before`` when the frame has
        both.

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
    if adjust is None:
        adjust = {"aum_after": "aum_before"} if "aum_before" in frame.columns else {}
    for metric in continuous:
        values = pd.to_numeric(frame[metric], errors="coerce").to_numpy(dtype=float)
        covariate_name = adjust.get(metric)
        for offer in offers:
            treated = (arm == offer).to_numpy()
            if covariate_name is not None:
                covariate = pd.to_numeric(frame[covariate_name], errors="coerce").to_numpy(float)
                adjusted = ancova_difference(
                    values[treated], covariate[treated], values[is_control],
                    covariate[is_control], confidence,
                )  # fmt: skip
                rows.append(
                    {
                        "metric": metric,
                        "offer": offer,
                        "n_treated": int(treated.sum()),
                        "n_control": int(is_control.sum()),
                        "treated": adjusted["mean_treated"],
                        "control": adjusted["mean_control"],
                        "difference": adjusted["difference"],
                        "ci_low": adjusted["ci_low"],
                        "ci_high": adjusted["ci_high"],
                        "p_value": adjusted["p_value"],
                        "test": f"ancova ({covariate_name})",
                    }
                )
            result = welch_difference(values[treated], values[is_control], confidence)
            rows.append(
                {
                    "metric": metric if covariate_name is None else f"{metric}_unadjusted",
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
    # Same columns when no effect can be planned (retention already near 100%).
    return pd.DataFrame(rows, columns=["effect", "n_control", "n_treated", "n_total"])
