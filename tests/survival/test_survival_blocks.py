"""Conditional survival computed in blocks of customers equals the one-block computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.survival import ChurnCox
from helpers.survival import cox as cox_module


def _frame(n: int = 900, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    usage = rng.normal(size=n)
    plan = rng.choice(["monthly", "yearly"], size=n)
    hazard = np.exp(0.6 * usage + 0.5 * (plan == "monthly"))
    duration = np.minimum(rng.exponential(30 / hazard), 60).round() + 1
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "duration": duration,
            "event": duration < 61,
            "entry": 0.0,
            "usage": usage,
            "plan": plan,
        }
    )


@pytest.mark.parametrize("strata", [None, ["plan"]])
def test_survival_matrix_in_blocks_equals_one_block(monkeypatch, strata):
    frame = _frame()
    covariates = ["usage"] if strata else ["usage", "plan"]
    model = ChurnCox(covariates, 0.01, *([strata] if strata else [])).fit(frame)
    monkeypatch.setattr(cox_module, "SURVIVAL_BLOCK_ROWS", 10**9)
    whole = model.survival_matrix(frame, 24, current_col="duration")
    monkeypatch.setattr(cox_module, "SURVIVAL_BLOCK_ROWS", 97)  # blocks cut anywhere
    blocks = model.survival_matrix(frame, 24, current_col="duration")
    assert whole.shape == (len(frame), 25) and np.all(whole[:, 0] == 1.0)
    np.testing.assert_array_equal(blocks, whole)
    assert model.survival_matrix(frame.iloc[:0], 6, current_col="duration").shape == (0, 7)
