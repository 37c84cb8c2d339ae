"""The steps of ``03_cross_sell_propensity`` as functions: one call per notebook cell.

The notebook shows, saves and explains; the tables it shows (labelled ``ps_`` columns), the
per-product decile and capture tables (concatenated over products), the RM call list with
reasons, the remarks of this run and its KPI records are built here, so the notebook holds no
pandas pipeline, lambda or KPI dict and never branches on the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers import i18n, privacy
from helpers.formatting import Note, kpi
from helpers.propensity.actions import call_lists, product_label
from helpers.propensity.affinity import also_hold
from helpers.propensity.evaluation import decile_table, top_k_capture
from helpers.propensity.models import CrossSellModels

#: Columns of the RM call list (CSV / Excel), in this order; absent ones are left out (a flat
#: table has no RM, branch, name or mobile).
CALL_LIST_COLUMNS = (
    "rm_id",
    "rank",
    "customer_id",
    "name",
    "mobile",
    "branch_id",
    "tier",
    "aum",
    "product",
    "product_name",
    "probability",
    "expected_value",
    "incremental_value",
    "reason",
)

#: Contact shares of the capture table: the top 5%, 10%, 20% and 30% of customers by score.
CAPTURE_SHARES = (0.05, 0.1, 0.2, 0.3)


def _named(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Product codes as catalogue names and model codes as model names, where present."""
    frame = frame.copy()
    if "product" in frame.columns:
        frame["product"] = frame["product"].map(lambda code: product_label(code, lang))
    if "model" in frame.columns:
        frame["model"] = frame["model"].map(lambda name: i18n.t(f"ps_model_{name}", lang))
    return frame


def _prefixed(frame: pd.DataFrame, keep: tuple[str, ...] = ("product",)) -> pd.DataFrame:
    """Columns renamed to their ``ps_`` label keys, except ``keep`` (shared label keys)."""
    return frame.rename(columns={c: f"ps_{c}" for c in frame.columns if c not in keep})


# ----------------------------------------------------------------------------- section 1
def mode_note(train_month: str | None, horizon: int, month: str | None) -> Note:
    """How this run's models are built: trained ``horizon`` months back, or look-alike (flat).

    ``train_month`` is None in flat mode (see :func:`helpers.propensity.propensity_frames`).
    """
    if train_month is None:
        return Note("ps_mode_flat")
    return Note("ps_mode_panel", train_month=train_month, horizon=horizon, month=month)


# ----------------------------------------------------------------------------- section 3
def partner_table(
    affinity: pd.DataFrame, lang: str = "zh", top: int = 2, min_support: float = 0.01
) -> pd.DataFrame:
    """The "customers like this also hold" table (:func:`also_hold`) for display.

    Product names instead of codes; every column renamed to its ``ps_`` label key.
    """
    partners = also_hold(affinity, top=top, min_support=min_support)
    for column in ("antecedent", "consequent"):
        partners[column] = partners[column].map(lambda code: product_label(code, lang))
    return _prefixed(partners, keep=())


# ----------------------------------------------------------------------------- section 4
def fit_models(
    train: pd.DataFrame,
    compare_cap: int = 20000,
    holdout_share: float = 0.25,
    seed: int = 0,
    lang: str = "zh",
    fit_cap: int | None = None,
) -> CrossSellModels:
    """Fit :class:`CrossSellModels` on the training frame; fail clearly when nothing is modelled.

    Raises
    ------
    ValueError
        When no product has enough buyers (and non-buyers) for a model; the message names
        each product's reason.
    """
    models = CrossSellModels(
        compare_cap=compare_cap, holdout_share=holdout_share, seed=seed, fit_cap=fit_cap
    ).fit(train)
    if not models.products_:
        raise ValueError(i18n.t("ps_no_models", lang) + " " + str(models.skipped_))
    return models


def comparison_table(models: CrossSellModels, lang: str = "zh") -> pd.DataFrame:
    """The cross-validated model comparison for display (names, ``ps_`` columns)."""
    return _prefixed(_named(models.comparison_, lang))


