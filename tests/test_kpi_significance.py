"""A number is stated as a fact only when its interval excludes zero (DESIGN.md §7).

KPI records may carry ``lower`` / ``upper`` / ``significant`` (:func:`helpers.formatting.kpi`);
the notebooks' KPI tables, the index and the monthly summary then show an estimate whose
interval crosses zero as "not significant", with the estimate and its interval, never as a
bare number. The last test reads every KPI file of the sample pack.
"""

from __future__ import annotations

import html
import json
import re

import pandas as pd
import pytest

from helpers import formatting
from helpers.batch import export
from helpers.summary import monthly


def test_kpi_records_stay_compatible_and_carry_intervals():
    plain = formatting.kpi("ov_active_customers", 9000, "count", headline=True)
    assert set(plain) == {"key", "label_zh", "label_en", "value", "unit", "headline"}
    crossing = formatting.kpi("rr_kpi_incremental_aum", 5.5e7, "rmb", lower=-2.4e7, upper=1.3e8)
    assert crossing["significant"] is False and not formatting.kpi_is_fact(crossing)
    clear = formatting.kpi("campaign_roi", 0.95, "ratio", lower=0.28, upper=1.62)
    assert clear["significant"] is True and formatting.kpi_is_fact(clear)
    negative = formatting.kpi("campaign_roi", -0.5, "ratio", lower=-0.9, upper=-0.1)
    assert negative["significant"] is True  # significantly negative is a fact too
    told = formatting.kpi("campaign_roi", 0.2, "ratio", significant=False)
    assert told["significant"] is False and told["lower"] is None
    with pytest.raises(ValueError, match="lower bound .* above upper bound"):
        formatting.kpi("campaign_roi", 0.2, "ratio", lower=1.0, upper=0.5)


def test_an_estimate_crossing_zero_reads_not_significant():
    crossing = formatting.kpi("rr_kpi_incremental_aum", 5.5e7, "rmb", lower=-2.4e7, upper=1.3e8)
    assert formatting.format_kpi_record(crossing, "en") == (
        "not significant (estimate ¥55,000,000; interval -¥24,000,000 to ¥130,000,000)"
    )
    assert formatting.format_kpi_record(crossing, "zh").startswith("不显著")
    clear = formatting.kpi("campaign_roi", 0.95, "ratio", lower=0.28, upper=1.62)
    assert formatting.format_kpi_record(clear, "en") == "0.95 (interval 0.28 to 1.62)"
    plain = formatting.kpi("ov_active_customers", 9000, "count")
    assert formatting.format_kpi_record(plain, "en") == "9,000"
    table = formatting.kpi_table([crossing, clear, plain], "en")
    assert table.iloc[:, 1].str.startswith("not significant").tolist() == [True, False, False]


def test_the_index_and_the_summary_never_state_it_as_a_fact(tmp_path):
    crossing = formatting.kpi(
        "next_campaign_value", 1.0e6, "rmb", headline=True, lower=-2.0e5, upper=2.2e6
    )
    clear = formatting.kpi("campaign_roi", 0.95, "ratio", headline=True, lower=0.28, upper=1.6)
    payload = {"notebook": "04_retention_roi", "kpis": [crossing, clear]}
    (tmp_path / "kpis_04_retention_roi.json").write_text(json.dumps(payload), encoding="utf-8")
    items = {item["key"]: item for item in export.read_kpis(tmp_path, "en")}
    assert items["next_campaign_value"]["display"].startswith(
        "not significant (estimate ¥1.00 million"  # tiles: amounts in thousand/million
    )
    assert items["next_campaign_value"]["significant"] is False
    assert items["campaign_roi"]["display"] == "0.95 (interval 0.28 to 1.60)"
    table = monthly.summary_table(monthly.read_kpis(tmp_path), {}, "en")
    shown = monthly.display_table(table, "en").set_index(table["key"])
    this_month = shown.iloc[:, 1]
    assert this_month["next_campaign_value"].startswith("not significant")
    roi = pd.DataFrame([{**clear, "value": 0.2, "lower": -0.3, "upper": 0.7, "significant": False}])
    (tmp_path / "kpis_04_retention_roi.json").write_text(
        json.dumps({"notebook": "04_retention_roi", "kpis": roi.to_dict("records")}),
        encoding="utf-8",
    )
    table = monthly.summary_table(monthly.read_kpis(tmp_path), {}, "en")
    sentences = monthly.findings(table, [], "en").items
    assert any("cannot be said to have paid or not" in s for s in sentences)
    assert not any("it paid for itself" in s or "it did not pay" in s for s in sentences)


def _page_text(path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


@pytest.mark.slow
@pytest.mark.xdist_group("packs")
def test_no_kpi_of_the_sample_pack_is_a_fact_when_its_interval_crosses_zero(sample_pack):
    artifacts = sample_pack.out_dir / "artifacts"
    records = []
    for path in sorted(artifacts.glob("kpis_*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        records += [dict(record, notebook=payload["notebook"]) for record in payload["kpis"]]
    keyed = {record["key"]: record for record in records}
    # the campaign's estimates carry their intervals
    for key in ("campaign_roi", "rr_kpi_incremental_retained", "rr_kpi_incremental_aum",
                "next_campaign_value", "rr_kpi_next_roi"):  # fmt: skip
        assert keyed[key]["lower"] is not None and keyed[key]["upper"] is not None, key
    crossing = []
    for record in records:
        if record.get("lower") is None or record.get("upper") is None:
            continue
        crosses = record["lower"] <= 0 <= record["upper"]
        assert record["significant"] is (not crosses), record["key"]
        if crosses:
            crossing.append(record)
    # the sample's AUM effect is one of them (12 months, 2,200 customers per arm): the test
    # checks something
    assert "rr_kpi_incremental_aum" in {record["key"] for record in crossing}
    pages = [sample_pack.out_dir / "index.html"] + sorted(sample_pack.out_dir.glob("0*.html"))
    for record in crossing:
        label = record["label_zh"]
        for page in pages:
            text = _page_text(page)
            for match in re.finditer(re.escape(label), text):
                after = text[match.end() : match.end() + 120]
                assert "不显著" in after, (page.name, label, after)
