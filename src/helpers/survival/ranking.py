"""Who is most likely to leave: the churn *ranking* model, chosen by cross-validated AUC.

The Cox model (:mod:`helpers.survival.cox`) gives hazard ratios, survival curves and CLV, but
a linear proportional-hazards score is not the best way to *rank* customers: on public churn
tables it came 0.06 to 0.15 AUC below a plain scikit-learn baseline. The early-warning list
and the churn KPIs therefore rank with the best of three candidates, chosen by 5-fold
cross-validated ROC AUC on the churn label:

- ``logistic``: L2 logistic regression (signed log of heavy-tailed amounts, scaling, one-hot
  categoricals with rare levels pooled), Platt-calibrated on a held-out slice of each fit;
- ``gradient_boosting``: scikit-learn's ``HistGradientBoostingClassifier`` (native categorical
  splits), Platt-calibrated the same way;
- ``cox``: the notebook's Cox model refitted on each training fold (its risk score).

The label is the horizon label in panel mode (``churn_label``: churned within
``churn_horizon_months`` after the as-of month; features known at the as-of month) and the
table's churn flag (``event``) in flat mode, where tenure (``duration``) is a feature.

Every candidate's out-of-fold AUC (mean over the folds, with a 95% interval from the
Hanley-McNeil standard error at the number of customers used) becomes a row of
``artifacts/model_metrics.csv`` through :func:`metric_records`. A **leakage guard** flags a
single feature whose AUC alone is at least :data:`LEAK_FEATURE_AUC` and a model at least
:data:`LEAK_MODEL_AUC`: such numbers usually mean a column restates the answer.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from helpers import i18n
from helpers.features import split_by_kind, stratified_rows
from helpers.formatting import Note, Skipped
from helpers.survival.cox import ChurnCox

RANKING_MODELS = ("logistic", "gradient_boosting", "cox")
#: A single feature ranking churners this well on its own probably restates the label.
LEAK_FEATURE_AUC = 0.98
#: A model this good on real churn data is more likely to be leaking than to be right.
LEAK_MODEL_AUC = 0.99
#: Text columns with more levels than this are identifiers, not features.
MAX_LEVELS = 50
#: Columns never used as ranking features (ids, PII, outcomes, anything after the as-of month).
NOT_FEATURES = frozenset(
    {
        "customer_id", "as_of", "rm_id", "branch_id", "name", "mobile", "entry", "event",
        "event_type", "churn_label", "churn_type_label", "treatment", "outcome", "close_date",
        "close_reason", "stage", "p_churn", "aum_at_risk", "churn_score",
    }
)  # fmt: skip


def _signed_log(values):
    return np.sign(values) * np.log1p(np.abs(values))


def ranking_features(frame: pd.DataFrame, mode: str) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns of a churn frame, chosen by dtype, not name.

    Excluded: :data:`NOT_FEATURES`, ``took_*`` labels, constant columns, dates, and text with
    more than :data:`MAX_LEVELS` levels. ``duration`` is tenure in a flat table (a feature)
    but tenure at churn in a panel ABT (it looks past the as-of month: excluded).
    """
    candidates = [
        column
        for column in frame.columns
        if column not in NOT_FEATURES
        and not column.startswith("took_")
        and not (column == "duration" and mode != "flat")
    ]
    return split_by_kind(frame, candidates, MAX_LEVELS)


def _design(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    design = pd.DataFrame(index=frame.index)
    for column in numeric:
        values = pd.to_numeric(frame[column].astype("Float64"), errors="coerce")
        design[column] = values.astype("float64")
    for column in categorical:
        values = frame[column].astype("object")
        design[column] = values.where(values.notna(), "missing").astype(str)
    return design


def _skewed(design: pd.DataFrame, numeric: list[str]) -> list[str]:
    chosen = []
    for column in numeric:
        values = design[column].dropna()
        if values.nunique() > 2 and values.abs().max() >= 100 and abs(float(values.skew())) > 1:
            chosen.append(column)
    return chosen


def _pipeline(name: str, numeric, categorical, skewed, seed: int) -> Pipeline:
    if name == "logistic":
        plain = [c for c in numeric if c not in skewed]
        impute = ("impute", SimpleImputer(strategy="median"))
        log = ("log", FunctionTransformer(_signed_log, feature_names_out="one-to-one"))
        parts = [
            ("skewed", Pipeline([impute, log, ("scale", StandardScaler())]), skewed),
            ("numeric", Pipeline([impute, ("scale", StandardScaler())]), plain),
            ("categorical", OneHotEncoder(handle_unknown="ignore", min_frequency=10), categorical),
        ]
        prepare = ColumnTransformer([p for p in parts if p[2]], sparse_threshold=0)
        return Pipeline([("prepare", prepare), ("model", LogisticRegression(max_iter=3000))])
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)
    parts = [("numeric", "passthrough", numeric), ("categorical", encoder, categorical)]
    prepare = ColumnTransformer([p for p in parts if p[2]], verbose_feature_names_out=False)
    prepare.set_output(transform="pandas")
    model = HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=300, max_leaf_nodes=15, min_samples_leaf=40,
        l2_regularization=1.0, categorical_features=list(categorical) or None,
        early_stopping=True, validation_fraction=0.15, n_iter_no_change=20, random_state=seed,
    )  # fmt: skip
    return Pipeline([("prepare", prepare), ("model", model)])


