"""Ground truth and population of the synthetic bank (see :mod:`helpers.synth`).

The constants here *are* the generator's model: the churn hazards, take-up propensities,
campaign effects and composition weights. ``truth.json`` copies them verbatim, so a consumer
can rebuild every covariate from the canonical tables and compare its estimates with them.
"""

from __future__ import annotations

import numpy as np

from helpers.config import cross_sell_products, tier_ladder
from helpers.synth import tables as tables

# ----------------------------------------------------------------------------------------------
# Ground truth. These constants are the generator's model; truth.json copies them verbatim.
# ----------------------------------------------------------------------------------------------

LOG_AUM_CENTRE = 10.0  # ln(1 + AUM) is centred at about 22,000 RMB so intercepts are readable

CHURN_COVARIATES: list[dict] = [
    {
        "name": "log_aum",
        "definition": "ln(1 + monthly_balances.aum_total at month t-1) - 10",
        "hard": -0.15,
        "soft": -0.10,
    },
    {
        "name": "product_count",
        "definition": (
            "number of cross-sell products (helpers.config.cross_sell_products()) with a holdings "
            "spell open at the end of month t-1: open_date <= month-end(t-1) and (close_date is "
            "null or close_date > month-end(t-1))"
        ),
        "hard": -0.25,
        "soft": -0.15,
    },
    {
        "name": "rm_contact_3m",
        "definition": (
            "1 if the customer has at least one contacts row with contact_date in month t-3, "
            "t-2 or t-1 (months before the window count as no contact), else 0"
        ),
        "hard": -0.45,
        "soft": -0.55,
    },
    {
        "name": "digital_active",
        "definition": "1 if monthly_balances.digital_logins at month t-1 >= 4, else 0",
        "hard": -0.35,
        "soft": -0.25,
    },
    {
        "name": "aum_drop_3m",
        "definition": (
            "1 if aum_total at month t-1 < 0.7 x aum_total at month t-4; 0 when the customer "
            "has no monthly_balances row at t-4"
        ),
        "hard": 0.55,
        "soft": 0.65,
    },
    {
        "name": "payroll",
        "definition": "1 if monthly_balances.payroll at month t-1 is true, else 0",
        "hard": -0.60,
        "soft": -0.40,
    },
]

# log baseline hazard at k months on book (helpers.months.months_on_book: the month at risk,
# the opening month being month 1): intercept + early * exp(-k / scale_months). New customers
# leave more often; the hazard settles after a couple of years.
CHURN_BASELINE = {
    "hard": {"intercept": -4.75, "early": 0.8, "scale_months": 24.0},
    "soft": {"intercept": -4.65, "early": 0.6, "scale_months": 24.0},
}

PROPENSITY_COVARIATES: list[dict] = [
    {
        "name": "age_decades",
        "definition": "(calendar year of month t-1 - customers.birth_year - 40) / 10",
    },
    {"name": "log_aum", "definition": CHURN_COVARIATES[0]["definition"]},
    {"name": "payroll", "definition": CHURN_COVARIATES[5]["definition"]},
    {"name": "digital_active", "definition": CHURN_COVARIATES[3]["definition"]},
    {"name": "product_count", "definition": CHURN_COVARIATES[1]["definition"]},
]
PROPENSITY_NAMES = [item["name"] for item in PROPENSITY_COVARIATES]

# Monthly take-up: p = 1 / (1 + exp(-(intercept + sum coefficient x covariate))).
PROPENSITY: dict[str, dict[str, float]] = {
    "time_deposit": dict(intercept=-4.3, age_decades=0.25, log_aum=0.30, payroll=0.20, digital_active=0.0, product_count=0.15),
    "wealth_mgmt": dict(intercept=-4.5, age_decades=0.10, log_aum=0.55, payroll=0.0, digital_active=0.40, product_count=0.25),
    "fund": dict(intercept=-4.9, age_decades=-0.25, log_aum=0.45, payroll=0.10, digital_active=0.70, product_count=0.25),
    "insurance": dict(intercept=-5.2, age_decades=0.30, log_aum=0.35, payroll=0.20, digital_active=0.0, product_count=0.30),
    "credit_card": dict(intercept=-4.4, age_decades=-0.30, log_aum=0.10, payroll=0.80, digital_active=0.40, product_count=0.0),
    "consumer_loan": dict(intercept=-5.6, age_decades=-0.35, log_aum=-0.20, payroll=0.60, digital_active=0.30, product_count=0.10),
    "mortgage": dict(intercept=-6.0, age_decades=-0.30, log_aum=0.15, payroll=0.70, digital_active=0.0, product_count=0.10),
    "mobile_banking": dict(intercept=-3.6, age_decades=-0.50, log_aum=0.05, payroll=0.40, digital_active=0.0, product_count=0.10),
}  # fmt: skip

