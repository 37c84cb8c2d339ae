"""Customer lifecycle stages (客户生命周期) from tenure and AUM trend.

The rule, applied in this order (the first that matches wins):

1. **dormant** (休眠期): AUM below ``dormant_floor`` RMB, or no transactions in the last
   3 months (``txn_count_3m == 0``). A customer who has gone quiet is the retention team's
   business whatever their tenure, so this comes first.
2. **new** (新客期): tenure below ``new_months`` months.
3. **declining** (衰退期): AUM trend over the last 6 months at or below ``decline`` (e.g. -20%).
4. **growing** (成长期): AUM trend over the last 6 months at or above ``grow`` (e.g. +10%).
5. **mature** (成熟期): everyone else (settled customers with stable balances).

Stage-to-stage transitions compare two months' stages (previous vs current), with extra rows
and columns for customers who opened (not there last month) and who churned (not there now).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.formatting import skippable

STAGES = ("new", "growing", "mature", "declining", "dormant")
#: The ABT columns :func:`lifecycle_stage` reads with its default column names.
STAGE_COLUMNS = ("aum", "tenure_months", "txn_count_3m", "aum_trend_6m")
OPENED, EXITED = "opened", "exited"


def lifecycle_stage(
    abt: pd.DataFrame,
    new_months: int = 12,
    grow: float = 0.10,
    decline: float = -0.20,
    dormant_floor: float = 1000.0,
    trend_col: str = "aum_trend_6m",
    tenure_col: str = "tenure_months",
) -> pd.Series:
    """Lifecycle stage per customer (categorical with :data:`STAGES` in order).

    Parameters
    ----------
    abt : DataFrame with ``aum``, ``tenure_col`` and, when present, ``trend_col`` and
        ``txn_count_3m``. Without a trend column (a flat table) nobody is classed growing or
        declining: the stages are then new / mature / dormant only.
    new_months, grow, decline, dormant_floor : thresholds of the rule (module docstring).

    Returns
    -------
    Series named ``stage``, same index as ``abt``.
    """
    missing = [column for column in ("aum", tenure_col) if column not in abt.columns]
    if missing:
        raise ValueError(
            f"lifecycle stages need columns {missing}; the table has {sorted(abt.columns)}"
        )
    if decline >= 0 or grow <= 0:
        raise ValueError(f"need decline < 0 < grow, got decline={decline}, grow={grow}")
    aum = pd.to_numeric(abt["aum"], errors="coerce").to_numpy(float)
    tenure = pd.to_numeric(abt[tenure_col], errors="coerce").fillna(0).to_numpy(float)
    dormant = aum < dormant_floor  # a missing amount (no value column) is not "dormant"
    if "txn_count_3m" in abt.columns:
        dormant |= pd.to_numeric(abt["txn_count_3m"], errors="coerce").fillna(0).to_numpy() == 0
    if trend_col in abt.columns:
        trend = pd.to_numeric(abt[trend_col], errors="coerce").fillna(0).to_numpy(float)
    else:
        trend = np.zeros(len(abt))
    stage = np.select(
        [dormant, tenure < new_months, trend <= decline, trend >= grow],
        ["dormant", "new", "declining", "growing"],
        default="mature",
    )
    return pd.Series(pd.Categorical(stage, categories=STAGES), index=abt.index, name="stage")


@dataclass(frozen=True)
class LifecycleRule:
    """The thresholds of the lifecycle rule (module docstring), as the notebook sets them."""

    new_months: int = 12
    grow: float = 0.10
    decline: float = -0.20
    dormant_floor: float = 1000.0

    def stages(self, abt: pd.DataFrame, tenure_col: str = "tenure_months") -> pd.Series:
        """:func:`lifecycle_stage` of every customer in ``abt`` under this rule."""
        return lifecycle_stage(
            abt, self.new_months, self.grow, self.decline, self.dormant_floor, tenure_col=tenure_col
        )


def stage_sizes(
    stages: pd.Series, aum: pd.Series | None = None, lang: str | None = None
) -> pd.DataFrame:
    """Customers (and AUM) per stage, with shares; every stage listed, even if empty.

    Columns: ``surv_stage`` (a code, or its label when ``lang`` is given), ``customers``,
    ``share``, ``aum``.
    """
    table = stages.value_counts().reindex(list(STAGES), fill_value=0).rename("customers")
    table = table.to_frame()
    table["share"] = table["customers"] / max(int(table["customers"].sum()), 1)
    if aum is not None:
        table["aum"] = (
            aum.groupby(stages.to_numpy(), observed=False)
            .sum()
            .reindex(list(STAGES), fill_value=0.0)
        )
    table = table.rename_axis("surv_stage").reset_index()
    if lang:
        table["surv_stage"] = [stage_label(stage, lang) for stage in table["surv_stage"]]
    return table


def stage_transitions(
    previous: pd.DataFrame, current: pd.DataFrame, normalize: bool = False
) -> pd.DataFrame:
    """Stage-to-stage transition counts between two months.

    Parameters
    ----------
    previous, current : frames with ``customer_id`` and ``stage`` for the earlier and the later
        month (customers active at that month).
    normalize : return row shares (where last month's customers went) instead of counts.

    Returns
    -------
    DataFrame
        Rows = previous stage plus ``opened`` (customers new to the book); columns = current
        stage plus ``exited`` (customers no longer active: churned or closed).
    """
    for name, frame in (("previous", previous), ("current", current)):
        missing = [c for c in ("customer_id", "stage") if c not in frame.columns]
        if missing:
            raise ValueError(f"stage_transitions: {name} frame lacks columns {missing}")
    merged = previous[["customer_id", "stage"]].merge(
        current[["customer_id", "stage"]],
        on="customer_id",
        how="outer",
        suffixes=("_previous", "_current"),
    )
    before = merged["stage_previous"].astype(object).fillna(OPENED)
    after = merged["stage_current"].astype(object).fillna(EXITED)
    rows = [*STAGES, OPENED]
    columns = [*STAGES, EXITED]
    table = pd.crosstab(before, after).reindex(index=rows, columns=columns, fill_value=0)
    table.loc[OPENED, EXITED] = 0  # opened and gone within one month never appears in both
    table.index.name, table.columns.name = "previous_stage", "current_stage"
    if normalize:
        totals = table.sum(axis=1).replace(0, np.nan)
        table = table.div(totals, axis=0).fillna(0.0)
    return table


def stage_label(stage: str, lang: str = "zh") -> str:
    """Label for a stage code (or the ``opened`` / ``exited`` margins)."""
    key = {OPENED: "surv_stage_opened", EXITED: "surv_stage_exited"}.get(
        stage, f"surv_stage_{stage}"
    )
    return i18n.t(key, lang)


@skippable
def label_transitions(table: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The transition table with translated row and column labels, for display."""
    labelled = table.copy()
    labelled.index = [stage_label(stage, lang) for stage in table.index]
    labelled.columns = [stage_label(stage, lang) for stage in table.columns]
    labelled.index.name = i18n.t("surv_previous_stage", lang)
    labelled.columns.name = i18n.t("surv_current_stage", lang)
    return labelled
