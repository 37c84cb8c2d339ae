"""The proportional-hazards check of the churn Cox model, on the model's own clock, and its remedy.

The Cox model of :mod:`helpers.survival.cox` runs on **months on book** with delayed entry
(customers enter at their tenure at the as-of month). Its assumption is that each covariate's
hazard ratio does not change with tenure, so that is the clock the check uses: scaled Schoenfeld
residuals (Grambsch and Therneau 1994) whose risk sets honour delayed entry
(``entry < t <= duration``), correlated with the rank of the event tenures. lifelines 0.30
cannot compute residuals for a fit with entry times ("Residuals for entries not implemented"),
hence this implementation; with every entry at 0 it agrees with lifelines'
``proportional_hazard_test(..., time_transform="rank")`` up to tie handling (tested).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from scipy import stats

from helpers.formatting import Note
from helpers.survival.cox import ChurnCox, covariate_label
from helpers.survival.curves import _sample


def schoenfeld_test(
    design: pd.DataFrame,
    duration: np.ndarray,
    event: np.ndarray,
    entry: np.ndarray | None,
    params: pd.Series,
    variance: pd.DataFrame,
) -> pd.DataFrame:
    """Grambsch-Therneau test per covariate on the clock of ``duration`` (rank transform).

    Breslow risk sets ``{j : entry_j < t <= duration_j}`` at each event time ``t``; residual
    ``r_i = x_i - xbar(t_i)`` with ``xbar`` the risk-weighted mean over the risk set; scaled
    residuals ``d x r V + beta`` (d events, V the coefficients' covariance); statistic
    ``(sum (g - gbar) r*_j)^2 / (d V_jj sum (g - gbar)^2)`` with g the rank of the event times
    among the events (tied times share their average rank), chi-squared with 1 degree of
    freedom.
    """
    columns = list(params.index)
    x = design[columns].to_numpy(float)
    duration = np.asarray(duration, dtype=float)
    event = np.asarray(event, dtype=bool)
    entry = np.zeros_like(duration) if entry is None else np.asarray(entry, dtype=float)
    weight = np.exp((x - x.mean(axis=0)) @ params.to_numpy(float))
    times = duration[event]
    unique, position = np.unique(times, return_inverse=True)
    xbar = np.empty((unique.size, x.shape[1]))
    for k, t in enumerate(unique):
        at_risk = (entry < t) & (duration >= t)
        w = weight[at_risk]
        xbar[k] = (w[:, None] * x[at_risk]).sum(axis=0) / w.sum()
    residual = x[event] - xbar[position]
    deaths = int(event.sum())
    v = variance.loc[columns, columns].to_numpy(float)
    scaled = deaths * residual @ v + params.to_numpy(float)
    ranks = pd.Series(times).rank().to_numpy()  # rank among the event times (ties averaged)
    centred = ranks - ranks.mean()
    statistic = (centred[:, None] * scaled).sum(axis=0) ** 2 / (
        deaths * np.diag(v) * (centred**2).sum()
    )
    return pd.DataFrame(
        {
            "covariate": columns,
            "test_statistic": statistic,
            "p_value": stats.chi2.sf(statistic, 1),
        }
    )


def check_proportional_hazards(
    model: ChurnCox,
    frame: pd.DataFrame,
    sample_cap: int | None = 5000,
    seed: int = 0,
    alpha: float = 0.01,
) -> pd.DataFrame:
    """Does a covariate's effect change with tenure (months on book)? One test per covariate.

    The check runs on a capped sample: on a million rows any tiny departure is "significant"
    and the residuals are expensive. The model's covariates are refitted on the sample with the
    same penalizer and delayed entry, and tested on the model's own clock, months on book
    (:func:`schoenfeld_test`).

    Returns
    -------
    DataFrame
        ``covariate``, ``test_statistic``, ``p_value``, ``fails`` (p < alpha).
    """
    data = _sample(frame, sample_cap, seed)
    design = model.design(data)[model.design_columns_]
    training = design.assign(
        duration=data["duration"].to_numpy(float), event=data["event"].to_numpy(bool)
    )
    entry = None
    if model.entry_col_:
        entry = data["entry"].to_numpy(float)
        training["entry"] = entry
    refit = CoxPHFitter(penalizer=model.penalizer).fit(
        training, "duration", "event", entry_col="entry" if entry is not None else None
    )
    table = schoenfeld_test(
        design, training["duration"].to_numpy(), training["event"].to_numpy(), entry,
        refit.params_, refit.variance_matrix_,
    )  # fmt: skip
    return table.assign(fails=lambda result: result["p_value"] < alpha)


def ph_remedy_strata(ph_table: pd.DataFrame, model: ChurnCox, max_strata: int = 2) -> list[str]:
    """Covariates to stratify on: the worst PH violators (at most ``max_strata``).

    Returns original ABT column names (a one-hot ``tier=wealth`` maps back to ``tier``; a
    ``log_aum`` to ``aum``). Stratifying removes the covariate's hazard ratio and gives each
    stratum its own baseline hazard, so its effect may change over tenure freely.
    """
    failing = ph_table[ph_table["fails"]].sort_values("p_value")
    chosen: list[str] = []
    for design_column in failing["covariate"]:
        column = design_column.split("=", 1)[0]
        if column.startswith("log_") and column[4:] in model.covariates:
            column = column[4:]
        if column in model.covariates and column not in chosen:
            chosen.append(column)
        if len(chosen) >= max_strata:
            break
    return chosen


def ph_notes(strata: list[str], sample_size: int, alpha: float, lang: str = "zh") -> list[Note]:
    """A remark: did proportional hazards hold and, if not, which remedy was applied."""
    if not strata:
        return [Note("surv_ph_ok", n=sample_size, alpha=alpha)]
    items = ", ".join(covariate_label(column, lang) for column in strata)
    return [Note("surv_ph_remedy", n=sample_size, alpha=alpha, items=items)]


def ph_in_words(
    ph_table: pd.DataFrame, strata: list[str], sample_size: int, alpha: float, lang: str = "zh"
) -> str:
    """Say whether proportional hazards held and, if not, which remedy was applied."""
    return " ".join(note.text(lang) for note in ph_notes(strata, sample_size, alpha, lang))
