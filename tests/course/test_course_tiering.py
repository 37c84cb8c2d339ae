"""Course checks of 01_tiering: right answers pass, wrong and missing ones explain why."""

import numpy as np
import pandas as pd
import pytest

from helpers import config, course, formatting, tiering


@pytest.fixture
def ladder():
    return config.resolve_ladder([50_000, 500_000, 6_000_000])


@pytest.fixture
def abt():
    # Boundaries on purpose: exactly 50,000 and 100,000 are included in the tier they open.
    values = [10_000, 49_999.99, 50_000, 75_000, 99_999.99, 100_000, 600_000, np.nan]
    return pd.DataFrame({"customer_id": list("abcdefgh"), "basis_value": values})


def test_checks_are_reexported_by_the_course_module():
    for name in (
        "check_tiering_threshold_move",
        "check_tiering_rm_customers",
        "check_tiering_downgrade_share",
        "check_tiering_bridge_driver",
    ):
        assert callable(getattr(course, name)), name


# ----------------------------------------------------------------------------- 01-1
def test_threshold_move_counts_customers_between_the_old_and_new_bound(abt, ladder):
    # 50,000, 75,000 and 99,999.99 drop from affluent to mass; 100,000 stays affluent.
    assert course.check_tiering_threshold_move(3, abt, ladder, "en").passed
    assert course.check_tiering_threshold_move(np.int64(3), abt, ladder, "en").passed
    # lowering the bound lifts 49,999.99 (but not 10,000) from mass to affluent
    assert course.check_tiering_threshold_move(1, abt, ladder, "en", threshold=20_000).passed
    assert course.check_tiering_threshold_move(0, abt, ladder, "en", threshold=50_000).passed


def test_threshold_move_explains_wrong_and_missing_answers(abt, ladder):
    everyone_below = course.check_tiering_threshold_move(5, abt, ladder, "en")
    assert not everyone_below.passed
    assert "everyone below the new bound" in everyone_below.message
    boundary = course.check_tiering_threshold_move(4, abt, ladder, "en")  # 100,000 counted too
    assert not boundary.passed and "boundary" in boundary.message
    wrong = course.check_tiering_threshold_move(7, abt, ladder, "en")
    assert "50,000" in wrong.message and "100,000" in wrong.message  # the hint names the bounds
    missing = course.check_tiering_threshold_move(None, abt, ladder, "zh")
    assert (
        not missing.passed and "还没有作答" in missing.message and "basis_value" in missing.message
    )
    fraction = course.check_tiering_threshold_move(2.5, abt, ladder, "en")
    assert not fraction.passed and "whole number" in fraction.message
    series = course.check_tiering_threshold_move(abt["basis_value"], abt, ladder, "zh")
    assert not series.passed and "客户人数" in series.message


def test_threshold_move_is_skipped_when_the_data_cannot_support_it(abt, ladder):
    labels_only = abt.assign(basis_value=np.nan)
    skipped = course.check_tiering_threshold_move(None, labels_only, ladder, "en")
    assert skipped.passed and "Skipped" in skipped.message
    beyond_wealth = course.check_tiering_threshold_move(None, abt, ladder, "zh", threshold=600_000)
    assert beyond_wealth.passed and "跳过" in beyond_wealth.message


# ----------------------------------------------------------------------------- 01-2
@pytest.fixture
def grid():
    return pd.DataFrame(
        {
            "value_band": ["low", "mid", "mid", "high", "high"],
            "potential_band": ["low", "low", "high", "low", "high"],
            "customers": [500, 60, 30, 8, 2],
            "coverage": ["digital", "digital", "rm_shared", "rm_dedicated", "rm_dedicated"],
        }
    )


def test_rm_customers_counts_dedicated_and_team_cells(grid):
    assert course.check_tiering_rm_customers(40, grid, "en").passed
    dedicated_only = course.check_tiering_rm_customers(10, grid, "en")
    assert not dedicated_only.passed and "RM-team customers (`rm_shared`) need RMs too" in (
        dedicated_only.message
    )
    wrong = course.check_tiering_rm_customers(100, grid, "zh")
    assert not wrong.passed and "rm_shared" in wrong.message and "100" in wrong.message
    missing = course.check_tiering_rm_customers(None, grid, "en")
    assert not missing.passed and "Not answered yet" in missing.message
    text = course.check_tiering_rm_customers("40", grid, "en")
    assert not text.passed and "number of customers" in text.message


def test_rm_customers_is_skipped_without_a_grid():
    skipped = course.check_tiering_rm_customers(None, None, "en")
    assert skipped.passed and "Skipped" in skipped.message


