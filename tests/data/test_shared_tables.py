"""The runner's validated small tables, shared with its kernels (helpers.data.shared_tables)."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from helpers import features, paths
from helpers.config import ChurnDefinition
from helpers.data import load_dataset
from helpers.data.run_record import RUN_CACHE_ENV
from helpers.data.shared_tables import shared_tables
from helpers.data.spec import load_spec
from helpers.features.abt import _panel_abt

pytestmark = pytest.mark.xdist_group("sample_load")


@pytest.fixture(scope="module")
def runner_side():
    """The sample as the runner loads it (validated; the validation remembered)."""
    return load_dataset(paths.SAMPLE_SPEC)


@pytest.fixture
def kernel_side(runner_side, tmp_path, monkeypatch):
    folder = features.prepare_run_cache(tmp_path / "cache", runner_side, runner_side.fingerprint())
    monkeypatch.setenv(RUN_CACHE_ENV, str(folder))
    return load_dataset(paths.SAMPLE_SPEC)


def test_a_kernel_opens_the_small_tables_lazily_and_sees_the_same_data(runner_side, kernel_side):
    lazy = [n for n, s in kernel_side._sources.items() if s.shared_path is not None]
    assert set(lazy) == {"customers", "holdings", "contacts", "campaigns", "products"} & set(
        runner_side.tables()
    ), lazy
    assert not kernel_side._cache  # nothing read into pandas yet
    for name in lazy:
        pd.testing.assert_frame_equal(kernel_side.table(name), runner_side.table(name))


def test_sql_over_the_shared_tables_has_the_same_types_and_features(runner_side, kernel_side):
    before, after = runner_side.connect(), kernel_side.connect()
    try:
        for name in runner_side.tables():
            described = [before.sql(f"DESCRIBE {name}").df(), after.sql(f"DESCRIBE {name}").df()]
            columns = ["column_name", "column_type"]
            pd.testing.assert_frame_equal(described[0][columns], described[1][columns])
    finally:
        before.close()
        after.close()
    month = runner_side.months()[-7]
    churn = ChurnDefinition()
    with_env = os.environ.pop(RUN_CACHE_ENV)  # build both ABTs outside the frame cache
    try:
        expected = _panel_abt(runner_side, month, 6, churn, None)
        shared = _panel_abt(kernel_side, month, 6, churn, None)
    finally:
        os.environ[RUN_CACHE_ENV] = with_env
    pd.testing.assert_frame_equal(shared, expected)


def test_tables_are_not_shared_when_a_file_changed_or_rows_are_quarantined(
    runner_side, kernel_side, tmp_path
):
    spec = load_spec(paths.SAMPLE_SPEC)
    assert shared_tables(spec)
    copy = tmp_path / "spec.yaml"
    copy.write_text(paths.SAMPLE_SPEC.read_text(encoding="utf-8"), encoding="utf-8")
    assert shared_tables(load_spec(copy)) == {}  # another spec (its paths differ in repr)
    quarantine = load_spec(paths.SAMPLE_SPEC)
    object.__setattr__(quarantine, "on_invalid", "quarantine")
    assert shared_tables(quarantine) == {}
    touched = spec.tables["customers"].paths[0]
    stat = touched.stat()
    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    try:
        assert shared_tables(spec) == {}
    finally:
        os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns))
