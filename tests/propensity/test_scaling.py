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
from helpers.propensity.frames import CalibratedModel, design_matrix, fit_calibrator, make_estimator
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
