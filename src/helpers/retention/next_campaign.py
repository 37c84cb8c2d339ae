"""The next campaign, step by step: the notebook-sized steps of ``04_retention_roi`` §10-16.

Candidates and their value, the options (every reachable offer per customer, at its cost by
rule, with the uplift the evidence supports: the uplift model's score bands when it passed its
held-out check, else the A/B effect per offer and segment; in planner mode an assumed save
rate), the greedy-versus-exact check, the RM list preview, the sensitivity and break-even
summary, and the sample size of the next A/B test. Each step takes
the campaign or the uplift models as :mod:`helpers.retention.last_campaign` returns them, a
:class:`~helpers.formatting.Skipped` included: planner mode runs the same calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.formatting import Note, Skipped, format_number, format_pct
from helpers.privacy import mask_frame
from helpers.retention.ab import CONTROL, minimum_detectable_effect, power_table
from helpers.retention.last_campaign import Campaign, UpliftModels
from helpers.retention.offers import (
    offer_cost_matrix,
    offer_rules,
    reach_matrix,
    reach_notes,
)
from helpers.retention.plan import budget_grid, capacity_arguments
from helpers.retention.roi import (
    assumed_uplift,
    break_even_uplift,
    campaign_roi,
    roi_sensitivity,
)
from helpers.retention.segments import horizon_risk, planning_uplift, value_interval
from helpers.retention.targeting import exact_targets, greedy_choice, lagrangian_bound
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
    """How many candidates (and who was left out), their mean CLV and risk, the CLV source."""
    counts = candidates.attrs.get("counts", {})
    rows = [("rr_item_candidates", format_number(len(candidates)))]
    if counts:
        rows += [
            ("rr_item_draining", format_number(counts["draining"])),
            ("rr_item_outside_population", format_number(counts["outside_population"])),
        ]
    rows += [
        ("rr_item_mean_clv", format_number(candidates["clv"].mean())),
        ("rr_item_mean_risk", format_pct(candidates["p_churn_h"].mean())),
        ("rr_item_clv_source", i18n.t(f"rr_clv_source_{clv_source}", lang)),
    ]
    return _summary(rows, lang)


@dataclass(frozen=True)
class PlanOptions:
    """Every (candidate, offer) the next campaign could do, with the uplift it counts on.

    ``options``: one row per customer and reachable offer: ``customer_id``, ``offer``,
    ``segment``, ``basis`` ("model", "ab" or "assumed"), ``uplift``, ``uplift_se``, ``clv``,
    ``gross_value``, ``offer_cost``, ``contact_cost``, ``cost``, ``net_value``,
    ``p_churn_h``, ``rm_id``. ``segments``: the A/B effect per offer and segment behind the
    uplift (:func:`helpers.retention.segment_effects`). ``notes``: what the reader must know.
    """

    options: pd.DataFrame
    segments: pd.DataFrame
    notes: list = field(default_factory=list)


def _candidate_scores(uplift: UpliftModels, evidence: pd.DataFrame, candidates: pd.DataFrame):
    """Chosen learners' out-of-fold scores (campaign) and predictions (candidates), by offer."""
    matrix = feature_matrix(candidates, like=uplift.features)
    # each chosen learner predicts, in one pass, only the offers it was chosen for
    wanted: dict[str, list[str]] = {}
    for row in evidence.itertuples():
        wanted.setdefault(row.learner, []).append(row.offer)
    by_learner = {
        learner: uplift.models[learner].predict(matrix, offers=offers)
        for learner, offers in wanted.items()
    }
    oof, predicted = {}, {}
    for row in evidence.itertuples():
        oof[row.offer] = uplift.models[row.learner].oof_uplift_[row.offer].to_numpy()
        predicted[row.offer] = by_learner[row.learner][row.offer].to_numpy()
    return oof, predicted


