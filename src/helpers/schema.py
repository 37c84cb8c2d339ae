"""Validation of canonical tables: every problem listed at once, in words.

Each canonical table has a declared schema (:data:`TABLE_COLUMNS`: type, missing values,
allowed values, ranges, dates not after the as-of month) plus table rules (unique keys, close
date not before open date, AUM equal to its parts, customer ids known in ``customers``).

Two engines check the same declarations:

- tables held in pandas (customers, holdings, contacts, campaigns, flat tables, anything read
  from CSV/Excel) go through a pandera ``DataFrameSchema`` built from them
  (``validate(lazy=True)``; its ``failure_cases`` are turned into readable rows;
  :mod:`helpers.schema_pandas`);
- large Parquet tables (``monthly_balances``, ``transactions``) are checked with SQL in DuckDB
  over the file (:mod:`helpers.schema_sql`), so 24 million balance rows never enter pandas.

Problems are rows of a DataFrame with columns ``table, column, check, count, rows, values,
expected``. Row numbers are 1-based data rows: row 1 is the first row under the header (in a
CSV with one header line, that is line 2 of the file).

``fishpond validate [--dataset SPEC]`` runs :func:`cli_validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

# Money above this for one customer is not a real balance but junk (a total row, a unit error).
ABSURD_AMOUNT = 1e11
MAX_EXAMPLES = 5


# --------------------------------------------------------------------------------------------
# Declarations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    """One canonical column: its kind and the rules its values follow.

    ``kind`` is one of ``id`` (string identifier), ``str``, ``int``, ``float``, ``date``,
    ``bool``. ``required=False`` columns may be absent from the source (they are then added as
    empty). ``minimum_strict`` makes ``minimum`` exclusive. ``not_after_as_of`` dates must be on
    or before the end of the latest data month.
    """

    name: str
    kind: str
    required: bool = True
    nullable: bool = False
    allowed: tuple | None = None
    minimum: float | None = None
    minimum_strict: bool = False
    maximum: float | None = None
    not_after_as_of: bool = False
    why: str = ""


def _money(name: str, nullable: bool = False, minimum: float | None = 0.0, why: str = "") -> Col:
    return Col(
        name,
        "float",
        nullable=nullable,
        minimum=minimum,
        maximum=ABSURD_AMOUNT,
        why=why or "a balance cannot be negative",
    )


TABLE_COLUMNS: dict[str, tuple[Col, ...]] = {
    "customers": (
        Col("customer_id", "id"),
        Col("name", "str", required=False, nullable=True),
        Col("mobile", "id", required=False, nullable=True),
        Col("gender", "str", nullable=True, allowed=("M", "F")),
        Col("birth_year", "int", minimum=1900, maximum=2030, why="a plausible birth year"),
        Col("open_date", "date", not_after_as_of=True),
        Col("close_date", "date", nullable=True, not_after_as_of=True),
        Col("close_reason", "str", required=False, nullable=True),
        Col("branch_id", "id"),
        Col("rm_id", "id", nullable=True),
        Col("channel", "str", nullable=True, allowed=("branch", "mobile", "payroll", "referral")),
        Col("risk_level", "str", nullable=True, allowed=("R1", "R2", "R3", "R4", "R5")),
    ),
    "monthly_balances": (
        Col("customer_id", "id"),
        Col("month", "date", not_after_as_of=True),
        _money("demand_deposit"),
        _money("time_deposit"),
        _money("wealth_mgmt"),
        _money("funds"),
        _money("insurance"),
        _money("aum_total"),
        _money("loan_balance", why="a loan balance is recorded as a positive amount"),
        _money("card_spend", why="monthly card spend is a positive amount"),
        Col("txn_count", "int", minimum=0, maximum=1e6, why="a count"),
        _money("txn_amount", why="transaction amounts are summed as positive amounts"),
        Col("digital_logins", "int", minimum=0, maximum=1e5, why="a count"),
        Col("payroll", "bool"),
    ),
    "transactions": (
        Col("customer_id", "id"),
        Col("txn_date", "date", not_after_as_of=True),
        Col(
            "amount",
            "float",
            minimum=0,
            minimum_strict=True,
            maximum=ABSURD_AMOUNT,
            why="amounts are positive; direction says in or out",
        ),
        Col("direction", "str", allowed=("in", "out")),
        Col("channel", "str", allowed=("counter", "atm", "mobile", "online", "pos")),
        Col(
            "txn_type",
            "str",
            allowed=("salary", "transfer", "payment", "cash", "purchase", "investment"),
        ),
    ),
    "holdings": (
        Col("customer_id", "id"),
        Col("product", "str"),  # allowed codes come from the product catalogue at run time
        Col("open_date", "date", not_after_as_of=True),
        Col("close_date", "date", nullable=True, not_after_as_of=True),
    ),
    "contacts": (
        Col("customer_id", "id"),
        Col("contact_date", "date", not_after_as_of=True),
        Col("channel", "str", allowed=("phone", "visit", "wechat", "sms")),
        Col("rm_id", "id", nullable=True),
        Col("purpose", "str", allowed=("follow_up", "marketing", "retention", "service")),
        Col("outcome", "str", allowed=("reached", "no_answer", "accepted", "declined")),
    ),
    "campaigns": (
        Col("customer_id", "id"),
        Col("campaign_id", "id"),
        Col("assigned_date", "date", not_after_as_of=True),
        Col("group", "str", allowed=("control", "treatment")),
        Col("offer", "str"),
        Col("contact_channel", "str", nullable=True),
        _money("cost", why="an offer's cost is a positive amount"),
        Col("horizon_months", "int", minimum=1, maximum=120, why="a horizon in months"),
        Col("retained", "bool"),
        _money("aum_before"),
        _money("aum_after"),
    ),
}

#: Columns whose combination must be unique in each table.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "monthly_balances": ("customer_id", "month"),
    "campaigns": ("customer_id", "campaign_id"),
}
#: (table, later column, earlier column): the later date must not precede the earlier one.
DATE_ORDER: tuple[tuple[str, str, str], ...] = (
    ("customers", "close_date", "open_date"),
    ("holdings", "close_date", "open_date"),
)
AUM_PARTS = ("demand_deposit", "time_deposit", "wealth_mgmt", "funds", "insurance")
#: Tables whose customer ids must exist in ``customers``.
REFERENCING_TABLES = ("monthly_balances", "transactions", "holdings", "contacts", "campaigns")


def flat_columns(frame_columns) -> tuple[Col, ...]:
    """Declarations for the canonical flat frame (docs/architecture.md §2)."""
    columns = [
        Col("customer_id", "id"),
        Col("duration_months", "float", required=False, minimum=0, maximum=1200,
            why="tenure in months"),
        Col("event", "bool", required=False),
        Col("value", "float", required=False, nullable=True, minimum=0, maximum=ABSURD_AMOUNT,
            why="a balance cannot be negative"),
        Col("tier", "str", required=False, nullable=True),
        Col("treatment", "str", required=False, nullable=True),
        Col("outcome", "bool", required=False, nullable=True),
    ]  # fmt: skip
    for name in frame_columns:
        if str(name).startswith("held_"):
            columns.append(Col(name, "bool", required=False))
    return tuple(columns)


KIND_WORDS = {
    "id": "text (an identifier, read as a string)",
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "date": "a date, e.g. 2026-10-31",
    "bool": "true/false (是/否, yes/no, 1/0)",
}


# --------------------------------------------------------------------------------------------
# Problems and the report
# --------------------------------------------------------------------------------------------

PROBLEM_COLUMNS = ["table", "column", "check", "count", "rows", "values", "expected"]


def _render_rows(rows, count: int | None = None) -> str:
    if rows is None:
        return ""
    rows = sorted(int(r) for r in rows)
    if not rows:
        return ""
    shown = ", ".join(str(r) for r in rows[:MAX_EXAMPLES])
    more = max(len(rows), count or 0) - min(len(rows), MAX_EXAMPLES)
    return shown + (f" (+{more:,} more)" if more > 0 else "")


def _render_values(values) -> str:
    if values is None:
        return ""
    seen: list[str] = []
    for value in values:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
            text = "(empty)"
        elif isinstance(value, pd.Timestamp):
            text = value.strftime("%Y-%m-%d")
        else:
            text = repr(value) if isinstance(value, str) else str(value)
        if text not in seen:
            seen.append(text)
        if len(seen) == MAX_EXAMPLES:
            break
    return ", ".join(seen)


@dataclass
class Problem:
    """One problem found in the data (internal: ``positions`` are 0-based rows for quarantine)."""

    table: str
    column: str
    check: str
    expected: str
    rows: list | None = None  # 1-based data rows (all of them, for quarantine)
    values: list | None = None  # a few offending values
    count: int | None = None

    def as_dict(self) -> dict:
        count = self.count if self.count is not None else (len(self.rows) if self.rows else 0)
        return {
            "table": self.table,
            "column": self.column,
            "check": self.check,
            "count": int(count),
            "rows": _render_rows(self.rows, count),
            "values": _render_values(self.values),
            "expected": self.expected,
        }


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """Problems as a DataFrame (columns :data:`PROBLEM_COLUMNS`)."""
    return pd.DataFrame([p.as_dict() for p in problems], columns=PROBLEM_COLUMNS)


def render_problems(problems: pd.DataFrame, dataset_name: str = "") -> str:
    """Readable, numbered list of problems (what ``fishpond validate`` prints)."""
    if problems.empty:
        return f"Dataset {dataset_name!r}: no problems found."
    count = len(problems)
    lines = [
        f"Dataset {dataset_name!r}: {count} problem{'s' if count != 1 else ''} found "
        "(rows are data rows: row 1 = the first row under the header)."
    ]
    for number, row in enumerate(problems.itertuples(index=False), start=1):
        where = row.table + (f".{row.column}" if row.column else "")
        line = f"  {number}. [{where}] {row.check}"
        if row.count:
            line += f": {row.count:,} row{'s' if row.count != 1 else ''}"
        lines.append(line)
        if row.rows:
            lines.append(f"       rows: {row.rows}")
        if row.values:
            lines.append(f"       values: {row.values}")
        lines.append(f"       expected: {row.expected}")
    return "\n".join(lines)


class DataValidationError(ValueError):
    """The data failed validation. ``.problems`` is a DataFrame of every problem found.

    ``str(error)`` is a short readable list (table, column, check, rows, values, expected).
    """

    def __init__(self, problems: pd.DataFrame, dataset_name: str = ""):
        self.problems = problems
        self.dataset_name = dataset_name
        super().__init__(render_problems(problems, dataset_name))


@dataclass
class ValidationReport:
    """Result of :func:`validate_dataset`.

    Attributes
    ----------
    problems : DataFrame
        Problems that make the dataset invalid (columns :data:`PROBLEM_COLUMNS`).
    quarantined : DataFrame
        In quarantine mode: table, rows set aside, file written, reasons.
    notices : list of str
        Things the loader decided (generated ids, detected encodings...).
    """

    dataset_name: str
    problems: pd.DataFrame
    quarantined: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["table", "rows", "file", "reasons"])
    )
    notices: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problems.empty

    def raise_if_failed(self) -> None:
        """Raise :class:`DataValidationError` if there are problems."""
        if not self.ok:
            raise DataValidationError(self.problems, self.dataset_name)

    def __str__(self) -> str:
        lines = [render_problems(self.problems, self.dataset_name)]
        for row in self.quarantined.itertuples(index=False):
            lines.append(
                f"Quarantined {row.rows:,} row(s) of {row.table} to {row.file} ({row.reasons})."
            )
        lines += [f"Note: {notice}" for notice in self.notices]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Whole dataset
# --------------------------------------------------------------------------------------------


def _as_of_end(dataset) -> pd.Timestamp | None:
    """End of the latest data month, or None when months cannot be read (reported elsewhere)."""
    try:
        latest = dataset.latest_month()
    except Exception:  # a broken month column is reported by the table checks
        return None
    if latest is None:
        return None
    return pd.Timestamp(latest) + pd.offsets.MonthEnd(0)


def _merge_wrong_types(problems: list[Problem]) -> list[Problem]:
    """Drop what the loader already reported: a missing column found again by the table check,
    a column left empty or float by values that did not convert ('wrong type' with rows)."""
    wrong = {}
    missing = set()
    for problem in problems:
        if problem.check == "wrong type" and problem.rows:
            wrong.setdefault((problem.table, problem.column), set()).update(problem.rows)
        if problem.check == "spec maps to a nonexistent column":
            missing.add((problem.table, problem.column))
    merged = []
    seen_missing = set()
    for problem in problems:
        key = (problem.table, problem.column)
        if problem.check == "missing column" or key in missing:
            if key in seen_missing or (problem.check == "missing column" and key in missing):
                continue
            seen_missing.add(key)
        if problem.check == "wrong type" and not problem.rows and key in wrong:
            continue
        if problem.check == "missing value" and key in wrong and problem.rows:
            rows = [r for r in problem.rows if r not in wrong[key]]
            if not rows:
                continue
            problem = Problem(problem.table, problem.column, problem.check, problem.expected, rows)
        merged.append(problem)
    return merged


def _quarantine_folder(dataset, quarantine_dir: Path | None) -> Path:
    if quarantine_dir is not None:
        return Path(quarantine_dir)
    if dataset.spec.quarantine_dir is not None:
        return dataset.spec.quarantine_dir
    if dataset.spec.base_dir is None:
        raise ValueError("quarantine needs a folder: pass quarantine_dir=")
    return dataset.spec.base_dir / "quarantine"


def _quarantine_frame(dataset, table: str, problems: list[Problem], folder: Path):
    """Move rows with row-level problems out of a pandas table; return (kept problems, record)."""
    row_problems = [p for p in problems if p.rows]
    table_problems = [p for p in problems if not p.rows]
    if not row_problems:
        return problems, None
    frame = dataset.table(table).reset_index(drop=True)
    reasons: dict[int, list[str]] = {}
    for problem in row_problems:
        for row in problem.rows:
            reasons.setdefault(int(row), []).append(f"{problem.column}: {problem.check}")
    rows = sorted(reasons)
    bad = frame.iloc[[r - 1 for r in rows]].copy()
    bad.insert(0, "reason", ["; ".join(reasons[r]) for r in rows])
    bad.insert(0, "row", rows)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}.csv"
    bad.to_csv(path, index=False, encoding="utf-8-sig")
    kept = frame.drop(index=[r - 1 for r in rows]).reset_index(drop=True)
    dataset._replace_frame(table, kept)
    summary = ", ".join(sorted({f"{p.column}: {p.check}" for p in row_problems}))
    return table_problems, {
        "table": table,
        "rows": len(rows),
        "file": str(path),
        "reasons": summary,
    }


def _quarantine_parquet(dataset, table: str, problems, bad_sql: str, con, folder: Path):
    row_problems = [p for p in problems if p.rows]
    table_problems = [p for p in problems if not p.rows]
    if not row_problems or not bad_sql:
        return problems, None
    bad = con.sql(
        f"SELECT __row, string_agg(DISTINCT reason, '; ') AS reason FROM ({bad_sql}) "
        "GROUP BY __row ORDER BY __row"
    ).df()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}.csv"
    source = dataset._sources[table]
    con.register("__bad_rows", bad)
    columns = ", ".join(f'"{src}" AS "{canonical}"' for canonical, src in source.renames.items())
    rows = con.sql(
        f"SELECT b.__row AS row, b.reason, {columns} FROM read_parquet("
        f"'{str(source.parquet_path).replace(chr(39), chr(39) * 2)}', file_row_number = true) AS p "
        "JOIN __bad_rows AS b ON p.file_row_number + 1 = b.__row ORDER BY b.__row"
    ).df()
    rows.to_csv(path, index=False, encoding="utf-8-sig")
    con.unregister("__bad_rows")
    source.excluded_rows = bad[["__row"]].astype("int64")
    dataset._cache.pop(table, None)
    dataset._fingerprint = None
    summary = ", ".join(sorted({f"{p.column}: {p.check}" for p in row_problems}))
    return table_problems, {"table": table, "rows": len(bad), "file": str(path), "reasons": summary}


def validate_dataset(dataset, quarantine_dir: str | Path | None = None) -> ValidationReport:
    """Check every table of a dataset; return a report listing every problem.

    Parameters
    ----------
    dataset : helpers.datasets.Dataset
    quarantine_dir : str or Path, optional
        Where quarantined rows are written when the spec says ``on_invalid: quarantine``
        (default: the spec's ``quarantine_dir``, else a ``quarantine`` folder beside the spec).
        Nothing is written in ``fail`` mode.

    Returns
    -------
    ValidationReport
        ``report.ok`` is true when nothing is wrong; ``report.raise_if_failed()`` raises
        :class:`DataValidationError`.
    """
    from helpers.datasets import FLAT_TABLE, PANEL_TABLES
    from helpers.schema_pandas import check_frame
    from helpers.schema_sql import check_parquet_table

    quarantine = dataset.spec.on_invalid == "quarantine"
    folder = _quarantine_folder(dataset, quarantine_dir) if quarantine else None
    load_problems: list[Problem] = list(getattr(dataset, "load_problems_", []))
    all_problems: list[Problem] = []
    quarantined = []

    def finish(table: str, problems: list[Problem], sql_rows: str | None = None, con=None):
        problems = _merge_wrong_types([p for p in load_problems if p.table == table] + problems)
        if quarantine and problems:
            if sql_rows is None:
                problems, record = _quarantine_frame(dataset, table, problems, folder)
            else:
                problems, record = _quarantine_parquet(
                    dataset, table, problems, sql_rows, con, folder
                )
            if record:
                quarantined.append(record)
        all_problems.extend(problems)

    if dataset.mode == "flat":
        if dataset.has(FLAT_TABLE):
            frame = dataset.table(FLAT_TABLE)
            problems = check_frame(
                frame, FLAT_TABLE, flat_columns(frame.columns), keys=("customer_id",)
            )
            finish(FLAT_TABLE, problems)
        else:
            finish(FLAT_TABLE, [])
    else:
        as_of_end = _as_of_end(dataset)
        customer_ids = None
        for table in PANEL_TABLES:
            if not dataset.has(table):
                finish(table, [])
                continue
            source = dataset._sources[table]
            if source.frame is None and table not in dataset._cache:
                con = dataset.connect()
                try:
                    problems, bad_sql = check_parquet_table(
                        con,
                        table,
                        source.parquet_path,
                        source.renames,
                        as_of_end=as_of_end,
                        check_customers=customer_ids is not None,
                    )
                    finish(table, problems, bad_sql, con)
                finally:
                    con.close()
                continue
            frame = dataset.table(table)
            problems = check_frame(
                frame,
                table,
                TABLE_COLUMNS[table],
                as_of_end=as_of_end,
                customer_ids=customer_ids if table != "customers" else None,
                keys=TABLE_KEYS.get(table),
            )
            finish(table, problems)
            if table == "customers" and "customer_id" in dataset.table(table).columns:
                customer_ids = pd.Index(dataset.table(table)["customer_id"].dropna().unique())
    problems = problems_frame(all_problems)
    quarantined_frame = pd.DataFrame(quarantined, columns=["table", "rows", "file", "reasons"])
    report = ValidationReport(
        dataset.name, problems, quarantined_frame, notices=list(dataset.notices)
    )
    dataset.validation_ = report
    return report


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def cli_validate(args) -> int:
    """``fishpond validate [--dataset SPEC]``: print a readable report; 0 if valid, 1 if not.

    Never shows a traceback: a missing or undecodable file, a bad spec or bad data all give a
    plain message and exit code 1.
    """
    from helpers.datasets import DatasetSpecError, load_spec
    from helpers.readers import open_dataset

    spec_path = getattr(args, "dataset", None)
    try:
        spec = load_spec(spec_path)
        dataset = open_dataset(spec)
        report = validate_dataset(dataset)
    except DatasetSpecError as error:
        print(f"Dataset spec problem: {error}")
        return 1
    except Exception as error:  # last resort: an analyst gets a sentence, not a traceback
        print(f"Could not validate the dataset ({type(error).__name__}): {error}")
        return 1
    print(f"Dataset {spec.name!r} ({spec.mode} mode) from {spec.path}")
    if dataset.mode == "panel":
        months = dataset.months() if report.ok else []
        if months:
            print(f"Months: {months[0]} to {months[-1]} ({len(months)} months)")
    for table, rows in _row_counts(dataset).items():
        print(f"  {table}: {rows:,} rows")
    print(str(report))
    if report.ok:
        print("Valid.")
        return 0
    print("Not valid: fix the problems above (or set 'on_invalid: quarantine' in the spec).")
    return 1


def _row_counts(dataset) -> dict[str, int]:
    try:
        return dataset.fingerprint()["rows"]
    except Exception:  # counting must not hide the real problems
        return {}
