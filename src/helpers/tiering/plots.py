"""Charts for the tiering notebook: tier mix, transition heatmap, AUM bridge, fish-pond grid,
segments, cluster profiles.

Every function takes ``ax=None`` (a new figure is made) and returns the Axes; given a
:class:`~helpers.formatting.Skipped` step instead of its data, it returns that Skipped. Labels come from
``helpers.i18n`` in ``lang``; tier names from the ladder, so a custom ladder is labelled right.
Call ``helpers.plotting.set_theme()`` first so Chinese renders.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.formatting import skippable
from helpers.plotting import rmb_formatter, tier_palette
from helpers.tiering.clusters import BehaviourClusters
from helpers.tiering.migration import CHURNED_COLUMN, NEW_ROW
from helpers.tiering.segments import BANDS

#: Money on charts is shown in 万元 / RMB 10k, the unit Chinese bank reports use.
WAN = 1e4


def _axes(ax, size=(8, 4.5)):
    import matplotlib.pyplot as plt

    return ax if ax is not None else plt.subplots(figsize=size)[1]


def _label(code: str, names: Mapping[str, str], lang: str) -> str:
    if code == NEW_ROW:
        return i18n.t("tiering_move_new", lang)
    if code == CHURNED_COLUMN:
        return i18n.t("tiering_move_churned", lang)
    return names.get(code, code)


@skippable
def plot_tier_mix(profile: pd.DataFrame, names: Mapping[str, str], lang: str = "zh", ax=None):
    """Share of customers and share of AUM per tier, side by side (the value pyramid)."""
    ax = _axes(ax)
    table = profile[profile["tier"] != "total"]
    positions = np.arange(len(table))
    ax.bar(positions - 0.2, table["customer_share"] * 100, 0.4, label=i18n.t("customers", lang),
           color="#9BB7D4")  # fmt: skip
    if "aum_share" in table:
        ax.bar(positions + 0.2, table["aum_share"] * 100, 0.4, label=i18n.t("aum", lang),
               color="#B2182B")  # fmt: skip
    ax.set_xticks(positions, [_label(code, names, lang) for code in table["tier"]])
    ax.set_ylabel(i18n.t("share", lang) + " (%)")
    ax.set_title(i18n.t("tiering_title_tier_mix", lang))
    ax.legend()
    return ax


@skippable
def plot_transition_heatmap(
    matrix: pd.DataFrame,
    names: Mapping[str, str],
    lang: str = "zh",
    measure: str = "customers",
    title: str | None = None,
    ax=None,
):
    """Heatmap of a transition matrix (rows: tier before + new; columns: tier after + churned).

    ``measure`` sets the cell format: ``customers`` (counts), ``rate`` (percent of the row),
    ``aum_before`` / ``aum_after`` (万元).
    """
    import seaborn as sns

    ax = _axes(ax, (7.5, 5))
    values = matrix.astype(float)
    if measure == "rate":
        values, fmt = values * 100, ".1f"
    elif measure.startswith("aum"):
        values, fmt = values / WAN, ",.0f"
    else:
        fmt = ",.0f"
    values = values.rename(
        index=lambda c: _label(c, names, lang), columns=lambda c: _label(c, names, lang)
    )
    sns.heatmap(values, annot=True, fmt=fmt, cmap="Blues", cbar=False, linewidths=0.5, ax=ax)
    ax.tick_params(axis="y", rotation=0)
    ax.set_ylabel(i18n.t("tiering_tier_before", lang))
    ax.set_xlabel(i18n.t("tiering_tier_after", lang))
    ax.set_title(title or i18n.t(f"tiering_title_matrix_{measure}", lang))
    return ax


@skippable
def plot_aum_bridge(bridge: pd.DataFrame, lang: str = "zh", ax=None):
    """Waterfall from last month's book AUM to this month's (万元): totals grey, gains green,
    losses red. The bars add up exactly (see :func:`helpers.tiering.aum_bridge`)."""
    ax = _axes(ax, (9, 4.5))
    amounts = bridge["amount_fen"].to_numpy(dtype=np.int64)
    kinds = bridge["kind"].to_numpy()
    bottoms, heights, colours = [], [], []
    running = 0
    for amount, kind in zip(amounts, kinds, strict=True):
        if kind == "total":
            bottoms.append(0)
            heights.append(amount)
            colours.append("#7F7F7F")
            running = amount
        else:
            bottoms.append(running if amount >= 0 else running + amount)
            heights.append(abs(amount))
            colours.append("#2CA02C" if amount >= 0 else "#D62728")
            running += amount
    bottoms_wan = np.asarray(bottoms, dtype=float) / 100 / WAN
    heights_wan = np.asarray(heights, dtype=float) / 100 / WAN
    positions = np.arange(len(bridge))
    ax.bar(positions, heights_wan, bottom=bottoms_wan, color=colours, width=0.6)
    for position, amount, bottom, height in zip(
        positions, amounts, bottoms_wan, heights_wan, strict=True
    ):
        ax.annotate(f"{amount / 100 / WAN:+,.0f}" if position not in (0, len(bridge) - 1)
                    else f"{amount / 100 / WAN:,.0f}",
                    (position, bottom + height), ha="center", va="bottom", fontsize=8)  # fmt: skip
    ax.set_xticks(positions, [i18n.t(f"tiering_bridge_{step}", lang) for step in bridge["step"]])
    ax.tick_params(axis="x", labelrotation=20)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.yaxis.set_major_formatter(rmb_formatter())
    ax.set_ylabel(i18n.t("rmb_10k", lang))
    # Month-over-month changes are small against the book: zoom the axis onto the levels the
    # bars move through (and say so on the chart) so that the change bars are visible.
    levels = np.cumsum(amounts[:-1]) / 100 / WAN
    low, high = float(levels.min()), float(levels.max())
    span = max(high - low, abs(high) * 0.01, 1e-9)
    if low - span > 0:
        ax.set_ylim(low - span, high + span * 0.4)
        ax.annotate(i18n.t("tiering_axis_not_zero", lang), xy=(0.0, -0.24), xycoords="axes fraction",
                    ha="left", va="top", fontsize=8, color="#666666")  # fmt: skip
    ax.set_title(i18n.t("tiering_title_bridge", lang))
    return ax


@skippable
def plot_fishpond_grid(grid: pd.DataFrame, lang: str = "zh", ax=None):
    """The 3x3 value x potential grid: customers per cell, with the cell's service coverage."""
    import seaborn as sns

    ax = _axes(ax, (8, 5.5))
    counts = grid.pivot(index="value_band", columns="potential_band", values="customers")
    counts = counts.reindex(index=list(BANDS)[::-1], columns=list(BANDS))
    coverage = grid.set_index(["value_band", "potential_band"])["coverage"]
    calls = grid.set_index(["value_band", "potential_band"])["retention_call"]
    text = np.empty(counts.shape, dtype=object)
    for i, value_band in enumerate(counts.index):
        for j, potential_band in enumerate(counts.columns):
            cell = (value_band, potential_band)
            words = i18n.t(f"tiering_coverage_{coverage[cell]}", lang)
            if bool(calls[cell]):
                words += "\n" + i18n.t("tiering_retention_call", lang)
            text[i, j] = f"{int(counts.iloc[i, j]):,}\n{words}"
    band_label = {band: i18n.t(f"tiering_band_{band}", lang) for band in BANDS}
    shown = counts.rename(index=band_label, columns=band_label)
    sns.heatmap(shown, annot=text, fmt="", cmap="YlGnBu", cbar=False, linewidths=1, ax=ax,
                annot_kws={"fontsize": 8})  # fmt: skip
    ax.set_ylabel(i18n.t("tiering_value_axis", lang))
    ax.set_xlabel(i18n.t("tiering_potential_axis", lang))
    ax.set_title(i18n.t("tiering_title_grid", lang))
    return ax


