"""The notebook steps of helpers.propensity (report.py): tables, call lists, notes and KPIs.

03_cross_sell_propensity calls these instead of holding pandas pipelines in its cells; each is
checked here against the lower-level helper it wraps, on small hand-made frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dataset_fixtures import panel_frames, write_flat_gb18030
from threadpoolctl import threadpool_limits

from helpers import config, formatting, propensity
from helpers.data import Dataset, load_dataset


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with threadpool_limits(limits=1):
        yield


def _bank(customers: int = 2000, seed: int = 4) -> pd.DataFrame:
    """A training/scoring frame: fund take-up driven by payroll; insurance too rare to model."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer_id": [f"{i:05d}" for i in range(customers)],
            "rm_id": rng.choice(["R1", "R2", None], customers),
            "branch_id": rng.choice(["B1", "B2"], customers),
            "age": rng.integers(20, 70, customers),
            "aum": rng.lognormal(10, 1.2, customers),
            "payroll": rng.random(customers) < 0.3,
            "held_fund": rng.random(customers) < 0.2,
            "held_insurance": False,
        }
    )
    frame["tier"] = config.assign_tiers(frame["aum"])
    took = rng.random(customers) < np.where(frame["payroll"], 0.4, 0.05)
    frame["took_fund"] = pd.array(took, dtype="boolean")
    frame["took_insurance"] = pd.array(np.arange(customers) < 2, dtype="boolean")
    frame.loc[frame["held_fund"], "took_fund"] = pd.NA
    return frame


class _Data:
    """The two things rm_call_list asks a dataset: has(table) and table(name)."""

    def __init__(self, customers: pd.DataFrame | None):
        self.customers = customers

    def has(self, table: str) -> bool:
        return table == "customers" and self.customers is not None

    def table(self, name: str) -> pd.DataFrame:
        return self.customers


@pytest.fixture(scope="module")
def fitted():
    frame = _bank()
    models = propensity.fit_models(frame, compare_cap=1000, holdout_share=0.25, seed=3)
    return frame, models


# ----------------------------------------------------------------------------- frames
def test_frames_tier_on_the_pack_ladder_and_use_the_pack_churn():
    ds = Dataset.from_frames(panel_frames())
    train, score, train_month = propensity.propensity_frames(ds, "2026-10", 1)
    assert train_month == "2026-09" and set(score["tier"].astype(str)) == {"mass"}
    ladder = config.resolve_ladder([1000, 2000, 3000])  # AUM 1,750.5 is affluent here
    train, score, _ = propensity.propensity_frames(
        ds, "2026-10", 1, churn=config.ChurnDefinition(kind="hard"), ladder=ladder
    )
    assert set(train["tier"].astype(str)) == set(score["tier"].astype(str)) == {"affluent"}
    assert list(score["tier"].cat.categories) == list(ladder["code"])
    # the default ladder passed explicitly changes nothing
    default, _, _ = propensity.propensity_frames(ds, "2026-10", 1)
    same, _, _ = propensity.propensity_frames(
        ds, "2026-10", 1, churn=config.ChurnDefinition(), ladder=config.resolve_ladder(None)
    )
    pd.testing.assert_frame_equal(default, same)


def test_flat_frames_keep_the_tables_own_tier(tmp_path):
    ladder = config.resolve_ladder([10, 20, 30])  # would put everybody in private banking
    mapped = load_dataset(write_flat_gb18030(tmp_path / "mapped"))
    train, score, train_month = propensity.propensity_frames(mapped, None, ladder=ladder)
    assert train_month is None and train is score
    assert list(score["tier"].astype(str)) == ["mass", "affluent", "private"]
    unmapped = load_dataset(write_flat_gb18030(tmp_path / "own", spec_changes={"tier": None}))
    _, score, _ = propensity.propensity_frames(unmapped, None, ladder=ladder)
    assert set(score["tier"].astype(str)) == {"private"}


def test_mode_note_says_how_the_models_are_built():
    panel = propensity.mode_note("2026-04", 6, "2026-10")
    assert panel.key == "ps_mode_panel" and "2026-04" in panel.text("en")
    assert "6 months" in panel.text("en")
    flat = propensity.mode_note(None, 6, None)
    assert flat.key == "ps_mode_flat" and "横截面" in flat.text("zh")


