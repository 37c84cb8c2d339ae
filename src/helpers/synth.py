"""Synthetic retail bank with known ground truth (``fishpond synth``).

The generator simulates a Chinese retail bank's existing customers month by month and writes
the canonical tables of ``docs/architecture.md`` §1, a flat GB18030 export (§7) and the ground
truth (§8). Everything random comes from one ``numpy.random.Generator(seed)``; arrays are
vectorised across customers and only the months are looped, so 1M customers x 24 months fits
on a small machine.

How the truth stays recoverable (DESIGN.md §4.1):

- Customers open over the 15 years before the window; only those still active when the
  window opens are kept (left truncation), using the same hazards as in the window.
- Two competing monthly hazards, hard closure and soft AUM run-off, each with a
  complementary log-log link ``h = 1 - exp(-exp(b0(tenure) + b . x))``. Within a month the two
  act as constant competing hazards, so the cause-specific ``b`` are true Cox log hazard ratios.
  Every covariate ``x`` is an observable function of the tables at month ``t-1``
  (:data:`CHURN_COVARIATES` gives the exact definitions, copied into ``truth.json``).
- Product take-up: a logistic monthly hazard per product in the same lagged covariates.
- A randomised retention campaign multiplies both churn hazards over its horizon by an offer-
  and customer-dependent factor; the true uplift is a closed-form difference of survival
  probabilities given the covariates at campaign time.

Rule for every hazard: a customer is at risk in month ``t`` when they have a
``monthly_balances`` row at ``t-1`` and no churn event yet. Nobody churns or takes a product
in the first window month, and new customers are at risk from the month after they open.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers import synth_tables as tables
from helpers.config import cross_sell_products, product_catalogue, tier_ladder

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
        "soft": 0.75,
    },
    {
        "name": "payroll",
        "definition": "1 if monthly_balances.payroll at month t-1 is true, else 0",
        "hard": -0.60,
        "soft": -0.40,
    },
]

# log baseline hazard at tenure k months: intercept + early * exp(-k / scale_months). New
# customers leave more often; the hazard settles after a couple of years.
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

CAMPAIGN = {
    "campaign_id": "RET-01",
    "months_before_end": 9,
    "horizon_months": 6,
    "at_risk_share": 0.30,
    "high_aum": 50_000.0,
    "over_contacted": 3,
    "coupon_log_hr_high_aum": -0.8,
    "fee_waiver_log_hr_mass_digital": -0.6,
    "over_contacted_log_hr": 0.5,
    "coupon_aum_growth": 0.08,
    "coupon_rate": 0.005,
    "coupon_cost_cap": 3000.0,
    "fee_waiver_cost": 50.0,
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


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


def _log_baseline(kind: str, tenure: np.ndarray) -> np.ndarray:
    spec = CHURN_BASELINE[kind]
    return spec["intercept"] + spec["early"] * np.exp(-tenure / spec["scale_months"])


def _churn_coefficients(kind: str) -> np.ndarray:
    return np.array([item[kind] for item in CHURN_COVARIATES])


def _propensity_matrix(products: list[str]) -> tuple[np.ndarray, np.ndarray]:
    intercepts = np.array([PROPENSITY[p]["intercept"] for p in products])
    slopes = np.array([[PROPENSITY[p][name] for name in PROPENSITY_NAMES] for p in products])
    return intercepts, slopes


# ----------------------------------------------------------------------------------------------
# Population: candidates opened over 15 years, kept if still active when the window opens.
# ----------------------------------------------------------------------------------------------

PRE_WINDOW_MONTHS = 180
NEW_CANDIDATE_SHARE = 0.06


def _draw_candidates(rng: np.random.Generator, count: int, months: int, end_year: int) -> dict:
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
    intercepts, slopes = _propensity_matrix(products)
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
    holds = rng.random((count, len(products))) < _sigmoid(linear)
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
        coefficients = dict(zip([c["name"] for c in CHURN_COVARIATES], _churn_coefficients(kind), strict=False))
        relative = np.exp(
            coefficients["log_aum"] * (np.log1p(aum_start) - LOG_AUM_CENTRE)
            + coefficients["product_count"] * holds.sum(axis=1)
            + coefficients["digital_active"] * digital_active
            + coefficients["payroll"] * payroll
        )
        relative *= 1 - contact_share + contact_share * np.exp(coefficients["rm_contact_3m"])
        relative *= 0.94 + 0.06 * np.exp(coefficients["aum_drop_3m"])
        cumulative = np.concatenate(
            [[0.0], np.cumsum(np.exp(_log_baseline(kind, np.arange(1, PRE_WINDOW_MONTHS + 2))))]
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


def _draw_population(rng: np.random.Generator, customers: int, months: int, end_year: int) -> dict:
    """Draw candidates in batches until ``customers`` of them survive to the window."""
    batches: list[dict] = []
    kept = 0
    while kept < customers:
        batch = _draw_candidates(rng, max(3 * customers, 3000), months, end_year)
        keep = batch.pop("keep")
        batches.append({key: value[keep] for key, value in batch.items()})
        kept += int(keep.sum())
    population = {key: np.concatenate([b[key] for b in batches])[:customers] for key in batches[0]}
    # Ids are handed out in opening order, as a core banking system would.
    order = np.argsort(population["open_month"], kind="stable")
    return {key: value[order] for key, value in population.items()}


# ----------------------------------------------------------------------------------------------
# The month-by-month simulation.
# ----------------------------------------------------------------------------------------------


class _Simulation:
    """State of every customer, advanced one month at a time (vectorised across customers)."""

    def __init__(
        self,
        customers: int,
        months: int,
        end_month: str,
        seed: int,
        transactions_per_month: float,
    ):
        self.rng = np.random.default_rng(seed)
        self.months = months
        self.month_ends = tables.month_ends(end_month, months)
        self.end_year = int(self.month_ends[-1].year)
        self.products = cross_sell_products()
        self.transactions_per_month = transactions_per_month
        rng = self.rng
        population = _draw_population(rng, customers, months, self.end_year)
        self.__dict__.update(population)
        count = self.count = customers
        self.customer_id = tables.customer_ids(count, rng)
        self.id_array = pa.array(self.customer_id, type=pa.string())
        self.name = tables.fake_names(count, rng)
        self.mobile = tables.fake_mobiles(count, rng)

        # Opening day: a random day of the opening month (months before the window included).
        first_month = np.datetime64(self.month_ends[0].strftime("%Y-%m"), "M")
        open_months = first_month + self.open_month
        month_start = open_months.astype("datetime64[D]").astype(np.int64)
        month_length = (open_months + 1).astype("datetime64[D]").astype(np.int64) - month_start
        self.open_day = month_start + (rng.random(count) * month_length).astype(np.int64)
        self.window_start_day = tables.day_number(self.month_ends[0].replace(day=1))

        # Branches and relationship managers: higher tiers nearly always have an RM.
        self.branch_count = int(np.clip(count // 400, 5, 2000))
        self.rm_count = max(2 * self.branch_count, count // 150)
        self.branch = rng.integers(0, self.branch_count, size=count)
        width = max(3, len(str(self.branch_count)))
        self.branch_id = np.array(
            [f"B{i + 1:0{width}d}" for i in range(self.branch_count)], dtype=object
        )
        self.rm_names = np.array([f"RM{i + 1:05d}" for i in range(self.rm_count)], dtype=object)
        rms_in_branch = (self.rm_count - self.branch + self.branch_count - 1) // self.branch_count
        self.branch_rm = self.branch + self.branch_count * (
            rng.random(count) * rms_in_branch
        ).astype(np.int64)
        has_rm = rng.random(count) < np.array([0.10, 0.60, 0.95, 1.0])[self.tier_index]
        self.rm = np.where(has_rm, self.branch_rm, -1)

        # Behavioural scales fixed per customer.
        wealth = np.exp(self.level)
        self.txn_rate = transactions_per_month * np.exp(rng.normal(0.0, 0.5, size=count) - 0.125)
        self.txn_scale = (
            150.0 * (1.0 + wealth / 20_000.0) ** 0.35 * np.exp(rng.normal(0, 0.3, size=count))
        )
        self.salary = np.exp(rng.normal(np.log(8000.0), 0.5, size=count))
        self.spend_scale = (
            np.exp(rng.normal(np.log(1500.0), 0.8, size=count)) * (1 + wealth / 200_000) ** 0.3
        )
        self.mortgage_amount = np.exp(rng.normal(np.log(600_000.0), 0.6, size=count))
        self.consumer_amount = np.exp(rng.normal(np.log(50_000.0), 0.7, size=count))
        self.weight_noise = rng.gamma(4.0, 0.25, size=(count, 5))
        self.dev = rng.normal(0.0, 0.15, size=count)
        self.shock = np.zeros(count)

        # Holding spells: the open spell's start day per product (-1 = not held).
        start = np.maximum(self.window_start_day - self.open_day, 1)
        initial_day = np.where(
            self.open_month[:, None] < 0,
            self.open_day[:, None]
            + (rng.random((count, len(self.products))) * start[:, None]).astype(np.int64),
            self.open_day[:, None],
        )
        self.hold_day = np.where(self.holds, initial_day, -1)
        self.spells: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

        self.status = np.full(count, ACTIVE, dtype=np.int8)
        self.event_month = np.full(count, -1)
        self.event_type = np.full(count, "", dtype=object)
        self.close_day = np.full(count, -1, dtype=np.int64)
        self.close_reason = np.full(count, None, dtype=object)
        # Lagged observables: AUM at t-1..t-4 (NaN = no row), contacts in t-1..t-3.
        self.aum_history = np.full((4, count), np.nan)
        self.contact_history = np.zeros((3, count), dtype=np.int64)
        self.logins_last = np.zeros(count, dtype=np.int64)
        self.aum_last = np.zeros(count)
        # Campaign arms: 0 none, 1 control, 2 rate_coupon, 3 fee_waiver; log hazard shift.
        self.arm = np.zeros(count, dtype=np.int8)
        self.campaign_shift = np.zeros(count)
        self.tier_lower = tier_ladder()["lower"].to_numpy()
        # Campaign month c (assigned at its month-end) and the propensity truth window (A, A+6].
        campaign_month = months - 1 - CAMPAIGN["months_before_end"]
        self.campaign_month = campaign_month if campaign_month >= 4 else None
        as_of = months - 1 - 6
        self.take_window = (as_of, as_of + 6) if as_of >= 1 else None
        self.log_no_take = np.zeros((count, len(self.products)))
        self.take_eligible = np.zeros((count, len(self.products)), dtype=bool)
        self.coupon_growth = np.zeros(count)
        self.campaign_rows: dict | None = None
        self.true_uplift: dict[str, np.ndarray] = {}
        # Flat-export snapshot: values at the last month a customer was active.
        self.snapshot = {
            "aum": np.zeros(count),
            "logins_3m": np.full((3, count), np.nan),
            "txn_3m": np.zeros((3, count), dtype=np.int64),
            "contacts_3m": np.zeros(count, dtype=np.int64),
            "holds": self.holds.copy(),
            "payroll": self.payroll.copy(),
            "month": np.full(count, -1),
        }

    # -- covariates -----------------------------------------------------------------------
    def covariates(self, t: int) -> dict[str, np.ndarray]:
        """Observable covariates at month t-1 (see CHURN_COVARIATES / PROPENSITY_COVARIATES)."""
        aum_previous = np.nan_to_num(self.aum_history[0])
        lag4 = self.aum_history[3]
        year = self.month_ends[t - 1].year
        return {
            "log_aum": np.log1p(aum_previous) - LOG_AUM_CENTRE,
            "product_count": self.holds.sum(axis=1).astype(float),
            "rm_contact_3m": (self.contact_history.sum(axis=0) > 0).astype(float),
            "digital_active": (self.logins_last >= 4).astype(float),
            "aum_drop_3m": (~np.isnan(lag4) & (aum_previous < 0.7 * np.nan_to_num(lag4))).astype(
                float
            ),
            "payroll": self.payroll.astype(float),
            "age_decades": (year - self.birth_year - 40.0) / 10.0,
        }

    def log_hazards(self, x: dict[str, np.ndarray], tenure: np.ndarray) -> dict[str, np.ndarray]:
        result = {}
        for kind in ("hard", "soft"):
            eta = _log_baseline(kind, tenure)
            for item in CHURN_COVARIATES:
                eta = eta + item[kind] * x[item["name"]]
            result[kind] = eta
        return result

    def take_probabilities(self, x: dict[str, np.ndarray]) -> np.ndarray:
        intercepts, slopes = _propensity_matrix(self.products)
        features = np.column_stack([x[name] for name in PROPENSITY_NAMES])
        return _sigmoid(features @ slopes.T + intercepts)

    # -- one month --------------------------------------------------------------------------
    def step(self, t: int, writers: dict[str, tables.TableWriter | None]) -> None:
        rng = self.rng
        count = self.count
        month_end = self.month_ends[t]
        season = tables.seasonal_factors(month_end)
        end_day = tables.day_number(month_end)
        start_day = end_day - month_end.day + 1
        length = month_end.day
        tenure = t - self.open_month

        # 1. Churn and take-up for customers at risk (row at t-1, no event yet).
        at_risk = (self.open_month < t) & (self.status == ACTIVE) & (t >= 1)
        risk_index = np.flatnonzero(at_risk)
        if risk_index.size:
            x_all = self.covariates(t)
            x = {key: value[risk_index] for key, value in x_all.items()}
            eta = self.log_hazards(x, tenure[risk_index])
            shift = self.campaign_shift[risk_index] if self.in_campaign_horizon(t) else 0.0
            hard_rate = np.exp(eta["hard"] + shift)
            soft_rate = np.exp(eta["soft"] + shift)
            total = hard_rate + soft_rate
            churn_probability = 1.0 - np.exp(-total)
            event = rng.random(risk_index.size) < churn_probability
            hard = event & (rng.random(risk_index.size) < hard_rate / total)
            soft = event & ~hard

            # Take-up happens among customers who did not leave this month.
            take_probability = self.take_probabilities(x)
            if self.take_window is not None and self.take_window[0] < t <= self.take_window[1]:
                effective = (1.0 - churn_probability)[:, None] * take_probability
                self.log_no_take[risk_index] += np.log1p(-effective)
            stays = ~event
            holds = self.holds[risk_index]
            takes = ~holds & stays[:, None] & (rng.random(holds.shape) < take_probability)
            closes = holds & stays[:, None] & (rng.random(holds.shape) < PRODUCT_CLOSE_RATE)
            day = start_day + (rng.random(holds.shape) * length).astype(np.int64)
            self._close_spells(risk_index, closes, day)
            self.holds[risk_index] = (holds & ~closes) | takes
            self.hold_day[risk_index] = np.where(takes, day, self.hold_day[risk_index])

            hard_index = risk_index[hard]
            soft_index = risk_index[soft]
            self.status[hard_index] = CLOSED
            self.status[soft_index] = SOFT
            self.event_month[risk_index[event]] = t
            self.event_type[hard_index] = "hard"
            self.event_type[soft_index] = "soft"
            close_day = start_day + (rng.random(hard_index.size) * length).astype(np.int64)
            self.close_day[hard_index] = close_day
            self.close_reason[hard_index] = tables.CLOSE_REASONS[
                rng.choice(5, size=hard_index.size, p=[0.35, 0.2, 0.2, 0.1, 0.15])
            ]
            self._close_spells(hard_index, self.holds[hard_index], close_day[:, None])
            self.holds[hard_index] = False
            # A run-off moves the investments away: time deposit, 理财 and funds are closed.
            balance_columns = [
                self.products.index(p) for p in ("time_deposit", "wealth_mgmt", "fund")
            ]
            run_off = np.zeros((soft_index.size, len(self.products)), dtype=bool)
            run_off[:, balance_columns] = self.holds[soft_index][:, balance_columns]
            soft_day = start_day + (rng.random(run_off.shape) * length).astype(np.int64)
            self._close_spells(soft_index, run_off, soft_day)
            self.holds[soft_index] &= ~run_off
            self.payroll[soft_index] = False

        # 2. Balances and behaviour of everyone with a row this month.
        exists = (self.open_month <= t) & (self.status != CLOSED)
        active = exists & (self.status == ACTIVE)
        soft_now = exists & (self.status == SOFT)
        index = np.flatnonzero(exists)
        active_index = np.flatnonzero(active)

        noise = rng.normal(size=(3, count))
        shock_hit = rng.random(count) < 0.02
        self.level[active] += 0.002 + 0.03 * noise[0, active]
        if self.campaign_month is not None and t == self.campaign_month + 1:
            grow = self.coupon_growth > 0
            self.level[grow] += np.log1p(self.coupon_growth[grow])
        self.dev[active] = 0.7 * self.dev[active] + 0.1 * noise[1, active]
        self.shock[active] = 0.75 * self.shock[active] + np.where(
            shock_hit[active], np.log(rng.uniform(0.25, 0.6, size=active_index.size)), 0.0
        )
        gross = self.floor + np.exp(self.level + self.dev + self.shock)
        tier_index = np.searchsorted(self.tier_lower, gross, side="right") - 1
        product_mask = np.column_stack(
            [np.ones(count, dtype=bool)]
            + [self.holds[:, self.products.index(p)] for p in BALANCE_PRODUCTS]
        )
        weights = TIER_WEIGHTS[tier_index] * self.weight_noise * product_mask
        weights /= weights.sum(axis=1, keepdims=True)
        parts = weights * (gross * season["aum"])[:, None]

        # Run-off: AUM collapses in the event month and stays under the soft-churn floor.
        run_off_aum = np.where(
            self.event_month == t,
            self.aum_last * rng.uniform(0.03, 0.12, size=count),
            np.minimum(
                self.aum_last * rng.uniform(0.2, 0.6, size=count), 300 + 600 * rng.random(count)
            ),
        )
        parts[soft_now] = 0.0
        parts[soft_now, 0] = run_off_aum[soft_now]
        parts = np.round(parts, 2)
        aum = parts.sum(axis=1)

        months_held = (end_day - self.hold_day) / 30.4
        mortgage = self.holds[:, self.products.index("mortgage")]
        consumer = self.holds[:, self.products.index("consumer_loan")]
        loan = np.where(
            mortgage,
            self.mortgage_amount
            * np.maximum(0.2, 1 - 0.004 * months_held[:, self.products.index("mortgage")]),
            0.0,
        )
        loan += np.where(
            consumer,
            self.consumer_amount
            * np.maximum(0.1, 1 - 0.03 * months_held[:, self.products.index("consumer_loan")]),
            0.0,
        )

        switch = rng.random(count)
        young = (month_end.year - self.birth_year) < 60
        self.payroll[active] = np.where(
            self.payroll[active], switch[active] >= 0.004, (switch[active] < 0.003) & young[active]
        )
        mobile = self.holds[:, self.products.index("mobile_banking")]
        login_mean = np.where(
            active, self.login_rate * (1.1 if season["spring_festival"] else 1.0), 0.3
        )
        logins = np.where(mobile & exists, rng.poisson(login_mean), 0)
        credit_card = self.holds[:, self.products.index("credit_card")]
        spend = self.spend_scale * np.exp(rng.normal(0, 0.3, size=count)) * season["spend"]
        spend *= np.where(credit_card, 1.5, 0.5) * np.where(active, 1.0, 0.05)

        salary = active & self.payroll
        txn_mean = np.where(active, self.txn_rate * season["transactions"], 0.3)
        txn_count = np.where(exists, rng.poisson(txn_mean) + salary, 0).astype(np.int64)
        txn_amount = self._transactions(
            t, index, txn_count, salary, mobile, start_day, length, writers
        )

        # RM contacts (回访): more for higher tiers, and RMs react to a falling balance.
        falling = ~np.isnan(self.aum_history[2]) & (aum < 0.7 * np.nan_to_num(self.aum_history[2]))
        contact_rate = np.array([0.04, 0.18, 0.45, 0.9])[tier_index] * (1 + 1.5 * falling)
        contact_rate = np.where(self.rm < 0, 0.03 * (1 + 1.5 * falling), contact_rate)
        contact_rate = np.where(active, contact_rate, np.where(soft_now, 0.1, 0.0))
        contacts = rng.poisson(contact_rate).astype(np.int64)
        self._contacts(t, contacts, falling | soft_now, tier_index, start_day, length, writers)

        writers["monthly_balances"].write(
            index,
            {
                "month": np.full(index.size, np.datetime64(month_end, "ns")),
                "demand_deposit": parts[index, 0],
                "time_deposit": parts[index, 1],
                "wealth_mgmt": parts[index, 2],
                "funds": parts[index, 3],
                "insurance": parts[index, 4],
                "aum_total": aum[index],
                "loan_balance": np.round(loan[index], 2),
                "card_spend": np.round(spend[index], 2),
                "txn_count": txn_count[index],
                "txn_amount": txn_amount[index],
                "digital_logins": logins[index].astype(np.int64),
                "payroll": self.payroll[index].copy(),
            },
        )

        # 3. Remember this month for the lagged covariates and the flat export.
        snapshot = self.snapshot
        snapshot["aum"][active] = aum[active]
        # Rings hold the last three active months (newest first); they freeze at churn.
        for key, values in (("logins_3m", logins), ("txn_3m", txn_count)):
            ring = snapshot[key]
            ring[1:, active] = ring[:-1, active]
            ring[0, active] = values[active]
        snapshot["holds"][active] = self.holds[active]
        snapshot["payroll"][active] = self.payroll[active]
        snapshot["month"][active] = t
        self.contact_history = np.roll(self.contact_history, 1, axis=0)
        self.contact_history[0] = contacts
        snapshot["contacts_3m"][active] = self.contact_history.sum(axis=0)[active]
        self.aum_history = np.roll(self.aum_history, 1, axis=0)
        self.aum_history[0] = np.where(exists, aum, np.nan)
        self.aum_last = np.where(exists, aum, self.aum_last)
        self.logins_last = np.where(exists, logins, 0)

        if self.take_window is not None and t == self.take_window[0]:
            self.take_eligible = ~self.holds & (exists & (self.status == ACTIVE))[:, None]
        if self.campaign_month is not None and t == self.campaign_month:
            self._assign_campaign(t)
        if (
            self.campaign_month is not None
            and t == self.campaign_month + CAMPAIGN["horizon_months"]
        ):
            self._campaign_outcome(t, aum)

    def in_campaign_horizon(self, t: int) -> bool:
        if self.campaign_month is None:
            return False
        return self.campaign_month < t <= self.campaign_month + CAMPAIGN["horizon_months"]

    def _close_spells(
        self, customer_index: np.ndarray, closes: np.ndarray, close_day: np.ndarray
    ) -> None:
        rows, product = np.nonzero(closes)
        if rows.size == 0:
            return
        day = np.broadcast_to(close_day, closes.shape)[rows, product]
        customer = customer_index[rows]
        self.spells.append((customer, product, self.hold_day[customer, product].copy(), day.copy()))
        self.hold_day[customer, product] = -1

    # -- transactions (流水) -----------------------------------------------------------------
    # Channel probabilities (counter, atm, mobile, online, pos) per transaction type, without and
    # with mobile banking. Types follow tables.TXN_TYPES: salary, transfer, payment, cash,
    # purchase, investment.
    CHANNEL_PROBABILITY = np.array(
        [
            [[0, 0, 0, 1, 0], [0, 0, 0, 1, 0]],
            [[0.5, 0.25, 0, 0.25, 0], [0.1, 0.05, 0.7, 0.15, 0]],
            [[0.3, 0.1, 0, 0.3, 0.3], [0.05, 0, 0.6, 0.2, 0.15]],
            [[0.35, 0.65, 0, 0, 0], [0.35, 0.65, 0, 0, 0]],
            [[0, 0, 0, 0.25, 0.75], [0, 0, 0.35, 0.2, 0.45]],
            [[0.7, 0, 0, 0.3, 0], [0.15, 0, 0.7, 0.15, 0]],
        ]
    )
    TYPE_AMOUNT = np.array([1.0, 1.5, 0.8, 0.6, 0.7, 8.0])

    def _transactions(
        self,
        t: int,
        index: np.ndarray,
        txn_count: np.ndarray,
        salary: np.ndarray,
        mobile: np.ndarray,
        start_day: int,
        length: int,
        writers: dict,
    ) -> np.ndarray:
        """Draw this month's transactions; return each customer's total amount (txn_amount)."""
        rng = self.rng
        counts = txn_count[index]
        total = int(counts.sum())
        customer = np.repeat(index, counts)
        first_row = np.cumsum(counts) - counts
        is_salary = np.zeros(total, dtype=bool)
        is_salary[first_row[salary[index] & (counts > 0)]] = True
        txn_type = rng.choice(5, size=total, p=[0.30, 0.30, 0.10, 0.25, 0.05]) + 1
        txn_type[is_salary] = 0
        cumulative = np.cumsum(self.CHANNEL_PROBABILITY, axis=2)[
            txn_type, mobile[customer].astype(int)
        ]
        channel = np.minimum((rng.random(total)[:, None] > cumulative).sum(axis=1), 4)
        direction_in = is_salary | ((txn_type == 1) & (rng.random(total) < 0.45))
        amount = (
            self.txn_scale[customer]
            * self.TYPE_AMOUNT[txn_type]
            * np.exp(rng.normal(0, 0.9, size=total))
        )
        amount = np.where(is_salary, self.salary[customer], amount)
        amount = np.round(np.maximum(amount, 1.0), 2)
        day = np.where(
            is_salary,
            start_day + min(9, length - 1),
            start_day + (rng.random(total) * length).astype(np.int64),
        )
        writer = writers.get("transactions")
        if writer is not None:
            writer.write(
                customer,
                {
                    "txn_date": tables.to_timestamps(day),
                    "amount": amount,
                    "direction": np.where(direction_in, "in", "out"),
                    "channel": tables.TXN_CHANNELS[channel],
                    "txn_type": tables.TXN_TYPES[txn_type],
                },
            )
        return np.round(np.bincount(customer, weights=amount, minlength=self.count), 2)

    def _contacts(
        self,
        t: int,
        contacts: np.ndarray,
        retention_need: np.ndarray,
        tier_index: np.ndarray,
        start_day: int,
        length: int,
        writers: dict,
    ) -> None:
        rng = self.rng
        index = np.flatnonzero(contacts)
        customer = np.repeat(index, contacts[index])
        size = customer.size
        if size == 0:
            return
        high = tier_index[customer] >= 2
        channel = np.where(
            high,
            rng.choice(4, size=size, p=[0.40, 0.30, 0.25, 0.05]),
            rng.choice(4, size=size, p=[0.50, 0.05, 0.25, 0.20]),
        )
        rm = np.where(self.rm[customer] >= 0, self.rm[customer], self.branch_rm[customer])
        purpose = np.where(
            retention_need[customer] & (rng.random(size) < 0.6),
            2,
            rng.choice(np.array([0, 1, 3]), size=size, p=[0.45, 0.35, 0.20]),
        )
        writers["contacts"].write(
            customer,
            {
                "contact_date": tables.to_timestamps(
                    start_day + (rng.random(size) * length).astype(np.int64)
                ),
                "channel": tables.CONTACT_CHANNELS[channel],
                "rm_id": self.rm_names[rm],
                "purpose": tables.CONTACT_PURPOSES[purpose],
                "outcome": tables.CONTACT_OUTCOMES[
                    rng.choice(4, size=size, p=[0.45, 0.25, 0.15, 0.15])
                ],
            },
        )

    # -- the retention campaign ---------------------------------------------------------------
    def _assign_campaign(self, t: int) -> None:
        """Pick at-risk customers at month-end c and randomise them in blocks of three."""
        rng = self.rng
        horizon = CAMPAIGN["horizon_months"]
        eligible = np.flatnonzero((self.status == ACTIVE) & (self.open_month <= t))
        x_all = self.covariates(t + 1)
        x = {key: value[eligible] for key, value in x_all.items()}
        eta = self.log_hazards(x, t + 1 - self.open_month[eligible])
        risk = np.exp(eta["hard"]) + np.exp(eta["soft"])
        selected = int(round(CAMPAIGN["at_risk_share"] * eligible.size)) // 3 * 3
        order = np.argsort(-risk, kind="stable")[:selected]
        chosen = eligible[order]
        # Blocks of three neighbours in risk order, arms permuted within each block.
        arms = (np.argsort(rng.random((selected // 3, 3)), axis=1) + 1).ravel().astype(np.int8)
        x_chosen = {key: value[order] for key, value in x.items()}

        aum_before = self.aum_last[chosen]
        high_aum = aum_before >= CAMPAIGN["high_aum"]
        over_contacted = self.contact_history.sum(axis=0)[chosen] >= CAMPAIGN["over_contacted"]
        digital = x_chosen["digital_active"] > 0
        harm = np.where(over_contacted, CAMPAIGN["over_contacted_log_hr"], 0.0)
        shift_coupon = np.where(high_aum, CAMPAIGN["coupon_log_hr_high_aum"], 0.0) + harm
        shift_fee = (
            np.where(~high_aum & digital, CAMPAIGN["fee_waiver_log_hr_mass_digital"], 0.0) + harm
        )
        growth_coupon = np.where(high_aum, CAMPAIGN["coupon_aum_growth"], 0.0)

        self.arm[chosen] = arms
        self.campaign_shift[chosen] = np.select(
            [arms == 2, arms == 3], [shift_coupon, shift_fee], 0.0
        )
        self.coupon_growth[chosen] = np.where(arms == 2, growth_coupon, 0.0)

        # True uplift with the covariates frozen at campaign time: S = exp(-exp(shift) * L).
        cumulative = np.zeros(selected)
        for k in range(1, horizon + 1):
            eta_k = self.log_hazards(x_chosen, t + k - self.open_month[chosen])
            cumulative += np.exp(eta_k["hard"]) + np.exp(eta_k["soft"])
        survival_control = np.exp(-cumulative)
        survival_coupon = np.exp(-np.exp(shift_coupon) * cumulative)
        survival_fee = np.exp(-np.exp(shift_fee) * cumulative)
        self.true_uplift = {
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
        self.campaign_rows = {
            "customer_index": chosen,
            "arm": arms,
            "aum_before": aum_before,
            "assigned_month": t,
            "contact_channel": np.where(
                arms == 1, "none", np.where(rng.random(selected) < 0.6, "sms", "phone")
            ),
        }

    def _campaign_outcome(self, t: int, aum: np.ndarray) -> None:
        rows = self.campaign_rows
        chosen, arms = rows["customer_index"], rows["arm"]
        horizon = CAMPAIGN["horizon_months"]
        event_month = self.event_month[chosen]
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

    # -- final tables -----------------------------------------------------------------------
    def customers_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "customer_id": self.customer_id,
                "name": self.name,
                "mobile": self.mobile,
                "gender": self.gender.astype(object),
                "birth_year": self.birth_year.astype(np.int64),
                "open_date": tables.to_timestamps(self.open_day),
                "close_date": tables.to_timestamps(self.close_day),
                "close_reason": self.close_reason,
                "branch_id": self.branch_id[self.branch],
                "rm_id": np.where(self.rm >= 0, self.rm_names[np.maximum(self.rm, 0)], None),
                "channel": self.channel.astype(object),
                "risk_level": self.risk_level.astype(object),
            }
        )

    def holdings_frame(self) -> pd.DataFrame:
        customer, product = np.nonzero(self.hold_day >= 0)
        spells = self.spells + [
            (customer, product, self.hold_day[customer, product], np.full(customer.size, -1))
        ]
        customer = np.concatenate([s[0] for s in spells])
        product = np.concatenate([s[1] for s in spells])
        names = np.array(self.products, dtype=object)
        frame = pd.DataFrame(
            {
                "customer_index": np.concatenate([np.arange(self.count), customer]),
                "product": np.concatenate(
                    [np.full(self.count, "current_account", dtype=object), names[product]]
                ),
                "open_day": np.concatenate([self.open_day, np.concatenate([s[2] for s in spells])]),
                "close_day": np.concatenate(
                    [self.close_day, np.concatenate([s[3] for s in spells])]
                ),
            }
        )
        frame = frame.sort_values(["customer_index", "open_day", "product"], kind="stable")
        return pd.DataFrame(
            {
                "customer_id": self.customer_id[frame["customer_index"].to_numpy()],
                "product": frame["product"].to_numpy(),
                "open_date": tables.to_timestamps(frame["open_day"].to_numpy()),
                "close_date": tables.to_timestamps(frame["close_day"].to_numpy()),
            }
        )

    def campaigns_frame(self) -> pd.DataFrame:
        rows = self.campaign_rows
        if rows is None or "retained" not in rows:
            return pd.DataFrame({name: [] for name in tables.SCHEMAS["campaigns"].names})
        arms = rows["arm"]
        offer = np.array(["none", "none", "rate_coupon", "fee_waiver"], dtype=object)[arms]
        return pd.DataFrame(
            {
                "customer_id": self.customer_id[rows["customer_index"]],
                "campaign_id": CAMPAIGN["campaign_id"],
                "assigned_date": np.datetime64(self.month_ends[rows["assigned_month"]], "ns"),
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

    def truth_customers_frame(self) -> pd.DataFrame:
        event_month = self.event_month
        churned = event_month >= 0
        month_ends = np.asarray(self.month_ends.values, dtype="datetime64[ns]")
        frame = pd.DataFrame(
            {
                "customer_id": self.customer_id,
                "true_churn_month": np.where(
                    churned, month_ends[np.maximum(event_month, 0)], np.datetime64("NaT")
                ),
                "true_churn_type": np.where(churned, self.event_type, None),
            }
        )
        p_take = 1.0 - np.exp(self.log_no_take)
        for j, product in enumerate(self.products):
            frame[f"true_p_take_{product}"] = np.where(
                self.take_eligible[:, j], p_take[:, j], np.nan
            )
        names = [
            "true_uplift_rate_coupon",
            "true_uplift_fee_waiver",
            "true_aum_uplift_rate_coupon",
            "true_aum_uplift_fee_waiver",
        ]
        for name in names:
            values = np.full(self.count, np.nan)
            if self.true_uplift:
                values[self.true_uplift["customer_index"]] = self.true_uplift[name]
            frame[name] = values
        return frame

    def flat(self) -> dict[str, np.ndarray]:
        snapshot = self.snapshot
        churned = self.event_month >= 0
        last = np.where(churned, self.event_month, self.months - 1)
        result = {
            "customer_id": self.customer_id,
            "tenure_months": last - self.open_month,
            "churned": churned,
            "aum": snapshot["aum"],
            "gender": self.gender,
            "age": self.end_year - self.birth_year,
            "payroll": snapshot["payroll"],
            "digital_logins_avg_3m": np.nan_to_num(np.nanmean(snapshot["logins_3m"], axis=0)),
            "txn_count_3m": snapshot["txn_3m"].sum(axis=0),
            "contacts_3m": snapshot["contacts_3m"],
            "campaign_offer": np.array(
                [None, "control", "rate_coupon", "fee_waiver"], dtype=object
            )[self.arm],
            "campaign_retained": np.zeros(self.count, dtype=bool),
        }
        if self.campaign_rows is not None and "retained" in self.campaign_rows:
            result["campaign_retained"][self.campaign_rows["customer_index"]] = self.campaign_rows[
                "retained"
            ]
        for j, product in enumerate(self.products):
            result[f"held_{product}"] = snapshot["holds"][:, j]
        return result


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------

TABLE_FILES = [
    "customers.parquet",
    "monthly_balances.parquet",
    "transactions.parquet",
    "holdings.parquet",
    "contacts.parquet",
    "campaigns.parquet",
    "products.parquet",
    "truth.json",
    "truth_customers.parquet",
    "flat/customers_flat.csv",
]


def _truth(simulation: _Simulation, settings: dict, summary: dict) -> dict:
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
                f"the {CAMPAIGN['at_risk_share']:.0%} of customers active at the assigned month-end "
                "with the highest true churn hazard for the next month; randomised in blocks of "
                "three neighbours in risk order (control / rate_coupon / fee_waiver)"
            ),
            "effect_model": (
                "each offer adds a log hazard shift to both churn hazards during the horizon: "
                f"rate_coupon {CAMPAIGN['coupon_log_hr_high_aum']} if aum_before >= "
                f"{CAMPAIGN['high_aum']:,.0f}, else 0; fee_waiver "
                f"{CAMPAIGN['fee_waiver_log_hr_mass_digital']} if aum_before < "
                f"{CAMPAIGN['high_aum']:,.0f} and digital_active at the assigned month, else 0; both "
                f"+{CAMPAIGN['over_contacted_log_hr']} when the customer had >= "
                f"{CAMPAIGN['over_contacted']} contacts in the three months up to the assigned month "
                "(over-contacted customers are annoyed). Retained rate_coupon customers with "
                f"aum_before >= {CAMPAIGN['high_aum']:,.0f} also grow AUM by "
                f"{CAMPAIGN['coupon_aum_growth']:.0%}."
            ),
            "uplift_definition": (
                "true_uplift_<offer> = S_offer - S_control, S = exp(-exp(shift) * sum over the "
                "horizon months of (hard + soft) hazards with covariates frozen at the assigned "
                "month; true_aum_uplift_<offer> = aum_before * (S_offer * (1 + growth) - S_control)"
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
        }
    take = simulation.take_window
    return {
        "generator": settings,
        "window": {"first_month": month[0], "last_month": month[-1]},
        "at_risk_rule": (
            "a customer is at risk of churn and take-up in month t when they have a "
            "monthly_balances row at t-1 and no churn event yet; all covariates are evaluated at t-1"
        ),
        "churn": {
            "link": "cloglog: h_t = 1 - exp(-exp(b0(tenure_t) + b . x_{t-1})), tenure in months since open_date",
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


def _summary(simulation: _Simulation, rows: dict[str, int]) -> dict:
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


def generate(
    out: str | Path,
    customers: int = 10_000,
    months: int = 24,
    end_month: str = "2026-10",
    seed: int = 20261031,
    transactions: bool = True,
    transactions_per_month: float = 3.0,
) -> dict:
    """Generate the synthetic bank into ``out`` and return its summary.

    Parameters
    ----------
    out : str or Path
        Output folder. Files are written to a temporary folder beside it and moved into place
        one by one, so other files in ``out`` (dataset specs, README) are left alone and no
        half-written table is ever visible.
    customers : int
        Customers in the data: those active when the window opens plus those opening inside it.
    months : int
        Months in the data window.
    end_month : str
        Last month of the window, ``YYYY-MM``.
    seed : int
        Seed of the single ``numpy.random.Generator``; same arguments give identical tables.
    transactions : bool
        Write ``transactions.parquet`` (the balances' ``txn_count`` / ``txn_amount`` are always
        drawn from the same transactions, so they agree whether or not the table is written).
    transactions_per_month : float
        Mean non-salary transactions per active customer-month.

    Returns
    -------
    dict
        Summary: rows per table, churn, tier mix (also stored in ``truth.json["summary"]``).
    """
    if customers < 10:
        raise ValueError(f"customers must be at least 10, not {customers}")
    if months < 2:
        raise ValueError(f"months must be at least 2, not {months}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = {
        "customers": customers,
        "months": months,
        "end_month": end_month,
        "seed": seed,
        "transactions": transactions,
        "transactions_per_month": transactions_per_month,
        "command": (
            f"fishpond synth --customers {customers} --months {months} --end-month {end_month} "
            f"--seed {seed} --out {out.as_posix()}" + ("" if transactions else " --no-transactions")
        ),
    }
    temporary = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        simulation = _Simulation(customers, months, end_month, seed, transactions_per_month)
        writers: dict[str, tables.TableWriter | None] = {
            "monthly_balances": tables.TableWriter(
                temporary / "monthly_balances.parquet", "monthly_balances", simulation.id_array
            ),
            "contacts": tables.TableWriter(
                temporary / "contacts.parquet", "contacts", simulation.id_array
            ),
            "transactions": (
                tables.TableWriter(
                    temporary / "transactions.parquet", "transactions", simulation.id_array
                )
                if transactions
                else None
            ),
        }
        for t in range(months):
            simulation.step(t, writers)
        rows = {}
        for name, writer in writers.items():
            if writer is not None:
                writer.close()
                rows[name] = writer.rows
        frames = {
            "customers": simulation.customers_frame(),
            "holdings": simulation.holdings_frame(),
            "campaigns": simulation.campaigns_frame(),
        }
        for name, frame in frames.items():
            tables.write_frame(frame, temporary / f"{name}.parquet", name)
            rows[name] = len(frame)
        product_catalogue().to_parquet(temporary / "products.parquet", index=False)
        truth_customers = simulation.truth_customers_frame()
        truth_customers.to_parquet(temporary / "truth_customers.parquet", index=False)
        tables.write_flat_csv(simulation.flat(), temporary / "flat" / "customers_flat.csv")
        summary = _summary(simulation, rows)
        truth = _truth(simulation, settings, summary)
        (temporary / "truth.json").write_text(
            json.dumps(truth, ensure_ascii=False, indent=2), encoding="utf-8"
        )

        (out / "flat").mkdir(parents=True, exist_ok=True)
        if not transactions and (out / "transactions.parquet").exists():
            (out / "transactions.parquet").unlink()  # a stale table would disagree with the rest
        for name in TABLE_FILES:
            if (temporary / name).exists():
                os.replace(temporary / name, out / name)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return summary


def cli_synth(args) -> int:
    """``fishpond synth``: generate, then print rows per table, churn rate and tier mix."""
    started = time.perf_counter()
    summary = generate(
        out=args.out,
        customers=args.customers,
        months=args.months,
        end_month=args.end_month,
        seed=args.seed,
        transactions=not args.no_transactions,
    )
    print(f"Synthetic bank written to {args.out} in {time.perf_counter() - started:.1f} s")
    for table, count in summary["rows"].items():
        print(f"  {table:<18} {count:>12,} rows")
    events = summary["churn_events"]
    print(
        f"  churn: {events['hard']:,} hard, {events['soft']:,} soft; "
        f"annualised rate {summary['churn_rate_annualised']:.1%}"
    )
    print(f"  left-truncated (opened before the window): {summary['left_truncated_share']:.1%}")
    mix = ", ".join(f"{tier} {share:.1%}" for tier, share in summary["tier_mix_end"].items())
    print(f"  tier mix at the last month: {mix}")
    return 0
