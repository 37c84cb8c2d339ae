"""Monthly summary from hand-made artifacts: numbers, deltas, findings, missing upstream."""

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_notebook

from helpers import summary
from helpers.formatting import kpi


def _write(folder, notebook, records, month="2026-10"):
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"notebook": notebook, "month": month, "kpis": records}
    (folder / f"kpis_{notebook}.json").write_text(
        json.dumps(payload, ensure_ascii=False), encoding="utf-8"
    )


@pytest.fixture()
def packs(tmp_path):
    current = tmp_path / "reports" / "2026-10" / "artifacts"
    previous = tmp_path / "reports" / "2026-09" / "artifacts"
    _write(
        current,
        "00_data_overview",
        [kpi("ov_active_customers", 1100, "count"), kpi("ov_total_aum", 2.2e8, "rmb")],
    )
    _write(
        previous,
        "00_data_overview",
        [kpi("ov_active_customers", 1000, "count"), kpi("ov_total_aum", 2.0e8, "rmb")],
        "2026-09",
    )
    _write(
        current,
        "02_lifecycle_survival",
        [kpi("churn_rate", 0.05, "pct"), kpi("aum_at_risk", 1.1e7, "rmb")],
    )
    _write(current, "04_retention_roi", [kpi("campaign_roi", -0.25, "ratio")])
    return current, previous


def test_previous_pack_is_found_beside_a_finished_or_building_pack(packs, tmp_path):
    current, previous = packs
    assert summary.previous_artifacts(current, "2026-10") == previous.resolve()
    building = tmp_path / "reports" / ".2026-10.tmp-123-abc" / "artifacts"
    building.mkdir(parents=True)
    assert summary.previous_artifacts(building, "2026-10") == previous.resolve()
    assert summary.previous_artifacts(current, "2026-03") is None
    assert summary.previous_artifacts(current, "2026-10", "/elsewhere") == Path("/elsewhere")
    assert summary.previous_artifacts(current, None) is None


def test_summary_table_values_and_changes(packs):
    current, previous = packs
    table = summary.summary_table(summary.read_kpis(current), summary.read_kpis(previous), "en")
    rows = table.set_index("key")
    assert rows.loc["ov_active_customers", "value"] == 1100
    assert rows.loc["ov_active_customers", "change"] == 100
    assert rows.loc["ov_total_aum", "change"] == pytest.approx(2e7)
    assert pd.isna(rows.loc["churn_rate", "previous"])
    shown = summary.display_table(table, "en").set_index("Indicator")
    assert shown.loc["Active customers", "Change"] == "+100"
    assert shown.loc["Total AUM", "This month"] == "¥220 million"
    assert shown.loc["Total AUM", "Change"] == "+¥20.0 million"


def test_findings_are_written_from_the_numbers(packs):
    current, previous = packs
    table = summary.summary_table(summary.read_kpis(current), summary.read_kpis(previous), "zh")
    statuses = [summary.UpstreamStatus("03_cross_sell_propensity", "not_applicable", "products")]
    text = "\n".join(summary.findings(table, statuses, "zh").items)
    assert "1,100" in text and "增加 10.0%" in text  # 1,100 vs 1,000
    assert "户均 ¥20.0万" in text and "¥2.20亿" in text
    assert "5.0%" in text and "¥1,100万" in text
    assert "没有覆盖成本" in text  # ROI -25%
    assert "03_cross_sell_propensity 不适用" in text
    english = "\n".join(summary.findings(table, [], "en").items)
    assert "up 10.0%" in english and "did not pay" in english


def test_missing_upstream_fails_naming_the_file_and_not_applicable_does_not(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name, requires in [
        ("00_data_overview", []),
        ("01_tiering", ["value"]),
        ("02_lifecycle_survival", ["duration", "event"]),
        ("03_cross_sell_propensity", ["products"]),
        ("04_retention_roi", []),
    ]:
        notebook = new_notebook()
        notebook.metadata["fishpond"] = {"requires": requires}
        nbformat.write(notebook, notebooks / f"{name}.ipynb")
    artifacts = tmp_path / "artifacts"
    for name in ("00_data_overview", "01_tiering", "04_retention_roi"):
        _write(artifacts, name, [])
    roles = {"value", "products"}  # no duration/event: survival does not apply
    statuses = {s.notebook: s for s in summary.upstream_status(artifacts, roles, notebooks)}
    assert statuses["02_lifecycle_survival"].status == "not_applicable"
    assert statuses["02_lifecycle_survival"].reason == "duration, event"
    assert statuses["03_cross_sell_propensity"].status == "missing"
    with pytest.raises(summary.MissingArtifactError, match="kpis_03_cross_sell_propensity.json"):
        summary.require_upstream(list(statuses.values()), "en")
    (artifacts / "kpis_03_cross_sell_propensity.json").write_text(
        '{"notebook": "03_cross_sell_propensity", "kpis": []}'
    )
    summary.require_upstream(summary.upstream_status(artifacts, roles, notebooks), "en")  # no error
