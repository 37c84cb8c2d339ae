"""Fixtures of the hostile-input suite.

- ``tiny_spec``: the 3-customer panel of ``dataset_fixtures`` as CSV files (validates in well
  under a second), shared read-only; cases that break data work on their own copy.
- ``good_pack``: one real pack built once per session by the real runner from that data and
  the quick fixture notebook (``notebooks/quick.ipynb``): every case checks that it is
  byte-identical after the hostile run.
- ``hostile_pack``: every real notebook run on a bank whose every free-text column and spec
  name are hostile (:func:`hostile_support.make_hostile_dataset`). Slow: only the escaping and
  export tests use it.
"""

from __future__ import annotations

import io
import shutil

import pytest
from dataset_fixtures import write_panel
from hostile_support import MONTH, NOTEBOOKS, make_hostile_dataset

#: Per-cell timeout inside the suite (seconds).
CELL_TIMEOUT = 900


@pytest.fixture(scope="session")
def tiny_spec(tmp_path_factory):
    """The tiny valid panel as CSV files; returns its spec path (do not modify the files)."""
    return write_panel(tmp_path_factory.mktemp("tiny") / "data", fmt="csv")


@pytest.fixture(scope="session")
def good_pack(tmp_path_factory, tiny_spec):
    """A good pack of the tiny data for 2026-10, built once by the real runner."""
    from helpers.batch import run_pack

    out = tmp_path_factory.mktemp("good") / "reports" / MONTH
    result = run_pack(
        dataset=tiny_spec,
        out=out,
        notebooks_dir=NOTEBOOKS,
        only=["quick"],
        timeout=120,
        progress_stream=io.StringIO(),
    )
    assert result.ok, result.manifest
    return out


@pytest.fixture(scope="session")
def hostile_spec(tmp_path_factory):
    """A generated bank with hostile text in every free-text column and in its spec name."""
    return make_hostile_dataset(tmp_path_factory.mktemp("hostile") / "data")


@pytest.fixture(scope="session")
def hostile_pack(tmp_path_factory, hostile_spec):
    """Every notebook run on the hostile bank (``RunResult``)."""
    from helpers.batch import run_pack

    out = tmp_path_factory.mktemp("hostile_pack") / MONTH
    return run_pack(
        dataset=hostile_spec, out=out, jobs=1, lang="zh", timeout=CELL_TIMEOUT,
        progress_stream=io.StringIO(),
    )  # fmt: skip


@pytest.fixture
def private_data(tmp_path, tiny_spec):
    """A private copy of the tiny data folder (to break); returns its spec path."""
    folder = tmp_path / "data"
    shutil.copytree(tiny_spec.parent, folder)
    return folder / tiny_spec.name
