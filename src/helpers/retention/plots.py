"""Charts for notebook 04_retention_roi. Each takes ``ax=None`` and returns the Axes.

Labels come from ``helpers.i18n`` (``locales/retention.yaml``); call
``helpers.plotting.set_theme()`` first so Chinese renders (``notebook.start`` does). Every
chart passes a :class:`~helpers.formatting.Skipped` input on (``skippable``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers import formatting as reporting
from helpers import i18n
from helpers.formatting import skippable
from helpers.plotting import rmb_formatter, sample_note

STRATEGY_COLOURS = {"uplift": "#4C78A8", "risk": "#F58518", "random": "#9D9D9D"}
TYPE_COLOURS = {
    "persuadable": "#54A24B",
    "sure_thing": "#4C78A8",
    "lost_cause": "#9D9D9D",
    "sleeping_dog": "#E45756",
}


def _axes(ax, size=(8, 4.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def offer_label(offer: str, lang: str = "zh") -> str:
    """Display name of an offer ("rate_coupon" -> 加息券); unknown offers keep their code."""
    key = f"rr_offer_{offer}"
    text = i18n.t(key, lang)
    return offer if text == key else text


@skippable
def plot_effects(evaluation: pd.DataFrame, metric: str = "retained", lang: str = "zh", ax=None):
    """Forest plot: each offer's effect vs control with its confidence interval."""
    ax = _axes(ax, (7, 2.5))
    rows = evaluation[evaluation["metric"] == metric].reset_index(drop=True)
    scale = 100.0 if metric == "retained" else 1.0
    y = np.arange(len(rows))
    ax.errorbar(
        rows["difference"] * scale,
        y,
        xerr=[
            (rows["difference"] - rows["ci_low"]) * scale,
            (rows["ci_high"] - rows["difference"]) * scale,
        ],
        fmt="o",
        color="#4C78A8",
        capsize=4,
    )
    ax.axvline(0, color="#666666", lw=1, ls="--")
    ax.set_yticks(y, [offer_label(o, lang) for o in rows["offer"]])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    key = "rr_effect_points" if metric == "retained" else "rr_effect_rmb"
    ax.set_xlabel(i18n.t(key, lang))
    ax.set_title(i18n.t(f"rr_title_effect_{'retention' if metric == 'retained' else 'aum'}", lang))
    if metric != "retained":
        ax.xaxis.set_major_formatter(rmb_formatter())
    return ax


@skippable
def plot_balance(smd: pd.DataFrame, threshold: float = 0.1, lang: str = "zh", ax=None):
    """Love plot: standardised mean difference of each covariate, per offer."""
    pivot = smd.pivot_table(index="covariate", columns="offer", values="smd", aggfunc="first")
    order = pivot.abs().max(axis=1).sort_values().index
    ax = _axes(ax, (7, max(3.0, 0.22 * len(order) + 1)))
    y = np.arange(len(order))
    for offer, marker in zip(pivot.columns, "os^D", strict=False):
        ax.scatter(pivot.loc[order, offer], y, marker=marker, label=offer_label(offer, lang))
    for x in (-threshold, threshold):
        ax.axvline(x, color="#E45756", lw=1, ls="--")
    ax.axvline(0, color="#666666", lw=0.8)
    labels = []
    for name in order:  # "tier=mass" -> the column's label (when one exists) and the level
        base, _, level = str(name).partition("=")
        text = i18n.t(base, lang)
        labels.append(f"{text}={level}" if level else text)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel(i18n.t("rr_smd", lang))
    ax.set_title(i18n.t("rr_title_balance", lang))
    ax.legend(fontsize=8, loc="lower right")
    return ax


@skippable
def plot_qini(curves: pd.DataFrame, offer: str = "", shown: int = 0, total: int = 0,
              lang: str = "zh", ax=None):  # fmt: skip
    """Qini curves of several scores with bootstrap bands, against random targeting."""
    ax = _axes(ax)
    for score, rows in curves.groupby("score", sort=False):
        colour = STRATEGY_COLOURS.get(score)
        x = rows["fraction"] * 100
        ax.plot(x, rows["qini"] * 100, color=colour, label=i18n.t(f"rr_strategy_{score}", lang))
        ax.fill_between(x, rows["lower"] * 100, rows["upper"] * 100, color=colour, alpha=0.15)
    end = curves.groupby("score")["qini"].last().mean() * 100
    ax.plot([0, 100], [0, end], color=STRATEGY_COLOURS["random"], ls="--",
            label=i18n.t("rr_strategy_random", lang))  # fmt: skip
    ax.set_xlabel(i18n.t("rr_share_targeted", lang))
    ax.set_ylabel(i18n.t("rr_qini_axis", lang))
    title = i18n.t("rr_title_qini", lang)
    ax.set_title(f"{title}: {offer_label(offer, lang)}" if offer else title)
    ax.legend(fontsize=8, loc="upper left")
    if shown and total:
        sample_note(ax, shown, total, lang)
    return ax


