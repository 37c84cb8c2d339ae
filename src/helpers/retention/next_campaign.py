"""The next campaign, step by step: the notebook-sized steps of ``04_retention_roi`` §10-16.

Candidates and their value, the best offer per customer (from the uplift model, or in planner
mode from an assumed save rate), the greedy-versus-exact check, the RM list preview, the
sensitivity and break-even summary, and the sample size of the next A/B test. Each step takes
the campaign or the uplift models as :mod:`helpers.retention.last_campaign` returns them, a
:class:`~helpers.formatting.Skipped` included: planner mode runs the same calls.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.formatting import Note, Skipped, format_number, format_pct
from helpers.privacy import mask_frame
from helpers.retention.ab import CONTROL, minimum_detectable_effect, power_table
from helpers.retention.last_campaign import Campaign, UpliftModels
from helpers.retention.plan import budget_grid
from helpers.retention.roi import (
    assumed_uplift,
    best_offer,
    break_even_uplift,
    campaign_roi,
    offer_costs_from_campaign,
    offer_values,
    roi_sensitivity,
)
from helpers.retention.targeting import greedy_vs_exact
from helpers.retention.uplift import feature_matrix

#: Offer name of planner mode (no campaign: one generic retention offer).
PLANNER_OFFER = "offer"
#: Effects (retention points, 0-1) always in the sample-size table, besides the planned one.
PLANNING_EFFECTS = (0.01, 0.02, 0.05)


def _summary(rows: list[tuple[str, str]], lang: str) -> pd.DataFrame:
    """A two-column item/value table (values already formatted as text)."""
    return pd.DataFrame(
        {
            "rr_col_item": [i18n.t(key, lang) for key, _ in rows],
            "rr_col_value_text": [value for _, value in rows],
        }
    )


def candidate_summary(candidates: pd.DataFrame, clv_source: str, lang: str = "zh") -> pd.DataFrame:
    """How many candidates, their mean CLV and churn risk, and where the CLV came from."""
    return _summary(
        [
            ("rr_item_candidates", format_number(len(candidates))),
            ("rr_item_mean_clv", format_number(candidates["clv"].mean())),
            ("rr_item_mean_risk", format_pct(candidates["p_churn_h"].mean())),
            ("rr_item_clv_source", i18n.t(f"rr_clv_source_{clv_source}", lang)),
        ],
        lang,
    )


def best_offers(
    candidates: pd.DataFrame,
    uplift: UpliftModels | Skipped,
    campaign: Campaign | Skipped,
    contact_cost: float,
    offer_costs: dict | None = None,
    default_offer_cost: float = 50.0,
    save_rate: float = 0.1,
) -> pd.DataFrame:
    """Best offer per candidate by expected net value (:func:`best_offer`), with risk and RM.

    With a campaign: the chosen learner's predicted uplift per offer and the offer costs the
    campaign paid (or ``offer_costs``). Planner mode (``uplift`` skipped): one offer,
    ``"offer"``, whose uplift is the assumed ``save_rate`` x churn probability and whose cost
    is ``offer_costs["offer"]`` or ``default_offer_cost``.
    """
    ids = candidates["customer_id"]
    if isinstance(uplift, Skipped) or isinstance(campaign, Skipped):
        predicted = pd.DataFrame(
            {PLANNER_OFFER: assumed_uplift(candidates["p_churn_h"], save_rate)}, index=ids
        )
        costs = {PLANNER_OFFER: float((offer_costs or {}).get(PLANNER_OFFER, default_offer_cost))}
    else:
        model = uplift.model
        predicted = model.predict(feature_matrix(candidates, like=uplift.features)).set_index(ids)
        costs = offer_costs_from_campaign(
            campaign.frame, model.offers_, offer_costs, default_offer_cost
        )
    best = best_offer(offer_values(predicted, candidates["clv"], costs, contact_cost))
    keep = ["customer_id", "p_churn_h", *[c for c in ["rm_id"] if c in candidates.columns]]
    return best.merge(candidates[keep], on="customer_id", how="left")


def greedy_gap(
    best: pd.DataFrame, budget: float, exact_cap: int = 1500, seed: int = 0
) -> pd.DataFrame:
    """Greedy against the exact optimum (and the LP bound) on a sample of the recommended.

    At most ``exact_cap`` recommended options are drawn; the budgets are scaled to the share
    drawn, four steps up to that share of ``budget`` (:func:`greedy_vs_exact`).
    """
    recommended = best[best["recommended"]]
    sample = recommended.sample(min(exact_cap, len(recommended)), random_state=seed)
    share = len(sample) / max(len(recommended), 1)
    budgets = budget_grid(budget * share, sample, 4)
    return greedy_vs_exact(sample["net_value"], sample["cost"], budgets)


def list_preview(targets: pd.DataFrame, rows: int = 15) -> pd.DataFrame:
    """The first ``rows`` of the RM target list with names and mobiles masked."""
    return mask_frame(targets.head(rows))


def plan_sensitivity(plan: pd.DataFrame, contact_cost: float) -> pd.DataFrame:
    """:func:`roi_sensitivity` of the plan: its uplift, CLV, offer and contact costs."""
    contact = np.full(len(plan), float(contact_cost))
    return roi_sensitivity(plan["uplift"], plan["clv"], plan["cost"] - contact_cost, contact)


def plan_summary(plan: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """Break-even average uplift, the plan's mean predicted uplift and its ROI."""
    planned = len(plan) > 0
    break_even = break_even_uplift(plan["clv"], plan["cost"]) if planned else None
    return _summary(
        [
            ("rr_item_break_even", format_pct(break_even, 2)),
            ("rr_item_mean_uplift", format_pct(plan["uplift"].mean() if planned else None, 2)),
            ("rr_item_plan_roi", format_pct(campaign_roi(plan["gross_value"], plan["cost"]))),
        ],
        lang,
    )


def control_retention(campaign: Campaign | Skipped, candidates: pd.DataFrame) -> float:
    """Retention without an offer: the last control arm's, or 1 - the candidates' mean risk."""
    if isinstance(campaign, Skipped):
        return float(1 - candidates["p_churn_h"].mean())
    frame = campaign.frame
    return float(frame.loc[frame["arm"] == CONTROL, "retained"].mean())


def detectable_effect_notes(
    campaign: Campaign | Skipped, p_control: float, confidence: float = 0.95, power: float = 0.8
) -> list[Note]:
    """The smallest effect the last campaign could detect (nothing in planner mode)."""
    if isinstance(campaign, Skipped):
        return []
    arm = campaign.frame["arm"]
    n_treated = int((arm != CONTROL).sum() / len(campaign.offers))
    n_control = int((arm == CONTROL).sum())
    mde = minimum_detectable_effect(n_treated, n_control, p_control, 1 - confidence, power)
    values = dict(n_treated=n_treated, n_control=n_control, p_control=p_control, power=power)
    return [Note("rr_mde_sentence", **values, mde=mde)]


def sample_sizes(
    p_control: float, planned_effect: float, confidence: float = 0.95, power: float = 0.8
) -> pd.DataFrame:
    """Customers per arm to detect 1, 2 and 5 points and ``planned_effect`` (:func:`power_table`)."""
    effects = sorted({*PLANNING_EFFECTS, planned_effect})
    return power_table(p_control, effects, 1 - confidence, power)
