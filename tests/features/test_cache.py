"""The run-scoped cache of shared frames (helpers.features.cache)."""

from __future__ import annotations

import json
import os
import shutil

import pandas as pd
import pytest

from helpers import paths
from helpers.config import ChurnDefinition, resolve_ladder
from helpers.data import load_dataset
from helpers.features import (
    RUN_CACHE_ENV,
    build_abt,
    cached_frame,
    churn_events,
    draining_customers,
    prepare_run_cache,
    run_fingerprint,
    survival_frame,
    warm_abt,
    warm_frame,
)


@pytest.fixture(scope="module")
def sample():
    return load_dataset(paths.SAMPLE_SPEC)


@pytest.fixture
def run_cache(tmp_path, sample, monkeypatch):
    folder = prepare_run_cache(tmp_path / "cache", sample, sample.fingerprint())
    monkeypatch.setenv(RUN_CACHE_ENV, str(folder))
    return folder


def _counting_build(frame):
    calls = []

    def build():
        calls.append(1)
        return frame.copy()

    return build, calls


def test_without_a_run_nothing_is_cached(sample, monkeypatch):
    monkeypatch.delenv(RUN_CACHE_ENV, raising=False)
    build, calls = _counting_build(pd.DataFrame({"a": [1, 2]}))
    cached_frame(sample, "toy", {"p": 1}, build)
    cached_frame(sample, "toy", {"p": 1}, build)
    assert len(calls) == 2


def test_a_frame_is_built_once_per_run_and_parameters(sample, run_cache):
    build, calls = _counting_build(pd.DataFrame({"a": [1, 2]}))
    first = cached_frame(sample, "toy", {"p": 1}, build)
    second = cached_frame(sample, "toy", {"p": 1}, build)
    cached_frame(sample, "toy", {"p": 2}, build)
    assert len(calls) == 2  # p=1 once, p=2 once
    pd.testing.assert_frame_equal(first, second)
    second.loc[0, "a"] = 99  # callers get their own copy
    assert cached_frame(sample, "toy", {"p": 1}, build).loc[0, "a"] == 1
    assert len(list(run_cache.glob("toy-*.arrow"))) == 2


def test_cached_abt_equals_a_fresh_build(sample, run_cache, monkeypatch):
    ladder = resolve_ladder([50_000, 500_000, 6_000_000])
    churn = ChurnDefinition(kind="soft")
    cached = build_abt(sample, as_of="2026-04", horizon=6, churn=churn, ladder=ladder)
    again = build_abt(sample, as_of="2026-04", horizon=6, churn=churn, ladder=ladder)
    monkeypatch.delenv(RUN_CACHE_ENV)
    fresh = build_abt(sample, as_of="2026-04", horizon=6, churn=churn, ladder=ladder)
    assert len(list(run_cache.glob("abt-*.arrow"))) == 1
    for frame in (cached, again):
        pd.testing.assert_frame_equal(frame, fresh)
        assert frame.attrs == fresh.attrs
        assert frame["tier"].cat.ordered


def test_cached_survival_frame_and_events_equal_fresh_builds(sample, run_cache, monkeypatch):
    frames = [survival_frame(sample), churn_events(sample, dating="onset")]
    monkeypatch.delenv(RUN_CACHE_ENV)
    fresh = [survival_frame(sample), churn_events(sample, dating="onset")]
    for cached, built in zip(frames, fresh, strict=True):
        pd.testing.assert_frame_equal(cached, built)
    assert {
        p.name.split("-")[0] for p in run_cache.iterdir() if p.suffix in (".arrow", ".parquet")
    } == {
        "survival_frame",
        "churn_events",
        "soft_flags",  # the one window over every balance row, shared by both
    }


