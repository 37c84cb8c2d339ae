import json

import pandas as pd
import pytest

from helpers import formatting, notebook


def test_round_half_up_differs_from_python_rounding():
    assert f"{340.25:,.1f}" == "340.2"  # Python: half to even
    assert formatting.format_number(340.25, 1) == "340.3"
    assert formatting.format_number(1234567.5) == "1,234,568"
    assert formatting.format_number(2.5) == "3"
    assert formatting.format_number(-2.5) == "-3"
    assert formatting.format_number(None) == "" and formatting.format_number(float("nan")) == ""


def test_format_pct():
    assert formatting.format_pct(0.12345) == "12.3%"
    assert formatting.format_pct(0.00125, 2) == "0.13%"


def test_show_formats_money_pct_ints_and_translates_headers():
    frame = pd.DataFrame(
        {"tier": ["mass"], "aum": [1234567.5], "share": [0.8125], "customers": [8123]}
    )
    html = formatting.show(
        frame, money=["aum"], pct=["share"], ints=["customers"], lang="zh"
    ).to_html()
    assert "1,234,568" in html and "81.3%" in html and "8,123" in html
    assert "资产余额" in html and "客户数" in html
    with pytest.raises(KeyError, match="not in the table"):
        formatting.show(frame, money=["nope"])


class _FakeDataset:
    name = "fake"
    mode = "panel"

    def fingerprint(self):
        return {"files": [{"path": "/x/customers.parquet", "sha256": "ab" * 32, "bytes": 1}]}


def _context(tmp_path):
    return notebook.RunContext(
        notebook="99_test",
        dataset=_FakeDataset(),
        month="2026-10",
        lang="zh",
        artifacts=tmp_path,
        seed=7,
        params={"churn_horizon_months": 6},
        spec_path="/x/dataset.yaml",
    )


def test_artifacts_are_written_in_the_documented_formats(tmp_path):
    ctx = _context(tmp_path)
    ctx.save_table(pd.DataFrame({"customer_id": ["001"], "score": [0.5]}), "scores")
    assert pd.read_parquet(tmp_path / "scores.parquet")["customer_id"].tolist() == ["001"]

    ctx.save_kpis([formatting.kpi("customers", 9876, "count", headline=True)])
    payload = json.loads((tmp_path / "kpis_99_test.json").read_text(encoding="utf-8"))
    assert payload["notebook"] == "99_test" and payload["month"] == "2026-10"
    assert payload["kpis"][0] == {
        "key": "customers",
        "label_zh": "客户数",
        "label_en": "Customers",
        "value": 9876,
        "unit": "count",
        "headline": True,
    }
    with pytest.raises(ValueError, match="unit"):
        formatting.kpi("customers", 1, "apples")

    csv_path, xlsx_path = ctx.save_list(
        pd.DataFrame({"customer_id": ["0001"], "name": ["王小明"], "mobile": ["17012345678"]}),
        "call_list",
    )
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV for Excel needs a UTF-8 BOM"
    text = raw.decode("utf-8-sig")
    assert "王**" in text and "170****5678" in text and "王小明" not in text
    # RM-ready: headers in the run's language, ids as text (leading zeros kept).
    sheet = pd.read_excel(xlsx_path, dtype=str)
    assert sheet.loc[0, "姓名"] == "王**" and sheet.loc[0, "客户号"] == "0001"
    assert not list(tmp_path.glob(".*")), "no temporary files left behind"


def test_rm_lists_are_ready_for_excel(tmp_path):
    from openpyxl import load_workbook

    ctx = _context(tmp_path)
    frame = pd.DataFrame(
        {
            "customer_id": ["000123"],
            "tier": ["wealth"],
            "aum": [63985.520000000004],
            "p_churn": [0.123456],
            "payroll": [True],
            "churn_score": [0.123456],  # the ranking model's calibrated probability
        }
    )
    _, xlsx_path = ctx.save_list(frame, "churn_warning_list")
    book = load_workbook(xlsx_path)
    assert book.sheetnames == ["流失预警名单"]
    cells = book.active
    headers = [cell.value for cell in cells[1]]
    assert headers == ["客户号", "客户层级", "资产余额", "流失概率", "代发工资", "流失排序分"]
    assert cells["A2"].value == "000123" and cells["A2"].number_format == "@"
    assert cells["B2"].value == "财富客户" and cells["E2"].value == "是"
    assert cells["C2"].value == 63985.52 and cells["C2"].number_format == '"¥"#,##0.00'
    assert cells["D2"].value == 0.1235 and cells["D2"].number_format == "0.0%"
    assert cells["F2"].value == 0.1235 and cells["F2"].number_format == "0.0%"
    assert cells.auto_filter.ref and cells.freeze_panes == "A2"
    facts = json.loads((tmp_path / "list_churn_warning_list.json").read_text(encoding="utf-8"))
    assert facts["customers"] == 1 and facts["sums"]["aum"] == pytest.approx(63985.52)


