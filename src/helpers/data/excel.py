"""Reading an Excel sheet as text, ids through their cell format.

Excel stores a number typed into a cell as a double. A customer id ``0000000124`` typed as a
number is the number 124 shown through the cell format ``0000000000``; a 19-digit id keeps
only 15 significant digits (``1234567890123456789`` becomes ``1234567890123450000``) before
the file is even saved. pandas reads the first as ``124`` and the second as a wrong id, with
no notice. Here every cell is read with openpyxl: an id stored as a number gets its zero
padding back from its format, and an id too long for a double is refused with its rows.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import openpyxl
import pandas as pd

from helpers.data.problems import Problem

#: Markers pandas treats as missing in a CSV; the same for Excel text cells.
NA_MARKERS = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                        "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
                        "nan", "null"})  # fmt: skip
#: Excel keeps 15 significant digits: a whole number at or above this lost digits already.
EXCEL_EXACT_LIMIT = 10**15
_ZERO_PADDED = re.compile(r"^0+$")


class SheetNotFound(LookupError):
    """The sheet named in the spec is not in the workbook."""


def _text(value) -> str | None:
    """One cell as the text a CSV export would hold."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < EXCEL_EXACT_LIMIT:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _id_text(value, number_format: str | None) -> tuple[str | None, str]:
    """An id cell as text; the second item says what happened: text, padded, number, lost."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _text(value), "text"
    if isinstance(value, float) and not value.is_integer():
        return repr(value), "number"
    if abs(value) >= EXCEL_EXACT_LIMIT:
        return str(int(value)), "lost"  # the digits the file holds now
    digits = str(int(value))
    if number_format and _ZERO_PADDED.match(number_format) and len(number_format) > len(digits):
        return digits.zfill(len(number_format)), "padded"
    return digits, "number"


def _sheet(workbook, sheet):
    names = workbook.sheetnames
    if isinstance(sheet, int):
        if sheet >= len(names):
            raise SheetNotFound(f"sheet number {sheet} (the workbook has {len(names)}: {names})")
        return workbook.worksheets[sheet]
    if sheet not in names:
        raise SheetNotFound(f"sheet {sheet!r} (the workbook has {names})")
    return workbook[sheet]


def _unique_names(names: list) -> list[str]:
    out: list[str] = []
    for index, name in enumerate(names):
        name = f"Unnamed: {index}" if name is None or str(name).strip() == "" else str(name)
        base, count = name, 0
        while name in out:
            count += 1
            name = f"{base}.{count}"
        out.append(name)
    return out


def read_excel_text(
    path,
    table_name: str,
    options: dict,
    id_columns: dict[str, str],
    problems: list[Problem],
    notices: list[str],
) -> pd.DataFrame:
    """Read one sheet with every cell as text; id columns through their cell format.

    Parameters
    ----------
    path : Path
    table_name : str
        Canonical table name, for messages.
    options : dict
        ``sheet`` (name or 0-based number), ``header`` (row of the header after ``skiprows``;
        None for no header), ``skiprows`` (rows above the header: a count or row numbers),
        ``na_values`` (extra markers of a missing value).
    id_columns : dict
        Source column -> canonical column, for the id columns of this table.
    problems, notices : list
        Ids that lost digits in Excel are appended to ``problems``; restored zero padding and
        ids stored as numbers are told in ``notices``.

    Raises
    ------
    SheetNotFound
    """
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = _sheet(workbook, options.get("sheet", 0))
        skip = options.get("skiprows") or 0
        skipped = set(skip) if isinstance(skip, list) else set(range(skip))
        rows = []
        for index, row in enumerate(sheet.iter_rows()):
            if index not in skipped:
                rows.append([(cell.value, getattr(cell, "number_format", None)) for cell in row])
    finally:
        workbook.close()
    header = options.get("header", 0)
    width = max((len(row) for row in rows), default=0)
    if header is None:
        names, data = [str(i) for i in range(width)], rows
    else:
        if header >= len(rows):
            return pd.DataFrame()
        names = _unique_names([value for value, _ in rows[header]] + [None] * width)[:width]
        data = rows[header + 1 :]
    data = [row for row in data if any(value is not None for value, _ in row)]
    markers = NA_MARKERS | {str(v) for v in options.get("na_values") or []}
    columns: dict[str, list] = {}
    for position, name in enumerate(names):
        cells = [row[position] if position < len(row) else (None, None) for row in data]
        if name in id_columns:
            columns[name] = _id_column(cells, name, id_columns[name], table_name, problems,
                                       notices, path)  # fmt: skip
        else:
            columns[name] = [_text(value) for value, _ in cells]
        columns[name] = [None if v is not None and v.strip() in markers else v
                         for v in columns[name]]  # fmt: skip
    return pd.DataFrame(columns, dtype=object)


def _id_column(cells, name, canonical, table_name, problems, notices, path) -> list:
    texts, outcomes = [], []
    for value, number_format in cells:
        text, outcome = _id_text(value, number_format)
        texts.append(text)
        outcomes.append(outcome)
    outcomes = np.array(outcomes)
    lost = np.flatnonzero(outcomes == "lost")
    if len(lost):
        problems.append(
            Problem(
                table_name,
                canonical,
                "id digits lost in Excel",
                f"ids stored as text: {path.name} holds {name} as numbers, and Excel keeps only "
                "15 significant digits, so longer ids were already changed in the file "
                "(1234567890123456789 is saved as 1234567890123450000). Format the column as "
                "Text before pasting the ids, or export the table to CSV from the source system",
                rows=(lost + 1).tolist(),
                values=[texts[i] for i in lost[:10]],
            )
        )
    padded = int((outcomes == "padded").sum())
    numbers = int((outcomes == "number").sum())
    if padded:
        notices.append(
            f"{table_name}: {padded:,} {name} value(s) in {path.name} were stored as numbers; "
            "their cell format restored the leading zeros"
        )
    if numbers:
        notices.append(
            f"{table_name}: {numbers:,} {name} value(s) in {path.name} are stored as numbers "
            "without a zero-padded format; if your ids have leading zeros, format the column "
            "as Text in Excel"
        )
    return texts
