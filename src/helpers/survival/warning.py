"""The churn early-warning list (流失预警名单): ranked customers and their risk drivers in words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers import i18n, privacy
from helpers.formatting import Note, format_number
from helpers.survival.cox import ChurnCox, covariate_label
from helpers.survival.curves import _require_columns

#: Columns of the saved warning list, in order (those the data have).
WARNING_COLUMNS = (
    "rank",
    "customer_id",
    "name",
    "mobile",
    "rm_id",
    "branch_id",
    "tier",
    "stage",
    "aum",
    "p_churn",
    "churn_score",
    "aum_at_risk",
    "top_drivers",
)
#: Rows of the list shown in the report (the file holds them all).
WARNING_ROWS_SHOWN = 20
_WARNING_LABELS = {
    "rank": "surv_rank",
    "stage": "surv_stage",
    "p_churn": "surv_p_churn",
    "churn_score": "surv_churn_score",
    "aum_at_risk": "surv_aum_at_risk",
    "top_drivers": "surv_top_drivers",
}


# ----------------------------------------------------------------------------- early warning
def drivers_in_words(
    model: ChurnCox, frame: pd.DataFrame, top: int = 3, lang: str = "zh"
) -> pd.Series:
    """Each customer's largest positive contributions ``beta_j (x_j - mean_j)``, in words.

    E.g. "资产余额(对数) 偏低 ×1.8; 代发工资 否 ×1.3": the label, whether the customer is above or
    below average on it (yes / no for a 0/1 factor), and the factor by which it multiplies
    their hazard. Customers with no positive contribution get an empty string.
    """
    if frame.empty:
        return pd.Series([], index=frame.index, name="top_drivers", dtype=object)
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
    min_aum: float = 0.0,
    aum_col: str = "aum",
    rank_by: str | None = None,
) -> pd.DataFrame:
    """Rank customers by churn risk and keep at most ``rm_capacity`` per RM.

    An RM can only call so many customers a month, so the list keeps each RM's riskiest
    ``rm_capacity`` customers (customers without an RM share one pool, "unassigned", with
    the same cap). Without an ``rm_id`` column the cap applies to the whole list.

    Customers whose AUM is below ``min_aum`` are left off before ranking: they are the
    likeliest to "churn" because their money has already gone, so a retention call has
    almost nothing left to save, and they would crowd out customers who still hold assets.
    The order among those kept is by ``rank_by`` (default the probability). Count them with
    :func:`drained_in_words`. Customers with unknown AUM are kept (nothing says they drained).

    Parameters
    ----------
    scored : one row per customer with ``customer_id``, ``probability_col`` and any columns
        to carry (tier, aum, rm_id, name, mobile, top_drivers...).
    probability_col : column with P(churn within h months).
    rm_capacity : customers per RM.
    max_customers : optional overall cap after the per-RM cap.
    min_probability : leave out customers below this probability.
    min_aum : leave out customers whose ``aum_col`` is below this (RMB); 0 keeps everyone.
    aum_col : column with the customer's AUM (needed only when ``min_aum`` is above 0).
    rank_by : column ranking the customers, highest first; default ``probability_col``.
        The report ranks by expected AUM lost (probability x AUM): a manager calls first
        where most money is at stake, not the mass customer with ¥2k and a high probability.

    Returns
    -------
    DataFrame sorted by ``rank_by`` (highest first) with a ``rank`` column (1 = first call).
    """
    _require_columns(scored, ["customer_id", probability_col], "early-warning list")
    if rm_capacity < 1:
        raise ValueError(f"rm_capacity must be at least 1, not {rm_capacity}")
    keep = (scored[probability_col] >= min_probability).to_numpy()
    if min_aum > 0:
        keep &= ~_below_aum_floor(scored, min_aum, aum_col).to_numpy()
    order = rank_by or probability_col
    _require_columns(scored, [order], "early-warning list ranking")
    # Rank on the few columns the order needs and take the listed rows of the whole frame
    # at the end: filtering and sorting all columns copied a million-row frame three times.
    pooled = "rm_id" in scored.columns
    columns = list(dict.fromkeys([order, probability_col, "customer_id"] + ["rm_id"] * pooled))
    data = scored[columns].iloc[np.flatnonzero(keep)]
    data.index = np.flatnonzero(keep)  # positions in ``scored``
    data = data.sort_values([order, probability_col, "customer_id"], ascending=[False, False, True])
    if pooled:
        pool = data["rm_id"].astype("string").fillna("unassigned")
        data = data[data.groupby(pool.to_numpy()).cumcount() < rm_capacity]
    else:
        data = data.head(rm_capacity)
    if max_customers is not None:
        data = data.head(max_customers)
    data = scored.iloc[data.index.to_numpy()].reset_index(drop=True)
    data.insert(0, "rank", np.arange(1, len(data) + 1))
    return data


#: The AUM floor is not applied when it would leave off more than this share of customers:
#: then the value column is not a balance on the floor's scale (a monthly charge, a
#: balance in thousands) and the floor would empty the list.
FLOOR_MAX_SHARE = 0.9


def effective_floor(scored: pd.DataFrame, min_aum: float, aum_col: str = "aum") -> float:
    """``min_aum``, or 0 when the data have no value column or the floor would leave off more
    than :data:`FLOOR_MAX_SHARE` of the customers (see :func:`drained_notes`)."""
    if min_aum <= 0 or aum_col not in scored.columns or not len(scored):
        return 0.0
    if _below_aum_floor(scored, min_aum, aum_col).mean() > FLOOR_MAX_SHARE:
        return 0.0
    return min_aum


def _below_aum_floor(scored: pd.DataFrame, min_aum: float, aum_col: str) -> pd.Series:
    _require_columns(scored, [aum_col], "early-warning list AUM floor")
    aum = pd.to_numeric(scored[aum_col], errors="coerce")
    return (aum < min_aum).fillna(False).astype(bool)


def drained_notes(scored: pd.DataFrame, min_aum: float, aum_col: str = "aum") -> list[Note]:
    """A remark for the RM: how many customers the AUM floor left off the list.

    ``scored`` is the frame the list was built from (every scored customer). The remark
    gives the count and their AUM in all, so the reader sees how little there was to save;
    with ``min_aum`` of 0 or less it says the list has no floor.
    """
    if min_aum <= 0 or aum_col not in scored.columns:
        return [Note("surv_drained_no_floor")]
    if effective_floor(scored, min_aum, aum_col) == 0:
        share = float(_below_aum_floor(scored, min_aum, aum_col).mean())
        return [Note("surv_floor_not_applied", floor=format_number(min_aum), share=f"{share:.0%}")]
    below = _below_aum_floor(scored, min_aum, aum_col)
    count = int(below.sum())
    floor = format_number(min_aum)
    if count == 0:
        return [Note("surv_drained_none", floor=floor)]
    total = float(pd.to_numeric(scored.loc[below, aum_col], errors="coerce").sum())
    return [
        Note(
            "surv_drained_left_off",
            count=format_number(count),
            floor=floor,
            aum=format_number(total),
        )
    ]


def drained_in_words(
    scored: pd.DataFrame, min_aum: float, lang: str = "zh", aum_col: str = "aum"
) -> str:
    """One sentence for the RM: how many customers the AUM floor left off the list."""
    return " ".join(note.text(lang) for note in drained_notes(scored, min_aum, aum_col))


# ----------------------------------------------------------------------------- notebook step
def warning_list(
    ds,
    scored: pd.DataFrame,
    model: ChurnCox,
    per_rm: int = 20,
    size: int | None = 500,
    min_aum: float = 0.0,
    lang: str = "zh",
) -> pd.DataFrame:
    """The churn early-warning list of the report month, ready to save for the RMs.

    ``scored`` holds every customer with ``p_churn`` (and ``aum``, ``tier``, ``stage``...).
    Names and mobiles come from the dataset's ``customers`` table when it has one; the list
    is :func:`early_warning_list` (``per_rm`` customers per RM, ``size`` in all, AUM below
    ``min_aum`` left off, ranked by expected AUM lost ``aum_at_risk`` when the frame has it,
    else by probability) with each listed customer's ``top_drivers`` in words (computed for
    the listed customers only: fast on a million). Columns: :data:`WARNING_COLUMNS` present.
    """
    # Ranked by expected AUM lost (the chosen ranking model's calibrated probability x AUM):
    # a manager calls first where most money is at stake. Without a value column, by the
    # ranking model's score (p_churn when there is none), and there is no AUM floor.
    ranking = "churn_score" if "churn_score" in scored.columns else "p_churn"
    at_risk = "aum_at_risk" in scored.columns and scored["aum_at_risk"].notna().any()
    listed = early_warning_list(
        scored,
        ranking,
        per_rm,
        size,
        min_aum=effective_floor(scored, min_aum),
        rank_by="aum_at_risk" if at_risk else ranking,
    )
    if ds.has("customers"):  # names and mobiles of the listed customers only
        people = ds.table("customers")[["customer_id", "name", "mobile"]]
        listed = listed.merge(people, on="customer_id", how="left")
    listed["top_drivers"] = drivers_in_words(model, listed, 3, lang).to_numpy()
    return listed[[column for column in WARNING_COLUMNS if column in listed.columns]]


def warning_display(listed: pd.DataFrame) -> pd.DataFrame:
    """The first rows of the warning list for the report: PII masked, label-key headers."""
    shown = privacy.mask_frame(listed.head(WARNING_ROWS_SHOWN))
    return shown.rename(columns=_WARNING_LABELS)
