"""Issue 15's data items: no silent wrong result from Excel ids, day/month dates or impossible
dates; a changed file is always validated again; quarantine written only by the run, only
inside the spec's folder, with raw values; an empty file says so in one line."""

from __future__ import annotations

import os
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml
from dataset_fixtures import LONG_ID, panel_frames, write_flat_gb18030, write_panel, write_spec

from helpers import paths as fishpond_paths
from helpers.cli import main
from helpers.data import (
    DatasetSpecError,
    DataValidationError,
    load_dataset,
    load_spec,
)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# ------------------------------------------------------------------------------ Excel ids
def _excel_ids(path: Path, ids: list, fmt: str = "0000000000") -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["客户号", "余额"])
    for value in ids:
        sheet.append([value, 100.0])
        if isinstance(value, int):
            sheet.cell(row=sheet.max_row, column=1).number_format = fmt
    book.save(path)


def _excel_spec(folder: Path) -> Path:
    spec = {"name": "xl", "mode": "flat", "table": "ids.xlsx",
            "roles": {"id": "客户号", "value": "余额"}}  # fmt: skip
    return write_spec(folder, spec)


def test_excel_number_ids_keep_their_zero_padding(tmp_path):
    _excel_ids(tmp_path / "ids.xlsx", [124, "0000000125", 7])
    ds = load_dataset(_excel_spec(tmp_path))
    assert ds.table("flat")["customer_id"].tolist() == ["0000000124", "0000000125", "0000000007"]
    assert any("their cell format restored the leading zeros" in n for n in ds.notices)


def test_excel_19_digit_ids_that_lost_digits_are_refused(tmp_path, capsys):
    _excel_ids(tmp_path / "ids.xlsx", [124, 1234567890123456789, "1234567890123456789"])
    spec = _excel_spec(tmp_path)
    with pytest.raises(DataValidationError) as caught:
        load_dataset(spec)
    problem = caught.value.problems.iloc[0]
    assert (problem["column"], problem["check"], problem["rows"]) == (
        "customer_id", "id digits lost in Excel", "2",
    )  # fmt: skip
    assert "Excel keeps only 15 significant digits" in problem["expected"]
    assert (
        problem["values"] == "'1234567890123457024'"
    )  # what the file holds now (issue 15's example)
    assert main(["validate", "--dataset", str(spec)]) == 1
    out = capsys.readouterr().out
    print(out)
    assert "[flat.customer_id] id digits lost in Excel: 1 row" in out


def test_excel_panel_ids_through_their_format(tmp_path):
    frames = panel_frames()
    spec_path = write_panel(tmp_path, frames)
    customers = frames["customers"].copy()
    customers["customer_id"] = [1, 2, LONG_ID]  # two ids typed as numbers, the long one as text
    customers.to_excel(tmp_path / "customers.xlsx", index=False)
    book = openpyxl.load_workbook(tmp_path / "customers.xlsx")
    for row in (2, 3):
        book.active.cell(row=row, column=1).number_format = "0000"
    book.save(tmp_path / "customers.xlsx")
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["tables"]["customers"] = {"path": "customers.xlsx"}
    write_spec(tmp_path, spec)
    ds = load_dataset(spec_path)
    assert ds.table("customers")["customer_id"].tolist() == ["0001", "0002", LONG_ID]
    assert ds.table("customers")["open_date"].dt.strftime("%Y-%m-%d").tolist()[0] == "2015-03-02"


# ------------------------------------------------------------------------------ dates
def _customers_csv(tmp_path: Path, open_dates: list[str], **table_options) -> Path:
    frames = panel_frames()
    spec_path = write_panel(tmp_path, frames, fmt="csv")
    customers = frames["customers"].copy()
    customers["open_date"] = open_dates
    customers.to_csv(tmp_path / "customers.csv", index=False)
    if table_options:
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
        spec["tables"]["customers"].update(table_options)
        write_spec(tmp_path, spec)
    return spec_path