# ----------------------------------------------------------------------------- tables
def test_partner_table_names_products_and_prefixes_columns():
    matrix = pd.DataFrame(
        {"fund": [1, 1, 0, 0, 1], "insurance": [1, 1, 0, 0, 0], "credit_card": [0, 0, 1, 1, 1]},
        dtype=bool,
    )
    affinity = propensity.product_affinity(matrix)
    table = propensity.partner_table(affinity, "en", top=1, min_support=0.01)
    plain = propensity.also_hold(affinity, top=1, min_support=0.01)
    assert list(table.columns) == [f"ps_{c}" for c in plain.columns]
    assert table["ps_antecedent"].tolist() == [
        propensity.product_label(code, "en") for code in plain["antecedent"]
    ]
    np.testing.assert_allclose(table["ps_lift"], plain["lift"])


def test_fit_models_fails_clearly_when_nothing_can_be_modelled():
    frame = _bank(customers=300)
    frame["took_fund"] = pd.array(np.where(frame["held_fund"], pd.NA, False), dtype="boolean")
    frame = frame.drop(columns=["held_insurance", "took_insurance"])
    with pytest.raises(ValueError, match="No product has enough buyers.*fund"):
        propensity.fit_models(frame, compare_cap=200, seed=1, lang="en")


def test_model_tables_label_products_models_and_columns(fitted):
    _, models = fitted
    assert models.products_ == ["fund"]
    comparison = propensity.comparison_table(models, "en")
    assert "product" in comparison.columns and "ps_roc_auc_mean" in comparison.columns
    assert set(comparison["ps_model"]) == {
        "Regularised logistic regression",
        "Gradient boosting (HGB)",
    }
    metrics = propensity.metrics_table(models, "en")
    assert list(metrics.columns) == [
        "product", "ps_model", "customers", "ps_buyers", "ps_base_rate", "ps_roc_auc",
        "ps_average_precision", "ps_brier", "ps_mean_probability", "ps_training_rows",
        "ps_fitted_rows",
    ]  # fmt: skip
    assert metrics["product"].tolist() == [propensity.product_label("fund", "en")]
    skipped = propensity.skipped_table(models, "en")
    assert skipped["product"].tolist() == [propensity.product_label("insurance", "en")]
    assert "need at least" in skipped.iloc[0, 1]
    models_without_skips = type("M", (), {"skipped_": {}})()
    assert propensity.skipped_table(models_without_skips, "en") is None


def test_decile_focus_and_capture_tables_match_the_evaluation_helpers():
    rng = np.random.default_rng(0)
    holdout = pd.concat(
        [
            pd.DataFrame(
                {"product": "fund", "y": rng.random(53) < 0.3, "probability": rng.random(53)}
            ),
            pd.DataFrame(
                {"product": "insurance", "y": [1, 0, 0, 1], "probability": [0.9, 0.5, 0.4, 0.1]}
            ),
        ],
        ignore_index=True,
    ).astype({"y": int})
    deciles = propensity.decile_tables(holdout)
    fund = holdout[holdout["product"] == "fund"]
    expected = propensity.decile_table(fund["y"], fund["probability"])
    pd.testing.assert_frame_equal(
        deciles[deciles["product"] == "fund"].drop(columns="product").reset_index(drop=True),
        expected,
    )
    assert (deciles["product"] == "insurance").sum() == 4  # four customers: four groups
    table = propensity.focus_table(deciles, "fund")
    assert "customers" in table.columns and "ps_lift" in table.columns
    assert "product" not in table.columns and "ps_cumulative_buyers" not in table.columns
    capture = propensity.capture_table(holdout, "en")
    assert list(capture.columns) == [
        "product", "Top 5% contacted", "Top 10% contacted", "Top 20% contacted",
        "Top 30% contacted",
    ]  # fmt: skip
    row = capture.set_index("product").loc[propensity.product_label("fund", "en")]
    top = propensity.top_k_capture(fund["y"], fund["probability"])
    np.testing.assert_allclose(row.to_numpy(dtype=float), top["capture"].to_numpy())


def test_focus_is_the_parameter_or_the_product_with_most_buyers():
    models = type("M", (), {})()
    models.metrics_ = pd.DataFrame({"product": ["fund", "insurance"], "buyers": [5, 9]})
    assert propensity.focus_of(models) == "insurance"
    assert propensity.focus_of(models, "fund") == "fund"


