"""04_retention_roi through the batch path: its artifacts are right, not just present."""

from __future__ import annotations

import json
import re

import nbformat
import pandas as pd
import pytest
import yaml
from rm_lists import read_rm_list

from helpers import paths, privacy

NOTEBOOK = "04_retention_roi"


def _kpis(artifacts):
    payload = json.loads((artifacts / f"kpis_{NOTEBOOK}.json").read_text(encoding="utf-8"))
    return {record["key"]: record for record in payload["kpis"]}


def _target_list(artifacts):
    path = artifacts / "retention_target_list.csv"
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf", "RM lists are UTF-8 with BOM"
    assert (artifacts / "retention_target_list.xlsx").exists()
    return read_rm_list(path)


def _outputs_text(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            parts.append(str(data.get("text/markdown", "")) + str(data.get("text/html", "")))
    # data text in markdown is escaped (``02\\_lifecycle``); compare what a reader sees
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!|<>~])", r"\1", "\n".join(parts))


def test_committed_notebook_is_clean_and_declares_its_roles():
    notebook = nbformat.read(paths.NOTEBOOKS_DIR / f"{NOTEBOOK}.ipynb", as_version=4)
    # with no campaign the ROI planner plans from churn risk and an assumed uplift, so it
    # needs churn or a campaign; the value weighting needs a value (issue 13: else not applicable)
    assert notebook.metadata["fishpond"]["requires"] == ["value", "event|treatment"]
    # the CLV of notebook 02 is read when that notebook ran in the same run
    assert notebook.metadata["fishpond"]["upstream"] == ["02_lifecycle_survival"]
    assert notebook.metadata["kernelspec"]["name"] == "fishpond"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    assert [c for c in code if "parameters" in c.metadata.get("tags", [])] == [code[0]]
    assert not any("def " in cell.source or "class " in cell.source for cell in code)
    assert code[-1].source.strip() == "ctx.provenance()"
    assert 'ctx = notebook.start("04_retention_roi", globals())' in code[1].source
    markdown_tags = [
        tuple(c.metadata.get("tags", [])) for c in notebook.cells if c.cell_type == "markdown"
    ]
    assert markdown_tags.count(("lang-zh",)) == markdown_tags.count(("lang-en",)) > 10


def _check_plan(artifacts, budget, contacts_per_rm):
    plan = pd.read_parquet(artifacts / "retention_plan.parquet")
    assert len(plan) > 0
    assert plan["cost"].sum() <= budget + 1e-6
    assert (plan["net_value"] > 0).all() and plan["customer_id"].is_unique  # one offer each
    assert plan["best_offer"].isin(["rate_coupon", "fee_waiver", "offer"]).all()
    if "rm_id" in plan.columns and plan["rm_id"].notna().any():
        assert plan["rm_id"].dropna().value_counts().max() <= contacts_per_rm
    return plan


