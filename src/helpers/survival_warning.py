"""The churn early-warning list (流失预警名单): ranked customers and their risk drivers in words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.survival import _require_columns
from helpers.survival_cox import ChurnCox, covariate_label


# ----------------------------------------------------------------------------- early warning
def drivers_in_words(
    model: ChurnCox, frame: pd.DataFrame, top: int = 3, lang: str = "zh"
) -> pd.Series:
    """Each customer's largest positive contributions ``beta_j (x_j - mean_j)``, in words.

    E.g. "资产余额(对数) 偏低 ×1.8; 代发工资 否 ×1.3": the label, whether the customer is above or
    below average on it (yes / no for a 0/1 factor), and the factor by which it multiplies
    their hazard. Customers with no positive contribution get an empty string.
    """
    contributions = model.contributions(frame)
    values = contributions.to_numpy(float)
    design = model.design(frame)[model.design_columns_]
    above = design.to_numpy(float) > model.cox_._norm_mean[model.design_columns_].to_numpy()
    labels = np.array([covariate_label(c, lang) for c in model.design_columns_], dtype=object)
    high, low = i18n.t("surv_above_average", lang), i18n.t("surv_below_average", lang)
    # 0/1 factors (payroll, one-hot levels) read better as yes / no than as above / below.
    binary = np.array([set(np.unique(design[c])) <= {0.0, 1.0} for c in design.columns])
    yes, no = i18n.t("surv_yes", lang), i18n.t("surv_no", lang)
    order = np.argsort(-values, axis=1)[:, :top]
    pieces = []
    for rank in range(order.shape[1]):
        column = order[:, rank]
        picked = values[np.arange(len(values)), column]
        is_above = above[np.arange(len(values)), column]
        direction = np.where(
            binary[column], np.where(is_above, yes, no), np.where(is_above, high, low)
        )
        text = (
            pd.Series(labels[column])
            + " "
            + direction
            + " ×"
            + pd.Series(np.exp(picked)).map("{:.1f}".format)
        )
        pieces.append(text.where(picked > 0.01, ""))
    joined = pd.concat(pieces, axis=1).agg(lambda row: "; ".join(p for p in row if p), axis=1)
    return pd.Series(joined.to_numpy(), index=frame.index, name="top_drivers")


def early_warning_list(
    scored: pd.DataFrame,
    probability_col: str,
    rm_capacity: int = 20,
    max_customers: int | None = None,
    min_probability: float = 0.0,
) -> pd.DataFrame:
    """Rank customers by churn probability and keep at most ``rm_capacity`` per RM.

    An RM can only call so many customers a month, so the list keeps each RM's riskiest
    ``rm_capacity`` customers (customers without an RM share one pool, "unassigned", with
    the same cap). Without an ``rm_id`` column the cap applies to the whole list.

    Parameters
    ----------
    scored : one row per customer with ``customer_id``, ``probability_col`` and any columns
        to carry (tier, aum, rm_id, name, mobile, top_drivers...).
    probability_col : column with P(churn within h months).
    rm_capacity : customers per RM.
    max_customers : optional overall cap after the per-RM cap.
    min_probability : leave out customers below this probability.

    Returns
    -------
    DataFrame sorted by probability (highest first) with a ``rank`` column (1 = riskiest).
    """
    _require_columns(scored, ["customer_id", probability_col], "early-warning list")
    if rm_capacity < 1:
        raise ValueError(f"rm_capacity must be at least 1, not {rm_capacity}")
    data = scored[scored[probability_col] >= min_probability]
    data = data.sort_values([probability_col, "customer_id"], ascending=[False, True])
    if "rm_id" in data.columns:
        pool = data["rm_id"].astype("string").fillna("unassigned")
        data = data[data.groupby(pool.to_numpy()).cumcount() < rm_capacity]
    else:
        data = data.head(rm_capacity)
    if max_customers is not None:
        data = data.head(max_customers)
    data = data.reset_index(drop=True)
    data.insert(0, "rank", np.arange(1, len(data) + 1))
    return data
