"""The steps of ``02_lifecycle_survival``: each takes what the notebook holds and returns a
table, a figure, remarks or a :class:`~helpers.formatting.Skipped` step.

The notebook never branches on the data: in flat mode (one customer table, no history) the
steps that need history return ``Skipped("surv_skip_flat")``, which ``ctx.show`` shows once
(at the top, from :func:`plan_notes`); a dataset without churn types skips the competing
risks with ``Skipped("surv_no_event_type")``. Helpers that consume such a result are
``@skippable``, so the reason flows through. Display helpers give label-key column headers.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from helpers import i18n
from helpers.config import ChurnDefinition
from helpers.features import build_abt, stratified_rows, survival_frame
from helpers.formatting import Bullets, Note, Skipped, is_skipped, kpi, skippable
from helpers.survival.cox import ChurnCox, covariate_label, hazard_ratio_sentences
from helpers.survival.curves import (
    brier_score,
    calibration_table,
    competing_risks_sentences,
    cumulative_incidence_table,
    fit_cumulative_incidence,
    fit_kaplan_meier,
    km_entry_bias,
    logrank_notes,
    logrank_test,
    prepare_frame,
)
from helpers.survival.lifecycle import STAGE_COLUMNS, LifecycleRule, stage_transitions
from helpers.survival.ph import check_proportional_hazards, ph_remedy_strata
from helpers.survival.plots import plot_km, plot_km_entry_bias
from helpers.survival.workflow import SplitPlan, draining_at, flat_abt, scoring_frame

#: Tenure (months) at which the competing-risks remark compares closure and run-off.
COMPETING_RISKS_AT = 60
#: Columns of the ``churn_risk_scores`` artifact.
RISK_SCORE_COLUMNS = ["customer_id", "tier", "stage", "aum", "p_churn", "aum_at_risk"]


def _flat() -> Skipped:
    return Skipped("surv_skip_flat")


# ----------------------------------------------------------------------------- the run
def plan_notes(plan: SplitPlan) -> list[Skipped]:
    """What this dataset cannot support, said once at the top: flat mode skips history."""
    return [_flat()] if plan.mode == "flat" else []


def run_table(
    described: pd.DataFrame, churn: ChurnDefinition, plan: SplitPlan, lang: str = "zh"
) -> pd.DataFrame:
    """``ctx.describe()`` plus the churn definition and how the model is validated."""
    extra = pd.DataFrame(
        {
            "item": [i18n.t("surv_item_churn", lang), i18n.t("surv_item_split", lang)],
            "value": [churn.kind, plan.describe(lang)],
        }
    )
    return pd.concat([described, extra], ignore_index=True)


# ----------------------------------------------------------------------------- survival data
def survival_data(
    ds, plan: SplitPlan, churn: ChurnDefinition, ladder: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per customer for the curves: ``entry``, ``duration``, ``event``, ``tier``...

    Panel: :func:`helpers.features.survival_frame` (delayed entry, churn types). Flat: the
    flat ABT with entry 0 and no churn types. Tiers on ``ladder`` (the pack's ladder).
    """
    if plan.mode == "flat":
        return prepare_frame(flat_abt(ds, churn, ladder), flat=True)
    return survival_frame(ds, churn, ladder=ladder)


def count_formats(counts: pd.DataFrame) -> dict[str, list[str]]:
    """``ctx.show`` formats of :func:`event_counts`: counts as integers, the rate as a share."""
    return {
        "ints": [column for column in counts.columns if column != "surv_event_rate"],
        "pct": ["surv_event_rate"],
    }


def entry_bias(surv: pd.DataFrame, plan: SplitPlan) -> pd.DataFrame | Skipped:
    """:func:`km_entry_bias` (survival with and without delayed entry); flat: skipped."""
    return _flat() if plan.mode == "flat" else km_entry_bias(surv)


def plot_entry_bias(surv: pd.DataFrame, plan: SplitPlan, lang: str = "zh"):
    """The delayed-entry curve next to the naive one; flat (no delayed entry): skipped."""
    if plan.mode == "flat":
        return _flat()
    corrected = fit_kaplan_meier(surv)["all"]
    naive = fit_kaplan_meier(surv, entry_col=None)["all"]
    return plot_km_entry_bias(corrected, naive, lang)


