"""Tests for helpers.data.dataset: specs, loading (CSV/Excel/Parquet, flat mode), Dataset API."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.data import Dataset


def _panel_frames() -> dict[str, pd.DataFrame]:
    customers = pd.DataFrame(
        {
            "customer_id": [1, 2],  # ints on purpose: from_frames must turn ids into strings
            "open_date": pd.to_datetime(["2020-01-15", "2024-12-03"]),
            "close_date": pd.to_datetime([None, None]),
        }
    )
    balances = pd.DataFrame(
        {
            "customer_id": ["1", "1", "2"],
            "month": pd.to_datetime(["2024-11-30", "2024-12-31", "2024-12-31"]),
            "aum_total": [100.0, 200.0, 50.0],
        }
    )
    return {"customers": customers, "monthly_balances": balances}


def test_from_frames_tables_months_and_ids():
    ds = Dataset.from_frames(_panel_frames())
    assert ds.mode == "panel" and ds.name == "in-memory"
    assert ds.has("customers") and not ds.has("transactions")
    assert ds.table("customers")["customer_id"].tolist() == ["1", "2"]
    assert ds.months() == ["2024-11", "2024-12"]
    assert ds.latest_month() == "2024-12"
    assert ds.roles() == {"customers", "balances_history", "duration", "event", "value", "tier"}


def test_from_frames_connect_views_use_canonical_names():
    ds = Dataset.from_frames(_panel_frames())
    con = ds.connect()
    total = con.sql(
        "SELECT customer_id, sum(aum_total) FROM monthly_balances GROUP BY 1 ORDER BY 1"
    )
    assert total.fetchall() == [("1", 300.0), ("2", 50.0)]
    assert ds.fingerprint()["rows"] == {"customers": 2, "monthly_balances": 3}


def test_from_frames_flat_roles_and_unknown_table():
    flat = pd.DataFrame(
        {"customer_id": ["a"], "duration_months": [3.0], "event": [True], "held_fund": [False]}
    )
    ds = Dataset.from_frames({"flat": flat}, mode="flat")
    assert ds.roles() == {"customers", "duration", "event", "products"}
    assert ds.months() == [] and ds.latest_month() is None
    with pytest.raises(KeyError, match="flat"):
        ds.table("customers")
    with pytest.raises(ValueError, match="unknown table"):
        Dataset.from_frames({"balances": flat})


# --------------------------------------------------------------------------------------------
# Loading from files
# --------------------------------------------------------------------------------------------

import os  # noqa: E402

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from dataset_fixtures import (  # noqa: E402
    LONG_ID,
    panel_frames,
    write_flat_gb18030,
    write_panel,
    write_spec,
)

from helpers.data import DatasetSpecError, load_dataset, load_spec  # noqa: E402
from helpers.paths import SAMPLE_FLAT_SPEC, SAMPLE_SPEC  # noqa: E402


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_panel_files_load_to_canonical_tables(tmp_path, fmt):
    ds = load_dataset(write_panel(tmp_path, fmt=fmt))
    customers = ds.table("customers")
    assert customers["customer_id"].tolist() == ["0001", "0002", LONG_ID]
    assert customers["birth_year"].dtype == np.int64
    assert str(customers["open_date"].dtype) == "datetime64[ns]"
    assert customers["close_date"].isna().tolist() == [True, True, False]
    assert ds.months() == ["2026-08", "2026-09", "2026-10"]
    assert ds.latest_month() == "2026-10"
    assert ds.roles() == {
        "customers", "balances_history", "transactions", "holdings", "contacts", "campaigns",
        "duration", "event", "value", "tier", "products", "treatment", "outcome",
    }  # fmt: skip
    con = ds.connect()
    by_customer = con.sql(
        "SELECT customer_id, count(*) FROM monthly_balances GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert by_customer == [("0001", 3), ("0002", 2), (LONG_ID, 3)]
    fingerprint = ds.fingerprint()
    assert fingerprint["rows"]["monthly_balances"] == 8
    assert len(fingerprint["files"]) == 6 and all(
        len(f["sha256"]) == 64 for f in fingerprint["files"]
    )


def test_parquet_big_tables_stay_in_the_file(tmp_path):
    ds = load_dataset(write_panel(tmp_path))
    # monthly_balances was validated in DuckDB, never loaded into pandas
    assert "monthly_balances" not in ds._cache
    balances = ds.table("monthly_balances")
    assert list(balances.columns)[:2] == ["customer_id", "month"]
    assert balances["customer_id"].map(type).eq(str).all()


def test_parquet_renamed_columns_view(tmp_path):
    frames = panel_frames()
    frames["monthly_balances"] = frames["monthly_balances"].rename(
        columns={"customer_id": "客户号", "aum_total": "总资产"}
    )
    spec_path = write_panel(tmp_path, frames)
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["tables"]["monthly_balances"]["columns"] = {"customer_id": "客户号", "aum_total": "总资产"}
    write_spec(tmp_path, spec)
    con = load_dataset(spec_path).connect()
    assert con.sql("SELECT sum(aum_total) FROM monthly_balances").fetchall()[0][0] == 8 * 1750.5


def test_relative_paths_resolve_against_the_spec_folder(tmp_path, monkeypatch):
    spec_path = write_panel(tmp_path / "bank")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = load_spec(spec_path)
    assert spec.tables["customers"].path == (tmp_path / "bank" / "customers.parquet").resolve()
    assert load_dataset(os.path.relpath(spec_path, elsewhere)).table("customers").shape[0] == 3


def test_gb18030_flat_csv_with_chinese_headers(tmp_path):
    ds = load_dataset(write_flat_gb18030(tmp_path))
    flat = ds.table("flat")
    assert ds.mode == "flat" and ds.months() == []
    assert flat["customer_id"].tolist() == ["0000123", "0000456", "0009999"]
    assert flat["duration_months"].tolist() == [36.0, 7.0, 120.0]
    assert flat["event"].tolist() == [False, True, False] and flat["event"].dtype == bool
    assert flat["value"].tolist() == [1234.5, 88000.0, 7500000.0]
    assert flat["tier"].tolist() == ["mass", "affluent", "private"]
    assert flat["held_time_deposit"].tolist() == [True, False, True]
    assert flat["held_mobile_banking"].tolist() == [True, False, True]
    assert flat["treatment"].tolist() == ["control", "rate_coupon", None]
    assert flat["outcome"].tolist()[:2] == [True, False] and pd.isna(flat["outcome"].iloc[2])
    assert flat["gender"].tolist() == ["M", "F", "F"]
    assert flat["payroll"].tolist() == [True, False, False]
    assert flat["age"].tolist() == [45, 31, 62] and flat["age"].dtype == np.int64
    assert flat["digital_logins_avg_3m"].tolist() == [3.5, 0.0, 12.0]
    assert ds.roles() == {
        "customers", "duration", "event", "value", "tier", "products", "treatment", "outcome",
    }  # fmt: skip


def test_auto_encoding_reads_gb18030_and_says_so(tmp_path):
    spec_path = write_flat_gb18030(tmp_path)
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["table"]["encoding"] = "auto"
    write_spec(tmp_path, spec)
    ds = load_dataset(spec_path)
    assert ds.table("flat")["customer_id"].iloc[0] == "0000123"
    assert any("GB18030" in notice for notice in ds.notices)


def test_utf8_bom_csv_and_19_digit_ids(tmp_path):
    frames = panel_frames()
    spec_path = write_panel(tmp_path, frames, fmt="csv")
    text = (tmp_path / "customers.csv").read_text(encoding="utf-8")
    (tmp_path / "customers.csv").write_bytes(text.encode("utf-8-sig"))
    customers = load_dataset(spec_path).table("customers")
    assert customers.columns[0] == "customer_id"  # the BOM did not stick to the header
    assert customers["customer_id"].iloc[2] == LONG_ID
    assert customers["name"].tolist() == ["张三", "李四", "王五"]


def test_thousands_separators_semicolons_and_na_markers(tmp_path):
    (tmp_path / "t.csv").write_text(
        "# exported 2026-11-01\nid;months;left;balance\n00042;12;Y;1.234,50\n00043;3;N;-\n",
        encoding="utf-8",
    )
    spec = {
        "name": "public-churn",
        "mode": "flat",
        "table": {"path": "t.csv", "sep": ";", "skiprows": 1, "decimal": ",",
                  "thousands": ".", "na_values": ["-"]},
        "roles": {"id": "id", "duration": "months", "value": "balance",
                  "event": {"column": "left", "churned": ["Y"]}},
    }  # fmt: skip
    flat = load_dataset(write_spec(tmp_path, spec)).table("flat")
    assert flat["customer_id"].tolist() == ["00042", "00043"]
    assert flat["value"].iloc[0] == 1234.5 and pd.isna(flat["value"].iloc[1])
    assert flat["event"].tolist() == [True, False]


def test_excel_sheet_by_name_keeps_ids(tmp_path):
    frame = pd.DataFrame(
        {"卡号": ["0001", LONG_ID], "在网天数": [730, 365], "状态": ["Attrited Customer", "Existing Customer"],
         "余额": [10.5, 20.0]}
    )  # fmt: skip
    with pd.ExcelWriter(tmp_path / "book.xlsx") as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="说明", index=False)
        frame.to_excel(writer, sheet_name="客户", index=False)
    spec = {
        "name": "excel",
        "mode": "flat",
        "table": {"path": "book.xlsx", "sheet": "客户"},
        "roles": {"id": "卡号", "duration": "在网天数", "duration_unit": "days", "value": "余额",
                  "event": {"column": "状态", "churned": ["Attrited Customer"],
                            "not_churned": ["Existing Customer"]}},
    }  # fmt: skip
    flat = load_dataset(write_spec(tmp_path, spec)).table("flat")
    assert flat["customer_id"].tolist() == ["0001", LONG_ID]
    assert flat["event"].tolist() == [True, False]
    # 30.4375 days a month (365.25 / 12): 730 days = 23.9836 months, 365 days = 11.9918
    assert flat["duration_months"].round(4).tolist() == [23.9836, 11.9918]


@pytest.mark.parametrize(("unit", "raw", "months"), [("days", 365.25, 12.0), ("years", 2.5, 30.0),
                                                      ("months", 7, 7.0)])  # fmt: skip
def test_duration_units(tmp_path, unit, raw, months):
    (tmp_path / "t.csv").write_text(f"id,tenure\nA,{raw}\n", encoding="utf-8")
    spec = {"name": "u", "mode": "flat", "table": "t.csv",
            "roles": {"id": "id", "duration": "tenure", "duration_unit": unit}}  # fmt: skip
    flat = load_dataset(write_spec(tmp_path, spec)).table("flat")
    assert flat["duration_months"].iloc[0] == pytest.approx(months)


def test_numeric_event_condition_and_binary_treatment(tmp_path):
    (tmp_path / "t.csv").write_text(
        "Tenure,Exited,Balance,NumOfProducts,Promo,Responded\n"
        "2,1,0.0,1,1,1\n8,0,125510.82,2,0,0\n5,0,10.0,0,,\n",
        encoding="utf-8",
    )
    spec = {
        "name": "bank-churn",
        "mode": "flat",
        "table": "t.csv",
        "roles": {
            "duration": "Tenure", "duration_unit": "years", "value": "Balance",
            "event": {"column": "Exited", "churned": "> 0"},
            "products": {"any_product": {"column": "NumOfProducts", "held": "> 0"}},
            "treatment": {"column": "Promo"},
            "outcome": {"column": "Responded", "positive": [1], "negative": [0]},
            "features": ["NumOfProducts"],
        },
    }  # fmt: skip
    ds = load_dataset(write_spec(tmp_path, spec))
    flat = ds.table("flat")
    assert flat["event"].tolist() == [True, False, False]
    assert flat["held_any_product"].tolist() == [True, True, False]
    assert flat["treatment"].tolist() == ["treatment", "control", None]
    assert flat["outcome"].tolist()[:2] == [True, False]
    assert flat["numofproducts"].tolist() == [1, 2, 0]
    # no id role: ids generated from row order, and the dataset says so
    assert flat["customer_id"].tolist() == ["row_000001", "row_000002", "row_000003"]
    assert any("generated from row order" in notice for notice in ds.notices)
    assert "generated from row order" in str(ds.validation_)


def test_quarantine_sets_bad_rows_aside_and_goes_on(tmp_path):
    frames = panel_frames()
    frames["customers"].loc[1, "birth_year"] = 1800  # absurd
    frames["holdings"].loc[2, "product"] = "gold_bar"  # unknown product code
    spec_path = write_panel(
        tmp_path / "bank", frames, fmt="csv", on_invalid="quarantine", max_quarantine_share=0.6
    )
    folder = tmp_path / "bank" / "quarantine"
    ds = load_dataset(spec_path)
    assert not folder.exists(), "loading (validate, notebooks) never writes quarantine files"
    ds = load_dataset(spec_path, write_quarantine=True)  # what fishpond run does
    assert ds.table("customers")["customer_id"].tolist() == ["0001", LONG_ID]
    assert ds.table("holdings")["product"].tolist() == ["current_account", "fund"]
    quarantined = pd.read_csv(folder / "customers.csv", dtype=str, encoding="utf-8-sig")
    assert quarantined["row"].tolist() == ["2"] and quarantined["customer_id"].tolist() == ["0002"]
    assert quarantined["birth_year"].tolist() == ["1800"]  # the raw value as read
    assert "birth_year" in quarantined["reason"].iloc[0]
    report = ds.validation_
    # the quarantined customer's rows elsewhere go too (their id is no longer in customers)
    assert report.ok and set(report.quarantined["table"]) == {
        "customers", "monthly_balances", "transactions", "holdings", "campaigns",
    }  # fmt: skip
    assert "0002" not in set(ds.table("monthly_balances")["customer_id"])
    assert "1 row(s) of customers set aside" in str(report)
    summary = ds.quarantine_summary().set_index("table")
    assert summary.loc["customers", "rows"] == 1
    assert summary.loc["customers", "file"] == str(folder / "customers.csv")


def test_quarantine_in_parquet_big_table(tmp_path):
    frames = panel_frames()
    frames["monthly_balances"].loc[0, "loan_balance"] = -5.0
    spec_path = write_panel(
        tmp_path / "bank", frames, on_invalid="quarantine", max_quarantine_share=0.2
    )
    ds = load_dataset(spec_path, write_quarantine=True)
    con = ds.connect()
    assert con.sql("SELECT count(*) FROM monthly_balances").fetchall()[0][0] == 7
    assert len(ds.table("monthly_balances")) == 7
    folder = tmp_path / "bank" / "quarantine"
    quarantined = pd.read_csv(folder / "monthly_balances.csv", encoding="utf-8-sig")
    assert quarantined["row"].tolist() == [1]
    assert quarantined["reason"].iloc[0] == "loan_balance: negative value"
    assert quarantined["loan_balance"].tolist() == [
        -5.0
    ]  # the raw number, neutralised only when it is text


def test_spec_errors_are_clear(tmp_path):
    with pytest.raises(DatasetSpecError, match="not found"):
        load_spec(tmp_path / "nope.yaml")
    bad = write_spec(
        tmp_path, {"name": "x", "tables": {"customers": {"path": "c.csv", "sepp": ";"}}}
    )
    with pytest.raises(DatasetSpecError, match=r"unknown key\(s\) \['sepp'\]"):
        load_spec(bad)
    (tmp_path / "code.yaml").write_text("name: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(DatasetSpecError, match="not valid"):
        load_spec(tmp_path / "code.yaml")  # safe loader: a spec cannot run code


@pytest.mark.skipif(not SAMPLE_SPEC.parent.joinpath("customers.parquet").exists(),
                    reason="sample data not generated yet")  # fmt: skip
def test_bundled_sample_loads():
    ds = load_dataset()
    assert ds.name == "fishpond-sample" and ds.latest_month() == "2026-10"
    assert len(ds.months()) == 24
    assert ds.table("customers")["customer_id"].is_unique


@pytest.mark.skipif(not SAMPLE_FLAT_SPEC.parent.joinpath("customers_flat.csv").exists(),
                    reason="flat sample not generated yet")  # fmt: skip
def test_bundled_flat_sample_loads():
    ds = load_dataset(SAMPLE_FLAT_SPEC)
    flat = ds.table("flat")
    assert flat["customer_id"].str.startswith("0").any()
    assert {"event", "value", "tier", "held_fund", "treatment", "outcome", "gender"} <= set(flat)


def test_a_passed_validation_is_remembered_for_the_same_files_only(tmp_path, monkeypatch):
    """The monthly run loads the same files in every notebook: validate them once."""
    import shutil

    from helpers import paths as fishpond_paths
    from helpers.data import DataValidationError
    from helpers.data import load_dataset as load

    monkeypatch.delenv("FISHPOND_NO_VALIDATION_CACHE", raising=False)
    monkeypatch.setattr(fishpond_paths, "SCRATCH_DIR", tmp_path / "scratch")
    folder = tmp_path / "flat"
    shutil.copytree(fishpond_paths.SAMPLE_FLAT_SPEC.parent, folder)
    first = load(folder / "dataset.yaml")
    assert first.validation_ is not None
    assert len(list((tmp_path / "scratch" / "validated").glob("*.ok"))) == 1
    second = load(folder / "dataset.yaml")
    assert second.validation_ is None and any("passed earlier" in n for n in second.notices)
    # a changed file is validated again, and its problems are found
    csv = folder / "customers_flat.csv"
    lines = csv.read_bytes().splitlines(keepends=True)
    csv.write_bytes(b"".join(lines + [lines[1]]))  # duplicate customer id
    with pytest.raises(DataValidationError, match="(?i)duplicate"):
        load(folder / "dataset.yaml")
