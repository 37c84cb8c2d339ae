"""Display and formatting: every number, table and KPI a report shows goes through here.

Bank figures are rounded half up (340.25 -> 340.3, not Python's half-to-even 340.2) and shown
with thousands separators; shares as percentages. :func:`show` turns a DataFrame into a styled
table; :func:`kpi` builds the KPI records the notebooks save and the summary and index read.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.formatting.numbers import (
    ID_COLUMNS,
    _is_p_value_column,
    _missing,
    _mixed_cell,
    _plain_float,
    _unique_labels,
    code_lists,
    column_label,
    currency_symbol,
    format_bool,
    format_money,
    format_number,
    format_p_value,
    format_pct,
    format_pp,
    readable_decimals,
    round_half_up,
    translate_code,
    translate_frame,
)

KPI_UNITS = ("count", "rmb", "pct", "pp", "ratio", "months")

__all__ = [
    "Bullets",
    "code_lists",
    "column_label",
    "currency_symbol",
    "escape_markdown",
    "format_bool",
    "format_change",
    "format_kpi",
    "format_kpi_record",
    "format_money",
    "format_number",
    "format_p_value",
    "format_pct",
    "format_pp",
    "ID_COLUMNS",
    "is_skipped",
    "kpi",
    "kpi_is_fact",
    "kpi_table",
    "KPI_UNITS",
    "markdown_literal",
    "Note",
    "read_kpis",
    "readable_decimals",
    "round_half_up",
    "show",
    "skippable",
    "Skipped",
    "translate_code",
    "translate_frame",
]


def show(
    frame: pd.DataFrame,
    money: list[str] | tuple[str, ...] = (),
    pct: list[str] | tuple[str, ...] = (),
    ints: list[str] | tuple[str, ...] = (),
    decimals: int | None = None,
    lang: str | None = None,
    index: bool = False,
    caption: str | None = None,
):
    """Return a styled table for display: money with thousands separators, shares as %.

    Parameters
    ----------
    frame : DataFrame
    money : columns shown as amounts with ``decimals`` decimals (default 0), half-up rounded.
    pct : columns holding shares (0-1) shown as percentages with one decimal.
    ints : columns shown as whole numbers with thousands separators.
    decimals : decimals of money columns and of the other decimal columns; by default money
        has none and other decimal columns get as few as make them readable (at most 3).
    lang : when given, column names that are label keys (``helpers.i18n``) are translated,
        codes from the code lists (tiers, stages, offers, products, features) in cells and in
        the index become words, and booleans become 是/否 (Yes/No).
    index : show the index (default hidden).
    caption : optional table caption.

    Columns named like a p-value (``p_value``) show ``<0.001`` below one in a thousand and three
    decimals otherwise. No cell of a shown table carries a raw float.
    """
    money_decimals = 0 if decimals is None else decimals
    formatters: dict[str, Any] = {}
    for column in money:
        formatters[column] = lambda v, d=money_decimals: format_number(v, d)
    for column in pct:
        formatters[column] = format_pct
    for column in ints:
        formatters[column] = lambda v: format_number(v, 0)
    missing = [column for column in formatters if column not in frame.columns]
    if missing:
        raise KeyError(f"show(): columns not in the table: {missing}")
    display_frame = frame
    if lang is not None:
        display_frame = translate_frame(frame, lang, skip=set(formatters))
    for column in display_frame.columns:
        if column in formatters:
            continue
        series = display_frame[column]
        if _is_p_value_column(column):
            # Styler escapes only text cells; "<0.001" comes from a number: escape it here.
            formatters[column] = lambda v: html.escape(format_p_value(v))
        elif pd.api.types.is_bool_dtype(series.dtype):
            formatters[column] = lambda v, lang_=lang or "en": format_bool(v, lang_)
        elif pd.api.types.is_float_dtype(series.dtype):
            places = decimals if decimals is not None else readable_decimals(series)
            formatters[column] = lambda v, d=places: format_number(v, d)
        elif series.dtype == object:
            numbers = pd.to_numeric(series.map(_plain_float), errors="coerce")
            places = decimals if decimals is not None else readable_decimals(numbers)
            formatters[column] = lambda v, d=places, l_=lang or "en": _mixed_cell(v, d, l_)
    if lang is not None:
        renames = _unique_labels(display_frame.columns, lang)
        formatters = {renames.get(c, c): f for c, f in formatters.items()}
        display_frame = display_frame.rename(columns=renames)
    # Every string from data or a spec is HTML-escaped: cells and headers (stored XSS otherwise).
    styler = display_frame.style.format(formatters, na_rep="", escape="html")
    styler = styler.format_index(escape="html", axis=1)
    styler = styler.format_index(escape="html", axis=0)
    numeric = [c for c in display_frame.columns if pd.api.types.is_numeric_dtype(display_frame[c])]
    styler = styler.set_properties(subset=numeric, **{"text-align": "right"})
    if not index:
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(html.escape(str(caption)))
    return styler


def kpi(
    key: str,
    value: float,
    unit: str = "count",
    headline: bool = False,
    *,
    lower: float | None = None,
    upper: float | None = None,
    significant: bool | None = None,
    **label_values: object,
) -> dict:
    """One KPI record with zh/en labels from ``helpers.i18n``.

    ``label_values`` fill the label's placeholders (``months=6`` for "next {months} months").
    An estimate carries its interval: ``lower`` and ``upper`` (same unit). ``significant``
    defaults to "the interval excludes zero" when both bounds are given; a record with
    ``significant`` False must never be shown as a fact (:func:`kpi_is_fact`,
    :func:`format_kpi_record`). Records without an interval keep the old four fields only.
    """
    if unit not in KPI_UNITS:
        raise ValueError(f"KPI unit must be one of {KPI_UNITS}, not {unit!r}")
    value, lower, upper = _plain_number(value), _plain_number(lower), _plain_number(upper)
    record = {
        "key": key,
        "label_zh": i18n.t(key, "zh", **label_values),
        "label_en": i18n.t(key, "en", **label_values),
        "value": value,
        "unit": unit,
        "headline": bool(headline),
    }
    if lower is not None and upper is not None and lower > upper:
        raise ValueError(f"KPI {key!r}: lower bound {lower} above upper bound {upper}")
    if significant is None and lower is not None and upper is not None:
        significant = bool(lower > 0 or upper < 0)
    if lower is not None or upper is not None or significant is not None:
        record.update(
            lower=lower,
            upper=upper,
            significant=None if significant is None else bool(significant),
        )
    return record


def kpi_is_fact(record: dict) -> bool:
    """Whether a KPI record may be stated as a plain number: not an insignificant estimate."""
    significant = record.get("significant")
    return significant is None or bool(significant)


def _plain_number(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def format_kpi(
    value: Any,
    unit: str,
    lang: str = "zh",
    *,
    compact: bool = False,
    currency: str | None = None,
    significant: bool | None = None,
) -> str:
    """A KPI value as text by its unit.

    ``count`` 9,876; ``rmb`` ¥1,234,568 (``compact``: ¥123.5万 / ¥1.23 million); ``pct`` (a
    share) 12.3%; ``pp`` (a difference of shares) 0.5 个百分点 / 0.5 pp; ``ratio`` 1.23;
    ``months`` 12.5. A missing value is "–"; ``significant=False`` gives "not significant".
    """
    if significant is False:
        return i18n.t("fmt_not_significant", lang)
    if _missing(value):
        return "–"
    if unit == "pct":
        return format_pct(value)
    if unit == "pp":
        return format_pp(value, lang, signed=False)
    if unit == "rmb":
        return format_money(value, lang, currency, compact=compact)
    if unit == "ratio":
        return format_number(value, 2)
    if unit == "months":
        return format_number(value, 1)
    return format_number(value, 0)


def format_change(value: Any, unit: str, lang: str = "zh", currency: str | None = None) -> str:
    """A signed change by unit: ``+1,234``, ``-¥12.3万``, ``+0.4 个百分点`` (shares change in
    percentage points), ``±0`` for no change."""
    if _missing(value):
        return ""
    number = float(value)
    if unit == "pct" or unit == "pp":
        return format_pp(number, lang)
    text = format_kpi(abs(number), unit, lang, compact=True, currency=currency)
    if not any(ch.isdigit() and ch != "0" for ch in text):
        number = 0.0  # rounds to nothing: no direction
    return ("+" if number > 0 else "-" if number < 0 else "±") + text


def format_kpi_record(
    record: dict, lang: str = "zh", formatter=None, *, compact: bool = False
) -> str:
    """A KPI record as text: the number, or "not significant (estimate, interval)".

    ``formatter(value, unit)`` formats one number (default :func:`format_kpi` in ``lang``,
    amounts ``compact`` if asked). A record whose interval crosses zero (``significant``
    False) is never shown as a bare number; one with an interval that excludes zero shows it
    after the number.
    """
    formatter = formatter or (lambda value, unit: format_kpi(value, unit, lang, compact=compact))
    text = formatter(record.get("value"), record.get("unit", ""))
    lower, upper = record.get("lower"), record.get("upper")
    if lower is None or upper is None:
        return i18n.t("kpi_not_significant", lang) if not kpi_is_fact(record) else text
    unit = record.get("unit", "")
    interval = i18n.t("kpi_interval", lang, low=formatter(lower, unit), high=formatter(upper, unit))
    if kpi_is_fact(record):
        return f"{text} ({interval})"
    estimate = i18n.t("kpi_estimate", lang, value=text)
    return f"{i18n.t('kpi_not_significant', lang)} ({estimate}; {interval})"


def kpi_table(records: list[dict], lang: str = "zh") -> pd.DataFrame:
    """KPI records as a two-column display table (label, formatted value or "not significant")."""
    label = "label_zh" if lang == "zh" else "label_en"
    return pd.DataFrame(
        {
            i18n.t("kpi_indicator", lang): [r[label] for r in records],
            i18n.t("kpi_value", lang): [format_kpi_record(r, lang) for r in records],
        }
    )


def read_kpis(artifacts: str | Path, notebook: str) -> dict | None:
    """Read ``kpis_<notebook>.json`` from an artifacts folder; None when absent."""
    path = Path(artifacts) / f"kpis_{notebook}.json"
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


# ----------------------------------------------------------------------------- skipped steps
class Skipped:
    """A step that could not run on this data, and why, in words the report can show.

    Domain helpers return a ``Skipped`` instead of raising or returning None when the data
    cannot feed a step (flat mode has no history for a migration matrix, a dataset without a
    campaign has nothing to evaluate). Helpers decorated with :func:`skippable` pass it on
    unchanged, so a notebook calls the same functions on every dataset and never branches;
    ``ctx.show`` displays the reason once.

    Parameters
    ----------
    key : label key in ``helpers.i18n`` (``locales/*.yaml``) holding the reason.
    values : placeholders of the label.
    """

    def __init__(self, key: str, **values: object):
        self.key = key
        self.values = values

    def text(self, lang: str) -> str:
        return i18n.t(self.key, lang, **self.values)

    def __bool__(self) -> bool:  # "if result:" reads as "did this step run?"
        return False

    def __repr__(self) -> str:
        return f"Skipped({self.key!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Skipped) and (other.key, other.values) == (self.key, self.values)

    def __hash__(self) -> int:
        return hash((self.key, tuple(sorted(self.values.items(), key=str))))


class Note:
    """A short highlighted remark for the report (a label key and its values)."""

    def __init__(self, key: str, **values: object):
        self.key = key
        self.values = values

    def text(self, lang: str) -> str:
        # codes among the values (an offer, a tier) read as words
        values = {name: translate_code(value, lang) for name, value in self.values.items()}
        return i18n.t(self.key, lang, **values)

    def __repr__(self) -> str:
        return f"Note({self.key!r})"


class Bullets:
    """A bulleted list of sentences for the report (each escaped when shown)."""

    def __init__(self, items):
        self.items = [str(item) for item in items]

    def markdown(self) -> str:
        return "\n".join(f"- {escape_markdown(item)}" for item in self.items)


def is_skipped(value: object) -> bool:
    """True when ``value`` is a :class:`Skipped` step."""
    return isinstance(value, Skipped)


def skippable(function):
    """Decorator: when any argument is :class:`Skipped`, return it instead of calling.

    A step that depends on a skipped step is skipped for the same reason, so a chain of calls
    in a notebook needs no ``if``.
    """
    import functools

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        for value in (*args, *kwargs.values()):
            if isinstance(value, Skipped):
                return value
        return function(*args, **kwargs)

    return wrapper


def escape_markdown(text: str) -> str:
    """Make text from data or a spec inert in Markdown: HTML tags escaped, nothing executable.

    Label texts may use Markdown emphasis (``**``); a value substituted into them may not
    carry HTML (a branch named ``<script>``) into the page.
    """
    return html.escape(str(text), quote=False)


# ASCII punctuation except & < > (escape_markdown turns those into entities afterwards).
_MARKDOWN_PUNCTUATION = re.compile(r"([!-%'-/:;=?@\[-`{-~])")


def markdown_literal(value: object) -> object:
    """A value from data made to render as typed in Markdown; numbers pass unchanged.

    Every ASCII punctuation character of a string gets a backslash (CommonMark renders
    ``\\[`` as ``[``), so a value cannot open a link (``[x](javascript:...)``), an image, a
    heading, emphasis or an autolinked URL; :func:`escape_markdown` then escapes the HTML
    characters of the whole sentence.
    """
    if not isinstance(value, str):
        return value
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", value)