class _Platt:
    """A pipeline fitted on 80% of the rows, its scores Platt-scaled on the other 20%."""

    def __init__(self, pipeline: Pipeline, seed: int) -> None:
        self.pipeline, self.seed = pipeline, seed

    def fit(self, design: pd.DataFrame, target: np.ndarray) -> _Platt:
        fit_rows, calibration_rows = train_test_split(
            np.arange(len(target)), test_size=0.2, stratify=target, random_state=self.seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.pipeline.fit(design.iloc[fit_rows], target[fit_rows])
            raw = self._raw(design.iloc[calibration_rows])
            self.scaler_ = LogisticRegression(C=1e6).fit(raw[:, None], target[calibration_rows])
        return self

    def _raw(self, design: pd.DataFrame) -> np.ndarray:
        probability = np.clip(self.pipeline.predict_proba(design)[:, 1], 1e-6, 1 - 1e-6)
        return np.log(probability / (1 - probability))

    def predict(self, design: pd.DataFrame) -> np.ndarray:
        return self.scaler_.predict_proba(self._raw(design)[:, None])[:, 1]


def auc_interval(auc: float, positives: int, negatives: int, z: float = 1.96):
    """95% interval of an AUC from the Hanley-McNeil (1982) standard error."""
    if positives < 1 or negatives < 1:
        return float("nan"), float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    ) / (positives * negatives)
    se = float(np.sqrt(max(variance, 0.0)))
    return max(0.0, auc - z * se), min(1.0, auc + z * se)


