"""Which months train, evaluate and score the churn model: the observation / performance windows.

With history (panel mode), a report month M and the churn horizon h (``churn_horizon_months``):

- **time split** (enough history): train on customers active at ``M - 2h`` followed up to
  ``M - h``; evaluate on customers active at ``M - h`` followed up to ``M`` (their labels are
  known); the final model is refitted on the evaluation frame (the most recent labels) and
  scores the customers active at ``M``. Nothing the model is trained on peeks past the
  evaluation window, so the holdout concordance and calibration are honest.
- **random split** (too little history for two windows): the frame as of ``M - h`` is split at
  random into training and holdout customers.
- **flat** (one customer table, no history): random split of the whole table without delayed
  entry; the customers who have not churned are scored at their current tenure.

Customers already draining at an as-of month (a run-off under way that the churn definition
has not confirmed yet: :func:`helpers.features.draining_customers`) are left out of every
frame here, training, holdout and scoring alike: their "churn" is already happening, so
learning from them teaches the model to spot run-offs, not to warn about customers who can
still be kept. They are listed separately (:func:`draining_at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.config import ChurnDefinition
from helpers.features import build_abt, draining_customers
from helpers.survival.curves import PANEL_SURVIVAL_INPUTS, prepare_frame

# Trailing 3-month features need three months of history at the training as-of month.
MIN_HISTORY_MONTHS = 3


@dataclass(frozen=True)
class SplitPlan:
    """Months used by the churn model (``None`` where a mode has no such month)."""

    mode: str  # "time", "random" or "flat"
    horizon: int
    train_as_of: str | None = None
    eval_as_of: str | None = None
    score_as_of: str | None = None
    holdout_share: float = 0.3

    @property
    def tenure_col(self) -> str:
        """Column holding a scored customer's current tenure (see :func:`scoring_frame`)."""
        return "duration" if self.mode == "flat" else "tenure_months"

    def describe(self, lang: str = "zh") -> str:
        """How the holdout was made, in words."""
        if self.mode == "time":
            return i18n.t("surv_split_time", lang, train=self.train_as_of, eval=self.eval_as_of)
        return i18n.t("surv_split_random", lang, share=self.holdout_share)


def data_months(ds) -> list[str]:
    """The dataset's months; empty for a flat dataset (what :func:`split_plan` expects)."""
    return [] if ds.mode == "flat" else ds.months()


def plan_for(ds, month: str | None, horizon: int, holdout_share: float = 0.3) -> SplitPlan:
    """:func:`split_plan` for dataset ``ds`` at report month ``month``."""
    return split_plan(data_months(ds), month, horizon, holdout_share)


def split_plan(
    months: list[str] | None, month: str | None, horizon: int, holdout_share: float = 0.3
) -> SplitPlan:
    """Choose the split for report month ``month`` given the data's ``months`` (module doc).

    ``months`` empty or None means a flat dataset.

    Raises
    ------
    ValueError
        When the report month leaves fewer than ``horizon`` months of history before it.
    """
    if not months:
        return SplitPlan("flat", horizon, holdout_share=holdout_share)
    if month not in months:
        raise ValueError(f"month {month!r} is not in the data ({months[0]} to {months[-1]})")
    position = months.index(month)
    if position - horizon < 0:
        raise ValueError(
            f"the churn model needs {horizon} months of data before {month} to learn from "
            f"(churn_horizon_months = {horizon}); the data start at {months[0]}. Choose a later "
            "month or a shorter churn_horizon_months."
        )
    if position - 2 * horizon >= MIN_HISTORY_MONTHS:
        return SplitPlan(
            "time",
            horizon,
            train_as_of=months[position - 2 * horizon],
            eval_as_of=months[position - horizon],
            score_as_of=month,
            holdout_share=holdout_share,
        )
    return SplitPlan(
        "random",
        horizon,
        eval_as_of=months[position - horizon],
        score_as_of=month,
        holdout_share=holdout_share,
    )


#: Tier of every customer when a flat table maps neither a value nor a tier column.
NO_TIER = "all"