# ----------------------------------------------------------------------------- 01-3
@pytest.fixture
def migration(ladder):
    dtype = pd.CategoricalDtype(ladder["code"].tolist(), ordered=True)

    def snapshot(rows):
        frame = pd.DataFrame(rows, columns=["customer_id", "tier", "aum"])
        return frame.assign(tier=frame["tier"].astype(dtype))

    before = snapshot(
        [
            ("w1", "wealth", 600_000.0),
            ("w2", "wealth", 700_000.0),
            ("w3", "wealth", 800_000.0),
            ("w4", "wealth", 900_000.0),
            ("m1", "mass", 1_000.0),
        ]
    )
    after = snapshot(
        [
            ("w1", "wealth", 610_000.0),  # stays
            ("w2", "affluent", 400_000.0),  # down one tier
            ("w3", "mass", 20_000.0),  # down two tiers
            ("m1", "affluent", 60_000.0),  # up
            ("n1", "mass", 5_000.0),  # new
        ]
    )  # w4 left the book
    return tiering.tier_migration(before, after)


def test_downgrade_share_reads_the_tier_row_without_the_churned(migration):
    # 2 of the 4 wealth customers fell a tier; w4 left, which is not a downgrade
    assert course.check_tiering_downgrade_share(0.5, migration, "en").passed
    assert course.check_tiering_downgrade_share(np.float64(0.5), migration, "en").passed
    assert course.check_tiering_downgrade_share(0.0, migration, "en", tier="mass").passed
    with_churn = course.check_tiering_downgrade_share(0.75, migration, "en")
    assert not with_churn.passed and "included the customers who left" in with_churn.message
    percent = course.check_tiering_downgrade_share(50, migration, "zh")
    assert not percent.passed and "除以 100" in percent.message
    missing = course.check_tiering_downgrade_share(None, migration, "en")
    assert not missing.passed and "transition_matrix" in missing.message


def test_downgrade_share_is_skipped_without_history_or_customers(migration):
    assert course.check_tiering_downgrade_share(None, None, "en").passed
    nobody = course.check_tiering_downgrade_share(None, migration, "en", tier="private")
    assert nobody.passed and "Skipped" in nobody.message


# ----------------------------------------------------------------------------- 01-4
def _bridge(**amounts_fen):
    steps = ["start", "new", "up", "down", "stay", "churned", "end"]
    fen = [amounts_fen.get(step, 0) for step in steps]
    return pd.DataFrame({"step": steps, "customers": 1, "amount_fen": fen}).assign(
        amount=lambda frame: frame["amount_fen"] / 100
    )


def test_bridge_driver_is_the_largest_absolute_step():
    bridge = _bridge(start=10_000, new=100, up=50, down=-300, stay=200, churned=-20, end=10_030)
    assert course.check_tiering_bridge_driver("down", bridge, "en").passed
    up = course.check_tiering_bridge_driver("up", bridge, "en")
    assert not up.passed and "only 17% as much as the largest" in up.message
    biggest_increase = course.check_tiering_bridge_driver("stay", bridge, "zh")
    assert not biggest_increase.passed and "绝对值" in biggest_increase.message
    total = course.check_tiering_bridge_driver("end", bridge, "en")
    assert not total.passed and "totals, not changes" in total.message
    odd = course.check_tiering_bridge_driver("biggest", bridge, "en")
    assert not odd.passed and "one of the codes" in odd.message
    missing = course.check_tiering_bridge_driver(None, bridge, "en")
    assert not missing.passed and "Not answered yet" in missing.message
    odd = course.check_tiering_bridge_driver(pd.Series(["down"]), bridge, "en")
    assert not odd.passed


def test_bridge_driver_accepts_either_step_of_a_tie_and_skips_without_history(migration):
    tie = _bridge(start=1_000, new=0, up=0, down=-300, stay=0, churned=-300, end=400)
    assert course.check_tiering_bridge_driver("down", tie, "en").passed
    assert course.check_tiering_bridge_driver("churned", tie, "en").passed
    # on a real bridge: w2 and w3 falling lose 1,080,000, more than w4 leaving (900,000)
    bridge = tiering.aum_bridge(migration)
    assert course.check_tiering_bridge_driver("down", bridge, "en").passed
    churned = course.check_tiering_bridge_driver("churned", bridge, "en")
    assert not churned.passed and "only 83% as much as the largest" in churned.message
    assert course.check_tiering_bridge_driver(None, None, "en").passed


# ----------------------------------------------------------------------------- Skipped steps
def test_a_skipped_step_counts_as_no_data(abt, ladder):
    """The notebook hands the checks a formatting.Skipped where a step could not run."""
    flat = formatting.Skipped("tiering_note_flat")
    no_grid = formatting.Skipped("tiering_note_no_grid")
    assert course.check_tiering_rm_customers(None, no_grid, "en").passed
    for check in (course.check_tiering_downgrade_share, course.check_tiering_bridge_driver):
        result = check(None, flat, "en")
        assert result.passed and "Skipped" in result.message
    assert course.check_tiering_threshold_move(None, flat, ladder, "zh").passed
