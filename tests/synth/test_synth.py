"""Tests of the synthetic bank: schema, determinism, realism claims and ground truth.

Realism and truth tests run on one 10,000-customer generation (the sample's size and seed,
without transactions, about 2 s); determinism on small generations; the slow tests compare
the committed sample with a fresh generation and refit the true churn model from the tables.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from helpers import cli, paths, synth
from helpers.config import ChurnDefinition, cross_sell_products, tier_ladder
from helpers.data import Dataset
from helpers.synth import generate

SAMPLE_ARGS = dict(customers=10_000, months=24, end_month="2026-10", seed=20261031)
TABLES = ["customers", "monthly_balances", "holdings", "contacts", "campaigns"]

# Canonical columns, copied from docs/architecture.md §1 (not from the generator's schemas).
CANONICAL = {
    "customers": "customer_id name mobile gender birth_year open_date close_date close_reason "
    "branch_id rm_id channel risk_level",
    "monthly_balances": "customer_id month demand_deposit time_deposit wealth_mgmt funds "
    "insurance aum_total loan_balance card_spend txn_count txn_amount digital_logins payroll",
    "transactions": "customer_id txn_date amount direction channel txn_type",
    "holdings": "customer_id product open_date close_date",
    "contacts": "customer_id contact_date channel rm_id purpose outcome",
    "campaigns": "customer_id campaign_id assigned_date group offer contact_channel cost "
    "horizon_months retained aum_before aum_after",
}
FLAT_HEADERS = (
    "客户号 开户月数 是否流失 资产余额 客户层级 性别 年龄 代发工资 手机银行月均登录 近3月交易笔数 "
    "近3月客户经理联系次数 持有定期存款 持有理财产品 持有基金 持有保险 持有信用卡 持有消费贷 "
    "持有个人房贷 持有手机银行 营销分组 活动后留存"
).split()


def read(folder, table):
    return pd.read_parquet(folder / f"{table}.parquet")


@pytest.fixture(scope="session")
def bank(tmp_path_factory):
    """The sample's bank (10k customers, 24 months, sample seed) without transactions."""
    folder = tmp_path_factory.mktemp("bank")
    generate(folder, transactions=False, **SAMPLE_ARGS)
    return folder


@pytest.fixture(scope="session")
def small(tmp_path_factory):
    """A small bank with transactions, for schema and consistency checks."""
    folder = tmp_path_factory.mktemp("small")
    generate(folder, customers=1500, months=24, end_month="2026-10", seed=7)
    return folder


@pytest.fixture(scope="session")
def tables(bank):
    return {name: read(bank, name) for name in TABLES + ["truth_customers"]}


@pytest.fixture(scope="session")
def truth(bank):
    return json.loads((bank / "truth.json").read_text(encoding="utf-8"))


# -- schema -------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", list(CANONICAL))
def test_tables_have_exactly_the_canonical_columns_in_order(small, table):
    assert list(read(small, table).columns) == CANONICAL[table].split()


def test_dtypes_ids_dates_and_flags(small):
    customers = read(small, "customers")
    balances = read(small, "monthly_balances")
    for table in CANONICAL:
        frame = read(small, table)
        assert frame["customer_id"].map(type).eq(str).all(), table
    assert balances["month"].dtype == "datetime64[ns]"
    assert (balances["month"] == balances["month"] + pd.offsets.MonthEnd(0)).all()
    for column in ("open_date", "close_date"):
        assert customers[column].dtype == "datetime64[ns]"
    assert balances["payroll"].dtype == bool
    assert balances["txn_count"].dtype == "int64" and balances["digital_logins"].dtype == "int64"
    assert customers["birth_year"].dtype == "int64"
    assert set(customers["gender"]) == {"M", "F"}
    assert set(customers["channel"]) <= {"branch", "mobile", "payroll", "referral"}
    assert set(customers["risk_level"]) <= {f"R{i}" for i in range(1, 6)}
    assert read(small, "campaigns")["retained"].dtype == bool


def test_ids_are_zero_padded_strings_and_some_keep_leading_zeros(small):
    ids = read(small, "customers")["customer_id"]
    assert ids.is_unique and ids.str.fullmatch(r"\d{10}").all()
    assert ids.str.startswith("0000").mean() > 0.5  # handed out in order from small numbers
    flat = pd.read_csv(small / "flat" / "customers_flat.csv", encoding="gb18030", dtype=str)
    assert flat["客户号"].tolist() == ids.tolist()


