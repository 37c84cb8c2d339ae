"""From scores to action: next best product, reasons in words, RM call lists.

RM time is scarce (客户经理精力有限): each RM gets a short list of the customers most worth a
call, the product to offer, and why the model thinks so.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.config import product_catalogue


def product_values(products: list[str], default: float = 1.0) -> pd.DataFrame:
    """Annual value and catalogue order of each product.

    Values come from the product catalogue's ``annual_value`` (RMB per new holder a year).
    Products not in the catalogue (a flat table's own product names) get ``default`` and
    ``in_catalogue = False``, so they rank by probability alone; their ``order`` follows the
    catalogue's products, in the order given.

    Returns
    -------
    pandas.DataFrame
        ``product``, ``annual_value``, ``order`` (0-based tie-break rank), ``in_catalogue``.
    """

    catalogue = product_catalogue().reset_index(drop=True)
    position = {code: index for index, code in enumerate(catalogue["code"])}
    value = dict(zip(catalogue["code"], catalogue["annual_value"], strict=True))
    rows = []
    for index, product in enumerate(products):
        known = product in position
        rows.append(
            {
                "product": product,
                "annual_value": float(value[product]) if known else float(default),
                "order": position[product] if known else len(catalogue) + index,
                "in_catalogue": known,
            }
        )
    return pd.DataFrame(rows)


def next_best_product(
    scores: pd.DataFrame,
    values: pd.DataFrame | None = None,
    min_probability: float = 0.05,
) -> pd.DataFrame:
    """Each customer's next best product: the highest expected value above a probability floor.

    Expected value = probability x the product's annual value. Products whose probability is
    below ``min_probability`` (or missing: the customer already holds them) are not offered.
    Ties are broken deterministically: higher expected value (compared to the cent), then
    higher probability, then catalogue order (``values.order``).

    Parameters
    ----------
    scores : DataFrame
        Wide scores: ``customer_id`` and ``p_<product>`` columns (``CrossSellModels.predict``).
    values : DataFrame, optional
        ``product``, ``annual_value``, ``order``; default :func:`product_values`.
    min_probability : float, default 0.05
        Probability floor below which a product is not recommended.

    Returns
    -------
    pandas.DataFrame
        One row per customer of ``scores`` in input order: ``customer_id``, ``product`` (None
        when nothing clears the floor), ``probability``, ``annual_value``, ``expected_value``,
        ``candidates`` (number of products above the floor).
    """
    if not 0 <= min_probability <= 1:
        raise ValueError(f"min_probability must be between 0 and 1, not {min_probability}")
    columns = [c for c in scores.columns if c.startswith("p_")]
    if not columns:
        raise ValueError("the scores have no p_<product> columns: nothing to recommend")
    products = [c[2:] for c in columns]
    values = product_values(products) if values is None else values
    missing = [p for p in products if p not in set(values["product"])]
    if missing:
        raise KeyError(f"no annual value for products {missing}")
    values = values.set_index("product").loc[products]
    annual_value = values["annual_value"].to_numpy(dtype=float)
    probability = scores[columns].to_numpy(dtype=float)
    eligible = ~np.isnan(probability) & (probability >= min_probability)
    # Ineligible cells get -inf keys so that any eligible product beats them. Expected values
    # equal to the cent are ties (floating-point noise must not decide an offer).
    expected_key = np.where(eligible, np.round(probability * annual_value[None, :], 2), -np.inf)
    probability_key = np.where(eligible, probability, -np.inf)
    order_key = np.broadcast_to(values["order"].to_numpy()[None, :], probability.shape)
    # lexsort's last key is the primary one: expected value, then probability, then order.
    best = np.lexsort((order_key, -probability_key, -expected_key), axis=-1)[:, 0]
    rows = np.arange(len(scores))
    found = eligible.any(axis=1)
    result = pd.DataFrame(
        {
            "customer_id": scores["customer_id"].to_numpy(),
            "product": np.where(found, np.array(products, dtype=object)[best], None),
            "probability": np.where(found, probability[rows, best], np.nan),
            "annual_value": np.where(found, annual_value[best], np.nan),
        }
    )
    result["expected_value"] = result["probability"] * result["annual_value"]
    result["candidates"] = eligible.sum(axis=1)
    return result


def product_label(code: str, lang: str = "zh") -> str:
    """Catalogue name of a product in ``lang`` (``name_zh``/``name_en``); the code otherwise."""

    return _product_names(lang).get(code, str(code))


@lru_cache(maxsize=4)
def _product_names(lang: str) -> dict:
    catalogue = product_catalogue()
    return {
        code: str(name)
        for code, name in zip(catalogue["code"], catalogue[f"name_{lang}"], strict=True)
    }


def feature_label(feature: str, lang: str = "zh") -> str:
    """Label of an ABT / flat feature: ``ps_feat_<name>``, else a shared label, else the name."""
    catalogue = i18n.catalogue()
    if f"ps_feat_{feature}" in catalogue:
        return i18n.t(f"ps_feat_{feature}", lang)
    if feature.startswith("held_"):
        return i18n.t("ps_feat_held", lang, product=product_label(feature[5:], lang))
    return i18n.t(feature, lang) if feature in catalogue else feature


def _format_value(value: object, lang: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, bool | np.bool_):
        return i18n.t("yes" if value else "no", lang)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        if number.is_integer() or abs(number) >= 100:
            return f"{number:,.0f}"
        return f"{number:,.2f}"
    return str(value)


def reasons_in_words(
    contributions: pd.DataFrame,
    values: pd.DataFrame,
    lang: str = "zh",
    top: int = 3,
    min_contribution: float = 0.05,
    separator: str | None = None,
) -> pd.Series:
    """The features that most raise each customer's score, as a short sentence.

    Parameters
    ----------
    contributions : DataFrame
        Per-customer feature contributions (``CrossSellModels.contributions``); positive
        raises the score.
    values : DataFrame
        The customers' feature values (same index), shown next to each feature name.
    lang : {"zh", "en"}
        Language of the feature labels (``helpers.i18n``; unknown features show their name).
    top : int, default 3
        At most this many reasons.
    min_contribution : float, default 0.05
        Only features that raise the score by more than this (log-odds) count as reasons,
        so that noise-sized effects are not read out to the customer's RM.

    Returns
    -------
    pandas.Series of str
        e.g. ``"代发工资: 是; 资产余额(AUM): 523,000"``; empty when nothing raises the score.
    """
    separator = separator if separator is not None else ("；" if lang == "zh" else "; ")
    matrix = contributions.to_numpy(dtype=float)
    names = list(contributions.columns)
    # Stable descending order per row; ties keep column order.
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :top]
    # Labels once per feature and values by position: a call list holds 100,000+ customers
    # at a bank's size, and per-cell lookups cost a minute there.
    labels = [feature_label(feature, lang) for feature in names]
    positions = values.index.get_indexer(contributions.index)
    if (positions < 0).any():
        raise KeyError("values lacks rows of contributions (they must share an index)")
    columns_of = [values[f].array if f in values.columns else None for f in names]
    texts = []
    for row, columns in enumerate(order):
        parts = []
        for column in columns:
            if not matrix[row, column] > min_contribution:
                continue
            array = columns_of[column]
            value = None if array is None else array[positions[row]]
            parts.append(f"{labels[column]}: {_format_value(value, lang)}")
        texts.append(separator.join(parts))
    return pd.Series(texts, index=contributions.index, dtype=object)


def call_lists(
    recommendations: pd.DataFrame,
    customers: pd.DataFrame,
    capacity: int = 20,
    rm_column: str = "rm_id",
) -> pd.DataFrame:
    """Per RM, the ``capacity`` customers with the highest expected value of their next best product.

    Customers without a recommendation are left out. When ``customers`` has no RM column (a
    flat table) everybody is in one pool, with ``rm_id`` None, and the list holds the top
    ``capacity`` customers overall. Customers whose RM is missing (mass customers served by
    the remote team) are pooled under ``rm_id`` None as well. Order within an RM: expected
    value, then probability (both descending), then customer id.

    Parameters
    ----------
    recommendations : DataFrame
        :func:`next_best_product` output (plus any extra columns, e.g. ``reason``).
    customers : DataFrame
        ``customer_id`` and whatever should appear on the list (``rm_id``, ``name``,
        ``mobile``, ``tier``...).
    capacity : int, default 20
        Calls per RM in the period.

    Returns
    -------
    pandas.DataFrame
        ``rm_id``, ``rank`` (1 = call first), then the recommendation and customer columns.
    """
    if capacity < 1:
        raise ValueError(f"capacity must be at least 1 call per RM, not {capacity}")
    offered = recommendations[recommendations["product"].notna()].copy()
    extra = customers.copy()
    extra["customer_id"] = extra["customer_id"].astype(str)
    offered["customer_id"] = offered["customer_id"].astype(str)
    if rm_column not in extra.columns:
        extra[rm_column] = None
    keep = [c for c in extra.columns if c not in offered.columns or c == "customer_id"]
    merged = offered.merge(extra[keep], on="customer_id", how="left", validate="one_to_one")
    merged = merged.rename(columns={rm_column: "rm_id"})
    merged = merged.sort_values(
        ["expected_value", "probability", "customer_id"],
        ascending=[False, False, True],
        kind="stable",
    )
    pool = merged["rm_id"].astype("object").where(merged["rm_id"].notna(), "")
    merged["rank"] = merged.groupby(pool, sort=False).cumcount() + 1
    merged = merged[merged["rank"] <= capacity]
    # Named RMs first (by id), the unassigned pool last.
    merged = merged.assign(_unassigned=pool[merged.index] == "", _pool=pool[merged.index])
    merged = merged.sort_values(["_unassigned", "_pool", "rank"], kind="stable")
    first = ["rm_id", "rank", "customer_id"]
    ordered = first + [c for c in merged.columns if c not in first and not c.startswith("_")]
    return merged[ordered].reset_index(drop=True)


def scores_long(scores: pd.DataFrame) -> pd.DataFrame:
    """:meth:`CrossSellModels.predict`'s wide scores as a long table ``customer_id``,
    ``product``, ``probability`` (rows only where the customer is eligible)."""
    long = scores.melt(id_vars="customer_id", var_name="product", value_name="probability")
    long["product"] = long["product"].str.slice(2)
    return long.dropna(subset=["probability"]).reset_index(drop=True)
