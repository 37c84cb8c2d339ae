"""Did the warning list come true? The early-warning list re-made as of ``h`` months ago.

The business text asks for a monthly feedback loop (定期回访, 流失预警): before trusting this
month's list, management wants to know what happened to the customers the same method would
have listed ``h`` months ago. The history holds the answer, so the first pack already has it:

1. The report month is M and the churn horizon h. The scoring model is this month's (same
   covariates, penalizer, strata), refitted on the customers of M-2h with their outcomes by
   M-h: exactly what a run at M-h would have fitted. When this month's list is ranked by a
   ranking model (:mod:`helpers.survival.ranking`), the same kind of model is refitted on
   the same customers and gives the probability, as it does this month.
2. It scores every active customer of M-h not already draining then (those go on the
   separate draining list, as this month) and builds the list the way this month's is built
   (per-RM cap, list size, AUM floor, ranking by expected AUM lost).
3. Their outcomes by M are known: churned within (M-h, M] under the pack's churn definition.
   The list's churn rate is set against the customers not listed, and the predicted churn
   rate against the observed one per decile of predicted probability (calibration).

Nothing here looks past M-h to choose or score anyone: features come from the ABT at M-h
(data up to M-h only), the model from outcomes known by M-h.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.config import ChurnDefinition
from helpers.features import build_abt
from helpers.formatting import Bullets, Skipped, format_number, format_pct, skippable
from helpers.months import month_label
from helpers.survival.cox import ChurnCox
from helpers.survival.curves import calibration_table, prepare_frame
from helpers.survival.lifecycle import LifecycleRule
from helpers.survival.ranking import ChurnRanker
from helpers.survival.steps import refit_final
from helpers.survival.warning import warning_list
from helpers.survival.workflow import without_draining

#: Columns of the ``backtest_churn_customers`` artifact.
BACKTEST_COLUMNS = ["customer_id", "listed", "rank", "tier", "aum", "p_churn", "churned"]


@dataclass
class WarningBacktest:
    """The list of ``as_of`` and what became of it by ``month``."""

    month: str
    as_of: str
    horizon: int
    customers: pd.DataFrame  # one row per customer scored at as_of (BACKTEST_COLUMNS)
    calibration: pd.DataFrame  # decile, customers, predicted, observed

    def group(self, listed: bool) -> pd.DataFrame:
        return self.customers[self.customers["listed"] == listed]


def _model_frame(frame, as_of: str, horizon: int, churn: ChurnDefinition):
    """``frame`` when it is the model frame of ``as_of`` (horizon, churn definition), else None.

    A model frame is the ABT without the customers draining then, its follow-up cut at the
    horizon (:func:`~helpers.survival.workflow.model_frames`): what the back-test builds.
    """
    if not isinstance(frame, pd.DataFrame) or "draining" not in frame.attrs:
        return None
    attrs = frame.attrs
    same = (attrs.get("as_of"), attrs.get("horizon"), attrs.get("churn"))
    return frame if same == (as_of, horizon, churn.to_dict()) else None


def backtest_warning(
    ds,
    month: str | None,
    horizon: int,
    model: ChurnCox,
    churn: ChurnDefinition | None = None,
    ladder: pd.DataFrame | None = None,
    rule: LifecycleRule | None = None,
    per_rm: int = 20,
    size: int | None = 500,
    min_aum: float = 0.0,
    lang: str = "zh",
    ranker: ChurnRanker | Skipped | None = None,
    fit_cap: int | None = None,
    seed: int = 0,
    frames: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> WarningBacktest | Skipped:
    """Re-make the warning list as of ``month - horizon`` and record each customer's outcome.

    ``model`` is this month's scoring model (its covariates, penalizer and strata are reused);
    ``ranker`` this month's fitted ranking model (its chosen kind is refitted; None or skipped:
    the Cox probability ranks, as it does this month then). Both refits use at most
    ``fit_cap`` customers, as this month's (:func:`refit_final`). Skipped in flat mode and when the data do not reach ``2 * horizon`` months before
    ``month`` (the refit needs outcomes known by the back-test month).

    ``frames``: this month's ``(train, holdout)`` from :func:`model_frames`, built with the
    same churn definition and ladder. With a time split they are the back-test's two months
    (``month - 2 * horizon`` and ``month - horizon``), so each is used instead of being built
    again (at a million customers: two ABTs and about 1 GB held twice); a frame of another
    month, horizon or churn definition is not used.
    """
    if getattr(ds, "mode", "panel") == "flat" or not month:
        return Skipped("surv_skip_flat")
    months = ds.months()
    as_of, fit_as_of = month_label(month, -horizon), month_label(month, -2 * horizon)
    if fit_as_of not in months:
        return Skipped("mg_backtest_short", months=2 * horizon, first=months[0])
    churn = churn or ChurnDefinition()
    train, holdout = frames if frames is not None else (None, None)
    fit_frame = _model_frame(train, fit_as_of, horizon, churn)
    if fit_frame is None:
        fit_abt = without_draining(build_abt(ds, fit_as_of, horizon, churn, ladder=ladder),
                                   ds, fit_as_of, churn)  # fmt: skip
        fit_frame = prepare_frame(fit_abt, followup_months=horizon)
        del fit_abt  # a million rows each: free what is done with before the next ABT comes in
    refitted = refit_final(model, fit_frame, fit_cap, seed)
    again = None
    if isinstance(ranker, ChurnRanker):
        # The choice among the candidates was made this month: refit it, no cross-validation.
        again = ChurnRanker("panel", refitted, horizon, seed=ranker.seed,
                            sample_cap=ranker.sample_cap, candidates=[ranker.chosen_],
                            fit_cap=fit_cap, cross_validate=False).fit(fit_frame)  # fmt: skip
    del fit_frame
    scored = _model_frame(holdout, as_of, horizon, churn)
    if scored is None:
        scored = without_draining(build_abt(ds, as_of, horizon, churn, ladder=ladder),
                                  ds, as_of, churn)  # fmt: skip
    scored = scored.assign(stage=(rule or LifecycleRule()).stages(scored, "tenure_months"))
    probability = refitted.predict_churn_probability(scored, horizon, "tenure_months")
    probability = np.asarray(probability, float)
    if again is not None:
        probability = np.asarray(again.predict(scored), float)
    scored = scored.assign(
        p_churn=probability, churn_score=probability, aum_at_risk=probability * scored["aum"]
    )
    listed = warning_list(ds, scored, refitted, per_rm, size, min_aum, lang)
    rank = dict(zip(listed["customer_id"], listed["rank"], strict=True))
    customers = pd.DataFrame(
        {
            "customer_id": scored["customer_id"].astype(str),
            "listed": scored["customer_id"].isin(rank).to_numpy(),
            "rank": scored["customer_id"].map(rank).astype("Int64"),
            "tier": scored["tier"].astype(str),
            "aum": scored["aum"].astype(float),
            "p_churn": probability,
            "churned": pd.array(scored["churn_label"], dtype="boolean"),
        }
    )
    calibration = calibration_table(customers["p_churn"], customers["churned"])
    return WarningBacktest(month, as_of, horizon, customers, calibration)


@skippable
def backtest_customers(backtest: WarningBacktest) -> pd.DataFrame:
    """The per-customer artifact: listed or not, probability then, churned by the report month."""
    return backtest.customers[BACKTEST_COLUMNS]


@skippable
def backtest_summary(backtest: WarningBacktest, min_aum: float = 0.0) -> pd.DataFrame:
    """Listed vs not listed: customers, predicted and observed churn rate, AUM that left.

    "Not listed" holds the customers with at least ``min_aum`` who did not make the list:
    the ones an RM could have called instead.
    """
    data = backtest.customers
    known = data["churned"].notna()
    eligible = data["aum"].fillna(0) >= min_aum
    rows = []
    for group, mask in (("listed", data["listed"]), ("not_listed", ~data["listed"] & eligible)):
        part = data[mask & known]
        churned = part["churned"].astype(bool)
        rows.append(
            {
                "group": group,
                "customers": len(part),
                "predicted": float(part["p_churn"].mean()) if len(part) else np.nan,
                "observed": float(churned.mean()) if len(part) else np.nan,
                "churned": int(churned.sum()),
                "aum_lost": float(part.loc[churned, "aum"].sum()),
            }
        )
    return pd.DataFrame(rows)


@skippable
def backtest_display(summary: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The summary with words for the groups and label-key headers."""
    names = {"listed": "mg_bt_listed", "not_listed": "mg_bt_not_listed"}
    return pd.DataFrame(
        {
            "mg_bt_group": [i18n.t(names[g], lang) for g in summary["group"]],
            "customers": summary["customers"],
            "mg_bt_predicted": summary["predicted"],
            "mg_bt_observed": summary["observed"],
            "mg_bt_churned": summary["churned"],
            "mg_bt_aum_lost": summary["aum_lost"],
        }
    )


