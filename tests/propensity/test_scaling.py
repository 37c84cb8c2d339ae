"""Propensity at scale (helpers.propensity.scaling): capped samples, chunks, fast explanations.

The fast versions must give the numbers of the slow, obvious ones: each test computes the
obvious way by hand and compares.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from helpers.features import stratified_rows
from helpers.propensity import CrossSellModels
from helpers.propensity.frames import (
    CalibratedModel,
    design_matrix,
    feature_columns,
    fit_calibrator,
    heavy_tailed_columns,
    make_estimator,
)
from helpers.propensity.scaling import (
    grouped_permutation_importance,
    predict_in_chunks,
    substitution_contributions,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with threadpool_limits(limits=1):
        yield


def test_stratified_rows_keep_shares_without_repeats():
    target = np.array([1] * 100 + [0] * 900)
    rows = stratified_rows(target, 200, seed=3)
    assert len(rows) == 200 and len(np.unique(rows)) == 200  # no customer twice
    assert (np.diff(rows) > 0).all()  # in the input's order
    assert target[rows].sum() == 20  # 10 % buyers, as in the whole
    np.testing.assert_array_equal(rows, stratified_rows(target, 200, seed=3))  # seeded
    np.testing.assert_array_equal(stratified_rows(target, None, 0), np.arange(1000))
    np.testing.assert_array_equal(stratified_rows(target, 5000, 0), np.arange(1000))
    # a rare class keeps at least one row
    rare = np.array([1] + [0] * 999)
    assert rare[stratified_rows(rare, 10, 0)].sum() == 1
    with pytest.raises(ValueError, match="at least 1 row"):
        stratified_rows(target, 0, 0)


def test_predict_in_chunks_equals_one_call():
    frame = pd.DataFrame({"x": np.arange(10.0)})
    calls = []

    def predict(part):
        calls.append(len(part))
        return part["x"].to_numpy() * 2

    np.testing.assert_array_equal(predict_in_chunks(predict, frame, chunk=4), np.arange(10.0) * 2)
    assert calls == [4, 4, 2]
    assert len(predict_in_chunks(predict, frame.iloc[:0], chunk=4)) == 0


def _toy(seed=0, rows=600):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "aum": rng.lognormal(10, 1, rows),
            "logins": rng.poisson(3, rows).astype(float),
            "payroll": rng.random(rows) < 0.4,
            "channel": rng.choice(["branch", "mobile", "payroll"], rows),
        }
    )
    logit = 0.8 * (np.log(frame["aum"]) - 10) + 0.5 * frame["payroll"] - 1
    logit += np.where(frame["channel"] == "mobile", 1.0, 0.0)
    target = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    return frame, target


@pytest.mark.parametrize("name", ["logistic", "hgb"])
def test_grouped_permutation_importance_equals_shuffling_raw_features(name):
    frame, target = _toy()
    numeric, categorical = ["aum", "logins", "payroll"], ["channel"]
    design = design_matrix(frame, numeric, categorical)
    pipeline = make_estimator(name, numeric, categorical, ["aum"], seed=0).fit(design, target)
    model = CalibratedModel(pipeline, fit_calibrator(pipeline.predict_proba(design)[:, 1], target))
    owners_model = CrossSellModels()
    owners_model.features_ = {"p": (numeric, categorical)}
    owners_model.base_models_ = {"p": pipeline}
    owners = owners_model._owners("p")
    features = numeric + categorical
    fast = grouped_permutation_importance(
        model, design, target, owners, features, n_repeats=3, seed=11
    )
    # the obvious way: shuffle the raw feature, run the whole pipeline, same permutations
    rng = np.random.default_rng(11)
    baseline = roc_auc_score(target, model.predict_proba(design)[:, 1])
    for feature, row in zip(features, fast.itertuples(), strict=True):
        drops = []
        for _ in range(3):
            shuffled = design.copy()
            order = rng.permutation(len(design))
            shuffled[feature] = design[feature].to_numpy()[order]
            drops.append(baseline - roc_auc_score(target, model.predict_proba(shuffled)[:, 1]))
        assert row.feature == feature
        assert row.importance_mean == pytest.approx(np.mean(drops), abs=1e-12)
        assert row.importance_std == pytest.approx(np.std(drops), abs=1e-12)
    assert fast.set_index("feature")["importance_mean"].idxmax() in {"aum", "channel"}


def test_substitution_contributions_equal_substituting_raw_features():
    frame, target = _toy(seed=2)
    numeric, categorical = ["aum", "logins", "payroll"], ["channel"]
    design = design_matrix(frame, numeric, categorical)
    pipeline = make_estimator("hgb", numeric, categorical, [], seed=0).fit(design, target)
    reference = pd.DataFrame([{"aum": 20000.0, "logins": 3.0, "payroll": 0.0, "channel": "branch"}])
    fast = substitution_contributions(pipeline, design, reference, numeric + categorical)
    raw = pipeline.decision_function(design)
    for position, feature in enumerate(numeric + categorical):
        substituted = design.assign(**{feature: reference[feature].iloc[0]})
        expected = raw - pipeline.decision_function(substituted)
        np.testing.assert_allclose(fast[:, position], expected, atol=1e-12)


def _mixed_frame(n: int = 400) -> pd.DataFrame:
    """Columns of every kind feature_columns and design_matrix meet, some constant on a part."""
    rng = np.random.default_rng(3)
    half = np.arange(n) < n // 2
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "amount": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(5, 2, n)),
            "signed_zero": np.where(half, 0.0, -0.0),  # 0.0 and -0.0 are one value
            "nan_on_half": np.where(half, np.nan, 1.0),
            "count": rng.integers(0, 3, n),
            "constant_on_half": np.where(half, 7, rng.integers(0, 5, n)),
            "flag": rng.random(n) < 0.3,
            "nullable": pd.array(np.where(half, None, rng.integers(0, 9, n)), dtype="Int64"),
            "boolean": pd.array(np.where(half, True, rng.random(n) < 0.5), dtype="boolean"),
            "number_text": np.where(half, "1.5", "-2"),
            "channel": rng.choice(["app", "branch", None], n),
            "many": [f"v{i % 80}" for i in range(n)],
            "held_fund": rng.random(n) < 0.2,
            "took_fund": rng.random(n) < 0.1,
        }
    )


def _counted_feature_columns(frame, target, max_categories):
    """The oracle: the selection by counting distinct values (feature_columns before it
    learnt to skip the count for numpy numbers)."""
    from helpers.propensity.frames import HELD_PREFIX, NON_FEATURE_COLUMNS, TOOK_PREFIX

    numeric, categorical = [], []
    for column in frame.columns:
        if (
            column in NON_FEATURE_COLUMNS
            or column.startswith(TOOK_PREFIX)
            or column == f"{HELD_PREFIX}{target}"
        ):
            continue
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series) or series.nunique(dropna=True) < 2:
            continue
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            numeric.append(column)
        elif series.nunique(dropna=True) <= max_categories:
            categorical.append(column)
    return numeric, categorical


def test_feature_columns_on_rows_match_the_copied_rows():
    # The fit judges each product's features on its training rows without copying the frame:
    # the answer must be the one frame.loc[rows] gives, rows on which some columns are constant
    # or empty included.
    frame = _mixed_frame()
    n = len(frame)
    for rows in (np.arange(n) < n // 2, np.arange(n) >= n // 2, np.arange(n) % 3 == 0):
        expected = _counted_feature_columns(frame.loc[rows], "fund", max_categories=50)
        assert feature_columns(frame, "fund", max_categories=50, rows=rows) == expected
        assert feature_columns(frame.loc[rows], "fund", max_categories=50) == expected
    numeric, categorical = feature_columns(frame, "fund", max_categories=50)
    assert "signed_zero" not in numeric and "many" not in categorical
    assert {"amount", "count", "flag", "nullable", "boolean"} <= set(numeric)
    assert "number_text" in categorical


def test_design_rows_match_the_rows_of_the_design():
    frame = _mixed_frame()
    numeric, categorical = feature_columns(frame, "fund")
    rows = np.arange(len(frame)) % 4 != 1
    converted: dict = {}
    whole = design_matrix(frame, numeric, categorical)
    part = design_matrix(frame, numeric, categorical, converted, rows=rows)
    pd.testing.assert_frame_equal(part, whole.loc[rows], check_exact=True)
    # the float conversion equals the general one on every numpy and nullable dtype
    # the float conversion equals the general one on every numpy and nullable dtype, and on
    # numbers stored as text
    converted_all = design_matrix(frame, [*numeric, "number_text"], [])
    for column in [*numeric, "number_text"]:
        general = pd.to_numeric(frame[column].astype("Float64"), errors="coerce").astype("float64")
        pd.testing.assert_series_equal(converted_all[column], general, check_exact=True)
    skewed = heavy_tailed_columns(part, numeric)
    assert skewed == [
        c
        for c in numeric
        if part[c].nunique() > 2 and part[c].abs().max() >= 100 and abs(part[c].skew()) > 1
    ]
    assert skewed == ["amount"]
