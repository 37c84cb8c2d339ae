"""Charts for the cross-sell notebook: penetration, affinity, model comparison, gain and lift,
reliability, importances, next best product.

Every function takes ``ax=None`` (a new figure is made) and returns the Axes. Labels come from
``helpers.i18n`` in ``lang`` and product names from the catalogue (a flat table's own product
names are shown as they are). Call ``helpers.plotting.set_theme()`` first so Chinese renders.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.formatting import Skipped
from helpers.propensity.actions import feature_label, product_label
from helpers.propensity.evaluation import gain_curve, reliability_table


def _axes(ax, size=(8, 4.5)):
    import matplotlib.pyplot as plt

    return ax if ax is not None else plt.subplots(figsize=size)[1]


def plot_penetration(penetration: pd.DataFrame, tier_names=None, lang="zh", ax=None):
    """Heatmap of the share of customers holding each product, by tier (rows) and overall.

    ``tier_names`` maps tier codes to row labels: a dict, or the pack's tier ladder
    (``ctx.ladder``, its ``name_zh`` / ``name_en`` in ``lang``); codes are shown otherwise.
    """
    import seaborn as sns

    if isinstance(tier_names, pd.DataFrame):
        tier_names = dict(zip(tier_names["code"], tier_names[f"name_{lang}"], strict=True))
    table = penetration.set_index("tier").drop(columns="customers")
    table.index = [
        i18n.t("ps_all_customers", lang) if tier == "all" else (tier_names or {}).get(tier, tier)
        for tier in table.index
    ]
    table.columns = [product_label(code, lang) for code in table.columns]
    ax = _axes(ax, (9, 0.6 * len(table) + 1.8))
    sns.heatmap(
        table * 100, annot=True, fmt=".0f", cmap="Blues", cbar=False, ax=ax, vmin=0, vmax=100
    )
    ax.set_title(i18n.t("ps_title_penetration", lang))
    ax.set_ylabel("")
    ax.tick_params(axis="x", rotation=30)
    return ax


def plot_affinity(affinity: pd.DataFrame, lang: str = "zh", ax=None):
    """Heatmap of co-holding lift: row = holds this product, column = also holds that one.

    With fewer than two products there is nothing to pair: a Skipped step says so."""
    import seaborn as sns

    if len(affinity) == 0 or affinity["antecedent"].nunique() < 2:
        return Skipped("ps_affinity_one_product")

    table = affinity.pivot(index="antecedent", columns="consequent", values="lift")
    order = list(dict.fromkeys(affinity["antecedent"]))
    table = table.reindex(index=order, columns=order)
    table.index = [product_label(code, lang) for code in table.index]
    table.columns = [product_label(code, lang) for code in table.columns]
    ax = _axes(ax, (8, 6))
    sns.heatmap(table, annot=True, fmt=".2f", cmap="RdBu_r", center=1.0, cbar=False, ax=ax)
    ax.set_title(i18n.t("ps_title_affinity", lang))
    ax.set_xlabel(i18n.t("ps_also_holds", lang))
    ax.set_ylabel(i18n.t("ps_holds", lang))
    ax.tick_params(axis="x", rotation=30)
    return ax


def plot_model_comparison(comparison: pd.DataFrame, metric: str = "roc_auc", lang="zh", ax=None):
    """Cross-validated score of each candidate per product, with one-std error bars."""
    ax = _axes(ax, (9, 4.5))
    products = list(dict.fromkeys(comparison["product"]))
    models = list(dict.fromkeys(comparison["model"]))
    width = 0.8 / len(models)
    positions = np.arange(len(products))
    for index, model in enumerate(models):
        part = comparison[comparison["model"] == model].set_index("product").reindex(products)
        ax.bar(
            positions + (index - (len(models) - 1) / 2) * width,
            part[f"{metric}_mean"],
            width,
            yerr=part[f"{metric}_std"],
            capsize=3,
            label=i18n.t(f"ps_model_{model}", lang),
        )
        chosen = part["chosen"].fillna(False).to_numpy(dtype=bool)
        ax.scatter(
            positions[chosen] + (index - (len(models) - 1) / 2) * width,
            part.loc[chosen, f"{metric}_mean"] + part.loc[chosen, f"{metric}_std"] + 0.01,
            marker="v",
            color="black",
            s=25,
        )
    if metric == "roc_auc":
        ax.set_ylim(0.5, 1.0)
        ax.axhline(0.5, color="grey", lw=0.8)
    ax.set_xticks(positions, [product_label(p, lang) for p in products], rotation=30)
    ax.set_ylabel(i18n.t(f"ps_{metric}", lang))
    ax.set_title(i18n.t("ps_title_comparison", lang, metric=i18n.t(f"ps_{metric}", lang)))
    ax.legend(title=i18n.t("ps_chosen_marker", lang))
    return ax


def plot_gain(holdout: pd.DataFrame, lang: str = "zh", ax=None):
    """Cumulative gain on the holdout: share of buyers found vs share of customers contacted."""
    ax = _axes(ax, (7, 5))
    for product, part in holdout.groupby("product", sort=False):
        if part["y"].sum() == 0:
            continue
        curve = gain_curve(part["y"], part["probability"], points=100)
        ax.plot(curve["share_contacted"] * 100, curve["share_captured"] * 100,
                label=product_label(product, lang))  # fmt: skip
    ax.plot([0, 100], [0, 100], color="grey", ls="--", label=i18n.t("ps_random", lang))
    ax.set_xlabel(i18n.t("ps_share_contacted", lang))
    ax.set_ylabel(i18n.t("ps_share_captured", lang))
    ax.set_title(i18n.t("ps_title_gain", lang))
    ax.legend(fontsize=8)
    return ax


def plot_lift(holdout: pd.DataFrame, lang: str = "zh", ax=None):
    """Cumulative lift on the holdout: buyer rate among the top x% / overall buyer rate."""
    ax = _axes(ax, (7, 5))
    for product, part in holdout.groupby("product", sort=False):
        if part["y"].sum() == 0:
            continue
        curve = gain_curve(part["y"], part["probability"], points=50).iloc[1:]
        ax.plot(curve["share_contacted"] * 100, curve["lift"], label=product_label(product, lang))
    ax.axhline(1.0, color="grey", ls="--", label=i18n.t("ps_random", lang))
    ax.set_xlabel(i18n.t("ps_share_contacted", lang))
    ax.set_ylabel(i18n.t("ps_lift", lang))
    ax.set_title(i18n.t("ps_title_lift", lang))
    ax.legend(fontsize=8)
    return ax


def plot_reliability(holdout: pd.DataFrame, metrics: pd.DataFrame, lang="zh", bins=10, ax=None):
    """Reliability diagram: mean predicted vs observed take-up in equal-count bins, per product.

    The legend gives each product's Brier score (lower is better).
    """
    ax = _axes(ax, (7, 6))
    brier = metrics.set_index("product")["brier"]
    top = 0.0
    for product, part in holdout.groupby("product", sort=False):
        table = reliability_table(part["y"], part["probability"], bins=min(bins, len(part)))
        top = max(top, table["mean_predicted"].max(), table["observed_rate"].max())
        label = f"{product_label(product, lang)} (Brier {brier.get(product, np.nan):.3f})"
        ax.plot(table["mean_predicted"] * 100, table["observed_rate"] * 100, marker="o",
                ms=3, label=label)  # fmt: skip
    limit = top * 100 * 1.05
    ax.plot([0, limit], [0, limit], color="grey", ls="--", label=i18n.t("ps_perfect", lang))
    ax.set_xlabel(i18n.t("ps_mean_predicted", lang))
    ax.set_ylabel(i18n.t("ps_observed_rate", lang))
    ax.set_title(i18n.t("ps_title_reliability", lang))
    ax.legend(fontsize=7)
    return ax


def plot_importance(importances: pd.DataFrame, top: int = 5, lang: str = "zh", ax=None):
    """Heatmap of permutation importances: each product's ``top`` features (union), per product.

    Values are the drop in holdout ROC AUC when the feature is shuffled.
    """
    import seaborn as sns

    keep = importances[importances["rank"] <= top]["feature"].unique()
    table = importances[importances["feature"].isin(keep)].pivot(
        index="feature", columns="product", values="importance_mean"
    )
    table = table.loc[table.max(axis=1).sort_values(ascending=False).index]
    table = table.reindex(columns=list(dict.fromkeys(importances["product"])))
    table.index = [feature_label(feature, lang) for feature in table.index]
    table.columns = [product_label(code, lang) for code in table.columns]
    ax = _axes(ax, (9, 0.35 * len(table) + 2))
    ax.grid(False)
    sns.heatmap(table.clip(lower=0), annot=True, fmt=".3f", cmap="Oranges", cbar=False, ax=ax,
                annot_kws={"fontsize": 7})  # fmt: skip
    ax.set_title(i18n.t("ps_title_importance", lang))
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="x", rotation=30)
    return ax


def plot_next_best(recommendations: pd.DataFrame, lang: str = "zh", ax=None):
    """Customers and total expected value per recommended next best product."""
    ax = _axes(ax, (8, 4.5))
    offered = recommendations.dropna(subset=["product"])
    summary = offered.groupby("product", sort=False).agg(
        customers=("customer_id", "size"), expected_value=("expected_value", "sum")
    )
    summary = summary.sort_values("expected_value", ascending=False)
    positions = np.arange(len(summary))
    ax.bar(positions, summary["expected_value"] / 1e4, color="#4C78A8")
    for position, customers in zip(positions, summary["customers"], strict=True):
        ax.annotate(f"{customers:,}", (position, 0), xytext=(0, 3), textcoords="offset points",
                    ha="center", fontsize=8, color="white")  # fmt: skip
    ax.set_xticks(positions, [product_label(p, lang) for p in summary.index], rotation=30)
    ax.set_ylabel(i18n.t("ps_expected_value_10k", lang))
    ax.set_title(i18n.t("ps_title_next_best", lang))
    return ax