# ----------------------------------------------------------------------------- lifecycle
def customers_to_score(
    ds,
    plan: SplitPlan,
    churn: ChurnDefinition,
    ladder: pd.DataFrame | None = None,
    rule: LifecycleRule | None = None,
) -> pd.DataFrame:
    """The customers scored this month (:func:`scoring_frame`) with their lifecycle ``stage``."""
    score, tenure_col = scoring_frame(ds, plan, churn, ladder)
    return score.assign(stage=(rule or LifecycleRule()).stages(score, tenure_col))


def transitions_from_last_month(
    ds,
    plan: SplitPlan,
    score: pd.DataFrame,
    churn: ChurnDefinition,
    rule: LifecycleRule | None = None,
) -> pd.DataFrame | Skipped:
    """Stage transitions from the month before the report month to it; flat: skipped.

    ``score`` is :func:`customers_to_score` (the report month). :func:`split_plan` already
    makes sure the report month has months before it.
    """
    if plan.mode == "flat":
        return _flat()
    months = ds.months()
    previous_month = months[months.index(plan.score_as_of) - 1]
    # Only what a stage needs: a third of the whole ABT's work at a million customers.
    previous = build_abt(ds, previous_month, plan.horizon, churn, columns=STAGE_COLUMNS)
    previous = previous.assign(stage=(rule or LifecycleRule()).stages(previous))
    return stage_transitions(previous, score)


# ----------------------------------------------------------------------------- segments
#: Preferred second segment when ``survival_segment`` is empty (kept for the bank sample).
SEGMENT_PREFERENCE = ("payroll",)
#: A segment for curves needs 2 to this many groups.
MAX_SEGMENT_LEVELS = 8
_NOT_SEGMENTS = frozenset({"customer_id", "as_of", "entry", "duration", "event", "event_type",
                           "branch_id", "rm_id", "name", "mobile", "tier"})  # fmt: skip


def _segment_ok(series: pd.Series) -> bool:
    return 2 <= series.nunique(dropna=True) <= MAX_SEGMENT_LEVELS


def segment_column(surv: pd.DataFrame, requested: str = "") -> str | Skipped:
    """The column of the second survival segment (parameter ``survival_segment``).

    A named column that exists is used as asked. Empty means "choose": ``payroll`` when the
    data have it, else the first mapped feature with 2 to 8 groups (yes/no flags, text codes,
    small integers), else ``tier``. A named column the data lack, or nothing suitable, gives a
    Skipped step naming the columns that could be used.
    """
    if requested:
        if requested in surv.columns and _segment_ok(surv[requested]):
            return requested
        usable = [c for c in surv.columns if c not in _NOT_SEGMENTS and _segment_ok(surv[c])]
        return Skipped("surv_segment_missing", column=requested, usable=", ".join(usable) or "-")
    candidates = [c for c in SEGMENT_PREFERENCE if c in surv.columns]
    candidates += [
        c for c in surv.columns
        if c not in _NOT_SEGMENTS and not c.startswith(("held_", "took_")) and c != "aum"
    ]  # fmt: skip
    candidates.append("tier")
    for column in candidates:
        if column in surv.columns and _segment_ok(surv[column]):
            return column
    return Skipped("surv_segment_none")


@skippable
def segment_curves(surv: pd.DataFrame, segment: str) -> dict:
    """Kaplan-Meier curves by the chosen segment (:func:`segment_column`)."""
    return fit_kaplan_meier(surv, segment)


@skippable
def plot_segment(km_segment: dict, segment: str, lang: str = "zh"):
    """The segment's curves, labelled with the segment's name."""
    return plot_km(km_segment, covariate_label(segment, lang), lang)


@skippable
def segment_logrank_notes(
    surv: pd.DataFrame, segment: str, lang: str = "zh"
) -> list[Note] | Skipped:
    """Log-rank test of the segment's curves, in words (skipped with a single group)."""
    if segment not in surv.columns or surv[segment].nunique(dropna=True) < 2:
        return Skipped("surv_logrank_one_group", segment=covariate_label(segment, lang))
    return logrank_notes(logrank_test(surv, segment), covariate_label(segment, lang))


