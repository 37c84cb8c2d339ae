"""Evaluation of propensity scores: deciles, lift, cumulative gain, top-k capture, calibration.

All functions take plain arrays (``y_true`` 0/1, ``score`` higher = more likely) and return
pandas DataFrames or dicts, so they work for any scoring model, not only Fishpond's.

Ordering rule used everywhere here: customers are ranked by score, highest first, with a
*stable* sort, so customers with tied scores keep their input order. That makes decile tables
reproducible run to run (an unstable sort could move tied buyers across a decile boundary).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def _as_arrays(y_true, score) -> tuple[np.ndarray, np.ndarray]:
    y_array = np.asarray(y_true, dtype=float)
    score_array = np.asarray(score, dtype=float)
    if y_array.shape != score_array.shape or y_array.ndim != 1:
        raise ValueError(
            f"y_true and score must be 1-D and the same length, got {y_array.shape} and "
            f"{score_array.shape}"
        )
    if len(y_array) == 0:
        raise ValueError("cannot evaluate an empty set of customers")
    if np.isnan(y_array).any() or np.isnan(score_array).any():
        raise ValueError("y_true and score must not contain missing values")
    if not np.isin(y_array, (0.0, 1.0)).all():
        raise ValueError("y_true must be 0/1 (took the product or not)")
    return y_array, score_array


def _ranked(y_true, score) -> np.ndarray:
    """Outcomes sorted by score, highest first; ties keep input order (stable sort)."""
    y_array, score_array = _as_arrays(y_true, score)
    order = np.argsort(-score_array, kind="stable")
    return y_array[order]


def decile_table(y_true, score, bins: int = 10) -> pd.DataFrame:
    """Decile (or any quantile) table of a score, highest scores in decile 1.

    Customers are ranked by score (stable sort) and cut into ``bins`` groups as equal in size
    as possible; when the count does not divide evenly the first groups get one extra
    customer (``numpy.array_split``).

    Parameters
    ----------
    y_true : array-like of 0/1
        Whether the customer took the product.
    score : array-like of float
        Model score or probability.
    bins : int, default 10
        Number of groups.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``decile`` (1 = highest scores), ``customers``, ``buyers``,
        ``rate`` (buyers / customers), ``lift`` (rate / overall rate), ``min_score``,
        ``max_score``, ``cumulative_customers``, ``cumulative_buyers``, ``cumulative_capture``
        (share of all buyers found in this and higher groups) and ``cumulative_lift``.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, not {bins}")
    y_array, score_array = _as_arrays(y_true, score)
    if bins > len(y_array):
        raise ValueError(f"cannot cut {len(y_array)} customers into {bins} groups")
    order = np.argsort(-score_array, kind="stable")
    groups = np.array_split(order, bins)
    total_buyers = y_array.sum()
    overall_rate = total_buyers / len(y_array)
    rows = []
    for number, index in enumerate(groups, start=1):
        rows.append(
            {
                "decile": number,
                "customers": len(index),
                "buyers": int(y_array[index].sum()),
                "min_score": float(score_array[index].min()),
                "max_score": float(score_array[index].max()),
            }
        )
    table = pd.DataFrame(rows)
    table["rate"] = table["buyers"] / table["customers"]
    table["lift"] = table["rate"] / overall_rate if overall_rate > 0 else np.nan
    table["cumulative_customers"] = table["customers"].cumsum()
    table["cumulative_buyers"] = table["buyers"].cumsum()
    table["cumulative_capture"] = (
        table["cumulative_buyers"] / total_buyers if total_buyers > 0 else np.nan
    )
    table["cumulative_lift"] = (
        (table["cumulative_buyers"] / table["cumulative_customers"]) / overall_rate
        if overall_rate > 0
        else np.nan
    )
    return table[
        [
            "decile",
            "customers",
            "buyers",
            "rate",
            "lift",
            "min_score",
            "max_score",
            "cumulative_customers",
            "cumulative_buyers",
            "cumulative_capture",
            "cumulative_lift",
        ]
    ]