@pytest.mark.slow
def test_panel_run_evaluates_the_campaign_and_plans_under_budget(run_notebook, tmp_path):
    budget, contacts_per_rm = 20000.0, 3
    notebook, artifacts = run_notebook(
        NOTEBOOK,
        tmp_path,
        budget=budget,
        contacts_per_rm=contacts_per_rm,
        target_list_size=40,
        n_boot=50,
        lang="en",
    )
    text = _outputs_text(notebook)
    # run alone: notebook 02 wrote no CLV in this run, so the note says so and CLV is computed
    assert "02_lifecycle_survival has not written clv in this run" in text
    assert "computed here with the Cox survival model" in text
    assert "Planner mode" not in text and "Traceback" not in text
    results = pd.read_parquet(artifacts / "campaign_results.parquet")
    assert set(zip(results["metric"], results["offer"], strict=True)) == {
        (metric, offer)
        for metric in ("retained", "aum_after", "aum_after_unadjusted")
        for offer in ("rate_coupon", "fee_waiver")
    }
    # the AUM effect is adjusted for AUM before the campaign (ANCOVA), the raw one follows
    tests = dict(zip(results["metric"], results["test"], strict=False))
    assert (
        tests["aum_after"] == "ancova (aum_before)" and tests["aum_after_unadjusted"] == "welch t"
    )
    assert (results["ci_low"] <= results["difference"]).all()
    assert (results["difference"] <= results["ci_high"]).all()
    assert results["p_value"].between(0, 1).all()
    value = pd.read_parquet(artifacts / "campaign_value.parquet")
    assert (value["spend"] > 0).all() and (value["mean_clv"] > 0).all()
    qini = pd.read_parquet(artifacts / "uplift_qini.parquet")
    assert set(qini["score"]) == {"t", "x", "dr", "risk"}
    assert (qini["lower"] <= qini["upper"]).all()
    # the words follow the evidence: each offer says whether the plan uses the model
    assert (
        text.lower().count("the plan does not use a customer-level uplift model")
        + text.lower().count("the plan ranks by the model's bands")
        == 2
    )
    plan = _check_plan(artifacts, budget, contacts_per_rm)
    targets = _target_list(artifacts)
    assert len(targets) == min(len(plan), 40)
    assert not privacy.has_unmasked_pii(targets)
    assert targets["net_value"].is_monotonic_decreasing
    curve = pd.read_parquet(artifacts / "budget_curve.parquet")
    assert (
        curve["expected_net"].is_monotonic_increasing and (curve["spend"] <= curve["budget"]).all()
    )
    sensitivity = pd.read_parquet(artifacts / "roi_sensitivity.parquet")
    assert set(sensitivity["parameter"]) == {"uplift", "margin", "offer_cost", "contact_cost"}
    kpis = _kpis(artifacts)
    assert (
        sum(record["headline"] for record in kpis.values()) == 2
    )  # campaign ROI and next-campaign value
    assert kpis["rr_kpi_next_contacts"]["value"] == len(plan)
    assert kpis["next_campaign_value"]["value"] == pytest.approx(plan["net_value"].sum())
    assert kpis["campaign_roi"]["value"] is not None
    assert kpis["rr_kpi_incremental_aum"]["unit"] == "rmb"
    for key in ("campaign_roi", "rr_kpi_incremental_retained", "rr_kpi_incremental_aum",
                "next_campaign_value", "rr_kpi_next_roi"):  # fmt: skip
        record = kpis[key]
        assert record["lower"] <= record["value"] <= record["upper"], key
        assert record["significant"] == (record["lower"] > 0 or record["upper"] < 0), key


@pytest.mark.slow
def test_planner_mode_without_campaign_roles(run_notebook, tmp_path):
    spec = yaml.safe_load(paths.SAMPLE_FLAT_SPEC.read_text(encoding="utf-8"))
    spec["roles"].pop("treatment")
    spec["roles"].pop("outcome")
    spec["table"]["path"] = str(paths.SAMPLE_FLAT_SPEC.parent / spec["table"]["path"])
    spec_path = tmp_path / "no_campaign.yaml"
    spec_path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    notebook, artifacts = run_notebook(NOTEBOOK, tmp_path, dataset=str(spec_path), lang="en")
    text = _outputs_text(notebook)
    assert "Planner mode" in text and "ASSUMED" in text
    # every campaign step is skipped for the same reason, said once
    assert text.count("they are skipped in planner mode") == 1
    assert not (artifacts / "campaign_results.parquet").exists()
    plan = _check_plan(artifacts, 100000.0, 30)
    assert set(plan["best_offer"]) == {"offer"}
    kpis = _kpis(artifacts)
    assert kpis["campaign_roi"]["value"] is None
    assert kpis["next_campaign_value"]["value"] > 0
    # an assumed save rate is no measurement: no interval, and the notebook says so
    assert "lower" not in kpis["next_campaign_value"]
    assert "rests on the assumed save rate" in text


@pytest.mark.slow
@pytest.mark.xdist_group("packs")
def test_sample_pack_retention(sample_pack):
    assert sample_pack.statuses[NOTEBOOK] == "ok"
    artifacts = sample_pack.out_dir / "artifacts"
    _check_plan(artifacts, 100000.0, 30)
    assert not privacy.has_unmasked_pii(_target_list(artifacts))
    html = (sample_pack.out_dir / f"{NOTEBOOK}.html").read_text(encoding="utf-8")
    assert "Qini" in html and "Traceback" not in html
    # balance, effects, Qini, deciles, held-out outcomes, expected mix, budget, tornado
    assert html.count("<img") >= 8


@pytest.mark.slow
@pytest.mark.xdist_group("packs")
def test_flat_pack_retention_runs_and_says_what_it_skipped(flat_pack):
    assert flat_pack.statuses[NOTEBOOK] == "ok"
    artifacts = flat_pack.out_dir / "artifacts"
    results = pd.read_parquet(artifacts / "campaign_results.parquet")
    assert set(results["metric"]) == {"retained"}  # no AUM outcome in the flat table
    _check_plan(artifacts, 100000.0, 30)
    html = (flat_pack.out_dir / f"{NOTEBOOK}.html").read_text(encoding="utf-8")
    assert "单表模式" in html and "Traceback" not in html