# ----------------------------------------------------------------------------- Cox model
def fit_with_ph_check(
    train: pd.DataFrame,
    covariates: Sequence[str],
    penalizer: float,
    sample_cap: int | None = 5000,
    seed: int = 0,
    alpha: float = 0.01,
    fit_cap: int | None = None,
) -> tuple[ChurnCox, pd.DataFrame, list[str]]:
    """Fit the Cox model, check proportional hazards, stratify on the worst violators.

    ``fit_cap`` (``fit_sample_cap``): the model is fitted on at most this many customers, a
    sample stratified by ``event`` without repeats (:func:`capped`); None fits every row.

    Returns
    -------
    (model, ph_table, strata)
        The model refitted with ``strata`` when the check found violators (else as fitted),
        the check's table (:func:`check_proportional_hazards`) and the strata chosen.
    """
    train = capped(train, fit_cap, seed)
    model = ChurnCox(covariates, penalizer).fit(train)
    ph = check_proportional_hazards(model, train, sample_cap, seed, alpha)
    # Stratification never takes every covariate: at least one keeps a hazard ratio (a model
    # stratified on everything ranks no one: its concordance is 0.5).
    strata = ph_remedy_strata(ph, model, max_strata=min(2, len(model.covariates) - 1))
    if strata:
        kept = [column for column in covariates if column not in strata]
        model = ChurnCox(kept, penalizer, strata).fit(train)
    return model, ph, strata


def cv_display(cv_table: pd.DataFrame) -> pd.DataFrame:
    """The penalizer cross-validation table with label-key headers."""
    return cv_table.set_axis(
        ["surv_penalizer", "surv_mean_log_likelihood", "surv_sd"], axis="columns"
    )


def ph_display(ph: pd.DataFrame) -> pd.DataFrame:
    """The proportional-hazards check with label-key headers."""
    return ph.set_axis(
        ["surv_covariate", "surv_test_statistic", "surv_p_value", "surv_fails"], axis="columns"
    )


