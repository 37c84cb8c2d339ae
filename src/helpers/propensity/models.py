"""Cross-sell propensity (交叉销售): who will take which product next, and why.

The workflow the notebook ``03_cross_sell_propensity`` follows:

1. :func:`propensity_frames` builds the training ABT at ``month - horizon`` (labels known:
   ``took_<product>`` within the horizon) and the scoring ABT at the report month.
2. :class:`CrossSellModels` fits one model per product on customers who did not hold it:
   a cross-validated comparison of a regularised logistic regression and a histogram
   gradient-boosting classifier on a capped sample, the winner refitted once with balanced
   class weights, then calibrated on a held-out calibration fold. A customer-level holdout
   (never used for fitting) gives the honest metrics.
3. :meth:`CrossSellModels.predict` scores the report month; :mod:`helpers.propensity.actions`
   turns scores into a next best product and RM call lists with reasons in words.

Flat mode (one customer table, no history): the ``held_<product>`` flags are the targets and
the other attributes the features ("customers who look like holders"), with a random
customer split. That is a cross-sectional look-alike score, not a take-up forecast, and the
report says so.

Holding and affinity (:mod:`helpers.propensity.affinity`), actions (:mod:`helpers.propensity.actions`)
and frames/features (:mod:`helpers.propensity.frames`) are re-exported here: one import.
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from helpers.propensity.actions import (
    reasons_in_words,
    scores_long,
)
from helpers.propensity.affinity import (
    default_products,
)
from helpers.propensity.evaluation import holdout_metrics
from helpers.propensity.frames import (
    HELD_PREFIX,
    MODEL_NAMES,
    TOOK_PREFIX,
    CalibratedModel,
    choose_model,
    cross_validate_candidate,
    cross_validate_strengths,
    design_matrix,
    feature_columns,
    feature_owner,
    fit_calibrator,
    heavy_tailed_columns,
    make_estimator,
)
from helpers.propensity.scaling import (
    grouped_permutation_importance,
    predict_in_chunks,
    stratified_rows,
    substitution_contributions,
)


# ============================================================================ models
class CrossSellModels:
    """One calibrated propensity model per cross-sell product.

    Parameters
    ----------
    products : list of str, optional
        Product codes; default :func:`default_products` of the training frame.
    candidates : tuple of str, default ("logistic", "hgb")
        Models compared by cross-validation for each product.
    select_by : {"roc_auc", "average_precision"}, default "roc_auc"
        Cross-validated metric that picks the winner (both are reported), with the
        one-standard-error rule of :func:`choose_model` (near-ties go to logistic).
    cv : int, default 3
        Folds of the comparison.
    compare_cap : int, default 20000
        The comparison runs on at most this many training rows (a seeded random sample);
        the winner is then refitted once on all training rows. This keeps the model choice
        affordable at a million customers (FIELD-NOTES: choose on a sample, refit once).
    fit_cap : int or None, default None
        The winner is refitted on at most this many training customers, a stratified sample
        without replacement (buyers and non-buyers keep their shares); None uses every
        training row. The holdout is never sampled. The holdout ROC AUC of a capped fit
        against a fit on all rows at a million customers: ``benchmarks/results/model_quality.md``.
    holdout_share : float, default 0.25
        Share of customers held out for evaluation (same customers for every product).
    calibration : {"sigmoid", "isotonic", "auto"}, default "sigmoid"
        Calibration map, fitted on the winner's out-of-fold scores from the comparison.
        ``sigmoid`` (Platt scaling) is monotone, so it keeps the model's ranking and AUC
        exactly; ``isotonic`` is more flexible but its steps tie customers (it cost about
        0.01 AUC on the public Caravan table); ``auto`` uses isotonic when the comparison rows
        hold at least 1000 buyers.
    min_buyers : int, default 20
        Products with fewer buyers among the training rows get no model (listed in
        ``skipped_``).
    max_categories : int, default 50
        Text columns with more distinct values are not used as features.
    class_weight : {"auto", "balanced", None}, default "auto"
        Class imbalance handling during training. "balanced" weights buyers and non-buyers
        equally, so a rare product still shapes the trees; the calibration map then brings
        the inflated scores back to real probabilities. "auto" uses "balanced" for gradient
        boosting and no weights for the logistic model: for a logistic regression, weighting
        mostly moves the intercept (which calibration re-estimates anyway) and cost about
        0.005 ROC AUC on the public Caravan table (tests/test_propensity_public.py).
    logistic_cs : tuple of float, default (0.003, 0.01, 0.1, 1.0)
        Inverse regularisation strengths tried for the logistic model on the comparison
        folds; the best one represents logistic in the comparison. Strong regularisation
        often wins: ABT features are many and correlated (AUM and its 3/6/12-month averages).
    seed : int, default 0
        Seed of every random step (sampling, splits, boosting).

    Attributes
    ----------
    mode_ : "panel" (targets ``took_<product>``) or "flat" (targets ``held_<product>``).
    products_ : products with a fitted model.
    skipped_ : {product: reason} for products without a model.
    features_ : {product: (numeric, categorical)}.
    comparison_ : DataFrame, one row per product and candidate: its best setting (logistic
        ``C``), cross-validated ROC AUC and average precision (mean and std over the folds),
        rows compared, winner flag.
    chosen_ : {product: model name}.
    models_ : {product: fitted CalibratedModel}: the refitted winner (``.estimator``, a
        scikit-learn Pipeline) and its calibration map (``.calibrator``); ``predict_proba``
        gives calibrated probabilities.
    base_models_ : {product: fitted, uncalibrated Pipeline} (used for reasons).
    calibration_methods_ : {product: "sigmoid" | "isotonic"}.
    holdout_ : DataFrame ``product``, ``customer_id``, ``y``, ``probability`` on the holdout.
    metrics_ : DataFrame per product: holdout customers, buyers, base rate, ROC AUC, average
        precision, Brier score, mean probability, training rows, model, calibration.
    holdout_customers_ : Index of held-out customer ids.
    reference_ : {product: one-row DataFrame of typical feature values (median / mode) of the
        training rows}, the baseline that reasons compare against.
    """

    def __init__(
        self,
        products: list[str] | None = None,
        candidates: tuple[str, ...] = MODEL_NAMES,
        select_by: str = "roc_auc",
        cv: int = 3,
        compare_cap: int = 20000,
        holdout_share: float = 0.25,
        calibration: str = "sigmoid",
        fit_cap: int | None = None,
        min_buyers: int = 20,
        max_categories: int = 50,
        class_weight: str | None = "auto",
        logistic_cs: tuple[float, ...] = (0.003, 0.01, 0.1, 1.0),
        seed: int = 0,
    ) -> None:
        self.products = products
        self.candidates = candidates
        self.select_by = select_by
        self.cv = cv
        self.compare_cap = compare_cap
        self.holdout_share = holdout_share
        self.calibration = calibration
        self.fit_cap = fit_cap
        self.min_buyers = min_buyers
        self.max_categories = max_categories
        self.class_weight = class_weight
        self.logistic_cs = tuple(logistic_cs)
        self.seed = seed

    # ------------------------------------------------------------------ helpers
    def _check_parameters(self) -> None:
        unknown = [name for name in self.candidates if name not in MODEL_NAMES]
        if unknown or not self.candidates:
            raise ValueError(f"candidates must be chosen from {MODEL_NAMES}, got {self.candidates}")
        if self.select_by not in ("roc_auc", "average_precision"):
            raise ValueError(
                f"select_by must be 'roc_auc' or 'average_precision', not {self.select_by!r}"
            )
        if self.calibration not in ("auto", "sigmoid", "isotonic"):
            raise ValueError(
                f"calibration must be 'auto', 'sigmoid' or 'isotonic', not {self.calibration!r}"
            )
        if self.class_weight not in ("auto", "balanced", None):
            raise ValueError(
                f"class_weight must be 'auto', 'balanced' or None, not {self.class_weight!r}"
            )
        if not 0 < self.holdout_share < 1:
            raise ValueError(f"holdout_share must be between 0 and 1, not {self.holdout_share}")
        if self.cv < 2:
            raise ValueError(f"cv must be at least 2, not {self.cv}")

    def _target(self, frame: pd.DataFrame, product: str) -> tuple[pd.Series, pd.Series]:
        """(eligible mask, 0/1 target) for one product."""
        held = frame[f"{HELD_PREFIX}{product}"].fillna(False).astype(bool)
        if self.mode_ == "panel":
            took = frame[f"{TOOK_PREFIX}{product}"]
            eligible = ~held & took.notna()
            target = took.fillna(False).astype(bool).astype(int)
            return eligible, target
        return pd.Series(True, index=frame.index), held.astype(int)

    def _eligible_for_scoring(self, frame: pd.DataFrame, product: str) -> pd.Series:
        if self.mode_ == "panel":
            return ~frame[f"{HELD_PREFIX}{product}"].fillna(False).astype(bool)
        return pd.Series(True, index=frame.index)

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame) -> CrossSellModels:
        """Compare, choose, refit, calibrate and evaluate one model per product.

        Parameters
        ----------
        frame : DataFrame
            Panel: the training ABT (as of ``month - horizon``) with ``held_*`` and
            ``took_*`` columns. Flat: the flat customer table with ``held_*`` flags.

        Returns
        -------
        self
        """
        self._check_parameters()
        if "customer_id" not in frame.columns:
            raise KeyError("the training frame needs a customer_id column")
        products = self.products or default_products(frame)
        if not products:
            raise ValueError(
                "no product holding flags (held_<product> columns) in the data: map the "
                "product flags in the dataset spec to use the propensity models"
            )
        missing = [p for p in products if f"{HELD_PREFIX}{p}" not in frame.columns]
        if missing:
            raise KeyError(f"no held_ column for products {missing}")
        self.mode_ = (
            "panel" if all(f"{TOOK_PREFIX}{p}" in frame.columns for p in products) else "flat"
        )
        frame = frame.reset_index(drop=True)
        customer_ids = frame["customer_id"].astype(str)
        # Holdout drawn on sorted ids so that the same customers are held out whatever the
        # row order of the input.
        rng = np.random.default_rng(self.seed)
        sorted_ids = np.sort(customer_ids.unique())
        holdout_count = int(round(self.holdout_share * len(sorted_ids)))
        holdout_ids = rng.choice(sorted_ids, size=holdout_count, replace=False)
        self.holdout_customers_ = pd.Index(np.sort(holdout_ids), name="customer_id")
        in_holdout = customer_ids.isin(self.holdout_customers_).to_numpy()

        self.products_, self.skipped_, self.features_ = [], {}, {}
        self.chosen_, self.models_, self.base_models_ = {}, {}, {}
        self.calibration_methods_, self.reference_, self._skewed = {}, {}, {}
        self._centre = {}
        comparison_rows, holdout_frames, metric_rows = [], [], []
        converted = {}  # each feature column converted once for all products
        for position, product in enumerate(products):
            eligible, target = self._target(frame, product)
            train_mask = eligible.to_numpy() & ~in_holdout
            holdout_mask = eligible.to_numpy() & in_holdout
            buyers = int(target[train_mask].sum())
            non_buyers = int(train_mask.sum()) - buyers
            if buyers < self.min_buyers or non_buyers < self.min_buyers:
                self.skipped_[product] = (
                    f"{buyers} buyers and {non_buyers} non-buyers among {int(train_mask.sum())} "
                    f"training customers (need at least {self.min_buyers} of each)"
                )
                continue
            numeric, categorical = feature_columns(
                frame, product, self.max_categories, self.mode_, rows=train_mask
            )
            if not numeric and not categorical:
                self.skipped_[product] = "no usable feature columns"
                continue
            x_train = design_matrix(frame, numeric, categorical, converted, rows=train_mask)
            skewed = heavy_tailed_columns(x_train, numeric)
            product_seed = self.seed + 1000 * position
            y_train = target[train_mask].to_numpy()

            # 1. Compare candidates by cross-validation on a capped sample; keep each
            #    candidate's out-of-fold scores, which later calibrate the winner.
            compare_rng = np.random.default_rng(product_seed)
            if len(x_train) > self.compare_cap:
                rows = np.sort(compare_rng.choice(len(x_train), self.compare_cap, replace=False))
            else:
                rows = np.arange(len(x_train))
            x_compare, y_compare = x_train.iloc[rows], y_train[rows]
            folds = list(
                StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=product_seed).split(
                    x_compare, y_compare
                )
            )
            summary, out_of_fold, settings = {}, {}, {}
            for name in self.candidates:
                # Logistic: the regularisation strength is tuned on the same folds (cheap);
                # gradient boosting keeps its fixed, conservative settings.
                options = self.logistic_cs if name == "logistic" else (None,)
                factory = partial(
                    make_estimator,
                    name,
                    numeric,
                    categorical,
                    skewed,
                    product_seed,
                    self.class_weight,
                )
                if name == "logistic":  # preprocessing fitted once per fold for every C
                    results = cross_validate_strengths(
                        factory, options, x_compare, y_compare, folds
                    )
                else:
                    results = {None: cross_validate_candidate(factory, x_compare, y_compare, folds)}
                best = None
                for strength in options:
                    result = results[strength]
                    if best is None or result[self.select_by][0] > best[self.select_by][0]:
                        best, settings[name] = result, strength
                out_of_fold[name] = best.pop("scores")
                summary[name] = best
                comparison_rows.append(
                    {
                        "product": product,
                        "model": name,
                        "setting": "" if settings[name] is None else f"C={settings[name]:g}",
                        "roc_auc_mean": best["roc_auc"][0],
                        "roc_auc_std": best["roc_auc"][1],
                        "average_precision_mean": best["average_precision"][0],
                        "average_precision_std": best["average_precision"][1],
                        "rows_compared": len(rows),
                    }
                )
            winner = choose_model(summary, self.candidates, self.select_by, self.cv)

            # 2. Calibrate on the winner's out-of-fold scores, then refit it once on every
            #    training row (no rows are lost to a separate calibration fold).
            method = self.calibration
            if method == "auto":
                method = "isotonic" if int(y_compare.sum()) >= 1000 else "sigmoid"
            calibrator = fit_calibrator(out_of_fold[winner], y_compare, method)
            base = make_estimator(
                winner,
                numeric,
                categorical,
                skewed,
                product_seed,
                self.class_weight,
                settings[winner],
            )
            fit_rows = stratified_rows(y_train, self.fit_cap, product_seed + 1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=UserWarning)
                base.fit(x_train.iloc[fit_rows], y_train[fit_rows])
            calibrated = CalibratedModel(base, calibrator)

            # 3. Evaluate on the untouched holdout.
            x_holdout = design_matrix(frame, numeric, categorical, converted, rows=holdout_mask)
            y_holdout = target[holdout_mask].to_numpy()
            probability = predict_in_chunks(
                lambda part, model=calibrated: model.predict_proba(part)[:, 1], x_holdout
            )
            holdout_frames.append(
                pd.DataFrame(
                    {
                        "product": product,
                        "customer_id": customer_ids[holdout_mask].to_numpy(),
                        "y": y_holdout,
                        "probability": probability,
                    }
                )
            )
            metrics = (
                holdout_metrics(y_holdout, probability) if len(y_holdout) else {"customers": 0}
            )
            metric_rows.append(
                {
                    "product": product,
                    **metrics,
                    "training_rows": len(x_train),
                    "fitted_rows": len(fit_rows),
                    "model": winner,
                    "calibration": method,
                }
            )
            self.products_.append(product)
            self.features_[product] = (numeric, categorical)
            self._skewed[product] = skewed
            self.chosen_[product] = winner
            self.models_[product] = calibrated
            self.base_models_[product] = base
            self.calibration_methods_[product] = method
            reference = {c: float(x_train[c].median()) for c in numeric}
            for column in categorical:
                modes = x_train[column].dropna().mode()
                reference[column] = modes.iloc[0] if len(modes) else np.nan
            self.reference_[product] = pd.DataFrame([reference])[numeric + categorical]
            if winner == "logistic":
                centre_rows = x_train.iloc[:5000]
                self._centre[product] = base.named_steps["prepare"].transform(centre_rows).mean(0)

        self.comparison_ = pd.DataFrame(comparison_rows)
        if len(self.comparison_):
            self.comparison_["chosen"] = [
                self.chosen_.get(p) == m
                for p, m in zip(self.comparison_["product"], self.comparison_["model"], strict=True)
            ]
        self.holdout_ = (
            pd.concat(holdout_frames, ignore_index=True)
            if holdout_frames
            else pd.DataFrame(columns=["product", "customer_id", "y", "probability"])
        )
        self.metrics_ = pd.DataFrame(metric_rows)
        return self

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise RuntimeError("call fit() before using the propensity models")

    def predict(self, frame: pd.DataFrame, exclude_holders: bool = True) -> pd.DataFrame:
        """Calibrated probabilities for every customer and product.

        Parameters
        ----------
        frame : DataFrame
            Scoring frame (panel: the ABT at the report month; flat: the flat table).
        exclude_holders : bool, default True
            NaN for customers who already hold the product: nobody is offered what they
            have. Panel models never score holders; in flat mode ``False`` scores everyone
            (the look-alike score of holders is what the holdout evaluation uses).

        Returns
        -------
        pandas.DataFrame
            ``customer_id`` and one column ``p_<product>`` per fitted product: the
            probability of taking it within the horizon (panel) or of looking like a holder
            (flat).
        """
        self._check_fitted()
        frame = frame.reset_index(drop=True)
        result = pd.DataFrame({"customer_id": frame["customer_id"].astype(str)})
        # One design matrix for every product's features (converting the columns is a good
        # part of scoring a million customers); each model takes its own columns from it.
        all_numeric = list(dict.fromkeys(c for p in self.products_ for c in self.features_[p][0]))
        all_categorical = list(
            dict.fromkeys(c for p in self.products_ for c in self.features_[p][1])
        )
        full = design_matrix(frame, all_numeric, all_categorical)
        for product in self.products_:
            numeric, categorical = self.features_[product]
            eligible = self._eligible_for_scoring(frame, product).to_numpy()
            if exclude_holders:
                eligible &= ~frame[f"{HELD_PREFIX}{product}"].fillna(False).astype(bool).to_numpy()
            probability = np.full(len(frame), np.nan)
            if eligible.any():
                model = self.models_[product]
                probability[eligible] = predict_in_chunks(
                    lambda part, model=model: model.predict_proba(part)[:, 1],
                    full.loc[eligible, numeric + categorical],
                )
            result[f"p_{product}"] = probability
        return result

    def predict_long(self, frame: pd.DataFrame) -> pd.DataFrame:
        """:meth:`predict` as a long table ``customer_id``, ``product``, ``probability``
        (rows only where the customer is eligible)."""
        return scores_long(self.predict(frame))

    # ------------------------------------------------------------------ explanations
    def permutation_importances(
        self,
        frame: pd.DataFrame,
        products: list[str] | None = None,
        n_repeats: int = 5,
        cap: int = 5000,
        scoring: str = "roc_auc",
    ) -> pd.DataFrame:
        """Permutation importance of each feature on the holdout, per product.

        The drop in holdout ``scoring`` when one feature's values are shuffled, averaged over
        ``n_repeats`` shuffles, on at most ``cap`` held-out customers (a seeded sample).

        Parameters
        ----------
        frame : DataFrame
            The same training frame given to :meth:`fit` (the holdout rows are taken from it).

        Returns
        -------
        pandas.DataFrame
            ``product``, ``feature``, ``importance_mean``, ``importance_std``, ``rank``
            (1 = most important within the product).
        """
        self._check_fitted()
        frame = frame.reset_index(drop=True)
        in_holdout = frame["customer_id"].astype(str).isin(self.holdout_customers_).to_numpy()
        rows = []
        for position, product in enumerate(products or self.products_):
            numeric, categorical = self.features_[product]
            eligible, target = self._target(frame, product)
            mask = eligible.to_numpy() & in_holdout
            index = np.flatnonzero(mask)
            rng = np.random.default_rng(self.seed + 7 * position)
            if len(index) > cap:
                index = np.sort(rng.choice(index, cap, replace=False))
            y_values = target.to_numpy()[index]
            if len(np.unique(y_values)) < 2:
                continue
            design = design_matrix(frame.iloc[index], numeric, categorical)
            table = grouped_permutation_importance(
                self.models_[product],
                design,
                y_values,
                self._owners(product),
                list(design.columns),
                n_repeats=n_repeats,
                seed=self.seed + position,
                scoring=scoring,
            )
            table.insert(0, "product", product)
            table = table.sort_values(
                ["importance_mean", "feature"], ascending=[False, True], kind="stable"
            )
            table["rank"] = np.arange(1, len(table) + 1)
            rows.append(table)
        if not rows:
            return pd.DataFrame(
                columns=["product", "feature", "importance_mean", "importance_std", "rank"]
            )
        return pd.concat(rows, ignore_index=True)

    def _owners(self, product: str) -> list[str]:
        """For each column the product's preprocessing outputs, the feature it comes from."""
        numeric, categorical = self.features_[product]
        prepare = self.base_models_[product][:-1]
        names = prepare.get_feature_names_out()
        return [feature_owner(str(name), numeric + categorical) for name in names]

    def reasons(
        self, frame: pd.DataFrame, products: pd.Series, lang: str = "zh", top: int = 3
    ) -> pd.Series:
        """Top reasons in words for each customer's own recommended product.

        Parameters
        ----------
        frame : DataFrame
            The customers to explain (e.g. the call list rows of the scoring frame); keep it
            small with gradient-boosting models (one prediction per feature per customer).
        products : Series
            Aligned with ``frame``: the product to explain for each row (None = no reason).

        Returns
        -------
        pandas.Series of str, aligned with ``frame`` (see :func:`reasons_in_words`).
        """
        texts = pd.Series("", index=frame.index, dtype=object)
        for product in pd.unique(products.dropna()):
            rows = frame.index[(products == product).to_numpy()]
            if product not in self.models_ or len(rows) == 0:
                continue
            part = frame.loc[rows]
            contributions = self.contributions(part, product)
            texts.loc[rows] = reasons_in_words(contributions, part, lang, top).to_numpy()
        return texts

    def contributions(self, frame: pd.DataFrame, product: str) -> pd.DataFrame:
        """Per-customer feature contributions to one product's score, on the logit scale.

        Logistic model: coefficient x (transformed, standardised value - its training mean),
        summed over a categorical feature's one-hot columns; exactly how much each feature
        moves this customer's log-odds away from the average customer's.
        Gradient boosting: a cheap local proxy: the fall in the model's raw score when the
        feature alone is replaced by its typical value (training median, or most frequent
        category) (partial substitution). It costs one prediction per feature per customer,
        so use it on the call-list set, not on the whole book.

        Returns
        -------
        pandas.DataFrame
            Index aligned with ``frame``, one column per feature; positive = raises the score.
        """
        self._check_fitted()
        if product not in self.models_:
            raise KeyError(f"no fitted model for product {product!r}; fitted: {self.products_}")
        numeric, categorical = self.features_[product]
        features = numeric + categorical
        design = design_matrix(frame, numeric, categorical)
        base = self.base_models_[product]
        if self.chosen_[product] == "logistic":
            prepare, model = base.named_steps["prepare"], base.named_steps["model"]
            # Centre on the average training customer: 0 for standardised columns, the
            # level frequency for one-hot columns.
            weighted = (prepare.transform(design) - self._centre[product]) * model.coef_[0]
            names = prepare.get_feature_names_out()
            owners = [feature_owner(name, features) for name in names]
            # Sum each feature's columns with one matrix product (a pandas groupby over the
            # transposed frame took minutes for the tens of thousands of listed customers).
            membership = np.array([[owner == f for f in features] for owner in owners], float)
            return pd.DataFrame(weighted @ membership, index=frame.index, columns=features)
        contributions = substitution_contributions(
            base, design, self.reference_[product][features], features
        )
        return pd.DataFrame(contributions, index=frame.index, columns=features)