# ----------------------------------------------------------------------------- call lists
def test_rm_call_list_has_reasons_names_and_capacity(fitted):
    frame, models = fitted
    score = frame.drop(columns=[c for c in frame.columns if c.startswith("took_")])
    scores = models.predict(score)
    recommendations = propensity.next_best_product(scores, min_probability=0.05)
    people = pd.DataFrame(
        {"customer_id": frame["customer_id"], "name": "张三", "mobile": "13800000001"}
    )
    calls = propensity.rm_call_list(_Data(people), score, recommendations, models, 3, "en")
    assert list(calls.columns) == list(propensity.CALL_LIST_COLUMNS)
    assert calls.groupby(calls["rm_id"].fillna("-")).size().max() == 3
    plain = propensity.call_lists(recommendations, score[["customer_id", "rm_id"]], capacity=3)
    assert calls["customer_id"].tolist() == plain["customer_id"].tolist()
    assert calls["reason"].str.len().gt(0).all()
    assert (calls["product_name"] == propensity.product_label("fund", "en")).all()
    # without a customers table (a flat file): no names, same customers
    anonymous = propensity.rm_call_list(_Data(None), score, recommendations, models, 3, "en")
    assert "name" not in anonymous.columns
    assert anonymous["customer_id"].tolist() == calls["customer_id"].tolist()

    preview = propensity.call_list_preview(calls, rows=4)
    assert len(preview) == 4 and "product" not in preview.columns
    assert {"ps_call_rank", "ps_next_best_product", "ps_probability", "ps_reason"} <= set(
        preview.columns
    )
    assert not preview["name"].eq("张三").any()  # PII masked
    no_balance = propensity.call_list_preview(calls.drop(columns="aum"), rows=2)
    assert no_balance["aum"].isna().all()  # shown blank, so the notebook formats one set

    per_rm = propensity.rm_pipeline(calls, "en", top=2)
    assert len(per_rm) == 2 and per_rm["ps_pipeline_value"].is_monotonic_decreasing
    everyone = propensity.rm_pipeline(calls, "en")
    assert "No RM assigned" in set(everyone["rm_id"])
    assert everyone["ps_listed"].sum() == len(calls)
    assert everyone["ps_pipeline_value"].sum() == pytest.approx(calls["incremental_value"].sum())
    # what a call adds over organic take-up, on the 6-month horizon: 0.2 x p x value x 7 / 24
    assert calls["incremental_value"].to_numpy() == pytest.approx(
        0.2 * calls["expected_value"].to_numpy() * 7 / 24
    )
    doubled = propensity.rm_call_list(_Data(people), score, recommendations, models, 3, "en", 0.4)
    assert doubled["incremental_value"].sum() == pytest.approx(2 * calls["incremental_value"].sum())


def test_incremental_value_by_hand():
    # 0.25 probability of a product worth 1,200 a year: expected 300; a call adds 10% of the
    # probability; a 3-month window earns (3 + 1) / 2 = 2 months on average: 300 x 0.1 x 2 / 12
    assert propensity.incremental_value([300.0], 0.1, 3)[0] == pytest.approx(5.0)
    assert np.isnan(propensity.incremental_value([300.0], 0.1, 3, flat=True)[0])


def test_kpis_are_records_with_the_summary_keys(fitted):
    frame, models = fitted
    scores = models.predict(frame)
    recommendations = propensity.next_best_product(scores)
    calls = propensity.call_lists(recommendations, frame[["customer_id", "rm_id"]], capacity=5)
    calls["incremental_value"] = propensity.incremental_value(calls["expected_value"], 0.2, 6)
    records = propensity.cross_sell_kpis(calls, recommendations, scores, models)
    values = {r["key"]: r for r in records}
    assert list(values) == [
        "pipeline_value", "ps_kpi_customers_listed", "ps_kpi_customers_with_offer",
        "ps_kpi_products_modelled", "ps_kpi_mean_auc", "ps_kpi_expected_takeups",
    ]  # fmt: skip
    assert records == [formatting.kpi(**{k: r[k] for k in ("key", "value", "unit", "headline")})
                       for r in records]  # fmt: skip
    # the pipeline counts what calls add over organic take-up, not the organic take-up itself
    assert values["pipeline_value"]["value"] == pytest.approx(calls["incremental_value"].sum())
    assert values["pipeline_value"]["value"] < 0.2 * calls["expected_value"].sum()
    assert values["pipeline_value"]["unit"] == "rmb" and values["pipeline_value"]["headline"]
    assert values["ps_kpi_customers_listed"]["value"] == len(calls)
    assert values["ps_kpi_products_modelled"]["value"] == 1
    assert values["ps_kpi_mean_auc"]["unit"] == "ratio"
    expected = float(np.nansum(scores["p_fund"]))
    assert values["ps_kpi_expected_takeups"]["value"] == pytest.approx(expected)
    models.mode_, panel_mode = "flat", models.mode_
    try:
        flat = propensity.cross_sell_kpis(calls, recommendations, scores, models)
    finally:
        models.mode_ = panel_mode
    assert flat[-1]["value"] is None  # look-alike scores forecast no take-ups
    assert flat[0]["value"] is None  # nor a pipeline over a take-up horizon
