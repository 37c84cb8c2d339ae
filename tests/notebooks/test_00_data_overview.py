"""00_data_overview through the batch path: its artifacts equal what the helpers compute."""

import json

import nbformat
import pytest

from helpers.data import load_dataset
from helpers.overview import portfolio as portfolio
from helpers.paths import SAMPLE_SPEC

pytestmark = pytest.mark.slow


def _kpis(artifacts):
    payload = json.loads((artifacts / "kpis_00_data_overview.json").read_text(encoding="utf-8"))
    return payload, {record["key"]: record for record in payload["kpis"]}


@pytest.mark.xdist_group("packs")
def test_sample_pack_overview_kpis_match_the_helpers(sample_pack):
    assert sample_pack.statuses["00_data_overview"] == "ok"
    payload, kpis = _kpis(sample_pack.out_dir / "artifacts")
    assert payload["month"] == "2026-10"
    expected = {
        r["key"]: r["value"] for r in portfolio.portfolio_kpis(load_dataset(SAMPLE_SPEC), "2026-10")
    }
    assert {key: kpis[key]["value"] for key in expected} == pytest.approx(expected)
    assert kpis["ov_active_customers"]["headline"] and kpis["ov_total_aum"]["unit"] == "rmb"
    html = (sample_pack.out_dir / "00_data_overview.html").read_text(encoding="utf-8")
    assert "检查本月数据" in html and "Check this month" not in html
    assert "练习" not in html, "course cells must not reach the management report"


@pytest.mark.xdist_group("packs")
def test_flat_pack_overview_reports_churn_and_skips_history(flat_pack):
    assert flat_pack.statuses["00_data_overview"] == "ok"
    _, kpis = _kpis(flat_pack.out_dir / "artifacts")
    assert kpis["ov_active_customers"]["value"] == 10_000
    assert 0 < kpis["ov_churned"]["value"] < 1
    html = (flat_pack.out_dir / "00_data_overview.html").read_text(encoding="utf-8")
    assert "没有月度历史" in html  # the flat-mode note says what was skipped


def test_english_run_labels_in_english_and_every_check_passes(run_notebook, tmp_path):
    notebook, artifacts = run_notebook("00_data_overview", tmp_path, lang="en", month="2026-09")
    payload, kpis = _kpis(artifacts)
    assert payload["month"] == "2026-09"
    outputs = "\n".join(
        str(output.get("data", {}).get("text/markdown", ""))
        + str(output.get("data", {}).get("text/html", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert "Active customers" in outputs
    assert outputs.count("✅") == 3 and "❌" not in outputs, "the source notebook's solutions pass"
    assert isinstance(nbformat.validate(notebook), type(None))
