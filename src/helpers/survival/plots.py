"""Plots for the lifecycle and survival notebook. Each takes ``ax=None`` and returns the Axes.

Call ``helpers.plotting.set_theme()`` first so Chinese labels render (``notebook.start`` does).
Plots of a step that may be skipped pass a :class:`~helpers.formatting.Skipped` through.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from lifelines import AalenJohansenFitter, KaplanMeierFitter
from lifelines.plotting import add_at_risk_counts

from helpers import i18n
from helpers.formatting import skippable
from helpers.plotting import tier_palette


def _axes(ax, figsize=(8, 4.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _segment_label(segment: str, lang: str) -> str:
    """Tier codes and yes/no flags as words; anything else as it is."""
    key = {"True": "surv_yes", "False": "surv_no"}.get(str(segment), f"tier_{segment}")
    return i18n.t(key, lang) if key in i18n.catalogue() else str(segment)


def plot_km(
    fitters: dict[str, KaplanMeierFitter],
    segment_label: str = "",
    lang: str = "zh",
    at_risk: bool = True,
    ax=None,
):
    """Kaplan-Meier curves with confidence bands and (optionally) at-risk counts below."""
    ax = _axes(ax, (9, 5.5))
    palette = tier_palette(list(fitters))
    for segment, fitter in fitters.items():
        fitter.plot_survival_function(
            ax=ax, ci_show=True, color=palette.get(segment), label=_segment_label(segment, lang)
        )
    ax.set_xlabel(i18n.t("surv_tenure_months", lang))
    ax.set_ylabel(i18n.t("surv_survival_prob", lang))
    ax.set_ylim(0, 1.02)
    ax.set_title(i18n.t("surv_km_title", lang, segment=segment_label))
    if at_risk and len(fitters) <= 6:
        add_at_risk_counts(
            *fitters.values(),
            ax=ax,
            rows_to_show=["At risk"],
            labels=[_segment_label(s, lang) for s in fitters],
        )
        ax.figure.tight_layout()
    return ax


def plot_km_entry_bias(corrected: KaplanMeierFitter, naive: KaplanMeierFitter, lang="zh", ax=None):
    """The delayed-entry Kaplan-Meier curve next to the naive one that ignores entry."""
    ax = _axes(ax)
    corrected.plot_survival_function(
        ax=ax, ci_show=False, label=i18n.t("surv_survival_entry", lang)
    )
    naive.plot_survival_function(
        ax=ax, ci_show=False, linestyle="--", label=i18n.t("surv_survival_naive", lang)
    )
    ax.set_xlabel(i18n.t("surv_tenure_months", lang))
    ax.set_ylabel(i18n.t("surv_survival_prob", lang))
    ax.set_ylim(0, 1.02)
    ax.set_title(i18n.t("surv_km_bias_title", lang))
    return ax


def plot_forest(hazard_ratios: pd.DataFrame, lang: str = "zh", ax=None):
    """Forest plot of hazard ratios with 95% intervals on a log axis (1 = no effect)."""
    table = hazard_ratios.sort_values("hazard_ratio")
    ax = _axes(ax, (8, 0.45 * len(table) + 1.5))
    positions = np.arange(len(table))
    colours = np.where(table["hazard_ratio"] > 1, "#B2182B", "#2166AC")
    ax.errorbar(
        table["hazard_ratio"],
        positions,
        xerr=[
            table["hazard_ratio"] - table["ci_lower"],
            table["ci_upper"] - table["hazard_ratio"],
        ],
        fmt="none",
        ecolor="#555555",
        capsize=3,
    )
    ax.scatter(table["hazard_ratio"], positions, c=colours, zorder=3)
    ax.axvline(1.0, color="#888888", linestyle="--")
    ax.set_xscale("log")
    ax.set_yticks(positions, table["label"])
    ax.set_xlabel(i18n.t("surv_hazard_ratio", lang))
    ax.set_title(i18n.t("surv_forest_title", lang))
    return ax


@skippable
def plot_cumulative_incidence(
    fitters: dict[tuple[str, str], AalenJohansenFitter], lang: str = "zh", ax=None
):
    """Aalen-Johansen cumulative incidence by segment: solid = closure, dashed = run-off."""
    ax = _axes(ax, (9, 5))
    segments = list(dict.fromkeys(segment for segment, _ in fitters))
    palette = tier_palette(segments)
    styles = {"hard": "-", "soft": "--"}
    for (segment, event_type), fitter in fitters.items():
        curve = fitter.cumulative_density_
        ax.step(
            curve.index,
            curve.iloc[:, 0],
            where="post",
            color=palette.get(segment),
            linestyle=styles.get(event_type, ":"),
            label=f"{_segment_label(segment, lang)} · {i18n.t(f'surv_event_type_{event_type}', lang)}",
        )
    ax.set_xlabel(i18n.t("surv_tenure_months", lang))
    ax.set_ylabel(i18n.t("surv_cumulative_incidence", lang))
    ax.set_title(i18n.t("surv_cif_title", lang))
    ax.legend(fontsize=8, ncol=2)
    return ax


@skippable
def plot_calibration(table: pd.DataFrame, horizon: int, lang: str = "zh", ax=None):
    """Predicted vs observed churn rate by decile, with the diagonal of perfect calibration."""
    ax = _axes(ax, (6, 5))
    top = float(max(table["predicted"].max(), table["observed"].max())) * 1.1
    ax.plot([0, top], [0, top], color="#888888", linestyle="--")
    ax.plot(table["predicted"], table["observed"], marker="o")
    for row in table.itertuples():
        ax.annotate(
            str(row.decile),
            (row.predicted, row.observed),
            fontsize=8,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel(i18n.t("surv_predicted", lang))
    ax.set_ylabel(i18n.t("surv_observed", lang))
    ax.set_title(i18n.t("surv_calibration_title", lang, h=horizon))
    return ax


def plot_clv_by_tier(clv: pd.DataFrame, horizon: int, lang: str = "zh", ax=None):
    """Distribution of CLV by tier (box plot on a log scale: CLV spans orders of magnitude)."""
    ax = _axes(ax)
    data = clv.assign(clv_plot=clv["clv"].clip(lower=1.0))
    order = [t for t in ("mass", "affluent", "wealth", "private") if t in set(data["tier"])]
    order += sorted(set(data["tier"].astype(str)) - set(order))
    sns.boxplot(
        data=data.assign(tier=data["tier"].astype(str)),
        x="tier",
        y="clv_plot",
        order=order,
        hue="tier",
        palette=tier_palette(order),
        legend=False,
        showfliers=False,
        ax=ax,
    )
    ax.set_yscale("log")
    ax.set_xticks(range(len(order)), [_segment_label(t, lang) for t in order])
    ax.set_xlabel(i18n.t("tier", lang))
    ax.set_ylabel(f"{i18n.t('surv_clv', lang)} ({i18n.t('rmb', lang)})")
    ax.set_title(i18n.t("surv_clv_title", lang, months=horizon))
    return ax