# Share of customers holding each product when they enter the data (drives initial holdings).
INITIAL_HOLDING = {
    "time_deposit": 0.35, "wealth_mgmt": 0.14, "fund": 0.10, "insurance": 0.09,
    "credit_card": 0.35, "consumer_loan": 0.07, "mortgage": 0.10, "mobile_banking": 0.65,
}  # fmt: skip
# Monthly probability that an open product spell is closed for ordinary reasons.
PRODUCT_CLOSE_RATE = 0.003

# The retention campaign is a *learning* campaign: every active customer with at least
# min_aum (at_risk_share 1.0: all of them, whatever their risk) is randomised, so uplift models
# can learn who responds, not only among the riskiest. Effects are strong in the segments the
# offers are made for (the coupon for balances of 20k and more, the fee waiver for digitally
# active mass customers) and harmful for over-contacted customers; with a 12-month horizon
# and about 2,200 customers per arm the 10k sample shows heterogeneity above its noise for the
# fee waiver (helpers/resources/config/offers.yaml states the same offer terms).
CAMPAIGN = {
    "campaign_id": "RET-01",
    "months_before_end": 12,
    "horizon_months": 12,
    "min_aum": 2_000.0,
    "at_risk_share": 1.0,
    "high_aum": 50_000.0,
    "over_contacted": 2,
    "mid_aum": 20_000.0,
    "coupon_log_hr_high_aum": -1.6,
    "coupon_log_hr_mid_aum": -0.8,
    "fee_waiver_log_hr_mass_digital": -1.5,
    "over_contacted_log_hr": 0.8,
    "coupon_aum_growth": 0.08,
    "coupon_rate": 0.005,
    "coupon_cost_cap": 3000.0,
    "fee_waiver_cost": 50.0,
    "max_smd": 0.05,
}

# AUM composition weights (demand, time deposit, 理财, funds, insurance) by tier index.
TIER_WEIGHTS = np.array(
    [
        [0.72, 0.22, 0.03, 0.02, 0.01],
        [0.38, 0.30, 0.16, 0.08, 0.08],
        [0.20, 0.25, 0.30, 0.14, 0.11],
        [0.10, 0.20, 0.35, 0.20, 0.15],
    ]
)
BALANCE_PRODUCTS = ["time_deposit", "wealth_mgmt", "fund", "insurance"]

ACTIVE, SOFT, CLOSED = 0, 1, 2


def sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


def log_baseline(kind: str, tenure: np.ndarray) -> np.ndarray:
    spec = CHURN_BASELINE[kind]
    return spec["intercept"] + spec["early"] * np.exp(-tenure / spec["scale_months"])


def churn_coefficients(kind: str) -> np.ndarray:
    return np.array([item[kind] for item in CHURN_COVARIATES])


def propensity_matrix(products: list[str]) -> tuple[np.ndarray, np.ndarray]:
    intercepts = np.array([PROPENSITY[p]["intercept"] for p in products])
    slopes = np.array([[PROPENSITY[p][name] for name in PROPENSITY_NAMES] for p in products])
    return intercepts, slopes


# ----------------------------------------------------------------------------------------------
# Population: candidates opened over 15 years, kept if still active when the window opens.
# ----------------------------------------------------------------------------------------------

PRE_WINDOW_MONTHS = 180
NEW_CANDIDATE_SHARE = 0.06