def test_fake_pii_is_recognisably_synthetic(small):
    customers = read(small, "customers")
    assert customers["mobile"].str.fullmatch(r"1700\d{7}").all()
    assert customers["name"].str.len().between(2, 3).all()
    assert customers["branch_id"].str.fullmatch(r"B\d{3,}").all()
    assert customers["rm_id"].dropna().str.fullmatch(r"RM\d{5}").all()


def test_products_table_is_the_catalogue(small):
    products = read(small, "products")
    assert products["code"].tolist()[0] == "current_account"
    assert products.loc[products["cross_sell"], "code"].tolist() == cross_sell_products()


# -- consistency between tables -----------------------------------------------------------------


def test_aum_total_is_the_sum_of_its_parts(small):
    balances = read(small, "monthly_balances")
    parts = balances[["demand_deposit", "time_deposit", "wealth_mgmt", "funds", "insurance"]]
    np.testing.assert_allclose(parts.sum(axis=1), balances["aum_total"], atol=0.02)
    assert (parts >= 0).all().all()


def test_balance_transaction_columns_summarise_the_transactions(small):
    balances = read(small, "monthly_balances")
    transactions = read(small, "transactions")
    assert (transactions["amount"] > 0).all()
    transactions["month"] = transactions["txn_date"] + pd.offsets.MonthEnd(0)
    summary = transactions.groupby(["customer_id", "month"]).agg(
        count=("amount", "size"), amount=("amount", "sum")
    )
    merged = balances.set_index(["customer_id", "month"]).join(summary).fillna(0)
    assert (merged["txn_count"] == merged["count"]).all()
    np.testing.assert_allclose(merged["txn_amount"], merged["amount"], atol=0.05)
    salary = transactions[transactions["txn_type"] == "salary"]
    assert (salary["direction"] == "in").all() and len(salary) > 0


def test_a_customer_has_a_row_every_month_while_open(small):
    balances = read(small, "monthly_balances")
    customers = read(small, "customers").set_index("customer_id")
    months = np.sort(balances["month"].unique())
    first = balances.groupby("customer_id")["month"].min()
    last = balances.groupby("customer_id")["month"].max()
    rows = balances.groupby("customer_id").size()
    expected = (last.dt.year * 12 + last.dt.month) - (first.dt.year * 12 + first.dt.month) + 1
    assert (rows == expected).all()  # no gaps
    open_month = customers["open_date"] + pd.offsets.MonthEnd(0)
    assert (first == open_month.clip(lower=months[0]).loc[first.index]).all()
    closed = customers["close_date"].notna()
    close_month = customers.loc[closed, "close_date"] + pd.offsets.MonthEnd(0)
    # the last row of a closed customer is the month before the closing month
    assert (last.loc[close_month.index] == close_month - pd.offsets.MonthEnd(1)).all()
    assert (last.loc[~closed.loc[last.index]] == months[-1]).all()


def test_holdings_spells_are_valid(small):
    holdings = read(small, "holdings")
    customers = read(small, "customers").set_index("customer_id")
    assert set(holdings["product"]) <= set(read(small, "products")["code"])
    ended = holdings.dropna(subset=["close_date"])
    assert (ended["close_date"] >= ended["open_date"]).all()
    current = holdings[holdings["product"] == "current_account"].set_index("customer_id")
    assert current.index.is_unique and len(current) == len(customers)
    opened = customers.loc[holdings["customer_id"], "open_date"].to_numpy()
    assert (holdings["open_date"].to_numpy() >= opened).all()
    # at most one open spell per customer and product
    assert not holdings[holdings["close_date"].isna()].duplicated(["customer_id", "product"]).any()


# -- realism claims -----------------------------------------------------------------------------


def test_tier_mix_at_the_last_month(tables):
    balances = tables["monthly_balances"]
    last = balances[balances["month"] == balances["month"].max()]
    soft = tables["truth_customers"].query("true_churn_type == 'soft'")["customer_id"]
    last = last[~last["customer_id"].isin(soft)]
    ladder = tier_ladder()
    tier = np.searchsorted(ladder["lower"], last["aum_total"], side="right") - 1
    mix = np.bincount(tier, minlength=4) / len(tier)
    assert 0.76 <= mix[0] <= 0.84, mix
    assert 0.12 <= mix[1] <= 0.19, mix
    assert 0.03 <= mix[2] <= 0.06, mix
    assert 0.002 <= mix[3] <= 0.01, mix


