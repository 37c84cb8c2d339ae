"""Converting text columns to canonical kinds, never by guessing.

Every file is read as text first (ids keep leading zeros and all 19 digits). These functions
turn a text column into numbers, dates, booleans or ids; a value that does not convert is
recorded as a "wrong type" :class:`~helpers.data.problems.Problem` with its row.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from helpers.data.problems import KIND_WORDS, Problem

DAYS_PER_MONTH = 365.25 / 12
TRUE_WORDS = {"true", "t", "yes", "y", "1", "1.0", "是", "真", "有"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "0.0", "否", "假", "无"}


# --------------------------------------------------------------------------------------------
# Conversion to canonical kinds
# --------------------------------------------------------------------------------------------


def _text(series: pd.Series) -> pd.Series:
    """Strip whitespace; empty strings become missing."""
    text = series.astype("string").str.strip()
    return text.mask(text == "")


def _numbers(series: pd.Series, options: dict) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float)
    text = _text(series)
    decimal = options.get("decimal", ".")
    # Thousands separators are removed by default (1,234.50) unless ',' is the decimal mark.
    thousands = options.get("thousands", "," if decimal != "," else None)
    if thousands:
        text = text.str.replace(thousands, "", regex=False)
    text = text.str.replace("¥", "", regex=False).str.replace("￥", "", regex=False)
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype(float)


#: Day and month first, year last (03-05-2019, 3/5/19): 3 May or 5 March? Never guessed.
_DAY_MONTH_YEAR = re.compile(r"^\s*\d{1,2}[-/.]\d{1,2}[-/.](\d{2}|\d{4})(?:[ T].*)?$")


def ambiguous_dates(series: pd.Series, options: dict) -> pd.Series:
    """Rows whose date puts day and month first (``03-05-2019``) with no convention declared.

    The spec declares one with ``date_format:`` (e.g. ``"%d-%m-%Y"``) or ``dayfirst: true``
    (``false`` for month first). Without it such a date is reported, never guessed.
    """
    if "date_format" in options or "dayfirst" in options:
        return pd.Series(False, index=series.index)
    if not (ptypes.is_object_dtype(series.dtype) or ptypes.is_string_dtype(series.dtype)):
        return pd.Series(False, index=series.index)
    text = _text(series)
    return text.str.match(_DAY_MONTH_YEAR).fillna(False).astype(bool)


def _dates(series: pd.Series, options: dict | None = None) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.astype("datetime64[ns]")
    options = options or {}
    text = _text(series).astype(object)
    if "date_format" in options:
        parsed = pd.to_datetime(text, errors="coerce", format=options["date_format"])
    else:
        parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    retry = parsed.isna() & text.notna()
    if retry.any():
        parsed[retry] = pd.to_datetime(text[retry], errors="coerce", format="ISO8601")
    retry = parsed.isna() & text.notna() & ~ambiguous_dates(series, options)
    if retry.any():  # other spellings (2024/1/31, 20240131) element by element, only where needed
        parsed[retry] = pd.to_datetime(
            text[retry], errors="coerce", format="mixed", dayfirst=bool(options.get("dayfirst"))
        )
    return parsed.astype("datetime64[ns]")


def _bools(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("boolean")
    text = _text(series).str.lower()
    result = pd.Series(pd.NA, index=series.index, dtype="boolean")
    result[text.isin(TRUE_WORDS).fillna(False).astype(bool)] = True
    result[text.isin(FALSE_WORDS).fillna(False).astype(bool)] = False
    return result


def _ids(series: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(series.dtype):
        # a float id column (from Parquet/Excel) prints 123.0: drop the spurious decimal
        whole = series.dropna() % 1 == 0
        if whole.all():
            series = series.astype("Int64")
    text = _text(series.astype(object).where(series.notna(), None))
    return text.astype(object).where(text.notna(), None)


def convert_column(
    series: pd.Series, kind: str, options: dict, typed: bool = False
) -> tuple[pd.Series, pd.Series]:
    """Convert one column to a canonical kind.

    ``typed=True`` (Parquet) trusts text columns as they are; CSV/Excel text is stripped of
    surrounding blanks and empty cells become missing.

    Returns
    -------
    (converted, failed) : tuple of Series
        ``failed`` is a boolean mask of rows that had a value which did not convert.
    """
    dtype = series.dtype
    # Fast paths: a typed column (Parquet, Excel numbers) that already fits needs no parsing.
    if (
        kind in {"int", "float"}
        and ptypes.is_numeric_dtype(dtype)
        and not ptypes.is_bool_dtype(dtype)
    ):
        converted = series if kind == "int" and ptypes.is_integer_dtype(dtype) else None
        if converted is None:
            converted = series.astype(float)
            if kind == "int" and converted.notna().all() and (converted % 1 == 0).all():
                converted = converted.astype("int64")
        return converted, pd.Series(False, index=series.index)
    if kind == "date" and ptypes.is_datetime64_any_dtype(dtype):
        return series.astype("datetime64[ns]"), pd.Series(False, index=series.index)
    if kind == "bool" and ptypes.is_bool_dtype(dtype) and series.notna().all():
        return series.astype(bool), pd.Series(False, index=series.index)
    if kind in {"id", "str"} and typed and ptypes.is_object_dtype(dtype):
        if pd.api.types.infer_dtype(series, skipna=True) in {"string", "empty"}:
            return series, pd.Series(False, index=series.index)
    present = series.notna() & (series.astype("string").str.strip() != "").fillna(False)
    if kind in {"id", "str"}:
        converted = _ids(series) if kind == "id" else _text(series).astype(object)
        if kind == "str":
            converted = converted.where(converted.notna(), None)
        return converted, pd.Series(False, index=series.index)
    if kind in {"int", "float"}:
        converted = _numbers(series, options)
    elif kind == "date":
        converted = _dates(series, options)
    elif kind == "bool":
        converted = _bools(series)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    failed = present & converted.isna()
    if kind == "int" and not failed.any() and converted.notna().all():
        fractional = converted % 1 != 0
        if fractional.any():
            return converted, fractional
        converted = converted.astype("int64")
    if kind == "bool" and converted.notna().all():
        converted = converted.astype(bool)
    return converted, failed


def _wrong_type_problem(table, column, kind, raw: pd.Series, failed: pd.Series) -> Problem:
    positions = np.flatnonzero(failed.to_numpy()) + 1
    return Problem(
        table,
        column,
        "wrong type",
        KIND_WORDS[kind],
        rows=positions.tolist(),
        values=raw[failed].head(10).tolist(),
    )
