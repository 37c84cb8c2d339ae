"""Did the call lists come true? The cross-sell call lists re-made one take-up window ago.

With report month M and take-up window h, this month's models learn from the ABT at M-h and
its take-ups in (M-h, M]. The back-test asks what the same method would have told the RMs at
M-h: the models (each product's chosen model, same settings) are refitted on the ABT at M-2h
with its take-ups in (M-2h, M-h] (known at M-h), score the customers of M-h, recommend each
their next best product and build the call lists by this month's rules. Whether the listed
customers then took the recommended product by M is in the data: the list's take-up rate is
set against the predicted probability and against customers who had a recommendation but
were not called.

Nothing looks past M-h to choose or score anyone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.features import build_abt
from helpers.formatting import Bullets, Skipped, format_number, format_pct, skippable
from helpers.months import month_label
from helpers.propensity.actions import call_lists, next_best_product
from helpers.propensity.models import CrossSellModels

#: Columns of the ``backtest_cross_sell_customers`` artifact.
BACKTEST_COLUMNS = ["customer_id", "listed", "product", "probability", "took"]


@dataclass
class CallListBacktest:
    """The call lists of ``as_of`` and what became of them by ``month``."""

    month: str
    as_of: str
    horizon: int
    customers: pd.DataFrame  # one row per customer with a recommendation (BACKTEST_COLUMNS)


def backtest_call_lists(
    ds,
    month: str | None,
    horizon: int,
    models: CrossSellModels,
    train: pd.DataFrame,
    calls_per_rm: int = 20,
    min_probability: float = 0.05,
    compare_cap: int = 5000,
    churn=None,
    ladder=None,
    lang: str = "zh",
) -> CallListBacktest | Skipped:
    """Re-make the call lists as of ``month - horizon`` and record whether each listed customer
    took the recommended product by ``month``.

    ``models`` is this month's fitted :class:`CrossSellModels` (each product's chosen model is
    refitted; no new comparison of candidates), ``train`` this month's training frame (the ABT
    at ``month - horizon``, whose ``took_<product>`` labels are the outcomes). Skipped in flat
    mode and when the data do not reach ``2 * horizon`` months before ``month``.
    """
    if getattr(ds, "mode", "panel") == "flat" or not month:
        return Skipped("ps_backtest_flat")
    as_of, fit_as_of = month_label(month, -horizon), month_label(month, -2 * horizon)
    months = ds.months()
    if fit_as_of not in months:
        return Skipped("mg_backtest_short", months=2 * horizon, first=months[0])
    fit_frame = build_abt(ds, fit_as_of, horizon, churn, ladder=ladder)
    refitted = _refit_chosen(models, fit_frame, compare_cap)
    del fit_frame  # a million rows: free it before scoring
    scores = pd.concat([m.predict(train).set_index("customer_id") for m in refitted], axis=1)
    recommendations = next_best_product(scores.reset_index(), min_probability=min_probability)
    offered = recommendations[recommendations["product"].notna()].copy()
    keep = [c for c in ["customer_id", "rm_id", "branch_id", "tier", "aum"] if c in train.columns]
    calls = call_lists(recommendations, train[keep], capacity=calls_per_rm)
    # Whether each offered customer took the product offered: one lookup per product column
    # (a row-by-row lookup cost a minute at a million customers).
    row_of = pd.Index(train["customer_id"].astype(str)).get_indexer(
        offered["customer_id"].astype(str)
    )
    took = pd.array([pd.NA] * len(offered), dtype="boolean")
    for product in pd.unique(offered["product"]):
        here = (offered["product"] == product).to_numpy()
        labels = pd.array(train[f"took_{product}"], dtype="boolean")
        took[here] = labels[row_of[here]]
    customers = pd.DataFrame(
        {
            "customer_id": offered["customer_id"].astype(str).to_numpy(),
            "listed": offered["customer_id"].isin(set(calls["customer_id"])).to_numpy(),
            "product": offered["product"].to_numpy(),
            "probability": offered["probability"].astype(float).to_numpy(),
            "took": took,
        }
    )
    return CallListBacktest(month, as_of, horizon, customers)


def _refit_chosen(models: CrossSellModels, frame: pd.DataFrame, compare_cap: int) -> list:
    """Each product's chosen model refitted on ``frame`` (one fit per model kind)."""
    refitted = []
    kinds = sorted(set(models.chosen_.values()))
    for kind in kinds:
        products = [p for p in models.products_ if models.chosen_[p] == kind]
        fitted = CrossSellModels(
            products=products,
            candidates=(kind,),
            compare_cap=compare_cap,
            holdout_share=0.05,  # the fit needs a holdout; keep it small
            fit_cap=models.fit_cap,  # as capped as this month's fit
            seed=models.seed,
        ).fit(frame)
        refitted.append(fitted)
    return refitted


@skippable
def backtest_call_customers(backtest: CallListBacktest) -> pd.DataFrame:
    """The per-customer artifact: listed or not, product and probability then, took it since."""
    return backtest.customers[BACKTEST_COLUMNS]


@skippable
def backtest_call_summary(backtest: CallListBacktest) -> pd.DataFrame:
    """Called vs not called (customers with a recommendation): predicted and observed take-up."""
    data = backtest.customers[backtest.customers["took"].notna()]
    rows = []
    for group, mask in (("listed", data["listed"]), ("not_listed", ~data["listed"])):
        part = data[mask]
        took = part["took"].astype(bool)
        probability = part["probability"]
        rows.append(
            {
                "group": group,
                "customers": len(part),
                "predicted": float(probability.mean()) if len(part) else np.nan,
                "observed": float(took.mean()) if len(part) else np.nan,
                "took": int(took.sum()),
                "standard_error": float(np.sqrt((probability * (1 - probability)).sum()))
                / max(len(part), 1),
            }
        )
    return pd.DataFrame(rows)


@skippable
def backtest_call_display(summary: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The summary with words for the groups and label-key headers."""
    names = {"listed": "ps_bt_listed", "not_listed": "ps_bt_not_listed"}
    return pd.DataFrame(
        {
            "mg_bt_group": [i18n.t(names[g], lang) for g in summary["group"]],
            "customers": summary["customers"],
            "ps_bt_predicted": summary["predicted"],
            "ps_bt_observed": summary["observed"],
            "ps_bt_took": summary["took"],
        }
    )


@skippable
def backtest_call_bullets(
    backtest: CallListBacktest, summary: pd.DataFrame, lang: str = "zh"
) -> Bullets:
    """What happened to the call lists, against the customers not called, and can we trust it."""
    rows = summary.set_index("group")
    listed, others = rows.loc["listed"], rows.loc["not_listed"]
    gap = listed["observed"] - listed["predicted"]
    within = abs(gap) <= 2 * listed["standard_error"]
    return Bullets(
        [
            i18n.t(
                "ps_bt_listed_sentence",
                lang,
                as_of=backtest.as_of,
                month=backtest.month,
                customers=format_number(listed["customers"]),
                took=format_number(listed["took"]),
                observed=format_pct(listed["observed"]),
                predicted=format_pct(listed["predicted"]),
            ),
            i18n.t("ps_bt_others_sentence", lang, observed=format_pct(others["observed"])),
            i18n.t(
                "mg_bt_trust" if within else "mg_bt_miscalibrated",
                lang,
                gap=format_number(abs(gap) * 100, 1),
            ),
        ]
    )
