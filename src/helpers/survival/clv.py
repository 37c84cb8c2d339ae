"""Survival-based customer lifetime value (客户生命周期价值, CLV).

Formula (monthly, discrete time). For a customer active now, with conditional survival
``S(k) = P(still a customer after k more months | a customer now)`` from the Cox model
(``S(0) = 1``), monthly margin ``m`` and monthly discount factor
``v = (1 + annual_discount_rate) ** (-1 / 12)``::

    expected_months = sum_{k=1..H} S(k - 1)                 (restricted mean survival within H)
    clv             = m * sum_{k=1..H} S(k - 1) * v ** k

The customer earns month k's margin if still there at the start of month k, and it is paid
(discounted) at the end of month k. ``expected_months`` is exactly the area under the step
survival curve from 0 to H (lifelines' ``restricted_mean_survival_time`` of that curve).

Monthly margin ``m`` = sum over balance columns of ``balance x annual rate / 12`` (catalogue
``helpers.config.margin_rates()``) + ``card_spend_3m / 3 x card flow rate``. A flat table with
only ``aum`` uses ``aum x flat_margin_rate / 12``, by default the mean of the catalogue's
deposit and investment balance rates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from helpers.config import ChurnDefinition, margin_rates
from helpers.features import abt_columns, stratified_rows
from helpers.survival.covariates import DEFAULT_COVARIATES, available_covariates
from helpers.survival.cox import ChurnCox
from helpers.survival.workflow import model_frames, scoring_frame, split_plan

CLV_COLUMNS = ["customer_id", "clv", "expected_months", "monthly_margin", "p_churn_h"]
_ASSET_BALANCES = ("demand_deposit", "time_deposit", "wealth_mgmt", "funds", "insurance")


def monthly_margin(
    frame: pd.DataFrame,
    balance_margins: Mapping[str, float] | None = None,
    flow_margins: Mapping[str, float] | None = None,
    flat_margin_rate: float | None = None,
) -> pd.Series:
    """Monthly margin (RMB) per customer from balances and card spend (module docstring).

    Raises
    ------
    ValueError
        When the frame has neither balance columns nor ``aum``.
    """
    default_balance, default_flow = margin_rates()
    balance_margins = dict(balance_margins or default_balance)
    flow_margins = dict(flow_margins or default_flow)
    present = [column for column in balance_margins if column in frame.columns]
    if present:
        margin = pd.Series(0.0, index=frame.index)
        for column in present:
            balance = pd.to_numeric(frame[column], errors="coerce").fillna(0.0).clip(lower=0)
            margin += balance * balance_margins[column] / 12
        if "card_spend_3m" in frame.columns and "card_spend" in flow_margins:
            spend = pd.to_numeric(frame["card_spend_3m"], errors="coerce").fillna(0.0) / 3
            margin += spend.clip(lower=0) * flow_margins["card_spend"]
        return margin.rename("monthly_margin")
    if "aum" in frame.columns:
        if flat_margin_rate is None:
            flat_margin_rate = float(
                np.mean([balance_margins[c] for c in _ASSET_BALANCES if c in balance_margins])
            )
        aum = pd.to_numeric(frame["aum"], errors="coerce").fillna(0.0).clip(lower=0)
        return (aum * flat_margin_rate / 12).rename("monthly_margin")
    raise ValueError(
        f"monthly_margin: the table has no balance columns ({sorted(balance_margins)}) and no "
        f"'aum' column; it has {sorted(frame.columns)}"
    )


def discounted_value(
    survival: np.ndarray, margin: Sequence[float] | np.ndarray, annual_discount_rate: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """CLV and expected months from a conditional survival matrix (module docstring formula).

    Parameters
    ----------
    survival : array ``n x (H + 1)``, column k = S(k), column 0 = 1.
    margin : monthly margin per customer (length n).
    annual_discount_rate : e.g. 0.05 for 5% a year.

    Returns
    -------
    (clv, expected_months) : two arrays of length n.
    """
    survival = np.atleast_2d(np.asarray(survival, dtype=float))
    if annual_discount_rate <= -1:
        raise ValueError(f"annual_discount_rate must be above -1, not {annual_discount_rate}")
    horizon = survival.shape[1] - 1
    alive_at_start = survival[:, :horizon]  # S(0) .. S(H-1)
    discount = (1 + annual_discount_rate) ** (-np.arange(1, horizon + 1) / 12)
    expected_months = alive_at_start.sum(axis=1)
    clv = np.asarray(margin, dtype=float) * (alive_at_start @ discount)
    return clv, expected_months


def clv_frame(
    model: ChurnCox,
    scoring: pd.DataFrame,
    horizon: int = 36,
    churn_horizon: int = 6,
    annual_discount_rate: float = 0.05,
    current_col: str = "tenure_months",
    flat_margin_rate: float | None = None,
) -> pd.DataFrame:
    """CLV artifact rows for every customer in ``scoring`` (one row each, same order).

    Returns
    -------
    DataFrame with :data:`CLV_COLUMNS`: ``customer_id``, ``clv`` (RMB, discounted),
    ``expected_months`` (restricted mean within ``horizon``), ``monthly_margin``,
    ``p_churn_h`` (P(churn within ``churn_horizon`` months): the scored ``p_churn`` when
    ``scoring`` has one, so CLV, the warning list and the churn KPIs state one probability;
    else the Cox model's).
    """
    months = max(horizon, churn_horizon)
    survival = model.survival_matrix(scoring, months, current_col=current_col)
    margin = monthly_margin(scoring, flat_margin_rate=flat_margin_rate)
    clv, expected = discounted_value(survival[:, : horizon + 1], margin, annual_discount_rate)
    return pd.DataFrame(
        {
            "customer_id": scoring["customer_id"].astype(str).to_numpy(),
            "clv": clv,
            "expected_months": expected,
            "monthly_margin": margin.to_numpy(float),
            "p_churn_h": (
                scoring["p_churn"].to_numpy(float)
                if "p_churn" in scoring.columns
                else 1.0 - survival[:, churn_horizon]
            ),
        }
    )


def customer_clv(
    ds,
    as_of: str | None = None,
    horizon: int = 36,
    churn_horizon: int = 6,
    churn: ChurnDefinition | None = None,
    annual_discount_rate: float = 0.05,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    penalizer: float = 0.01,
    fit_cap: int | None = 100_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Survival-based CLV for every customer active at ``as_of`` (the Retention ROI fallback).

    The Cox model is fitted on at most ``fit_cap`` customers (stratified by ``event``, no
    repeats; None = all, as ``fit_sample_cap`` in the notebooks); every customer is scored.

    Panel mode: a Cox model is trained on customers active at ``as_of - churn_horizon``,
    followed up to ``as_of`` with delayed entry, and applied to the ABT at ``as_of``.
    Flat mode: trained on the whole table (no delayed entry) and applied to customers who have
    not churned, their current tenure being ``duration``. (The survival notebook also picks the
    penalizer by cross-validation and checks proportional hazards; this fallback does not.)

    Returns
    -------
    DataFrame with :data:`CLV_COLUMNS`.
    """

    churn = churn or ChurnDefinition()
    months = ds.months() if ds.mode == "panel" else []
    as_of = (as_of or ds.latest_month()) if months else None
    plan = split_plan(months, as_of, churn_horizon)
    # Only the covariates' columns: nothing else reads these frames (at a million customers
    # the whole ABT of a month the run needs nowhere else costs ~13 s, these ~4 s).
    columns = [c for c in covariates if c in abt_columns()] if plan.mode != "flat" else None
    _, _, final = model_frames(ds, plan, churn, columns=columns)
    rows = stratified_rows(final["event"].astype(bool).to_numpy(), fit_cap, seed)
    model = ChurnCox(available_covariates(final, covariates), penalizer).fit(final.iloc[rows])
    scoring, current_col = scoring_frame(ds, plan, churn)
    return clv_frame(
        model, scoring, horizon, churn_horizon, annual_discount_rate, current_col=current_col
    )
