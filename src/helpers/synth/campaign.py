"""The randomised retention campaign of the synthetic bank (see :mod:`helpers.synth`).

At the assigned month-end the bank lists at-risk customers, randomises them to control /
rate_coupon / fee_waiver, and each offer shifts both churn hazards over the horizon by a
customer-dependent amount. The true uplift is the difference of survival probabilities with
the hazards accumulated along each customer's simulated path over the horizon
(:func:`accumulate_path`, :func:`path_truth`).
"""

from __future__ import annotations

import numpy as np

from helpers.months import months_on_book
from helpers.synth.model import ACTIVE, CAMPAIGN, CHURN_COVARIATES
from helpers.synth.tables import seasonal_factors

# Each function takes the running ``helpers.synth.simulation.BankSimulation`` (``simulation``),
# which calls them; importing it here would make the two modules import each other.


def assign_campaign(simulation, t: int) -> None:
    """Pick at-risk customers at month-end c and randomise them in blocks of three."""
    rng = simulation.rng
    # Retention offers go to at-risk customers worth an offer: AUM of at least min_aum.
    eligible = np.flatnonzero(
        (simulation.status == ACTIVE)
        & (simulation.open_month <= t)
        & (simulation.aum_last >= CAMPAIGN["min_aum"])
    )
    x_all = simulation.covariates(t + 1)
    x = {key: value[eligible] for key, value in x_all.items()}
    eta = simulation.log_hazards(x, months_on_book(t + 1, simulation.open_month[eligible]))
    risk = np.exp(eta["hard"]) + np.exp(eta["soft"])
    # The early-warning list takes the riskiest share within each tier, so that valuable
    # customers are not crowded out by the many small accounts with higher raw risk.
    tier = np.searchsorted(simulation.tier_lower, simulation.aum_last[eligible], side="right") - 1
    order = np.lexsort((-risk, tier))
    tier_sorted = tier[order]
    first_of_tier = np.searchsorted(tier_sorted, tier_sorted, side="left")
    tier_size = np.bincount(tier_sorted, minlength=len(simulation.tier_lower))[tier_sorted]
    rank_in_tier = np.arange(order.size) - first_of_tier
    order = order[rank_in_tier < np.ceil(CAMPAIGN["at_risk_share"] * tier_size)]
    selected = order.size // 3 * 3
    # Stratified randomisation: blocks of three neighbours in (tier, payroll, digital, risk)
    # order, arms permuted within each block, so the arms balance on the main drivers.
    strata = np.lexsort(
        (-risk[order], x["digital_active"][order], x["payroll"][order], tier[order])
    )
    order = order[strata][:selected]
    chosen = eligible[order]
    x_chosen = {key: value[order] for key, value in x.items()}
    arms = randomise(simulation, chosen, t)

    aum_before = simulation.aum_last[chosen]
    high_aum = aum_before >= CAMPAIGN["high_aum"]
    over_contacted = simulation.contact_history.sum(axis=0)[chosen] >= CAMPAIGN["over_contacted"]
    digital = x_chosen["digital_active"] > 0
    harm = np.where(over_contacted, CAMPAIGN["over_contacted_log_hr"], 0.0)
    shift_coupon = np.select(
        [high_aum, aum_before >= CAMPAIGN["mid_aum"]],
        [CAMPAIGN["coupon_log_hr_high_aum"], CAMPAIGN["coupon_log_hr_mid_aum"]],
        0.0,
    )
    shift_coupon = shift_coupon + harm
    shift_fee = (
        np.where(~high_aum & digital, CAMPAIGN["fee_waiver_log_hr_mass_digital"], 0.0) + harm
    )
    growth_coupon = np.where(high_aum, CAMPAIGN["coupon_aum_growth"], 0.0)

    simulation.arm[chosen] = arms
    simulation.campaign_shift[chosen] = np.select(
        [arms == 2, arms == 3], [shift_coupon, shift_fee], 0.0
    )
    simulation.coupon_growth[chosen] = np.where(arms == 2, growth_coupon, 0.0)

    # The truth is accumulated along each customer's simulated path over the horizon
    # (accumulate_path), not with the covariates frozen at assignment.
    zeros = np.zeros(selected)
    simulation.campaign_path = {
        "customer_index": chosen,
        "first_hard": zeros.copy(),
        "first_soft": zeros.copy(),
        "rest_hard": zeros.copy(),
        "rest_soft": zeros.copy(),
        "last_hard": np.exp(eta["hard"][order]),
        "last_soft": np.exp(eta["soft"][order]),
        "shift_coupon": shift_coupon,
        "shift_fee": shift_fee,
        "grown": (arms == 2) & high_aum,
        "high_aum": high_aum,
        "over_contacted": over_contacted,
        "digital_active": digital,
    }
    simulation.campaign_rows = {
        "customer_index": chosen,
        "arm": arms,
        "aum_before": aum_before,
        "assigned_month": t,
        "contact_channel": np.where(
            arms == 1, "none", np.where(rng.random(selected) < 0.6, "sms", "phone")
        ),
    }


def accumulate_path(simulation, t: int, risk_index: np.ndarray, eta: dict) -> None:
    """Add month t's unshifted hazards of the campaign customers along their simulated path.

    A customer who has already left keeps the hazards of their last month at risk (their
    covariates freeze at the event), so every customer gets one value per horizon month.
    """
    path = simulation.campaign_path
    chosen = path["customer_index"]
    hard = np.full(simulation.count, np.nan)
    soft = np.full(simulation.count, np.nan)
    hard[risk_index] = np.exp(eta["hard"])
    soft[risk_index] = np.exp(eta["soft"])
    hard, soft = hard[chosen], soft[chosen]
    at_risk = ~np.isnan(hard)
    path["last_hard"] = np.where(at_risk, hard, path["last_hard"])
    path["last_soft"] = np.where(at_risk, soft, path["last_soft"])
    which = "first" if t == simulation.campaign_month + 1 else "rest"
    path[f"{which}_hard"] += path["last_hard"]
    path[f"{which}_soft"] += path["last_soft"]