@skippable
def plot_uplift_deciles(table: pd.DataFrame, offer: str = "", lang: str = "zh", ax=None):
    """Observed vs predicted uplift by decile of predicted uplift (1 = highest)."""
    ax = _axes(ax)
    x = table["decile"].to_numpy()
    ax.bar(x - 0.2, table["observed_uplift"] * 100, width=0.4, color="#4C78A8",
           label=i18n.t("rr_observed_uplift", lang))  # fmt: skip
    ax.bar(x + 0.2, table["predicted_uplift"] * 100, width=0.4, color="#F58518",
           label=i18n.t("rr_predicted_uplift", lang))  # fmt: skip
    ax.axhline(0, color="#666666", lw=0.8)
    ax.set_xticks(x)
    ax.set_xlabel(i18n.t("rr_decile", lang))
    ax.set_ylabel(i18n.t("rr_effect_points", lang))
    title = i18n.t("rr_title_deciles", lang)
    ax.set_title(f"{title}: {offer_label(offer, lang)}" if offer else title)
    ax.legend(fontsize=8)
    return ax


@skippable
def plot_targeting_outcomes(mix: pd.DataFrame, lang: str = "zh", ax=None):
    """Extra customers kept by each strategy's contacts, measured on held-out outcomes (CI)."""
    ax = _axes(ax, (8, 0.45 * len(mix) + 1.8))
    y = np.arange(len(mix))
    colours = [STRATEGY_COLOURS.get(s, "#9D9D9D") for s in mix["strategy"]]
    ax.barh(y, mix["saved"], color=colours)
    ax.errorbar(mix["saved"], y, xerr=[mix["saved"] - mix["saved_low"],
                mix["saved_high"] - mix["saved"]], fmt="none", color="#333333", capsize=3)  # fmt: skip
    ax.axvline(0, color="#666666", lw=1, ls="--")
    labels = [i18n.t(f"rr_strategy_{s}", lang) for s in mix["strategy"]]
    labels = [f"{offer_label(o, lang)} · {s}" for o, s in zip(mix["offer"], labels, strict=True)]
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(i18n.t("rr_saved_axis", lang))
    ax.set_title(i18n.t("rr_title_outcomes", lang))
    return ax


