"""The whole pack on a hostile bank: nothing from data runs in a page or a spreadsheet.

``hostile_pack`` runs every real notebook on a generated bank whose every free-text column
(customer ids, names, mobiles, branch and RM ids, close reasons, campaign ids and channels) and
whose spec name carry script tags, event handlers, ``</td>`` breakouts, Markdown
``javascript:`` links and spreadsheet formulas. Pages are parsed with an HTML parser, sheets
read from their XML, CSV lists with Python's csv module as Excel would split them.
"""

from __future__ import annotations

import pytest
from hostile_support import HOSTILE, HOSTILE_NAME, audit_csv, audit_html, audit_xlsx

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hostile_pack")]

#: Hostile strings that must reach the pages (as text): they prove the audit is not vacuous.
MARKUP = [text for text in HOSTILE if "xss" in text] + [HOSTILE_NAME]


@pytest.fixture(scope="module")
def pages(hostile_pack):
    assert hostile_pack.ok, {k: v for k, v in hostile_pack.statuses.items() if v != "ok"}
    return {path.name: audit_html(path) for path in sorted(hostile_pack.out_dir.glob("*.html"))}


def test_every_notebook_ran_on_the_hostile_bank(hostile_pack):
    assert set(hostile_pack.statuses.values()) == {"ok"}, hostile_pack.statuses
    assert len(hostile_pack.statuses) >= 6


def test_no_script_event_handler_or_script_url_in_any_page(pages):
    findings = {name: found for name, (found, _, _) in pages.items() if found}
    assert not findings, findings


def test_hostile_text_is_shown_as_text(pages):
    shown = {
        text: [n for n, (_, page_text, _) in pages.items() if text in page_text] for text in MARKUP
    }
    missing = [text for text, where in shown.items() if not where]
    assert not missing, f"never reached a page (the audit would prove nothing): {missing}"
    # The spec name is in every page's header band.
    assert len(shown[HOSTILE_NAME]) == len(pages), shown[HOSTILE_NAME]


def test_chart_alt_text_comes_from_the_chart_title(hostile_pack):
    import re

    for name in ("00_data_overview.html", "01_tiering.html", "02_lifecycle_survival.html"):
        page = (hostile_pack.out_dir / name).read_text(encoding="utf-8")
        alts = re.findall(r'<img[^>]*\salt="([^"]*)"', page) + re.findall(
            r"<img[^>]*\salt='([^']*)'", page
        )
        assert alts, f"{name}: no chart"
        assert "No description has been provided" not in page, name
        assert all(alt.strip() for alt in alts), f"{name}: empty alt text {alts}"


def test_csv_lists_have_no_cell_excel_would_evaluate(hostile_pack):
    lists = sorted((hostile_pack.out_dir / "artifacts").glob("*.csv"))
    assert len(lists) >= 4, lists
    neutralised = 0
    for path in lists:
        bad, cells = audit_csv(path)
        assert not bad, f"{path.name}: cells starting like a formula: {bad[:5]}"
        neutralised += sum(cell.startswith("'") for cell in cells)
    assert neutralised, "no hostile value reached a list (the audit would prove nothing)"


def test_xlsx_lists_have_no_formula(hostile_pack):
    books = sorted((hostile_pack.out_dir / "artifacts").glob("*.xlsx"))
    assert len(books) >= 4, books
    texts = []
    for path in books:
        formulas, strings = audit_xlsx(path)
        assert not formulas, f"{path.name}: {formulas[:5]}"
        texts += strings
    assert any(text.startswith("=HYPERLINK") for text in texts), (
        "hostile text never reached a sheet"
    )


def test_pii_stays_masked_with_hostile_names(hostile_pack):
    import pandas as pd

    for path in sorted((hostile_pack.out_dir / "artifacts").glob("*.csv")):
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        for column in ("name", "mobile"):
            if column in frame.columns:
                assert frame[column].str.contains(r"\*").all(), f"{path.name}.{column} unmasked"
