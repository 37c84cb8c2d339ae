"""Which columns enter the Cox model: the bank default and the rule for any mapped table.

The notebook's ``cox_covariates`` parameter names ABT columns; an empty list means "choose
from the data" (:func:`default_covariates`). :class:`helpers.survival.cox.ChurnCox` turns the
chosen columns into a numeric design (one-hot levels, rare levels pooled: the constants here).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

# Default Cox covariates: behaviour the bank observes every month and can act on. Columns that
# are absent from a dataset (e.g. in flat mode) are dropped by :func:`available_covariates`.
DEFAULT_COVARIATES = (
    "aum",
    "aum_trend_3m",
    "payroll",
    "product_count",
    "digital_logins_3m",
    "digital_logins_avg_3m",  # the flat sample's name: a monthly average, not a sum
    "txn_count_3m",
    "contacts_3m",
    "age",
)


#: Categorical covariates: levels rarer than this share of rows (or RARE_LEVEL_ROWS rows)
#: are pooled into OTHER_LEVEL; text columns with more than MAX_COX_LEVELS levels are left out.
RARE_LEVEL_SHARE = 0.01
RARE_LEVEL_ROWS = 30
MAX_COX_LEVELS = 12
OTHER_LEVEL = "(other)"
#: Never Cox covariates: ids, PII, the survival outcome and labels, and time itself.
NOT_COVARIATES = frozenset(
    {
        "customer_id", "as_of", "rm_id", "branch_id", "name", "mobile", "entry", "duration",
        "event", "event_type", "churn_label", "churn_type_label", "treatment", "outcome",
        "tenure_months", "tier", "stage", "close_date", "close_reason",
    }
)  # fmt: skip


# ----------------------------------------------------------------------------- Cox design
def available_covariates(frame: pd.DataFrame, covariates: Iterable[str]) -> list[str]:
    """The requested covariates that exist in ``frame`` and vary (constant columns can't fit).

    An empty ``covariates`` means "choose from the data" (:func:`default_covariates`).
    """
    covariates = list(covariates)
    if not covariates:
        return default_covariates(frame)
    keep = []
    for column in covariates:
        if column in frame.columns and frame[column].nunique(dropna=True) > 1:
            keep.append(column)
    return keep


def default_covariates(frame: pd.DataFrame) -> list[str]:
    """Cox covariates when the notebook names none: the documented rule.

    A panel ABT (it has ``tenure_months``) uses :data:`DEFAULT_COVARIATES`, the monthly
    behaviour the bank observes. A flat table uses what the spec mapped: the value column
    (``aum``, entered as a logarithm), ``product_count``, and every feature column. Numbers
    and yes/no flags enter as they are; text columns are one-hot coded with the most frequent
    level as reference and levels under 1% of rows (or 30 rows) pooled into "(other)"; text
    with more than :data:`MAX_COX_LEVELS` levels, dates, identifiers, product flags and
    constant columns are left out.
    """
    if "tenure_months" in frame.columns:
        return available_covariates(frame, DEFAULT_COVARIATES)
    keep = []
    for column in frame.columns:
        if column in NOT_COVARIATES or column.startswith(("held_", "took_")):
            continue
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series) or series.nunique(dropna=True) < 2:
            continue
        if _is_categorical(series) and series.nunique(dropna=True) > MAX_COX_LEVELS:
            continue
        if not _is_categorical(series) and series.isna().any():
            continue
        keep.append(column)
    return keep


def _is_categorical(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))