class ChurnRanker:
    """Choose and fit the churn ranking model (module doc). ``fit`` returns ``self``.

    Parameters
    ----------
    mode : {"panel", "flat"}
    cox : fitted :class:`ChurnCox` whose covariates, penalizer and strata the Cox candidate
        reuses (None leaves the Cox candidate out).
    horizon : churn horizon in months (the Cox candidate's probability horizon).
    folds : cross-validation folds.
    seed : seed of the folds, the sample and the models.
    sample_cap : most customers used for the cross-validation.
    candidates : model names, a subset of :data:`RANKING_MODELS`.
    fit_cap : most customers the chosen model is finally fitted on (a sample stratified by
        the label, as the Cox scoring model's ``fit_sample_cap``); None fits on all.
    cross_validate : False fits the only candidate without cross-validating it (a refit whose
        choice was already made, e.g. the back-test's); ``metrics_`` and ``leaks_`` are then
        empty.

    Attributes
    ----------
    chosen_ : str
    metrics_ : DataFrame  (``model``, ``auc``, ``lower``, ``upper``, ``n``, ``chosen``)
    leaks_ : DataFrame  (``feature``, ``auc``) features at or above :data:`LEAK_FEATURE_AUC`
    numeric_, categorical_ : feature columns
    """

    def __init__(
        self,
        mode: str,
        cox: ChurnCox | None = None,
        horizon: int = 6,
        folds: int = 5,
        seed: int = 0,
        sample_cap: int | None = 20000,
        candidates: Sequence[str] = RANKING_MODELS,
        fit_cap: int | None = None,
        cross_validate: bool = True,
    ) -> None:
        self.mode, self.cox, self.horizon = mode, cox, horizon
        self.folds, self.seed, self.sample_cap = folds, seed, sample_cap
        self.candidates = [c for c in candidates if c != "cox" or cox is not None]
        self.fit_cap, self.cross_validate = fit_cap, cross_validate
        if not cross_validate and len(self.candidates) != 1:
            raise ValueError("without cross-validation there must be exactly one candidate")

    def label(self, frame: pd.DataFrame) -> pd.Series:
        """The churn label the ranking is judged on (NA where unknown)."""
        column = "event" if self.mode == "flat" else "churn_label"
        return frame[column].astype("boolean")

    def fit(self, frame: pd.DataFrame) -> ChurnRanker:
        known = frame[self.label(frame).notna().to_numpy()].reset_index(drop=True)
        self.label_known_ = len(known)
        target = self.label(known).astype(bool).to_numpy()
        if target.sum() < 2 * self.folds or (~target).sum() < 2 * self.folds:
            raise ValueError(
                f"too few churners ({int(target.sum())}) or stayers to rank churn by "
                f"{self.folds}-fold cross-validation"
            )
        self.numeric_, self.categorical_ = ranking_features(known, self.mode)
        design = _design(known, self.numeric_, self.categorical_)
        self.skewed_ = _skewed(design, self.numeric_)
        sample = np.arange(len(known))
        if self.sample_cap and len(sample) > self.sample_cap:
            sample = np.sort(
                np.random.default_rng(self.seed).choice(sample, self.sample_cap, replace=False)
            )
        if self.cross_validate:
            self.metrics_ = self._cross_validate(
                known.iloc[sample], design.iloc[sample], target[sample]
            )
            self.leaks_ = self._single_feature_auc(design.iloc[sample], target[sample])
            best = self.metrics_.sort_values("auc", ascending=False).iloc[0]
            self.chosen_ = str(best["model"])
        else:
            self.metrics_ = pd.DataFrame(columns=["model", "auc", "lower", "upper", "n"])
            self.leaks_ = pd.DataFrame(columns=["feature", "auc"])
            self.chosen_ = self.candidates[0]
        self.metrics_["chosen"] = self.metrics_["model"] == self.chosen_
        # The final fit on at most fit_cap customers, stratified by the label.
        rows = stratified_rows(target, self.fit_cap, self.seed)
        self.fitted_rows_ = len(rows)
        source = known if self.chosen_ == "cox" else design
        if len(rows) < len(target):
            source, target = source.iloc[rows], target[rows]
        self.model_ = self._make(self.chosen_).fit(source, target)
        return self

    def _make(self, name: str):
        if name == "cox":
            return _CoxCandidate(self.cox, self.mode, self.horizon)
        pipeline = _pipeline(name, self.numeric_, self.categorical_, self.skewed_, self.seed)
        return _Platt(pipeline, self.seed)

    def _cross_validate(self, frame, design, target) -> pd.DataFrame:
        splitter = StratifiedKFold(self.folds, shuffle=True, random_state=self.seed)
        splits = list(splitter.split(design, target))
        rows = []
        for name in self.candidates:
            source = frame if name == "cox" else design
            fold_auc = []
            for fit_rows, test_rows in splits:
                model = self._make(name).fit(source.iloc[fit_rows], target[fit_rows])
                scores = model.predict(source.iloc[test_rows])
                fold_auc.append(roc_auc_score(target[test_rows], scores))
            auc = float(np.mean(fold_auc))
            lower, upper = auc_interval(auc, int(target.sum()), int((~target).sum()))
            rows.append(
                {"model": name, "auc": auc, "lower": lower, "upper": upper, "n": len(target)}
            )
        return pd.DataFrame(rows)

    def _single_feature_auc(self, design: pd.DataFrame, target: np.ndarray) -> pd.DataFrame:
        rows = []
        for column in self.numeric_ + self.categorical_:
            values = design[column]
            if column in self.categorical_:  # each level's churn rate is its score
                values = pd.Series(target, index=design.index).groupby(values).transform("mean")
            values = values.fillna(values.median())
            auc = roc_auc_score(target, values)
            rows.append({"feature": column, "auc": max(auc, 1 - auc)})
        table = pd.DataFrame(rows, columns=["feature", "auc"])
        return table[table["auc"] >= LEAK_FEATURE_AUC].reset_index(drop=True)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Churn score of each row (a calibrated probability for the two classifiers)."""
        if self.chosen_ == "cox":
            return self.model_.predict(frame)
        return self.model_.predict(_design(frame, self.numeric_, self.categorical_))


class _CoxCandidate:
    """The notebook's Cox specification refitted on a fold; scores P(churn within h)."""

    def __init__(self, cox: ChurnCox, mode: str, horizon: int) -> None:
        self.template, self.mode, self.horizon = cox, mode, horizon

    def fit(self, frame: pd.DataFrame, target=None) -> _CoxCandidate:
        template = self.template
        self.model_ = ChurnCox(template.covariates, template.penalizer, template.strata)
        self.model_.fit(frame)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if self.mode == "flat":  # no "now" to predict from: the relative risk ranks
            return self.model_.log_partial_hazard(frame).to_numpy(float)
        now = "tenure_months" if "tenure_months" in frame.columns else "entry"
        return self.model_.predict_churn_probability(frame, self.horizon, now).to_numpy(float)


