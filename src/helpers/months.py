"""Month arithmetic, in one place.

Fishpond's months are month-end snapshots. Parameters, file names and labels carry them as
``YYYY-MM`` strings; tables carry the month-end date. Everything that shifts, compares or
parses a month uses these functions, so every module agrees on what "six months before
2026-10" means.

>>> month_label(shift_month("2026-10", -6))
'2026-04'
>>> month_index("2026-01") - month_index("2025-12")
1
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

#: A report month as parameters and file names carry it.
MONTH_PATTERN = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_LOOSE = re.compile(r"\d{4}-\d{2}(-\d{2})?")


def is_month(value: object) -> bool:
    """True when ``value`` is a ``YYYY-MM`` string with a real month (01-12)."""
    return isinstance(value, str) and MONTH_PATTERN.fullmatch(value) is not None


def check_month(value: object, what: str = "month") -> str:
    """Return ``value`` when it is ``YYYY-MM``; otherwise raise a ValueError that says so."""
    if not is_month(value):
        raise ValueError(f"{what} must look like 2026-10, not {value!r}")
    return str(value)


def _period(month: str | pd.Timestamp | pd.Period) -> pd.Period:
    if isinstance(month, pd.Period):
        return month.asfreq("M")
    if isinstance(month, str):
        text = month.strip()
        if not _LOOSE.fullmatch(text):
            raise ValueError(f"month must look like 'YYYY-MM', got {month!r}")
        month = text
    try:
        return pd.Period(month, freq="M")
    except (ValueError, TypeError, OverflowError) as error:
        raise ValueError(f"month must look like 'YYYY-MM', got {month!r}") from error


def month_end(month: str | pd.Timestamp | pd.Period) -> pd.Timestamp:
    """Month-end date (midnight) of ``month`` ("YYYY-MM", "YYYY-MM-DD" or a timestamp)."""
    return _period(month).to_timestamp(how="end").normalize()


def month_start(month: str | pd.Timestamp | pd.Period, offset: int = 0) -> pd.Timestamp:
    """First day of ``month`` shifted by ``offset`` months."""
    return (_period(month) + offset).to_timestamp(how="start")


def shift_month(month: str | pd.Timestamp | pd.Period, months: int) -> pd.Timestamp:
    """Month-end ``months`` months after (negative: before) ``month``."""
    return (_period(month) + months).to_timestamp(how="end").normalize()


def month_label(month: str | pd.Timestamp | pd.Period, offset: int = 0) -> str:
    """``YYYY-MM`` of ``month`` shifted by ``offset`` months."""
    return str(_period(month) + offset)


def month_index(month: str | pd.Timestamp | pd.Period) -> int:
    """``year * 12 + month``: consecutive months differ by exactly one."""
    period = _period(month)
    return period.year * 12 + period.month


def months_on_book(month, open_month):
    """Months on book in ``month`` (indexes or arrays): the opening month is month 1.

    The one tenure convention of the generator and every estimator (AT_RISK_RULE): a churn in
    month t happens at ``months_on_book(t, open)`` months, the baseline hazard of the
    generator is indexed by it, and a survival frame's ``duration`` is it.
    """
    return month - open_month + 1


#: Who is at risk of churn (and take-up) in month t, for the generator and every estimator.
AT_RISK_RULE = (
    "a customer is at risk in month t when they have a monthly_balances row at t-1 and no "
    "churn event yet; covariates are measured at t-1; the time scale is months on book in "
    "month t (the opening month is month 1), so nobody is at risk in the opening month or in "
    "the data window's first month, and a customer opened before the window enters the risk "
    "set at the months on book completed at the end of the window's first month"
)


def months_between(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` from ``first`` to ``last``, both included."""
    return [str(p) for p in pd.period_range(_period(first), _period(last), freq="M")]


def month_ends(last: str, count: int) -> pd.DatetimeIndex:
    """The ``count`` month-end dates ending with ``last`` (``YYYY-MM``)."""
    periods = pd.period_range(end=_period(last), periods=count, freq="M")
    return periods.to_timestamp(how="end").normalize()


def last_complete_month(today: dt.date | None = None) -> str:
    """The last complete calendar month before ``today`` (default: today), as ``YYYY-MM``."""
    today = today or dt.date.today()
    last_month_end = today.replace(day=1) - dt.timedelta(days=1)
    return f"{last_month_end:%Y-%m}"


def default_flat_month(today: dt.date | None = None) -> str:
    """Report month for data without monthly history (flat mode): the last complete month.

    A flat extract is a snapshot with no month column; the batch that runs it in November
    reports on October, as the monthly cycle does. ``--month`` overrides it.
    """
    today = today or dt.date.today()
    last_month_end = today.replace(day=1) - dt.timedelta(days=1)
    return f"{last_month_end:%Y-%m}"
