"""HTML export of the report pack: management pages, failure pages, index, KPI formatting.

Notebooks here are built in memory with hand-written outputs, so every expectation is exact.
"""

from __future__ import annotations

import base64
import json
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers.batch import export as export

# A 1x1 PNG, the smallest real image an output can hold.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()
PAGE = {"lang": "zh", "month": "2026-10", "dataset_name": "样本银行", "run_id": "run-42"}
SECRET_CODE = "SECRET_CODE_MARKER = 1"


def _md(text, *tags):
    cell = new_markdown_cell(text)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def _code(source, outputs=(), *tags):
    cell = new_code_cell(source)
    cell.outputs = list(outputs)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


@pytest.fixture
def notebook():
    table = (
        "<table><thead><tr><th>层级</th><th>客户数</th><th>占比</th></tr></thead><tbody>"
        "<tr><td>大众客户</td><td>9,876</td><td>12.5%</td></tr>"
        "<tr><td>财富客户</td><td>-1,234.50</td><td>R2</td></tr></tbody></table>"
    )
    nb = new_notebook(
        cells=[
            _md("# 检查本月数据", "lang-zh"),
            _md("# Check this month's data", "lang-en"),
            _code('month = ""  # str: month', (), "parameters"),
            _code(
                SECRET_CODE,
                [
                    new_output("stream", name="stdout", text="visible stdout line\n"),
                    new_output("stream", name="stderr", text="a warning nobody should see\n"),
                ],
            ),
            _md("## 数据清单\n\n中文说明文字", "lang-zh"),
            _md("## Data inventory\n\nEnglish narrative", "lang-en"),
            _md("A note in no particular language (untagged)."),
            _code(
                "table",
                [new_output("execute_result", data={"text/html": table, "text/plain": "t"})],
            ),
            _md("## 数据清单\n\n### 小节 A", "lang-zh"),  # duplicate heading on purpose
            _md("## Data inventory\n\n### Part A", "lang-en"),
            _code(
                "plot",
                [new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})],
            ),
            _code(
                "hidden",
                [new_output("stream", name="stdout", text="removed cell output\n")],
                "remove-cell",
            ),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "fishpond", "display_name": "Python (fishpond)"}
    nb.metadata["title"] = "00 file-name-like title"
    return nb


def _html(notebook, lang="zh"):
    return export.notebook_to_html(notebook, page={**PAGE, "lang": lang})


def test_no_code_no_prompts_no_stderr(notebook):
    page = _html(notebook)
    assert "SECRET_CODE_MARKER" not in page
    assert "month = " not in page
    assert 'class="jp-InputPrompt' not in page and "In&nbsp;[" not in page
    # Code cells keep their outputs but lose their input area.
    code_cells = re.split(r'(?=<div[^>]*class="jp-Cell )', page)
    code_cells = [c for c in code_cells if 'class="jp-Cell jp-CodeCell' in c[:300]]
    assert len(code_cells) >= 3
    for cell in code_cells:
        assert "jp-InputArea" not in cell
    assert "visible stdout line" in page
    assert "a warning nobody should see" not in page
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in page
    assert "removed cell output" not in page


@pytest.mark.parametrize(
    ("lang", "kept", "dropped"),
    [("zh", "中文说明文字", "English narrative"), ("en", "English narrative", "中文说明文字")],
)
def test_language_filtering_keeps_untagged_cells(notebook, lang, kept, dropped):
    page = _html(notebook, lang)
    assert kept in page
    assert dropped not in page
    assert "A note in no particular language" in page


def test_title_and_lang_attribute(notebook):
    zh = _html(notebook, "zh")
    en = _html(notebook, "en")
    assert "<title>检查本月数据</title>" in zh
    assert (
        "<title>Check this month&#39;s data</title>" in en
        or "<title>Check this month's data</title>" in en
    )
    assert '<html lang="zh">' in zh
    assert '<html lang="en">' in en
    assert "file-name-like" not in zh


