"""Behavioural clustering of customers. Part of :mod:`helpers.tiering`.

Method: log1p for non-negative skewed features (money, counts), 1st/99th percentile clipping
for the others (trends), standard scaling, mini-batch k-means (scales to millions of rows),
number of clusters chosen by the mean silhouette on a seeded, capped sample, then refitted on
everyone. Clusters are renumbered by their centre on the first feature so that "cluster 0"
means the same thing from run to run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

#: Behaviour features used for clustering when the caller names none. Each entry lists
#: alternatives in order of preference (the first present is used), so the panel ABT and a
#: flat table with its own names both work.
DEFAULT_CLUSTER_FEATURES: tuple[tuple[str, ...], ...] = (
    ("aum",),
    ("txn_count_12m", "txn_count_3m"),
    ("txn_recency_days",),
    ("product_count",),
    ("digital_logins_3m", "digital_logins_avg_3m"),
    ("contacts_3m",),
    ("card_spend_3m",),
    ("loan_balance",),
    ("aum_trend_6m",),
)
#: Columns that are ids, dates or outcomes, never behaviour (kept out of automatic clustering).
_NOT_FEATURES = {
    "customer_id", "as_of", "entry", "duration", "event", "duration_months", "outcome",
    "churn_label", "treatment", "tier", "birth_year", "basis_value", "cluster", "steps",
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Behavioural clustering
# --------------------------------------------------------------------------------------------


def cluster_feature_columns(
    frame: pd.DataFrame, features: Sequence[str] | None = None
) -> list[str]:
    """Choose clustering features: the named ones, else the default behaviour features present,
    else (an unfamiliar flat table) every numeric non-id, non-outcome column."""
    if features:
        absent = [column for column in features if column not in frame]
        if absent:
            raise ValueError(
                f"cluster features {absent} are not in the data; it has {list(frame.columns)}"
            )
        return list(features)
    chosen = []
    for alternatives in DEFAULT_CLUSTER_FEATURES:
        present = [column for column in alternatives if column in frame]
        # a constant column (e.g. a trend that is 0 everywhere) carries no behaviour
        if present and frame[present[0]].astype(float).nunique(dropna=True) > 1:
            chosen.append(present[0])
    if len(chosen) >= 3:
        return chosen
    numeric = [
        column
        for column in frame.columns
        if column not in _NOT_FEATURES
        and not column.startswith(("held_", "took_", "score_", "potential_"))
        and pd.api.types.is_numeric_dtype(frame[column])
        and not pd.api.types.is_bool_dtype(frame[column])
        and column not in chosen
    ]
    return chosen + numeric


class BehaviourClusters:
    """Behavioural customer clusters: log/clip + standard scaling, mini-batch k-means, k by silhouette.

    Parameters
    ----------
    features : sequence of str, optional
        Columns to cluster on; default :func:`cluster_feature_columns`.
    k_range : (int, int)
        Smallest and largest number of clusters to try (inclusive).
    sample_cap : int
        Customers (random, seeded) on which each candidate k is fitted and its silhouette
        computed; the chosen k is then refitted on everyone. Keeps the cost flat at 1M rows.
    seed : int
        Random seed for the sample and k-means.
    threads : int or None
        BLAS/OpenMP threads for k-means and the silhouette. Default 1: on a shared 2-core
        machine the default thread pools oversubscribe the cores and were measured 30x slower
        (2.1 s against 0.06 s for one fit on 4,000 rows); None = the libraries' default.

    Attributes
    ----------
    features_ : list of str
    log_columns_ : list of str
        Non-negative (skewed money and count) features, transformed with ``log1p``.
    clip_bounds_ : dict
        1st / 99th percentile bounds for the other features (e.g. AUM trend).
    fill_values_ : Series
        Medians used for missing values.
    scaler_ : sklearn.preprocessing.StandardScaler
    silhouette_ : Series
        Mean silhouette on the sample, indexed by k. The chosen k has the highest value
        (ties: the smaller k).
    k_ : int
    model_ : sklearn.cluster.MiniBatchKMeans
        Refitted on all rows; its labels are renumbered so cluster 0 has the lowest mean of
        the first feature (usually AUM), making numbers stable across runs.
    labels_ : Series
        Cluster of every row of the fitted frame.
    profiles_ : DataFrame
        Per cluster: ``customers``, ``share`` and the median of each feature.
    centers_z_ : DataFrame
        Per cluster, the mean scaled value of each feature (how many standard deviations above
        or below the whole book), the basis of :meth:`describe`.
    """

    def __init__(
        self,
        features: Sequence[str] | None = None,
        k_range: tuple[int, int] = (3, 7),
        sample_cap: int = 20000,
        seed: int = 0,
        threads: int | None = 1,
    ) -> None:
        self.features = features
        self.k_range = k_range
        self.sample_cap = sample_cap
        self.seed = seed
        self.threads = threads

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        data = frame[self.features_].astype(float).fillna(self.fill_values_)
        for column in self.log_columns_:
            data[column] = np.log1p(data[column].clip(lower=0))
        for column, (low, high) in self.clip_bounds_.items():
            data[column] = data[column].clip(low, high)
        return data.to_numpy()

    def fit(self, frame: pd.DataFrame) -> BehaviourClusters:
        """Choose k on a seeded sample, refit on all rows, profile the clusters."""
        # Import scikit-learn first: a thread limit only reaches libraries already loaded.
        import sklearn.cluster  # noqa: F401
        import sklearn.metrics  # noqa: F401
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=self.threads):
            return self._fit(frame)

    def _fit(self, frame: pd.DataFrame) -> BehaviourClusters:
        from sklearn.cluster import MiniBatchKMeans
        from sklearn.metrics import silhouette_score
        from sklearn.preprocessing import StandardScaler

        low, high = self.k_range
        if low < 2 or high < low:
            raise ValueError(
                f"k_range must be (low, high) with 2 <= low <= high, not {self.k_range}"
            )
        if len(frame) <= high:
            raise ValueError(
                f"clustering needs more customers ({len(frame)}) than the largest k ({high})"
            )
        self.features_ = cluster_feature_columns(frame, self.features)
        if len(self.features_) < 2:
            raise ValueError(
                f"clustering needs at least two numeric features; found {self.features_}"
            )
        raw = frame[self.features_].astype(float)
        self.fill_values_ = raw.median().fillna(0.0)
        minimum = raw.min()
        self.log_columns_ = [c for c in self.features_ if minimum[c] >= 0]
        self.clip_bounds_ = {
            c: (float(raw[c].quantile(0.01)), float(raw[c].quantile(0.99)))
            for c in self.features_
            if c not in self.log_columns_
        }
        matrix = self._matrix(frame)
        self.scaler_ = StandardScaler().fit(matrix)
        scaled = self.scaler_.transform(matrix)
        rng = np.random.default_rng(self.seed)
        size = min(self.sample_cap, len(scaled))
        sample = scaled[np.sort(rng.choice(len(scaled), size=size, replace=False))]
        scores = {}
        for k in range(low, high + 1):
            model = MiniBatchKMeans(n_clusters=k, random_state=self.seed, n_init=3, batch_size=2048)
            labels = model.fit_predict(sample)
            scores[k] = (
                float(silhouette_score(sample, labels, random_state=self.seed))
                if len(set(labels)) > 1
                else -1.0
            )
        self.silhouette_ = pd.Series(scores, name="silhouette").rename_axis("k")
        self.k_ = int(self.silhouette_.idxmax())  # idxmax returns the first (smallest) k on ties
        self.model_ = MiniBatchKMeans(
            n_clusters=self.k_, random_state=self.seed, n_init=3, batch_size=2048
        ).fit(scaled)
        # Renumber clusters by the mean scaled first feature of their members (not by the
        # mini-batch centres, which only approximate the members' means) so that numbering
        # follows e.g. AUM from low to high.
        member_means = (
            pd.Series(scaled[:, 0]).groupby(self.model_.labels_).mean().reindex(range(self.k_))
        )
        order = np.argsort(member_means.fillna(np.inf).to_numpy(), kind="stable")
        self.relabel_ = np.empty_like(order)
        self.relabel_[order] = np.arange(len(order))
        self.labels_ = pd.Series(
            self.relabel_[self.model_.labels_], index=frame.index, name="cluster"
        )
        self.centers_z_ = (
            pd.DataFrame(scaled, columns=self.features_, index=frame.index)
            .groupby(self.labels_.to_numpy())
            .mean()
            .rename_axis("cluster")
        )
        medians = raw.groupby(self.labels_.to_numpy()).median()
        counts = self.labels_.value_counts().sort_index()
        self.profiles_ = pd.concat(
            [counts.rename("customers"), (counts / len(frame)).rename("share"), medians], axis=1
        ).rename_axis("cluster")
        return self

    def predict(self, frame: pd.DataFrame) -> pd.Series:
        """Cluster of each row of ``frame`` (same numbering as ``labels_``)."""
        from threadpoolctl import threadpool_limits

        scaled = self.scaler_.transform(self._matrix(frame))
        with threadpool_limits(limits=self.threads):
            labels = self.model_.predict(scaled)
        return pd.Series(self.relabel_[labels], index=frame.index, name="cluster")

    def describe(
        self,
        translate: Callable[[str], str] | None = None,
        lang: str = "zh",
        top: int = 3,
        threshold: float = 0.4,
    ) -> pd.Series:
        """Plain-words profile of each cluster: its most distinctive features, high or low.

        A feature is distinctive when the cluster's mean scaled value is at least
        ``threshold`` standard deviations from the book's; the ``top`` largest are named.

        Parameters
        ----------
        translate : callable, optional
            ``key -> label`` (``ctx.t`` in a notebook). Keys used: ``tiering_feature_<column>``,
            ``tiering_high``, ``tiering_low``, ``tiering_typical``. Default: the raw keys'
            English fallbacks (column names, "high", "low").
        lang : {"zh", "en"}
            Word order: ``资产高`` (label then word) in Chinese, ``high AUM`` in English.
        """

        def fallback(key: str) -> str:
            words = {
                "tiering_high": "high",
                "tiering_low": "low",
                "tiering_typical": "close to average",
            }
            return words.get(key, key.removeprefix("tiering_feature_"))

        translate = translate or fallback
        separator = "、" if lang == "zh" else ", "
        texts = {}
        for cluster, row in self.centers_z_.iterrows():
            strong = row[row.abs() >= threshold].abs().sort_values(ascending=False).index[:top]
            words = []
            for feature in strong:
                word = translate("tiering_high" if row[feature] > 0 else "tiering_low")
                label = translate(f"tiering_feature_{feature}")
                words.append(f"{label}{word}" if lang == "zh" else f"{word} {label}")
            texts[cluster] = separator.join(words) if words else translate("tiering_typical")
        return pd.Series(texts, name="profile").rename_axis("cluster")
