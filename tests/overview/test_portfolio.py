"""00_data_overview's helpers on a tiny hand-made bank with answers worked out by hand."""

import pandas as pd
import pytest

from helpers.config import assign_tiers
from helpers.data import Dataset
from helpers.overview import portfolio as portfolio

SEP, OCT = pd.Timestamp("2026-09-30"), pd.Timestamp("2026-10-31")


def _balances(customer_id, month, demand, wealth=0.0, payroll=False, logins=0):
    return {
        "customer_id": customer_id,
        "month": month,
        "demand_deposit": demand,
        "time_deposit": 0.0,
        "wealth_mgmt": wealth,
        "funds": 0.0,
        "insurance": 0.0,
        "aum_total": demand + wealth,
        "loan_balance": 0.0,
        "card_spend": 0.0,
        "txn_count": 1,
        "txn_amount": 10.0,
        "digital_logins": logins,
        "payroll": payroll,
    }


@pytest.fixture()
def bank():
    customers = pd.DataFrame(
        {
            "customer_id": ["001", "002", "003", "004"],
            "name": ["张三", "李四", "王五", "赵六"],
            "mobile": ["17000000001"] * 4,
            "gender": ["M", "F", "M", "F"],
            "birth_year": [1980, 1990, 1970, 1985],
            "open_date": pd.to_datetime(["2015-01-10", "2018-05-01", "2026-10-03", "2016-02-02"]),
            "close_date": pd.to_datetime([None, None, None, "2026-10-15"]),
            "close_reason": [None, None, None, "moved"],
            "branch_id": ["B001"] * 4,
            "rm_id": ["RM1", None, None, None],
            "channel": ["branch"] * 4,
            "risk_level": ["R2"] * 4,
        }
    )
    balances = pd.DataFrame(
        [
            _balances("001", SEP, 100_000.0, 500_000.0, payroll=True, logins=3),
            _balances("002", SEP, 20_000.0),
            _balances("004", SEP, 1_000.0),
            _balances("001", OCT, 100_000.0, 600_000.0, payroll=True, logins=5),
            _balances("002", OCT, 50_000.0),
            _balances("003", OCT, 5_000.0, logins=1),
        ]
    )
    holdings = pd.DataFrame(
        {
            "customer_id": ["001", "001", "002", "003", "001"],
            "product": [
                "current_account",
                "wealth_mgmt",
                "current_account",
                "current_account",
                "fund",
            ],
            "open_date": pd.to_datetime(
                ["2015-01-10", "2020-01-01", "2018-05-01", "2026-10-03", "2019-01-01"]
            ),
            "close_date": pd.to_datetime([None, None, None, None, "2021-01-01"]),
        }
    )
    return Dataset.from_frames(
        {"customers": customers, "monthly_balances": balances, "holdings": holdings}
    )


def test_kpis_by_hand(bank):
    kpis = {r["key"]: r["value"] for r in portfolio.portfolio_kpis(bank, "2026-10")}
    assert kpis["ov_active_customers"] == 3
    assert kpis["ov_total_aum"] == 755_000.0  # 700,000 + 50,000 + 5,000
    assert kpis["ov_median_aum"] == 50_000.0
    # non-base products held at month end: only 001's wealth_mgmt (the fund closed in 2021)
    assert kpis["ov_products_per_customer"] == pytest.approx(1 / 3)
    assert kpis["ov_payroll_share"] == pytest.approx(1 / 3)
    assert kpis["ov_digital_share"] == pytest.approx(2 / 3)
    assert kpis["ov_new_customers"] == 1 and kpis["ov_closed_customers"] == 1


def test_tier_summary_uses_inclusive_lower_bounds(bank):
    table = portfolio.aum_by_tier(bank, "2026-10").set_index("tier")
    # 700,000 -> wealth; exactly 50,000 -> affluent; 5,000 -> mass
    assert table.loc["wealth", "customers"] == 1 and table.loc["affluent", "customers"] == 1
    assert table.loc["mass", "customers"] == 1 and table.loc["private", "customers"] == 0
    assert table["aum_share"].sum() == pytest.approx(1.0)
    assert table.loc["wealth", "aum_share"] == pytest.approx(700_000 / 755_000)


