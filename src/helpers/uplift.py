"""Uplift models and their evaluation: T- and X-learners, Qini and uplift curves.

Uplift (增量效应) is the change an offer makes to one customer's outcome: P(stay | offer) -
P(stay | no offer), or AUM kept with the offer minus without. Nobody is observed both ways,
so it is estimated from a randomised campaign:

- :class:`TLearner` fits one outcome model per arm and subtracts the predictions.
- :class:`XLearner` (Kunzel et al. 2019) imputes each customer's individual effect from the
  other arm's model and regresses it on the features; it borrows strength across arms and does
  better when an arm is small or the effect is simpler than the outcome.

Both are *cross-fitted*: every customer's uplift comes from models that never saw that
customer (K folds, out-of-fold predictions), so evaluating them on the same campaign is honest.
Estimators are scikit-learn objects (any classifier with ``predict_proba`` / regressor);
fitted models are kept in ``models_``.

Evaluation (:func:`qini_curve`, :func:`qini_coefficient`, :func:`qini_bootstrap`,
:func:`uplift_by_decile`) compares a targeting score against random targeting (the diagonal)
and any other score, e.g. churn risk alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

CONTROL = "control"
# Columns of the ABT that identify a customer or are labels: never model features.
NOT_FEATURES = {
    "customer_id",
    "as_of",
    "branch_id",
    "rm_id",
    "name",
    "mobile",
    "churn_label",
    "churn_type_label",
    "entry",
    "duration",
    "event",
    "treatment",
    "outcome",
    "arm",
    "group",
    "offer",
    "retained",
    "aum_after",
    "aum_kept",
    "cost",
    # campaign bookkeeping; aum_before duplicates the ABT's aum at the assigned month
    "campaign_id",
    "assigned_date",
    "contact_channel",
    "horizon_months",
    "aum_before",
}


def feature_matrix(
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    max_levels: int = 20,
    like: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Numeric model matrix from an ABT (or flat) frame.

    Numbers and booleans are kept as floats (missing values stay NaN: the gradient-boosting
    estimators handle them); text columns with at most ``max_levels`` levels become one 0/1
    column per level; ids, labels (``took_*``, ``churn_label``...) and campaign outcomes are
    dropped unless listed in ``columns``. ``like``: the training matrix whose columns (and
    order) the result must have, for scoring new customers; a category level never seen in
    training is dropped, one not present now is all zeros.
    """
    if columns is None:
        skip = NOT_FEATURES | set(exclude)
        columns = [c for c in frame.columns if c not in skip and not str(c).startswith("took_")]
    parts = []
    for column in columns:
        series = frame[column]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            parts.append(pd.to_numeric(series.astype("Float64"), errors="coerce").astype(float))
        elif pd.api.types.is_datetime64_any_dtype(series):
            continue
        elif series.nunique(dropna=True) <= max_levels:
            dummies = pd.get_dummies(series.astype("string"), prefix=column, dtype=float)
            parts.append(dummies)
    if not parts:
        raise ValueError("feature_matrix: no usable feature columns (numbers, flags, categories)")
    matrix = pd.concat(parts, axis=1).rename(columns=str)
    if like is not None:
        return matrix.reindex(columns=like.columns, fill_value=0.0)
    # A column with no values carries no information and breaks histogram binning.
    return matrix.loc[:, matrix.notna().any()]


# Uplift is a difference of a few points between two noisy outcome models, so the defaults
# are deliberately weak learners: depth-2 trees (main effects and pairwise interactions), few
# boosting rounds, big leaves. On generated banks (60k customers, 11.8k in the campaign) this
# raised the Spearman correlation of predicted with true uplift from about 0.30 (depth 3,
# 150 rounds) to about 0.50; more rounds fitted the outcome better and the uplift worse.
WEAK_LEARNER = dict(max_iter=50, learning_rate=0.05, max_depth=2, min_samples_leaf=200)


def default_classifier(seed: int = 0) -> HistGradientBoostingClassifier:
    """Weak, regularised gradient boosting for retention (see ``WEAK_LEARNER``)."""
    return HistGradientBoostingClassifier(**WEAK_LEARNER, l2_regularization=1.0, random_state=seed)


