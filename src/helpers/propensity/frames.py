"""Propensity inputs: training/scoring frames, feature choice, candidate model pipelines.

Feature choice is by dtype, never by column name, so a bank's own flat table works without
code changes; everything measured after the as-of month is excluded by name
(:data:`NON_FEATURE_COLUMNS`, ``took_*``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from helpers.features import build_abt, numpy_number, split_by_kind

HELD_PREFIX = "held_"
TOOK_PREFIX = "took_"
MODEL_NAMES = ("logistic", "hgb")

# Columns that are never features: identifiers, PII, and anything measured after the as-of
# month (labels, survival outcome columns: ``duration``/``event`` look past the as-of month).
NON_FEATURE_COLUMNS = frozenset(
    {
        "customer_id",
        "as_of",
        "rm_id",
        "name",
        "mobile",
        "entry",
        "duration",
        "event",
        "churn_label",
        "churn_type_label",
        "treatment",
        "outcome",
        "close_date",
        "close_reason",
    }
)


def shift_month(month: str, months: int) -> str:
    """``"2026-10"`` shifted by ``months`` (negative = earlier), as ``YYYY-MM``."""
    period = pd.Period(month, freq="M") + months
    return str(period)


def propensity_frames(ds, month: str | None, horizon: int = 6, churn=None, ladder=None):
    """Training and scoring frames for the propensity models.

    Panel mode: training ABT at ``month - horizon`` (its ``took_<product>`` labels cover
    ``(month - horizon, month]``, all inside the data) and scoring ABT at ``month``.
    Flat mode: the flat customer table for both (cross-sectional targets).

    Parameters
    ----------
    churn : helpers.config.ChurnDefinition, optional
        The pack's churn definition (``ctx.churn``): who is still a customer at the as-of
        month. Default: :class:`helpers.config.ChurnDefinition`'s defaults.
    ladder : DataFrame, optional
        The pack's tier ladder (``ctx.ladder``): ``tier`` is assigned from ``aum`` on it (a flat
        table's own mapped tier column is kept). Default: the bundled ladder.

    Returns
    -------
    tuple
        ``(train_frame, score_frame, train_month)``; ``train_month`` is None in flat mode.

    Raises
    ------
    ValueError
        When the data do not reach back to the training month.
    """

    kwargs = {"churn": churn, "ladder": ladder}
    if ds.mode == "flat":
        frame = build_abt(ds, as_of=None, horizon=horizon, **kwargs)
        return frame, frame, None
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 month, not {horizon}")
    months = ds.months()
    train_month = shift_month(month, -horizon)
    if train_month not in months:
        raise ValueError(
            f"training needs the as-of month {train_month} ({horizon} months before {month}), "
            f"but the data cover {months[0]} to {months[-1]}: choose a later month or a "
            "shorter horizon"
        )
    # The report month's ABT first: in a run the lifecycle notebook needs it early (its
    # stages), the training month's only later; whichever notebook asks first builds a frame
    # and the other waits for it (at a million customers this order saved 02 ~6 s of waiting).
    score = build_abt(ds, as_of=month, horizon=horizon, **kwargs)
    train = build_abt(ds, as_of=train_month, horizon=horizon, **kwargs)
    return train, score, train_month


# ============================================================================ features
def feature_columns(
    frame: pd.DataFrame,
    target: str,
    max_categories: int = 50,
    mode: str = "panel",
    rows: np.ndarray | None = None,
) -> tuple[list[str], list[str]]:
    """Choose the model's features from an ABT or flat table, by dtype, not by name.

    Excluded: identifiers and PII, every label and post-as-of column
    (:data:`NON_FEATURE_COLUMNS`, ``took_*``), the target product's own ``held_`` flag,
    constant columns, dates, and text columns with more than ``max_categories`` distinct
    values (identifier-like; they would not generalise). In flat mode ``duration`` (tenure) is
    a feature, and since the target *is* the ``held_`` flag, ``product_count`` (which counts
    it) is excluded: it would leak the answer. In panel mode it is a fair feature (only
    non-holders are modelled).

    ``rows`` (optional boolean mask) judges the columns on those rows only, as
    ``feature_columns(frame.loc[rows], ...)`` would, without copying the whole frame.

    Returns
    -------
    tuple of lists
        ``(numeric_columns, categorical_columns)``; bools count as numeric (0/1).
    """
    candidates = []
    for column in frame.columns:
        # A flat table's duration is plain tenure (a cross-sectional attribute); in a panel
        # ABT it is tenure at churn or censoring, which looks past the as-of month.
        tenure = mode == "flat" and column == "duration"
        if not (
            (column in NON_FEATURE_COLUMNS and not tenure)
            or column.startswith(TOOK_PREFIX)
            or column == f"{HELD_PREFIX}{target}"
            or (mode == "flat" and column == "product_count")
        ):
            candidates.append(column)
    return split_by_kind(frame, candidates, max_categories, rows)


def design_matrix(
    frame: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    converted: dict | None = None,
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """Model input: numeric as float64 (bool -> 0/1, NA -> NaN), categorical as object.

    ``converted`` (optional, a dict kept by the caller for one ``frame``) remembers each
    converted column, so that the products of one fit, which share most features, convert
    each column once (at a million customers a conversion costs a few tenths of a second).
    ``rows`` (optional boolean mask) gives ``design_matrix(...).loc[rows]`` in one copy.
    """
    missing = [c for c in numeric + categorical if c not in frame.columns]
    if missing:
        raise KeyError(f"the frame to score lacks the model's feature columns {missing}")
    converted = {} if converted is None else converted
    columns = {}
    for column in numeric:
        if ("numeric", column) not in converted:
            converted["numeric", column] = _as_float(frame[column])
        columns[column] = converted["numeric", column]
    for column in categorical:
        if ("categorical", column) not in converted:
            values = frame[column].astype("object")
            converted["categorical", column] = values.where(values.notna(), np.nan).map(
                lambda v: v if isinstance(v, float) else str(v)
            )
        columns[column] = converted["categorical", column]
    if rows is not None:
        index = frame.index[rows]
        return pd.DataFrame({c: v.to_numpy()[rows] for c, v in columns.items()}, index=index)
    return pd.DataFrame(columns, index=frame.index)


def _as_float(series: pd.Series) -> pd.Series:
    """A feature column as float64: numpy floats as they are, numpy ints and bools cast,
    anything else (nullable types, text) through ``Float64`` with unparseable values NaN."""
    if numpy_number(series.dtype):
        return series.astype("float64")
    return pd.to_numeric(series.astype("Float64"), errors="coerce").astype("float64")


def _signed_log(values):
    # Balances and counts are heavy-tailed; a signed log keeps logistic coefficients sane.
    return np.sign(values) * np.log1p(np.abs(values))


def heavy_tailed_columns(design: pd.DataFrame, numeric: list[str]) -> list[str]:
    """Numeric columns that span orders of magnitude: the logistic model logs them.

    A column qualifies when it has more than two values, skewness above 1 in absolute value
    and values reaching 100 or more (amounts, counts). Ordinal codes (0-9) and flags stay as
    they are.
    """
    chosen = []
    for column in numeric:
        values = design[column]
        # cheapest test first: counting distinct values hashes every row
        if values.abs().max() >= 100 and abs(float(values.skew())) > 1 and values.nunique() > 2:
            chosen.append(column)
    return chosen


class UnweightedBinningHGB(HistGradientBoostingClassifier):
    """``HistGradientBoostingClassifier`` whose bin edges ignore the sample weights.

    With class weights (``class_weight="balanced"``), scikit-learn >= 1.6 finds each
    feature's 255 bin edges with one weighted-percentile sort per edge: on the 10k sample
    that was 92 of the 98 seconds of the gradient-boosting fits in ``03_cross_sell_propensity``.
    Edges from the plain quantiles (what scikit-learn did before) cost one sort per feature;
    the weights still act where they matter, in the gradients and hessians of every tree.
    """

    def _bin_data(self, X, sample_weight, is_training_data):  # noqa: N803 (sklearn's name)
        return super()._bin_data(X, None, is_training_data)


def make_estimator(
    name: str,
    numeric: list[str],
    categorical: list[str],
    skewed: list[str],
    seed: int = 0,
    class_weight: str | None = "auto",
    strength: float | None = None,
) -> Pipeline:
    """An unfitted candidate model (a scikit-learn Pipeline) for one product.

    ``"logistic"``: median imputation, signed log of heavy-tailed columns, standard scaling,
    one-hot categoricals, L2-regularised ``LogisticRegression(C=strength)`` (default 0.1). ``"hgb"``:
    ordinal-coded categoricals (native categorical splits) and a
    ``HistGradientBoostingClassifier`` with early stopping. ``class_weight="auto"`` means
    balanced weights for gradient boosting and none for logistic (see ``CrossSellModels``).
    """
    if name == "logistic":
        weights = None if class_weight == "auto" else class_weight
        plain = [c for c in numeric if c not in skewed]
        transformers = []
        if skewed:
            transformers.append(
                (
                    "skewed",
                    Pipeline(
                        [
                            ("impute", SimpleImputer(strategy="median")),
                            (
                                "log",
                                FunctionTransformer(_signed_log, feature_names_out="one-to-one"),
                            ),
                            ("scale", StandardScaler()),
                        ]
                    ),
                    skewed,
                )
            )
        if plain:
            transformers.append(
                (
                    "numeric",
                    Pipeline(
                        [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                    ),
                    plain,
                )
            )
        if categorical:
            transformers.append(
                (
                    "categorical",
                    Pipeline(
                        [
                            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                            ("onehot", OneHotEncoder(handle_unknown="ignore")),
                        ]
                    ),
                    categorical,
                )
            )
        prepare = ColumnTransformer(transformers, sparse_threshold=0)
        model = LogisticRegression(
            C=0.1 if strength is None else strength, class_weight=weights, max_iter=2000
        )
        return Pipeline([("prepare", prepare), ("model", model)])
    if name == "hgb":
        weights = "balanced" if class_weight == "auto" else class_weight
        transformers = [("numeric", "passthrough", numeric)]
        if categorical:
            transformers.append(
                (
                    "categorical",
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value",
                        unknown_value=np.nan,
                        encoded_missing_value=np.nan,
                    ),
                    categorical,
                )
            )
        prepare = ColumnTransformer(transformers, verbose_feature_names_out=False)
        prepare.set_output(transform="pandas")
        model = UnweightedBinningHGB(
            learning_rate=0.08,
            max_iter=200,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            class_weight=weights,
            categorical_features=list(categorical) or None,
            early_stopping=True,
            validation_fraction=0.15,
            n_iter_no_change=20,
            random_state=seed,
        )
        return Pipeline([("prepare", prepare), ("model", model)])
    raise ValueError(f"unknown model {name!r}; choose from {MODEL_NAMES}")


def choose_model(
    summary: dict[str, dict[str, tuple[float, float]]],
    candidates: tuple[str, ...],
    select_by: str = "roc_auc",
    folds: int = 3,
) -> str:
    """Pick the winning candidate from cross-validated (mean, std) scores.

    One-standard-error rule: the best mean of ``select_by`` sets the bar, and the *first*
    candidate (the simplest: logistic before gradient boosting) whose mean is within one
    standard error (std / sqrt(folds)) of it wins. A difference smaller than the folds' own
    noise is not worth a harder-to-explain model.
    """
    best = max(candidates, key=lambda name: summary[name][select_by][0])
    best_mean, best_std = summary[best][select_by]
    bar = best_mean - best_std / np.sqrt(folds)
    for name in candidates:
        if summary[name][select_by][0] >= bar:
            return name
    return best


def _logit(probability: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(probability, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(clipped / (1 - clipped))


def fit_calibrator(scores, y_true, method: str = "sigmoid"):
    """Fit a calibration map from (out-of-fold) model scores to probabilities.

    ``sigmoid``: Platt scaling, a one-feature logistic regression on the score's logit (keeps
    the ranking, so AUC is unchanged; robust with few buyers). ``isotonic``: a monotone step
    function (more flexible; needs many buyers). Class weights used in training inflate the
    scores; the map brings them back to observed rates.

    Returns
    -------
    sklearn.linear_model.LogisticRegression or sklearn.isotonic.IsotonicRegression
    """
    y_array = np.asarray(y_true, dtype=int)
    if method == "sigmoid":
        return LogisticRegression(C=1e6, max_iter=1000).fit(_logit(scores)[:, None], y_array)
    if method == "isotonic":
        return IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(
            np.asarray(scores, dtype=float), y_array
        )
    raise ValueError(f"calibration method must be 'sigmoid' or 'isotonic', not {method!r}")


class CalibratedModel(ClassifierMixin, BaseEstimator):
    """A fitted model pipeline followed by a fitted calibration map.

    Behaves like a scikit-learn classifier (``predict_proba``, ``predict``, ``classes_``), so
    ``sklearn.inspection.permutation_importance`` and scorers work on it.

    Parameters
    ----------
    estimator : fitted Pipeline
        The winning candidate refitted on all training rows (``make_estimator``).
    calibrator : fitted LogisticRegression (sigmoid) or IsotonicRegression
        From :func:`fit_calibrator`, fitted on out-of-fold scores.
    """

    def __init__(self, estimator, calibrator):
        self.estimator = estimator
        self.calibrator = calibrator

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0, 1])

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, features: pd.DataFrame, y_true) -> CalibratedModel:
        """Refit only the calibration map, on the (already fitted) estimator's scores."""
        method = "isotonic" if isinstance(self.calibrator, IsotonicRegression) else "sigmoid"
        self.calibrator = fit_calibrator(
            self.estimator.predict_proba(features)[:, 1], y_true, method
        )
        return self

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities from the estimator's raw scores (its ``predict_proba``)."""
        if isinstance(self.calibrator, IsotonicRegression):
            return self.calibrator.predict(raw)
        return self.calibrator.predict_proba(_logit(raw)[:, None])[:, 1]

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        probability = self.calibrate(self.estimator.predict_proba(features)[:, 1])
        return np.column_stack([1 - probability, probability])

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(features)[:, 1] >= 0.5).astype(int)