def plan_options(
    candidates: pd.DataFrame,
    campaign: Campaign | Skipped,
    uplift: UpliftModels | Skipped,
    evidence: pd.DataFrame | Skipped,
    contact_cost: float,
    offer_costs: Mapping[str, float] | None = None,
    default_offer_cost: float = 50.0,
    save_rate: float = 0.1,
    confidence: float = 0.95,
    churn_horizon: int = 6,
    rules: Mapping | None = None,
) -> PlanOptions:
    """The options of the next campaign and their value, by the evidence of the last one.

    With a campaign: the offers it tested, each where it can reach the customer
    (:func:`reach_matrix`), at the customer's cost by the offer's rule
    (:func:`offer_cost_matrix`; ``offer_costs`` override, RMB per customer), and the uplift
    of the candidate's segment (:func:`planning_uplift`: bands of the uplift model's score for
    an offer whose model passed its held-out check, else tiers; the segment's relative churn
    reduction, shrunk towards the offer's, times the candidate's churn probability over the
    campaign's horizon from ``p_churn_h`` over ``churn_horizon`` months), with its standard
    error. Planner mode (no campaign): one offer, ``"offer"``, whose uplift is the assumed
    ``save_rate`` x churn probability.
    """
    rules = rules if rules is not None else offer_rules()
    ids = candidates["customer_id"].astype(str).to_numpy()
    notes: list = []
    if any(isinstance(x, Skipped) for x in (campaign, uplift, evidence)):
        offers = [PLANNER_OFFER]
        predicted = pd.DataFrame(
            {PLANNER_OFFER: assumed_uplift(candidates["p_churn_h"], save_rate)}, index=ids
        )
        se = pd.DataFrame({PLANNER_OFFER: np.nan}, index=ids)
        segment = pd.DataFrame({PLANNER_OFFER: "assumed"}, index=ids)
        basis = {PLANNER_OFFER: "assumed"}
        segments = pd.DataFrame()
        reach = pd.DataFrame({PLANNER_OFFER: True}, index=candidates.index)
    else:
        offers = list(evidence["offer"])
        reach = reach_matrix(candidates, offers, rules)
        campaign_reach = reach_matrix(campaign.frame, offers, rules)
        notes += reach_notes(candidates, offers, rules)
        oof, scored = _candidate_scores(uplift, evidence, candidates)
        horizon = int(campaign.info.get("horizon_months") or churn_horizon)
        predicted, segments = planning_uplift(
            candidates, campaign.frame, offers, reach, campaign_reach,
            horizon_risk(candidates["p_churn_h"], churn_horizon, horizon),
            horizon_risk(campaign.frame["p_churn_h"], churn_horizon, horizon),
            evidence, oof, scored, confidence,
        )  # fmt: skip
        se, segment = predicted.attrs["se"], predicted.attrs["segment"]
        basis = dict(zip(segments["offer"], segments["basis"], strict=False))
    costs = offer_cost_matrix(candidates, offers, rules, offer_costs, default_offer_cost)
    frames = []
    for offer in offers:
        reachable = reach[offer].to_numpy(bool)
        part = candidates.loc[reachable, ["customer_id", "p_churn_h", "clv"]].copy()
        part["customer_id"] = part["customer_id"].astype(str)
        part["rm_id"] = candidates.loc[reachable, "rm_id"] if "rm_id" in candidates else None
        part["offer"] = offer
        part["segment"] = segment[offer].to_numpy()[reachable]
        part["basis"] = basis.get(offer, "ab")
        part["uplift"] = predicted[offer].to_numpy(float)[reachable]
        part["uplift_se"] = se[offer].to_numpy(float)[reachable]
        part["offer_cost"] = costs[offer].to_numpy(float)[reachable]
        frames.append(part)
    options = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    options["contact_cost"] = float(contact_cost)
    options["cost"] = options["offer_cost"] + options["contact_cost"]
    options["gross_value"] = options["uplift"] * options["clv"]
    options["net_value"] = options["gross_value"] - options["cost"]
    columns = ["customer_id", "offer", "segment", "basis", "uplift", "uplift_se", "clv",
               "gross_value", "offer_cost", "contact_cost", "cost", "net_value", "p_churn_h",
               "rm_id"]  # fmt: skip
    return PlanOptions(options[columns], segments, notes)


def planning_segments(options: PlanOptions) -> pd.DataFrame | Skipped:
    """The segment effects the plan counts on (nothing in planner mode: they are assumed)."""
    if options.segments.empty:
        return Skipped("rr_note_planner_no_segments")
    columns = ["offer", "basis", "segment", "n_treated", "n_control", "effect", "ci_low",
               "ci_high", "rrr", "rrr_low", "rrr_high", "shrunk"]  # fmt: skip
    return options.segments[columns].rename(columns={"effect": "difference"})