def draw_candidates(rng: np.random.Generator, count: int, months: int, end_year: int) -> dict:
    """Static attributes and window-start state of ``count`` candidate customers."""
    products = cross_sell_products()
    new = rng.random(count) < NEW_CANDIDATE_SHARE
    open_month = np.where(
        new,
        rng.integers(0, months, size=count),
        rng.integers(-PRE_WINDOW_MONTHS, 0, size=count),
    )
    years_before_end = (months - 1 - open_month) / 12.0
    age_end = np.clip(rng.normal(44.0, 13.0, size=count), 18, 85)
    age_end = np.maximum(age_end, 18.0 + years_before_end)  # adults when they opened
    birth_year = (end_year - np.floor(age_end)).astype(np.int64)
    age_start = end_year - birth_year - (months - 1) / 12.0
    age_scaled = (age_start - 45.0) / 13.0

    channel_draw = rng.choice(4, size=count, p=[0.45, 0.25, 0.20, 0.10])
    payroll_probability = np.where(channel_draw == 2, 0.9, 0.22) * np.where(
        age_start > 60, 0.2, 1.0
    )
    payroll = rng.random(count) < payroll_probability
    # Wealth rises with age and payroll; sigma and centre give ~80/15/4.5/0.5 % tiers.
    level = 7.6 + 0.35 * age_scaled + 0.3 * payroll + rng.normal(0.0, 2.75, size=count)
    floor = 1200.0 + 800.0 * rng.random(count)
    aum_start = floor + np.exp(level)

    login_rate = np.exp(
        rng.normal(np.log(6.0), 0.7, size=count) - 0.35 * np.clip(age_scaled, -2, 3)
    )
    tenure_start = np.maximum(-open_month, 0)
    # Initial holdings: same slopes as take-up, intercept set for the target prevalence;
    # longer-tenured customers have accumulated more products.
    intercepts, slopes = propensity_matrix(products)
    features = np.column_stack(
        [
            (age_start - 40.0) / 10.0,
            np.log1p(aum_start) - LOG_AUM_CENTRE,
            payroll.astype(float),
            np.zeros(count),
            np.zeros(count),
        ]
    )
    linear = features @ slopes.T
    linear -= linear.mean(axis=0)
    target = np.array([INITIAL_HOLDING[p] for p in products])
    linear += np.log(target / (1 - target)) + 0.25 * (np.log1p(tenure_start / 12.0) - 1.0)[:, None]
    holds = rng.random((count, len(products))) < sigmoid(linear)
    holds[new, :] &= rng.random((int(new.sum()), len(products))) < 0.3  # fresh customers hold less

    mobile = holds[:, products.index("mobile_banking")]
    digital_active = mobile & (login_rate >= 4.0)
    tier_index = np.searchsorted(tier_ladder()["lower"].to_numpy(), aum_start, side="right") - 1
    contact_rate = np.array([0.04, 0.18, 0.45, 0.9])[tier_index]

    # Survival to the first window month with the window's hazards, covariates frozen at their
    # window-start values (expected values for the month-to-month indicators).
    survival_log = np.zeros(count)
    contact_share = 1.0 - np.exp(-3.0 * contact_rate)
    for kind in ("hard", "soft"):
        coefficients = dict(
            zip([c["name"] for c in CHURN_COVARIATES], churn_coefficients(kind), strict=False)
        )
        relative = np.exp(
            coefficients["log_aum"] * (np.log1p(aum_start) - LOG_AUM_CENTRE)
            + coefficients["product_count"] * holds.sum(axis=1)
            + coefficients["digital_active"] * digital_active
            + coefficients["payroll"] * payroll
        )
        relative *= 1 - contact_share + contact_share * np.exp(coefficients["rm_contact_3m"])
        relative *= 0.94 + 0.06 * np.exp(coefficients["aum_drop_3m"])
        # At risk before the window in months open+1 .. 0 (the window's first month included):
        # months on book 2 .. tenure_start + 1 (helpers.months.AT_RISK_RULE).
        cumulative = np.concatenate(
            [[0.0], np.cumsum(np.exp(log_baseline(kind, np.arange(2, PRE_WINDOW_MONTHS + 3))))]
        )
        survival_log -= cumulative[tenure_start] * relative
    keep = rng.random(count) < np.exp(survival_log)

    return {
        "keep": keep,
        "open_month": open_month,
        "birth_year": birth_year,
        "gender": np.where(rng.random(count) < 0.5, "M", "F"),
        "channel": tables.CHANNELS[channel_draw],
        "risk_level": tables.RISK_LEVELS[
            np.clip(
                rng.choice(5, size=count, p=[0.15, 0.35, 0.30, 0.15, 0.05])
                + (level > 12).astype(int)
                - (age_start > 65).astype(int),
                0,
                4,
            )
        ],
        "payroll": payroll,
        "level": level,
        "floor": floor,
        "login_rate": login_rate,
        "holds": holds,
        "tier_index": tier_index,
    }


def draw_population(rng: np.random.Generator, customers: int, months: int, end_year: int) -> dict:
    """Draw candidates in batches until ``customers`` of them survive to the window."""
    batches: list[dict] = []
    kept = 0
    while kept < customers:
        batch = draw_candidates(rng, max(3 * customers, 3000), months, end_year)
        keep = batch.pop("keep")
        batches.append({key: value[keep] for key, value in batch.items()})
        kept += int(keep.sum())
    population = {key: np.concatenate([b[key] for b in batches])[:customers] for key in batches[0]}
    # Ids are handed out in opening order, as a core banking system would.
    order = np.argsort(population["open_month"], kind="stable")
    return {key: value[order] for key, value in population.items()}
