"""03_cross_sell_propensity through the batch path: its artifacts are right, not just present."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pandas as pd
import pytest
from rm_lists import read_rm_list

from helpers import parameters, paths, privacy
from helpers.config import cross_sell_products, product_catalogue

NOTEBOOK = "03_cross_sell_propensity"
PARAMETERS = [
    "dataset",
    "month",
    "lang",
    "artifacts_dir",
    "seed",
    "tier_thresholds",
    "churn_kind",
    "soft_floor",
    "soft_drop",
    "soft_months",
    "takeup_horizon_months",
    "model_sample_cap",
    "fit_sample_cap",
    "min_probability",
    "calls_per_rm",
    "call_lift",
    "holdout_share",
    "importance_cap",
    "importance_repeats",
    "focus_product",
]


def _kpis(artifacts):
    payload = json.loads((artifacts / f"kpis_{NOTEBOOK}.json").read_text(encoding="utf-8"))
    return {record["key"]: record for record in payload["kpis"]}


def _call_list(artifacts):
    path = artifacts / "cross_sell_call_list.csv"
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf", "RM lists are UTF-8 with BOM"
    assert (artifacts / "cross_sell_call_list.xlsx").exists()
    return read_rm_list(path)


def _check_recommendations(artifacts, min_probability=0.05):
    """The next-best-product artifact follows its rule: argmax of probability x value."""
    scores = pd.read_parquet(artifacts / "propensity_scores.parquet")
    best = pd.read_parquet(artifacts / "next_best_product.parquet")
    assert scores["probability"].between(0, 1).all()
    offered = best.dropna(subset=["product"])
    assert (offered["probability"] >= min_probability).all()
    assert np.allclose(offered["expected_value"], offered["probability"] * offered["annual_value"])
    values = product_catalogue().set_index("code")["annual_value"]
    scores["expected"] = scores["probability"] * scores["product"].map(values).fillna(1.0)
    eligible = scores[scores["probability"] >= min_probability]
    top = eligible.groupby("customer_id")["expected"].max()
    assert np.allclose(
        offered.set_index("customer_id")["expected_value"],
        top.loc[offered["customer_id"]],
        atol=0.01,
    )
    return scores, best


def test_committed_notebook_is_clean_and_declares_its_roles():
    notebook = nbformat.read(paths.NOTEBOOKS_DIR / f"{NOTEBOOK}.ipynb", as_version=4)
    assert notebook.metadata["fishpond"]["requires"] == ["products"]
    assert notebook.metadata["kernelspec"]["name"] == "fishpond"
    assert "papermill" not in notebook.metadata
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    assert [c for c in code if "parameters" in c.metadata.get("tags", [])] == [code[0]]
    assert not any("def " in cell.source or "class " in cell.source for cell in code)
    assert not any("/work" in cell.source or ".parquet" in cell.source for cell in code)
    assert code[-1].source.strip() == "ctx.provenance()"
    markdown_tags = [
        tuple(c.metadata.get("tags", [])) for c in notebook.cells if c.cell_type == "markdown"
    ]
    assert markdown_tags.count(("lang-zh",)) == markdown_tags.count(("lang-en",)) > 5


def test_parameters_cell_declares_the_registered_names_in_order():
    path = paths.NOTEBOOKS_DIR / f"{NOTEBOOK}.ipynb"
    assert parameters.declared_parameters(path) == PARAMETERS
    defaults = parameters.declared_defaults(path)
    assert defaults["takeup_horizon_months"] == 6 and defaults["calls_per_rm"] == 20
    assert defaults["model_sample_cap"] == 20000 and defaults["tier_thresholds"] == []
    text = path.read_text(encoding="utf-8")
    for old in ("rm_capacity", "tier_ladder"):  # renamed parameter, ctx.ladder instead
        assert old not in text, f"{NOTEBOOK} still names {old!r}"


@pytest.mark.slow
def test_sample_run_writes_scores_recommendations_lists_and_kpis(run_notebook, tmp_path):
    notebook, artifacts = run_notebook(NOTEBOOK, tmp_path, lang="en", calls_per_rm=5)
    scores, best = _check_recommendations(artifacts)
    assert set(scores["product"]) == set(cross_sell_products())
    # nobody is offered a product they hold at the report month
    holders = pd.read_parquet(paths.SAMPLE_DIR / "holdings.parquet")
    open_now = holders[holders["open_date"] <= "2026-10-31"]
    open_now = open_now[open_now["close_date"].isna() | (open_now["close_date"] > "2026-10-31")]
    held = set(zip(open_now["customer_id"], open_now["product"], strict=True))
    assert not held & set(zip(scores["customer_id"], scores["product"], strict=True))
    calls = _call_list(artifacts)
    assert calls["rm_id"].fillna("-").value_counts().max() <= 5  # calls_per_rm
    assert not privacy.has_unmasked_pii(calls)
    assert calls["reason"].fillna("").str.len().gt(0).mean() > 0.8
    for _, group in calls.groupby(calls["rm_id"].fillna("-")):
        assert group["expected_value"].is_monotonic_decreasing
    deciles = pd.read_parquet(artifacts / "propensity_deciles.parquet")
    first = deciles[deciles["decile"] == 1].set_index("product")
    assert (first["lift"] > 1.2).all()  # every model's top decile beats the average
    importance = pd.read_parquet(artifacts / "propensity_importance.parquet")
    assert set(importance["product"]) == set(cross_sell_products())
    kpis = _kpis(artifacts)
    assert kpis["pipeline_value"]["unit"] == "rmb" and kpis["pipeline_value"]["headline"]
    # what the calls add over organic take-up (call_lift), a fraction of the expected value;
    # the list rounds each amount to the fen: the sum may differ by half a fen per row
    assert kpis["pipeline_value"]["value"] == pytest.approx(
        calls["incremental_value"].sum(), abs=0.005 * len(calls)
    )
    assert 0 < kpis["pipeline_value"]["value"] < calls["expected_value"].sum()
    assert 0.6 < kpis["ps_kpi_mean_auc"]["value"] < 0.9
    text = "\n".join(str(cell.get("outputs", "")) for cell in notebook.cells)
    assert "Traceback" not in text


@pytest.mark.slow
def test_flat_run_says_its_models_are_cross_sectional(run_notebook, tmp_path):
    notebook, artifacts = run_notebook(NOTEBOOK, tmp_path, dataset=str(paths.SAMPLE_FLAT_SPEC))
    text = "\n".join(str(cell.get("outputs", "")) for cell in notebook.cells)
    assert "单表(flat)模式" in text and "横截面" in text
    scores, _ = _check_recommendations(artifacts)
    calls = _call_list(artifacts)
    assert 0 < len(calls) <= 20  # no RM column in the flat table: one pool of calls_per_rm
    kpis = _kpis(artifacts)
    # look-alike models forecast no take-up: neither a pipeline value nor take-ups
    assert kpis["pipeline_value"]["value"] is None
    assert kpis["ps_kpi_expected_takeups"]["value"] is None  # not a take-up forecast in flat mode


@pytest.mark.slow
@pytest.mark.xdist_group("packs")
def test_sample_pack_has_the_cross_sell_report(sample_pack):
    assert sample_pack.statuses[NOTEBOOK] == "ok"
    html = (sample_pack.out_dir / f"{NOTEBOOK}.html").read_text(encoding="utf-8")
    assert "Traceback" not in html
    assert html.count("<img") >= 8
    assert (sample_pack.out_dir / "artifacts" / "cross_sell_call_list.csv").exists()
    assert _kpis(sample_pack.out_dir / "artifacts")["pipeline_value"]["value"] > 0


@pytest.mark.slow
@pytest.mark.xdist_group("packs")
def test_flat_pack_runs_the_cross_sell_notebook(flat_pack):
    assert flat_pack.statuses[NOTEBOOK] == "ok"