def hazard_display(hazard_ratios: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """Hazard ratios with their intervals, p-values and reading (driver or association)."""
    shown = hazard_ratios[["label", "hazard_ratio", "ci_lower", "ci_upper", "p_value"]]
    reading = hazard_ratios.get("reading", pd.Series("driver", index=hazard_ratios.index))
    shown = shown.assign(reading=[i18n.t(f"surv_reading_{r}", lang) for r in reading])
    return shown.set_axis(
        ["surv_covariate", "surv_hazard_ratio", "surv_ci_lower", "surv_ci_upper", "surv_p_value",
         "surv_reading"],
        axis="columns",
    )  # fmt: skip


def hazard_ratio_bullets(hazard_ratios: pd.DataFrame, lang: str = "zh") -> Bullets:
    """Which factors raise or lower churn risk, in words."""
    return Bullets(hazard_ratio_sentences(hazard_ratios, lang))


def refit_final(
    model: ChurnCox, final: pd.DataFrame, fit_cap: int | None = None, seed: int = 0
) -> ChurnCox:
    """The scoring model: ``model``'s covariates, penalizer and strata refitted on ``final``
    (at most ``fit_cap`` customers, stratified by ``event``, as :func:`fit_with_ph_check`)."""
    return ChurnCox(model.covariates, model.penalizer, model.strata).fit(
        capped(final, fit_cap, seed)
    )


def capped(frame: pd.DataFrame, cap: int | None, seed: int = 0) -> pd.DataFrame:
    """At most ``cap`` rows of a survival frame, stratified by ``event``, in their order.

    A uniform sample within each outcome keeps the event share, so the Cox coefficients and
    the Breslow baseline (events over risk sets) estimate the same quantities. The C-index
    of a capped fit against a fit on every row at a million customers is measured in
    ``benchmarks/results/model_quality.md``. The fitted size is ``len`` of the result.
    """
    rows = stratified_rows(frame["event"].astype(bool).to_numpy(), cap, seed)
    return frame if len(rows) == len(frame) else frame.iloc[rows]


def fit_size_note(model: ChurnCox, total: int) -> Note:
    """How many customers the Cox model was fitted on, out of how many."""
    return Note("surv_fit_sample", fitted=int(model.fitted_rows_), total=int(total))


# ----------------------------------------------------------------------------- already draining
#: Columns of the "already draining" list.
DRAINING_COLUMNS = ["customer_id", "rm_id", "tier", "aum", "aum_avg_12m", "onset_month",
                    "months_flagged"]  # fmt: skip


def already_draining(
    ds, plan: SplitPlan, churn: ChurnDefinition, ladder: pd.DataFrame | None = None
) -> pd.DataFrame | Skipped:
    """Customers in a run-off this month that churn has not confirmed yet, richest first.

    They are left out of the model's training, evaluation and warning list (a model cannot
    warn about a departure under way) and listed here instead; flat data: skipped.
    """
    if plan.mode == "flat":
        return _flat()
    rows = draining_at(ds, plan, churn, ladder)
    rows = rows[[c for c in DRAINING_COLUMNS if c in rows.columns]]
    rows = rows.assign(tier=rows["tier"].astype(str))
    return rows.sort_values("aum_avg_12m", ascending=False, ignore_index=True)


@skippable
def draining_notes(draining: pd.DataFrame, score: pd.DataFrame) -> list[Note]:
    """How many customers are already draining, and what they held over the last year."""
    return [
        Note(
            "surv_draining",
            count=len(draining),
            share=len(draining) / max(len(draining) + len(score), 1),
            aum=float(draining["aum_avg_12m"].sum()),
        )
    ]


# ----------------------------------------------------------------------------- competing risks
def competing_incidence(
    surv: pd.DataFrame, seed: int = 0, sample_cap: int | None = 50000
) -> dict | Skipped:
    """Aalen-Johansen curves of closure and run-off by tier; skipped without churn types."""
    if "event_type" not in surv.columns or not surv["event_type"].notna().any():
        return Skipped("surv_no_event_type")
    return fit_cumulative_incidence(surv, "tier", seed=seed, sample_cap=sample_cap)


@skippable
def competing_risks_bullets(cif: dict, time: int = COMPETING_RISKS_AT, lang: str = "zh") -> Bullets:
    """Per tier: do customers leave mostly by closing or by draining, by ``time`` months?"""
    table = cumulative_incidence_table(cif, times=[time])
    return Bullets(competing_risks_sentences(table, time, lang))


# ----------------------------------------------------------------------------- calibration
def holdout_probability(
    model: ChurnCox, holdout: pd.DataFrame, plan: SplitPlan
) -> pd.Series | Skipped:
    """P(churn within the horizon) of each holdout customer; flat (no labels): skipped."""
    if plan.mode == "flat":
        return _flat()
    return model.predict_churn_probability(holdout, plan.horizon)


@skippable
def holdout_calibration(probability: pd.Series, holdout: pd.DataFrame) -> pd.DataFrame:
    """:func:`calibration_table` of the holdout's predictions against its churn labels."""
    return calibration_table(probability, holdout["churn_label"])


def _known_outcomes(probability: pd.Series, holdout: pd.DataFrame):
    known = holdout["churn_label"].notna()
    return probability[known], holdout.loc[known, "churn_label"].astype(float)


@skippable
def holdout_brier(probability: pd.Series, holdout: pd.DataFrame) -> float:
    """Brier score of the holdout predictions (customers whose outcome is known)."""
    predicted, observed = _known_outcomes(probability, holdout)
    return brier_score(predicted, observed)


@skippable
def brier_notes(brier: float, holdout: pd.DataFrame) -> list[Note]:
    """The Brier score next to predicting the average churn rate for everyone."""
    observed = holdout.loc[holdout["churn_label"].notna(), "churn_label"].astype(float)
    base = brier_score([observed.mean()] * len(observed), observed)
    return [Note("surv_brier", brier=brier, base=base)]


# ----------------------------------------------------------------------------- scores and CLV
def score_churn(model: ChurnCox, score: pd.DataFrame, plan: SplitPlan, ranker=None) -> pd.DataFrame:
    """``score`` with ``p_churn`` (within the horizon), ``churn_score`` and ``aum_at_risk``.

    ``churn_score`` ranks the warning list: the chosen ranking model's score
    (:class:`~helpers.survival.ranking.ChurnRanker`), or the Cox probability when the
    ranking was skipped. With history the ranker predicts the horizon label itself, so its
    calibrated probability is also ``p_churn``; in flat mode ``p_churn`` stays the Cox
    probability of churning within the horizon (the ranker's label has no horizon there).
    Without a value column ``aum_at_risk`` is missing.
    """
    probability = model.predict_churn_probability(score, plan.horizon, plan.tenure_col)
    probability = probability.to_numpy()
    rank = probability if ranker is None or is_skipped(ranker) else ranker.predict(score)
    if plan.mode != "flat":
        probability = rank
    value = score["aum"] if "aum" in score.columns else float("nan")
    return score.assign(p_churn=probability, churn_score=rank, aum_at_risk=probability * value)


def risk_scores_table(score: pd.DataFrame) -> pd.DataFrame:
    """The ``churn_risk_scores`` artifact: one row per scored customer, tier and stage as text."""
    table = score[RISK_SCORE_COLUMNS]
    return table.assign(tier=table["tier"].astype(str), stage=table["stage"].astype(str))


def risk_by_tier(score: pd.DataFrame) -> pd.DataFrame:
    """Customers, mean churn probability and AUM at risk per tier."""
    grouped = score.groupby("tier", observed=True).agg(
        customers=("customer_id", "size"),
        surv_p_churn=("p_churn", "mean"),
        surv_aum_at_risk=("aum_at_risk", "sum"),
    )
    return grouped.reset_index()


def clv_with_tiers(clv: pd.DataFrame, score: pd.DataFrame) -> pd.DataFrame:
    """The CLV rows (same order as ``score``) with each customer's tier as text."""
    return clv.assign(tier=score["tier"].astype(str).to_numpy())


def clv_summary(clv_by_tier: pd.DataFrame) -> pd.DataFrame:
    """Per tier: customers, mean expected months, margin and CLV, and the CLV total."""
    grouped = clv_by_tier.groupby("tier").agg(
        customers=("customer_id", "size"),
        surv_expected_months=("expected_months", "mean"),
        surv_monthly_margin=("monthly_margin", "mean"),
        surv_clv=("clv", "mean"),
        total=("clv", "sum"),
    )
    return grouped.reset_index()


# ----------------------------------------------------------------------------- KPIs
def survival_kpis(
    surv: pd.DataFrame,
    score: pd.DataFrame,
    warning: pd.DataFrame,
    concordance: float,
    brier: float | Skipped,
    clv: pd.DataFrame,
    draining: pd.DataFrame | Skipped | None = None,
    horizon: int = 6,
) -> list[dict]:
    """The notebook's KPI records (the monthly summary reads ``churn_rate``, ``aum_at_risk``
    and ``median_tenure``); a skipped Brier score (flat mode) is recorded as missing.
    ``horizon`` (months) names the churn rate's window in its label.

    Customers already draining count as churning (probability 1) in the churn rate, and
    their AUM as at risk: they are outside the model, not outside the bank's losses. The
    concordance is measured on customers not yet draining.
    """
    median = fit_kaplan_meier(surv)["all"].median_survival_time_
    known_median = pd.notna(median) and median != float("inf")
    leaving = draining if isinstance(draining, pd.DataFrame) else score.iloc[:0]
    customers = len(score) + len(leaving)
    churn_rate = (float(score["p_churn"].sum()) + len(leaving)) / max(customers, 1)
    kept = float(leaving["aum"].sum()) if "aum" in leaving.columns else 0.0
    # missing (NaN) without a value column: nothing is "at risk" in money then
    at_risk = float(score["aum_at_risk"].sum(min_count=1)) + kept
    return [
        kpi("churn_rate", churn_rate, "pct", headline=True, months=horizon),
        kpi("aum_at_risk", at_risk, "rmb", headline=True),
        kpi("median_tenure", float(median) if known_median else None, "months"),
        kpi("surv_kpi_window_churn_rate", float(surv["event"].mean()), "pct"),
        kpi("surv_kpi_expected_churners", float(score["p_churn"].sum()), "count"),
        kpi("surv_kpi_warning_list_size", len(warning), "count"),
        kpi("surv_kpi_already_draining", len(leaving), "count"),
        kpi("surv_kpi_concordance", concordance, "ratio"),
        kpi("surv_kpi_brier", None if is_skipped(brier) else brier, "ratio"),
        kpi("surv_kpi_total_clv", float(clv["clv"].sum(min_count=1)), "rmb"),
    ]