# ----------------------------------------------------------------------------- notebook steps
def choose_churn_ranker(
    final: pd.DataFrame,
    plan,
    cox: ChurnCox,
    seed: int = 0,
    sample_cap: int | None = 20000,
    fit_cap: int | None = None,
) -> ChurnRanker | Skipped:
    """The fitted :class:`ChurnRanker` on ``final`` (the frame the scoring model refits on);
    the chosen model is fitted on at most ``fit_cap`` customers (None: all)."""
    try:
        return ChurnRanker(
            plan.mode, cox, plan.horizon, seed=seed, sample_cap=sample_cap, fit_cap=fit_cap
        ).fit(final)
    except ValueError as error:
        return Skipped("surv_ranking_skipped", reason=str(error))


def model_name(model: str, lang: str = "zh") -> str:
    """A ranking candidate's name in words (``gradient_boosting`` -> "gradient boosting")."""
    return i18n.t(f"surv_model_{model}", lang)


def ranking_display(ranker: ChurnRanker | Skipped, lang: str = "zh") -> pd.DataFrame | Skipped:
    """The candidates' cross-validated AUC with interval, chosen one marked, label-key headers."""
    if isinstance(ranker, Skipped):
        return ranker
    table = ranker.metrics_[["model", "auc", "lower", "upper", "n", "chosen"]].copy()
    table["model"] = [model_name(m, lang) for m in table["model"]]
    yes, no = i18n.t("surv_yes", lang), i18n.t("surv_no", lang)
    table["chosen"] = [yes if c else no for c in table["chosen"]]
    return table.set_axis(
        ["surv_model", "surv_auc", "surv_ci_lower", "surv_ci_upper", "customers", "surv_chosen"],
        axis="columns",
    )


def ranking_notes(ranker: ChurnRanker | Skipped, lang: str = "zh") -> list[Note] | Skipped:
    """The chosen model and its AUC in words, plus the leakage guard's warnings."""
    if isinstance(ranker, Skipped):
        return ranker
    chosen = ranker.metrics_[ranker.metrics_["chosen"]].iloc[0]
    notes = [
        Note(
            "surv_ranking_chosen", model=model_name(chosen["model"], lang),
            auc=f"{chosen['auc']:.3f}",
            lower=f"{chosen['lower']:.3f}", upper=f"{chosen['upper']:.3f}",
            folds=ranker.folds, n=int(chosen["n"]),
        )
    ]  # fmt: skip
    known = int(ranker.label_known_)
    if ranker.fitted_rows_ < known:
        notes.append(Note("surv_ranking_fit_sample", fitted=ranker.fitted_rows_, total=known))
    for row in ranker.leaks_.itertuples():
        notes.append(Note("surv_leak_feature", feature=row.feature, auc=f"{row.auc:.3f}"))
    best = ranker.metrics_["auc"].max()
    if best >= LEAK_MODEL_AUC:
        notes.append(Note("surv_leak_model", auc=f"{best:.3f}"))
    return notes


def metric_records(ranker: ChurnRanker | Skipped, notebook: str = "02_lifecycle_survival"):
    """Rows of ``model_metrics.csv`` (one per candidate); a skipped ranking writes none."""
    if isinstance(ranker, Skipped):
        return []
    return [
        {
            "notebook": notebook, "target": "churn", "model": row.model,
            "chosen": bool(row.chosen), "metric": "roc_auc", "value": float(row.auc),
            "lower": float(row.lower), "upper": float(row.upper), "n": int(row.n),
        }
        for row in ranker.metrics_.itertuples()
    ]  # fmt: skip
