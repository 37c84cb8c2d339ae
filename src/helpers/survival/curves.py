"""Survival analysis of customer churn (流失): who stays how long, and who is about to leave.

The time scale throughout is **tenure in months** (months since the account was opened).
Customers who opened before the data window are *left-truncated*: we only see them because they
were still there when the window opened, so each one enters the risk set at its tenure on entry
(``entry``), not at zero. Ignoring that ("pretending they joined when the window starts") makes
survival look far better than it is (FIELD-NOTES.md, "Left truncation, checked by simulation").

Main pieces
-----------
- :func:`prepare_frame`: a survival frame (``entry``, ``duration``, ``event``) from an ABT as of
  a month, optionally with follow-up capped at a number of months (for a time-split holdout).
- :func:`fit_kaplan_meier`, :func:`km_summary`, :func:`logrank_test`: descriptive curves by
  segment. The log-rank test honours delayed entry (lifelines' own test does not take entry
  times), and equals lifelines' ``multivariate_logrank_test`` when every entry is zero.
- :func:`fit_cumulative_incidence`: Aalen-Johansen curves for competing hard / soft churn.
- :func:`calibration_table`, :func:`brier_score`: predicted vs observed churn within h months.

The Cox model, its diagnostics and the early-warning list (流失预警名单) live in
:mod:`helpers.survival.cox`; plots in :mod:`helpers.survival.plots`; lifecycle stages in
:mod:`helpers.survival.lifecycle`; survival-based customer lifetime value in :mod:`helpers.survival.clv`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from lifelines import AalenJohansenFitter, KaplanMeierFitter
from lifelines.exceptions import StatError
from lifelines.statistics import (
    StatisticalResult,
    multivariate_logrank_test,
)
from scipy import stats

from helpers import i18n
from helpers.formatting import Note

SURVIVAL_COLUMNS = ("entry", "duration", "event")
#: The panel ABT columns :func:`prepare_frame` turns into :data:`SURVIVAL_COLUMNS`.
PANEL_SURVIVAL_INPUTS = ("tenure_months", "duration", "event")


# ----------------------------------------------------------------------------- checks
def _require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(
            f"{what}: missing column(s) {missing}; the table has {sorted(map(str, frame.columns))}"
        )


def _check_survival_columns(frame: pd.DataFrame, entry_col: str | None = "entry") -> None:
    """Raise a readable error for rows a survival fit cannot use."""
    columns = ["duration", "event"] + ([entry_col] if entry_col else [])
    _require_columns(frame, columns, "survival frame")
    problems = []
    duration = pd.to_numeric(frame["duration"], errors="coerce")
    bad = frame.index[duration.isna() | (duration <= 0)]
    if len(bad):
        problems.append(
            f"'duration' must be a positive number of months; {len(bad)} row(s) are not, "
            f"e.g. rows {list(bad[:5])} with values {frame.loc[bad[:5], 'duration'].tolist()}"
        )
    if entry_col:
        entry = pd.to_numeric(frame[entry_col], errors="coerce")
        bad = frame.index[entry.isna() | (entry < 0) | (entry >= duration)]
        if len(bad):
            problems.append(
                f"'{entry_col}' must be >= 0 and below 'duration'; {len(bad)} row(s) are not, "
                f"e.g. rows {list(bad[:5])}"
            )
    if frame["event"].isna().any():
        bad = frame.index[frame["event"].isna()]
        problems.append(f"'event' has {len(bad)} missing value(s), e.g. rows {list(bad[:5])}")
    if problems:
        raise ValueError("survival frame has rows that cannot be used:\n- " + "\n- ".join(problems))


# ----------------------------------------------------------------------------- frames
def prepare_frame(
    abt: pd.DataFrame,
    followup_months: int | None = None,
    flat: bool | None = None,
    check: bool = True,
) -> pd.DataFrame:
    """Survival frame for customers active at the ABT's as-of month.

    The time scale is tenure in months. Each customer enters at ``tenure_months`` (their
    tenure at the as-of month: they are known to be there then) and is followed until churn or
    the end of the data. With ``followup_months``, follow-up is cut at
    ``tenure_months + followup_months`` (administrative censoring), which is what keeps a
    time-split holdout honest: a model trained as of M - 2h sees nothing after M - h.

    Parameters
    ----------
    abt : DataFrame
        Output of ``helpers.features.abt.build_abt`` (panel: needs ``tenure_months``,
        ``duration``, ``event``) or the flat frame (``duration``, ``event``; entry is 0).
    followup_months : int, optional
        Cap on follow-up after the as-of month.
    flat : bool, optional
        Treat as flat (no delayed entry). Default: flat when ``tenure_months`` is absent.
    check : bool
        Validate that every row can enter a fit (``entry < duration``). Turn off for a
        scoring frame, where every row is censored at its as-of month (duration == entry).

    Returns
    -------
    DataFrame
        A copy of ``abt`` with ``entry`` (float), ``duration`` (float) and ``event`` (bool)
        set for the survival fit.
    """
    flat = "tenure_months" not in abt.columns if flat is None else flat
    _require_columns(abt, ["duration", "event"], "ABT for the survival frame")
    frame = abt.copy()
    frame["duration"] = pd.to_numeric(frame["duration"], errors="coerce").astype(float)
    frame["event"] = frame["event"].astype("boolean").fillna(False).astype(bool)
    if flat:
        frame["entry"] = 0.0
        # A flat extract counts whole months, so a customer who opened during the last month
        # has tenure 0; survival fits need positive times, so they count as half a month.
        frame.loc[frame["duration"] == 0, "duration"] = 0.5
    else:
        frame["entry"] = pd.to_numeric(frame["tenure_months"], errors="coerce").astype(float)
    if followup_months is not None:
        if flat:
            raise ValueError("followup_months needs an as-of month; a flat table has none")
        cap = frame["entry"] + float(followup_months)
        frame["event"] = frame["event"] & (frame["duration"] <= cap)
        frame["duration"] = np.minimum(frame["duration"], cap)
    if check:
        _check_survival_columns(frame)
    return frame


def event_counts(frame: pd.DataFrame, event_type_col: str | None = None) -> pd.DataFrame:
    """Customers, churn events, censored rows and the event share (and events by type).

    Returns a one-row table whose columns are label keys (``surv_customers``,
    ``surv_events``, ``surv_censored``, ``surv_event_rate``, and ``surv_events_<type>`` when
    ``event_type_col`` is given), ready for ``reporting.show(..., lang=...)``.
    """
    _require_columns(frame, ["event"], "survival frame")
    events = frame["event"].astype(bool)
    row = {
        "surv_customers": len(frame),
        "surv_events": int(events.sum()),
        "surv_censored": int((~events).sum()),
        "surv_event_rate": float(events.mean()) if len(frame) else float("nan"),
    }
    if event_type_col and event_type_col in frame.columns:
        counts = frame.loc[events, event_type_col].astype(str).value_counts()
        for event_type, count in counts.sort_index().items():
            row[f"surv_events_{event_type}"] = int(count)
    return pd.DataFrame([row])


# ----------------------------------------------------------------------------- Kaplan-Meier
def fit_kaplan_meier(
    frame: pd.DataFrame,
    group: str | None = None,
    entry_col: str | None = "entry",
    alpha: float = 0.05,
    min_size: int = 30,
) -> dict[str, KaplanMeierFitter]:
    """Kaplan-Meier curves (with delayed entry) overall or by a segment column.

    Parameters
    ----------
    frame : DataFrame with ``duration``, ``event`` and (unless ``entry_col`` is None) entry.
    group : column to split by; None gives one curve labelled ``"all"``.
    entry_col : column of entry times (tenure when observation starts); None ignores delayed
        entry (only right for data without left truncation, e.g. a flat table).
    alpha : 1 - confidence level of the bands.
    min_size : groups with fewer rows are left out (their curves are noise).

    Returns
    -------
    dict
        ``{segment label: fitted lifelines KaplanMeierFitter}``, in sorted segment order.
        A segment whose risk set empties early (few customers opened inside the window, so
        the early tenures are unobserved and lifelines raises ``StatError``) is left out too;
        the others are still drawn.
    """
    _check_survival_columns(frame, entry_col)
    if group is not None:
        _require_columns(frame, [group], "Kaplan-Meier by segment")
        pieces = [(str(key), part) for key, part in frame.groupby(group, observed=True, sort=True)]
    else:
        pieces = [("all", frame)]
    fitters = {}
    for label, part in pieces:
        if len(part) < min_size:
            continue
        try:
            fitters[label] = KaplanMeierFitter(alpha=alpha, label=label).fit(
                part["duration"],
                event_observed=part["event"].astype(bool),
                entry=part[entry_col] if entry_col else None,
            )
        except StatError:
            continue
    if not fitters:
        raise ValueError(
            f"no segment of {group or 'the data'} has enough customers ({min_size}+) observed "
            "from early tenures for a Kaplan-Meier curve"
        )
    return fitters


def survival_at(fitter: KaplanMeierFitter, times: Sequence[float]) -> np.ndarray:
    """Kaplan-Meier survival probability at each time (right-continuous step function)."""
    return fitter.survival_function_at_times(list(times)).to_numpy()


def km_summary(
    fitters: dict[str, KaplanMeierFitter], times: Sequence[float] = (12, 36, 60), lang: str = "zh"
) -> pd.DataFrame:
    """One row per curve: customers, events, median tenure (or "not reached"), S(t) at times.

    Columns: ``surv_segment``, ``surv_customers``, ``surv_events``, ``surv_median_months``
    (label keys) and ``S(<t>)`` for each time.

    The median is where the curve first drops to 0.5 or below; when it never does within the
    data, the table says "not reached" instead of inventing a number.
    """
    rows = []
    for label, fitter in fitters.items():
        median = fitter.median_survival_time_
        row = {
            "surv_segment": label,
            "surv_customers": int(fitter.event_table["entrance"].sum()),
            "surv_events": int(fitter.event_table["observed"].sum()),
            "surv_median_months": (
                i18n.t("surv_not_reached", lang) if not np.isfinite(median) else float(median)
            ),
        }
        for time, value in zip(times, survival_at(fitter, times), strict=True):
            row[f"S({int(time)})"] = float(value)
        rows.append(row)
    return pd.DataFrame(rows)


def logrank_test(
    frame: pd.DataFrame, group: str, entry_col: str | None = "entry"
) -> StatisticalResult:
    """Multivariate log-rank test across the segments in ``group``, honouring delayed entry.

    At each distinct event time the risk set of a segment holds its customers with
    ``entry < t <= duration``: a customer seen first at tenure ``entry`` is known to have
    survived up to it, so counting them among those at risk at ``entry`` would condition on
    survival. This is the risk set of lifelines' Cox fit with ``entry_col``, so the test is the
    score test of a Cox model on segment dummies.
    The statistic is the usual ``(O - E)' V^{-1} (O - E)`` over all but one segment, chi-square
    with k - 1 degrees of freedom. Without entry times (or all zero) this is exactly lifelines'
    ``multivariate_logrank_test``, which is what we call then.

    Returns
    -------
    lifelines.statistics.StatisticalResult
        ``test_statistic``, ``p_value``, ``degrees_of_freedom``.
    """
    _check_survival_columns(frame, entry_col)
    _require_columns(frame, [group], "log-rank test")
    labels = frame[group].astype(str).to_numpy()
    duration = frame["duration"].to_numpy(float)
    event = frame["event"].to_numpy(bool)
    if entry_col is None or not (frame[entry_col].to_numpy(float) > 0).any():
        return multivariate_logrank_test(duration, labels, event)
    entry = frame[entry_col].to_numpy(float)
    segments = np.unique(labels)
    if len(segments) < 2:
        raise ValueError(f"log-rank test needs at least two segments in {group!r}")
    times = np.unique(duration[event])
    # Per segment: at-risk counts and events at each event time, vectorised with searchsorted
    # on sorted arrays (no per-customer loop).
    at_risk = np.empty((len(segments), len(times)))
    deaths = np.empty((len(segments), len(times)))
    for index, segment in enumerate(segments):
        member = labels == segment
        seg_duration = np.sort(duration[member])
        seg_entry = np.sort(entry[member])
        still_in = len(seg_duration) - np.searchsorted(seg_duration, times, side="left")
        not_yet_entered = len(seg_entry) - np.searchsorted(seg_entry, times, side="left")
        at_risk[index] = still_in - not_yet_entered
        seg_events = np.sort(duration[member & event])
        deaths[index] = np.searchsorted(seg_events, times, side="right") - np.searchsorted(
            seg_events, times, side="left"
        )
    total_at_risk = at_risk.sum(axis=0)
    total_deaths = deaths.sum(axis=0)
    usable = total_at_risk > 0
    at_risk, deaths = at_risk[:, usable], deaths[:, usable]
    total_at_risk, total_deaths = total_at_risk[usable], total_deaths[usable]
    share = at_risk / total_at_risk
    observed_minus_expected = (deaths - total_deaths * share).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        tie_factor = np.where(
            total_at_risk > 1,
            total_deaths * (total_at_risk - total_deaths) / (total_at_risk - 1),
            0.0,
        )
    variance = np.diag((tie_factor * share).sum(axis=1)) - (tie_factor * share) @ share.T
    statistic = float(
        observed_minus_expected[:-1]
        @ np.linalg.solve(variance[:-1, :-1], observed_minus_expected[:-1])
    )
    degrees = len(segments) - 1
    return StatisticalResult(
        p_value=float(stats.chi2.sf(statistic, degrees)),
        test_statistic=statistic,
        name="multivariate_logrank_test_delayed_entry",
        degrees_of_freedom=degrees,
        null_distribution="chi squared",
    )


def logrank_notes(result: StatisticalResult, segment_label: str) -> list[Note]:
    """A remark reading a log-rank test: do the segments' survival curves differ?"""
    p_value = float(result.p_value)
    p_text = "< 0.001" if p_value < 0.001 else f"= {p_value:.3f}"
    key = "surv_logrank_differ" if p_value < 0.05 else "surv_logrank_same"
    return [
        Note(
            key,
            segment=segment_label,
            statistic=f"{float(result.test_statistic):,.1f}",
            df=int(getattr(result, "degrees_of_freedom", 1)),
            p=p_text,
        )
    ]


