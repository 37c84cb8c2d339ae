"""Display and formatting: every number, table and KPI a report shows goes through here.

Bank figures are rounded half up (340.25 -> 340.3, not Python's half-to-even 340.2) and shown
with thousands separators; shares as percentages. :func:`show` turns a DataFrame into a styled
table; :func:`kpi` builds the KPI records the notebooks save and the summary and index read.
"""

from __future__ import annotations

import html
import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import i18n

KPI_UNITS = ("count", "rmb", "pct", "pp", "ratio", "months")


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


CURRENCY_SYMBOLS = {"CNY": "¥", "RMB": "¥", "HKD": "HK$", "USD": "$", "EUR": "€", "GBP": "£"}
#: Columns that hold identifiers: never translated as codes, always text.
ID_COLUMNS = frozenset({"customer_id", "rm_id", "branch_id", "campaign_id", "name", "mobile"})


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def currency_symbol(currency: str | None = "CNY") -> str:
    """The symbol of an ISO currency code (``CNY`` -> ``¥``); unknown codes as ``XYZ ``."""
    code = (currency or "CNY").upper()
    return CURRENCY_SYMBOLS.get(code, f"{code} ")


def format_money(
    value: Any, lang: str = "zh", currency: str | None = "CNY", compact: bool = True
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


def _code_map() -> dict[str, str]:
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
    ``lower`` / ``upper`` (an interval) and ``significant`` are stored when given: a value
    whose interval includes zero is then shown as "not significant" rather than as a fact.
    """
    if unit not in KPI_UNITS:
        raise ValueError(f"KPI unit must be one of {KPI_UNITS}, not {unit!r}")
    record = {
        "key": key,
        "label_zh": i18n.t(key, "zh", **label_values),
        "label_en": i18n.t(key, "en", **label_values),
        "value": _plain_number(value),
        "unit": unit,
        "headline": bool(headline),
    }
    if lower is not None or upper is not None:
        record["lower"], record["upper"] = _plain_number(lower), _plain_number(upper)
    if significant is None and record.get("lower") is not None and record.get("upper") is not None:
        significant = not (record["lower"] <= 0 <= record["upper"])
    if significant is not None:
        record["significant"] = bool(significant)
    return record


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
    currency: str | None = "CNY",
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


def format_change(value: Any, unit: str, lang: str = "zh", currency: str | None = "CNY") -> str:
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


def kpi_table(records: list[dict], lang: str = "zh") -> pd.DataFrame:
    """KPI records as a two-column display table (label, formatted value)."""
    label = "label_zh" if lang == "zh" else "label_en"
    return pd.DataFrame(
        {
            i18n.t("kpi_indicator", lang): [r[label] for r in records],
            i18n.t("kpi_value", lang): [
                format_kpi(r["value"], r["unit"], lang, significant=r.get("significant"))
                for r in records
            ],
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
        return i18n.t(self.key, lang, **self.values)

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
