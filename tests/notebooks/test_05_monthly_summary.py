"""05_monthly_summary in the monthly pack: first on the index, numbers equal the artifacts'."""

import json
import re
import shutil

import pytest
from papermill.exceptions import PapermillExecutionError

from helpers import summary
from helpers.formatting import format_kpi

pytestmark = pytest.mark.slow


@pytest.mark.xdist_group("packs")
def test_summary_is_first_and_shows_the_artifacts_numbers(sample_pack):
    out = sample_pack.out_dir
    assert sample_pack.statuses["05_monthly_summary"] == "ok"
    index = (out / "index.html").read_text(encoding="utf-8")
    # first in the list of reports (actions and tiles above it link to sections of any report)
    reports = index.split('<table class="fp-runs">', 1)[1].split("</table>", 1)[0]
    links = re.findall(r'href="(0\d_[a-z_]+)\.html"', reports)
    assert links and links[0] == "05_monthly_summary", links
    html = (out / "05_monthly_summary.html").read_text(encoding="utf-8")
    shown = 0
    for path in sorted((out / "artifacts").glob("kpis_0[0-4]_*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        for record in payload["kpis"]:
            if (payload["notebook"], record["key"]) in summary.SUMMARY_ITEMS and record[
                "value"
            ] is not None:
                text = format_kpi(record["value"], record["unit"], "zh", compact=True)
                assert text in html, f"{record['key']}: {text} not on the summary page"
                shown += 1
    assert shown >= 8, f"only {shown} summary indicators found in the artifacts"


@pytest.mark.xdist_group("packs")
def test_summary_fails_naming_the_missing_upstream_artifact(sample_pack, run_notebook, tmp_path):
    artifacts = tmp_path / "partial"
    shutil.copytree(sample_pack.out_dir / "artifacts", artifacts)
    (artifacts / "kpis_03_cross_sell_propensity.json").unlink()  # as if 03 had failed
    with pytest.raises(PapermillExecutionError) as failure:
        run_notebook("05_monthly_summary", tmp_path / "run", artifacts_dir=str(artifacts))
    assert failure.value.ename == "MissingArtifactError"
    assert "kpis_03_cross_sell_propensity.json" in failure.value.evalue