def path_truth(simulation, t: int) -> dict[str, np.ndarray]:
    """True uplift of each campaign customer from the hazards along their simulated path.

    ``S_arm = exp(-exp(shift_arm) * L_arm)`` with ``L`` the horizon's cumulative (hard + soft)
    hazard along the path; a high-AUM customer's coupon AUM growth lowers the hazards of the
    months after the first (log_aum is higher), so ``L`` is adjusted for the arm's growth. AUM
    kept: ``S_arm x`` the customer's latent balance at the horizon end (with the growth under
    the coupon).
    """
    path = simulation.campaign_path
    chosen = path["customer_index"]
    coefficient = {item["name"]: item for item in CHURN_COVARIATES}["log_aum"]
    log_growth = np.log1p(CAMPAIGN["coupon_aum_growth"])
    cumulative = {}
    for label, grown in (("plain", np.zeros(chosen.size, bool)), ("grown", path["high_aum"])):
        total = np.zeros(chosen.size)
        for kind in ("hard", "soft"):
            # rate on the plain path = observed rate x exp(-beta x log growth) when it grew
            change = coefficient[kind] * log_growth
            factor = np.exp((grown.astype(float) - path["grown"]) * change)
            total += path[f"first_{kind}"] + path[f"rest_{kind}"] * factor
        cumulative[label] = total
    survival_control = np.exp(-cumulative["plain"])
    survival_coupon = np.exp(-np.exp(path["shift_coupon"]) * cumulative["grown"])
    survival_fee = np.exp(-np.exp(path["shift_fee"]) * cumulative["plain"])
    season = seasonal_factors(simulation.month_ends[t])["aum"]
    latent = np.exp(simulation.level + simulation.dev + simulation.shock)[chosen]
    latent_plain = latent / np.where(path["grown"], 1 + CAMPAIGN["coupon_aum_growth"], 1.0)
    floor = simulation.floor[chosen]
    aum_plain = (floor + latent_plain) * season
    aum_coupon = (
        floor + latent_plain * np.where(path["high_aum"], 1 + CAMPAIGN["coupon_aum_growth"], 1.0)
    ) * season
    return {
        "customer_index": chosen,
        "true_uplift_rate_coupon": survival_coupon - survival_control,
        "true_uplift_fee_waiver": survival_fee - survival_control,
        "true_aum_uplift_rate_coupon": survival_coupon * aum_coupon - survival_control * aum_plain,
        "true_aum_uplift_fee_waiver": (survival_fee - survival_control) * aum_plain,
        "true_survival_control": survival_control,
        "high_aum": path["high_aum"],
        "over_contacted": path["over_contacted"],
        "digital_active": path["digital_active"],
    }


def randomise(simulation, chosen: np.ndarray, t: int) -> np.ndarray:
    """Permute the three arms within each block; re-randomise until the arms balance.

    Re-randomisation (Morgan and Rubin, 2012) keeps the first of up to 200 blocked draws
    whose standardised mean differences on the campaign-time covariates are all below
    CAMPAIGN["max_smd"] (else the best draw), which keeps the comparison honest in a sample
    of a few hundred customers per arm.
    """
    balance = np.column_stack(
        [
            np.log1p(simulation.aum_last[chosen]),
            simulation.payroll[chosen],
            simulation.logins_last[chosen],
            simulation.contact_history.sum(axis=0)[chosen],
            simulation.month_ends[t].year - simulation.birth_year[chosen],
            months_on_book(t, simulation.open_month[chosen]),
            simulation.holds[chosen].sum(axis=1),
        ]
    ).astype(float)
    spread = balance.std(axis=0)
    spread[spread == 0] = 1.0
    best, best_smd = None, np.inf
    for _ in range(200):
        arms = (np.argsort(simulation.rng.random((chosen.size // 3, 3)), axis=1) + 1).ravel()
        means = np.stack([balance[arms == arm].mean(axis=0) for arm in (1, 2, 3)])
        smd = (np.abs(means[1:] - means[0]) / spread).max()
        if smd < best_smd:
            best, best_smd = arms, smd
        if smd < CAMPAIGN["max_smd"]:
            break
    simulation.campaign_max_smd = float(best_smd)
    return best.astype(np.int8)


def campaign_outcome(simulation, t: int, aum: np.ndarray) -> None:
    rows = simulation.campaign_rows
    chosen, arms = rows["customer_index"], rows["arm"]
    horizon = CAMPAIGN["horizon_months"]
    event_month = simulation.event_month[chosen]
    retained = event_month < 0
    months_kept = np.where(retained, horizon, event_month - rows["assigned_month"] - 1)
    coupon_cost = np.minimum(
        CAMPAIGN["coupon_rate"] * rows["aum_before"] * months_kept / 12.0,
        CAMPAIGN["coupon_cost_cap"],
    )
    rows["retained"] = retained
    rows["aum_after"] = np.where(retained, aum[chosen], 0.0)
    rows["cost"] = np.round(
        np.select([arms == 2, arms == 3], [coupon_cost, CAMPAIGN["fee_waiver_cost"]], 0.0), 2
    )
    simulation.true_uplift = path_truth(simulation, t)