def test_provenance_lists_parameters_versions_and_fingerprint(tmp_path):
    ctx = _context(tmp_path)
    table = ctx.provenance_table()
    items = dict(zip(table["item"], table["value"], strict=True))
    assert items["param.churn_horizon_months"] == "6" and items["month"] == "2026-10"
    assert items["file.customers.parquet"] == "ab" * 8
    assert items["version.pandas"] == pd.__version__
    assert items["git_commit"]


def test_run_record_is_written_last_and_read_back_only_for_the_same_run(tmp_path):
    writer = _context(tmp_path)
    writer.notebook = "02_lifecycle_survival"
    writer.save_table(pd.DataFrame({"customer_id": ["1"], "clv": [1.0]}), "clv")
    reader = _context(tmp_path)
    assert formatting.is_skipped(reader.upstream("02_lifecycle_survival", "clv"))  # unfinished
    writer.provenance()
    assert reader.upstream("02_lifecycle_survival", "clv")["clv"].tolist() == [1.0]
    assert reader.upstream_used == {"02_lifecycle_survival": writer.run_id}
    other = _context(tmp_path)
    other.params = {"churn_horizon_months": 3}
    assert other.upstream("02_lifecycle_survival", "clv").key == "nb_upstream_other_parameters"
    later = _context(tmp_path)
    later.month = "2026-11"
    assert later.upstream("02_lifecycle_survival", "clv").key == "nb_upstream_other_run"


def test_show_displays_each_skipped_reason_once(tmp_path, capsys):
    ctx = _context(tmp_path)
    skipped = formatting.Skipped("note_no_role", role="value")
    ctx.show(skipped)
    ctx.show(formatting.Skipped("note_no_role", role="value"))
    ctx.show(None)
    assert capsys.readouterr().out.count("Markdown object") == 1


def test_values_from_data_render_literally_in_markdown():
    # nbconvert renders [x](javascript:...) as a live link: a value may not open one.
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    hostile = "[x](javascript:alert(1)) <img src=x onerror=alert(2)> **b** http://evil.invalid"
    html = markdown2html_mistune(
        formatting.escape_markdown(f"网点 **{formatting.markdown_literal(hostile)}**")
    )
    assert "<a " not in html and "<img" not in html and "<strong>网点" not in html
    assert html.count("<strong>") == 1  # the label's own emphasis survives
    assert formatting.markdown_literal(12.5) == 12.5  # numbers keep their format specs


def test_say_and_notes_show_data_values_as_typed(tmp_path, capsys, monkeypatch):
    from helpers import i18n

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda item, **kw: shown.append(item))
    ctx = _context(tmp_path)
    monkeypatch.setattr(
        i18n, "t", lambda key, lang, **values: f"**{key}** {list(values.values())[0]}"
    )
    ctx.say("anything", branch="[x](javascript:alert(1))")
    ctx.show(formatting.Note("note", rm="<script>alert(1)</script>"))
    texts = [item.data for item in shown]
    assert "\\[x\\]\\(javascript\\:alert\\(1\\)\\)" in texts[0] and texts[0].startswith("**")
    assert "&lt;script&gt;" in texts[1] and "<script>" not in texts[1]


def test_show_escapes_the_index_too():
    frame = pd.DataFrame({"n": [1]}, index=["<b onmouseover=alert(1)>B01</b>"])
    html = formatting.show(frame, index=True).to_html()
    assert "<b onmouseover" not in html and "&lt;b onmouseover" in html


def test_figures_carry_their_title_as_alt_text(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    calls = []
    monkeypatch.setattr("IPython.display.display", lambda item, **kw: calls.append(kw))
    figure, axes = plt.subplots()
    axes.set_title('资产 <script>"x"</script>')
    _context(tmp_path).show(axes)
    assert calls == [{"metadata": {"image/png": {"alt": '资产 <script>"x"</script>'}}}]


def test_translate_frame_reads_each_cell_as_translate_code_does():
    from helpers.formatting.numbers import translate_code, translate_frame

    column = ["mass", "wealth", None, "aum, payroll", "not a code", 3, float("nan"), "mass"]
    frame = pd.DataFrame({"tier": column * 50, "customer_id": ["mass"] * 400})
    for lang in ("zh", "en"):
        words = translate_frame(frame, lang)
        expected = [translate_code(v, lang) for v in frame["tier"]]
        assert words["tier"].tolist()[:8] == expected[:8]
        assert words["tier"].isna().tolist() == pd.Series(expected).isna().tolist()
        assert (words["customer_id"] == "mass").all()  # ids are never translated
    assert translate_frame(frame, "en")["tier"].iloc[0] != "mass"