def cross_validate_candidate(factory, features, target, folds) -> dict:
    """Out-of-fold scores and per-fold ROC AUC / average precision (mean, std)."""
    scores = np.empty(len(target))
    fold_auc, fold_ap = [], []
    for fit_rows, test_rows in folds:
        estimator = factory()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            estimator.fit(features.iloc[fit_rows], target[fit_rows])
        scores[test_rows] = estimator.predict_proba(features.iloc[test_rows])[:, 1]
        fold_auc.append(roc_auc_score(target[test_rows], scores[test_rows]))
        fold_ap.append(average_precision_score(target[test_rows], scores[test_rows]))
    return {
        "scores": scores,
        "roc_auc": (float(np.mean(fold_auc)), float(np.std(fold_auc))),
        "average_precision": (float(np.mean(fold_ap)), float(np.std(fold_ap))),
    }


def cross_validate_strengths(factory, strengths, features, target, folds) -> dict:
    """:func:`cross_validate_candidate` for several regularisation strengths of one pipeline.

    ``factory(strength)`` returns an unfitted ``Pipeline([("prepare", ...), ("model", ...)])``
    whose preprocessing does not depend on the strength (the logistic candidate). Each fold's
    preprocessing is fitted and applied once and only the final model is refitted per
    strength: the same results as one :func:`cross_validate_candidate` per strength, with a
    quarter of the preprocessing work for four strengths.

    Returns
    -------
    dict
        ``{strength: result}``, each result as :func:`cross_validate_candidate` returns it.
    """
    scores = {strength: np.empty(len(target)) for strength in strengths}
    fold_auc = {strength: [] for strength in strengths}
    fold_ap = {strength: [] for strength in strengths}
    for fit_rows, test_rows in folds:
        prepare = factory(strengths[0]).named_steps["prepare"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            fit_matrix = prepare.fit_transform(features.iloc[fit_rows], target[fit_rows])
            test_matrix = prepare.transform(features.iloc[test_rows])
            for strength in strengths:
                model = factory(strength).named_steps["model"]
                model.fit(fit_matrix, target[fit_rows])
                predicted = model.predict_proba(test_matrix)[:, 1]
                scores[strength][test_rows] = predicted
                fold_auc[strength].append(roc_auc_score(target[test_rows], predicted))
                fold_ap[strength].append(average_precision_score(target[test_rows], predicted))
    return {
        strength: {
            "scores": scores[strength],
            "roc_auc": (float(np.mean(fold_auc[strength])), float(np.std(fold_auc[strength]))),
            "average_precision": (
                float(np.mean(fold_ap[strength])),
                float(np.std(fold_ap[strength])),
            ),
        }
        for strength in strengths
    }


def feature_owner(transformed_name: str, features: list[str]) -> str:
    """Original feature behind a ColumnTransformer output name (``numeric__aum`` ...)."""
    bare = transformed_name.split("__", 1)[-1]
    if bare in features:
        return bare
    # One-hot outputs are "<feature>_<level>": the longest matching feature prefix wins.
    matches = [f for f in features if bare.startswith(f"{f}_")]
    return max(matches, key=len) if matches else bare
