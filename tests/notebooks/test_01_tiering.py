"""01_tiering through the batch path: its artifacts equal what the helpers compute on the data."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pandas as pd
import pytest

from helpers import config, features, tiering
from helpers import parameters as parameters_module
from helpers.data import load_dataset
from helpers.paths import NOTEBOOKS_DIR, SAMPLE_FLAT_SPEC, SAMPLE_SPEC

pytestmark = pytest.mark.slow

NOTEBOOK = "01_tiering"
#: KPI keys the monthly summary reads (docs/architecture.md §10).
SUMMARY_KEYS = {"tier_share_mass", "tier_share_affluent", "tier_share_wealth", "tier_share_private"}
HISTORY_KEYS = {"tier_upgrades", "tier_downgrades", "net_aum_change"}
#: The parameters cell, in order (pack-level churn parameters included: ctx.churn reads them).
PARAMETERS = [
    "dataset", "month", "lang", "artifacts_dir", "seed", "sample_cap", "tier_thresholds",
    "churn_kind", "soft_floor", "soft_drop", "soft_months", "tier_basis", "migration_window",
    "score_bands", "k_min", "k_max", "cluster_sample", "watch_rows",
]  # fmt: skip


def _kpis(artifacts) -> dict:
    payload = json.loads((artifacts / f"kpis_{NOTEBOOK}.json").read_text(encoding="utf-8"))
    return {record["key"]: record for record in payload["kpis"]}


def _markdown_outputs(notebook) -> list[str]:
    return [
        output.get("data", {}).get("text/markdown", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    ]


def _expected_counts(thresholds, basis: str) -> pd.Series:
    """Tier counts of the active book at the latest month, computed without the notebook."""
    dataset = load_dataset(SAMPLE_SPEC)
    connection = dataset.connect()
    try:
        snapshot = tiering.tier_snapshot(
            connection,
            dataset.latest_month(),
            basis,
            config.resolve_ladder(thresholds),
            features.churn_events(dataset),
        )
    finally:
        connection.close()
    return snapshot["tier"].value_counts(sort=False)


def test_notebook_metadata_and_parameters():
    notebook = nbformat.read(NOTEBOOKS_DIR / f"{NOTEBOOK}.ipynb", as_version=4)
    # tiers need a value to rank on or a mapped tier column (issue 13: not applicable, not a crash)
    assert notebook.metadata["fishpond"]["requires"] == ["value|tier"]
    assert notebook.metadata["kernelspec"]["name"] == "fishpond"
    parameters = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameters) == 1
    assert "tier_thresholds = []" in parameters[0].source
    assert parameters_module.declared_parameters(NOTEBOOKS_DIR / f"{NOTEBOOK}.ipynb") == PARAMETERS
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    # one ladder and one churn definition per pack: the run's, never the notebook's own
    assert "ctx.ladder" in code and "churn=ctx.churn" in code and "ctx.churn)" in code
    assert "resolve_ladder" not in code and "import months" not in code
    for cell in notebook.cells:
        assert not cell.get("outputs"), "committed without outputs"
        assert "papermill" not in cell.metadata and "execution" not in cell.metadata
        if cell.cell_type == "code":
            assert "def " not in cell.source and "class " not in cell.source
    tags = [tuple(cell.metadata.get("tags", [])) for cell in notebook.cells]
    assert tags.count(("lang-zh",)) == tags.count(("lang-en",)) >= 10


def test_thresholds_parameter_changes_the_report(run_notebook, tmp_path):
    thresholds = [100_000, 1_000_000, 10_000_000]
    _, artifacts = run_notebook(
        NOTEBOOK, tmp_path, tier_thresholds=thresholds, tier_basis="avg_3m", lang="en"
    )
    profile = pd.read_parquet(artifacts / "tier_profile.parquet").set_index("tier")
    expected = _expected_counts(thresholds, "avg_3m")
    default = _expected_counts([], "avg_3m")
    assert profile.loc[expected.index, "customers"].tolist() == expected.tolist()
    assert (expected != default).all(), "the override must move customers between tiers"
    kpis = _kpis(artifacts)
    assert kpis["tier_share_affluent"]["value"] == pytest.approx(
        expected["affluent"] / expected.sum()
    )
    assignments = pd.read_parquet(artifacts / "tier_assignments.parquet")
    assert assignments["tier"].value_counts().reindex(expected.index).tolist() == expected.tolist()
    # the 3-month average basis was used: a customer's tier follows basis_value, not month-end AUM
    ladder = config.resolve_ladder(thresholds)
    recomputed = config.assign_tiers(assignments["basis_value"], ladder).astype(str)
    assert (recomputed == assignments["tier"].astype(str)).all()
    assert (assignments["basis_value"] != assignments["aum"]).any()


@pytest.mark.xdist_group("packs")
def test_sample_pack_tiering_report_and_artifacts(sample_pack):
    assert sample_pack.statuses[NOTEBOOK] == "ok"
    out = sample_pack.out_dir
    html = (out / f"{NOTEBOOK}.html").read_text(encoding="utf-8")
    assert "给客户分层" in html and "Tier the customer base" not in html
    assert "Traceback" not in html
    artifacts = out / "artifacts"
    kpis = _kpis(artifacts)
    assert SUMMARY_KEYS | HISTORY_KEYS <= set(kpis)
    expected = _expected_counts([], "month_end")
    total = expected.sum()
    for code, count in expected.items():
        assert kpis[f"tier_share_{code}"]["value"] == pytest.approx(count / total)
    bridge = pd.read_parquet(artifacts / "tier_aum_bridge.parquet").set_index("step")["amount_fen"]
    assert bridge.drop("end").sum() == bridge["end"]
    assert kpis["net_aum_change"]["value"] == pytest.approx((bridge["end"] - bridge["start"]) / 100)
    counts = pd.read_parquet(artifacts / "tier_transition_counts.parquet").set_index("tier_before")
    assert int(counts.loc[:, "mass":"private"].to_numpy().sum()) == total
    moved_up = sum(
        int(counts.iloc[row, column]) for row in range(4) for column in range(4) if column > row
    )
    assert kpis["tier_upgrades"]["value"] == moved_up
    assignments = pd.read_parquet(artifacts / "tier_assignments.parquet")
    assert len(assignments) == total and assignments["customer_id"].is_unique
    assert {"segment", "cluster", "potential_band", "coverage"} <= set(assignments.columns)
    raw = (artifacts / "tier_downgrade_watch_list.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM for Excel"
    watch = pd.read_csv(
        artifacts / "tier_downgrade_watch_list.csv", dtype=str, encoding="utf-8-sig"
    )
    assert len(watch) == kpis["tier_downgrades"]["value"]
    assert watch["姓名"].str.contains(r"\*").all() and watch["手机号"].str.contains(r"\*{4}").all()
    assert (artifacts / "tier_downgrade_watch_list.xlsx").exists()


@pytest.mark.xdist_group("packs")
def test_flat_pack_tiers_without_history(flat_pack):
    assert flat_pack.statuses[NOTEBOOK] == "ok"
    artifacts = flat_pack.out_dir / "artifacts"
    kpis = _kpis(artifacts)
    assert SUMMARY_KEYS <= set(kpis) and not HISTORY_KEYS & set(kpis)
    flat = load_dataset(SAMPLE_FLAT_SPEC).table("flat")
    active = flat[~flat["event"].astype(bool)]
    assert kpis["tiering_kpi_customers"]["value"] == len(active)
    expected = config.assign_tiers(active["value"]).value_counts(normalize=True)
    for code, share in expected.items():
        assert kpis[f"tier_share_{code}"]["value"] == pytest.approx(share)
    assert not (artifacts / "tier_aum_bridge.parquet").exists()
    assignments = pd.read_parquet(artifacts / "tier_assignments.parquet")
    assert assignments["cluster"].notna().all() and assignments["potential_band"].notna().all()
    assert np.isin(assignments["tier"].unique(), ["mass", "affluent", "wealth", "private"]).all()
    html = (flat_pack.out_dir / f"{NOTEBOOK}.html").read_text(encoding="utf-8")
    assert "单表(flat)模式" in html and "Traceback" not in html
    # every history step is skipped for one reason, shown once
    executed = nbformat.read(flat_pack.out_dir / "executed" / f"{NOTEBOOK}.ipynb", as_version=4)
    assert sum("单表(flat)模式" in text for text in _markdown_outputs(executed)) == 1


def test_minimal_bank_extract_ids_and_balances_only(run_notebook, tmp_path):
    """A flat table with nothing but ids and balances still gets tiers, with boundaries exact."""
    folder = tmp_path / "bank"
    folder.mkdir()
    balances = [
        "1,200.50", "300", "49,999.99", "50,000", "50,000.01", "499,999.99",
        "500,000", "5,999,999.99", "6,000,000", "12,000,000", "0", "88,000",
    ]  # fmt: skip
    rows = [f'{index:04d},"{balance}"' for index, balance in enumerate(balances, start=1)]
    (folder / "customers.csv").write_text(
        "客户号,资产余额\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    spec = folder / "dataset.yaml"
    spec.write_text(
        "name: minimal-bank\nmode: flat\ntable:\n  path: customers.csv\n"
        "roles:\n  id: 客户号\n  value: 资产余额\n",
        encoding="utf-8",
    )
    notebook, artifacts = run_notebook(NOTEBOOK, tmp_path, dataset=str(spec))
    assignments = pd.read_parquet(artifacts / "tier_assignments.parquet").set_index("customer_id")
    assert assignments.loc[["0003", "0004", "0008", "0009"], "tier"].tolist() == [
        "mass", "affluent", "wealth", "private",
    ]  # fmt: skip
    assert assignments["tier"].value_counts().to_dict() == {
        "mass": 4, "affluent": 4, "wealth": 2, "private": 2,
    }  # fmt: skip
    kpis = _kpis(artifacts)
    assert kpis["tier_share_wealth"]["value"] == pytest.approx(2 / 12)
    assert not (artifacts / "tier_fishpond_grid.parquet").exists()
    notes = _markdown_outputs(notebook)
    for reason in ("鱼塘矩阵已跳过", "聚类已跳过", "命名分群已跳过", "单表(flat)模式"):
        assert sum(reason in text for text in notes) == 1, reason
