"""What valid canonical data looks like, and how a problem with it is told.

Each canonical table has a declared schema (:data:`TABLE_COLUMNS`: kind, missing values,
allowed values, ranges, dates not after the as-of month). A :class:`Problem` is one finding:
table, column, check, rows (1-based data rows: row 1 is the first row under the header),
offending values and what was expected. The readers, both validation engines and the flat-mode
builder all speak in these terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# Money above this for one customer is not a real balance but junk (a total row, a unit error).
ABSURD_AMOUNT = 1e11
MAX_EXAMPLES = 5
#: No date in a bank's tables is older than this (Excel's day zero, 1899-12-30/31, is junk).
EARLIEST_DATE = pd.Timestamp("1900-01-01")


# --------------------------------------------------------------------------------------------
# Declarations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    """One canonical column: its kind and the rules its values follow.

    ``kind`` is one of ``id`` (string identifier), ``str``, ``int``, ``float``, ``date``,
    ``bool``. ``required=False`` columns may be absent from the source (they are then added as
    empty). ``minimum_strict`` makes ``minimum`` exclusive. ``not_after_as_of`` dates must be on
    or before the end of the latest data month; every date is on or after
    :data:`EARLIEST_DATE`.
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
    money: bool = False  # an amount: multiplied by the spec's money_unit when loaded


def _money(name: str, nullable: bool = False, minimum: float | None = 0.0, why: str = "") -> Col:
    return Col(
        name,
        "float",
        nullable=nullable,
        minimum=minimum,
        maximum=ABSURD_AMOUNT,
        why=why or "a balance cannot be negative",
        money=True,
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
            money=True,
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
        In quarantine mode: table, rows set aside, file ``fishpond run`` writes them to,
        reasons.
    notices : list of str
        Things the loader decided (generated ids, detected encodings...).
    would_quarantine : DataFrame
        In fail mode: per table with row problems, the rows quarantine would set aside and
        the table's rows (``table``, ``rows``, ``total``).
    max_quarantine_share : float
        The spec's limit on the share of a table that quarantine may set aside.
    """

    dataset_name: str
    problems: pd.DataFrame
    quarantined: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["table", "rows", "file", "reasons"])
    )
    notices: list[str] = field(default_factory=list)
    would_quarantine: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["table", "rows", "total"])
    )
    max_quarantine_share: float = 0.05

    @property
    def ok(self) -> bool:
        return self.problems.empty

    def raise_if_failed(self) -> None:
        """Raise :class:`DataValidationError` if there are problems."""
        if not self.ok:
            raise DataValidationError(self.problems, self.dataset_name)

    def advice(self) -> str:
        """What to do about the problems: fix them, or (only when it would help) quarantine."""
        if self.ok:
            return ""
        row_level = set(self.would_quarantine["table"])
        table_level = self.problems[self.problems["rows"] == ""]
        if len(row_level) and table_level.empty:
            shares = self.would_quarantine["rows"] / self.would_quarantine["total"].clip(lower=1)
            worst = float(shares.max())
            if worst <= self.max_quarantine_share:
                return (
                    "Not valid: fix the problems above, or set 'on_invalid: quarantine' in the "
                    f"spec to set the bad rows aside (at most {worst:.1%} of a table)."
                )
            table = self.would_quarantine.iloc[int(shares.to_numpy().argmax())]["table"]
            return (
                f"Not valid: fix the problems above. Quarantine would not help: it would set "
                f"aside {worst:.1%} of {table} (the limit is {self.max_quarantine_share:.0%}), "
                "which usually means the spec, not the data, is wrong."
            )
        return "Not valid: fix the problems above."

    def __str__(self) -> str:
        lines = [render_problems(self.problems, self.dataset_name)]
        for row in self.quarantined.itertuples(index=False):
            lines.append(
                f"Quarantine: {row.rows:,} row(s) of {row.table} set aside ({row.reasons}); "
                f"`fishpond run` writes them with their raw values to {row.file}."
            )
        lines += [f"Note: {notice}" for notice in self.notices]
        return "\n".join(lines)