@skippable
def plot_segments(summary: pd.DataFrame, lang: str = "zh", ax=None):
    """Customer share and AUM share per named RFM segment (horizontal bars)."""
    ax = _axes(ax, (8, 4.5))
    positions = np.arange(len(summary))
    ax.barh(positions - 0.2, summary["customer_share"] * 100, 0.4, label=i18n.t("customers", lang),
            color="#9BB7D4")  # fmt: skip
    ax.barh(positions + 0.2, summary["aum_share"] * 100, 0.4, label=i18n.t("aum", lang),
            color="#B2182B")  # fmt: skip
    ax.set_yticks(positions, summary["segment_name"])
    ax.invert_yaxis()
    ax.set_xlabel(i18n.t("share", lang) + " (%)")
    ax.set_title(i18n.t("tiering_title_segments", lang))
    ax.legend(loc="lower right")
    return ax


@skippable
def plot_silhouette(
    silhouette: pd.Series,
    chosen: int,
    lang: str = "zh",
    sample: tuple[int, int] | None = None,
    ax=None,
):
    """Mean silhouette for each candidate number of clusters; the chosen k highlighted.

    ``sample = (shown, total)`` states under the title that k was chosen on a sample.
    """
    ax = _axes(ax, (6, 3.5))
    ax.plot(silhouette.index, silhouette.to_numpy(), marker="o", color="#4C78A8")
    ax.scatter([chosen], [silhouette.loc[chosen]], s=140, facecolors="none", edgecolors="#D62728",
               linewidths=2, zorder=3)  # fmt: skip
    ax.set_xticks(list(silhouette.index))
    ax.set_xlabel(i18n.t("tiering_k", lang))
    ax.set_ylabel(i18n.t("tiering_silhouette", lang))
    title = i18n.t("tiering_title_silhouette", lang)
    if sample is not None and sample[0] < sample[1]:
        title += "\n" + i18n.t("note_sample_cap", lang, shown=sample[0], total=sample[1])
    ax.set_title(title)
    return ax


