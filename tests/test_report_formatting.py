"""The formatting scan: every HTML page of a zh and an en sample pack reads like a bank report.

``report_scan.scan_page`` flags placeholders, raw floats, True/False, literal ``**``, codes left
untranslated and the other language's script in narrative text. The unit tests show that each
rule catches its fault on a hand-made page (so a passing scan means something); the pack tests
run it over every page of the real packs.
"""

from __future__ import annotations

import pytest
from report_scan import scan_page

from helpers import formatting

CLEAN_ZH = """<html><head><style>td{x:1.234567}</style></head><body>
<h1>本月要点</h1><p>活跃客户 8,194 位,资产余额 ¥14.9亿,较去年同月 +¥1.73亿。</p>
<table><tr><td>张**</td><td>12.3%</td><td>大众客户</td></tr></table>
<img alt="近 12 个月的活跃客户" src="data:image/png;base64,AAAA1.2345678">
<table class="fp-literal"><tr><td>param.cox_covariates</td><td>['aum', 'payroll']</td>
<td>True</td></tr></table></body></html>"""

CLEAN_EN = """<html><body><h1>This month</h1>
<p>The churn warning list (流失预警名单) names 500 customers; ¥9.88 million may leave.</p>
<table><tr><td>王**</td><td>Mass</td></tr></table></body></html>"""


def test_clean_pages_pass():
    assert scan_page(CLEAN_ZH, "zh") == []
    assert scan_page(CLEAN_EN, "en") == []


@pytest.mark.parametrize(
    ("html", "lang", "rule"),
    [
        ("<p>预测流失率(未来 h 个月)</p>", "zh", "placeholder"),
        ("<p>Predicted churn (next h months)</p>", "en", "placeholder"),
        ("<p>未来 {churn_horizon_months} 个月</p>", "zh", "placeholder"),
        ("<p>未来 <code>churn_horizon_months</code> 个月内流失</p>", "zh", "placeholder"),
        ("<p>最多 <code>warning_list_per_rm</code> 人</p>", "zh", "placeholder"),
        ("<table><tr><td>50.000000</td></tr></table>", "zh", "raw_float"),
        ("<p>p 值 0.839415</p>", "zh", "raw_float"),
        ("<table><tr><td>63985.520000000004</td></tr></table>", "en", "raw_float"),
        ("<table><tr><td>False</td></tr></table>", "zh", "boolean"),
        ("<p>用**标准化均值差(SMD)**检查</p>", "zh", "markdown"),
        ("<table><tr><td>mass</td></tr></table>", "zh", "code"),
        ("<table><tr><td>aum_trend_3m</td></tr></table>", "zh", "code"),
        ("<table><tr><td>rate_coupon</td></tr></table>", "en", "code"),
        ('<img alt="At risk by tier: mass" src="x">', "zh", "code"),
        ("<p>The pack is built completely in a temporary folder.</p>", "zh", "script"),
        ("<h2>报告包规则 / How this pack is published</h2>", "en", "script"),
    ],
)
def test_each_rule_catches_its_fault(html, lang, rule):
    found = {name for name, _ in scan_page(f"<html><body>{html}</body></html>", lang)}
    assert rule in found, (rule, found)


def test_parameter_named_as_a_parameter_is_not_a_placeholder():
    page = "<p>阈值是参数 <code>tier_thresholds</code>,可以按本行标准修改。</p>"
    assert scan_page(page, "zh") == []


def test_formatting_layer_turns_the_faults_into_words():
    assert formatting.format_money(1.49e9, "zh") == "¥14.9亿"
    assert formatting.format_money(1.49e9, "en") == "¥1.49 billion"
    assert formatting.format_money(123456, "zh") == "¥12.3万"
    assert formatting.format_money(-34976960.5, "en") == "-¥35.0 million"
    assert formatting.format_money(9876, "zh") == "¥9,876"
    assert formatting.format_money(1234567.5, "zh", compact=False) == "¥1,234,568"
    assert formatting.format_money(5, "zh", currency="HKD") == "HK$5"
    assert formatting.format_pp(0.005, "zh") == "+0.5 个百分点"
    assert formatting.format_pp(-0.0004, "en") == "±0.0 pp"  # rounds to nothing: no sign
    assert formatting.format_p_value(0.0001) == "<0.001"
    assert formatting.format_p_value(0.839415) == "0.839"
    assert (
        formatting.format_bool(True, "zh") == "是" and formatting.format_bool(False, "en") == "No"
    )
    assert formatting.translate_code("mass", "zh") == "大众客户"
    assert formatting.translate_code("rate_coupon", "en") == "Rate coupon"
    assert formatting.translate_code("aum, payroll", "zh") == "资产余额、代发工资"
    assert formatting.translate_code("0000123", "zh") == "0000123"
    assert formatting.format_kpi(-0.405, "pct", "zh") == "-40.5%"
    assert formatting.format_kpi(0.3, "pct", "zh", significant=False) == "不显著"
    assert formatting.format_kpi(0.005, "pp", "zh") == "0.5 个百分点"
    assert formatting.format_change(-34980000, "rmb", "zh") == "-¥3,498万"


def test_kpi_records_keep_intervals_and_say_not_significant():
    record = formatting.kpi("campaign_roi", 0.2, "pct", lower=-0.1, upper=0.5)
    assert record["significant"] is False and record["lower"] == -0.1
    table = formatting.kpi_table([record], "en")
    assert table.iloc[0, 1] == "not significant (estimate 20.0%; interval -10.0% to 50.0%)"
    assert "significant" not in formatting.kpi("customers", 5)


def _scan_pack(pack_dir, lang):
    pages = sorted(pack_dir.glob("*.html"))
    assert len(pages) >= 7, f"expected the index and six reports in {pack_dir}"
    problems = {}
    for page in pages:
        found = scan_page(page.read_text(encoding="utf-8"), lang)
        if found:
            problems[page.name] = found[:8]
    return problems


@pytest.mark.slow
@pytest.mark.xdist_group("packs")
def test_zh_sample_pack_reads_clean(sample_pack):
    assert sample_pack.ok, sample_pack.statuses
    assert _scan_pack(sample_pack.out_dir, "zh") == {}


@pytest.mark.slow
@pytest.mark.xdist_group("packs")
def test_en_sample_pack_reads_clean(sample_pack_en):
    assert sample_pack_en.ok, sample_pack_en.statuses
    assert _scan_pack(sample_pack_en.out_dir, "en") == {}
