"""Feature columns by kind, shared by the model packages (propensity, the churn ranker).

Each model package decides which columns are out (identifiers, labels, what looks past the
as-of month); :func:`split_by_kind` sorts the rest by dtype, not by name: dates and columns
with fewer than two values are dropped, booleans and numbers are numeric, text with at most
``max_levels`` levels is categorical (more looks like an identifier and would not generalise).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def numpy_number(dtype) -> bool:
    """Whether ``dtype`` is a plain numpy float, integer or boolean (no missing-value mask)."""
    return isinstance(dtype, np.dtype) and dtype.kind in "fiub"


def split_by_kind(
    frame: pd.DataFrame, columns: list[str], max_levels: int, rows: np.ndarray | None = None
) -> tuple[list[str], list[str]]:
    """``(numeric, categorical)`` among ``columns`` of ``frame``, in their order.

    ``rows`` (optional boolean mask) judges the columns on those rows only, as
    ``split_by_kind(frame.loc[rows], ...)`` would, without copying the frame. Plain numpy
    numbers are tested for a second value without counting distinct values (a 1M-row column
    costs a hash of every value otherwise).
    """
    numeric, categorical = [], []
    for column in columns:
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            continue
        if numpy_number(series.dtype):
            values = series.to_numpy() if rows is None else series.to_numpy()[rows]
            if _varies(values):
                numeric.append(column)
            continue
        if rows is not None:
            series = series[rows]
        distinct = series.nunique(dropna=True)
        if distinct < 2:
            continue
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            numeric.append(column)
        elif distinct <= max_levels:
            categorical.append(column)
    return numeric, categorical


def _varies(values: np.ndarray) -> bool:
    """Whether a numpy array of numbers holds at least two distinct non-NaN values: the same
    answer as ``nunique(dropna=True) >= 2`` without hashing every value."""
    if values.dtype.kind == "f":
        values = values[~np.isnan(values)]
    return bool(len(values)) and bool((values != values[0]).any())
