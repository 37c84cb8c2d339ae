"""Month-by-month simulation of the synthetic bank (see :mod:`helpers.synth`).

:class:`BankSimulation` holds the state of every customer in arrays and advances all of them
one month at a time; the only Python loop is over months.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from helpers.config import cross_sell_products, tier_ladder
from helpers.months import months_on_book
from helpers.synth import campaign as synth_campaign
from helpers.synth import tables as tables
from helpers.synth.model import (
    ACTIVE,
    BALANCE_PRODUCTS,
    CAMPAIGN,
    CHURN_COVARIATES,
    CLOSED,
    LOG_AUM_CENTRE,
    PRODUCT_CLOSE_RATE,
    PROPENSITY,
    PROPENSITY_NAMES,
    SOFT,
    TIER_WEIGHTS,
    draw_population,
    log_baseline,
    propensity_matrix,
    sigmoid,
)


class BankSimulation:
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
        population = draw_population(rng, customers, months, self.end_year)
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
        self.taken_in_window = np.zeros((count, len(self.products)), dtype=bool)
        self.product_count_slopes = np.array(
            [PROPENSITY[p]["product_count"] for p in self.products]
        )
        self.coupon_growth = np.zeros(count)
        # Person-month truth: per (month, months on book) the customers at risk and the sum of
        # their true churn probabilities (all, hard), for survival-curve checks.
        self.person_months: list[dict[str, np.ndarray]] = []
        self.campaign_rows: dict | None = None
        self.campaign_path: dict[str, np.ndarray] = {}
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
            eta = log_baseline(kind, tenure)
            for item in CHURN_COVARIATES:
                eta = eta + item[kind] * x[item["name"]]
            result[kind] = eta
        return result

    def take_probabilities(self, x: dict[str, np.ndarray]) -> np.ndarray:
        intercepts, slopes = propensity_matrix(self.products)
        features = np.column_stack([x[name] for name in PROPENSITY_NAMES])
        return sigmoid(features @ slopes.T + intercepts)

    # -- one month --------------------------------------------------------------------------
    def step(self, t: int, writers: dict[str, tables.TableWriter | None]) -> None:
        rng = self.rng
        count = self.count
        month_end = self.month_ends[t]
        season = tables.seasonal_factors(month_end)
        end_day = tables.day_number(month_end)
        start_day = end_day - month_end.day + 1
        length = month_end.day
        tenure = months_on_book(t, self.open_month)

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
            self._record_person_months(
                t, tenure[risk_index], churn_probability, hard_rate / total, event, hard
            )
            if self.in_campaign_horizon(t):
                synth_campaign.accumulate_path(self, t, risk_index, eta)

            # Take-up happens among customers who did not leave this month.
            take_probability = self.take_probabilities(x)
            in_take_window = (
                self.take_window is not None and self.take_window[0] < t <= self.take_window[1]
            )
            if in_take_window:
                # The truth is the take-up probability had the customer not taken the product
                # yet: after a take-up its own product_count would feed back into p_t.
                taken = self.taken_in_window[risk_index]
                unfed = sigmoid(
                    np.log(take_probability / (1 - take_probability))
                    - taken * self.product_count_slopes
                )
                effective = (1.0 - churn_probability)[:, None] * unfed
                self.log_no_take[risk_index] += np.log1p(-effective)
            stays = ~event
            holds = self.holds[risk_index]
            takes = ~holds & stays[:, None] & (rng.random(holds.shape) < take_probability)
            closes = holds & stays[:, None] & (rng.random(holds.shape) < PRODUCT_CLOSE_RATE)
            day = start_day + (rng.random(holds.shape) * length).astype(np.int64)
            self._close_spells(risk_index, closes, day)
            self.holds[risk_index] = (holds & ~closes) | takes
            self.hold_day[risk_index] = np.where(takes, day, self.hold_day[risk_index])
            if in_take_window:
                self.taken_in_window[risk_index] |= takes

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
            synth_campaign.assign_campaign(self, t)
        if (
            self.campaign_month is not None
            and t == self.campaign_month + CAMPAIGN["horizon_months"]
        ):
            synth_campaign.campaign_outcome(self, t, aum)

    def _record_person_months(
        self,
        t: int,
        on_book: np.ndarray,
        churn_probability: np.ndarray,
        hard_share: np.ndarray,
        event: np.ndarray,
        hard_event: np.ndarray,
    ) -> None:
        """Who was at risk in month t by months on book, their expected and realised events."""
        length = int(on_book.max()) + 1
        counts = np.bincount(on_book, minlength=length)
        present = np.flatnonzero(counts)
        expected = np.bincount(on_book, weights=churn_probability, minlength=length)
        hard = np.bincount(on_book, weights=churn_probability * hard_share, minlength=length)
        events = np.bincount(on_book, weights=event.astype(float), minlength=length)
        hard_events = np.bincount(on_book, weights=hard_event.astype(float), minlength=length)
        self.person_months.append(
            {
                "month_index": np.full(present.size, t),
                "months_on_book": present,
                "at_risk": counts[present],
                "events": events[present],
                "events_hard": hard_events[present],
                "expected_events": expected[present],
                "expected_hard": hard[present],
            }
        )

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
                    "direction": tables.Coded(["out", "in"], direction_in.astype(np.int64)),
                    "channel": tables.Coded(tables.TXN_CHANNELS, channel),
                    "txn_type": tables.Coded(tables.TXN_TYPES, txn_type),
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
                "channel": tables.Coded(tables.CONTACT_CHANNELS, channel),
                "rm_id": tables.Coded(self.rm_names, rm),
                "purpose": tables.Coded(tables.CONTACT_PURPOSES, purpose),
                "outcome": tables.CONTACT_OUTCOMES[
                    rng.choice(4, size=size, p=[0.45, 0.25, 0.15, 0.15])
                ],
            },
        )