def test_ambiguous_day_month_dates_are_reported_not_guessed(tmp_path, capsys):
    spec = _customers_csv(tmp_path, ["03-05-2019", "2026-09-10", "13/05/2009"])
    with pytest.raises(DataValidationError) as caught:
        load_dataset(spec)
    problem = caught.value.problems.iloc[0]
    assert (problem["column"], problem["check"], problem["rows"]) == (
        "open_date", "ambiguous date", "1, 3",
    )  # fmt: skip
    assert "03-05-2019 may be 3 May or 5 March" in problem["expected"]
    assert "dayfirst: true" in problem["expected"] and "date_format" in problem["expected"]
    main(["validate", "--dataset", str(spec)])
    print(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("options", "first"),
    [({"dayfirst": True}, "2019-05-03"), ({"dayfirst": False}, "2019-03-05"),
     ({"date_format": "%d-%m-%Y"}, "2019-05-03")],
)  # fmt: skip
def test_declared_date_order_parses(tmp_path, options, first):
    spec = _customers_csv(tmp_path, ["03-05-2019", "2026-09-10", "01-02-2010"], **options)
    dates = load_dataset(spec).table("customers")["open_date"].dt.strftime("%Y-%m-%d")
    assert dates.tolist()[0] == first and dates.tolist()[1] == "2026-09-10"


def test_dates_before_1900_are_problems_in_both_engines(tmp_path):
    frames = panel_frames()
    frames["customers"].loc[0, "open_date"] = pd.Timestamp("1899-12-31")
    frames["transactions"].loc[1, "txn_date"] = pd.Timestamp("1899-12-30")
    with pytest.raises(DataValidationError) as caught:
        load_dataset(write_panel(tmp_path, frames))  # transactions: Parquet, checked in SQL
    print(caught.value)
    problems = caught.value.problems.set_index(["table", "column"])
    for key, row in ((("customers", "open_date"), "1"), (("transactions", "txn_date"), "2")):
        assert problems.loc[key, "check"] == "date before 1900"
        assert problems.loc[key, "rows"] == row
        assert "Excel's day zero" in problems.loc[key, "expected"]


def test_open_date_after_the_month_is_a_problem(tmp_path):
    spec = _customers_csv(tmp_path, ["2015-03-02", "2026-11-01", "2010-01-01"])
    with pytest.raises(DataValidationError) as caught:
        load_dataset(spec)
    problem = caught.value.problems.iloc[0]
    assert (problem["column"], problem["check"]) == ("open_date", "date after the as-of month")
    assert "2026-10-31" in problem["expected"]


# ------------------------------------------------------------------------------ cache
def test_a_changed_file_with_the_same_size_and_time_is_validated_again(tmp_path, monkeypatch):
    monkeypatch.delenv("FISHPOND_NO_VALIDATION_CACHE", raising=False)
    monkeypatch.setattr(fishpond_paths, "SCRATCH_DIR", tmp_path / "scratch")
    spec = write_flat_gb18030(tmp_path / "flat")
    csv = tmp_path / "flat" / "customers_flat.csv"
    load_dataset(spec)
    assert len(list((tmp_path / "scratch" / "validated").glob("*.ok"))) == 1
    before = csv.stat()
    data = csv.read_bytes()
    changed = data.replace(b'"1,234.50"', b'"-1234.50"')  # same length, now negative
    assert len(changed) == len(data) and changed != data
    csv.write_bytes(changed)
    os.utime(csv, ns=(before.st_atime_ns, before.st_mtime_ns))  # cp -p, a restore from backup
    assert csv.stat().st_size == before.st_size and csv.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(DataValidationError, match="negative value"):
        load_dataset(spec)


# ------------------------------------------------------------------------------ quarantine
def _quarantine_panel(folder: Path, frames=None, **extra) -> Path:
    frames = frames or panel_frames()
    return write_panel(folder, frames, fmt="csv", on_invalid="quarantine",
                       max_quarantine_share=0.6, **extra)  # fmt: skip


def test_validate_writes_nothing_and_says_what_would_be_quarantined(tmp_path, capsys):
    frames = panel_frames()
    frames["holdings"].loc[2, "product"] = "gold_bar"
    spec = _quarantine_panel(tmp_path / "bank", frames)
    before = _files(tmp_path)
    assert main(["validate", "--dataset", str(spec)]) == 0
    out = capsys.readouterr().out
    print(out)
    assert _files(tmp_path) == before
    assert "Quarantine: 1 row(s) of holdings set aside (product: unknown product code)" in out
    assert f"`fishpond run` writes them with their raw values to {tmp_path / 'bank'}" in out


