"""Display and formatting: every number, table and KPI a report shows goes through here.

Bank figures are rounded half up (340.25 -> 340.3, not Python's half-to-even 340.2) and shown
with thousands separators; shares as percentages. :func:`show` turns a DataFrame into a styled
table; :func:`kpi` builds the KPI records the notebooks save and the summary and index read.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import i18n

KPI_UNITS = ("count", "rmb", "pct", "ratio", "months")


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


def show(
    frame: pd.DataFrame,
    money: list[str] | tuple[str, ...] = (),
    pct: list[str] | tuple[str, ...] = (),
    ints: list[str] | tuple[str, ...] = (),
    decimals: int = 0,
    lang: str | None = None,
    index: bool = False,
    caption: str | None = None,
):
    """Return a styled table for display: money with thousands separators, shares as %.

    Parameters
    ----------
    frame : DataFrame
    money : columns shown as amounts with ``decimals`` decimals, half-up rounded.
    pct : columns holding shares (0-1) shown as percentages with one decimal.
    ints : columns shown as whole numbers with thousands separators.
    lang : when given, column names that are label keys (``helpers.i18n``) are translated.
    index : show the index (default hidden).
    caption : optional table caption.
    """
    formatters: dict[str, Any] = {}
    for column in money:
        formatters[column] = lambda v, d=decimals: format_number(v, d)
    for column in pct:
        formatters[column] = format_pct
    for column in ints:
        formatters[column] = lambda v: format_number(v, 0)
    missing = [column for column in formatters if column not in frame.columns]
    if missing:
        raise KeyError(f"show(): columns not in the table: {missing}")
    display_frame = frame
    if lang is not None:
        renames = {c: i18n.t(c, lang) for c in frame.columns if isinstance(c, str)}
        formatters = {renames.get(c, c): f for c, f in formatters.items()}
        display_frame = frame.rename(columns=renames)
    styler = display_frame.style.format(formatters, na_rep="")
    numeric = [c for c in display_frame.columns if pd.api.types.is_numeric_dtype(display_frame[c])]
    styler = styler.set_properties(subset=numeric, **{"text-align": "right"})
    if not index:
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    return styler


def kpi(key: str, value: float, unit: str = "count", headline: bool = False) -> dict:
    """One KPI record with zh/en labels from ``helpers.i18n``."""
    if unit not in KPI_UNITS:
        raise ValueError(f"KPI unit must be one of {KPI_UNITS}, not {unit!r}")
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    return {
        "key": key,
        "label_zh": i18n.t(key, "zh"),
        "label_en": i18n.t(key, "en"),
        "value": None if value is None or (isinstance(value, float) and np.isnan(value)) else value,
        "unit": unit,
        "headline": bool(headline),
    }


def format_kpi(value: Any, unit: str) -> str:
    """A KPI value as text by its unit: amounts and counts with separators, shares as %."""
    if unit == "pct":
        return format_pct(value)
    if unit == "ratio":
        return format_number(value, 2)
    if unit == "months":
        return format_number(value, 1)
    return format_number(value, 0)


def kpi_table(records: list[dict], lang: str = "zh") -> pd.DataFrame:
    """KPI records as a two-column display table (label, formatted value)."""
    label = "label_zh" if lang == "zh" else "label_en"
    return pd.DataFrame(
        {
            i18n.t("kpi_indicator", lang): [r[label] for r in records],
            i18n.t("kpi_value", lang): [format_kpi(r["value"], r["unit"]) for r in records],
        }
    )


def read_kpis(artifacts: str | Path, notebook: str) -> dict | None:
    """Read ``kpis_<notebook>.json`` from an artifacts folder; None when absent."""
    path = Path(artifacts) / f"kpis_{notebook}.json"
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