def test_quality_checks_flag_missing_rm_for_wealth_and_closed_rows(bank):
    checks = portfolio.quality_checks(bank, "2026-10").set_index("ov_check")
    assert checks.loc["aum_equals_sum_of_parts", "passed"]
    assert checks.loc["one_row_per_customer_month", "passed"]
    assert checks.loc["rm_coverage_wealth_private", "passed"]  # 001 has RM1
    assert checks.loc["open_customers_have_balances", "passed"]


def test_quality_checks_catch_a_broken_month(bank):
    broken = bank.table("monthly_balances").copy()
    broken.loc[broken.index[-1], "aum_total"] += 10.0  # parts no longer add up
    broken = pd.concat([broken, broken.iloc[[0]]])  # duplicate customer-month
    dataset = Dataset.from_frames(
        {
            "customers": bank.table("customers"),
            "monthly_balances": broken,
            "holdings": bank.table("holdings"),
        }
    )
    checks = portfolio.quality_checks(dataset, "2026-10").set_index("ov_check")
    assert not checks.loc["aum_equals_sum_of_parts", "passed"]
    assert not checks.loc["one_row_per_customer_month", "passed"]


def test_penetration_and_trend(bank):
    table = portfolio.product_penetration(bank, "2026-10").set_index("code")
    assert table.loc["current_account", "holders"] == 3
    assert table.loc["wealth_mgmt", "penetration"] == pytest.approx(1 / 3)
    assert table.loc["fund", "holders"] == 0
    trend = portfolio.monthly_trend(bank)
    assert trend["customers"].tolist() == [3, 3]
    assert trend["aum_total"].tolist() == [621_000.0, 755_000.0]


def test_inventory_counts_rows_and_customers(bank):
    table = portfolio.inventory(bank).set_index("ov_table")
    assert table.loc["monthly_balances", "ov_rows"] == 6
    assert table.loc["monthly_balances", "ov_customers"] == 4
    assert table.loc["monthly_balances", "ov_last"] == "2026-10-31"


def test_flat_mode_overview():
    flat = pd.DataFrame(
        {
            "customer_id": ["a", "b", "b"],
            "value": [10.0, 60_000.0, -1.0],
            "event": [True, False, False],
            "held_fund": [True, False, True],
        }
    )
    dataset = Dataset.from_frames({"flat": flat}, mode="flat")
    kpis = {r["key"]: r["value"] for r in portfolio.overview_kpis(dataset, None)}
    assert kpis["ov_active_customers"] == 3 and kpis["ov_churned"] == pytest.approx(1 / 3)
    checks = portfolio.overview_checks(dataset, None).set_index("ov_check")
    assert not checks.loc["one_row_per_customer", "passed"]
    assert not checks.loc["negative_value_share", "passed"]
    assert portfolio.penetration(dataset, None).set_index("code").loc["fund", "holders"] == 2
    assert list(assign_tiers(flat["value"])) == ["mass", "affluent", "mass"]


def test_a_validated_dataset_reports_its_repeats_without_counting_them_again(monkeypatch):
    """Validation allows one balance row per customer and month, so the overview does not
    group every balance row again for a validated dataset; the check reads the same."""
    from helpers.data import load_dataset

    monkeypatch.setenv("FISHPOND_NO_VALIDATION_CACHE", "1")
    validated = load_dataset()
    assert validated.validated
    names = ["customers", "monthly_balances", "holdings"]
    unvalidated = Dataset.from_frames({name: validated.table(name) for name in names})
    assert not unvalidated.validated
    month = validated.latest_month()
    checks = [
        portfolio.quality_checks(ds, month).set_index("ov_check") for ds in (validated, unvalidated)
    ]
    row = "one_row_per_customer_month"
    assert checks[0].loc[row].to_dict() == checks[1].loc[row].to_dict()
    # a dataset validated earlier (the remembered result) says so too
    monkeypatch.delenv("FISHPOND_NO_VALIDATION_CACHE")
    load_dataset()
    remembered = load_dataset()
    assert remembered.validated and any("passed earlier" in n for n in remembered.notices)
