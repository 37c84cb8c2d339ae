"""02_lifecycle_survival through the batch path: its artifacts are right, not just present."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest
from rm_lists import read_rm_list

from helpers import features, paths, privacy
from helpers.config import ChurnDefinition, assign_tiers, resolve_ladder
from helpers.data import load_dataset
from helpers.survival import CLV_COLUMNS

NOTEBOOK = "02_lifecycle_survival"


def _kpis(artifacts):
    payload = json.loads((artifacts / f"kpis_{NOTEBOOK}.json").read_text(encoding="utf-8"))
    return {record["key"]: record for record in payload["kpis"]}


def _warning_list(artifacts):
    path = artifacts / "churn_warning_list.csv"
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf", "RM lists are UTF-8 with BOM"
    return read_rm_list(path)


def test_committed_notebook_is_clean_and_declares_its_roles():
    notebook = nbformat.read(paths.NOTEBOOKS_DIR / f"{NOTEBOOK}.ipynb", as_version=4)
    assert notebook.metadata["fishpond"]["requires"] == ["duration", "event"]
    assert notebook.metadata["kernelspec"]["name"] == "fishpond"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    assert [c for c in code if "parameters" in c.metadata.get("tags", [])] == [code[0]]
    assert not any("def " in cell.source or "class " in cell.source for cell in code)
    markdown_tags = [
        tuple(c.metadata.get("tags", [])) for c in notebook.cells if c.cell_type == "markdown"
    ]
    assert markdown_tags.count(("lang-zh",)) == markdown_tags.count(("lang-en",)) > 5


@pytest.mark.slow
@pytest.mark.xdist_group("packs")
def test_sample_pack_survival_artifacts(sample_pack):
    assert sample_pack.statuses[NOTEBOOK] == "ok"
    artifacts = sample_pack.out_dir / "artifacts"
    clv = pd.read_parquet(artifacts / "clv.parquet")
    assert list(clv.columns) == CLV_COLUMNS
    sample = load_dataset(paths.SAMPLE_SPEC)
    active = features.build_abt(sample, "2026-10", 6)
    draining = set(features.draining_customers(sample, "2026-10")["customer_id"])
    listed = read_rm_list(artifacts / "already_draining_list.csv")
    # the already draining are listed apart, and scored, valued and warned about nowhere else
    assert set(listed["customer_id"]) == draining & set(active["customer_id"]) and len(listed)
    assert sorted(clv["customer_id"]) == sorted(set(active["customer_id"]) - draining)
    assert clv["p_churn_h"].between(0, 1).all() and clv["p_churn_h"].std() > 0
    assert clv["expected_months"].between(0, 36).all()
    assert (clv["clv"] <= clv["monthly_margin"] * 36 + 1e-6).all()
    warning = _warning_list(artifacts)
    assert 0 < len(warning) <= 500
    assert warning["rm_id"].fillna("unassigned").value_counts().max() <= 20
    assert warning["aum_at_risk"].is_monotonic_decreasing  # ranked by expected AUM lost
    assert (warning["churn_score"] == warning["p_churn"]).all()  # with history: one probability
    assert not privacy.has_unmasked_pii(warning)
    assert warning["top_drivers"].iloc[0]
    kpis = _kpis(artifacts)
    # The keys the monthly summary reads (docs/architecture.md §10).
    assert 0 < kpis["churn_rate"]["value"] < 0.5 and kpis["churn_rate"]["unit"] == "pct"
    # the already draining count as churning (probability 1) in the churn rate
    assert kpis["surv_kpi_already_draining"]["value"] == len(listed)
    assert kpis["churn_rate"]["value"] == pytest.approx(
        (clv["p_churn_h"].sum() + len(listed)) / (len(clv) + len(listed))
    )
    assert not set(warning["customer_id"]) & draining
    assert kpis["median_tenure"]["unit"] == "months"
    assert 0 < kpis["surv_kpi_window_churn_rate"]["value"] < 1
    assert kpis["surv_kpi_concordance"]["value"] > 0.65  # a useful ranking, on a time split
    assert kpis["surv_kpi_brier"]["value"] < 0.1
    assert kpis["aum_at_risk"]["unit"] == "rmb" and kpis["aum_at_risk"]["value"] > 0
    assert sum(record["headline"] for record in kpis.values()) == 2  # churn rate and AUM at risk
    metrics = pd.read_csv(artifacts / "model_metrics.csv")
    churn = metrics[metrics["notebook"] == NOTEBOOK]
    assert sorted(churn["model"]) == ["cox", "gradient_boosting", "logistic"]
    assert churn["chosen"].sum() == 1 and set(churn["target"]) == {"churn"}
    chosen = churn[churn["chosen"]].iloc[0]
    assert chosen["value"] == churn["value"].max() and chosen["lower"] < chosen["value"] > 0.65
    html = (sample_pack.out_dir / f"{NOTEBOOK}.html").read_text(encoding="utf-8")
    assert "流失预警名单" in html and "Traceback" not in html
    assert "关联(非效果)" in html  # RM contacts read as an association in the HR table
    assert html.count("<img") >= 7  # curves, forest plot, incidence, calibration, CLV


@pytest.mark.slow
@pytest.mark.xdist_group("packs")
def test_flat_pack_survival_runs_and_says_what_it_skipped(flat_pack):
    assert flat_pack.statuses[NOTEBOOK] == "ok"
    artifacts = flat_pack.out_dir / "artifacts"
    flat = features.build_abt(load_dataset(paths.SAMPLE_FLAT_SPEC))
    clv = pd.read_parquet(artifacts / "clv.parquet")
    assert len(clv) == int((~flat["event"]).sum())  # every customer who has not churned
    kpis = _kpis(artifacts)
    assert kpis["surv_kpi_brier"]["value"] is None  # no horizon labels in a flat table
    assert kpis["surv_kpi_concordance"]["value"] > 0.55
    html = (flat_pack.out_dir / f"{NOTEBOOK}.html").read_text(encoding="utf-8")
    assert "没有月度历史" in html and "竞争风险分析已跳过" in html


@pytest.mark.slow
def test_english_run_with_other_parameters(run_notebook, tmp_path):
    notebook, artifacts = run_notebook(
        NOTEBOOK,
        tmp_path,
        lang="en",
        month="2026-09",
        churn_kind="hard",
        churn_horizon_months=3,
        survival_segment="channel",
        warning_list_per_rm=5,
        penalizer_grid=[0.0, 0.01],
        clv_horizon_months=24,
        tier_thresholds=[20000, 300000, 5000000],
    )
    clv = pd.read_parquet(artifacts / "clv.parquet")
    # Under hard churn, customers who drained their AUM are still active, so they are scored.
    hard = ChurnDefinition(kind="hard")
    active = features.build_abt(load_dataset(paths.SAMPLE_SPEC), "2026-09", 3, hard)
    assert sorted(clv["customer_id"]) == sorted(active["customer_id"])
    assert clv["expected_months"].max() <= 24
    # The pack's tier ladder (tier_thresholds), not the bundled one, tiers the scores.
    scores = pd.read_parquet(artifacts / "churn_risk_scores.parquet")
    ladder = resolve_ladder([20000, 300000, 5000000])
    assert (scores["tier"] == assign_tiers(scores["aum"], ladder).astype(str)).all()
    warning = _warning_list(artifacts)
    assert warning["rm_id"].fillna("unassigned").value_counts().max() <= 5
    outputs = "\n".join(
        str(output.get("data", {}).get("text/markdown", ""))
        + str(output.get("data", {}).get("text/html", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert "Multivariate log-rank test" in outputs and "Holdout concordance" in outputs
    assert "Acquisition channel" in outputs
