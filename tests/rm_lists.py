"""Read an RM list file back with its canonical column names (tests of the notebooks).

RM lists are written for people: headers in the run's language, codes as words. Tests that
check the lists' numbers map the headers back with the same labels the writer used.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers.notebook import list_header

CANONICAL = (
    "rank", "customer_id", "name", "mobile", "rm_id", "branch_id", "tier", "stage", "aum",
    "p_churn", "aum_at_risk", "top_drivers", "product", "product_name", "probability",
    "expected_value", "reason", "annual_value", "p_churn_h", "best_offer", "uplift", "clv",
    "net_value", "cost", "gross_value", "tier_before", "tier_after", "steps", "aum_before",
    "aum_after", "aum_change", "churn_score", "incremental_value", "aum_avg_12m", "onset_month", "months_flagged",
)  # fmt: skip
TEXT = ("customer_id", "rm_id", "branch_id", "mobile", "name")


def read_rm_list(path: str | Path, lang: str | None = None) -> pd.DataFrame:
    """The CSV list at ``path`` with canonical headers; ids read as text.

    ``lang`` None reads a list written in either language (the headers differ)."""
    labels: dict[str, str] = {}
    for language in [lang] if lang else ["zh", "en"]:
        for column in CANONICAL:  # two columns with one header: the first named wins
            labels.setdefault(list_header(column, language), column)
    text = {label: str for label, column in labels.items() if column in TEXT}
    frame = pd.read_csv(path, dtype=text, encoding="utf-8-sig")
    return frame.rename(columns=labels)
