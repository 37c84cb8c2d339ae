"""Cox proportional-hazards churn model with delayed entry, its diagnostics and the warning list.

:class:`ChurnCox` wraps lifelines' ``CoxPHFitter`` (kept as the fitted attribute ``cox_``) with
the covariate design the ABT needs and a Breslow baseline hazard whose risk sets honour delayed
entry. lifelines 0.30 computes ``baseline_cumulative_hazard_`` from ``duration >= t`` alone,
ignoring ``entry``: on left-truncated data that underestimates the baseline hazard several-fold
(tests/test_survival.py shows it), so every prediction here uses our own baseline.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, CoxTimeVaryingFitter
from lifelines.exceptions import ConvergenceError
from lifelines.utils import concordance_index

from helpers import i18n
from helpers.survival.covariates import (
    DEFAULT_COVARIATES,
    OTHER_LEVEL,
    RARE_LEVEL_ROWS,
    RARE_LEVEL_SHARE,
    _is_categorical,
)
from helpers.survival.curves import _check_survival_columns, _require_columns, _sample

# ABT columns that are amounts of money: heavily skewed, so they enter the Cox model as
# log1p(amount) (a hazard ratio "per e-fold of AUM" reads better than "per RMB").
MONEY_COLUMNS = frozenset(
    {
        "aum",
        "demand_deposit",
        "time_deposit",
        "wealth_mgmt",
        "funds",
        "insurance",
        "loan_balance",
        "aum_avg_3m",
        "aum_avg_6m",
        "aum_avg_12m",
        "card_spend_3m",
        "txn_amount_3m",
    }
)
# Ratios like AUM now / AUM k months ago - 1 explode when the old balance was near zero;
# clipping keeps a handful of customers from dominating the fit.
TREND_CLIP = (-1.0, 2.0)

#: Covariates that record what the bank *did* (RM contacts): RMs call customers whose balance is
#: falling, so their hazard ratio mixes the call's effect with the reason for the call. The
#: table reads them as associations; what a call does is measured by a randomised campaign.
POLICY_RESPONSES = frozenset({"contacts_3m", "contacts_12m", "rm_contact_3m"})

#: Customers per block of :meth:`ChurnCox.survival_matrix` (bounds its working memory).
SURVIVAL_BLOCK_ROWS = 50_000


class ChurnCox:
    """Cox proportional-hazards churn model on ABT covariates, with delayed entry.

    Covariates are transformed into a numeric design: booleans to 0/1, money columns to
    ``log1p`` (named ``log_<column>``), trend ratios clipped to [-1, 2], categorical columns
    one-hot with the most frequent level as reference (named ``<column>=<level>``).

    Parameters
    ----------
    covariates : sequence of ABT column names.
    penalizer : L2 penalty passed to lifelines (stabilises correlated covariates).
    strata : covariates to stratify on instead of estimating a hazard ratio (the remedy when a
        covariate breaks proportional hazards). A numeric one with more than
        ``strata_bins`` distinct values is cut into ``strata_bins`` quantile bins first.
    strata_bins : int

    Attributes
    ----------
    cox_ : lifelines.CoxPHFitter
        The fitted lifelines model (its ``summary`` is the hazard-ratio table).
    design_columns_ : list of str
    levels_ : dict
        Categorical levels seen at fit time (reference level first).
    strata_edges_ : dict
        Quantile bin edges for numeric strata.
    baseline_cumulative_hazard_ : DataFrame
        Breslow cumulative baseline hazard at the covariate means, with risk sets that honour
        delayed entry; index = tenure months, one column per stratum (``"baseline"`` if none).
    """

    def __init__(
        self,
        covariates: Sequence[str] = DEFAULT_COVARIATES,
        penalizer: float = 0.0,
        strata: Sequence[str] = (),
        strata_bins: int = 4,
    ) -> None:
        self.covariates = list(covariates)
        self.penalizer = penalizer
        self.strata = list(strata)
        self.strata_bins = strata_bins

    # -- design ---------------------------------------------------------------------------
    def _learn_design(self, frame: pd.DataFrame) -> None:
        _require_columns(frame, self.covariates + self.strata, "Cox covariates")
        self.levels_ = {}
        self.pooled_ = {}
        for column in self.covariates:
            if _is_categorical(frame[column]):
                counts = frame[column].astype(str).value_counts()
                # Rare levels (under RARE_LEVEL_SHARE of rows or RARE_LEVEL_ROWS rows) have no
                # estimable hazard ratio of their own: they are pooled into one "other" level.
                floor = max(RARE_LEVEL_ROWS, RARE_LEVEL_SHARE * len(frame))
                rare = sorted(counts.index[counts < floor])
                if 1 < len(rare) < len(counts):  # tiny frames (every level rare) keep all
                    self.pooled_[column] = set(rare)
                    counts = counts.drop(rare)
                    counts[OTHER_LEVEL] = int(frame[column].astype(str).isin(rare).sum())
                # Most frequent level first: it becomes the reference (hazard ratio 1).
                self.levels_[column] = sorted(counts.index, key=lambda v: (-counts[v], v))
        self.strata_edges_ = {}
        for column in self.strata:
            series = frame[column]
            if not _is_categorical(series) and series.nunique() > self.strata_bins:
                quantiles = np.linspace(0, 1, self.strata_bins + 1)[1:-1]
                self.strata_edges_[column] = np.unique(series.quantile(quantiles).to_numpy())

    def design(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Numeric design matrix (plus ``stratum_*`` columns) for ``frame``, same rows."""
        _require_columns(frame, self.covariates + self.strata, "Cox covariates")
        parts = {}
        for column in self.covariates:
            series = frame[column]
            if column in self.levels_:
                values = series.astype(str)
                if column in self.pooled_:
                    values = values.where(~values.isin(self.pooled_[column]), OTHER_LEVEL)
                for level in self.levels_[column][1:]:
                    parts[f"{column}={level}"] = (values == level).astype(float)
                continue
            values = pd.to_numeric(series.astype("Float64"), errors="coerce").astype(float)
            if values.isna().any():
                rows = list(frame.index[values.isna()][:5])
                raise ValueError(
                    f"Cox covariate {column!r} has {int(values.isna().sum())} missing or "
                    f"non-numeric value(s), e.g. rows {rows}; fill or drop them first"
                )
            if column in MONEY_COLUMNS:
                parts[f"log_{column}"] = np.log1p(values.clip(lower=0))
            elif column.startswith("aum_trend"):
                parts[column] = values.clip(*TREND_CLIP)
            else:
                parts[column] = values
        design = pd.DataFrame(parts, index=frame.index)
        for column in self.strata:
            if column in self.strata_edges_:
                bins = np.searchsorted(self.strata_edges_[column], frame[column].to_numpy(float))
                design[f"stratum_{column}"] = bins
            else:
                design[f"stratum_{column}"] = frame[column].astype(str).to_numpy()
        return design

    @property
    def _strata_columns(self) -> list[str]:
        return [f"stratum_{column}" for column in self.strata]

    # -- fit ------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, entry_col: str | None = "entry") -> ChurnCox:
        """Fit on a survival frame (``duration``, ``event``, ``entry``) with the covariates.

        Returns
        -------
        self
        """
        _check_survival_columns(frame, entry_col)
        if not frame["event"].astype(bool).any():
            raise ValueError("the survival frame has no churn events; a Cox model cannot be fit")
        self._learn_design(frame)
        design = self.design(frame)
        self.design_columns_ = [c for c in design.columns if c not in self._strata_columns]
        data = design.assign(
            duration=frame["duration"].to_numpy(float), event=frame["event"].to_numpy(bool)
        )
        if entry_col:
            data["entry"] = frame[entry_col].to_numpy(float)
        self.entry_col_ = "entry" if entry_col else None
        self.cox_ = CoxPHFitter(penalizer=self.penalizer).fit(
            data,
            duration_col="duration",
            event_col="event",
            entry_col=self.entry_col_,
            strata=self._strata_columns or None,
        )
        self.baseline_cumulative_hazard_ = self._breslow(data)
        self.fitted_rows_ = len(data)
        return self

    def log_partial_hazard(self, frame: pd.DataFrame) -> pd.Series:
        """``beta . (x - mean)`` per row: the log relative risk (0 = an average customer)."""
        design = self.design(frame)
        centred = design[self.design_columns_] - self.cox_._norm_mean[self.design_columns_]
        return centred @ self.cox_.params_[self.design_columns_]

    def _stratum_keys(self, design: pd.DataFrame) -> pd.Series:
        if not self.strata:
            return pd.Series("baseline", index=design.index)
        columns = self._strata_columns
        # One text key per stratum, however many strata: "wealth|True" (tuples would not
        # compare element-wise with numpy, and broke prediction with two strata).
        keys = design[columns[0]].astype(str)
        for column in columns[1:]:
            keys = keys + "|" + design[column].astype(str)
        return keys

    def _breslow(self, data: pd.DataFrame) -> pd.DataFrame:
        """Breslow baseline cumulative hazard with delayed-entry risk sets, per stratum."""
        risk = np.exp(self.log_partial_hazard_from_design(data))
        keys = self._stratum_keys(data)
        times = np.unique(data["duration"].to_numpy(float))
        columns = {}
        for key in pd.unique(keys):
            member = (keys == key).to_numpy()
            duration = data["duration"].to_numpy(float)[member]
            entry = (
                data["entry"].to_numpy(float)[member] if self.entry_col_ else np.zeros(member.sum())
            )
            weight = risk[member]
            event = data["event"].to_numpy(bool)[member]
            # Sum of risk scores of those still in (duration >= t) minus those not yet
            # entered (entry >= t): the same risk set lifelines' fit uses (entry < t <= T).
            order_duration = np.argsort(duration)
            sorted_duration = duration[order_duration]
            tail_duration = np.concatenate([np.cumsum(weight[order_duration][::-1])[::-1], [0]])
            order_entry = np.argsort(entry)
            sorted_entry = entry[order_entry]
            tail_entry = np.concatenate([np.cumsum(weight[order_entry][::-1])[::-1], [0]])
            in_risk = tail_duration[np.searchsorted(sorted_duration, times, side="left")]
            not_entered = tail_entry[np.searchsorted(sorted_entry, times, side="left")]
            risk_set = in_risk - not_entered
            deaths = np.bincount(
                np.searchsorted(times, duration[event]), minlength=len(times)
            ).astype(float)
            with np.errstate(invalid="ignore", divide="ignore"):
                hazard = np.where(risk_set > 0, deaths / risk_set, 0.0)
            columns[key] = np.cumsum(hazard)
        table = pd.DataFrame(columns, index=pd.Index(times, name="tenure_months"))
        return table

    def log_partial_hazard_from_design(self, design: pd.DataFrame) -> np.ndarray:
        centred = design[self.design_columns_] - self.cox_._norm_mean[self.design_columns_]
        return (centred @ self.cox_.params_[self.design_columns_]).to_numpy(float)

    # -- prediction -----------------------------------------------------------------------
    def cumulative_baseline_at(
        self, times: np.ndarray, keys: pd.Series | None = None
    ) -> np.ndarray:
        """Baseline cumulative hazard at arbitrary tenures (rows = customers' strata).

        Beyond the last observed tenure the hazard is extrapolated at the average monthly
        rate of the last 12 months observed (a flat curve would promise immortality to the
        longest-tenured customers).
        """
        times = np.asarray(times, dtype=float)
        table = self.baseline_cumulative_hazard_
        grid = table.index.to_numpy(float)
        output = np.empty_like(times)
        if keys is None:
            keys = pd.Series("baseline", index=range(times.shape[0]))
        key_values = keys.to_numpy()
        for key in table.columns:
            rows = key_values == key if len(table.columns) > 1 else np.ones(len(keys), bool)
            if not rows.any():
                continue
            cumulative = table[key].to_numpy(float)
            last_time = grid[-1]
            recent = grid >= last_time - 12
            rate = (cumulative[-1] - cumulative[recent][0]) / max(last_time - grid[recent][0], 1)
            subset = times[rows]
            position = np.searchsorted(grid, subset, side="right") - 1
            values = np.where(position >= 0, cumulative[np.clip(position, 0, None)], 0.0)
            values = values + np.clip(subset - last_time, 0, None) * rate
            output[rows] = values
        return output

    def survival_matrix(
        self, frame: pd.DataFrame, months: int, current_col: str = "tenure_months"
    ) -> np.ndarray:
        """Conditional survival ``S(k) = P(still here after k more months | here now)``.

        Returns an ``n x (months + 1)`` array; column 0 is 1. ``current_col`` is each
        customer's tenure now (``duration`` for a flat table's active customers).
        """
        _require_columns(frame, [current_col], "survival prediction")
        design = self.design(frame)
        keys = self._stratum_keys(design).to_numpy()
        relative = np.exp(self.log_partial_hazard_from_design(design))
        now = frame[current_col].to_numpy(float)
        steps = np.arange(months + 1, dtype=float)
        survival = np.empty((len(now), months + 1))
        # In blocks of customers: the (customers x months) working arrays of a million
        # customers took ~2 GB at once; each row's numbers are the same either way.
        for start in range(0, len(now), SURVIVAL_BLOCK_ROWS):
            rows = slice(start, start + SURVIVAL_BLOCK_ROWS)
            grid = (now[rows, None] + steps[None, :]).ravel()
            repeated_keys = pd.Series(np.repeat(keys[rows], months + 1))
            cumulative = self.cumulative_baseline_at(grid, repeated_keys).reshape(-1, months + 1)
            survival[rows] = np.exp(-(cumulative - cumulative[:, [0]]) * relative[rows, None])
        return survival

    def predict_churn_probability(
        self, frame: pd.DataFrame, horizon: int, current_col: str = "tenure_months"
    ) -> pd.Series:
        """P(churn within ``horizon`` months | active now), one per row of ``frame``."""
        survival = self.survival_matrix(frame, horizon, current_col)[:, -1]
        return pd.Series(1.0 - survival, index=frame.index, name=f"p_churn_{horizon}m")

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-customer contributions ``beta_j * (x_j - mean_j)`` to the log hazard."""
        design = self.design(frame)[self.design_columns_]
        centred = design - self.cox_._norm_mean[self.design_columns_]
        return centred * self.cox_.params_[self.design_columns_]

    def hazard_ratios(self, lang: str = "zh") -> pd.DataFrame:
        """Hazard-ratio table: covariate, label, HR, 95% CI, p-value, reading; sorted by HR.

        ``policy_response`` marks covariates in :data:`POLICY_RESPONSES` and ``reading`` is
        ``"association"`` for them (``"driver"`` otherwise): an HR of RM contacts is not the
        effect of a contact.
        """
        summary = self.cox_.summary
        names = summary.index.astype(str)
        policy = [name.split("=", 1)[0].removeprefix("log_") in POLICY_RESPONSES for name in names]
        table = pd.DataFrame(
            {
                "covariate": names,
                "label": [covariate_label(c, lang) for c in names],
                "coef": summary["coef"].to_numpy(),
                "hazard_ratio": summary["exp(coef)"].to_numpy(),
                "ci_lower": summary["exp(coef) lower 95%"].to_numpy(),
                "ci_upper": summary["exp(coef) upper 95%"].to_numpy(),
                "p_value": summary["p"].to_numpy(),
                "policy_response": policy,
                "reading": np.where(policy, "association", "driver"),
            }
        )
        return table.sort_values("hazard_ratio", ascending=False).reset_index(drop=True)


def covariate_label(design_column: str, lang: str = "zh") -> str:
    """Readable label for a design column (``log_aum`` -> "资产余额(对数)", ``tier=wealth``)."""
    if "=" in design_column:
        column, level = design_column.split("=", 1)
        return f"{covariate_label(column, lang)} = {i18n.t(f'{column}_{level}', lang) if column == 'tier' else level}"
    if design_column.startswith("log_"):
        return i18n.t("surv_log_of", lang, label=covariate_label(design_column[4:], lang))
    key = f"surv_cov_{design_column}"
    label = i18n.t(key, lang)
    return i18n.t(design_column, lang) if label == key else label


def hazard_ratio_sentences(table: pd.DataFrame, lang: str = "zh", alpha: float = 0.05) -> list[str]:
    """Plain-words reading of the hazard-ratio table: which factors raise or lower risk.

    Policy responses (RM contacts) are not listed as drivers: one sentence says what their
    HR is and why it is an association, whatever its direction.
    """
    policy = table.get("policy_response", pd.Series(False, index=table.index)).astype(bool)
    responses, table = table[policy], table[~policy]
    significant = table[table["p_value"] < alpha]
    raising = significant[significant["hazard_ratio"] > 1].sort_values(
        "hazard_ratio", ascending=False
    )
    lowering = significant[significant["hazard_ratio"] < 1].sort_values("hazard_ratio")

    def describe(rows: pd.DataFrame) -> str:
        return ", ".join(f"{r.label} (HR {r.hazard_ratio:.2f})" for r in rows.itertuples())

    parts = [i18n.t("surv_hr_intro", lang)]
    if len(raising):
        parts.append(i18n.t("surv_hr_raise", lang, items=describe(raising.head(4))))
    if len(lowering):
        parts.append(i18n.t("surv_hr_lower", lang, items=describe(lowering.head(4))))
    if not len(raising) and not len(lowering):
        parts.append(i18n.t("surv_hr_none", lang))
    for row in responses.itertuples():
        parts.append(i18n.t("surv_hr_association", lang, label=row.label, hr=row.hazard_ratio))
    return parts


def hazard_ratios_in_words(table: pd.DataFrame, lang: str = "zh", alpha: float = 0.05) -> str:
    """Plain-words reading of the hazard-ratio table: which factors raise or lower risk."""
    return " ".join(hazard_ratio_sentences(table, lang, alpha))


# ----------------------------------------------------------------------------- model choice
def choose_penalizer(
    frame: pd.DataFrame,
    covariates: Sequence[str],
    grid: Sequence[float] = (0.0, 0.001, 0.01, 0.1),
    folds: int = 3,
    seed: int = 0,
    sample_cap: int | None = 20000,
    entry_col: str | None = "entry",
) -> tuple[float, pd.DataFrame]:
    """Pick the L2 penalizer by k-fold cross-validation on a capped sample.

    Score = held-out mean partial log-likelihood (lifelines ``score``, which honours delayed
    entry); higher is better. Folds come from a seeded generator (lifelines' own helper
    re-seeds numpy's global generator).

    Returns
    -------
    (best_penalizer, table)
        ``table`` has one row per penalizer: ``penalizer``, ``mean_log_likelihood``, ``sd``.
    """
    data = _sample(frame, sample_cap, seed)
    fold_of_row = np.random.default_rng(seed).permutation(len(data)) % folds
    rows = []
    for penalizer in grid:
        scores = []
        for fold in range(folds):
            train = data[fold_of_row != fold]
            test = data[fold_of_row == fold]
            try:
                model = ChurnCox(covariates, penalizer=penalizer).fit(train, entry_col=entry_col)
            except ConvergenceError:
                # Collinear covariates (a job role that fixes the department) make the
                # unpenalised fit singular: this penalizer is out, a larger one will do.
                scores.append(float("nan"))
                continue
            test_data = model.design(test)[model.design_columns_].assign(
                duration=test["duration"].to_numpy(float), event=test["event"].to_numpy(bool)
            )
            if entry_col:
                test_data["entry"] = test[entry_col].to_numpy(float)
            scores.append(model.cox_.score(test_data, scoring_method="log_likelihood"))
        rows.append(
            {
                "penalizer": penalizer,
                "mean_log_likelihood": float(np.mean(scores)),
                "sd": float(np.std(scores, ddof=1)) if folds > 1 else 0.0,
            }
        )
    table = pd.DataFrame(rows)
    if table["mean_log_likelihood"].isna().all():
        raise ValueError(
            "the Cox model did not converge with any penalizer in the grid "
            f"{list(grid)}: add a larger one (e.g. 1.0) to penalizer_grid or fewer covariates"
        )
    best = float(table.loc[table["mean_log_likelihood"].idxmax(), "penalizer"])
    return best, table


def fit_time_varying(
    long_frame: pd.DataFrame,
    covariates: Sequence[str],
    event_type: str | None = None,
    penalizer: float = 0.0,
) -> CoxTimeVaryingFitter:
    """Time-varying Cox fit on a customer-month frame (``helpers.features.abt.time_varying_frame``).

    Drivers that change month to month (a recent AUM drop, a lapsed payroll) are recovered
    without bias only when each month's hazard sees that month's covariates; an ordinary Cox
    fit on covariates frozen at one as-of month blurs them.

    Parameters
    ----------
    long_frame : rows ``customer_id``, ``start``, ``stop``, ``event`` (and ``event_type``).
    covariates : columns to use (booleans become 0/1).
    event_type : count only this churn type as the event (the other is censoring, the
        cause-specific hazard); None counts every event.
    penalizer : L2 penalty.

    Returns
    -------
    lifelines.CoxTimeVaryingFitter
    """
    columns = ["customer_id", "start", "stop", "event", *covariates]
    if event_type is not None:
        columns.append("event_type")
    _require_columns(long_frame, columns, "time-varying frame")
    data = long_frame[["customer_id", "start", "stop"]].copy()
    for column in covariates:
        data[column] = long_frame[column].astype(float)
    event = long_frame["event"].astype(bool)
    if event_type is not None:
        event &= long_frame["event_type"].astype("string").eq(event_type).fillna(False)
    data["event"] = event.astype(int)
    return CoxTimeVaryingFitter(penalizer=penalizer).fit(
        data, id_col="customer_id", event_col="event", start_col="start", stop_col="stop"
    )


# ----------------------------------------------------------------------------- evaluation
def holdout_concordance(
    model: ChurnCox, frame: pd.DataFrame, sample_cap: int | None = 50000, seed: int = 0
) -> float:
    """Harrell's concordance of the model's risk on a holdout frame (time since entry).

    Pairs are compared on time from entry (the as-of month) to churn or censoring, so that
    customers of different tenures are ranked on the same clock. 0.5 = random, 1 = perfect.
    """
    data = _sample(frame, sample_cap, seed)
    residual_time = data["duration"].to_numpy(float) - data["entry"].to_numpy(float)
    risk = model.log_partial_hazard(data).to_numpy(float)
    return float(concordance_index(residual_time, -risk, data["event"].to_numpy(bool)))