def test_quarantine_outside_the_spec_folder_is_refused(tmp_path):
    with pytest.raises(DatasetSpecError, match=r"quarantine_dir: '\.\./\.\./\.\.' is outside"):
        load_spec(_quarantine_panel(tmp_path / "a" / "bank", quarantine_dir="../../.."))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "q").symlink_to(outside)  # a folder name that leads outside
    with pytest.raises(DatasetSpecError, match="is outside the spec's folder"):
        load_spec(_quarantine_panel(tmp_path / "b", quarantine_dir="q"))
    with pytest.raises(ValueError, match="outside the spec's folder"):
        load_dataset(_quarantine_panel(tmp_path / "c"), quarantine_dir=outside)
    assert not any(outside.iterdir())


def test_quarantine_files_keep_raw_values_and_stale_files_go(tmp_path):
    frames = panel_frames()
    frames["customers"] = frames["customers"].astype({"birth_year": object})
    frames["customers"].loc[1, "birth_year"] = "nineteen ninety"
    frames["holdings"].loc[2, "product"] = "gold_bar"
    spec = _quarantine_panel(tmp_path, frames, quarantine_dir="bad_rows")
    load_dataset(spec, write_quarantine=True)
    folder = tmp_path / "bad_rows"
    customers = pd.read_csv(folder / "customers.csv", dtype=str)
    assert customers["birth_year"].tolist() == ["nineteen ninety"]  # raw, not NaN
    assert customers["reason"].tolist() == ["birth_year: wrong type"]
    assert (folder / "holdings.csv").is_file()
    frames = panel_frames()  # next month: customers are fixed, holdings have another bad row
    frames["holdings"].loc[1, "product"] = "=HYPERLINK(1)"
    spec = _quarantine_panel(tmp_path, frames, quarantine_dir="bad_rows")
    load_dataset(spec, write_quarantine=True)
    assert sorted(p.name for p in folder.iterdir()) == ["holdings.csv"]
    holdings = pd.read_csv(folder / "holdings.csv", dtype=str)
    assert holdings["row"].tolist() == ["2"]  # this run's row, not last month's
    assert holdings["product"].tolist() == ["'=HYPERLINK(1)"]  # inert in a spreadsheet


def test_the_run_writes_quarantine_and_records_it(tmp_path):
    from helpers.batch.runner import load_dataset_info

    frames = panel_frames()
    frames["holdings"].loc[2, "product"] = "gold_bar"
    spec = _quarantine_panel(tmp_path, frames)
    info = load_dataset_info(spec)
    assert info.quarantine == [
        {"table": "holdings", "rows": 1, "file": str(tmp_path / "quarantine" / "holdings.csv"),
         "reasons": "product: unknown product code"},
    ]  # fmt: skip
    assert (tmp_path / "quarantine" / "holdings.csv").is_file()


def test_00_counts_quarantined_rows(tmp_path):
    from helpers import overview
    from helpers.formatting import Note

    frames = panel_frames()
    frames["holdings"].loc[2, "product"] = "gold_bar"
    table = overview.quarantine_table(load_dataset(_quarantine_panel(tmp_path, frames)))
    assert table.to_dict("records") == [
        {"ov_table": "holdings", "ov_rows": 1, "ov_share": pytest.approx(1 / 3),
         "ov_reasons": "product: unknown product code", "ov_file": "holdings.csv"},
    ]  # fmt: skip
    assert isinstance(overview.quarantine_table(load_dataset(write_panel(tmp_path / "ok"))), Note)


# ------------------------------------------------------------------------------ empty file
@pytest.mark.parametrize("content", [b"", b"\n\n"])
def test_an_empty_file_says_so_in_one_line(tmp_path, capsys, content):
    spec = write_panel(tmp_path, fmt="csv")
    (tmp_path / "customers.csv").write_bytes(content)
    assert main(["validate", "--dataset", str(spec)]) == 1
    out = capsys.readouterr().out
    print(out)
    assert "[customers] the file is empty" in out
    assert "customers.csv has no content" in out
    assert "missing column" not in out
    assert out.count("[customers") == 1


def test_an_empty_parquet_file(tmp_path):
    spec = write_panel(tmp_path)
    (tmp_path / "monthly_balances.parquet").write_bytes(b"")
    with pytest.raises(DataValidationError) as caught:
        load_dataset(spec)
    checks = caught.value.problems.query("table == 'monthly_balances'")["check"].tolist()
    assert checks == ["the file is empty"]