def default_regressor(seed: int = 0) -> HistGradientBoostingRegressor:
    """Regressor with the same regularisation, for AUM outcomes and X-learner effects."""
    return HistGradientBoostingRegressor(**WEAK_LEARNER, l2_regularization=1.0, random_state=seed)


def _predict(model, X) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)[:, 1]
    return model.predict(X)


class _CrossFitted:
    """Shared input checks and fold logic."""

    def __init__(
        self,
        outcome: str = "binary",
        estimator=None,
        n_folds: int = 5,
        seed: int = 0,
        control: str = CONTROL,
        n_threads: int | None = 1,
    ) -> None:
        if outcome not in {"binary", "continuous"}:
            raise ValueError(f"outcome must be 'binary' or 'continuous', not {outcome!r}")
        if n_folds < 2:
            raise ValueError("n_folds must be at least 2 (cross-fitting needs held-out folds)")
        self.outcome = outcome
        self.estimator = estimator
        self.n_folds = n_folds
        self.seed = seed
        self.control = control
        self.n_threads = n_threads

    def fit(self, X, arm, y):
        """Cross-fit the models on campaign customers.

        Parameters
        ----------
        X : DataFrame or array, features measured before the campaign (see
            :func:`feature_matrix`).
        arm : ``"control"`` or the offer name, per customer.
        y : outcome per customer (retained 0/1, or AUM kept).

        Returns
        -------
        self
        """
        # OpenMP threads: several notebooks share two cores in the batch, and oversubscribed
        # gradient boosting runs 10-30x slower (FIELD-NOTES), so one thread is the default.
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return self._fit(X, arm, y)

    def _outcome_model(self):
        if self.estimator is not None:
            return clone(self.estimator)
        if self.outcome == "binary":
            return default_classifier(self.seed)
        return default_regressor(self.seed)

    def _prepare(self, X, arm, y):
        features = X.to_numpy(dtype=float) if isinstance(X, pd.DataFrame) else np.asarray(X, float)
        arms = np.asarray(pd.Series(arm).astype(str))
        target = np.asarray(pd.Series(y).astype(float))
        if not len(features) == len(arms) == len(target):
            raise ValueError(
                f"X, arm and y must have the same length ({len(features)}, {len(arms)}, "
                f"{len(target)})"
            )
        if np.isnan(target).any():
            raise ValueError(f"y has {int(np.isnan(target).sum())} missing outcomes")
        if self.control not in set(arms):
            raise ValueError(f"no '{self.control}' customers: uplift needs a control group")
        offers = sorted(set(arms) - {self.control})
        if not offers:
            raise ValueError("no treated customers: uplift needs at least one offer arm")
        counts = pd.Series(arms).value_counts()
        too_small = counts[counts < 2 * self.n_folds]
        if len(too_small):
            raise ValueError(
                f"arm(s) {too_small.to_dict()} too small for {self.n_folds}-fold cross-fitting"
            )
        if self.outcome == "binary":
            if not np.isin(target, [0.0, 1.0]).all():
                raise ValueError("binary outcome y must be 0/1 or True/False")
            for name in [self.control, *offers]:
                if np.unique(target[arms == name]).size < 2:
                    raise ValueError(
                        f"arm {name!r}: every customer has the same outcome; "
                        "no model can learn an effect from it"
                    )
        self.index_ = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(features))
        self.feature_names_ = list(X.columns) if isinstance(X, pd.DataFrame) else None
        self.offers_ = offers
        self.arms_ = [self.control, *offers]
        folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.seed)
        return features, arms, target, list(folds.split(features, arms))

    def _frame(self, values: np.ndarray, columns: list[str], index=None) -> pd.DataFrame:
        return pd.DataFrame(values, columns=columns, index=self.index_ if index is None else index)

    def predict(self, X) -> pd.DataFrame:
        """Uplift per offer for new customers: the average of the fold models' predictions."""
        features = X.to_numpy(dtype=float) if isinstance(X, pd.DataFrame) else np.asarray(X, float)
        index = X.index if isinstance(X, pd.DataFrame) else None
        total = np.zeros((len(features), len(self.offers_)))
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            for fold_models in self.models_:
                total += self._predict_fold(fold_models, features)
        return self._frame(total / len(self.models_), self.offers_, index)