@pytest.mark.parametrize(
    "churn",
    [
        ChurnDefinition(),
        pytest.param(ChurnDefinition(kind="soft", soft_months=2), marks=pytest.mark.slow),
        pytest.param(
            ChurnDefinition(kind="soft", soft_months=4, soft_drop=0.5, soft_floor=5_000),
            marks=pytest.mark.slow,
        ),
    ],
    ids=["default", "soft-2", "soft-4-loose"],
)
def test_the_runs_soft_flags_give_the_events_and_draining_of_a_fresh_build(
    sample, run_cache, monkeypatch, churn
):
    """Churn events (both datings) and the "already draining" lists read the run's one table
    of soft-churn flags; each equals the same frame computed from the balances directly."""
    months = ["2025-03", "2025-10", "2026-04", sample.months()[-1]]

    def frames():
        events = [churn_events(sample, churn, dating) for dating in ("confirmed", "onset")]
        return events + [draining_customers(sample, month, churn) for month in months]

    cached = frames()
    assert len(list(run_cache.glob("soft_flags-*.parquet"))) == 1
    assert sum(len(frame) for frame in cached[2:]) > 0  # the sample has customers draining
    monkeypatch.delenv(RUN_CACHE_ENV)
    for frame, fresh in zip(cached, frames(), strict=True):
        pd.testing.assert_frame_equal(frame, fresh)


def test_hard_churn_needs_no_soft_flags(sample, run_cache):
    churn_events(sample, ChurnDefinition(kind="hard"))
    assert not list(run_cache.glob("soft_flags-*.parquet"))


def test_other_files_get_no_key(tmp_path, sample, run_cache):
    """A dataset whose files differ from the run's (edited, or another copy) is never served."""
    copy = tmp_path / "copy"
    shutil.copytree(paths.SAMPLE_SPEC.parent, copy)
    other = load_dataset(copy / "dataset.yaml")
    build, calls = _counting_build(pd.DataFrame({"a": [1]}))
    cached_frame(other, "toy", {}, build)
    cached_frame(other, "toy", {}, build)
    assert len(calls) == 2
    assert run_fingerprint(other) is None
    assert run_fingerprint(sample) == sample.fingerprint()
    # touching one of the run's files (new modification time) also ends its use
    customers = paths.SAMPLE_SPEC.parent / "customers.parquet"
    status = customers.stat()
    try:
        os.utime(customers, ns=(status.st_atime_ns, status.st_mtime_ns + 1))
        assert run_fingerprint(sample) is None
    finally:
        os.utime(customers, ns=(status.st_atime_ns, status.st_mtime_ns))


def test_abt_is_bit_identical_whatever_the_thread_count(sample):
    """Money is summed in integer cents: no parallel floating-point order in the features."""
    from helpers.features.abt import _data_window
    from helpers.features.sql import AbtWindow, abt_sql

    first, last = _data_window(sample)
    window = AbtWindow(
        as_of=pd.Timestamp("2026-04-30"), horizon=6, first_month=first, last_month=last
    )
    sql = abt_sql(
        window,
        ChurnDefinition(),
        products=["current_account", "fund"],
        cross_sell=["fund"],
        has_transactions=True,
        has_holdings=True,
        has_contacts=True,
    )
    results = []
    for threads in (1, 2, 7):
        con = sample.connect()
        con.execute(f"SET threads = {threads}")
        results.append(con.sql(sql).df())
        con.close()
    for other in results[1:]:
        pd.testing.assert_frame_equal(results[0], other, check_exact=True)


def test_notebooks_take_the_runners_file_digests_for_the_same_files(tmp_path, monkeypatch):
    """In a run, a kernel's dataset reuses the SHA-256 the runner computed (no re-reading of
    a gigabyte of Parquet per notebook); a file touched since is hashed again."""
    copy = tmp_path / "bank"
    shutil.copytree(paths.SAMPLE_DIR, copy)
    runner_ds = load_dataset(copy / "dataset.yaml")
    fingerprint = runner_ds.fingerprint()
    marked = fingerprint["files"][0]["path"]
    fingerprint["files"][0]["sha256"] = "from-the-runner"
    folder = prepare_run_cache(tmp_path / "cache", runner_ds, fingerprint)
    monkeypatch.setenv(RUN_CACHE_ENV, str(folder))
    kernel_ds = load_dataset(copy / "dataset.yaml")
    assert kernel_ds.file_digests()[marked] == "from-the-runner"
    status = os.stat(marked)
    os.utime(marked, ns=(status.st_atime_ns, status.st_mtime_ns + 10**9))
    again = load_dataset(copy / "dataset.yaml")
    assert again.file_digests()[marked] != "from-the-runner"
    assert len(again.file_digests()[marked]) == 64