def test_higher_tiers_hold_more_wealth_products_and_see_their_rm_more(tables):
    balances = tables["monthly_balances"]
    last = balances[balances["month"] == balances["month"].max()].copy()
    last["rich"] = last["aum_total"] >= 500_000
    share_invested = (last["wealth_mgmt"] + last["funds"] + last["insurance"]) / last["aum_total"]
    by_tier = share_invested.groupby(last["rich"]).mean()
    assert by_tier[True] > 2 * by_tier[False]
    customers = tables["customers"].set_index("customer_id")
    rich = last.set_index("customer_id")["rich"]
    has_rm = customers.loc[rich.index, "rm_id"].notna()
    assert has_rm[rich].mean() > 0.8 > 0.3 > has_rm[~rich].mean()
    contacts = tables["contacts"].groupby("customer_id").size().reindex(rich.index, fill_value=0)
    assert contacts[rich].mean() > 3 * contacts[~rich].mean()


def test_spring_festival_raises_spending_and_dips_deposits(tables):
    balances = tables["monthly_balances"]
    by_month = balances.groupby("month")[["card_spend", "aum_total"]].median()
    spring = pd.Timestamp("2026-02-28")  # 春节 2026-02-17
    assert (
        by_month.loc[spring, "card_spend"]
        > 1.3 * by_month.loc[pd.Timestamp("2026-04-30"), "card_spend"]
    )
    assert by_month.loc[spring, "aum_total"] < by_month.loc[pd.Timestamp("2026-01-31"), "aum_total"]


def test_many_customers_opened_years_before_the_window(tables):
    open_date = tables["customers"]["open_date"]
    window_start = tables["monthly_balances"]["month"].min().replace(day=1)
    before = open_date < window_start
    assert 0.75 <= before.mean() <= 0.95
    assert (window_start - open_date[before]).dt.days.max() > 14 * 365
    # survivors of old cohorts are rarer than of young ones: left truncation thins them
    years = (window_start - open_date[before]).dt.days / 365.25
    assert (years < 5).sum() > 1.5 * ((years >= 10) & (years < 15)).sum()


def test_churn_rate_is_realistic_and_both_kinds_occur(tables, truth):
    truth_customers = tables["truth_customers"].set_index("customer_id")
    balances = tables["monthly_balances"]
    churn_month = truth_customers.loc[balances["customer_id"], "true_churn_month"].to_numpy()
    until_event = balances[~(balances["month"].to_numpy() > churn_month)]
    # at risk from the second row on, through the event month (a closed customer has no row
    # in the closing month)
    hard = truth_customers["true_churn_type"] == "hard"
    at_risk_months = until_event.groupby("customer_id").size() - 1 + hard
    events = truth_customers["true_churn_type"].notna()
    monthly = events.sum() / at_risk_months.sum()
    annual = 1 - (1 - monthly) ** 12
    assert 0.08 <= annual <= 0.20
    kinds = truth_customers["true_churn_type"].value_counts()
    assert kinds["hard"] > 300 and kinds["soft"] > 300
    assert truth["summary"]["churn_rate_annualised"] == pytest.approx(annual, rel=0.02)
    closed = tables["customers"]["close_date"].notna()
    assert closed.sum() == kinds["hard"]


def test_soft_run_off_is_detected_by_the_default_churn_definition(tables):
    definition = ChurnDefinition()
    truth_customers = tables["truth_customers"].set_index("customer_id")
    soft = truth_customers[truth_customers["true_churn_type"] == "soft"]
    balances = tables["monthly_balances"].set_index(["customer_id", "month"])["aum_total"]
    last_month = tables["monthly_balances"]["month"].max()
    checked = 0
    for customer_id, row in soft.head(150).iterrows():
        event = row["true_churn_month"]
        if event + pd.offsets.MonthEnd(2) > last_month:
            continue
        history = balances.loc[customer_id]
        before = history[history.index < event].tail(12).mean()
        run = history[(history.index >= event)].head(definition.soft_months)
        below = (run < definition.soft_floor) | (run < (1 - definition.soft_drop) * before)
        assert below.all(), customer_id
        assert (history[history.index < event].tail(1) > definition.soft_floor).all()
        checked += 1
    assert checked > 50


