"""Final tables, flat export, truth and summary of a finished simulation (see :mod:`helpers.synth`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.config import tier_ladder
from helpers.months import AT_RISK_RULE
from helpers.synth import tables as tables
from helpers.synth.model import (
    ACTIVE,
    CAMPAIGN,
    CHURN_BASELINE,
    CHURN_COVARIATES,
    PROPENSITY,
    PROPENSITY_COVARIATES,
)
from helpers.synth.simulation import BankSimulation


def customers_frame(simulation: BankSimulation) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": simulation.customer_id,
            "name": simulation.name,
            "mobile": simulation.mobile,
            "gender": simulation.gender.astype(object),
            "birth_year": simulation.birth_year.astype(np.int64),
            "open_date": tables.to_timestamps(simulation.open_day),
            "close_date": tables.to_timestamps(simulation.close_day),
            "close_reason": simulation.close_reason,
            "branch_id": simulation.branch_id[simulation.branch],
            "rm_id": np.where(
                simulation.rm >= 0, simulation.rm_names[np.maximum(simulation.rm, 0)], None
            ),
            "channel": simulation.channel.astype(object),
            "risk_level": simulation.risk_level.astype(object),
        }
    )


def holdings_frame(simulation: BankSimulation) -> pd.DataFrame:
    customer, product = np.nonzero(simulation.hold_day >= 0)
    spells = simulation.spells + [
        (customer, product, simulation.hold_day[customer, product], np.full(customer.size, -1))
    ]
    customer = np.concatenate([s[0] for s in spells])
    product = np.concatenate([s[1] for s in spells])
    names = np.array(simulation.products, dtype=object)
    frame = pd.DataFrame(
        {
            "customer_index": np.concatenate([np.arange(simulation.count), customer]),
            "product": np.concatenate(
                [np.full(simulation.count, "current_account", dtype=object), names[product]]
            ),
            "open_day": np.concatenate(
                [simulation.open_day, np.concatenate([s[2] for s in spells])]
            ),
            "close_day": np.concatenate(
                [simulation.close_day, np.concatenate([s[3] for s in spells])]
            ),
        }
    )
    frame = frame.sort_values(["customer_index", "open_day", "product"], kind="stable")
    return pd.DataFrame(
        {
            "customer_id": simulation.customer_id[frame["customer_index"].to_numpy()],
            "product": frame["product"].to_numpy(),
            "open_date": tables.to_timestamps(frame["open_day"].to_numpy()),
            "close_date": tables.to_timestamps(frame["close_day"].to_numpy()),
        }
    )


def campaigns_frame(simulation: BankSimulation) -> pd.DataFrame:
    rows = simulation.campaign_rows
    if rows is None or "retained" not in rows:
        return tables.SCHEMAS["campaigns"].empty_table().to_pandas()
    arms = rows["arm"]
    offer = np.array(["none", "none", "rate_coupon", "fee_waiver"], dtype=object)[arms]
    return pd.DataFrame(
        {
            "customer_id": simulation.customer_id[rows["customer_index"]],
            "campaign_id": CAMPAIGN["campaign_id"],
            "assigned_date": np.datetime64(simulation.month_ends[rows["assigned_month"]], "ns"),
            "group": np.where(arms == 1, "control", "treatment").astype(object),
            "offer": offer,
            "contact_channel": rows["contact_channel"].astype(object),
            "cost": rows["cost"],
            "horizon_months": np.int64(CAMPAIGN["horizon_months"]),
            "retained": rows["retained"],
            "aum_before": rows["aum_before"],
            "aum_after": rows["aum_after"],
        }
    )


def person_months_frame(simulation: BankSimulation) -> pd.DataFrame:
    """Per (month, months on book): customers at risk and their expected churn events."""
    columns = ["month_index", "months_on_book", "at_risk", "events", "events_hard",
               "expected_events", "expected_hard"]  # fmt: skip
    if not simulation.person_months:
        return pd.DataFrame({column: pd.Series(dtype=float) for column in ["month", *columns[1:]]})
    parts = {c: np.concatenate([p[c] for p in simulation.person_months]) for c in columns}
    month_ends = np.asarray(simulation.month_ends.values, dtype="datetime64[ns]")
    return pd.DataFrame(
        {
            "month": month_ends[parts["month_index"]],
            "months_on_book": parts["months_on_book"].astype(np.int64),
            "at_risk": parts["at_risk"].astype(np.int64),
            "events": parts["events"].astype(np.int64),
            "events_hard": parts["events_hard"].astype(np.int64),
            "expected_events": parts["expected_events"],
            "expected_hard": parts["expected_hard"],
        }
    )


def truth_customers_frame(simulation: BankSimulation) -> pd.DataFrame:
    event_month = simulation.event_month
    churned = event_month >= 0
    month_ends = np.asarray(simulation.month_ends.values, dtype="datetime64[ns]")
    frame = pd.DataFrame(
        {
            "customer_id": simulation.customer_id,
            "true_churn_month": np.where(
                churned, month_ends[np.maximum(event_month, 0)], np.datetime64("NaT")
            ),
            "true_churn_type": np.where(churned, simulation.event_type, None),
        }
    )
    p_take = 1.0 - np.exp(simulation.log_no_take)
    for j, product in enumerate(simulation.products):
        frame[f"true_p_take_{product}"] = np.where(
            simulation.take_eligible[:, j], p_take[:, j], np.nan
        )
    names = [
        "true_uplift_rate_coupon",
        "true_uplift_fee_waiver",
        "true_aum_uplift_rate_coupon",
        "true_aum_uplift_fee_waiver",
    ]
    for name in names:
        values = np.full(simulation.count, np.nan)
        if simulation.true_uplift:
            values[simulation.true_uplift["customer_index"]] = simulation.true_uplift[name]
        frame[name] = values
    return frame


def flat(simulation: BankSimulation) -> dict[str, np.ndarray]:
    snapshot = simulation.snapshot
    churned = simulation.event_month >= 0
    last = np.where(churned, simulation.event_month, simulation.months - 1)
    result = {
        "customer_id": simulation.customer_id,
        "tenure_months": last - simulation.open_month,
        "churned": churned,
        "aum": snapshot["aum"],
        "gender": simulation.gender,
        "age": simulation.end_year - simulation.birth_year,
        "payroll": snapshot["payroll"],
        "digital_logins_avg_3m": np.nan_to_num(np.nanmean(snapshot["logins_3m"], axis=0)),
        "txn_count_3m": snapshot["txn_3m"].sum(axis=0),
        "contacts_3m": snapshot["contacts_3m"],
        "campaign_offer": np.array([None, "control", "rate_coupon", "fee_waiver"], dtype=object)[
            simulation.arm
        ],
        "campaign_retained": np.zeros(simulation.count, dtype=bool),
    }
    if simulation.campaign_rows is not None and "retained" in simulation.campaign_rows:
        result["campaign_retained"][simulation.campaign_rows["customer_index"]] = (
            simulation.campaign_rows["retained"]
        )
    for j, product in enumerate(simulation.products):
        result[f"held_{product}"] = snapshot["holds"][:, j]
    return result


def truth(simulation: BankSimulation, settings: dict, summary: dict) -> dict:
    month = [m.strftime("%Y-%m") for m in simulation.month_ends]
    uplift = simulation.true_uplift
    campaign: dict = {"campaign_id": CAMPAIGN["campaign_id"], "run": False}
    if uplift:
        arms = simulation.arm[uplift["customer_index"]]
        campaign = {
            "campaign_id": CAMPAIGN["campaign_id"],
            "run": True,
            "assigned_month": month[simulation.campaign_month],
            "horizon_months": CAMPAIGN["horizon_months"],
            "selection": (
                f"within each tier (aum_total at the assigned month-end), the {CAMPAIGN['at_risk_share']:.0%} "
                f"of active customers with aum_total >= {CAMPAIGN['min_aum']:,.0f} and the highest "
                "true churn hazard for the next month; randomised in blocks of three neighbours "
                "in (tier, payroll, digital_active, risk) order to control / rate_coupon / "
                "fee_waiver, re-randomised until every standardised mean difference (log AUM, "
                "payroll, digital logins, contacts in 3 months, age, tenure, product count; "
                f"vs control) is below {CAMPAIGN['max_smd']}"
            ),
            "effect_model": (
                "each offer adds a log hazard shift to both churn hazards during the horizon: "
                f"rate_coupon {CAMPAIGN['coupon_log_hr_high_aum']} if aum_before >= "
                f"{CAMPAIGN['high_aum']:,.0f}, {CAMPAIGN['coupon_log_hr_mid_aum']} if aum_before >= "
                f"{CAMPAIGN['mid_aum']:,.0f}, else 0; fee_waiver "
                f"{CAMPAIGN['fee_waiver_log_hr_mass_digital']} if aum_before < "
                f"{CAMPAIGN['high_aum']:,.0f} and digital_active at the assigned month, else 0; both "
                f"+{CAMPAIGN['over_contacted_log_hr']} when the customer had >= "
                f"{CAMPAIGN['over_contacted']} contacts in the three months up to the assigned month "
                "(over-contacted customers are annoyed). Retained rate_coupon customers with "
                f"aum_before >= {CAMPAIGN['high_aum']:,.0f} also grow AUM by "
                f"{CAMPAIGN['coupon_aum_growth']:.0%}."
            ),
            "uplift_definition": (
                "true_uplift_<offer> = S_offer - S_control, S = exp(-exp(shift) * L) with L the "
                "sum over the horizon months of the (hard + soft) hazards along the customer's "
                "simulated path (covariates of each month; after a churn, those of the last month "
                "at risk), adjusted for the coupon's AUM growth where the arm grows AUM; "
                "true_aum_uplift_<offer> = S_offer x A_offer - S_control x A_plain, A the "
                "customer's latent balance at the horizon end (x (1 + growth) under the coupon "
                "for high-AUM customers)"
            ),
            "cost": (
                f"rate_coupon: min({CAMPAIGN['coupon_rate']} x aum_before x months retained in the "
                f"horizon / 12, {CAMPAIGN['coupon_cost_cap']:,.0f}); fee_waiver: "
                f"{CAMPAIGN['fee_waiver_cost']:.0f} RMB; control: 0"
            ),
            "parameters": CAMPAIGN,
            "customers": int(arms.size),
            "average_effect": {
                offer: {
                    "retention": float(uplift[f"true_uplift_{offer}"].mean()),
                    "aum": float(uplift[f"true_aum_uplift_{offer}"].mean()),
                }
                for offer in ("rate_coupon", "fee_waiver")
            },
            "mean_true_survival_control": float(uplift["true_survival_control"].mean()),
            "max_standardised_mean_difference": simulation.campaign_max_smd,
        }
    take = simulation.take_window
    return {
        "generator": settings,
        "window": {"first_month": month[0], "last_month": month[-1]},
        "at_risk_rule": AT_RISK_RULE,
        "churn": {
            "link": (
                "cloglog: h_t = 1 - exp(-exp(b0(k_t) + b . x_{t-1})), k_t = months on book in "
                "month t (helpers.months.months_on_book: the opening month is month 1)"
            ),
            "person_months": (
                "truth_person_months.parquet: per month and months on book, the customers at "
                "risk, the churn events that happened (events, events_hard) and the sum of "
                "their true churn probabilities (expected_events, expected_hard). The person-"
                "month survival curve is prod over k of (1 - events_k / at_risk_k), the same "
                "estimator as Kaplan-Meier on the generator's own at-risk rule; with "
                "expected_events it is the model's curve for this population (the two differ "
                "by the chance in who churned)"
            ),
            "competing": (
                "hard and soft act as constant competing hazards within a month: "
                "P(any) = 1 - exp(-(lambda_hard + lambda_soft)), P(hard | event) = "
                "lambda_hard / (lambda_hard + lambda_soft), lambda = exp(b0 + b . x)"
            ),
            "baseline": {
                kind: dict(spec, formula="b0(k) = intercept + early * exp(-k / scale_months)")
                for kind, spec in CHURN_BASELINE.items()
            },
            "covariates": CHURN_COVARIATES,
            "hard_event": "customers.close_date is set in the event month; no monthly_balances rows from that month on",
            "soft_event": (
                "AUM run-off: in the event month aum_total falls to 3-12% of the previous month and "
                "from the next month stays below 900 RMB; time deposit, 理财 and fund spells close; "
                "payroll stops. The account stays open. ChurnDefinition() (3 months below the floor "
                "or 80% under the trailing average) confirms it 2 months after the event month."
            ),
            "true_event_month": "truth_customers.true_churn_month (month-end of the event month)",
        },
        "propensity": {
            "link": "monthly take-up p_t = 1 / (1 + exp(-(intercept + b . x_{t-1}))) for non-holders",
            "covariates": PROPENSITY_COVARIATES,
            "coefficients": PROPENSITY,
            "as_of": month[take[0]] if take else None,
            "horizon_months": 6,
            "true_p_take": (
                "1 - prod over t in (as_of, as_of + 6] of (1 - (1 - churn probability_t) x p_t) for "
                "customers active at as_of and not holding the product then (NaN otherwise)"
            ),
        },
        "campaign": campaign,
        "summary": summary,
    }


def summary(simulation: BankSimulation, rows: dict[str, int]) -> dict:
    months = simulation.months
    at_risk_months = np.clip(
        np.where(simulation.event_month >= 0, simulation.event_month, months - 1)
        - np.maximum(simulation.open_month, 0),
        0,
        None,
    ).sum()
    events = simulation.event_month >= 0
    monthly = events.sum() / max(at_risk_months, 1)
    ladder = tier_ladder()
    active_end = simulation.status == ACTIVE
    tier_index = (
        np.searchsorted(ladder["lower"].to_numpy(), simulation.aum_last[active_end], side="right")
        - 1
    )
    mix = np.bincount(tier_index, minlength=len(ladder)) / max(active_end.sum(), 1)
    return {
        "rows": rows,
        "customers": simulation.count,
        "left_truncated_share": float((simulation.open_month < 0).mean()),
        "opened_in_window": int((simulation.open_month >= 0).sum()),
        "churn_events": {
            "hard": int((simulation.event_type == "hard").sum()),
            "soft": int((simulation.event_type == "soft").sum()),
        },
        "churn_rate_annualised": float(1 - (1 - monthly) ** 12),
        "tier_mix_end": dict(zip(ladder["code"], np.round(mix, 4).tolist(), strict=False)),
    }