def test_warming_stores_the_abt_a_later_build_reads(sample, run_cache, monkeypatch):
    churn = ChurnDefinition()
    assert warm_abt(sample, "2026-04", 6, churn) is True
    assert len(list(run_cache.glob("abt-*.arrow"))) == 1
    assert warm_abt(sample, "2026-04", 6, churn) is True  # already there: nothing more
    assert len(list(run_cache.glob("abt-*.arrow"))) == 1
    warmed = build_abt(sample, as_of="2026-04", horizon=6, churn=churn)
    assert len(list(run_cache.glob("abt-*.arrow"))) == 1  # read, not built again
    monkeypatch.delenv(RUN_CACHE_ENV)
    pd.testing.assert_frame_equal(warmed, build_abt(sample, as_of="2026-04", horizon=6))


def test_warming_outside_a_run_builds_nothing(sample, monkeypatch):
    monkeypatch.delenv(RUN_CACHE_ENV, raising=False)
    build, calls = _counting_build(pd.DataFrame({"a": [1]}))
    assert warm_frame(sample, "toy", {"p": 1}, build) is False
    assert calls == []
    assert warm_abt(sample, "2026-04") is False


def test_the_cross_sell_frames_build_only_their_own_months(sample, run_cache):
    """The back-test's month (also the survival notebook's training month) is built by
    whichever notebook needs it first: no step builds ahead for another."""
    from helpers.propensity import propensity_frames

    propensity_frames(sample, "2026-10", horizon=6)
    attrs = [
        json.loads(p.with_suffix(".attrs.json").read_text()) for p in run_cache.glob("abt-*.arrow")
    ]
    stored = {(a["as_of"], a["horizon"]) for a in attrs}
    assert stored == {("2026-10", 6), ("2026-04", 6)}  # score, train