# -- campaign -----------------------------------------------------------------------------------


def campaign_covariates(tables):
    campaigns = tables["campaigns"]
    assigned = campaigns["assigned_date"].iloc[0]
    balances = tables["monthly_balances"]
    at = balances[balances["month"] == assigned].set_index("customer_id")
    contacts = tables["contacts"]
    recent = contacts[
        (contacts["contact_date"] > assigned - pd.offsets.MonthEnd(3))
        & (contacts["contact_date"] <= assigned)
    ]
    customers = tables["customers"].set_index("customer_id")
    frame = campaigns.set_index("customer_id")
    return pd.DataFrame(
        {
            "offer": frame["offer"],
            "log_aum": np.log1p(frame["aum_before"]),
            "payroll": at.loc[frame.index, "payroll"].astype(float),
            "digital_logins": at.loc[frame.index, "digital_logins"],
            "contacts_3m": recent.groupby("customer_id").size().reindex(frame.index, fill_value=0),
            "age": assigned.year - customers.loc[frame.index, "birth_year"],
            "tenure_years": (assigned - customers.loc[frame.index, "open_date"]).dt.days / 365.25,
        }
    )


def test_campaign_arms_are_balanced_on_covariates(tables):
    frame = campaign_covariates(tables)
    counts = frame["offer"].value_counts()
    assert set(counts.index) == {"none", "rate_coupon", "fee_waiver"}
    assert counts.max() - counts.min() <= 1 and counts.min() > 500
    control = frame[frame["offer"] == "none"]
    for offer in ("rate_coupon", "fee_waiver"):
        treated = frame[frame["offer"] == offer]
        for column in frame.columns.drop("offer"):
            pooled = np.sqrt((treated[column].var() + control[column].var()) / 2)
            smd = abs(treated[column].mean() - control[column].mean()) / pooled
            assert smd < 0.1, (offer, column, smd)


def test_campaign_rows_are_coherent(tables, truth):
    campaigns = tables["campaigns"]
    assert (
        campaigns["group"] == np.where(campaigns["offer"] == "none", "control", "treatment")
    ).all()
    assert (campaigns.loc[campaigns["offer"] == "none", "cost"] == 0).all()
    assert (campaigns.loc[campaigns["offer"] == "fee_waiver", "cost"] == 50).all()
    coupon = campaigns[campaigns["offer"] == "rate_coupon"]
    assert (coupon["cost"] <= 3000).all() and (coupon["cost"] > 0).any()
    # the coupon costs more than the fee waiver on average
    assert coupon["cost"].mean() > 50
    assert (campaigns.loc[~campaigns["retained"], "aum_after"] == 0).all()
    assert (campaigns["horizon_months"] == truth["campaign"]["horizon_months"]).all()
    # retained agrees with the true churn month
    truth_customers = tables["truth_customers"].set_index("customer_id")
    event = truth_customers.loc[campaigns["customer_id"], "true_churn_month"].to_numpy()
    end = campaigns["assigned_date"] + pd.offsets.MonthEnd(truth["campaign"]["horizon_months"])
    churned_in_horizon = pd.notna(event) & (event <= end.to_numpy())
    assert (campaigns["retained"].to_numpy() == ~churned_in_horizon).all()


def test_true_uplift_is_heterogeneous_as_documented(tables):
    campaigns = tables["campaigns"].set_index("customer_id")
    truth_customers = tables["truth_customers"].set_index("customer_id").loc[campaigns.index]
    frame = campaign_covariates(tables)
    calm = frame["contacts_3m"] < 2
    high = campaigns["aum_before"] >= 50_000
    coupon = truth_customers["true_uplift_rate_coupon"]
    assert (coupon[high & calm] > 0).all()
    assert (coupon[(campaigns["aum_before"] < 20_000) & calm] == 0).all()
    assert (coupon[~high & ~calm & (campaigns["aum_before"] < 20_000)] < 0).all()
    fee = truth_customers["true_uplift_fee_waiver"]
    assert (fee[high & calm] == 0).all()
    assert (fee[~high & calm & (frame["digital_logins"] >= 4)] > 0).all()
    # non-campaign customers have no uplift
    others = tables["truth_customers"].set_index("customer_id").drop(campaigns.index)
    assert others["true_uplift_rate_coupon"].isna().all()