@skippable
def plot_cluster_choice(clusters: BehaviourClusters, lang: str = "zh", ax=None):
    """:func:`plot_silhouette` of fitted clusters, saying when k was chosen on a sample."""
    total = len(clusters.labels_)
    sample = (min(total, clusters.sample_cap), total)
    return plot_silhouette(clusters.silhouette_, clusters.k_, lang=lang, sample=sample, ax=ax)


@skippable
def plot_cluster_profiles(centers_z: pd.DataFrame | BehaviourClusters, lang: str = "zh", ax=None):
    """Heatmap of each cluster's mean scaled feature (standard deviations from the book).

    ``centers_z`` is :attr:`BehaviourClusters.centers_z_` or the fitted clusters themselves.
    """
    import seaborn as sns

    if isinstance(centers_z, BehaviourClusters):
        centers_z = centers_z.centers_z_

    ax = _axes(ax, (9, 0.6 * len(centers_z) + 2))

    def feature_label(column: str) -> str:
        key = f"tiering_feature_{column}"
        label = i18n.t(key, lang)
        return column if label == key else label

    shown = centers_z.rename(columns=feature_label)
    shown.index = [f"{i18n.t('tiering_cluster', lang)} {c}" for c in shown.index]
    sns.heatmap(shown, annot=True, fmt=".1f", cmap="RdBu_r", center=0, vmin=-2, vmax=2, cbar=False,
                linewidths=0.5, ax=ax)  # fmt: skip
    ax.set_xticklabels(ax.get_xticklabels(), rotation=30, ha="right")
    ax.set_title(i18n.t("tiering_title_clusters", lang))
    return ax


@skippable
def plot_movement_trend(counts: pd.DataFrame, lang: str = "zh", ax=None):
    """Customers moving up, down, joining and leaving each month (lines)."""
    ax = _axes(ax, (9, 4))
    colours = {"up": "#2CA02C", "down": "#D62728", "new": "#4C78A8", "churned": "#7F7F7F"}
    for movement, colour in colours.items():
        ax.plot(counts["month"], counts[movement], marker="o", color=colour,
                label=i18n.t(f"tiering_move_{movement}", lang))  # fmt: skip
    ax.set_ylabel(i18n.t("customers", lang))
    ax.tick_params(axis="x", rotation=45)
    ax.set_title(i18n.t("tiering_title_trend", lang))
    ax.legend()
    return ax


def tier_colours(codes: list[str]) -> dict[str, str]:
    """Tier colours shared with the other notebooks' charts."""
    return tier_palette(codes)
