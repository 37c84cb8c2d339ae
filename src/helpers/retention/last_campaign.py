"""The last campaign, step by step: the notebook-sized steps of ``04_retention_roi`` §1-9.

:func:`load_campaign` loads the campaign customers (or returns a :class:`~helpers.formatting.Skipped`
when the data have no ``treatment``/``outcome`` roles: planner mode); every later step is
decorated with :func:`~helpers.formatting.skippable`, so on a dataset without a campaign the
notebook calls the same functions and each one passes the reason on instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import matplotlib.pyplot as plt
import pandas as pd

from helpers.config import assign_tiers
from helpers.formatting import Note, Skipped, skippable
from helpers.retention.ab import CONTROL, evaluate_campaign, standardized_mean_differences
from helpers.retention.evidence import (
    RISK,
    choose_learners,
    evidence_notes,
    qini_by_learner,
    targeting_outcomes,
    uplift_evidence,
)
from helpers.retention.offers import offer_rules, uplift_feature_columns
from helpers.retention.plan import arm_summary, attach_value, aum_kept_ratio, balance_covariates
from helpers.retention.plots import (
    plot_balance,
    plot_effects,
    plot_qini,
    plot_uplift_deciles,
)
from helpers.retention.roi import (
    campaign_frame,
    last_campaign_value,
    load_clv,
    offer_costs_from_campaign,
)
from helpers.retention.uplift import DRLearner, TLearner, XLearner, feature_matrix
from helpers.retention.uplift_eval import deciles_by_offer, targeting_mix_by_offer

CAMPAIGN_ROLES = frozenset({"treatment", "outcome"})
#: Columns attached for valuation that are no features of the uplift models.
VALUE_COLUMNS = ("clv", "p_churn_h")


@dataclass(frozen=True)
class Campaign:
    """The campaign customers (``frame``: one row each, features before the campaign) and
    what :func:`helpers.retention.campaign_frame` says about them (``info``)."""

    frame: pd.DataFrame
    info: dict = field(default_factory=dict)

    @property
    def offers(self) -> list[str]:
        """Offer arms (every arm but control), sorted."""
        return sorted(set(self.frame["arm"].astype(str)) - {CONTROL})


@dataclass(frozen=True)
class UpliftModels:
    """Cross-fitted T-, X- and DR-learners on the campaign; ``learner`` as asked
    (``"auto"``: per offer, the best held-out Qini, see :func:`evidence`)."""

    features: pd.DataFrame
    models: dict
    learner: str = "auto"
    fit_cap: int | None = None


@dataclass(frozen=True)
class QiniResult:
    """:func:`helpers.retention.qini_by_offer` output: bootstrap curves and coefficients."""

    curves: pd.DataFrame
    coefficients: pd.DataFrame


# ----------------------------------------------------------------------------- loading
def load_campaign(
    ds, campaign_id: str = "", churn=None, ladder: pd.DataFrame | None = None, horizon: int = 6
):
    """The campaign to evaluate, or ``Skipped("rr_note_needs_campaign")`` in planner mode.

    Planner mode: the dataset serves no ``treatment`` and ``outcome`` roles. A dataset that
    has them but not the campaign asked for still raises
    :class:`~helpers.retention.CampaignDataError` (a wrong ``campaign_id`` is an error, not a
    mode). ``ladder`` (the pack's tier ladder) re-tiers the panel customers on their AUM.
    ``horizon``: the churn horizon of the run (:func:`campaign_frame`: the features are the
    same for any; with the run's, the campaign month's ABT is built once).
    """
    if not CAMPAIGN_ROLES <= set(ds.roles()):
        return Skipped("rr_note_needs_campaign")
    frame, info = campaign_frame(ds, campaign_id, churn, horizon)
    if ladder is not None and ds.mode == "panel" and "aum" in frame.columns:
        frame["tier"] = assign_tiers(frame["aum"], ladder)
    return Campaign(frame, info)


def campaign_notes(campaign: Campaign | Skipped, save_rate: float) -> list[Note]:
    """Remarks before the campaign is read: planner mode, flat features, missing features.

    A flat table's campaign has no assigned month: its features are the table's snapshot.
    """
    if isinstance(campaign, Skipped):
        return [Note("rr_note_planner", save_rate=save_rate)]
    notes = []
    if campaign.info.get("assigned_month") is None:
        notes.append(Note("rr_note_flat_features"))
    if campaign.info.get("without_features"):
        notes.append(Note("rr_note_without_features", count=campaign.info["without_features"]))
    return notes


@skippable
def arms_table(campaign: Campaign) -> pd.DataFrame:
    """Customers, retention rate and average offer cost per arm (:func:`arm_summary`)."""
    return arm_summary(campaign.frame)


@skippable
def plot_campaign_balance(campaign: Campaign, lang: str = "zh"):
    """Love plot of the standardised mean differences of the usual covariates."""
    frame = campaign.frame
    smd = standardized_mean_differences(frame, balance_covariates(frame), "arm")
    return plot_balance(smd, lang=lang)


# ----------------------------------------------------------------------------- A/B
@skippable
def evaluate(campaign: Campaign, confidence: float = 0.95) -> pd.DataFrame:
    """:func:`evaluate_campaign` on retention and, when the data have it, AUM after."""
    continuous = ["aum_after"] if "aum_after" in campaign.frame.columns else []
    return evaluate_campaign(campaign.frame, continuous=continuous, confidence=confidence)


@skippable
def retention_rows(evaluation: pd.DataFrame) -> pd.DataFrame:
    """The evaluation's rows on retention (the A/B table the notebook shows)."""
    return evaluation[evaluation["metric"] == "retained"]


@skippable
def plot_campaign_effects(evaluation: pd.DataFrame, lang: str = "zh"):
    """Forest plots of the effects on retention and (when measured) on AUM after (adjusted)."""
    metrics = ["retained"] + (["aum_after"] if (evaluation["metric"] == "aum_after").any() else [])
    figure, axes = plt.subplots(1, len(metrics), figsize=(6.5 * len(metrics), 2.8), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        plot_effects(evaluation, metric, lang, ax=ax)
    return figure


# ----------------------------------------------------------------------------- value
@skippable
def with_value(
    campaign: Campaign,
    ds,
    horizon: int = 36,
    churn_horizon: int = 6,
    annual_discount_rate: float = 0.05,
    margin_scale: float = 1.0,
    churn=None,
) -> Campaign:
    """The campaign with ``clv`` (x ``margin_scale``) and ``p_churn_h`` at its assigned month.

    Always computed here (survival model at the campaign month), never read from notebook 02,
    whose CLV is as of the report month.
    """
    clv, _ = load_clv(
        ds, campaign.info.get("assigned_month"), None, horizon, churn_horizon,
        annual_discount_rate, churn,
    )  # fmt: skip
    frame = attach_value(campaign.frame, clv.assign(clv=clv["clv"] * margin_scale))
    return replace(campaign, frame=frame)


@skippable
def campaign_value(
    campaign: Campaign,
    evaluation: pd.DataFrame,
    contact_channel: str,
    contact_costs: dict,
    offer_costs: dict | None = None,
    default_offer_cost: float = 50.0,
) -> pd.DataFrame:
    """:func:`last_campaign_value` with each row's contact cost by its channel.

    A row's channel is its ``contact_channel`` column when the campaign recorded one, else the
    notebook's ``contact_channel``; offers without a recorded cost use ``offer_costs`` or
    ``default_offer_cost``.
    """
    frame = campaign.frame
    channel = frame.get("contact_channel", pd.Series(contact_channel, index=frame.index))
    costs = offer_costs_from_campaign(frame, campaign.offers, offer_costs, default_offer_cost)
    contact = channel.map(contact_costs).fillna(0.0).to_numpy()
    return last_campaign_value(evaluation, frame, frame["clv"], contact, offer_cost=costs)


# ----------------------------------------------------------------------------- uplift
LEARNER_CLASSES = {"t": TLearner, "x": XLearner, "dr": DRLearner}


@skippable
def uplift_models(
    campaign: Campaign,
    learner: str = "auto",
    n_folds: int = 5,
    seed: int = 0,
    rules: dict | None = None,
    fit_cap: int | None = None,
) -> UpliftModels:
    """Cross-fit the T-, X- and DR-learners on the campaign (features before it, value excluded).

    The features are the pre-registered ``uplift_features`` of the offer rules that the data
    has (all features when fewer than three are available); ``learner`` (``"auto"``, ``"t"``,
    ``"x"`` or ``"dr"``) is applied per offer by :func:`uplift_evidence`. Each fold's models
    are fitted on at most ``fit_cap`` customers (``fit_sample_cap``; stratified by arm and
    outcome); every campaign customer gets an out-of-fold uplift.
    """
    frame = campaign.frame
    rules = rules if rules is not None else offer_rules()
    columns = uplift_feature_columns(frame, rules)
    features = feature_matrix(frame, columns=columns, exclude=list(VALUE_COLUMNS))
    shared: dict = {}  # the learners' per-arm outcome models are the same fits: made once
    models = {
        name: cls(n_folds=n_folds, seed=seed, fit_cap=fit_cap).fit(
            features, frame["arm"], frame["retained"], outcome_models=shared
        )
        for name, cls in LEARNER_CLASSES.items()
    }
    return UpliftModels(features, models, learner, fit_cap)


def uplift_fit_notes(uplift: UpliftModels | Skipped) -> list[Note]:
    """How many customers each fold's uplift models were fitted on, when the cap applied."""
    if isinstance(uplift, Skipped) or uplift.fit_cap is None:
        return []
    model = next(iter(uplift.models.values()))
    customers = len(uplift.features)
    if customers - customers // model.n_folds <= uplift.fit_cap:  # no fold was capped
        return []
    return [Note("rr_note_uplift_fit_sample", fitted=model.fitted_rows_, total=customers)]


@skippable
def learner_comparison(
    uplift: UpliftModels,
    campaign: Campaign,
    n_boot: int = 200,
    sample_cap: int | None = 20000,
    confidence: float = 0.95,
    seed: int = 0,
) -> QiniResult:
    """Held-out Qini of every learner and of churn risk alone, per offer, paired bootstrap."""
    frame = campaign.frame
    curves, coefficients = qini_by_learner(
        {name: model.oof_uplift_ for name, model in uplift.models.items()},
        frame["arm"], frame["retained"], frame["p_churn_h"], n_boot, sample_cap, confidence,
        seed,
    )  # fmt: skip
    return QiniResult(curves, coefficients)


@skippable
def evidence(qini: QiniResult, uplift: UpliftModels) -> pd.DataFrame:
    """Per offer: the learner chosen on held-out Qini and whether the plan may use it."""
    return uplift_evidence(qini.coefficients, choose_learners(qini.coefficients, uplift.learner))


def evidence_remarks(table: pd.DataFrame | Skipped, campaign: Campaign | Skipped) -> list:
    """The gate in words (nothing to say in planner mode: there is no campaign)."""
    if isinstance(table, Skipped) or isinstance(campaign, Skipped):
        return []
    return evidence_notes(table)


@skippable
def qini_coefficients(qini: QiniResult) -> pd.DataFrame:
    """The Qini coefficients with their bootstrap intervals (saved as ``uplift_qini``)."""
    return qini.coefficients


def _chosen_scores(uplift: UpliftModels, table: pd.DataFrame) -> pd.DataFrame:
    """Out-of-fold uplift of the learner chosen for each offer."""
    chosen = dict(zip(table["offer"], table["learner"], strict=True))
    return pd.DataFrame({o: uplift.models[m].oof_uplift_[o] for o, m in chosen.items()})


@skippable
def plot_qini_by_offer(
    qini: QiniResult,
    campaign: Campaign,
    table: pd.DataFrame,
    sample_cap: int | None = 20000,
    lang: str = "zh",
):
    """One Qini chart per offer: the chosen learner and risk-only targeting, with bands."""
    offers = list(table["offer"])
    figure, axes = plt.subplots(1, len(offers), figsize=(6.5 * len(offers), 4.2), squeeze=False)
    for ax, row in zip(axes[0], table.itertuples(), strict=True):
        total = int(campaign.frame["arm"].isin([row.offer, CONTROL]).sum())
        shown = min(total, sample_cap) if sample_cap else total
        curves = qini.curves[(qini.curves["offer"] == row.offer)]
        curves = curves[curves["score"].isin([row.learner, RISK])]
        curves = curves.assign(score=curves["score"].replace({row.learner: "uplift"}))
        plot_qini(curves, row.offer, shown, total, lang=lang, ax=ax)
    return figure


@skippable
def uplift_deciles(
    uplift: UpliftModels, campaign: Campaign, table: pd.DataFrame, seed: int = 0
) -> pd.DataFrame:
    """Observed and predicted uplift by decile of the chosen learner's uplift, per offer."""
    frame = campaign.frame
    return deciles_by_offer(_chosen_scores(uplift, table), frame["arm"], frame["retained"],
                            seed=seed)  # fmt: skip


@skippable
def plot_deciles_by_offer(deciles: pd.DataFrame, lang: str = "zh"):
    """One decile chart per offer, side by side."""
    offers = list(dict.fromkeys(deciles["offer"]))
    figure, axes = plt.subplots(1, len(offers), figsize=(6.5 * len(offers), 4), squeeze=False)
    for ax, offer in zip(axes[0], offers, strict=True):
        plot_uplift_deciles(deciles[deciles["offer"] == offer], offer, lang, ax=ax)
    return figure


@skippable
def campaign_targeting_mix(
    uplift: UpliftModels,
    campaign: Campaign,
    table: pd.DataFrame,
    share: float = 0.3,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Uplift, risk-only and random targeting of the top ``share``, per offer.

    ``saved`` (with ``saved_low`` / ``saved_high``) is measured on held-out outcomes: the
    retention difference between the offer's and control customers among those the strategy
    would contact. The response-type columns (``persuadable``, ``sure_thing``, ``lost_cause``,
    ``sleeping_dog``, ``expected_saved``) are the chosen model's *expectation*, labelled so.
    """
    frame = campaign.frame
    scores = _chosen_scores(uplift, table)
    observed, expected = [], []
    for row in table.itertuples():
        strategies = {"uplift": scores[row.offer].to_numpy(), RISK: frame["p_churn_h"].to_numpy()}
        observed.append(
            targeting_outcomes(
                strategies, frame["arm"], frame["retained"], row.offer, share, confidence, seed
            )  # fmt: skip
        )
        model = uplift.models[row.learner]
        mix = targeting_mix_by_offer(model, frame["p_churn_h"], share=share, seed=seed)
        expected.append(mix[mix["offer"] == row.offer])
    observed = pd.concat(observed, ignore_index=True)
    expected = pd.concat(expected, ignore_index=True).drop(columns="contacts")
    return observed.merge(expected, on=["offer", "strategy"], how="left")


@skippable
def aum_uplift_deciles(
    campaign: Campaign, uplift: UpliftModels, n_folds: int = 5, seed: int = 0, bins: int = 5
) -> pd.DataFrame | Skipped:
    """Uplift on AUM kept (RMB) by quintile of its prediction; Skipped without AUM after.

    A T-learner models the share of AUM kept (:func:`aum_kept_ratio`); its uplift times the
    AUM before the campaign is the predicted uplift in RMB.
    """
    frame = campaign.frame
    if "aum_after" not in frame.columns:
        return Skipped("rr_note_aum_flat")
    model = TLearner(outcome="continuous", n_folds=n_folds, seed=seed, fit_cap=uplift.fit_cap)
    model.fit(uplift.features, frame["arm"], aum_kept_ratio(frame))
    predicted = model.oof_uplift_.mul(frame["aum_before"].to_numpy(), axis=0)
    return deciles_by_offer(predicted, frame["arm"], frame["aum_after"], bins, seed)