class TLearner(_CrossFitted):
    """Two-model (T-)learner: one outcome model per arm, uplift = difference of predictions.

    Parameters
    ----------
    outcome : ``"binary"`` (retention; predictions are probabilities) or ``"continuous"``
        (AUM kept, RMB).
    estimator : scikit-learn classifier / regressor cloned for every arm and fold; default a
        regularised ``HistGradientBoosting*`` (scales to millions of rows).
    n_folds : cross-fitting folds.
    seed : fold split and estimator seed.
    control : name of the control arm.
    n_threads : OpenMP threads for the fits (1 by default: the batch runs notebooks side by
        side on few cores; None = all cores).

    Attributes
    ----------
    offers_ : offer arms, sorted.
    oof_outcome_ : DataFrame, out-of-fold predicted outcome under every arm (control first).
    oof_uplift_ : DataFrame, out-of-fold uplift per offer (outcome under offer - control).
    models_ : list (one per fold) of ``{arm: fitted estimator}``.
    """

    def _fit(self, X, arm, y) -> TLearner:
        features, arms, target, folds = self._prepare(X, arm, y)
        outcomes = np.full((len(target), len(self.arms_)), np.nan)
        self.models_ = []
        for train, test in folds:
            fold_models = {}
            for j, name in enumerate(self.arms_):
                rows = train[arms[train] == name]
                model = self._outcome_model().fit(features[rows], target[rows])
                outcomes[test, j] = _predict(model, features[test])
                fold_models[name] = model
            self.models_.append(fold_models)
        self.oof_outcome_ = self._frame(outcomes, self.arms_)
        self.oof_uplift_ = self.oof_outcome_[self.offers_].sub(
            self.oof_outcome_[self.control], axis=0
        )
        return self

    def _predict_fold(self, fold_models, features) -> np.ndarray:
        base = _predict(fold_models[self.control], features)
        return np.column_stack([_predict(fold_models[o], features) - base for o in self.offers_])


class XLearner(_CrossFitted):
    """X-learner: impute individual effects across arms, then model them.

    For each offer o, within each training fold: fit outcome models mu_0 (control) and mu_o;
    impute effects ``D = y - mu_0(x)`` for offer customers and ``D = mu_o(x) - y`` for control
    customers (each prediction is out-of-sample: the model was fit on the *other* arm); fit
    effect regressors tau_o and tau_0 on them; combine ``tau = e tau_0 + (1 - e) tau_o`` with
    ``e`` the share of offer customers (the randomisation propensity; constant). The held-out
    fold is then predicted.

    Parameters
    ----------
    effect_estimator : regressor for the imputed effects; default regularised gradient boosting.
    Other parameters as :class:`TLearner`.

    Attributes
    ----------
    As :class:`TLearner`; ``oof_outcome_`` holds mu_0 and mu_0 + tau_o so predicted outcomes
    and uplift agree. ``propensity_`` maps offer -> e.
    """

    def __init__(
        self,
        outcome: str = "binary",
        estimator=None,
        effect_estimator=None,
        n_folds: int = 5,
        seed: int = 0,
        control: str = CONTROL,
        n_threads: int | None = 1,
    ) -> None:
        super().__init__(outcome, estimator, n_folds, seed, control, n_threads)
        self.effect_estimator = effect_estimator

    def _effect_model(self):
        if self.effect_estimator is not None:
            return clone(self.effect_estimator)
        return default_regressor(self.seed)

    def _fit(self, X, arm, y) -> XLearner:
        features, arms, target, folds = self._prepare(X, arm, y)
        n = len(target)
        uplift = np.full((n, len(self.offers_)), np.nan)
        base = np.full(n, np.nan)
        self.propensity_ = {
            o: float((arms == o).sum() / ((arms == o).sum() + (arms == self.control).sum()))
            for o in self.offers_
        }
        self.models_ = []
        for train, test in folds:
            control_rows = train[arms[train] == self.control]
            mu_control = self._outcome_model().fit(features[control_rows], target[control_rows])
            base[test] = _predict(mu_control, features[test])
            fold_models = {self.control: mu_control}
            for j, offer in enumerate(self.offers_):
                offer_rows = train[arms[train] == offer]
                mu_offer = self._outcome_model().fit(features[offer_rows], target[offer_rows])
                imputed_offer = target[offer_rows] - _predict(mu_control, features[offer_rows])
                imputed_control = _predict(mu_offer, features[control_rows]) - target[control_rows]
                tau_offer = self._effect_model().fit(features[offer_rows], imputed_offer)
                tau_control = self._effect_model().fit(features[control_rows], imputed_control)
                fold_models[offer] = (tau_offer, tau_control)
                uplift[test, j] = self._combine(offer, tau_offer, tau_control, features[test])
            self.models_.append(fold_models)
        self.oof_uplift_ = self._frame(uplift, self.offers_)
        outcomes = np.column_stack([base, base[:, None] + uplift])
        self.oof_outcome_ = self._frame(outcomes, self.arms_)
        return self

    def _combine(self, offer, tau_offer, tau_control, features) -> np.ndarray:
        share = self.propensity_[offer]
        return share * tau_control.predict(features) + (1 - share) * tau_offer.predict(features)

    def _predict_fold(self, fold_models, features) -> np.ndarray:
        return np.column_stack([self._combine(o, *fold_models[o], features) for o in self.offers_])


