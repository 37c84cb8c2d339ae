"""Numbers and codes as a manager reads them: money in 万/亿 or thousand/million/billion,
percentages and percentage points, p-values, booleans as words, codes (tiers, stages,
offers, products, features) translated, headers in words. Part of :mod:`helpers.formatting`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from helpers import i18n


# ----------------------------------------------------------------------------- formatting
def round_half_up(value: float, decimals: int = 0) -> Decimal:
    """Round like a bank (half up), not like Python (half to even): 340.25 -> 340.3."""
    quantum = Decimal(1).scaleb(-decimals)
    return Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)


def format_number(value: Any, decimals: int = 0) -> str:
    """Thousands separators and half-up rounding; blanks for missing values."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    try:
        return f"{round_half_up(float(value), decimals):,.{decimals}f}"
    except (InvalidOperation, ValueError, TypeError):
        return str(value)


def format_pct(value: Any, decimals: int = 1) -> str:
    """A share (0.1234) as a percentage with half-up rounding ("12.3%")."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return f"{format_number(float(value) * 100, decimals)}%"


#: Columns that hold identifiers: never translated as codes, always text.
ID_COLUMNS = frozenset({"customer_id", "rm_id", "branch_id", "campaign_id", "name", "mobile"})


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def currency_symbol(currency: str | None = None) -> str:
    """The symbol of an ISO currency code (``CNY`` -> ``¥``); unknown codes as ``XYZ ``.

    None: the run's currency (the spec's, through :func:`helpers.i18n.vocabulary`).
    """
    code = (currency or i18n.vocabulary().currency or "CNY").upper()
    if code == "RMB":
        code = "CNY"
    return i18n.CURRENCIES.get(code, (code, code, f"{code} "))[2]


def format_money(
    value: Any, lang: str = "zh", currency: str | None = None, compact: bool = True
) -> str:
    """An amount as a manager reads it: ``¥1.49亿`` / ``¥1.49 billion``, ``¥12.3万``.

    ``compact`` scales large amounts: in Chinese by 万 (10^4) and 亿 (10^8); in English by
    thousand, million and billion. Without it, whole units with thousands separators
    (``¥1,234,568``). Rounded half up; a missing value is an empty string.
    """
    if _missing(value):
        return ""
    number = float(value)
    sign = "-" if number < 0 else ""
    size = abs(number)
    symbol = currency_symbol(currency)
    if not compact or size < 10_000:
        return f"{sign}{symbol}{format_number(size, 0)}"
    if lang == "zh":
        unit, scale = ("亿", 1e8) if size >= 1e8 else ("万", 1e4)
        return f"{sign}{symbol}{_significant(size / scale)}{unit}"
    for word, scale in (("billion", 1e9), ("million", 1e6)):
        if size >= scale:
            return f"{sign}{symbol}{_significant(size / scale)} {word}"
    return f"{sign}{symbol}{format_number(size, 0)}"


def _significant(number: float) -> str:
    """Three significant figures for a scaled amount: 1.49, 12.3, 149 (half up)."""
    places = 2 if number < 10 else 1 if number < 100 else 0
    return format_number(number, places)


def format_pp(value: Any, lang: str = "zh", decimals: int = 1, signed: bool = True) -> str:
    """A difference of two shares in percentage points: ``+0.5 个百分点`` / ``+0.5 pp``."""
    if _missing(value):
        return ""
    points = float(value) * 100
    text = format_number(abs(points), decimals)
    if float(text.replace(",", "")) == 0:
        points = 0.0  # no "-0.0": a change that rounds to nothing has no direction
    sign = ("+" if points > 0 else "-" if points < 0 else "±") if signed else "-" * (points < 0)
    return f"{sign}{text} 个百分点" if lang == "zh" else f"{sign}{text} pp"


def format_p_value(value: Any) -> str:
    """A p-value: ``<0.001`` below one in a thousand, otherwise three decimals."""
    if _missing(value):
        return ""
    number = float(value)
    return "<0.001" if number < 0.001 else format_number(number, 3)


def format_bool(value: Any, lang: str = "zh") -> str:
    """A boolean as a word: 是/否, Yes/No; missing stays blank."""
    if _missing(value):
        return ""
    return i18n.t(f"code.boolean.{bool(value)}", lang)


def readable_decimals(series: pd.Series) -> int:
    """Few decimals that still tell the values apart: 0 for large numbers, up to 3 for small."""
    values = pd.to_numeric(series, errors="coerce").abs()
    values = values[np.isfinite(values)]
    if values.empty:
        return 0
    typical = float(values.median())
    if typical >= 100:
        return 0
    if typical >= 1:
        return 2
    return 3


def _plain_float(value: Any) -> Any:
    """Floats (not bools, not ints) of a mixed column, for choosing its decimals."""
    if isinstance(value, (float, np.floating)) and not isinstance(value, bool):
        return value
    return np.nan


def _mixed_cell(value: Any, decimals: int, lang: str) -> Any:
    """One cell of a mixed (object) column: floats rounded, booleans as words, rest as is."""
    if isinstance(value, (bool, np.bool_)):
        return format_bool(value, lang)
    if isinstance(value, (float, np.floating)):
        return format_number(value, 0 if float(value).is_integer() else decimals)
    return value


def _is_p_value_column(column: object) -> bool:
    name = str(column).lower()
    return name in {"p", "p_value", "pvalue", "p-value"} or name.endswith("p_value")


def code_lists() -> dict[str, list[str]]:
    """Every code list of ``locales/codes.yaml``: ``{"tier": ["mass", ...], ...}``."""
    lists: dict[str, list[str]] = {}
    for key in i18n.catalogue():
        if key.startswith("code."):
            _, name, code = key.split(".", 2)
            lists.setdefault(name, []).append(code)
    return lists


@lru_cache(maxsize=1)
def _code_map() -> dict[str, str]:
    """Code -> label key over every code list (built once: the catalogue is fixed)."""
    mapping: dict[str, str] = {}
    for name, codes in code_lists().items():
        if name == "boolean":
            continue
        for code in codes:
            mapping.setdefault(code, f"code.{name}.{code}")
    return mapping


def translate_code(value: Any, lang: str = "zh", list_name: str | None = None) -> Any:
    """The words for a code (``mass`` -> 大众客户 / Mass); anything else unchanged.

    ``list_name`` restricts the look-up to one code list (``tier``, ``product``, ...).
    """
    if not isinstance(value, str):
        return value
    if list_name is not None:
        key = f"code.{list_name}.{value}"
        return i18n.t(key, lang) if key in i18n.catalogue() else value
    mapping = _code_map()
    key = mapping.get(value)
    if key is None and ", " in value:
        parts = value.split(", ")
        if all(part in mapping for part in parts):  # a list of codes: "aum, payroll"
            separator = "、" if lang == "zh" else ", "
            return separator.join(i18n.t(mapping[part], lang) for part in parts)
    return value if key is None else i18n.t(key, lang)


def _unique_labels(columns, lang: str) -> dict:
    """Headers in words; two columns that read the same get a counter rather than clash."""
    renames: dict = {}
    seen: dict = {}
    for column in columns:
        if not isinstance(column, str):
            continue
        label = column_label(column, lang)
        seen[label] = seen.get(label, 0) + 1
        renames[column] = label if seen[label] == 1 else f"{label} ({seen[label]})"
    return renames


def column_label(column: str, lang: str = "zh") -> str:
    """A column header in words: its label key, else its code's words, else itself."""
    label = i18n.t(column, lang)
    return translate_code(column, lang) if label == column else label


def translate_frame(frame: pd.DataFrame, lang: str, skip: set | None = None) -> pd.DataFrame:
    """A copy whose text cells and index labels that are codes read as words in ``lang``.

    Identifier columns (``customer_id``, ``rm_id``, ...) and the columns in ``skip`` are left
    alone; booleans stay booleans (:func:`show` words them).
    """
    skip = set(skip or ()) | ID_COLUMNS
    result = frame.copy()
    for column in result.columns:
        if column in skip:
            continue
        series = result[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            result[column] = series.astype(object).map(lambda v: translate_code(v, lang))
        elif series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            result[column] = series.map(lambda v: translate_code(v, lang))
    if result.index.dtype == object or isinstance(result.index.dtype, pd.CategoricalDtype):
        result.index = pd.Index(
            [translate_code(v, lang) for v in result.index], name=result.index.name
        )
    return result
