"""The readiness table: for each notebook, will run / reduced / not applicable, in words."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from dataset_fixtures import panel_frames, write_panel

from helpers.cli import main
from helpers.data import Dataset, load_dataset, notebook_roles, readiness, role_words
from helpers.paths import NOTEBOOKS_DIR, SAMPLE_FLAT_SPEC, SAMPLE_SPEC

NOTEBOOKS = [
    "00_data_overview", "01_tiering", "02_lifecycle_survival", "03_cross_sell_propensity",
    "04_retention_roi", "05_monthly_summary",
]  # fmt: skip
needs_sample = pytest.mark.skipif(
    not SAMPLE_SPEC.parent.joinpath("customers.parquet").exists(), reason="sample not generated"
)


def _table(ds):
    table = readiness(ds, NOTEBOOKS_DIR)
    assert table["notebook"].tolist() == NOTEBOOKS
    assert set(table["status"]) <= {"run", "reduced", "not_applicable"}
    return table.set_index("notebook")


@needs_sample
def test_the_sample_runs_everything():
    table = _table(load_dataset(SAMPLE_SPEC))
    assert (table["status"] == "run").all() and (table["detail"] == "will run").all()


@needs_sample
def test_the_flat_sample_is_reduced_where_history_is_needed():
    table = _table(load_dataset(SAMPLE_FLAT_SPEC))
    assert table["status"].to_dict() == {
        "00_data_overview": "reduced", "01_tiering": "reduced",
        "02_lifecycle_survival": "reduced", "03_cross_sell_propensity": "reduced",
        "04_retention_roi": "run", "05_monthly_summary": "run",
    }  # fmt: skip
    detail = table.loc["01_tiering", "detail"]
    assert detail.startswith("reduced: without monthly history (a flat table is one row per")
    assert "the tier migration matrix, the AUM bridge and the downgrade watch list" in detail
    assert "look-alike models" in table.loc["03_cross_sell_propensity", "detail"]


def test_a_minimal_panel_customers_and_balances_only(tmp_path):
    frames = panel_frames()
    minimal = {name: frames[name] for name in ("customers", "monthly_balances")}
    table = _table(load_dataset(write_panel(tmp_path, minimal)))
    assert table["status"].to_dict() == {
        "00_data_overview": "reduced", "01_tiering": "run", "02_lifecycle_survival": "run",
        "03_cross_sell_propensity": "not_applicable", "04_retention_roi": "reduced",
        "05_monthly_summary": "run",
    }  # fmt: skip
    assert table.loc["03_cross_sell_propensity", "detail"] == (
        "not applicable: needs product holdings (the holdings table)"
    )
    assert table.loc["00_data_overview", "detail"] == (
        "reduced: without product holdings (the holdings table), it leaves out product penetration"
    )
    assert table.loc["04_retention_roi", "detail"] == (
        "reduced: without campaign groups (the campaigns table) and campaign results (the "
        "campaigns table), it leaves out the last campaign's evaluation and uplift models (it "
        "plans the next campaign instead)"
    )


def test_a_flat_table_without_churn_is_not_applicable_for_survival():
    import pandas as pd

    ds = Dataset.from_frames({"flat": pd.DataFrame({"customer_id": ["a"], "value": [1.0]})}, "flat")
    table = _table(ds)
    assert table.loc["02_lifecycle_survival", "detail"] == (
        "not applicable: needs a tenure column (roles.duration) and a churn flag (roles.event)"
    )
    assert table.loc["03_cross_sell_propensity", "status"] == "not_applicable"


def test_every_notebook_declares_its_optional_roles():
    for name in NOTEBOOKS:
        requires, optional, left_out = notebook_roles(NOTEBOOKS_DIR / f"{name}.ipynb")
        metadata = json.loads((NOTEBOOKS_DIR / f"{name}.ipynb").read_text())["metadata"]
        assert "optional" in metadata["fishpond"], name
        assert set(left_out) <= set(optional), name
        assert not set(requires) & set(optional), name


def test_role_words_either_form():
    assert role_words("value|tier", "flat") == (
        "a balance or AUM column (roles.value) or a tier column (roles.tier)"
    )


def test_validate_prints_the_readiness(tmp_path, capsys):
    frames = panel_frames()
    minimal = {name: frames[name] for name in ("customers", "monthly_balances")}
    assert main(["validate", "--dataset", str(write_panel(tmp_path, minimal))]) == 0
    out = capsys.readouterr().out
    print(out)
    assert "Notebooks on this data:" in out
    assert "03_cross_sell_propensity  not applicable: needs product holdings" in out


@pytest.mark.slow
@needs_sample
def test_validate_piped_into_head_stops_quietly():
    # `fishpond validate | head -1`: the reader closes the pipe after one line
    process = subprocess.Popen(
        [sys.executable, "-m", "helpers", "validate"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.wait(timeout=120)
    assert first.startswith(b"Dataset ")
    assert "Broken pipe" not in stderr and "Traceback" not in stderr
    assert process.returncode in (0, 141)