def skipped_table(models: CrossSellModels, lang: str = "zh") -> pd.DataFrame | None:
    """Products without a model and why; None (nothing to show) when every product has one."""
    if not models.skipped_:
        return None
    skipped = pd.DataFrame(
        {"product": list(models.skipped_), "ps_skip_reason": list(models.skipped_.values())}
    )
    return _named(skipped, lang)


# ----------------------------------------------------------------------------- section 5
def metrics_table(models: CrossSellModels, lang: str = "zh") -> pd.DataFrame:
    """Holdout metrics per product for display (names, ``ps_`` columns)."""
    columns = [
        "product",
        "model",
        "customers",
        "buyers",
        "base_rate",
        "roc_auc",
        "average_precision",
        "brier",
        "mean_probability",
        "training_rows",
        "fitted_rows",
    ]
    columns = [c for c in columns if c in models.metrics_.columns]
    return _prefixed(_named(models.metrics_, lang)[columns], keep=("product", "customers"))


def decile_tables(holdout: pd.DataFrame) -> pd.DataFrame:
    """Every product's holdout decile table (:func:`decile_table`), one below the other.

    Fewer than ten holdout customers give one group per customer. A ``product`` column says
    whose rows they are.
    """
    tables = [
        decile_table(part["y"], part["probability"], bins=min(10, len(part))).assign(
            product=product
        )
        for product, part in holdout.groupby("product", sort=False)
    ]
    return pd.concat(tables, ignore_index=True)


def focus_of(models: CrossSellModels, focus_product: str = "") -> str:
    """The product of the decile table: ``focus_product``, else the one with most buyers."""
    if focus_product:
        return focus_product
    return models.metrics_.sort_values("buyers", ascending=False)["product"].iloc[0]


def focus_table(deciles: pd.DataFrame, focus: str) -> pd.DataFrame:
    """The focus product's decile table for display (``ps_`` columns, no running counts)."""
    table = deciles[deciles["product"] == focus]
    table = table.drop(columns=["product", "cumulative_customers", "cumulative_buyers"])
    return _prefixed(table, keep=("customers",))


def capture_table(
    holdout: pd.DataFrame, lang: str = "zh", shares: tuple[float, ...] = CAPTURE_SHARES
) -> pd.DataFrame:
    """Share of each product's buyers found by calling the top x% (:func:`top_k_capture`).

    One row per product (by name), one column per share, labelled "Top x% contacted".
    """
    capture = pd.concat(
        [
            top_k_capture(part["y"], part["probability"], shares=shares).assign(
                product=product_label(product, lang)
            )
            for product, part in holdout.groupby("product", sort=False)
        ],
        ignore_index=True,
    )
    capture = capture.pivot(index="product", columns="share", values="capture").reset_index()
    label = i18n.t("ps_top_share", lang)
    capture.columns = ["product"] + [
        label.replace("x", format(share * 100, ".0f")) for share in capture.columns[1:]
    ]
    return capture


# ----------------------------------------------------------------------------- section 9
def incremental_value(
    expected_value, call_lift: float = 0.2, horizon: int = 6, flat: bool = False
) -> np.ndarray:
    """What a call adds within the take-up horizon, over the customer's organic take-up.

    The propensity is the chance of taking the product *without* a call (organic take-up,
    which the bank gets anyway), so a call is worth only the take-up it adds: ``call_lift``
    x the probability (a relative lift, assumed until a cross-sell A/B test measures it).
    Value on the same horizon as the probability: a product taken in month m of an
    h-month window earns ``h - m + 1`` months of its annual value, ``(h + 1) / 2`` months on
    average, so ``incremental = call_lift x probability x annual value x (h + 1) / 24``.
    Flat look-alike models forecast no take-up window: NaN.
    """
    values = np.asarray(expected_value, dtype=float)
    if flat:
        return np.full(values.shape, np.nan)
    return float(call_lift) * values * (int(horizon) + 1) / 24.0


