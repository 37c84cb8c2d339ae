"""The steps of ``03_cross_sell_propensity`` as functions: one call per notebook cell.

The notebook shows, saves and explains; the tables it shows (labelled ``ps_`` columns), the
per-product decile and capture tables (concatenated over products), the RM call list with
reasons, the remarks of this run and its KPI records are built here, so the notebook holds no
pandas pipeline, lambda or KPI dict and never branches on the data.
"""

from __future__ import annotations

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
def rm_call_list(
    ds,
    score: pd.DataFrame,
    recommendations: pd.DataFrame,
    models: CrossSellModels,
    capacity: int = 20,
    lang: str = "zh",
) -> pd.DataFrame:
    """The RM call lists (:func:`call_lists`) with reasons in words and product names.

    Names and mobiles come from the ``customers`` table when the data has one (masked only
    when written or shown); the reasons explain each listed customer's own product
    (:meth:`CrossSellModels.reasons`). Columns: :data:`CALL_LIST_COLUMNS` that exist.
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
            "reason": "ps_reason",
        }
    )


def rm_pipeline(calls: pd.DataFrame, lang: str = "zh", top: int = 15) -> pd.DataFrame:
    """Customers listed and pipeline value per RM, the ``top`` RMs by value.

    Customers without an RM are one pool, labelled "no RM assigned".
    """
    pool = calls.assign(rm_id=calls["rm_id"].fillna(i18n.t("ps_unassigned", lang)))
    per_rm = pool.groupby("rm_id", sort=False).agg(
        ps_listed=("customer_id", "size"), ps_pipeline_value=("expected_value", "sum")
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

    Pipeline value (the expected annual value of every listed customer), customers listed,
    customers with an offer, products modelled, mean holdout AUC, and expected take-ups (the
    sum of every probability; None for flat look-alike models, which forecast nothing).
    """
    takeups = None if models.mode_ == "flat" else float(scores.filter(like="p_").sum().sum())
    return [
        kpi("pipeline_value", float(calls["expected_value"].sum()), "rmb", headline=True),
        kpi("ps_kpi_customers_listed", len(calls), "count", headline=True),
        kpi("ps_kpi_customers_with_offer", int(recommendations["product"].notna().sum())),
        kpi("ps_kpi_products_modelled", len(models.products_)),
        kpi("ps_kpi_mean_auc", float(models.metrics_["roc_auc"].mean()), "ratio", headline=True),
        kpi("ps_kpi_expected_takeups", takeups),
    ]
