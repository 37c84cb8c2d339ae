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

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from helpers.features import stratified_rows
from helpers.retention.ab import CONTROL

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
        n_threads: int | None = None,
        fit_cap: int | None = None,
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
        self.fit_cap = fit_cap
        self._outcome_store: dict | None = None  # during fit(): outcome models by customers

    def fit(self, X, arm, y, outcome_models: dict | None = None):
        """Cross-fit the models on campaign customers.

        Parameters
        ----------
        X : DataFrame or array, features measured before the campaign (see
            :func:`feature_matrix`).
        arm : ``"control"`` or the offer name, per customer.
        y : outcome per customer (retained 0/1, or AUM kept).
        outcome_models : dict, optional
            A store shared by learners fitted on the *same* ``X``, ``arm`` and ``y``: an outcome
            model fitted on the same customers with the same estimator and seed is fitted once
            and shared (the T-, X- and DR-learners fit the same per-arm models in each fold).
            Without it the learner keeps its own for this fit (the DR-learner's nested fits
            repeat models across offers and, uncapped, across folds).

        Returns
        -------
        self
        """
        self._outcome_store = {} if outcome_models is None else outcome_models
        # OpenMP threads: several notebooks share two cores in the batch, and oversubscribed
        # gradient boosting runs 10-30x slower (FIELD-NOTES). By default the process's own
        # setting holds: in a batch the runner's budget (cores // kernels running, applied
        # before each cell), in JupyterLab every core. Results do not depend on it.
        try:
            with threadpool_limits(limits=self.n_threads, user_api="openmp"):
                self._fit(X, arm, y)
                return self._level_folds(X)
        finally:
            self._outcome_store = None

    def _fit_outcome(self, features, target, rows):
        """The outcome model fitted on ``rows``, from the fit's store when it has it."""
        store = self._outcome_store if self._outcome_store is not None else {}
        estimator = "default" if self.estimator is None else id(self.estimator)
        rows_key = hashlib.sha256(np.ascontiguousarray(rows, dtype=np.int64)).hexdigest()
        key = (self.outcome, self.seed, estimator, rows_key)
        if key not in store:
            store[key] = self._outcome_model().fit(features[rows], target[rows])
        return store[key]

    def _level_folds(self, X):
        """Put every fold's out-of-fold uplift on the same level.

        Each fold is scored by models fitted without it, so a fold whose customers happened to
        respond well is scored by models that saw the *other*, worse-responding folds: their
        whole prediction sits lower. Pooled across folds, that shift ranks customers against
        their own luck and biases the Qini down (on generated noise outcomes about -0.003, the
        size of a real model's signal). Each fold model's level is measured on the *same*
        customers (all of them), and its excess over the folds' average level is removed from
        the fold it scored: the shift goes, the differences between customers stay.
        """
        features = X.to_numpy(dtype=float) if isinstance(X, pd.DataFrame) else np.asarray(X, float)
        # A level is a mean: past the fit cap it is measured on a seeded sample of that many
        # customers (its error is about 1e-4 of a prediction's spread at 100,000).
        if self.fit_cap is not None and len(features) > self.fit_cap:
            sample = np.random.default_rng(self.seed).choice(len(features), self.fit_cap, False)
            features = features[np.sort(sample)]
        levels = np.stack([self._predict_fold(models, features, self.offers_).mean(axis=0)
                           for models in self.models_])  # fmt: skip
        shift = levels - levels.mean(axis=0)
        self.fold_shift_ = pd.DataFrame(shift, columns=self.offers_)
        self.oof_uplift_ = self.oof_uplift_ - shift[self.folds_]
        offers = self.oof_uplift_.add(self.oof_outcome_[self.control], axis=0)
        self.oof_outcome_ = pd.concat([self.oof_outcome_[[self.control]], offers], axis=1)
        return self

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
        splits = list(folds.split(features, arms))
        self.folds_ = np.empty(len(target), dtype=np.int64)
        for k, (_, test) in enumerate(splits):
            self.folds_[test] = k
        # At a bank's size each fold's models are fitted on at most ``fit_cap`` of its training
        # customers (arms and, for retention, outcomes keep their shares; nobody twice); every
        # customer is still scored out of fold.
        strata = (
            np.char.add(arms.astype(str), target.astype(str)) if self.outcome == "binary" else arms
        )
        # as whole numbers in the strata's sorted order: the same draw, without comparing text
        strata = np.unique(strata, return_inverse=True)[1].ravel()
        splits = [
            (train[stratified_rows(strata[train], self.fit_cap, self.seed + k)], test)
            for k, (train, test) in enumerate(splits)
        ]
        self.fitted_rows_ = int(max((len(train) for train, _ in splits), default=0))
        return features, arms, target, splits

    def _frame(self, values: np.ndarray, columns: list[str], index=None) -> pd.DataFrame:
        return pd.DataFrame(values, columns=columns, index=self.index_ if index is None else index)

    def predict(self, X, offers: list[str] | None = None) -> pd.DataFrame:
        """Uplift per offer for new customers: the average of the fold models' predictions.

        ``offers``: only these offers' columns (default every offer); the models of the
        others are not evaluated (at a million candidates each costs seconds).
        """
        offers = list(self.offers_) if offers is None else list(offers)
        unknown = sorted(set(offers) - set(self.offers_))
        if unknown:
            raise ValueError(f"offers {unknown} were not in the campaign; it had {self.offers_}")
        features = X.to_numpy(dtype=float) if isinstance(X, pd.DataFrame) else np.asarray(X, float)
        index = X.index if isinstance(X, pd.DataFrame) else None
        total = np.zeros((len(features), len(offers)))
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            for fold_models in self.models_:
                total += self._predict_fold(fold_models, features, offers)
        return self._frame(total / len(self.models_), offers, index)


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
    n_threads : OpenMP threads for the fits; None (default) keeps the process's setting: in a
        batch the runner's thread budget (one per kernel while notebooks run side by side,
        more for a kernel left running alone), interactively every core.
    fit_cap : most training customers per fold the models are fitted on (a sample stratified
        by arm and outcome, without repeats; None = all); every customer is scored out of fold.

    Attributes
    ----------
    offers_ : offer arms, sorted.
    fitted_rows_ : the most customers a fold's models were fitted on.
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
                model = self._fit_outcome(features, target, rows)
                outcomes[test, j] = _predict(model, features[test])
                fold_models[name] = model
            self.models_.append(fold_models)
        self.oof_outcome_ = self._frame(outcomes, self.arms_)
        self.oof_uplift_ = self.oof_outcome_[self.offers_].sub(
            self.oof_outcome_[self.control], axis=0
        )
        return self

    def _predict_fold(self, fold_models, features, offers) -> np.ndarray:
        base = _predict(fold_models[self.control], features)
        return np.column_stack([_predict(fold_models[o], features) - base for o in offers])


