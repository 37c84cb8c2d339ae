"""The summary says what the data does not contain instead of printing an empty number."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.summary import monthly


def _table(roi):
    return pd.DataFrame(
        {
            "notebook": ["00_data_overview", "04_retention_roi"],
            "key": ["ov_active_customers", "campaign_roi"],
            "indicator": ["Customers", "Last campaign ROI"],
            "unit": ["count", "ratio"],
            "value": [7043, roi],
            "previous": [None, None],
            "change": [np.nan, np.nan],
        }
    )


def test_missing_kpi_reads_not_in_the_data():
    shown = monthly.display_table(_table(np.nan), "en")
    assert shown.iloc[1, 1] == "not in the data"
    assert monthly.display_table(_table(np.nan), "zh").iloc[1, 1] == "数据中没有"


def test_no_sentence_around_an_empty_number():
    statuses = []
    text = " ".join(monthly.findings(_table(np.nan), statuses, "en").items)
    assert "campaign" not in text
    text = " ".join(monthly.findings(_table(0.25), statuses, "en").items)
    assert "returned 25.0% on its cost" in text
