"""Did the retention targets come true? This month's targeting rule replayed on the last campaign.

A retention list is only worth its cost if the customers it picks stay *because of the offer*.
The last campaign is the one time the bank both contacted customers and kept a random
control group, so it is where the list can be checked: the uplift models are cross-fitted on
the campaign (each customer's predicted uplift comes from models that never saw that
customer), the targeting rule picks the ``share`` of campaign customers with the highest
predicted uplift for each offer, and the randomised arms then tell, among those targets, how
many more stayed with the offer than without it. The same for the customers the rule leaves
out: a good rule finds an uplift among its targets and little among the rest.

Nothing looks at a customer's outcome to decide whether they are a target.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers import i18n
from helpers.formatting import Bullets, Skipped, format_number, format_pp, skippable
from helpers.retention.ab import CONTROL
from helpers.retention.last_campaign import Campaign, UpliftModels, _chosen_scores

#: Columns of the ``backtest_retention_customers`` artifact.
BACKTEST_COLUMNS = ["customer_id", "arm", "offer", "targeted", "predicted_uplift", "retained"]


@skippable
def backtest_targets(
    uplift: UpliftModels,
    campaign: Campaign,
    share: float = 0.3,
    gate: pd.DataFrame | Skipped | None = None,
) -> pd.DataFrame | Skipped:
    """One row per campaign customer and offer: targeted by the rule or not, predicted uplift.

    Columns: :data:`BACKTEST_COLUMNS`. A customer is a target for ``offer`` when their
    cross-fitted predicted uplift for it is in the top ``share`` of the campaign customers.
    The uplift is the learner chosen for the offer (``gate``: :func:`evidence`'s table, the
    learner this month's plan ranks with); without it, ``uplift.learner`` or the T-learner.
    """
    frame = campaign.frame.reset_index(drop=True)
    if isinstance(gate, pd.DataFrame) and len(gate):
        predicted = _chosen_scores(uplift, gate).reset_index(drop=True)
    else:
        name = uplift.learner if uplift.learner in uplift.models else "t"
        predicted = uplift.models[name].oof_uplift_.reset_index(drop=True)
    rows = []
    for offer in campaign.offers:
        if offer not in predicted.columns:
            continue
        values = predicted[offer].astype(float)
        cut = values.quantile(1 - share)
        rows.append(
            pd.DataFrame(
                {
                    "customer_id": frame["customer_id"].astype(str),
                    "arm": frame["arm"].astype(str),
                    "offer": offer,
                    "targeted": (values >= cut).to_numpy(),
                    "predicted_uplift": values.to_numpy(),
                    "retained": frame["retained"].astype(bool).to_numpy(),
                }
            )
        )
    if not rows:
        return Skipped("rr_note_needs_campaign")
    return pd.concat(rows, ignore_index=True)[BACKTEST_COLUMNS]


def _difference(part: pd.DataFrame, offer: str) -> dict:
    treated = part.loc[part["arm"] == offer, "retained"]
    control = part.loc[part["arm"] == CONTROL, "retained"]
    if len(treated) == 0 or len(control) == 0:
        return {"observed": np.nan, "standard_error": np.nan, "n_treated": len(treated)}
    p1, p0 = treated.mean(), control.mean()
    se = np.sqrt(p1 * (1 - p1) / len(treated) + p0 * (1 - p0) / len(control))
    return {"observed": float(p1 - p0), "standard_error": float(se), "n_treated": len(treated)}


@skippable
def backtest_retention_summary(targets: pd.DataFrame) -> pd.DataFrame:
    """Per offer and overall: targeted vs not, predicted and observed uplift (treated minus
    control retention within the group, in share points) and its standard error."""
    rows = []
    for offer, data in targets.groupby("offer", sort=True):
        for group, mask in (("targeted", data["targeted"]), ("not_targeted", ~data["targeted"])):
            part = data[mask & data["arm"].isin([offer, CONTROL])]
            rows.append(
                {
                    "offer": offer,
                    "group": group,
                    "customers": int((part["arm"] == offer).sum() + (part["arm"] == CONTROL).sum()),
                    "predicted": float(part["predicted_uplift"].mean()),
                    **_difference(part, offer),
                }
            )
    table = pd.DataFrame(rows)
    pooled = []
    for group in ("targeted", "not_targeted"):
        part = table[(table["group"] == group) & table["observed"].notna()]
        weights = part["n_treated"] / part["n_treated"].sum()
        pooled.append(
            {
                "offer": "all",
                "group": group,
                "customers": int(part["customers"].sum()),
                "predicted": float((weights * part["predicted"]).sum()),
                "observed": float((weights * part["observed"]).sum()),
                "standard_error": float(np.sqrt((weights**2 * part["standard_error"] ** 2).sum())),
                "n_treated": int(part["n_treated"].sum()),
            }
        )
    # The overall rows come first: the index and the summary read group "targeted" there.
    return pd.concat([pd.DataFrame(pooled), table], ignore_index=True)


@skippable
def backtest_retention_display(summary: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The summary with offers and groups in words and label-key headers."""
    names = {"targeted": "rr_bt_targeted", "not_targeted": "rr_bt_not_targeted"}
    offers = [
        i18n.t("rr_bt_all_offers", lang) if o == "all" else i18n.t(f"code.offer.{o}", lang)
        for o in summary["offer"]
    ]
    return pd.DataFrame(
        {
            "rr_col_offer": offers,
            "mg_bt_group": [i18n.t(names[g], lang) for g in summary["group"]],
            "customers": summary["customers"],
            "rr_bt_predicted": summary["predicted"],
            "rr_bt_observed": summary["observed"],
            "rr_bt_low": summary["observed"] - 1.96 * summary["standard_error"],
            "rr_bt_high": summary["observed"] + 1.96 * summary["standard_error"],
        }
    )


@skippable
def backtest_retention_bullets(summary: pd.DataFrame, share: float, lang: str = "zh") -> Bullets:
    """What the offer did among the rule's targets and among the rest; can we trust the rule."""
    overall = summary[summary["offer"] == "all"].set_index("group")
    targeted, rest = overall.loc["targeted"], overall.loc["not_targeted"]
    low = targeted["observed"] - 1.96 * targeted["standard_error"]
    key = "rr_bt_works" if low > 0 else "rr_bt_not_shown"
    return Bullets(
        [
            i18n.t(
                "rr_bt_targets_sentence",
                lang,
                share=format_number(share * 100),
                observed=format_pp(targeted["observed"], lang),
                predicted=format_pp(targeted["predicted"], lang),
            ),
            i18n.t("rr_bt_rest_sentence", lang, observed=format_pp(rest["observed"], lang)),
            i18n.t(key, lang),
        ]
    )