def test_person_month_truth_counts_every_event_and_follows_the_at_risk_rule(tables, bank):
    """The person-month table counts the events of the canonical tables, on months on book.

    Nobody is at risk in the window's first month or in their opening month
    (helpers.months.AT_RISK_RULE), so month 0 and months-on-book 1 never appear.
    """
    months = read(bank, "truth_person_months")
    customers = tables["customers"].set_index("customer_id")
    truth_customers = tables["truth_customers"]
    churned = truth_customers[truth_customers["true_churn_month"].notna()]
    assert months["events"].sum() == len(churned)
    first = tables["monthly_balances"]["month"].min()
    assert months["month"].min() > first and months["months_on_book"].min() >= 2
    # the months on book of each event match the customers' open dates
    opened = pd.to_datetime(customers.loc[churned["customer_id"], "open_date"])
    churn_month = pd.to_datetime(churned["true_churn_month"]).to_numpy()
    on_book = (
        churn_month.astype("datetime64[M]") - opened.to_numpy().astype("datetime64[M]")
    ).astype(int) + 1
    counted = months.groupby("months_on_book")["events"].sum()
    assert (pd.Series(on_book).value_counts().sort_index() == counted[counted > 0]).all()


@pytest.mark.slow
def test_observed_campaign_differences_agree_with_mean_true_uplift(tmp_path):
    folder = tmp_path / "bank"
    generate(folder, customers=40_000, months=24, end_month="2026-10", seed=11, transactions=False)
    campaigns = read(folder, "campaigns")
    truth_customers = read(folder, "truth_customers").set_index("customer_id")
    control = campaigns.loc[campaigns["offer"] == "none", "retained"]
    for offer in ("rate_coupon", "fee_waiver"):
        treated = campaigns.loc[campaigns["offer"] == offer, "retained"]
        observed = treated.mean() - control.mean()
        error = np.sqrt(treated.var() / len(treated) + control.var() / len(control))
        expected = truth_customers.loc[campaigns["customer_id"], f"true_uplift_{offer}"].mean()
        assert abs(observed - expected) < 3 * error, (offer, observed, expected, error)
    # the control arm's retention matches the closed-form survival it was given
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    expected_control = truth["campaign"]["mean_true_survival_control"]
    error = np.sqrt(control.var() / len(control))
    assert abs(control.mean() - expected_control) < 3 * error


# -- propensity truth ---------------------------------------------------------------------------


def test_true_take_up_probabilities_match_observed_take_up(tables, truth):
    holdings = tables["holdings"]
    as_of = pd.Timestamp(truth["propensity"]["as_of"]) + pd.offsets.MonthEnd(0)
    end = as_of + pd.offsets.MonthEnd(truth["propensity"]["horizon_months"])
    truth_customers = tables["truth_customers"]
    for product in cross_sell_products():
        column = f"true_p_take_{product}"
        eligible = truth_customers[truth_customers[column].notna()]
        assert 1000 < len(eligible) < len(truth_customers)
        new = holdings[
            (holdings["product"] == product)
            & (holdings["open_date"] > as_of)
            & (holdings["open_date"] <= end)
        ]
        observed = eligible["customer_id"].isin(new["customer_id"]).mean()
        expected = eligible[column].mean()
        error = np.sqrt(expected * (1 - expected) / len(eligible))
        assert abs(observed - expected) < 3.5 * error, (product, observed, expected)
        # holders at the as-of month get NaN
        held = holdings[
            (holdings["product"] == product)
            & (holdings["open_date"] <= as_of)
            & (holdings["close_date"].isna() | (holdings["close_date"] > as_of))
        ]
        assert (
            truth_customers.set_index("customer_id").loc[held["customer_id"], column].isna().all()
        )


def test_true_take_up_ranks_by_the_documented_drivers(tables, truth):
    # wealth management take-up rises with AUM (positive true coefficient)
    assert truth["propensity"]["coefficients"]["wealth_mgmt"]["log_aum"] > 0
    balances = tables["monthly_balances"]
    as_of = pd.Timestamp(truth["propensity"]["as_of"]) + pd.offsets.MonthEnd(0)
    aum = balances[balances["month"] == as_of].set_index("customer_id")["aum_total"]
    p_take = tables["truth_customers"].set_index("customer_id")["true_p_take_wealth_mgmt"].dropna()
    aum = aum.loc[p_take.index]
    assert p_take[aum > aum.quantile(0.9)].mean() > 2 * p_take[aum < aum.quantile(0.5)].mean()