@skippable
def backtest_bullets(backtest: WarningBacktest, summary: pd.DataFrame, lang: str = "zh") -> Bullets:
    """Three sentences: what happened to the list, against the rest, and can we trust it."""
    listed = summary.set_index("group").loc["listed"]
    others = summary.set_index("group").loc["not_listed"]
    gap = listed["observed"] - listed["predicted"]
    lost = listed["aum_lost"] + others["aum_lost"]
    people = listed["customers"] + others["customers"]
    sentences = [
        i18n.t(
            "mg_bt_churn_listed",
            lang,
            as_of=backtest.as_of,
            month=backtest.month,
            customers=format_number(listed["customers"]),
            churned=format_number(listed["churned"]),
            observed=format_pct(listed["observed"]),
            predicted=format_pct(listed["predicted"]),
        ),
        i18n.t(
            "mg_bt_churn_others",
            lang,
            aum_share=format_pct(listed["aum_lost"] / lost if lost > 0 else 0.0),
            customer_share=format_pct(listed["customers"] / people if people else 0.0),
            observed=format_pct(others["observed"]),
        ),
        i18n.t(
            "mg_bt_trust" if abs(gap) <= _tolerance(listed) else "mg_bt_miscalibrated",
            lang,
            gap=format_number(abs(gap) * 100, 1),
        ),
    ]
    return Bullets(sentences)


