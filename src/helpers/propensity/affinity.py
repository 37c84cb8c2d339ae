"""Product holding and affinity (产品持有与关联): who holds what, and what goes together.

Support, confidence and lift of co-holding rules (market-basket style), penetration by tier,
and the "customers like this also hold" table. Works on a panel ABT or a flat table alike: it
only needs the ``held_<product>`` flags.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.config import cross_sell_products, product_catalogue
from helpers.propensity.frames import HELD_PREFIX


def held_products(frame: pd.DataFrame) -> list[str]:
    """Product codes that have a ``held_<code>`` column in ``frame``, in column order."""
    return [
        column[len(HELD_PREFIX) :] for column in frame.columns if column.startswith(HELD_PREFIX)
    ]


def default_products(frame: pd.DataFrame) -> list[str]:
    """Cross-sell products present in ``frame``.

    Panel ABT: the catalogue's cross-sell products (``helpers.config.cross_sell_products``)
    that have a ``held_`` column. Flat table: every ``held_`` flag the spec mapped (their names
    come from the spec, so any flat table works without code changes).
    """

    present = held_products(frame)
    # A product named like a catalogue code (credit_card) must not drop the spec's other
    # products: keep every product except catalogue ones that are not cross-sell targets
    # (the current account), catalogue products first in catalogue order.
    cross_sell = cross_sell_products()
    not_targets = set(product_catalogue()["code"]) - set(cross_sell)
    catalogue = [code for code in cross_sell if code in present]
    others = [code for code in present if code not in cross_sell and code not in not_targets]
    return catalogue + others


def holding_matrix(frame: pd.DataFrame, products: list[str] | None = None) -> pd.DataFrame:
    """Customer x product boolean matrix from the ``held_<product>`` columns.

    Returns
    -------
    pandas.DataFrame
        Index ``customer_id``, one bool column per product (the product code).
    """
    products = products or default_products(frame)
    missing = [p for p in products if f"{HELD_PREFIX}{p}" not in frame.columns]
    if missing:
        raise KeyError(
            f"the customer table has no holding flag for {missing}: expected columns "
            f"{[HELD_PREFIX + p for p in missing]}"
        )
    matrix = frame[[f"{HELD_PREFIX}{p}" for p in products]].fillna(False).astype(bool)
    matrix.columns = products
    matrix.index = frame["customer_id"].astype(str) if "customer_id" in frame else frame.index
    return matrix


def penetration_by_tier(
    frame: pd.DataFrame, products: list[str] | None = None, tier_column: str = "tier"
) -> pd.DataFrame:
    """Share of customers holding each product, per tier and overall.

    Returns
    -------
    pandas.DataFrame
        Columns ``tier``, ``customers`` and one share (0-1) per product; the last row has
        ``tier == "all"``. Tiers keep their order of first appearance unless categorical.
    """
    matrix = holding_matrix(frame, products).reset_index(drop=True)
    if tier_column in frame.columns:
        tiers = frame[tier_column].astype("object").fillna("unknown").reset_index(drop=True)
        grouped = matrix.groupby(tiers, sort=False)
        table = grouped.mean()
        table.insert(0, "customers", grouped.size())
        table.index.name = "tier"
        table = table.reset_index()
    else:
        table = pd.DataFrame(columns=["tier", "customers", *matrix.columns])
    overall = pd.DataFrame([{"tier": "all", "customers": len(matrix), **matrix.mean().to_dict()}])
    return pd.concat([table, overall], ignore_index=True)


def product_affinity(matrix: pd.DataFrame, min_holders: int = 1) -> pd.DataFrame:
    """Co-holding association rules ``antecedent -> consequent`` between products.

    For products A and B over N customers: ``support`` = share holding both,
    ``confidence`` = P(holds B | holds A), ``lift`` = confidence / P(holds B). A lift above 1
    means holders of A hold B more often than the average customer.

    Parameters
    ----------
    matrix : DataFrame
        Boolean holding matrix (:func:`holding_matrix`).
    min_holders : int, default 1
        Rules whose antecedent has fewer holders are dropped (their confidence is noise).

    Returns
    -------
    pandas.DataFrame
        ``antecedent``, ``consequent``, ``antecedent_holders``, ``both``, ``support``,
        ``confidence``, ``consequent_share``, ``lift``; sorted by antecedent then lift.
    """
    values = matrix.to_numpy(dtype=np.int64)
    customers = len(values)
    if customers == 0:
        raise ValueError("cannot compute product affinity on an empty holding matrix")
    # One matrix product gives every pair's co-holding count: cheap at millions of rows.
    both = values.T @ values
    holders = np.diag(both)
    products = list(matrix.columns)
    antecedent, consequent = np.meshgrid(
        np.arange(len(products)), np.arange(len(products)), indexing="ij"
    )
    mask = antecedent != consequent
    a_index, c_index = antecedent[mask], consequent[mask]
    table = pd.DataFrame(
        {
            "antecedent": np.array(products, dtype=object)[a_index],
            "consequent": np.array(products, dtype=object)[c_index],
            "antecedent_holders": holders[a_index],
            "both": both[a_index, c_index],
        }
    )
    table["support"] = table["both"] / customers
    with np.errstate(divide="ignore", invalid="ignore"):
        table["confidence"] = table["both"] / table["antecedent_holders"].where(
            table["antecedent_holders"] > 0
        )
        table["consequent_share"] = holders[c_index] / customers
        table["lift"] = table["confidence"] / table["consequent_share"].where(
            table["consequent_share"] > 0
        )
    table = table[table["antecedent_holders"] >= min_holders]
    return table.sort_values(
        ["antecedent", "lift", "consequent"], ascending=[True, False, True], kind="stable"
    ).reset_index(drop=True)


def also_hold(affinity: pd.DataFrame, top: int = 3, min_support: float = 0.01) -> pd.DataFrame:
    """ "Customers like this also hold": per product, the ``top`` partner products by lift.

    Only rules with lift above 1 and at least ``min_support`` of customers holding both are
    kept, so rare coincidences do not make the table.

    Returns
    -------
    pandas.DataFrame
        ``antecedent``, ``rank``, ``consequent``, ``confidence``, ``lift``, ``support``.
    """
    kept = affinity[(affinity["lift"] > 1) & (affinity["support"] >= min_support)]
    kept = kept.sort_values(
        ["antecedent", "lift", "consequent"], ascending=[True, False, True], kind="stable"
    )
    kept = kept.groupby("antecedent", sort=False).head(top).copy()
    kept["rank"] = kept.groupby("antecedent").cumcount() + 1
    return kept[["antecedent", "rank", "consequent", "confidence", "lift", "support"]].reset_index(
        drop=True
    )
