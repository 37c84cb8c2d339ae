"""Uplift for planning, from the campaign's A/B outcomes per segment (with intervals).

Whatever ranks the candidates, the uplift a plan *counts on* is measured: each candidate gets
the A/B effect of the segment of campaign customers like them, with its interval.

- When the uplift model passed its held-out check (:mod:`helpers.retention.evidence`) for an
  offer, the segments are bands of the model's score (quintiles of the out-of-fold scores):
  the model ranks, the campaign's outcomes in each band say how much.
- Otherwise the segments are the offer's reachable customers by tier: the plan then rests on
  the A/B effect per offer and segment, and says so.

Each segment's effect is shrunk towards the offer's pooled effect (normal-normal empirical
Bayes: a segment with few customers borrows from the rest), which keeps a plan from chasing
the segment that was luckiest in the campaign. Intervals come from Newcombe's method for the
raw effect; the shrunk effect carries its posterior standard deviation.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from helpers.retention.ab import CONTROL, proportion_difference

#: Score bands of a model-ranked offer.
SCORE_BANDS = 5


def _agresti_caffo_se(y_t: float, n_t: int, y_c: float, n_c: int) -> float:
    """SE of a difference of proportions with one success and one failure added per arm.

    Stays positive when an arm kept everybody (a plain Wald SE would be 0 and would make the
    shrinkage trust a segment of 12 customers completely).
    """
    p_t, p_c = (y_t + 1) / (n_t + 2), (y_c + 1) / (n_c + 2)
    return float(np.sqrt(p_t * (1 - p_t) / (n_t + 2) + p_c * (1 - p_c) / (n_c + 2)))


def segment_effects(
    frame: pd.DataFrame,
    offer: str,
    segment: pd.Series,
    confidence: float = 0.95,
    control: str = CONTROL,
    min_per_arm: int = 5,
) -> pd.DataFrame:
    """A/B effect of ``offer`` on retention in each segment, raw and shrunk.

    Parameters
    ----------
    frame : campaign rows with ``arm`` and ``retained``.
    segment : segment label per row (NaN: outside every segment, e.g. out of the offer's reach).

    Returns
    -------
    DataFrame, one row per segment: ``offer``, ``segment``, ``n_treated``, ``n_control``,
    ``effect`` (raw difference), ``ci_low``, ``ci_high``, ``se``, ``shrunk`` (empirical Bayes
    effect used for planning), ``shrunk_se``, ``pooled`` (the offer's effect over all
    segments). A segment with fewer than ``min_per_arm`` customers in an arm takes the pooled
    effect.
    """
    rows = frame["arm"].isin([offer, control]) & segment.notna()
    data = pd.DataFrame(
        {
            "segment": segment[rows].astype(str),
            "treated": (frame.loc[rows, "arm"] == offer).to_numpy(),
            "y": frame.loc[rows, "retained"].astype(float).to_numpy(),
        }
    )
    table = []
    for label, part in data.groupby("segment", sort=True):
        n_t, n_c = int(part["treated"].sum()), int((~part["treated"]).sum())
        y_t, y_c = part.loc[part["treated"], "y"].sum(), part.loc[~part["treated"], "y"].sum()
        row = {"offer": offer, "segment": label, "n_treated": n_t, "n_control": n_c}
        if min(n_t, n_c) >= min_per_arm:
            result = proportion_difference(y_t, n_t, y_c, n_c, confidence)
            row.update(effect=result["difference"], ci_low=result["ci_low"],
                       ci_high=result["ci_high"], se=_agresti_caffo_se(y_t, n_t, y_c, n_c))  # fmt: skip
        else:
            row.update(effect=np.nan, ci_low=np.nan, ci_high=np.nan, se=np.nan)
        table.append(row)
    table = pd.DataFrame(table, columns=["offer", "segment", "n_treated", "n_control", "effect",
                                         "ci_low", "ci_high", "se"])  # fmt: skip
    n_t, n_c = int(data["treated"].sum()), int((~data["treated"]).sum())
    y_t, y_c = data.loc[data["treated"], "y"].sum(), data.loc[~data["treated"], "y"].sum()
    pooled = (y_t / n_t - y_c / n_c) if min(n_t, n_c) > 0 else 0.0
    pooled_se = _agresti_caffo_se(y_t, n_t, y_c, n_c) if min(n_t, n_c) > 0 else np.inf
    return _shrink(table.assign(pooled=pooled), pooled, pooled_se)


def _shrink(table: pd.DataFrame, pooled: float, pooled_se: float) -> pd.DataFrame:
    """Normal-normal empirical Bayes: effect_s ~ N(mu, tau^2), estimate_s ~ N(effect_s, se_s^2).

    tau^2 by the method of moments (variance of the segment estimates beyond their sampling
    variance, at least 0); weight_s = tau^2 / (tau^2 + se_s^2). With tau^2 = 0 every segment
    gets the pooled effect (the data show no differences beyond noise).
    """
    usable = table["effect"].notna()
    estimates, se = table.loc[usable, "effect"], table.loc[usable, "se"]
    tau2 = max(float(estimates.var(ddof=1) - (se**2).mean()), 0.0) if usable.sum() > 1 else 0.0
    weight = tau2 / (tau2 + table["se"] ** 2) if tau2 > 0 else table["se"] * 0.0
    weight = weight.fillna(0.0)
    shrunk = weight * table["effect"].fillna(pooled) + (1 - weight) * pooled
    posterior = np.sqrt(weight * table["se"].fillna(0.0) ** 2 + (1 - weight) ** 2 * pooled_se**2)
    return table.assign(shrunk=shrunk, shrunk_se=posterior, weight=weight)


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
    evidence: pd.DataFrame | None = None,
    oof_scores: Mapping[str, np.ndarray] | None = None,
    candidate_scores: Mapping[str, np.ndarray] | None = None,
    confidence: float = 0.95,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Uplift per (candidate, offer) the plan counts on, and the segment table behind it.

    Parameters
    ----------
    candidates, campaign : the next campaign's candidates and the last campaign's rows (with
        ``arm``, ``retained``; ``tier`` for the A/B segments).
    reach_candidates, reach_campaign : :func:`helpers.retention.offers.reach_matrix` of each.
    evidence : :func:`helpers.retention.evidence.uplift_evidence`; offers whose ``uses_model``
        is true are segmented by ``oof_scores[offer]`` (campaign) and
        ``candidate_scores[offer]`` (candidates) bands; the others by tier.

    Returns
    -------
    (uplift, segments)
        ``uplift``: one column per offer (NaN where the offer cannot reach the customer),
        indexed by ``customer_id``, with ``attrs["se"]`` the matching standard errors and
        ``attrs["segment"]`` the segment labels. ``segments``: :func:`segment_effects` rows
        with a ``basis`` column (``"model"`` or ``"ab"``).
    """
    uses_model = {}
    if evidence is not None and len(evidence):
        uses_model = dict(zip(evidence["offer"], evidence["uses_model"], strict=True))
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
        table = segment_effects(campaign, offer, segment, confidence).assign(basis=basis)
        lookup = table.set_index("segment")
        pooled, pooled_se = float(table["pooled"].iloc[0]), float(lookup["shrunk_se"].max())
        effect = pd.Series(candidate_segment).map(lookup["shrunk"]).fillna(pooled).to_numpy()
        error = pd.Series(candidate_segment).map(lookup["shrunk_se"]).fillna(pooled_se).to_numpy()
        uplift[offer] = np.where(reach_n, effect, np.nan)
        se[offer] = np.where(reach_n, error, np.nan)
        labels[offer] = np.where(reach_n, candidate_segment, None)
        tables.append(table)
    index = pd.Index(candidates["customer_id"].astype(str), name="customer_id")
    result = pd.DataFrame(uplift, index=index)
    result.attrs["se"] = pd.DataFrame(se, index=index)
    result.attrs["segment"] = pd.DataFrame(labels, index=index)
    segments = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return result, segments


def value_interval(
    plan: pd.DataFrame, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Net value of a plan with an interval from its segments' effect uncertainty.

    ``plan`` has ``net_value``, ``clv``, ``best_offer``, ``segment`` and ``uplift_se``.
    Customers of one segment share one effect estimate, so their errors add up fully:
    ``Var = sum over (offer, segment) of (sum of CLV)^2 x se^2``.

    Returns (value, low, high).
    """
    if plan.empty:
        return 0.0, 0.0, 0.0
    value = float(plan["net_value"].sum())
    grouped = plan.groupby(["best_offer", "segment"], dropna=False).agg(
        clv=("clv", "sum"), se=("uplift_se", "first")
    )
    sd = float(np.sqrt(((grouped["clv"] * grouped["se"]) ** 2).sum()))
    z = stats.norm.ppf(0.5 + confidence / 2)
    return value, value - z * sd, value + z * sd