def flat_abt(ds, churn: ChurnDefinition | None = None, ladder: pd.DataFrame | None = None):
    """The flat ABT for the survival steps, whatever the spec maps.

    A table without a value column gets ``aum`` missing (nothing is "at risk" in money, and
    nobody is called dormant for it); without value or tier, everyone is in one tier
    (:data:`NO_TIER`), so the curves by tier show one curve and the test by tier is skipped.
    """
    abt = build_abt(ds, churn=churn, ladder=ladder)
    if "aum" not in abt.columns:
        abt["aum"] = np.nan
    if "tier" not in abt.columns:
        abt["tier"] = NO_TIER
    return abt


def without_draining(abt: pd.DataFrame, ds, as_of: str | None, churn) -> pd.DataFrame:
    """``abt`` without the customers draining at ``as_of``; ``attrs["draining"]`` counts them."""
    draining = draining_customers(ds, as_of, churn)
    keep = ~abt["customer_id"].isin(set(draining["customer_id"]))
    result = abt[keep].reset_index(drop=True)
    result.attrs.update(abt.attrs)
    result.attrs["draining"] = int((~keep).sum())
    return result


def draining_at(
    ds, plan: SplitPlan, churn: ChurnDefinition | None = None, ladder: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The ABT rows (at the report month) of the customers already draining, with their run."""
    churn = churn or ChurnDefinition()
    if plan.mode == "flat":
        return pd.DataFrame(columns=["customer_id", "onset_month", "months_flagged"])
    draining = draining_customers(ds, plan.score_as_of, churn)
    abt = build_abt(ds, plan.score_as_of, plan.horizon, churn, ladder=ladder)
    return abt.merge(draining, on="customer_id", how="inner")


def _random_halves(
    frame: pd.DataFrame, share: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    holdout = np.random.default_rng(seed).random(len(frame)) < share
    return frame[~holdout], frame[holdout]


def model_frames(
    ds,
    plan: SplitPlan,
    churn: ChurnDefinition | None = None,
    seed: int = 0,
    ladder: pd.DataFrame | None = None,
    columns: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(training, holdout, final) survival frames for ``plan``, without the already draining.

    ``final`` is what the scoring model is refitted on: the holdout frame's window (time
    split) or the whole frame (random split, flat). ``ladder`` tiers the customers (default:
    the bundled ladder). Panel frames carry ``attrs["draining"]``: how many customers
    draining at that as-of month were left out. ``columns``: panel frames of these ABT
    columns only, besides the survival columns (``build_abt``'s ``columns``; e.g. a Cox
    model's covariates, when nothing else reads the frames).
    """

    churn = churn or ChurnDefinition()
    if columns is not None and plan.mode != "flat":
        columns = [*columns, *PANEL_SURVIVAL_INPUTS]
    if plan.mode == "flat":
        whole = prepare_frame(flat_abt(ds, churn, ladder), flat=True)
        train, holdout = _random_halves(whole, plan.holdout_share, seed)
        return train, holdout, whole
    evaluation = prepare_frame(
        without_draining(
            build_abt(ds, plan.eval_as_of, plan.horizon, churn, ladder=ladder, columns=columns),
            ds, plan.eval_as_of, churn,
        ),
        followup_months=plan.horizon,
    )  # fmt: skip
    if plan.mode == "time":
        train = prepare_frame(
            without_draining(
                build_abt(
                    ds, plan.train_as_of, plan.horizon, churn, ladder=ladder, columns=columns
                ),
                ds, plan.train_as_of, churn,
            ),
            followup_months=plan.horizon,
        )  # fmt: skip
        return train, evaluation, evaluation
    train, holdout = _random_halves(evaluation, plan.holdout_share, seed)
    return train, holdout, evaluation


def scoring_frame(
    ds,
    plan: SplitPlan,
    churn: ChurnDefinition | None = None,
    ladder: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, str]:
    """(customers to score, column holding their current tenure: ``plan.tenure_col``).

    Panel: the ABT at the report month (``tenure_months``) without the customers already
    draining (listed by :func:`draining_at`). Flat: the customers who have not churned, whose
    current tenure is ``duration``. ``ladder`` tiers them (default: bundled).
    """

    churn = churn or ChurnDefinition()
    if plan.mode == "flat":
        abt = flat_abt(ds, churn, ladder)
        return abt[~abt["event"].astype(bool)].reset_index(drop=True), plan.tenure_col
    scoring = build_abt(ds, plan.score_as_of, plan.horizon, churn, ladder=ladder)
    return without_draining(scoring, ds, plan.score_as_of, churn), plan.tenure_col