class _EffectModelled(_CrossFitted):
    """A cross-fitted learner with a second-stage regressor for effects (X- and DR-learner)."""

    def __init__(
        self, outcome: str = "binary", estimator=None, effect_estimator=None, **options
    ) -> None:
        """``options``: the keyword arguments of :class:`_CrossFitted` (``n_folds``, ``seed``,
        ``control``, ``n_threads``, ``fit_cap``)."""
        super().__init__(outcome, estimator, **options)
        self.effect_estimator = effect_estimator

    def _effect_model(self):
        if self.effect_estimator is not None:
            return clone(self.effect_estimator)
        return default_regressor(self.seed)


class XLearner(_EffectModelled):
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
            mu_control = self._fit_outcome(features, target, control_rows)
            base[test] = _predict(mu_control, features[test])
            fold_models = {self.control: mu_control}
            for j, offer in enumerate(self.offers_):
                offer_rows = train[arms[train] == offer]
                mu_offer = self._fit_outcome(features, target, offer_rows)
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

    def _predict_fold(self, fold_models, features, offers) -> np.ndarray:
        return np.column_stack([self._combine(o, *fold_models[o], features) for o in offers])


class DRLearner(_EffectModelled):
    """Doubly robust (DR-)learner (Kennedy 2023): regress a doubly robust pseudo-outcome.

    For each offer o against control, with the randomisation share ``e`` of offer customers:
    ``phi = mu_o(x) - mu_0(x) + T (y - mu_o(x)) / e - (1 - T) (y - mu_0(x)) / (1 - e)``, whose
    mean given x is the uplift even where an outcome model is wrong (e is known: the campaign
    was randomised); an effect regressor on ``phi`` gives the uplift. Cross-fitting is nested,
    so no prediction ever used its own customer's outcome: for held-out fold k, the pseudo-
    outcomes of every other fold j come from outcome models fitted on the folds other than j
    and k, and the effect model fitted on them predicts fold k.

    Parameters
    ----------
    effect_estimator : regressor for the pseudo-outcomes; default regularised gradient boosting.
    Other parameters as :class:`TLearner`.

    Attributes
    ----------
    As :class:`TLearner`; ``oof_outcome_`` holds mu_0 (fitted on the other folds) and
    mu_0 + tau_o; ``propensity_`` maps offer -> e.
    """

    def _pseudo_outcomes(self, features, arms, target, rows_by_fold, offer) -> tuple:
        """Pseudo-outcomes of the offer and control rows of the given folds (nested fits).

        An inner fold's control model is trained on the same customers whatever the offer:
        the fit's store (:meth:`_fit_outcome`) gives the one already fitted.
        """
        share = self.propensity_[offer]
        chosen, values = [], []
        for j, rows in enumerate(rows_by_fold):
            others = np.concatenate([r for i, r in enumerate(rows_by_fold) if i != j])
            fitted = {}
            for name in (self.control, offer):
                train = others[arms[others] == name]
                fitted[name] = self._fit_outcome(features, target, train)
            rows = rows[np.isin(arms[rows], [self.control, offer])]
            treated = (arms[rows] == offer).astype(float)
            mu_control = _predict(fitted[self.control], features[rows])
            mu_offer = _predict(fitted[offer], features[rows])
            residual_offer = target[rows] - mu_offer
            residual_control = target[rows] - mu_control
            phi = (
                mu_offer
                - mu_control
                + treated * residual_offer / share
                - (1 - treated) * residual_control / (1 - share)
            )
            chosen.append(rows)
            values.append(phi)
        return np.concatenate(chosen), np.concatenate(values)

    def _fit(self, X, arm, y) -> DRLearner:
        features, arms, target, folds = self._prepare(X, arm, y)
        n = len(target)
        uplift = np.full((n, len(self.offers_)), np.nan)
        base = np.full(n, np.nan)
        self.propensity_ = {
            o: float((arms == o).sum() / ((arms == o).sum() + (arms == self.control).sum()))
            for o in self.offers_
        }
        self.models_ = []
        for k, (train, test) in enumerate(folds):
            control_rows = train[arms[train] == self.control]
            mu_control = self._fit_outcome(features, target, control_rows)
            base[test] = _predict(mu_control, features[test])
            fold_models = {self.control: mu_control}
            # the fold's (capped) training customers, split by the fold they belong to: without
            # a cap these are exactly the other folds
            others = [train[self.folds_[train] == i] for i in range(len(folds)) if i != k]
            for j, offer in enumerate(self.offers_):
                rows, phi = self._pseudo_outcomes(features, arms, target, others, offer)
                tau = self._effect_model().fit(features[rows], phi)
                fold_models[offer] = tau
                uplift[test, j] = tau.predict(features[test])
            self.models_.append(fold_models)
        self.oof_uplift_ = self._frame(uplift, self.offers_)
        outcomes = np.column_stack([base, base[:, None] + uplift])
        self.oof_outcome_ = self._frame(outcomes, self.arms_)
        return self

    def _predict_fold(self, fold_models, features, offers) -> np.ndarray:
        return np.column_stack([fold_models[o].predict(features) for o in offers])