def _tolerance(row: pd.Series) -> float:
    """Two standard errors of the list's observed churn rate around the predicted one."""
    p, n = float(row["predicted"]), max(int(row["customers"]), 1)
    return 2 * np.sqrt(max(p * (1 - p), 1e-9) / n)


@skippable
def plot_backtest_calibration(backtest: WarningBacktest, lang: str = "zh", ax=None):
    """Predicted vs observed churn rate by decile of the probability given h months ago."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    ax = ax or plt.subplots(figsize=(6, 4.5))[1]
    table = backtest.calibration
    top = float(max(table["predicted"].max(), table["observed"].max())) * 1.1
    ax.plot([0, top], [0, top], color="#888888", linestyle="--", label=i18n.t("mg_bt_ideal", lang))
    ax.plot(
        table["predicted"], table["observed"], marker="o", color="#4C78A8",
        label=i18n.t("mg_bt_deciles", lang),
    )  # fmt: skip
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(i18n.t("mg_bt_predicted_axis", lang, as_of=backtest.as_of))
    ax.set_ylabel(i18n.t("mg_bt_observed_axis", lang, month=backtest.month))
    ax.set_title(i18n.t("mg_bt_calibration_title", lang))
    ax.legend(loc="upper left", fontsize=9)
    return ax