# -- truth file ---------------------------------------------------------------------------------


def test_truth_json_documents_every_driver(truth):
    churn = truth["churn"]
    names = [item["name"] for item in churn["covariates"]]
    assert names == [
        "log_aum",
        "product_count",
        "rm_contact_3m",
        "digital_active",
        "aum_drop_3m",
        "payroll",
    ]
    for item in churn["covariates"]:
        assert len(item["definition"]) > 20
        for kind in ("hard", "soft"):
            assert 0.5 <= np.exp(item[kind]) <= 2.0  # moderate, realistic hazard ratios
    coefficients = truth["propensity"]["coefficients"]
    assert list(coefficients) == cross_sell_products()
    covariates = [item["name"] for item in truth["propensity"]["covariates"]]
    for product in coefficients.values():
        assert set(product) == {"intercept", *covariates}
    assert truth["campaign"]["assigned_month"] == "2025-10"
    assert truth["propensity"]["as_of"] == "2026-04"
    assert truth["window"] == {"first_month": "2024-11", "last_month": "2026-10"}


def test_truth_customers_columns(tables):
    columns = tables["truth_customers"].columns.tolist()
    expected = ["customer_id", "true_churn_month", "true_churn_type"]
    expected += [f"true_p_take_{product}" for product in cross_sell_products()]
    expected += [
        "true_uplift_rate_coupon",
        "true_uplift_fee_waiver",
        "true_aum_uplift_rate_coupon",
        "true_aum_uplift_fee_waiver",
    ]
    assert columns == expected
    hard = tables["truth_customers"]["true_churn_type"] == "hard"
    close_month = tables["customers"]["close_date"] + pd.offsets.MonthEnd(0)
    assert (tables["truth_customers"].loc[hard, "true_churn_month"] == close_month[hard]).all()


# -- flat export --------------------------------------------------------------------------------


def test_flat_export_follows_the_architecture(small):
    flat = pd.read_csv(small / "flat" / "customers_flat.csv", encoding="gb18030", dtype=str)
    assert flat.columns.tolist() == FLAT_HEADERS
    for column in ["是否流失", "代发工资"] + [h for h in FLAT_HEADERS if h.startswith("持有")]:
        assert set(flat[column]) <= {"是", "否"}, column
    assert set(flat["客户层级"]) <= set(tier_ladder()["name_zh"])
    assert set(flat["性别"]) == {"男", "女"}
    assert flat["资产余额"].str.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}").all()
    campaigns = read(small, "campaigns")
    groups = flat["营销分组"].fillna("").value_counts()
    assert groups["对照组"] == (campaigns["offer"] == "none").sum()
    assert groups[""] == len(flat) - len(campaigns)
    in_campaign = flat["营销分组"].notna()
    assert flat.loc[in_campaign, "活动后留存"].isin(["是", "否"]).all()
    assert flat.loc[~in_campaign, "活动后留存"].isna().all()
    retained = flat.set_index("客户号").loc[campaigns["customer_id"], "活动后留存"] == "是"
    assert (retained.to_numpy() == campaigns["retained"].to_numpy()).all()
    churned = flat["是否流失"] == "是"
    hard = read(small, "customers")["close_date"].notna()
    assert churned.sum() >= hard.sum() > 0


# -- determinism, output handling, CLI ---------------------------------------------------------