@pytest.mark.slow  # model recovery / equivalence: full suite only (make test-fast < 1 min)
def test_abts_from_the_runs_transaction_months_equal_abts_from_every_transaction(
    sample, run_cache, monkeypatch
):
    # In a run the ABTs read one table of transactions per customer and month instead of
    # every transaction: the features must be the same to the last bit, at the data's first
    # month (recency capped), in the middle and at the scoring month (labels unknown).
    churn = ChurnDefinition(kind="soft")
    months = sample.months()
    chosen = [months[0], months[len(months) // 2], months[-1]]
    in_run = [build_abt(sample, as_of=m, horizon=3, churn=churn) for m in chosen]
    assert len(list(run_cache.glob("transaction_months-*.parquet"))) == 1
    monkeypatch.delenv(RUN_CACHE_ENV)
    for month, cached in zip(chosen, in_run, strict=True):
        fresh = build_abt(sample, as_of=month, horizon=3, churn=churn)
        pd.testing.assert_frame_equal(cached, fresh, check_exact=True)
        assert (fresh["txn_count_3m"] > 0).any() and (fresh["txn_amount_3m"] != 0).any()


@pytest.mark.parametrize(
    ("as_of", "columns"),
    [
        ("2026-09", ["aum", "tenure_months", "txn_count_3m", "aum_trend_6m"]),
        (
            "2025-10",
            ["tier", "age", "payroll", "churn_label", "took_fund", "held_wealth_mgmt", "as_of"],
        ),
        ("2026-04", ["aum", "tier", "duration", "event", "churn_type_label", "contacts_3m"]),
    ],
)
def test_an_abt_of_a_few_columns_equals_those_columns_of_the_whole_abt(
    sample, run_cache, as_of, columns
):
    ladder = resolve_ladder([20_000, 300_000, 3_000_000])  # not the default ladder
    whole = build_abt(sample, as_of, 6, ladder=ladder)
    few = build_abt(sample, as_of, 6, ladder=ladder, columns=columns)
    expected = whole[[c for c in whole.columns if c == "customer_id" or c in columns]]
    pd.testing.assert_frame_equal(few, expected)
    assert len(list(run_cache.glob("abt-*.arrow"))) == 1  # read from the whole one


def test_an_abt_of_a_few_columns_has_its_own_entry_until_the_run_has_the_whole_abt(
    sample, run_cache
):
    ladder = resolve_ladder([20_000, 300_000, 3_000_000])
    columns = ["tier", "aum_trend_6m", "txn_count_3m"]
    few = build_abt(sample, "2026-04", 6, ladder=ladder, columns=columns)
    assert len(list(run_cache.glob("abt-*.arrow"))) == 1  # the few columns' own entry
    whole = build_abt(sample, "2026-04", 6, ladder=ladder)
    in_abt_order = [c for c in whole.columns if c == "customer_id" or c in columns]
    pd.testing.assert_frame_equal(few, whole[in_abt_order])
    again = build_abt(sample, "2026-04", 6, ladder=ladder, columns=columns)
    pd.testing.assert_frame_equal(again, few)
    assert len(list(run_cache.glob("abt-*.arrow"))) == 2


def test_an_abt_asked_for_unknown_columns_says_which(sample):
    with pytest.raises(ValueError, match="no columns \\['aum_trend_5m'\\]"):
        build_abt(sample, "2026-04", columns=["aum", "aum_trend_5m"])


def test_the_month_snapshot_is_queried_once_per_run_and_equals_a_fresh_one(
    sample, run_cache, monkeypatch
):
    from helpers.overview import month_snapshot

    ladder = resolve_ladder([20_000, 300_000, 3_000_000])
    first = month_snapshot(sample, "2026-10", ladder)
    again = month_snapshot(sample, "2026-10", ladder)
    other = month_snapshot(sample, "2026-10")  # the default ladder: the same query, tiered
    assert len(list(run_cache.glob("month_snapshot-*.arrow"))) == 1
    monkeypatch.delenv(RUN_CACHE_ENV)
    pd.testing.assert_frame_equal(first, month_snapshot(sample, "2026-10", ladder))
    pd.testing.assert_frame_equal(again, first)
    pd.testing.assert_frame_equal(other, month_snapshot(sample, "2026-10"))
    assert not first["tier"].equals(other["tier"])  # the ladders tier differently


def test_the_overview_inventory_reads_the_runs_transaction_months_and_says_the_same(
    sample, run_cache, monkeypatch
):
    """Once an ABT of the run has written the transactions per customer and month, the
    overview counts transactions, their customers and their dates from it (a quarter of the
    rows at a million customers): the same table as counting every transaction."""
    from helpers.features import stored_transaction_months
    from helpers.overview import inventory

    assert sample.validated
    before = inventory(sample)  # nothing stored yet: every transaction is read
    assert stored_transaction_months(sample) is None
    build_abt(sample, as_of=sample.months()[-1], horizon=3)
    assert stored_transaction_months(sample) is not None
    pd.testing.assert_frame_equal(inventory(sample), before)
    monkeypatch.delenv(RUN_CACHE_ENV)
    pd.testing.assert_frame_equal(inventory(sample), before)


def test_the_loader_hashes_the_files_while_it_reads_the_tables(tmp_path, monkeypatch):
    """Outside a run's kernel the loader takes each file's SHA-256 in a second thread while
    it reads the tables; the dataset's digests are those (never computed twice) and equal
    hashing each file afterwards."""
    import hashlib

    import helpers.data.dataset as dataset_module

    copy = tmp_path / "bank"
    shutil.copytree(paths.SAMPLE_DIR, copy)
    monkeypatch.setenv("FISHPOND_NO_VALIDATION_CACHE", "1")  # nothing asks for them early
    ds = load_dataset(copy / "dataset.yaml")
    assert "_hashing" in ds.__dict__
    assert ds._hashing is not None  # the loader started it

    def not_again(path):
        raise AssertionError(f"{path} hashed again")

    monkeypatch.setattr(dataset_module, "sha256_file", not_again)
    digests = ds.file_digests()
    assert sorted(digests) == sorted(str(path) for path in ds.files())
    for path, digest in digests.items():
        assert digest == hashlib.sha256(open(path, "rb").read()).hexdigest()
