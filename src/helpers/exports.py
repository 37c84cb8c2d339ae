"""RM lists as files Excel opens safely: CSV (UTF-8 with BOM) and .xlsx.

Following OWASP's CSV-injection guidance, a text cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return is neutralised: in CSV it gets a leading apostrophe (Excel
shows the text and evaluates nothing); in XLSX every text cell is written as a string cell,
never a formula. Numbers stay numbers (a negative balance is a number, not text). Identifier
columns stay text, so ``000123`` keeps its zeros.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from helpers.files import atomic_write

#: First characters that make a spreadsheet treat a cell as a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


#: A plain number written as text ("-5", "+1.5e3"): a spreadsheet reads it as that number.
PLAIN_NUMBER = re.compile(r"[+-]?(\d[\d,]*\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise(value: object) -> object:
    """``value`` made inert for a spreadsheet: text starting like a formula gets a quote.

    A plain number written as text ("-5") is left as it is: it can only ever be that number.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        if not PLAIN_NUMBER.fullmatch(value.strip()) or value != value.strip():
            return "'" + value
    return value


def inert_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells (and column names) cannot start a formula."""
    safe = frame.copy()
    for column in safe.columns:
        series = safe[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            safe[column] = series.map(neutralise)
    safe.columns = [neutralise(str(c)) for c in safe.columns]
    return safe


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """CSV in UTF-8 with BOM (Excel on a Chinese Windows PC reads it), formulas neutralised.

    Rows end in CRLF, so a cell holding a carriage return or a line feed is quoted: with
    pandas' default LF a bare CR stayed unquoted, and ``'\r=1+1`` split into a harmless
    ``'`` and a new row starting ``=1+1`` (a live formula again).
    """
    safe = inert_frame(frame)
    return atomic_write(
        path,
        lambda tmp: safe.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\r\n"),
    )


def write_xlsx(
    frame: pd.DataFrame,
    path: str | Path,
    sheet: str = "list",
    number_formats: dict[str, str] | None = None,
) -> Path:
    """An .xlsx with one named sheet: text cells as strings (never formulas), frozen header,
    a filter on the header row and column widths that fit the content.

    ``number_formats`` maps a column to an Excel number format (``'"¥"#,##0.00'``,
    ``'0.0%'``, ``'@'`` for text such as ids), applied to its data cells."""
    number_formats = dict(number_formats or {})
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    formats = [number_formats.get(column) for column in frame.columns]

    def write(tmp: Path) -> None:
        # Write-only (streaming) mode: a 126,000-row call list took over a minute in the
        # normal mode, which keeps every cell object in memory.
        book = Workbook(write_only=True)
        sheet_ = book.create_sheet(title=sheet[:31])
        sheet_.freeze_panes = "A2"
        for index, column in enumerate(frame.columns, 1):
            values = [str(column), *(str(v) for v in frame[column].head(500))]
            # CJK characters are about twice as wide as Latin ones in Excel's default font.
            width = min(max(sum(2 if ord(c) > 0x2E7F else 1 for c in v) for v in values) + 3, 50)
            sheet_.column_dimensions[get_column_letter(index)].width = width
        if len(frame.columns):
            last = get_column_letter(len(frame.columns))
            sheet_.auto_filter.ref = f"A1:{last}{len(frame) + 1}"

        def cell(value, number_format):
            value = None if _missing(value) else _plain(value)
            if not isinstance(value, str) and not number_format:
                return value
            written = WriteOnlyCell(sheet_, value=value)
            if isinstance(value, str):
                written.data_type = "s"  # openpyxl would store "=..." as a formula
            if number_format:
                written.number_format = number_format
            return written

        sheet_.append([cell(str(c), None) for c in frame.columns])
        for row in frame.itertuples(index=False):
            sheet_.append([cell(v, f) for v, f in zip(row, formats, strict=True)])
        book.save(tmp)

    return atomic_write(path, write)


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _plain(value: object) -> object:
    """numpy and pandas scalars as plain Python values openpyxl understands."""
    if hasattr(value, "item") and not isinstance(value, str):
        try:
            return value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value