def logrank_in_words(result: StatisticalResult, segment_label: str, lang: str = "zh") -> str:
    """One sentence reading a log-rank test: do the segments' survival curves differ?"""
    return " ".join(note.text(lang) for note in logrank_notes(result, segment_label))


def km_entry_bias(frame: pd.DataFrame, times: Sequence[float] = (12, 36, 60, 120)) -> pd.DataFrame:
    """Survival at ``times`` with delayed entry vs naively ignoring it.

    The naive curve treats every customer as observed from tenure 0, so the long-tenured
    survivors who entered the window late inflate every early risk set and survival looks
    better than it is. The table is the teaching point and a regression check; its columns
    are label keys (tenure, survival with entry, naive survival, difference).
    """
    corrected = fit_kaplan_meier(frame, entry_col="entry")["all"]
    naive = fit_kaplan_meier(frame, entry_col=None)["all"]
    entry_corrected = survival_at(corrected, times)
    ignoring_entry = survival_at(naive, times)
    return pd.DataFrame(
        {
            "surv_tenure_months": list(times),
            "surv_survival_entry": entry_corrected,
            "surv_survival_naive": ignoring_entry,
            "surv_difference": ignoring_entry - entry_corrected,
        }
    )


# ----------------------------------------------------------------------------- evaluation
def _sample(frame: pd.DataFrame, cap: int | None, seed: int) -> pd.DataFrame:
    if cap is None or len(frame) <= cap:
        return frame
    return frame.sample(n=cap, random_state=np.random.default_rng(seed).integers(2**31))