def rm_call_list(
    ds,
    score: pd.DataFrame,
    recommendations: pd.DataFrame,
    models: CrossSellModels,
    capacity: int = 20,
    lang: str = "zh",
    call_lift: float = 0.2,
    horizon: int = 6,
) -> pd.DataFrame:
    """The RM call lists (:func:`call_lists`) with reasons in words and product names.

    Names and mobiles come from the ``customers`` table when the data has one (masked only
    when written or shown); the reasons explain each listed customer's own product
    (:meth:`CrossSellModels.reasons`); ``incremental_value`` is what the call adds over organic
    take-up within the ``horizon`` (:func:`incremental_value`). Columns:
    :data:`CALL_LIST_COLUMNS` that exist.
    """
    if ds.has("customers"):
        people = ds.table("customers")[["customer_id", "name", "mobile"]]
    else:
        people = score[["customer_id"]].iloc[:0]
    keep = [c for c in ["customer_id", "rm_id", "branch_id", "tier", "aum"] if c in score.columns]
    who = score[keep].merge(people, on="customer_id", how="left")
    calls = call_lists(recommendations, who, capacity=capacity)
    listed = score.set_index("customer_id").loc[calls["customer_id"]].reset_index()
    calls["reason"] = models.reasons(listed, calls["product"], lang).to_numpy()
    calls["product_name"] = calls["product"].map(lambda code: product_label(code, lang))
    calls["incremental_value"] = incremental_value(
        calls["expected_value"], call_lift, horizon, models.mode_ == "flat"
    )
    return calls[[c for c in CALL_LIST_COLUMNS if c in calls.columns]]


def call_list_preview(calls: pd.DataFrame, rows: int = 20) -> pd.DataFrame:
    """The first ``rows`` of the call lists for the report: PII masked, ``ps_`` columns.

    Always has an ``aum`` column (blank when the data has no balances), so the notebook
    formats the same columns on every dataset.
    """
    shown = privacy.mask_frame(calls.drop(columns="product").head(rows))
    if "aum" not in shown.columns:
        shown.insert(shown.columns.get_loc("product_name"), "aum", float("nan"))
    return shown.rename(
        columns={
            "rank": "ps_call_rank",
            "product_name": "ps_next_best_product",
            "probability": "ps_probability",
            "expected_value": "ps_expected_value",
            "incremental_value": "ps_incremental_value",
            "reason": "ps_reason",
        }
    )


def pipeline_notes(models: CrossSellModels, call_lift: float, horizon: int) -> list[Note]:
    """How the pipeline is valued (incremental, assumed lift, one horizon); flat: nothing."""
    if models.mode_ == "flat":
        return []
    return [Note("ps_call_lift_note", lift=call_lift, horizon=horizon)]


def _pipeline_column(calls: pd.DataFrame) -> str:
    """The value the pipeline sums: incremental over organic (flat: the expected value)."""
    if "incremental_value" in calls.columns and calls["incremental_value"].notna().any():
        return "incremental_value"
    return "expected_value"


def rm_pipeline(calls: pd.DataFrame, lang: str = "zh", top: int = 15) -> pd.DataFrame:
    """Customers listed and pipeline value per RM, the ``top`` RMs by value.

    The pipeline value is what the calls add over organic take-up within the take-up horizon
    (``incremental_value``; a flat look-alike model has none and shows its expected value).
    Customers without an RM are one pool, labelled "no RM assigned".
    """
    pool = calls.assign(rm_id=calls["rm_id"].fillna(i18n.t("ps_unassigned", lang)))
    per_rm = pool.groupby("rm_id", sort=False).agg(
        ps_listed=("customer_id", "size"), ps_pipeline_value=(_pipeline_column(calls), "sum")
    )
    return per_rm.reset_index().sort_values("ps_pipeline_value", ascending=False).head(top)