def test_table_of_contents_links_to_unique_anchors(notebook):
    page = _html(notebook)
    nav = re.search(r'<nav class="fp-toc".*?</nav>', page, re.S)
    assert nav, "no table of contents"
    links = re.findall(r'href="#([^"]+)"', nav.group(0))
    texts = re.findall(r'<a href="#[^"]+">([^<]+)</a>', nav.group(0))
    assert texts == ["数据清单", "数据清单", "小节 A"]
    assert len(set(links)) == 3, links
    ids = re.findall(r'<h[1-6] id="([^"]+)"', page)
    assert len(ids) == len(set(ids)), f"duplicate heading ids: {ids}"
    for link in links:
        assert link in ids
    assert "检查本月数据" not in nav.group(0)  # the h1 is the page title, not a TOC entry


def test_offline_no_scripts_or_remote_urls(notebook):
    page = _html(notebook)
    assert "<script src" not in page.replace(" ", " ")
    assert not re.search(r"<script[^>]*\bsrc\s*=", page)
    remote = re.findall(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not remote, remote
    assert "cdnjs" not in page and "require.js" not in page and "mathjax" not in page.lower()
    assert "@import" not in page and "fonts.googleapis" not in page


def test_images_inline_and_numbers_right_aligned(notebook):
    page = _html(notebook)
    assert f'src="data:image/png;base64,{PNG}' in page
    assert '<td class="fp-num">9,876</td>' in page
    assert '<td class="fp-num">12.5%</td>' in page
    assert '<td class="fp-num">-1,234.50</td>' in page
    assert "<td>大众客户</td>" in page and "<td>R2</td>" in page


def test_header_band_and_footer(notebook):
    page = _html(notebook)
    assert "2026-10" in page and "样本银行" in page and "run-42" in page
    assert 'href="index.html"' in page


def test_written_atomically(notebook, tmp_path):
    target = tmp_path / "00_x.html"
    export.write_notebook_html(notebook, target, page=PAGE)
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["00_x.html"]


def test_headings_and_steps():
    source = "# Title\n\n```python\n# not a heading\n```\n## **Bold** `code` [link](http://x)\n"
    assert export.markdown_headings(source) == [(1, "Title"), (2, "Bold code link")]
    nb = new_notebook(
        cells=[
            _md("# 标题", "lang-zh"),
            _md("# Title", "lang-en"),
            _md("## 第一步", "lang-zh"),
            _md("## Step one", "lang-en"),
            _code("x = 1"),
            _code("raise"),
        ]
    )
    assert export.describe_step(nb, 5, "zh") == {"cell": 6, "total": 6, "heading": "第一步"}
    assert export.describe_step(nb, 5, "en") == {"cell": 6, "total": 6, "heading": "Step one"}
    assert export.describe_step(nb, None, "zh") == {}
    assert export.notebook_title_for(nb, "en") == "Title"


# --------------------------------------------------------------------------------------------
# KPIs, failure and index pages
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (9876, "count", "9,876"),
        (2.5, "count", "3"),  # half up, where Python's round gives 2
        (1234567.5, "rmb", "¥1,234,568"),
        (-34976960.5, "rmb", "-¥34,976,961"),  # half away from zero, sign before the symbol
        (0.1235, "pct", "12.4%"),  # 12.35 -> 12.4 (half up)
        (0.12345, "pct", "12.3%"),
        (340.25, "ratio", "340.25"),
        (1.005, "ratio", "1.01"),  # float repr 1.005 -> half up, not 1.00
        (12.25, "months", "12.3"),
        (None, "count", "–"),
        ("n/a", "count", "n/a"),
    ],
)
def test_format_kpi_half_up_with_separators(value, unit, expected):
    assert export.format_kpi(value, unit) == expected


def test_read_kpis_headline_only_summary_first(tmp_path):
    def write(notebook, kpis):
        payload = {"notebook": notebook, "month": "2026-10", "kpis": kpis}
        (tmp_path / f"kpis_{notebook}.json").write_text(json.dumps(payload), encoding="utf-8")

    write(
        "00_data_overview",
        [
            {
                "key": "customers",
                "label_zh": "客户数",
                "label_en": "Customers",
                "value": 9876,
                "unit": "count",
                "headline": True,
            },
            {
                "key": "minor",
                "label_zh": "次要",
                "label_en": "Minor",
                "value": 1,
                "unit": "count",
                "headline": False,
            },
        ],
    )
    write(
        "05_monthly_summary",
        [
            {
                "key": "aum",
                "label_zh": "资产",
                "label_en": "AUM",
                "value": 1e9,
                "unit": "rmb",
                "headline": True,
            },
        ],
    )
    (tmp_path / "kpis_broken.json").write_text("{not json", encoding="utf-8")
    items = export.read_kpis(tmp_path, "en")
    assert [(i["notebook"], i["label"], i["display"]) for i in items] == [
        ("05_monthly_summary", "AUM", "¥1.00 billion"),  # compact money on the index
        ("00_data_overview", "Customers", "9,876"),
    ]


