"""The run's thread budget (helpers.data.run_record): written by the runner, applied by kernels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier  # loads scikit-learn's OpenMP
from threadpoolctl import threadpool_info, threadpool_limits

from helpers.data import run_record
from helpers.paths import RUN_CACHE_ENV


def _openmp_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp"}


def test_budget_round_trip_and_outside_a_run(tmp_path, monkeypatch):
    monkeypatch.delenv(RUN_CACHE_ENV, raising=False)
    assert run_record.thread_budget() is None  # not in a run
    monkeypatch.setenv(RUN_CACHE_ENV, str(tmp_path))
    assert run_record.thread_budget() is None  # in a run, nothing written yet
    run_record.write_thread_budget(tmp_path, 3)
    assert run_record.thread_budget() == 3
    (tmp_path / run_record.THREADS_FILE).write_text("garbage")
    assert run_record.thread_budget() is None
    run_record.write_thread_budget(tmp_path / "gone", 2)  # a removed cache: nothing, no error


def test_the_hook_sets_openmp_threads_only_when_the_budget_changes(tmp_path, monkeypatch):
    if not _openmp_threads():
        pytest.skip("no OpenMP runtime loaded")
    monkeypatch.setenv(RUN_CACHE_ENV, str(tmp_path))
    with threadpool_limits(limits=1, user_api="openmp"):  # restored after the test
        hook = run_record.ThreadBudget()
        hook()
        assert _openmp_threads() == {1} and hook.applied is None  # no budget: left alone
        run_record.write_thread_budget(tmp_path, 2)
        hook("cell info")  # IPython passes the cell's info
        assert _openmp_threads() == {2} and hook.applied == 2


def test_gradient_boosting_gives_the_same_model_on_one_or_two_threads():
    """Why raising the budget mid-run is safe: the fits and predictions do not change."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(20_000, 6))
    target = rng.random(20_000) < 1 / (1 + np.exp(-features[:, 0]))
    predictions = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="openmp"):
            model = HistGradientBoostingClassifier(max_iter=30, random_state=0)
            predictions.append(model.fit(features, target).predict_proba(features)[:, 1])
    assert np.array_equal(predictions[0], predictions[1])


def test_a_run_kernel_follows_the_budget_before_every_cell(tmp_path, monkeypatch):
    """notebook.start registers the hook once per kernel, only inside a run."""
    from IPython.core.interactiveshell import InteractiveShell

    from helpers import notebook

    shell = InteractiveShell.instance()
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    callbacks = shell.events.callbacks["pre_run_cell"]
    before = list(callbacks)
    try:
        monkeypatch.delenv(RUN_CACHE_ENV, raising=False)
        notebook._follow_thread_budget()
        assert callbacks == before  # JupyterLab: nothing registered
        monkeypatch.setenv(RUN_CACHE_ENV, str(tmp_path))
        with threadpool_limits(limits=1, user_api="openmp"):
            notebook._follow_thread_budget()
            notebook._follow_thread_budget()  # the setup cell run twice
            added = [c for c in callbacks if c not in before]
            assert len(added) == 1 and isinstance(added[0], run_record.ThreadBudget)
            run_record.write_thread_budget(tmp_path, 2)
            shell.events.trigger("pre_run_cell", None)
            if _openmp_threads():
                assert _openmp_threads() == {2}
    finally:
        for callback in [c for c in callbacks if c not in before]:
            shell.events.unregister("pre_run_cell", callback)
        InteractiveShell.clear_instance()