@skippable
def plot_targeting_mix(mix: pd.DataFrame, lang: str = "zh", ax=None):
    """Stacked bars: the model's *expected* response types among each strategy's contacts.

    Titled as a model expectation: response types are never observed for one customer.
    """
    ax = _axes(ax, (8, 0.45 * len(mix) + 1.8))
    types = ["persuadable", "sure_thing", "lost_cause", "sleeping_dog"]
    shares = mix[types].div(mix["contacts"], axis=0) * 100
    left = np.zeros(len(mix))
    y = np.arange(len(mix))
    for kind in types:
        ax.barh(y, shares[kind], left=left, color=TYPE_COLOURS[kind],
                label=i18n.t(f"rr_type_{kind}", lang))  # fmt: skip
        left += shares[kind].to_numpy()
    labels = [i18n.t(f"rr_strategy_{s}", lang) for s in mix["strategy"]]
    if "offer" in mix.columns:
        labels = [
            f"{offer_label(o, lang)} · {s}" for o, s in zip(mix["offer"], labels, strict=True)
        ]
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(i18n.t("rr_share_of_contacts", lang))
    ax.set_title(i18n.t("rr_title_mix_expected", lang))
    ax.legend(fontsize=8, ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    return ax


@skippable
def plot_budget_curve(curve: pd.DataFrame, chosen_budget: float | None = None, lang: str = "zh",
                      ax=None):  # fmt: skip
    """Expected net value (bars) and ROI (line) of the plan chosen at each budget."""
    ax = _axes(ax)
    x = curve["budget"] / 1e4
    width = (x.iloc[1] - x.iloc[0]) * 0.7 if len(x) > 1 else 1.0
    ax.bar(x, curve["expected_net"] / 1e4, width=width, color="#4C78A8",
           label=i18n.t("rr_expected_net", lang))  # fmt: skip
    ax.set_xlabel(i18n.t("rr_budget_10k", lang))
    ax.set_ylabel(i18n.t("rr_expected_net_10k", lang))
    right = ax.twinx()
    right.plot(x, curve["roi"] * 100, color="#F58518", marker="o", label="ROI")
    right.set_ylabel(i18n.t("rr_roi_pct", lang))
    right.grid(False)
    if chosen_budget is not None and chosen_budget <= curve["budget"].max():
        ax.axvline(chosen_budget / 1e4, color="#E45756", ls="--", lw=1)
    ax.set_title(i18n.t("rr_title_budget", lang))
    return ax


@skippable
def plot_tornado(table: pd.DataFrame, lang: str = "zh", ax=None):
    """Tornado chart: campaign ROI when one assumption moves to its low / high value."""
    ax = _axes(ax, (7, 3))
    rows = table.iloc[::-1].reset_index(drop=True)
    base = rows["roi_base"].iloc[0] * 100
    y = np.arange(len(rows))
    low = rows["roi_low"] * 100 - base
    high = rows["roi_high"] * 100 - base
    ax.barh(y, low, left=base, color="#E45756", label=i18n.t("rr_low_value", lang))
    ax.barh(y, high, left=base, color="#54A24B", label=i18n.t("rr_high_value", lang))
    ax.axvline(base, color="#333333", lw=1)
    ax.axvline(0, color="#666666", lw=1, ls="--")
    labels = [
        f"{i18n.t(f'rr_param_{p}', lang)} (×{lo:g} / ×{hi:g})"
        for p, lo, hi in zip(rows["parameter"], rows["low"], rows["high"], strict=True)
    ]
    ax.set_yticks(y, labels)
    ax.set_xlabel(i18n.t("rr_roi_pct", lang))
    ax.set_title(i18n.t("rr_title_tornado", lang))
    ax.legend(fontsize=8, loc="lower right")
    return ax


VALUE_PREFIXES = {
    "offer": "rr_offer_",
    "best_offer": "rr_offer_",
    "arm": "rr_offer_",
    "score": "rr_strategy_",
    "strategy": "rr_strategy_",
    "learner": "rr_strategy_",
    "metric": "rr_metric_",
    "parameter": "rr_param_",
    "basis": "rr_basis_",
}


def _translate_values(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Offer, strategy, metric and assumption codes in the run's language (unknown: kept)."""
    table = frame.copy()
    for column, prefix in VALUE_PREFIXES.items():
        if column in table.columns:
            table[column] = [
                text if (text := i18n.t(f"{prefix}{value}", lang)) != f"{prefix}{value}" else value
                for value in table[column].astype(str)
            ]
    return table


@skippable
def display_table(frame: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """A retention table ready for ``ctx.show``: codes translated, columns named by label key.

    Each column ``c`` with a label ``rr_col_c`` is renamed to that key (``ctx.show`` shows
    the label and takes formats by key: ``pct=["rr_col_retention_rate"]``); a column whose
    label repeats an earlier one's keeps its code beside the label, so no two columns look
    alike. Other columns keep their names.
    """
    table = _translate_values(frame, lang)
    names, seen = {}, set()
    for column in table.columns:
        key = f"rr_col_{column}"
        text = i18n.t(key, lang)
        if text == key:
            names[column] = column
            continue
        names[column] = f"{text} ({column})" if text in seen else key
        seen.add(text)
    return table.rename(columns=names)


def show_table(
    frame: pd.DataFrame,
    lang: str = "zh",
    money: tuple[str, ...] | list[str] = (),
    pct: tuple[str, ...] | list[str] = (),
    ints: tuple[str, ...] | list[str] = (),
    decimals: int = 0,
):
    """A styled retention table: column labels and offer names in the run's language,
    amounts with thousands separators and half-up rounding (:func:`helpers.formatting.show`).

    Notebooks show tables with ``ctx.show(display_table(frame, lang), ...)``; this styled
    form is for code outside a notebook run.
    """
    table = _translate_values(frame, lang)
    labels = {}
    for column in table.columns:
        key = f"rr_col_{column}"
        text = i18n.t(key, lang)
        text = column if text == key else text
        # two columns with the same label would break the styled table: keep the code too
        labels[column] = f"{text} ({column})" if text in labels.values() else text
    table = table.rename(columns=labels)
    return reporting.show(
        table,
        money=[labels[c] for c in money],
        pct=[labels[c] for c in pct],
        ints=[labels[c] for c in ints],
        decimals=decimals,
    )