def _manifest(notebooks, ok):
    return {
        "run_id": "run-42",
        "ok": ok,
        "month": "2026-10",
        "lang": "zh",
        "dataset": {"spec": "/data/dataset.yaml", "name": "样本银行", "fingerprint": {}},
        "git_commit": "abc",
        "started_at": "2026-11-01T08:00:00+00:00",
        "finished_at": "2026-11-01T08:05:00+00:00",
        "notebooks": notebooks,
    }


def _entry(name, status, **extra):
    return {
        "notebook": name,
        "title": f"标题 {name}",
        "status": status,
        "duration_seconds": 1.25,
        "error": "",
        "retries": 0,
        "html": f"{name}.html",
        "executed": f"executed/{name}.ipynb",
        **extra,
    }


def test_index_rows_colours_and_metadata(tmp_path):
    (tmp_path / "artifacts").mkdir()
    manifest = _manifest(
        [
            _entry("05_monthly_summary", "ok"),
            _entry("01_tiering", "failed", error="ValueError: 分行 000 缺数据", retries=1),
            _entry("04_retention_roi", "not_applicable", executed="", missing_roles=["campaigns"]),
        ],
        ok=False,
    )
    export.write_index(tmp_path, manifest)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r'<tr class="fp-row-(\w+)" data-notebook="(\w+)"', page)
    assert rows == [
        ("ok", "05_monthly_summary"),
        ("failed", "01_tiering"),
        ("not_applicable", "04_retention_roi"),
    ]
    assert "存量客户经营月度报告" in page and "monthly report pack" not in page  # one language
    assert "ValueError: 分行 000 缺数据" in page
    assert 'href="01_tiering.html"' in page and 'href="manifest.json"' in page
    assert "run-42" in page and "样本银行" in page and "2026-11-01T08:00:00+00:00" in page
    assert "fp-box-failed" in page  # the run-level failure banner
    assert "YYYY-MM.failed" in page  # the publication rule is stated
    assert not re.search(r"<script", page)


def test_failure_page_has_no_traceback(tmp_path):
    entry = _entry(
        "01_tiering",
        "failed",
        error="KeyError: 'aum_total'",
        step={"cell": 7, "total": 30, "heading": "分层结果"},
    )
    path = export.write_failure_page(tmp_path / "01_tiering.html", entry=entry, page=PAGE)
    page = path.read_text(encoding="utf-8")
    assert "KeyError: &#39;aum_total&#39;" in page  # escaped, one line
    assert "单元格 7 / 30 · 分层结果" in page
    assert 'href="executed/01_tiering.ipynb"' in page
    assert "Traceback" not in page and "<script" not in page
    assert '<html lang="zh">' in page


def test_not_applicable_page_explains_missing_roles(tmp_path):
    entry = _entry(
        "04_retention_roi",
        "not_applicable",
        executed="",
        missing_roles=["campaigns", "treatment"],
        required_roles=["campaigns", "treatment", "outcome"],
        available_roles=["customers", "outcome"],
    )
    page = export.write_not_applicable_page(
        tmp_path / "x.html", entry=entry, page={**PAGE, "lang": "en"}
    ).read_text(encoding="utf-8")
    assert "<code>campaigns</code> (campaign groups and outcomes)" in page
    assert "<code>treatment</code> (campaign group (control / treatment))" in page
    assert "not a failure" in page
    assert '<html lang="en">' in page


def test_fixture_notebook_round_trip_is_valid_nbformat(notebook):
    nbformat.validate(notebook)


def test_course_cells_never_reach_management(notebook):
    notebook.cells.append(_md("## 练习 1\n\nEXERCISE_STATEMENT", "lang-zh", "exercise"))
    notebook.cells.append(
        _code(
            "answer = 1", [new_output("stream", name="stdout", text="SOLUTION_OUT\n")], "solution"
        )
    )
    page = _html(notebook)
    assert "EXERCISE_STATEMENT" not in page and "SOLUTION_OUT" not in page
    assert "练习 1" not in page
