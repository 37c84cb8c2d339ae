"""Masking of personal data (PII) before anything reaches a report or an RM list.

Reports never show full names or mobile numbers. Masking keeps enough for an RM to recognise
the customer they already know (surname, last four digits) and nothing more.
"""

from __future__ import annotations

import pandas as pd

PII_COLUMNS = ("name", "mobile")


def mask_name(name: object) -> object:
    """Keep the first character (the surname for Chinese names), star the rest.

    ``"张三丰"`` -> ``"张**"``; ``"Li"`` -> ``"L*"``; a one-character name becomes ``"*"``;
    a name starting with a formula or markup character (``=cmd``) is starred whole, so a
    masked name can never become a spreadsheet formula; missing values stay missing.
    """
    if name is None or (isinstance(name, float) and pd.isna(name)) or name is pd.NA:
        return name
    text = str(name).strip()
    if len(text) <= 1 or text[0] in "=+-@\t\r<>&\"'":
        # one character, or one that would start a formula or markup: star everything
        return "*" * len(text) if text else text
    return text[0] + "*" * (len(text) - 1)


def mask_mobile(mobile: object) -> object:
    """Keep the first three and last four digits of a mobile number: ``138****5678``.

    Numbers shorter than eight digits are fully starred; missing values stay missing.
    """
    if mobile is None or (isinstance(mobile, float) and pd.isna(mobile)) or mobile is pd.NA:
        return mobile
    digits = str(mobile).strip()
    if len(digits) < 8:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_frame(frame: pd.DataFrame, columns: tuple[str, ...] = PII_COLUMNS) -> pd.DataFrame:
    """Return a copy of ``frame`` with every PII column present masked.

    Columns named ``name`` are masked as names and ``mobile`` as mobile numbers; other column
    names can be passed in ``columns`` and are masked as names.
    """
    masked = frame.copy()
    for column in columns:
        if column not in masked.columns:
            continue
        function = mask_mobile if column == "mobile" else mask_name
        masked[column] = masked[column].map(function)
    return masked


def has_unmasked_pii(frame: pd.DataFrame) -> bool:
    """True when a ``name``/``mobile`` column holds a value that is not masked."""
    for column in PII_COLUMNS:
        if column in frame.columns:
            values = frame[column].dropna().astype(str)
            if len(values) and not values.str.contains(r"\*", regex=True).all():
                return True
    return False
