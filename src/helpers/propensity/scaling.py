"""Propensity models at a bank's size: fit on a capped stratified sample, score in chunks.

At a million customers the training ABT has about 800,000 rows per product. Fitting every
product's model on all of them (and computing feature importance on them) made the
cross-sell notebook more than half of the monthly pack. What scales:

- :func:`stratified_rows`: the model is refitted on at most ``cap`` training customers, drawn
  per class (buyers and non-buyers keep their shares), without replacement: no customer is
  used twice, so no metric is computed on resampled duplicates. The holdout that gives the
  reported metrics is never sampled: every held-out customer is scored.
- :func:`predict_in_chunks`: every customer is scored, ``chunk`` rows at a time, so the
  design matrix of a million customers never exists at once.
- :func:`grouped_permutation_importance`: permutation importance that runs the model's
  preprocessing once and shuffles the *transformed* columns a feature owns (all one-hot
  columns of a categorical move together). Preprocessing is row by row, so this equals
  shuffling the raw feature, at a fraction of the cost (scikit-learn's version re-runs the
  whole pipeline for every feature and repeat).

Measured effect on quality: ``benchmarks/results/model_quality.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from helpers.features import stratified_rows
from helpers.propensity.frames import feature_owner

__all__ = [
    "grouped_permutation_importance",
    "predict_in_chunks",
    "stratified_rows",
    "substitution_contributions",
]

#: Rows scored at a time by :func:`predict_in_chunks`.
SCORING_CHUNK = 200_000

_SCORERS = {"roc_auc": roc_auc_score, "average_precision": average_precision_score}


def predict_in_chunks(predict, frame: pd.DataFrame, chunk: int = SCORING_CHUNK) -> np.ndarray:
    """``predict(part)`` on consecutive row blocks of ``frame``, concatenated.

    ``predict`` takes a slice of ``frame`` and returns one value per row (e.g. a calibrated
    probability). Empty frames give an empty array.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1 row, not {chunk}")
    parts = [
        np.asarray(predict(frame.iloc[start : start + chunk]), dtype=float)
        for start in range(0, len(frame), chunk)
    ]
    return np.concatenate(parts) if parts else np.empty(0)


def grouped_permutation_importance(
    model,
    design: pd.DataFrame,
    target: np.ndarray,
    owners: list[str],
    features: list[str],
    n_repeats: int = 5,
    seed: int = 0,
    scoring: str = "roc_auc",
) -> pd.DataFrame:
    """Drop in ``scoring`` when each feature is shuffled, on the transformed design.

    Parameters
    ----------
    model : CalibratedModel
        Fitted; ``model.estimator`` is a Pipeline whose last step is the classifier and whose
        earlier steps transform row by row; ``model.calibrate(raw)`` maps raw scores.
    design : DataFrame
        The raw feature rows (``design_matrix`` output) to evaluate on.
    target : array of 0/1
    owners : list of str
        For each column the preprocessing outputs, the feature it comes from.
    features : list of str
        Features to report, in order.
    n_repeats, seed, scoring
        Shuffles per feature, their seed, and ``"roc_auc"`` or ``"average_precision"``.

    Returns
    -------
    pandas.DataFrame
        ``feature``, ``importance_mean``, ``importance_std`` (over the repeats).
    """
    score = _SCORERS[scoring]
    preprocess, classifier = model.estimator[:-1], model.estimator[-1]
    transformed = preprocess.transform(design)
    frame_input = isinstance(transformed, pd.DataFrame)
    values = transformed.to_numpy() if frame_input else np.asarray(transformed)

    def evaluate(matrix: np.ndarray) -> float:
        data = pd.DataFrame(matrix, columns=transformed.columns) if frame_input else matrix
        if frame_input:
            data = data.astype(transformed.dtypes.to_dict())
        raw = classifier.predict_proba(data)[:, 1]
        return float(score(target, model.calibrate(raw)))

    baseline = evaluate(values)
    rng = np.random.default_rng(seed)
    owner_array = np.asarray(owners)
    rows = []
    for feature in features:
        columns = np.flatnonzero(owner_array == feature)
        drops = []
        for _ in range(n_repeats):
            shuffled = values.copy()
            order = rng.permutation(len(values))
            shuffled[:, columns] = values[order][:, columns]
            drops.append(baseline - evaluate(shuffled))
        rows.append(
            {
                "feature": feature,
                "importance_mean": float(np.mean(drops)) if len(columns) else 0.0,
                "importance_std": float(np.std(drops)) if len(columns) else 0.0,
            }
        )
    return pd.DataFrame(rows)


def substitution_contributions(
    pipeline, design: pd.DataFrame, reference: pd.DataFrame, features: list[str]
) -> np.ndarray:
    """Fall in the raw score when each feature alone takes its typical value, per customer.

    ``pipeline`` is a fitted Pipeline (row-by-row preprocessing, then a model with
    ``decision_function``); ``reference`` is one row of typical raw values. The rows are
    preprocessed once and each feature is substituted in the transformed matrix: the same
    numbers as substituting the raw feature, without re-running the preprocessing per
    feature (at a million customers the call lists hold tens of thousands of customers).

    Returns
    -------
    numpy.ndarray of shape (rows, features)
    """
    prepare, model = pipeline[:-1], pipeline[-1]
    transformed = prepare.transform(design)
    typical = prepare.transform(reference)
    columns = list(transformed.columns)
    values = transformed.to_numpy(dtype=float)
    typical = typical.to_numpy(dtype=float)
    raw = model.decision_function(transformed)
    result = np.empty((len(design), len(features)))
    for position, feature in enumerate(features):
        owned = [i for i, name in enumerate(columns) if feature_owner(name, features) == feature]
        substituted = values.copy()
        substituted[:, owned] = typical[0, owned]
        rebuilt = pd.DataFrame(substituted, columns=columns).astype(transformed.dtypes)
        result[:, position] = raw - model.decision_function(rebuilt)
    return result