def gain_curve(y_true, score, points: int | None = 100) -> pd.DataFrame:
    """Cumulative gain and lift curve.

    Parameters
    ----------
    y_true, score : array-like
        Outcomes (0/1) and scores.
    points : int or None, default 100
        Number of evenly spaced contact shares to report (plus the origin). ``None`` keeps
        every customer (one row each), which is exact but large.

    Returns
    -------
    pandas.DataFrame
        ``share_contacted`` (0..1), ``share_captured`` (cumulative gain: share of all buyers
        among the top ``share_contacted`` of customers) and ``lift`` (share_captured /
        share_contacted; NaN at the origin).
    """
    ranked = _ranked(y_true, score)
    total = len(ranked)
    captured = np.concatenate([[0.0], np.cumsum(ranked)])
    total_buyers = captured[-1]
    counts = np.arange(total + 1)
    if points is not None:
        # Contacting k customers: round the share to whole customers, as a campaign would.
        counts = np.unique(np.round(np.linspace(0, total, points + 1)).astype(int))
    share_contacted = counts / total
    share_captured = captured[counts] / total_buyers if total_buyers > 0 else np.nan * counts
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = np.where(counts > 0, share_captured / share_contacted, np.nan)
    return pd.DataFrame(
        {"share_contacted": share_contacted, "share_captured": share_captured, "lift": lift}
    )


def top_k_capture(y_true, score, shares=(0.05, 0.1, 0.2, 0.3)) -> pd.DataFrame:
    """Buyers captured by contacting the top share of customers by score.

    The number contacted is ``ceil(share x customers)`` so a small list is never empty.

    Returns
    -------
    pandas.DataFrame
        ``share``, ``contacted``, ``buyers`` (among them), ``capture`` (share of all buyers),
        ``rate`` (buyers / contacted) and ``lift`` (rate / overall rate).
    """
    ranked = _ranked(y_true, score)
    total = len(ranked)
    total_buyers = ranked.sum()
    overall_rate = total_buyers / total
    rows = []
    for share in shares:
        if not 0 < share <= 1:
            raise ValueError(f"shares must be in (0, 1], got {share}")
        contacted = int(np.ceil(share * total - 1e-9))
        buyers = int(ranked[:contacted].sum())
        rate = buyers / contacted
        rows.append(
            {
                "share": share,
                "contacted": contacted,
                "buyers": buyers,
                "capture": buyers / total_buyers if total_buyers > 0 else np.nan,
                "rate": rate,
                "lift": rate / overall_rate if overall_rate > 0 else np.nan,
            }
        )
    return pd.DataFrame(rows)


def holdout_metrics(y_true, probability) -> dict[str, float]:
    """ROC AUC, average precision, Brier score and base rate of calibrated probabilities.

    AUC and AP are NaN when the holdout has only one class (they are undefined then).
    """
    y_array, probability_array = _as_arrays(y_true, probability)
    both_classes = 0 < y_array.sum() < len(y_array)
    return {
        "customers": int(len(y_array)),
        "buyers": int(y_array.sum()),
        "base_rate": float(y_array.mean()),
        "roc_auc": float(roc_auc_score(y_array, probability_array)) if both_classes else np.nan,
        "average_precision": (
            float(average_precision_score(y_array, probability_array)) if both_classes else np.nan
        ),
        "brier": float(brier_score_loss(y_array, probability_array)),
        "mean_probability": float(probability_array.mean()),
    }


def reliability_table(y_true, probability, bins: int = 10) -> pd.DataFrame:
    """Reliability (calibration) table on equal-count bins of predicted probability.

    Returns
    -------
    pandas.DataFrame
        ``bin`` (1 = lowest probabilities), ``customers``, ``mean_predicted`` and
        ``observed_rate``. A calibrated model has the two close in every bin.
    """
    y_array, probability_array = _as_arrays(y_true, probability)
    bins = min(bins, len(y_array))
    order = np.argsort(probability_array, kind="stable")
    rows = []
    for number, index in enumerate(np.array_split(order, bins), start=1):
        rows.append(
            {
                "bin": number,
                "customers": len(index),
                "mean_predicted": float(probability_array[index].mean()),
                "observed_rate": float(y_array[index].mean()),
            }
        )
    return pd.DataFrame(rows)