# ----------------------------------------------------------------------------- evaluation
def _ordered(score, treated, outcome, seed: int):
    score = np.asarray(score, dtype=float)
    treated = np.asarray(treated, dtype=bool)
    outcome = np.asarray(outcome, dtype=float)
    if not len(score) == len(treated) == len(outcome):
        raise ValueError("score, treated and outcome must have the same length")
    if treated.all() or (~treated).all():
        raise ValueError("Qini needs both treated and control customers")
    # Random tie-breaking (seeded): with a stable sort alone, tied scores would keep the input
    # order, which is often sorted by arm and would fake an effect.
    shuffle = np.random.default_rng(seed).permutation(len(score))
    order = shuffle[np.argsort(-score[shuffle], kind="stable")]
    return treated[order], outcome[order]


def _cumulative_curves(treated: np.ndarray, outcome: np.ndarray):
    """Qini and uplift curves at every cut-off k = 1..n (k customers targeted)."""
    n = len(treated)
    n_treated = np.cumsum(treated)
    n_control = np.cumsum(~treated)
    y_treated = np.cumsum(np.where(treated, outcome, 0.0))
    y_control = np.cumsum(np.where(treated, 0.0, outcome))
    with np.errstate(invalid="ignore", divide="ignore"):
        qini = np.where(n_control > 0, y_treated - y_control * n_treated / n_control, 0.0)
        mean_t = np.where(n_treated > 0, y_treated / n_treated, 0.0)
        mean_c = np.where(n_control > 0, y_control / n_control, 0.0)
    gain = (mean_t - mean_c) * np.arange(1, n + 1)
    # Per customer of the population: both end at the average effect at 100% targeted.
    return qini / n_treated[-1], gain / n


def _curve_on_grid(treated, outcome, grid: np.ndarray):
    qini, gain = _cumulative_curves(treated, outcome)
    n = len(treated)
    position = np.clip(np.round(grid * n).astype(int) - 1, -1, n - 1)
    qini_grid = np.where(position >= 0, qini[np.maximum(position, 0)], 0.0)
    gain_grid = np.where(position >= 0, gain[np.maximum(position, 0)], 0.0)
    return qini_grid, gain_grid


def qini_curve(score, treated, outcome, n_points: int = 101, seed: int = 0) -> pd.DataFrame:
    """Qini and uplift curves of a targeting score, on a grid of shares targeted.

    Customers are ranked by ``score`` (highest first). At the top k:
    ``qini = (Y_t(k) - Y_c(k) N_t(k) / N_c(k)) / N_t`` (incremental outcomes among the treated
    of the top k, per treated customer) and
    ``uplift = (mean_t(k) - mean_c(k)) k / N`` (incremental outcomes if the top k were
    treated, per customer). Both end at the average effect; ``random`` is the straight line
    random targeting would give.

    Returns
    -------
    DataFrame: ``fraction`` (0-1), ``qini``, ``uplift``, ``random``.
    """
    treated_o, outcome_o = _ordered(score, treated, outcome, seed)
    grid = np.linspace(0, 1, n_points)
    qini, gain = _curve_on_grid(treated_o, outcome_o, grid)
    return pd.DataFrame({"fraction": grid, "qini": qini, "uplift": gain, "random": grid * qini[-1]})


