"""The call-list back-test on the bundled sample: outcomes looked up per customer and product."""

import numpy as np
import pandas as pd
import pytest

from helpers import paths, propensity
from helpers.data import load_dataset

pytestmark = pytest.mark.slow


def test_backtest_outcomes_are_each_customers_own_product():
    ds = load_dataset(paths.SAMPLE_SPEC)
    month = ds.months()[-1]
    train, _, _ = propensity.propensity_frames(ds, month, 6)
    models = propensity.CrossSellModels(candidates=("logistic",), compare_cap=3000, seed=3)
    models.fit(train)
    backtest = propensity.backtest_call_lists(ds, month, 6, models, train, 20, 0.05, 2000)
    customers = backtest.customers
    assert len(customers) > 1000 and customers["listed"].any() and (~customers["listed"]).any()
    assert customers["product"].nunique() > 1
    by_id = train.set_index(train["customer_id"].astype(str))
    expected = [
        by_id.at[customer, f"took_{product}"]
        for customer, product in zip(customers["customer_id"], customers["product"], strict=True)
    ]
    expected = pd.array(expected, dtype="boolean")
    got = customers["took"].array
    assert np.array_equal(got.isna(), expected.isna())
    assert (got[~got.isna()] == expected[~expected.isna()]).all()
    assert got.sum() > 0