def brier_score(probability: Iterable[float], observed: Iterable[bool]) -> float:
    """Mean squared difference between predicted probability and the 0/1 outcome."""
    probability = np.asarray(list(probability), dtype=float)
    observed = np.asarray(list(observed), dtype=float)
    return float(np.mean((probability - observed) ** 2))


def calibration_table(probability: pd.Series, observed: pd.Series, bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed churn rate by decile of predicted probability.

    Rows with a missing outcome (label window not yet known) are dropped.

    Returns
    -------
    DataFrame
        ``decile`` (1 = lowest risk), ``customers``, ``predicted``, ``observed``.
    """
    data = pd.DataFrame(
        {"predicted": np.asarray(probability, float), "observed": pd.array(observed, "boolean")}
    ).dropna()
    if data.empty:
        raise ValueError("calibration needs rows with a known outcome; none have one")
    ranks = data["predicted"].rank(method="first")
    data["decile"] = np.ceil(ranks / len(data) * bins).astype(int).clip(1, bins)
    table = data.groupby("decile").agg(
        customers=("predicted", "size"),
        predicted=("predicted", "mean"),
        observed=("observed", "mean"),
    )
    return table.reset_index()


# ----------------------------------------------------------------------------- competing risks
def fit_cumulative_incidence(
    frame: pd.DataFrame,
    group: str | None = "tier",
    event_type_col: str = "event_type",
    event_types: Sequence[str] = ("hard", "soft"),
    entry_col: str | None = "entry",
    seed: int = 0,
    sample_cap: int | None = 50000,
    min_size: int = 30,
) -> dict[tuple[str, str], AalenJohansenFitter]:
    """Aalen-Johansen cumulative incidence of each churn type, by segment.

    Hard closure and soft run-off compete: a customer who drained first cannot later be
    counted as closing, so 1 - KM of one type would overstate it. lifelines breaks tied
    monthly times by a tiny seeded jitter; the sample is capped because that step is slow.

    Returns
    -------
    dict
        ``{(segment, event_type): fitted AalenJohansenFitter}``.
    """
    _check_survival_columns(frame, entry_col)
    _require_columns(frame, [event_type_col], "competing risks")
    data = _sample(frame, sample_cap, seed)
    pieces = (
        [(str(key), part) for key, part in data.groupby(group, observed=True, sort=True)]
        if group
        else [("all", data)]
    )
    # Event code 0 = censored; 1, 2, ... = the event types in order.
    fitters = {}
    for label, part in pieces:
        if len(part) < min_size:
            continue
        code = np.zeros(len(part), dtype=int)
        for index, event_type in enumerate(event_types, start=1):
            code[
                (part["event"].to_numpy(bool))
                & (part[event_type_col].astype(str) == event_type).to_numpy()
            ] = index
        for index, event_type in enumerate(event_types, start=1):
            if not (code == index).any():
                continue
            fitter = AalenJohansenFitter(seed=seed, calculate_variance=False)
            # lifelines warns that it jitters tied times; with monthly data that is expected.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    fitter.fit(
                        part["duration"].to_numpy(float),
                        code,
                        event_of_interest=index,
                        entry=part[entry_col].to_numpy(float) if entry_col else None,
                        label=f"{label} {event_type}",
                    )
                except StatError:
                    # The risk set empties at early tenures (a small segment with almost
                    # nobody opened inside the window): no curve rather than a wrong one.
                    continue
            fitters[(label, event_type)] = fitter
    return fitters


def cumulative_incidence_table(
    fitters: dict[tuple[str, str], AalenJohansenFitter], times: Sequence[float] = (12, 60, 120)
) -> pd.DataFrame:
    """Cumulative incidence at ``times``: rows = segment, columns = ``<type>_<t>m``."""
    rows: dict[str, dict[str, float]] = {}
    for (segment, event_type), fitter in fitters.items():
        curve = fitter.cumulative_density_
        grid = curve.index.to_numpy(float)
        values = curve.iloc[:, 0].to_numpy(float)
        for time in times:
            position = np.searchsorted(grid, time, side="right") - 1
            value = values[position] if position >= 0 else 0.0
            rows.setdefault(segment, {})[f"{event_type}_{int(time)}m"] = float(value)
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("segment").reset_index()


def competing_risks_sentences(table: pd.DataFrame, time: int, lang: str = "zh") -> list[str]:
    """Per segment, whether customers leave mostly by closing or by draining (one sentence each)."""
    hard_col, soft_col = f"hard_{time}m", f"soft_{time}m"
    sentences = []
    for row in table.itertuples(index=False):
        hard = getattr(row, hard_col, np.nan) if hard_col in table.columns else 0.0
        soft = getattr(row, soft_col, np.nan) if soft_col in table.columns else 0.0
        hard = 0.0 if pd.isna(hard) else hard
        soft = 0.0 if pd.isna(soft) else soft
        key = "surv_cr_mostly_soft" if soft > hard else "surv_cr_mostly_hard"
        segment = (
            i18n.t(f"tier_{row.segment}", lang)
            if f"tier_{row.segment}" in i18n.catalogue()
            else row.segment
        )
        sentences.append(
            i18n.t(key, lang, segment=segment, time=time, hard=f"{hard:.1%}", soft=f"{soft:.1%}")
        )
    return sentences


def competing_risks_in_words(table: pd.DataFrame, time: int, lang: str = "zh") -> str:
    """Say, per segment, whether customers leave mostly by closing or by draining."""
    return " ".join(competing_risks_sentences(table, time, lang))
