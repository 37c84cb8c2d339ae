"""Uplift for planning, from the campaign's A/B outcomes per segment (with intervals).

Whatever ranks the candidates, the uplift a plan *counts on* is measured: each candidate gets
the effect the campaign measured in the segment of its customers like them.

- When the uplift model passed its held-out check (:mod:`helpers.retention.evidence`) for an
  offer, the segments are bands of the model's score (quintiles of the out-of-fold scores):
  the model ranks, the campaign's outcomes in each band say how much.
- Otherwise the segments are the offer's reachable customers by tier: the plan then rests on
  the A/B effect per offer and segment, and says so.

The effect counted on is the segment's *relative* reduction of churn, applied to each
candidate's own churn risk (a retention offer saves a share of the customers who would leave;
safer customers have less to save), and shrunk towards the offer's pooled effect by a
random-effects model, which keeps a plan from chasing the luckiest segment of the campaign.
Intervals: Newcombe's for the retention difference, the log relative risk's for the relative
reduction; the shrunk value carries its posterior standard deviation.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from helpers.retention.ab import CONTROL, proportion_difference

#: Score bands of a model-ranked offer.
SCORE_BANDS = 5


def horizon_risk(p_churn, churn_horizon: int, horizon: int) -> np.ndarray:
    """P(churn within ``horizon`` months) from P(churn within ``churn_horizon`` months).

    A constant monthly hazard over both: ``1 - (1 - p) ** (horizon / churn_horizon)``.
    """
    p = np.clip(np.asarray(p_churn, dtype=float), 0.0, 1.0 - 1e-9)
    return 1.0 - (1.0 - p) ** (float(horizon) / float(churn_horizon))


def segment_effects(
    frame: pd.DataFrame,
    offer: str,
    segment: pd.Series,
    confidence: float = 0.95,
    control: str = CONTROL,
    min_per_arm: int = 5,
) -> pd.DataFrame:
    """A/B effect of ``offer`` in each segment: on retention, and on churn as a relative risk.

    The retention difference (``effect``, Newcombe interval) is what the campaign measured;
    the plan counts on the *relative* reduction of churn, ``rrr = 1 - churn_offer /
    churn_control`` (interval from the log relative risk), because a customer's absolute uplift
    scales with their own risk: the same offer saves more of the customers likelier to leave,
    and a plan that picks valuable (so usually safer) customers would otherwise be promised
    the average customer's uplift.

    Parameters
    ----------
    frame : campaign rows with ``arm`` and ``retained``.
    segment : segment label per row (NaN: outside every segment, e.g. out of the offer's reach).

    Returns
    -------
    DataFrame, one row per segment: ``offer``, ``segment``, ``n_treated``, ``n_control``,
    ``churn_treated``, ``churn_control``, ``effect``, ``ci_low``, ``ci_high``, ``rrr``,
    ``rrr_low``, ``rrr_high``, ``shrunk`` (relative reduction used for planning, shrunk towards
    the offer's pooled one), ``shrunk_se``, ``pooled``. A segment with fewer than
    ``min_per_arm`` customers in an arm takes the pooled value.
    """
    rows = frame["arm"].isin([offer, control]) & segment.notna()
    data = pd.DataFrame(
        {
            "segment": segment[rows].astype(str),
            "treated": (frame.loc[rows, "arm"] == offer).to_numpy(),
            "y": frame.loc[rows, "retained"].astype(float).to_numpy(),
        }
    )
    z = stats.norm.ppf(0.5 + confidence / 2)
    table = []
    for label, part in data.groupby("segment", sort=True):
        table.append(_one_segment(offer, label, part, confidence, z, min_per_arm))
    columns = ["offer", "segment", "n_treated", "n_control", "churn_treated", "churn_control",
               "effect", "ci_low", "ci_high", "rrr", "rrr_low", "rrr_high", "log_rr",
               "se_log_rr"]  # fmt: skip
    table = pd.DataFrame(table, columns=columns)
    pooled = _one_segment(offer, "all", data, confidence, z, 1)
    return _shrink(table, pooled["log_rr"], pooled["se_log_rr"]).assign(pooled=pooled["rrr"])


def _one_segment(offer, label, part, confidence, z, min_per_arm) -> dict:
    n_t, n_c = int(part["treated"].sum()), int((~part["treated"]).sum())
    kept_t, kept_c = part.loc[part["treated"], "y"].sum(), part.loc[~part["treated"], "y"].sum()
    row = {"offer": offer, "segment": label, "n_treated": n_t, "n_control": n_c}
    if min(n_t, n_c) < min_per_arm:
        return row | dict.fromkeys(["churn_treated", "churn_control", "effect", "ci_low",
                                    "ci_high", "rrr", "rrr_low", "rrr_high", "log_rr",
                                    "se_log_rr"], np.nan)  # fmt: skip
    result = proportion_difference(kept_t, n_t, kept_c, n_c, confidence)
    # churners with a continuity correction of one half (an arm where nobody left)
    lost_t, lost_c = n_t - kept_t + 0.5, n_c - kept_c + 0.5
    log_rr = float(np.log((lost_t / (n_t + 0.5)) / (lost_c / (n_c + 0.5))))
    se = float(np.sqrt(1 / lost_t - 1 / (n_t + 0.5) + 1 / lost_c - 1 / (n_c + 0.5)))
    return row | {
        "churn_treated": 1 - kept_t / n_t,
        "churn_control": 1 - kept_c / n_c,
        "effect": result["difference"],
        "ci_low": result["ci_low"],
        "ci_high": result["ci_high"],
        "rrr": 1 - np.exp(log_rr),
        "rrr_low": 1 - np.exp(log_rr + z * se),
        "rrr_high": 1 - np.exp(log_rr - z * se),
        "log_rr": log_rr,
        "se_log_rr": se,
    }


def _shrink(table: pd.DataFrame, pooled: float, pooled_se: float) -> pd.DataFrame:
    """Random-effects shrinkage of the log relative risks towards the pooled one.

    log RR_s ~ N(mu, tau^2), estimate_s ~ N(log RR_s, se_s^2); tau^2 by DerSimonian and Laird
    (between-segment variance beyond sampling noise, each segment weighted by its precision,
    so a tiny segment with a huge standard error cannot hide real differences between the big
    ones); weight_s = tau^2 / (tau^2 + se_s^2). With tau^2 = 0 every segment gets the pooled
    value (no differences beyond noise). ``shrunk`` and ``shrunk_se`` are on the relative
    reduction's scale (1 - RR, delta method).
    """
    usable = table["log_rr"].notna() & (table["se_log_rr"] > 0)
    estimates, se = table.loc[usable, "log_rr"], table.loc[usable, "se_log_rr"]
    tau2 = 0.0
    if usable.sum() > 1:
        w = 1 / se**2
        mean = float((w * estimates).sum() / w.sum())
        q = float((w * (estimates - mean) ** 2).sum())
        denominator = float(w.sum() - (w**2).sum() / w.sum())
        tau2 = max((q - (usable.sum() - 1)) / denominator, 0.0) if denominator > 0 else 0.0
    weight = (tau2 / (tau2 + table["se_log_rr"] ** 2)).fillna(0.0) if tau2 > 0 else 0.0
    weight = pd.Series(weight, index=table.index, dtype=float)
    log_rr = weight * table["log_rr"].fillna(pooled) + (1 - weight) * pooled
    se_log = np.sqrt(
        weight * table["se_log_rr"].fillna(0.0) ** 2 + (1 - weight) ** 2 * pooled_se**2
    )
    return table.assign(shrunk=1 - np.exp(log_rr), shrunk_se=np.exp(log_rr) * se_log, weight=weight)


def score_bands(scores: np.ndarray, bands: int = SCORE_BANDS) -> np.ndarray:
    """Inner edges of ``bands`` equal-count bands of ``scores`` (for :func:`band_of`)."""
    quantiles = np.linspace(0, 1, bands + 1)[1:-1]
    return np.unique(np.quantile(np.asarray(scores, dtype=float), quantiles))


def band_of(scores, edges: np.ndarray) -> np.ndarray:
    """Band label ``"B1"`` (lowest score) .. ``"Bk"`` of each score."""
    return np.char.add("B", (np.searchsorted(edges, np.asarray(scores, float)) + 1).astype(str))


def planning_uplift(
    candidates: pd.DataFrame,
    campaign: pd.DataFrame,
    offers,
    reach_candidates: pd.DataFrame,
    reach_campaign: pd.DataFrame,
    candidate_risk: np.ndarray,
    campaign_risk: np.ndarray,
    evidence: pd.DataFrame | None = None,
    oof_scores: Mapping[str, np.ndarray] | None = None,
    candidate_scores: Mapping[str, np.ndarray] | None = None,
    confidence: float = 0.95,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Uplift per (candidate, offer) the plan counts on, and the segment table behind it.

    ``uplift_i = rrr_s x kappa x risk_i``: the relative churn reduction of the candidate's
    segment (:func:`segment_effects`, shrunk), times the candidate's churn probability over the
    campaign's horizon (``candidate_risk``), times ``kappa`` = the campaign's observed control
    churn over its customers' predicted churn (``campaign_risk``), which calibrates the churn
    model to what the control group actually did.

    Parameters
    ----------
    candidates, campaign : the next campaign's candidates and the last campaign's rows (with
        ``arm``, ``retained``; ``tier`` for the A/B segments).
    reach_candidates, reach_campaign : :func:`helpers.retention.offers.reach_matrix` of each.
    candidate_risk, campaign_risk : P(churn within the campaign's horizon) per row.
    evidence : :func:`helpers.retention.evidence.uplift_evidence`; offers whose ``uses_model``
        is true are segmented by bands of ``oof_scores[offer]`` (campaign) and
        ``candidate_scores[offer]`` (candidates); the others by tier.

    Returns
    -------
    (uplift, segments)
        ``uplift``: one column per offer (NaN where the offer cannot reach the customer),
        indexed by ``customer_id``, with ``attrs["se"]`` the matching standard errors and
        ``attrs["segment"]`` the segment labels. ``segments``: :func:`segment_effects` rows
        with ``basis`` (``"model"`` or ``"ab"``) and ``kappa``.
    """
    uses_model = {}
    if evidence is not None and len(evidence):
        uses_model = dict(zip(evidence["offer"], evidence["uses_model"], strict=True))
    candidate_risk = np.asarray(candidate_risk, dtype=float)
    campaign_risk = np.asarray(campaign_risk, dtype=float)
    control = (campaign["arm"] == CONTROL).to_numpy()
    uplift, se, labels, tables = {}, {}, {}, []
    for offer in offers:
        reach_c = reach_campaign[offer].to_numpy(bool)
        reach_n = reach_candidates[offer].to_numpy(bool)
        if uses_model.get(offer) and oof_scores is not None and candidate_scores is not None:
            own = campaign["arm"].isin([offer, CONTROL]).to_numpy() & reach_c
            edges = score_bands(np.asarray(oof_scores[offer])[own])
            campaign_segment = band_of(oof_scores[offer], edges)
            candidate_segment = band_of(candidate_scores[offer], edges)
            basis = "model"
        else:
            campaign_segment = campaign["tier"].astype(str).to_numpy()
            candidate_segment = candidates["tier"].astype(str).to_numpy()
            basis = "ab"
        segment = pd.Series(np.where(reach_c, campaign_segment, None), index=campaign.index)
        table = segment_effects(campaign, offer, segment, confidence)
        observed = 1 - campaign.loc[control & reach_c, "retained"].astype(float).mean()
        predicted = campaign_risk[control & reach_c].mean()
        kappa = float(observed / predicted) if predicted > 0 and observed == observed else 1.0
        table = table.assign(basis=basis, kappa=kappa)
        lookup = table.set_index("segment")
        pooled = float(table["pooled"].iloc[0])
        pooled_se = float(lookup["shrunk_se"].max()) if len(lookup) else np.nan
        rrr = pd.Series(candidate_segment).map(lookup["shrunk"]).fillna(pooled).to_numpy()
        error = pd.Series(candidate_segment).map(lookup["shrunk_se"]).fillna(pooled_se).to_numpy()
        scale = kappa * candidate_risk
        uplift[offer] = np.where(reach_n, rrr * scale, np.nan)
        se[offer] = np.where(reach_n, error * scale, np.nan)
        labels[offer] = np.where(reach_n, candidate_segment, None)
        tables.append(table)
    index = pd.Index(candidates["customer_id"].astype(str), name="customer_id")
    result = pd.DataFrame(uplift, index=index)
    result.attrs["se"] = pd.DataFrame(se, index=index)
    result.attrs["segment"] = pd.DataFrame(labels, index=index)
    segments = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return result, segments


def value_interval(plan: pd.DataFrame, confidence: float = 0.95) -> tuple[float, float, float]:
    """Net value of a plan with an interval from the uncertainty of the effects it counts on.

    ``plan`` has ``net_value``, ``clv``, ``best_offer`` and ``uplift_se``. The customers of
    one offer share its segment estimates (and the shrinkage towards its pooled effect), so
    their errors are added as if fully correlated (conservative): ``sd_offer = sum of CLV x
    uplift_se``; offers, estimated on different customers, add in variance.

    Returns (value, low, high).
    """
    if plan.empty:
        return 0.0, 0.0, 0.0
    value = float(plan["net_value"].sum())
    per_offer = (plan["clv"] * plan["uplift_se"].fillna(0.0)).groupby(plan["best_offer"]).sum()
    sd = float(np.sqrt((per_offer**2).sum()))
    z = stats.norm.ppf(0.5 + confidence / 2)
    return value, value - z * sd, value + z * sd
