"""The back-tests of 02, 03 and 04 checked against the generator's truth.

Each notebook re-makes its list as of one forecast window ago with this month's method and
reports what happened by the report month. The generator knows what was *expected* to happen
to exactly those customers, so the reported outcomes can be checked within sampling error:

- 02: the true monthly hazards (``truth.json["churn"]``: baseline and log hazard ratios on the
  covariates :func:`helpers.features.time_varying_frame` rebuilds exactly) summed over the
  listed customers' months after the list date give the expected number of churn events; the
  observed number (true event months) must lie within 3 standard deviations. A list chosen by
  looking at the future would fail: it would hold customers the data already show leaving.
  Every churn outcome the back-test reports must also be the generator's own event.
- 03: ``truth_customers.parquet`` has each customer's true probability of taking each product
  within 6 months of ``truth["propensity"]["as_of"]``; the back-test's call lists are made at
  that month, so the listed customers' take-ups must be within 3 standard deviations of the
  sum of their true probabilities.
- 04: ``true_uplift_<offer>`` is each campaign customer's true retention uplift; among the
  customers the targeting rule picks, the observed treated-minus-control retention difference
  must be within 3 standard errors of their mean true uplift.

Tolerances are 3 standard deviations computed from the truth itself (two-sided 0.3%).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers import paths
from helpers.config import ChurnDefinition
from helpers.data import load_dataset
from helpers.features import time_varying_frame
from helpers.months import month_end, month_label

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("packs")]
TRUTH_DIR = paths.SAMPLE_SPEC.parent


def _truth():
    truth = json.loads((TRUTH_DIR / "truth.json").read_text(encoding="utf-8"))
    customers = pd.read_parquet(TRUTH_DIR / "truth_customers.parquet").set_index("customer_id")
    return truth, customers


def churn_expectation(ds, truth: dict, customers: set, after: pd.Timestamp):
    """Expected churn events (and their variance) of ``customers`` in the months after
    ``after`` that :func:`time_varying_frame` follows, from the generator's true hazards."""
    frame = time_varying_frame(ds, ChurnDefinition())
    rows = frame[frame["customer_id"].isin(customers) & (frame["month"] > after)]
    eta = {}
    for kind in ("hard", "soft"):
        base = truth["churn"]["baseline"][kind]
        tenure = rows["start"].to_numpy(float)
        eta[kind] = base["intercept"] + base["early"] * np.exp(-tenure / base["scale_months"])
        for covariate in truth["churn"]["covariates"]:
            eta[kind] = eta[kind] + covariate[kind] * rows[covariate["name"]].to_numpy(float)
    probability = 1 - np.exp(-(np.exp(eta["hard"]) + np.exp(eta["soft"])))
    return probability.sum(), (probability * (1 - probability)).sum(), rows["month"].max()


def check_churn_backtest(ds, backtest: pd.DataFrame, month: str, horizon: int) -> dict:
    """The 02 checks on a ``backtest_churn_customers`` table; returns the numbers."""
    truth, true = _truth()
    as_of = month_end(month_label(month, -horizon))
    # 1. Every reported outcome is the generator's: churn confirmed in (as_of, month].
    joined = backtest.set_index("customer_id").join(true[["true_churn_month", "true_churn_type"]])
    lag = np.where(joined["true_churn_type"] == "soft", ChurnDefinition().soft_months - 1, 0)
    confirmed = [
        d + pd.offsets.MonthEnd(int(k)) if pd.notna(d) else pd.NaT
        for d, k in zip(joined["true_churn_month"], lag, strict=True)
    ]
    confirmed = pd.Series(confirmed, index=joined.index)
    expected_flag = (confirmed > as_of) & (confirmed <= month_end(month))
    agreement = float((expected_flag == joined["churned"].astype(bool)).mean())
    # 2. The listed customers churned as the true hazards say (treated campaign customers
    #    have an offer effect the truth does not store per customer: left out).
    #    The same for every customer the back-test scored (listed or not): a larger group, so
    #    a back-test that picks its customers with hindsight cannot hide in small counts.
    treated = set(ds.table("campaigns").query("group == 'treatment'")["customer_id"])
    result = {"agreement": agreement}
    groups = {"listed": backtest["listed"], "scored": backtest["listed"] | ~backtest["listed"]}
    for name, mask in groups.items():
        chosen = set(backtest.loc[mask, "customer_id"]) - treated
        expected, variance, last = churn_expectation(ds, truth, chosen, as_of)
        months = true.loc[sorted(chosen), "true_churn_month"]
        observed = int(((months > as_of) & (months <= last)).sum())
        result[name] = {
            "customers": len(chosen),
            "observed": observed,
            "expected": round(float(expected), 1),
            "z": round(float((observed - expected) / np.sqrt(variance)), 2),
        }
    return result


