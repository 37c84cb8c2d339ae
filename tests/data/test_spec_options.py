"""Spec options a real extract needs (issue 13 §3): currency and money unit, a tier ladder,
"all other columns are features", rows under the header, tenure unit, several files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from dataset_fixtures import panel_frames, write_panel, write_spec

from helpers.config import assign_tiers
from helpers.data import DataValidationError, load_dataset, load_spec, readiness
from helpers.paths import NOTEBOOKS_DIR


def _flat_spec(folder, csv: str, roles: dict, **top) -> object:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "t.csv").write_text(csv, encoding="utf-8")
    return write_spec(
        folder, {"name": "opts", "mode": "flat", "table": "t.csv", "roles": roles, **top}
    )


# ------------------------------------------------------------------------------ money
def test_currency_and_money_unit_flat(tmp_path):
    csv = 'id,balance\nA,"1,5"\nB,2\n'
    spec = _flat_spec(tmp_path, csv, {"id": "id", "value": "balance"}, currency="eur",
                      money_unit=1000)  # fmt: skip
    spec_dict = yaml.safe_load(spec.read_text())
    spec_dict["table"] = {"path": "t.csv", "decimal": ",", "thousands": "."}
    write_spec(tmp_path, spec_dict)
    ds = load_dataset(spec)
    assert ds.currency == "EUR" and ds.money_unit == 1000.0
    assert ds.table("flat")["value"].tolist() == [1500.0, 2000.0]


def test_defaults_are_cny_and_one():
    spec = load_spec()
    assert (spec.currency, spec.money_unit, spec.tiers, spec.max_quarantine_share) == (
        "CNY", 1.0, None, 0.05,
    )  # fmt: skip


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_money_unit_scales_panel_amounts_in_both_engines(tmp_path, fmt):
    frames = panel_frames()
    spec_path = write_panel(tmp_path, frames, fmt=fmt, money_unit=10000)
    ds = load_dataset(spec_path)  # aum_total = sum of parts still holds after scaling
    con = ds.connect()
    total = con.sql("SELECT sum(aum_total), max(demand_deposit) FROM monthly_balances").fetchall()
    assert total == [(8 * 1750.5 * 10000, 1000.0 * 10000)]
    assert ds.table("campaigns")["cost"].tolist() == [0.0, 500000.0]
    assert ds.table("customers")["birth_year"].tolist() == [1980, 1990, 1975]  # not money


# ------------------------------------------------------------------------------ tiers
def test_spec_tier_ladder(tmp_path):
    tiers = [
        {"code": "basic", "name_zh": "普通", "name_en": "Basic", "lower": 0},
        {"code": "gold", "name_zh": "金卡", "name_en": "Gold", "lower": 100000},
        {"code": "diamond", "lower": 1000000},
    ]
    spec = _flat_spec(tmp_path, "id,b\nA,5\n", {"id": "id", "value": "b"}, tiers=tiers)
    ladder = load_dataset(spec).spec_ladder()
    assert ladder["code"].tolist() == ["basic", "gold", "diamond"]
    assert ladder["name_en"].tolist() == ["Basic", "Gold", "diamond"]
    assert ladder["upper"].tolist() == [100000.0, 1000000.0, np.inf]
    assert assign_tiers([99999, 100000, 5e6], ladder).astype(str).tolist() == [
        "basic", "gold", "diamond",
    ]  # fmt: skip
    assert load_dataset(write_panel(tmp_path / "p")).spec_ladder() is None


def test_tier_ladder_must_increase(tmp_path):
    from helpers.data import DatasetSpecError

    tiers = [{"code": "a", "lower": 10}, {"code": "b", "lower": 5}]
    with pytest.raises(DatasetSpecError, match=r"tiers: lower bounds must increase"):
        load_spec(_flat_spec(tmp_path, "id\nA\n", {"id": "id"}, tiers=tiers))


# ------------------------------------------------------------------------------ features
def test_all_other_columns_are_features_with_an_exclude_list(tmp_path):
    csv = (
        "RowNumber,CustomerId,Surname,Tenure,Exited,Balance,Geography,Age,HasCrCard\n"
        "1,15634602,Hargrave,2,1,0.0,France,42,1\n"
        "2,15647311,Hill,1,0,83807.86,Spain,41,0\n"
    )
    roles = {
        "id": "CustomerId", "duration": "Tenure", "duration_unit": "years",
        "event": {"column": "Exited", "churned": "> 0"}, "value": "Balance",
        "products": {"credit_card": {"column": "HasCrCard", "held": [1], "not_held": [0]}},
        "features": "all", "exclude": ["RowNumber", "Surname"],
    }  # fmt: skip
    flat = load_dataset(_flat_spec(tmp_path, csv, roles)).table("flat")
    assert list(flat.columns) == [
        "customer_id", "duration_months", "event", "value", "held_credit_card", "geography", "age",
    ]  # fmt: skip
    assert flat["age"].tolist() == [42, 41] and flat["geography"].tolist() == ["France", "Spain"]


# ------------------------------------------------------------------------------ skip rows
def test_rows_under_the_header_are_skipped(tmp_path):
    csv = "客户号,余额\n(文本),(元)\n说明行,\n0001,10\n0002,20\n"
    spec = _flat_spec(tmp_path, csv, {"id": "客户号", "value": "余额"})
    raw = yaml.safe_load(spec.read_text(encoding="utf-8"))
    raw["table"] = {"path": "t.csv", "skip_after_header": 2}
    write_spec(tmp_path, raw)
    flat = load_dataset(spec).table("flat")
    assert flat["customer_id"].tolist() == ["0001", "0002"]
    assert flat["value"].tolist() == [10.0, 20.0]


def test_rows_under_the_header_in_excel(tmp_path):
    frame = pd.DataFrame({"id": ["units", "A", "B"], "balance": ["RMB", 1.5, 2.0]})
    frame.to_excel(tmp_path / "t.xlsx", index=False)
    spec = {"name": "x", "mode": "flat", "table": {"path": "t.xlsx", "skip_after_header": 1},
            "roles": {"id": "id", "value": "balance"}}  # fmt: skip
    flat = load_dataset(write_spec(tmp_path, spec)).table("flat")
    assert flat["value"].tolist() == [1.5, 2.0]


# ------------------------------------------------------------------------------ tenure unit
def test_tenure_in_years_warns_about_a_six_month_horizon(tmp_path):
    csv = "id,years,left\n" + "".join(
        f"C{i},{i % 9},{'1' if i % 4 == 0 else '0'}\n" for i in range(30)
    )
    roles = {"id": "id", "duration": "years", "duration_unit": "years",
             "event": {"column": "left", "churned": [1], "not_churned": [0]}}  # fmt: skip
    ds = load_dataset(_flat_spec(tmp_path, csv, roles))
    assert ds.tenure_unit == "years" and ds.tenure_step_months() == 12.0
    warning = ds.horizon_warning(6)
    assert "the churn horizon (6 months) is shorter than the tenure step" in warning
    assert "set churn_horizon_months to 12 or more" in warning
    assert ds.horizon_warning(12) is None
    table = readiness(ds, NOTEBOOKS_DIR).set_index("notebook")
    assert "warning: the churn horizon (6 months)" in table.loc["02_lifecycle_survival", "detail"]
    assert "warning" not in table.loc["01_tiering", "detail"]
    quiet = readiness(ds, NOTEBOOKS_DIR, params={"churn_horizon_months": 12})
    assert not quiet["detail"].str.contains("warning").any()


def test_months_that_are_whole_years_count_as_years(tmp_path):
    csv = "id,months\n" + "".join(f"C{i},{12 * (i % 5)}\n" for i in range(25))
    ds = load_dataset(_flat_spec(tmp_path, csv, {"id": "id", "duration": "months"}))
    assert ds.tenure_unit == "months" and ds.tenure_step_months() == 12.0
    assert "whole years" in ds.horizon_warning(3)


def test_days_and_panel_tenure_never_warn(tmp_path):
    csv = "id,days\nA,400\nB,30\n"
    ds = load_dataset(_flat_spec(tmp_path, csv, {"id": "id", "duration": "days",
                                                 "duration_unit": "days"}))  # fmt: skip
    assert ds.horizon_warning(1) is None
    assert load_dataset(write_panel(tmp_path / "p")).horizon_warning(1) is None


# ------------------------------------------------------------------------------ several files
def _split_balances(folder, fmt: str) -> None:
    balances = panel_frames()["monthly_balances"]
    for month, part in balances.groupby("month"):
        name = folder / f"balances_{month:%Y-%m}.{fmt}"
        if fmt == "csv":
            part.to_csv(name, index=False)
        else:
            part.to_parquet(name, index=False)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_one_file_per_month_read_as_one_table(tmp_path, fmt):
    spec_path = write_panel(tmp_path, fmt=fmt)
    (tmp_path / f"monthly_balances.{fmt}").unlink()
    _split_balances(tmp_path, fmt)
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["tables"]["monthly_balances"] = {"path": f"balances_*.{fmt}"}
    write_spec(tmp_path, spec)
    ds = load_dataset(spec_path)
    assert ds.months() == ["2026-08", "2026-09", "2026-10"]
    assert ds.fingerprint()["rows"]["monthly_balances"] == 8
    assert len(ds.files()) == 6 + 2
    assert load_spec(spec_path).tables["monthly_balances"].label == f"balances_*.{fmt} (3 files)"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_bad_row_in_the_third_file_is_quarantined_with_its_file(tmp_path, fmt):
    frames = panel_frames()
    frames["monthly_balances"].loc[7, "loan_balance"] = -3.0  # last row: the October file
    spec_path = write_panel(tmp_path, frames, fmt=fmt, on_invalid="quarantine",
                            max_quarantine_share=0.2)  # fmt: skip
    (tmp_path / f"monthly_balances.{fmt}").unlink()
    balances = frames["monthly_balances"]
    paths = []
    for month, part in balances.groupby("month"):
        name = f"balances_{month:%Y-%m}.{fmt}"
        paths.append(name)
        (part.to_csv if fmt == "csv" else part.to_parquet)(tmp_path / name, index=False)
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["tables"]["monthly_balances"] = {"path": paths}
    write_spec(tmp_path, spec)
    ds = load_dataset(spec_path, write_quarantine=True)
    rows = pd.read_csv(tmp_path / "quarantine" / "monthly_balances.csv", dtype=str)
    assert rows[["row", "file", "file_row"]].values.tolist() == [["8", "balances_2026-10.csv"
                                                                  if fmt == "csv" else
                                                                  "balances_2026-10.parquet", "3"]]  # fmt: skip
    assert ds.fingerprint()["rows"]["monthly_balances"] == 7


def test_files_that_differ_in_columns_are_a_problem(tmp_path):
    spec_path = write_panel(tmp_path, fmt="csv")
    (tmp_path / "monthly_balances.csv").unlink()
    _split_balances(tmp_path, "csv")
    second = tmp_path / "balances_2026-09.csv"
    pd.read_csv(second).drop(columns="card_spend").to_csv(second, index=False)
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["tables"]["monthly_balances"] = {"path": "balances_*.csv"}
    write_spec(tmp_path, spec)
    with pytest.raises(DataValidationError) as caught:
        load_dataset(spec_path)
    problem = caught.value.problems.iloc[0]
    assert problem["check"] == "files differ in columns"
    assert "balances_2026-09.csv differs from balances_2026-08.csv" in problem["expected"]
    assert "missing ['card_spend']" in problem["expected"]


def test_a_glob_that_matches_nothing_is_a_missing_file(tmp_path):
    spec_path = write_panel(tmp_path, fmt="csv")
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["tables"]["transactions"] = {"path": "txn_*.csv"}
    write_spec(tmp_path, spec)
    with pytest.raises(DataValidationError) as caught:
        load_dataset(spec_path)
    problem = caught.value.problems.iloc[0]
    assert (problem["table"], problem["check"]) == ("transactions", "missing file")
    assert "no file matches" in problem["expected"] and "txn_*.csv" in problem["expected"]
