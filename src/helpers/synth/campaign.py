"""The randomised retention campaign of the synthetic bank (see :mod:`helpers.synth`).

At the assigned month-end the bank lists at-risk customers, randomises them to control /
rate_coupon / fee_waiver, and each offer shifts both churn hazards over the horizon by a
customer-dependent amount. The true uplift is the closed-form difference of survival
probabilities with the covariates frozen at assignment.
"""

from __future__ import annotations

import numpy as np

from helpers.synth.model import ACTIVE, CAMPAIGN

# Each function takes the running ``helpers.synth.simulation.BankSimulation`` (``simulation``),
# which calls them; importing it here would make the two modules import each other.


def assign_campaign(simulation, t: int) -> None:
    """Pick at-risk customers at month-end c and randomise them in blocks of three."""
    rng = simulation.rng
    horizon = CAMPAIGN["horizon_months"]
    # Retention offers go to at-risk customers worth an offer: AUM of at least min_aum.
    eligible = np.flatnonzero(
        (simulation.status == ACTIVE)
        & (simulation.open_month <= t)
        & (simulation.aum_last >= CAMPAIGN["min_aum"])
    )
    x_all = simulation.covariates(t + 1)
    x = {key: value[eligible] for key, value in x_all.items()}
    eta = simulation.log_hazards(x, t + 1 - simulation.open_month[eligible])
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

    # True uplift with the covariates frozen at campaign time: S = exp(-exp(shift) * L).
    cumulative = np.zeros(selected)
    for k in range(1, horizon + 1):
        eta_k = simulation.log_hazards(x_chosen, t + k - simulation.open_month[chosen])
        cumulative += np.exp(eta_k["hard"]) + np.exp(eta_k["soft"])
    survival_control = np.exp(-cumulative)
    survival_coupon = np.exp(-np.exp(shift_coupon) * cumulative)
    survival_fee = np.exp(-np.exp(shift_fee) * cumulative)
    simulation.true_uplift = {
        "customer_index": chosen,
        "true_uplift_rate_coupon": survival_coupon - survival_control,
        "true_uplift_fee_waiver": survival_fee - survival_control,
        "true_aum_uplift_rate_coupon": aum_before
        * (survival_coupon * (1 + growth_coupon) - survival_control),
        "true_aum_uplift_fee_waiver": aum_before * (survival_fee - survival_control),
        "true_survival_control": survival_control,
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
            t - simulation.open_month[chosen],
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
