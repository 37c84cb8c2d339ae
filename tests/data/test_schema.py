"""Tests for helpers.data.schema: every kind of bad input gives a clear message, nothing is written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from dataset_fixtures import FLAT_ROWS, panel_frames, write_flat_gb18030, write_panel, write_spec

from helpers.data import (
    Dataset,
    DataValidationError,
    ValidationReport,
    load_dataset,
    validate_dataset,
)


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _fails(spec_path: Path) -> DataValidationError:
    """Load, expect a DataValidationError, and check that validation wrote nothing."""
    folder = spec_path.parent
    before = _files(folder)
    with pytest.raises(DataValidationError) as caught:
        load_dataset(spec_path)
    assert _files(folder) == before, "validation must not write anything in fail mode"
    return caught.value


def _only(error: DataValidationError, check: str) -> pd.Series:
    rows = error.problems[error.problems["check"] == check]
    assert len(rows) == 1, f"expected one {check!r} problem, got:\n{error}"
    return rows.iloc[0]


def test_valid_tiny_dataset_has_no_problems(tmp_path):
    report = validate_dataset(load_dataset(write_panel(tmp_path), validate=False))
    assert isinstance(report, ValidationReport) and report.ok, str(report)


def test_missing_column(tmp_path):
    frames = panel_frames()
    frames["customers"] = frames["customers"].drop(columns="open_date")
    error = _fails(write_panel(tmp_path, frames, fmt="csv"))
    problem = _only(error, "missing column")
    assert (problem["table"], problem["column"]) == ("customers", "open_date")
    assert "customers.csv" in problem["expected"]
    assert "[customers.open_date] missing column" in str(error)


def test_wrong_type_names_rows_and_values(tmp_path):
    frames = panel_frames()
    frames["customers"]["birth_year"] = frames["customers"]["birth_year"].astype(object)
    frames["customers"].loc[1, "birth_year"] = "nineteen ninety"
    error = _fails(write_panel(tmp_path, frames, fmt="csv"))
    problem = _only(error, "wrong type")
    assert problem["column"] == "birth_year" and problem["rows"] == "2"
    assert "'nineteen ninety'" in problem["values"] and "whole number" in problem["expected"]
    # the value left empty by the failed conversion is not reported a second time
    assert "missing value" not in set(error.problems["check"])


def test_duplicate_customer_ids(tmp_path):
    frames = panel_frames()
    frames["customers"].loc[2, "customer_id"] = "0001"
    frames["monthly_balances"] = frames["monthly_balances"].iloc[:5]  # keep ids consistent
    error = _fails(write_panel(tmp_path, frames, fmt="csv"))
    problem = _only(error, "duplicate customer ids")
    assert problem["rows"] == "1, 3" and problem["values"] == "'0001'"
    assert "only once" in problem["expected"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_negative_balances(tmp_path, fmt):
    frames = panel_frames()
    balances = frames["monthly_balances"]
    balances.loc[3, "demand_deposit"] = -200.0
    balances.loc[3, "aum_total"] = balances.loc[3, "aum_total"] - 1200.0  # keep the sum right
    error = _fails(write_panel(tmp_path, frames, fmt=fmt))
    problem = _only(error, "negative value")
    assert (problem["table"], problem["column"], problem["rows"]) == (
        "monthly_balances", "demand_deposit", "4",
    )  # fmt: skip
    assert problem["values"] == "-200.0" and "cannot be negative" in problem["expected"]


def test_dates_after_the_as_of_month(tmp_path):
    frames = panel_frames()
    frames["contacts"].loc[0, "contact_date"] = pd.Timestamp("2026-11-05")
    error = _fails(write_panel(tmp_path, frames))
    problem = _only(error, "date after the as-of month")
    assert problem["column"] == "contact_date" and problem["values"] == "2026-11-05"
    assert "2026-10-31" in problem["expected"]


def test_close_date_before_open_date(tmp_path):
    frames = panel_frames()
    frames["customers"].loc[2, "close_date"] = pd.Timestamp("2009-06-30")
    error = _fails(write_panel(tmp_path, frames, fmt="csv"))
    problem = _only(error, "close_date before open_date")
    assert problem["rows"] == "3" and problem["values"] == "2009-06-30"


def test_unknown_product_codes(tmp_path):
    frames = panel_frames()
    frames["holdings"].loc[1, "product"] = "gold_bar"
    error = _fails(write_panel(tmp_path, frames))
    problem = _only(error, "unknown product code")
    assert problem["values"] == "'gold_bar'" and "products.yaml" in problem["expected"]
    assert "time_deposit" in problem["expected"]


def test_empty_table(tmp_path):
    frames = panel_frames()
    frames["contacts"] = frames["contacts"].iloc[:0]
    error = _fails(write_panel(tmp_path, frames, fmt="csv"))
    assert _only(error, "empty table")["table"] == "contacts"


def test_empty_big_parquet_table(tmp_path):
    frames = panel_frames()
    frames["transactions"] = frames["transactions"].iloc[:0]
    error = _fails(write_panel(tmp_path, frames))
    assert _only(error, "empty table")["table"] == "transactions"


def test_missing_file(tmp_path):
    spec_path = write_panel(tmp_path)
    (tmp_path / "holdings.parquet").unlink()
    error = _fails(spec_path)
    problem = _only(error, "missing file")
    assert problem["table"] == "holdings" and "holdings.parquet" in problem["expected"]


@pytest.mark.parametrize(
    "content",
    [
        "顧客番号,氏名\nｱｲｳ,テスト\n".encode("shift_jis"),  # Japanese: neither UTF-8 nor GB18030
        bytes(range(256)) * 4,  # binary junk
    ],
    ids=["shift_jis", "binary"],
)
def test_undecodable_file(tmp_path, content):
    spec_path = write_panel(tmp_path, fmt="csv")
    (tmp_path / "customers.csv").write_bytes(content)
    error = _fails(spec_path)
    problem = _only(error, "undecodable file")
    assert problem["table"] == "customers"
    assert "UTF-8-SIG or GB18030" in problem["expected"] and "encoding:" in problem["expected"]


def test_spec_maps_to_a_nonexistent_column(tmp_path):
    spec_path = write_panel(tmp_path, fmt="csv")
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["tables"]["customers"]["columns"] = {"customer_id": "客户编号"}
    write_spec(tmp_path, spec)
    error = _fails(spec_path)
    problem = _only(error, "spec maps to a nonexistent column")
    assert problem["column"] == "customer_id" and "'客户编号'" in problem["expected"]
    assert "columns found: customer_id, name" in problem["expected"]


def test_flat_spec_maps_to_a_nonexistent_column(tmp_path):
    spec_path = write_flat_gb18030(tmp_path, spec_changes={"value": "总资产"})
    error = _fails(spec_path)
    problem = _only(error, "spec maps to a nonexistent column")
    assert problem["column"] == "value" and "'总资产'" in problem["expected"]


def test_flat_event_values_outside_the_mapping(tmp_path):
    rows = list(FLAT_ROWS)
    rows[1] = rows[1].replace(",7,是,", ",7,未知,")
    error = _fails(write_flat_gb18030(tmp_path, rows=rows))
    problem = _only(error, "value outside the mapping")
    assert (problem["column"], problem["rows"], problem["values"]) == ("event", "2", "'未知'")
    assert "是否流失" in problem["expected"] and "'是'" in problem["expected"]


def test_junk_row_without_id_and_absurd_values(tmp_path):
    # A "合计" (total) line pasted under an export: no id, sums instead of values.
    rows = list(FLAT_ROWS) + [',,,"999,999,999,999.00",,,,,,,,,,,,,,,,,']
    error = _fails(write_flat_gb18030(tmp_path, rows=rows))
    missing_id = error.problems[
        (error.problems["check"] == "missing value") & (error.problems["column"] == "customer_id")
    ]
    assert missing_id["rows"].tolist() == ["4"]
    absurd = _only(error, "absurdly large value")
    assert (absurd["column"], absurd["rows"]) == ("value", "4")


def test_balances_of_unknown_customers(tmp_path):
    frames = panel_frames()
    frames["monthly_balances"].loc[0, "customer_id"] = "9999"
    frames["holdings"].loc[0, "customer_id"] = "8888"
    error = _fails(write_panel(tmp_path, frames))
    unknown = error.problems[error.problems["check"] == "unknown customer id"]
    assert set(unknown["table"]) == {"monthly_balances", "holdings"}
    assert set(unknown["values"]) == {"9999", "'8888'"} or set(unknown["values"]) == {
        "'9999'", "'8888'",
    }  # fmt: skip


def test_parquet_big_table_wrong_type_duplicates_and_sum(tmp_path):
    frames = panel_frames()
    balances = frames["monthly_balances"]
    balances["payroll"] = balances["payroll"].map({True: "Y", False: "N"})  # text, not bool
    balances.loc[1, "month"] = balances.loc[0, "month"]  # same customer + month twice
    balances.loc[4, "aum_total"] = 99.0  # no longer the sum of its parts
    error = _fails(write_panel(tmp_path, frames))
    assert _only(error, "wrong type")["column"] == "payroll"
    duplicate = _only(error, "duplicate rows")
    assert duplicate["rows"] == "1, 2" and "0001 / 2026-08-31" in duplicate["values"]
    assert duplicate["count"] == 2
    assert _only(error, "aum_total differs from its parts")["rows"] == "5"


def test_every_problem_is_listed_at_once(tmp_path):
    frames = panel_frames()
    frames["customers"].loc[0, "gender"] = "X"
    frames["customers"].loc[1, "customer_id"] = None
    frames["holdings"].loc[1, "product"] = "gold_bar"
    frames["contacts"].loc[0, "contact_date"] = pd.Timestamp("2027-01-01")
    error = _fails(write_panel(tmp_path, frames, fmt="csv"))
    checks = set(error.problems["check"])
    assert {"value not allowed", "missing value", "unknown product code",
            "date after the as-of month"} <= checks  # fmt: skip
    text = str(error)
    assert "problems found" in text and "Traceback" not in text and "{" not in text
    assert list(error.problems.columns) == [
        "table", "column", "check", "count", "rows", "values", "expected",
    ]  # fmt: skip
    assert isinstance(error, ValueError)


def test_from_frames_wrong_dtype_is_reported():
    frames = panel_frames()
    frames["customers"]["open_date"] = frames["customers"]["open_date"].dt.strftime("%Y-%m-%d")
    report = validate_dataset(Dataset.from_frames(frames))
    problem = report.problems.iloc[0]
    assert (problem["column"], problem["check"]) == ("open_date", "wrong type")
    assert "a date" in problem["expected"]
