"""What every notebook of the sample pack promises: its provenance lists each of its
parameters, and a reader used this run's upstream artifacts (the pack is built with jobs=2).
"""

from __future__ import annotations

import json

import nbformat
import pytest

from helpers import parameters, paths

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb"))

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("packs")]


def _record(pack, name: str) -> dict:
    return json.loads((pack.out_dir / "artifacts" / f"run_{name}.json").read_text("utf-8"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_provenance_lists_every_parameter_of_the_parameters_cell(sample_pack, path):
    declared = parameters.declared_parameters(path)
    record = _record(sample_pack, path.stem)
    assert sorted(record["parameters"]) == sorted(declared)
    executed = nbformat.read(sample_pack.out_dir / "executed" / f"{path.stem}.ipynb", 4)
    last = executed.cells[-1]
    shown = "".join(
        output.get("data", {}).get("text/html", "") for output in last.get("outputs", [])
    )
    missing = [name for name in declared if f"param.{name}" not in shown]
    assert not missing, f"{path.stem}: provenance table lacks {missing}"


def test_retention_used_the_clv_of_this_run(sample_pack):
    survival = _record(sample_pack, "02_lifecycle_survival")
    retention = _record(sample_pack, "04_retention_roi")
    assert retention["upstream"] == {"02_lifecycle_survival": survival["run_id"]}


def test_summary_runs_after_every_analytic_notebook(sample_pack):
    summary = _record(sample_pack, "05_monthly_summary")
    for name in ("00_data_overview", "01_tiering", "02_lifecycle_survival"):
        assert _record(sample_pack, name)["finished_utc"] <= summary["finished_utc"]


def test_the_run_cache_never_reaches_the_pack(sample_pack):
    """The run cache of shared frames (helpers.features.cache) is removed at the end;
    every kernel reports its peak memory in the manifest."""
    assert not (sample_pack.out_dir / "cache").exists()
    entries = {e["notebook"]: e for e in sample_pack.manifest["notebooks"]}
    assert all(e.get("kernel_peak_gb", 0) > 0 for e in entries.values() if e["status"] == "ok")