def option_notes(options: PlanOptions) -> list:
    """Remarks about the options (offers whose reach could not be checked)."""
    return list(options.notes)


#: Seconds each exact solve of :func:`greedy_gap`'s check may take.
GAP_CHECK_SECONDS = 5.0
#: HiGHS settings of the check's solves: no presolve, a gap of 1e-6. Measured on the four
#: solves of the check (same optima or better, each proven): 1M bank 10.9 -> 0.4 s, 100k bank
#: 10.1 -> 1.1 s (one solve had stopped at its limit before), 10k sample 3.3 -> 2.0 s. With
#: HiGHS' default gap (1e-4) one 10k solve came out just below greedy's value.
GAP_CHECK_SOLVER = {"presolve": False, "rel_gap": 1e-6}


def greedy_gap(
    options: PlanOptions,
    budget: float,
    contacts_per_rm: int = 0,
    exact_cap: int = 1500,
    seed: int = 0,
) -> pd.DataFrame:
    """Greedy against the exact optimum and the Lagrangian bound, on a sample of customers.

    At most ``exact_cap`` worthwhile options (whole customers, every offer of theirs) are
    drawn; the budgets are scaled to the share drawn, four steps up to that share of
    ``budget``; RM capacity scales the same way. Each exact solve gets
    :data:`GAP_CHECK_SECONDS`; ``proven`` says whether the solver proved its selection
    optimal (otherwise ``exact_value`` is the best it found, still bounded by ``lp_bound``).
    On the 100k bank one solve ran into the solver's minute and the check took 65 s.
    """
    useful = options.options[options.options["net_value"] > 0]
    customers = useful["customer_id"].drop_duplicates()
    per_customer = max(len(useful) / max(len(customers), 1), 1.0)
    drawn = customers.sample(min(len(customers), int(exact_cap / per_customer)),
                             random_state=seed)  # fmt: skip
    sample = useful[useful["customer_id"].isin(set(drawn))].reset_index(drop=True)
    share = len(drawn) / max(len(customers), 1)
    capacity, group = capacity_arguments(sample, contacts_per_rm)
    if capacity is not None:
        capacity = max(1, int(np.ceil(capacity * share)))
    rows = []
    for step in budget_grid(budget * share, sample, 4):
        value, cost = sample["net_value"].to_numpy(), sample["cost"].to_numpy()
        customer = sample["customer_id"].to_numpy()
        greedy = greedy_choice(value, cost, customer, step, capacity, group)
        report: dict = {}
        exact = exact_targets(value, cost, step, capacity, group, choice=customer,
                              time_limit=GAP_CHECK_SECONDS, report=report,
                              **GAP_CHECK_SOLVER)  # fmt: skip
        bound = lagrangian_bound(value, cost, customer, step, capacity, group)
        greedy_value, exact_value = float(value[greedy].sum()), float(value[exact].sum())
        rows.append(
            {
                "budget": float(step),
                "greedy_value": greedy_value,
                "exact_value": exact_value,
                "lp_bound": bound,
                "gap": exact_value - greedy_value,
                "gap_pct": (exact_value - greedy_value) / exact_value if exact_value > 0 else 0,
                "same_selection": bool((greedy == exact).all()),
                "proven": report["proven"],
            }
        )
    return pd.DataFrame(rows)


def plan_notes(plan: pd.DataFrame, confidence: float = 0.95) -> list[Note]:
    """How the plan was chosen (exact, or greedy within a stated bound) and its value interval."""
    info = plan.attrs.get("choice", {})
    notes = []
    if info.get("method") == "greedy":
        notes.append(Note("rr_choice_greedy", value=info["value"], bound=info["bound"],
                          gap=info["gap"]))  # fmt: skip
    elif info:
        notes.append(Note("rr_choice_exact", value=info["value"]))
    if len(plan) and plan["uplift_se"].notna().any():
        value, low, high = value_interval(plan, confidence)
        key = (
            "rr_plan_value_significant" if low > 0 or high < 0 else "rr_plan_value_not_significant"
        )
        notes.append(Note(key, value=value, low=low, high=high, level=confidence))
    elif len(plan):
        notes.append(Note("rr_plan_value_assumed", value=float(plan["net_value"].sum())))
    return notes


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