def qini_coefficient(score, treated, outcome, seed: int = 0) -> dict:
    """Area between a score's curves and random targeting (0 = no better than random).

    Returns
    -------
    dict: ``qini`` (area between the Qini curve and the random line), ``auuc`` (area under the
    uplift curve), ``auuc_over_random`` (AUUC minus the random line's area), ``ate`` (average
    effect: the curves' end point).
    """
    treated_o, outcome_o = _ordered(score, treated, outcome, seed)
    qini, gain = _cumulative_curves(treated_o, outcome_o)
    x = np.arange(0, len(qini) + 1) / len(qini)
    qini_full, gain_full = np.r_[0.0, qini], np.r_[0.0, gain]
    ate = float(qini[-1])
    area_qini = float(np.trapezoid(qini_full, x))
    area_gain = float(np.trapezoid(gain_full, x))
    return {
        "qini": area_qini - ate / 2,
        "auuc": area_gain,
        "auuc_over_random": area_gain - ate / 2,
        "ate": ate,
    }


def qini_bootstrap(
    scores: dict[str, Sequence[float]],
    treated,
    outcome,
    n_boot: int = 200,
    sample_cap: int | None = 20000,
    confidence: float = 0.95,
    n_points: int = 51,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bootstrap bands for the Qini curves and coefficients of several scores.

    Customers are resampled with replacement (the same resamples for every score, so the
    comparison between scores is paired); the scores are held fixed, so the bands show the
    outcome noise of the evaluation campaign, not the model's fitting noise. At most
    ``sample_cap`` customers are used (a seeded subsample) to keep it fast at scale.

    Returns
    -------
    curves : ``score``, ``fraction``, ``qini``, ``lower``, ``upper``.
    coefficients : ``score``, ``qini``, ``lower``, ``upper``, ``beats_random_share`` and, for
    every other score, the share of resamples in which this score's Qini is higher
    (``beats_<name>``).
    """
    rng = np.random.default_rng(seed)
    treated = np.asarray(treated, dtype=bool)
    outcome = np.asarray(outcome, dtype=float)
    arrays = {name: np.asarray(values, dtype=float) for name, values in scores.items()}
    n = len(treated)
    keep = np.arange(n)
    if sample_cap is not None and n > sample_cap:
        keep = np.sort(rng.choice(n, sample_cap, replace=False))
    grid = np.linspace(0, 1, n_points)
    alpha = (1 - confidence) / 2
    boot_curves = {name: np.empty((n_boot, n_points)) for name in arrays}
    boot_coefs = {name: np.empty(n_boot) for name in arrays}
    for b in range(n_boot):
        sample = rng.choice(keep, len(keep), replace=True)
        for name, values in arrays.items():
            t_o, y_o = _ordered(values[sample], treated[sample], outcome[sample], seed + b)
            boot_curves[name][b] = _curve_on_grid(t_o, y_o, grid)[0]
            boot_coefs[name][b] = qini_coefficient(
                values[sample], treated[sample], outcome[sample], seed + b
            )["qini"]
    curve_rows, coef_rows = [], []
    for name, values in arrays.items():
        point = qini_curve(values[keep], treated[keep], outcome[keep], n_points, seed)
        curve_rows.append(
            pd.DataFrame(
                {
                    "score": name,
                    "fraction": grid,
                    "qini": point["qini"].to_numpy(),
                    "lower": np.quantile(boot_curves[name], alpha, axis=0),
                    "upper": np.quantile(boot_curves[name], 1 - alpha, axis=0),
                }
            )
        )
        row = {
            "score": name,
            "qini": qini_coefficient(values[keep], treated[keep], outcome[keep], seed)["qini"],
            "lower": float(np.quantile(boot_coefs[name], alpha)),
            "upper": float(np.quantile(boot_coefs[name], 1 - alpha)),
            "beats_random_share": float((boot_coefs[name] > 0).mean()),
        }
        for other in arrays:
            if other != name:
                row[f"beats_{other}"] = float((boot_coefs[name] > boot_coefs[other]).mean())
        coef_rows.append(row)
    return pd.concat(curve_rows, ignore_index=True), pd.DataFrame(coef_rows)


def uplift_by_decile(score, treated, outcome, n_bins: int = 10, seed: int = 0) -> pd.DataFrame:
    """Observed effect in each score decile (decile 1 = highest predicted uplift).

    A good model shows observed uplift falling from decile 1 to 10 and close to the
    predicted mean; a flat profile means the score does not separate persuadables.

    Returns
    -------
    DataFrame: ``decile``, ``customers``, ``n_treated``, ``n_control``, ``outcome_treated``,
    ``outcome_control``, ``observed_uplift``, ``predicted_uplift``.
    """
    score = np.asarray(score, dtype=float)
    treated = np.asarray(treated, dtype=bool)
    outcome = np.asarray(outcome, dtype=float)
    shuffle = np.random.default_rng(seed).permutation(len(score))
    rank = np.empty(len(score), dtype=np.int64)
    rank[shuffle[np.argsort(-score[shuffle], kind="stable")]] = np.arange(len(score))
    decile = rank * n_bins // len(score) + 1
    frame = pd.DataFrame(
        {
            "decile": decile,
            "treated": treated,
            "y_t": np.where(treated, outcome, np.nan),
            "y_c": np.where(treated, np.nan, outcome),
            "score": score,
        }
    )
    table = frame.groupby("decile").agg(
        customers=("score", "size"),
        n_treated=("treated", "sum"),
        outcome_treated=("y_t", "mean"),
        outcome_control=("y_c", "mean"),
        predicted_uplift=("score", "mean"),
    )
    table["n_control"] = table["customers"] - table["n_treated"]
    table["observed_uplift"] = table["outcome_treated"] - table["outcome_control"]
    columns = [
        "customers",
        "n_treated",
        "n_control",
        "outcome_treated",
        "outcome_control",
        "observed_uplift",
        "predicted_uplift",
    ]
    return table[columns].reset_index()


# ----------------------------------------------------------------------------- who gets money
def response_types(p_control, p_treated) -> pd.DataFrame:
    """Expected share of each response type per customer from predicted stay probabilities.

    With P(stay) ``p0`` without and ``p1`` with the offer: persuadables ``max(p1 - p0, 0)``
    (stay only because of the offer), sleeping dogs ``max(p0 - p1, 0)`` (leave because they
    were contacted), sure things ``min(p0, p1)`` (stay either way), lost causes
    ``1 - max(p0, p1)`` (leave either way). The four add up to one for every customer.
    """
    p0 = np.clip(np.asarray(p_control, dtype=float), 0, 1)
    p1 = np.clip(np.asarray(p_treated, dtype=float), 0, 1)
    return pd.DataFrame(
        {
            "persuadable": np.maximum(p1 - p0, 0),
            "sure_thing": np.minimum(p0, p1),
            "lost_cause": 1 - np.maximum(p0, p1),
            "sleeping_dog": np.maximum(p0 - p1, 0),
        }
    )


def targeting_mix(
    p_control, p_treated, strategies: dict[str, Sequence[float]], n_contacts: int, seed: int = 0
) -> pd.DataFrame:
    """Where the contacts go: expected response-type mix of the top ``n_contacts`` by each score.

    ``strategies`` maps a name (e.g. ``"uplift"``, ``"risk"``, ``"random"``) to a score
    (higher = contact first). Returns one row per strategy with the expected number of
    persuadables, sure things, lost causes and sleeping dogs among those contacted, and
    ``expected_saved`` = persuadables - sleeping dogs (net customers kept).
    """
    types = response_types(p_control, p_treated)
    rng = np.random.default_rng(seed)
    rows = []
    for name, score in strategies.items():
        score = np.asarray(score, dtype=float)
        shuffle = rng.permutation(len(score))
        top = shuffle[np.argsort(-score[shuffle], kind="stable")][:n_contacts]
        sums = types.iloc[top].sum()
        rows.append(
            {
                "strategy": name,
                "contacts": len(top),
                **sums.to_dict(),
                "expected_saved": sums["persuadable"] - sums["sleeping_dog"],
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- per offer
def _offer_rows(arm, offer: str, control: str = CONTROL) -> np.ndarray:
    arm = np.asarray(pd.Series(arm).astype(str))
    return np.isin(arm, [offer, control])


def qini_table(
    uplift_by_learner: dict[str, pd.DataFrame],
    arm,
    outcome,
    risk=None,
    control: str = CONTROL,
    seed: int = 0,
) -> pd.DataFrame:
    """Qini coefficient and AUUC of each learner's uplift (and of churn risk), per offer.

    Returns
    -------
    DataFrame: ``offer``, ``score`` (learner name or ``"risk"``), ``qini``, ``auuc``.
    """
    arm = np.asarray(pd.Series(arm).astype(str))
    outcome = np.asarray(outcome, dtype=float)
    rows = []
    offers = next(iter(uplift_by_learner.values())).columns
    for offer in offers:
        keep = _offer_rows(arm, offer, control)
        scores = {name: frame[offer].to_numpy() for name, frame in uplift_by_learner.items()}
        if risk is not None:
            scores["risk"] = np.asarray(risk, dtype=float)
        for name, score in scores.items():
            result = qini_coefficient(score[keep], arm[keep] == offer, outcome[keep], seed)
            rows.append(
                {"offer": offer, "score": name, "qini": result["qini"], "auuc": result["auuc"]}
            )
    return pd.DataFrame(rows)


def qini_by_offer(
    uplift: pd.DataFrame,
    arm,
    outcome,
    risk=None,
    n_boot: int = 200,
    sample_cap: int | None = 20000,
    seed: int = 0,
    control: str = CONTROL,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`qini_bootstrap` of the uplift score (and churn risk) for every offer vs control.

    Returns ``(curves, coefficients)`` as :func:`qini_bootstrap`, each with an ``offer`` column.
    """
    arm = np.asarray(pd.Series(arm).astype(str))
    outcome = np.asarray(outcome, dtype=float)
    curves, coefficients = [], []
    for offer in uplift.columns:
        keep = _offer_rows(arm, offer, control)
        scores = {"uplift": uplift[offer].to_numpy()[keep]}
        if risk is not None:
            scores["risk"] = np.asarray(risk, dtype=float)[keep]
        curve, coefficient = qini_bootstrap(
            scores, arm[keep] == offer, outcome[keep], n_boot, sample_cap, seed=seed
        )
        curves.append(curve.assign(offer=offer))
        coefficients.append(coefficient.assign(offer=offer))
    return pd.concat(curves, ignore_index=True), pd.concat(coefficients, ignore_index=True)


def deciles_by_offer(
    uplift: pd.DataFrame, arm, outcome, n_bins: int = 10, seed: int = 0, control: str = CONTROL
) -> pd.DataFrame:
    """:func:`uplift_by_decile` for every offer vs control, with an ``offer`` column."""
    arm = np.asarray(pd.Series(arm).astype(str))
    outcome = np.asarray(outcome, dtype=float)
    tables = []
    for offer in uplift.columns:
        keep = _offer_rows(arm, offer, control)
        table = uplift_by_decile(
            uplift[offer].to_numpy()[keep], arm[keep] == offer, outcome[keep], n_bins, seed
        )
        tables.append(table.assign(offer=offer))
    return pd.concat(tables, ignore_index=True)


def targeting_mix_by_offer(model, risk, share: float = 0.3, seed: int = 0) -> pd.DataFrame:
    """:func:`targeting_mix` of uplift, risk-only and random targeting for each offer.

    ``model`` is a fitted learner (its out-of-fold predicted outcomes give P(stay) with and
    without the offer); the top ``share`` of the campaign customers are contacted.
    """
    rng = np.random.default_rng(seed)
    p_control = model.oof_outcome_[model.control].to_numpy()
    n_contacts = int(round(share * len(p_control)))
    tables = []
    for offer in model.offers_:
        p_offer = model.oof_outcome_[offer].to_numpy()
        strategies = {
            "uplift": model.oof_uplift_[offer].to_numpy(),
            "risk": np.asarray(risk, dtype=float),
            "random": rng.random(len(p_control)),
        }
        mix = targeting_mix(p_control, p_offer, strategies, n_contacts, seed)
        tables.append(mix.assign(offer=offer))
    return pd.concat(tables, ignore_index=True)