def check_cross_sell_backtest(backtest: pd.DataFrame) -> dict:
    """The 03 check on a ``backtest_cross_sell_customers`` table."""
    _, true = _truth()
    listed = backtest[backtest["listed"] & backtest["took"].notna()]
    probability = np.array(
        [
            true.at[customer, f"true_p_take_{product}"]
            for customer, product in zip(listed["customer_id"], listed["product"], strict=True)
        ]
    )
    known = ~np.isnan(probability)  # the truth covers customers at risk at the as-of month
    observed = int(listed["took"].astype(bool).to_numpy()[known].sum())
    expected = probability[known].sum()
    variance = (probability[known] * (1 - probability[known])).sum()
    return {
        "observed": observed,
        "expected": expected,
        "z": (observed - expected) / np.sqrt(variance),
        "known": int(known.sum()),
        "listed": len(listed),
    }


def check_retention_backtest(targets: pd.DataFrame, summary: pd.DataFrame) -> dict:
    """The 04 check: the notebook's observed uplift among the rule's targets (its
    ``backtest_retention`` table) against the targets' mean true uplift, per offer."""
    _, true = _truth()
    result = {}
    reported = summary[summary["group"] == "targeted"].set_index("offer")
    for offer, data in targets[targets["targeted"]].groupby("offer"):
        in_test = data[data["arm"].isin([offer, "control"])]
        truth_uplift = float(true.loc[in_test["customer_id"], f"true_uplift_{offer}"].mean())
        observed = float(reported.at[offer, "observed"])
        se = float(reported.at[offer, "standard_error"])
        result[offer] = {
            "observed": observed,
            "truth": truth_uplift,
            "z": (observed - truth_uplift) / se,
        }
    return result


def test_warning_list_backtest_matches_the_truth(sample_pack):
    artifacts = sample_pack.out_dir / "artifacts"
    backtest = pd.read_parquet(artifacts / "backtest_churn_customers.parquet")
    ds = load_dataset(paths.SAMPLE_SPEC)
    found = check_churn_backtest(ds, backtest, sample_pack.manifest["month"], 6)
    assert found["agreement"] == 1.0, found  # every outcome shown is the generator's event
    assert found["listed"]["customers"] >= 100 and found["scored"]["customers"] >= 1000, found
    assert abs(found["listed"]["z"]) < 3 and abs(found["scored"]["z"]) < 3, found
    summary = pd.read_parquet(artifacts / "backtest_churn.parquet").set_index("group")
    listed = backtest[backtest["listed"] & backtest["churned"].notna()]
    assert summary.at["listed", "observed"] == pytest.approx(listed["churned"].mean())
    assert summary.at["listed", "customers"] == len(listed)


def test_call_list_backtest_matches_the_truth(sample_pack):
    truth, _ = _truth()
    month = sample_pack.manifest["month"]
    assert month_label(month, -6) == truth["propensity"]["as_of"]  # the truth's window
    backtest = pd.read_parquet(
        sample_pack.out_dir / "artifacts" / "backtest_cross_sell_customers.parquet"
    )
    found = check_cross_sell_backtest(backtest)
    assert found["known"] >= 0.95 * found["listed"], found
    assert abs(found["z"]) < 3, found
    summary = pd.read_parquet(
        sample_pack.out_dir / "artifacts" / "backtest_cross_sell.parquet"
    ).set_index("group")
    listed = backtest[backtest["listed"] & backtest["took"].notna()]
    assert summary.at["listed", "took"] == int(listed["took"].astype(bool).sum())


def test_retention_backtest_matches_the_truth(sample_pack):
    artifacts = sample_pack.out_dir / "artifacts"
    targets = pd.read_parquet(artifacts / "backtest_retention_customers.parquet")
    summary = pd.read_parquet(artifacts / "backtest_retention.parquet")
    found = check_retention_backtest(targets, summary)
    assert set(found) == {"rate_coupon", "fee_waiver"}, found
    for offer, numbers in found.items():
        assert abs(numbers["z"]) < 3, (offer, numbers)