# ----------------------------------------------------------------------------- section 10
def cross_sell_kpis(
    calls: pd.DataFrame,
    recommendations: pd.DataFrame,
    scores: pd.DataFrame,
    models: CrossSellModels,
) -> list[dict]:
    """The notebook's KPI records (:func:`helpers.formatting.kpi`), read by the summary.

    Pipeline value (what the listed calls add over organic take-up within the take-up horizon,
    :func:`incremental_value`; None for flat look-alike models), customers listed,
    customers with an offer, products modelled, mean holdout AUC, and expected take-ups (the
    sum of every probability; None for flat look-alike models, which forecast nothing).
    """
    flat = models.mode_ == "flat"
    takeups = None if flat else float(scores.filter(like="p_").sum().sum())
    pipeline = None
    if not flat and "incremental_value" in calls.columns:
        pipeline = float(calls["incremental_value"].sum())
    return [
        kpi("pipeline_value", pipeline, "rmb", headline=True),
        kpi("ps_kpi_customers_listed", len(calls), "count", headline=True),
        kpi("ps_kpi_customers_with_offer", int(recommendations["product"].notna().sum())),
        kpi("ps_kpi_products_modelled", len(models.products_)),
        kpi("ps_kpi_mean_auc", float(models.metrics_["roc_auc"].mean()), "ratio", headline=True),
        kpi("ps_kpi_expected_takeups", takeups),
    ]


def metric_records(models: CrossSellModels) -> list[dict]:
    """Rows of ``model_metrics.csv``: each product's candidates with their cross-validated
    ROC AUC (mean over the folds, 95% interval from the Hanley-McNeil standard error at the
    rows compared), the chosen one marked, plus the chosen model's holdout AUC."""
    records = []
    comparison = models.comparison_
    buyers = {}
    if len(models.holdout_):
        buyers = models.holdout_.groupby("product")["y"].agg(["sum", "size"]).to_dict("index")
    for row in comparison.itertuples():
        share = buyers.get(row.product, {"sum": 0, "size": 1})
        positives = max(1, round(row.rows_compared * share["sum"] / max(share["size"], 1)))
        lower, upper = auc_interval(row.roc_auc_mean, positives, row.rows_compared - positives)
        records.append(
            {
                "notebook": "03_cross_sell_propensity", "target": row.product,
                "model": row.model, "chosen": bool(row.chosen), "metric": "roc_auc",
                "value": float(row.roc_auc_mean), "lower": lower, "upper": upper,
                "n": int(row.rows_compared),
            }
        )  # fmt: skip
    for row in models.metrics_.itertuples():
        auc = getattr(row, "roc_auc", float("nan"))
        positives, total = int(getattr(row, "buyers", 0)), int(getattr(row, "customers", 0))
        lower, upper = auc_interval(auc, positives, total - positives)
        records.append(
            {
                "notebook": "03_cross_sell_propensity", "target": row.product,
                "model": row.model, "chosen": True, "metric": "holdout_roc_auc",
                "value": float(auc), "lower": lower, "upper": upper, "n": total,
            }
        )  # fmt: skip
    return records


def auc_interval(auc: float, positives: int, negatives: int, z: float = 1.96):
    """95% interval of an AUC from the Hanley-McNeil (1982) standard error."""
    if positives < 1 or negatives < 1 or auc != auc:
        return float("nan"), float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    ) / (positives * negatives)
    se = max(variance, 0.0) ** 0.5
    return max(0.0, auc - z * se), min(1.0, auc + z * se)


#: A propensity model this good usually means a column restates the product (issue 13 §4).
LEAK_MODEL_AUC = 0.99


def leakage_notes(models: CrossSellModels) -> list[Note]:
    """The leakage guard: a warning per product whose chosen model reaches AUC >= 0.99.

    Such a model usually learns from a column that restates the holding (a charge that is
    the sum of the services held, a count that includes the product)."""
    comparison = models.comparison_
    if not len(comparison):
        return []
    chosen = comparison[comparison["chosen"]]
    leaking = chosen[chosen["roc_auc_mean"] >= LEAK_MODEL_AUC]
    return [
        Note("ps_leak_model", product=row.product, auc=f"{row.roc_auc_mean:.3f}")
        for row in leaking.itertuples()
    ]