def test_same_arguments_give_identical_contents(tmp_path):
    arguments = dict(customers=400, months=14, end_month="2025-06", seed=3)
    generate(tmp_path / "a", **arguments)
    generate(tmp_path / "b", **arguments)
    for table in CANONICAL | {"truth_customers": "", "products": ""}:
        pd.testing.assert_frame_equal(read(tmp_path / "a", table), read(tmp_path / "b", table))
    for name in ("truth.json", "flat/customers_flat.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    generate(tmp_path / "c", **(arguments | {"seed": 4}))
    assert not read(tmp_path / "a", "monthly_balances").equals(
        read(tmp_path / "c", "monthly_balances")
    )


def test_output_replaces_tables_but_keeps_other_files(tmp_path):
    folder = tmp_path / "data"
    (folder / "flat").mkdir(parents=True)
    (folder / "dataset.yaml").write_text("name: keep me\n", encoding="utf-8")
    (folder / "flat" / "dataset.yaml").write_text("name: keep me too\n", encoding="utf-8")
    generate(folder, customers=200, months=6, end_month="2026-10", seed=1)
    assert (folder / "transactions.parquet").exists()
    generate(folder, customers=200, months=6, end_month="2026-10", seed=1, transactions=False)
    assert not (folder / "transactions.parquet").exists()  # a stale table would disagree
    assert (folder / "dataset.yaml").read_text(encoding="utf-8") == "name: keep me\n"
    assert (folder / "flat" / "dataset.yaml").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # temp folder removed


def test_short_windows_skip_the_campaign_cleanly(tmp_path):
    summary = generate(tmp_path / "short", customers=300, months=6, end_month="2026-10", seed=2)
    assert summary["rows"]["campaigns"] == 0
    campaigns = read(tmp_path / "short", "campaigns")
    assert list(campaigns.columns) == CANONICAL["campaigns"].split() and campaigns.empty
    truth = json.loads((tmp_path / "short" / "truth.json").read_text(encoding="utf-8"))
    assert truth["campaign"]["run"] is False


def test_bad_arguments_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="customers must be at least 10"):
        generate(tmp_path, customers=3)
    with pytest.raises(ValueError, match="months must be at least 2"):
        generate(tmp_path, customers=100, months=1)


def test_cli_synth_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "cli"
    code = cli.main(
        ["synth", "--customers", "300", "--months", "12", "--seed", "5", "--out", str(out)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "monthly_balances" in printed and "annualised rate" in printed and "mass" in printed
    assert (out / "truth.json").exists() and (out / "flat" / "customers_flat.csv").exists()


@pytest.mark.slow
def test_committed_sample_is_what_the_documented_command_generates(tmp_path):
    if not (paths.SAMPLE_DIR / "customers.parquet").exists():
        pytest.skip("no committed sample")
    code = cli.main(
        ["synth", "--customers", "10000", "--months", "24", "--end-month", "2026-10"]
        + ["--seed", "20261031", "--out", str(tmp_path / "sample")]
    )
    assert code == 0
    for table in list(CANONICAL) + ["products", "truth_customers"]:
        fresh = read(tmp_path / "sample", table)
        committed = read(paths.SAMPLE_DIR, table)
        pd.testing.assert_frame_equal(fresh, committed, obj=table)
    for name in ("truth.json", "flat/customers_flat.csv"):
        assert (tmp_path / "sample" / name).read_bytes() == (paths.SAMPLE_DIR / name).read_bytes()
    shutil.rmtree(tmp_path / "sample")


def test_true_offer_uplift_follows_the_effect_model(bank):
    """The truth a plan is scored against: the campaign's effect model at a month-end."""
    frames = {name: read(bank, name) for name in ("customers", "monthly_balances", "holdings",
                                                   "contacts")}  # fmt: skip
    truth = synth.true_offer_uplift(Dataset.from_frames(frames), "2026-10")
    x = synth.covariates_at(Dataset.from_frames(frames), "2026-10").set_index("customer_id")
    truth = truth.set_index("customer_id").join(x)
    calm = truth["contacts_3m"] < 2
    rich, small = truth["aum"] >= 50_000, truth["aum"] < 20_000
    assert (truth.loc[rich & calm, "true_uplift_rate_coupon"] > 0).all()
    assert (truth.loc[small & calm, "true_uplift_rate_coupon"] == 0).all()
    assert (truth.loc[rich & calm, "true_uplift_fee_waiver"] == 0).all()
    digital = truth["digital_active"] > 0
    assert (truth.loc[~rich & digital & calm, "true_uplift_fee_waiver"] > 0).all()
    assert (truth.loc[~calm & small, "true_uplift_rate_coupon"] < 0).all()  # annoyed
    plan = pd.DataFrame(
        {"customer_id": truth.index[:2], "best_offer": ["rate_coupon", "fee_waiver"]}
        | {"clv": [1000.0, 2000.0], "cost": [10.0, 20.0]}
    )
    expected = (
        truth["true_uplift_rate_coupon"].iloc[0] * 1000
        + truth["true_uplift_fee_waiver"].iloc[1] * 2000
        - 30
    )
    assert synth.plan_truth_value(plan, truth.reset_index()) == pytest.approx(expected)
