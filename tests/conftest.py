"""Shared pytest fixtures: report packs built once per session, and one-notebook runs.

- ``sample_pack``: the real runner over every notebook on the bundled sample (``lang="zh"``,
  ``jobs=2``), built once per session into a temporary folder. Returns a
  :class:`helpers.batch.runner.RunResult`.
- ``sample_pack_en``: the sample pack in English, with ``pdf=True`` (index and summary PDFs).
- ``flat_pack``: the same on the flat sample (``paths.SAMPLE_FLAT_SPEC``).
- ``run_notebook(name, tmp_path, **params)``: run one notebook with Papermill exactly as the
  batch does (kernel ``fishpond``, cwd ``notebooks/``, per-cell timeout, types kept) and return
  ``(executed_notebook, artifacts_dir)``. Failures raise Papermill's exceptions, so a test can
  ``pytest.raises(PapermillExecutionError)``.

Tests that use the pack fixtures carry ``@pytest.mark.xdist_group("packs")`` and
``@pytest.mark.slow`` so one xdist worker builds each pack once (``--dist loadgroup``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import paths

# xdist runs two workers on a 2-core machine; every kernel they start inherits this. Without
# it, HistGradientBoosting / k-means OpenMP pools oversubscribe the cores and a 40 s notebook
# took over 5 minutes (docs/traps.md). The runner sets the same per parallel job.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

#: Per-cell timeout for notebook runs inside tests (seconds).
TEST_CELL_TIMEOUT = 900


#: The sample's last month (``make sample`` uses ``--end-month 2026-10``).
SAMPLE_MONTH = "2026-10"


def _build_pack(
    tmp_path_factory,
    dataset: Path,
    label: str,
    month: str | None = None,
    lang: str = "zh",
    pdf: bool = False,
):
    from helpers.batch import run_pack

    out = tmp_path_factory.mktemp(label) / "pack"
    return run_pack(
        dataset=dataset,
        month=month,
        out=out,
        jobs=2,
        lang=lang,
        timeout=TEST_CELL_TIMEOUT,
        pdf=pdf,
    )


@pytest.fixture(scope="session")
def sample_pack(tmp_path_factory):
    """The real sample run through every notebook (zh), as a ``RunResult``."""
    return _build_pack(tmp_path_factory, paths.SAMPLE_SPEC, "sample_pack")


@pytest.fixture(scope="session")
def sample_pack_en(tmp_path_factory):
    """The real sample run through every notebook in English, with its PDFs."""
    return _build_pack(tmp_path_factory, paths.SAMPLE_SPEC, "sample_pack_en", lang="en", pdf=True)


@pytest.fixture(scope="session")
def flat_pack(tmp_path_factory):
    """The flat sample run through every notebook (zh), as a ``RunResult``."""
    # Flat data has no month column: name the sample's month rather than depend on the clock.
    return _build_pack(tmp_path_factory, paths.SAMPLE_FLAT_SPEC, "flat_pack", SAMPLE_MONTH)


@pytest.fixture
def run_notebook():
    """Run one notebook the way the batch does; return ``(notebook, artifacts_dir)``.

    Usage::

        def test_tiering(run_notebook, tmp_path):
            notebook, artifacts = run_notebook("01_tiering", tmp_path, month="2026-10")
            table = pd.read_parquet(artifacts / "tier_summary.parquet")

    ``name`` is a notebook in ``notebooks/`` (with or without ``.ipynb``) or a path to any
    notebook. Defaults injected unless overridden: ``dataset`` = the bundled sample spec (an
    absolute path string), ``lang`` = ``"zh"``, ``artifacts_dir`` = ``tmp_path/"artifacts"``.
    ``month`` is injected only when given (the notebook then resolves the latest month, as
    the batch does). Pass ``timeout=`` (seconds per cell) to change the test default.
    The executed copy is ``tmp_path/"executed"/<name>.ipynb``.
    """
    from helpers.batch import execute_notebook

    def _run(name: str | Path, tmp_path: Path, timeout: int = TEST_CELL_TIMEOUT, **params):
        source = Path(name)
        if not source.is_absolute() or not source.exists():
            source = paths.NOTEBOOKS_DIR / f"{str(name).removesuffix('.ipynb')}.ipynb"
        if not source.exists():
            raise FileNotFoundError(f"no notebook {name!r} (looked for {source})")
        artifacts = Path(tmp_path) / "artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        parameters = {
            "dataset": str(paths.SAMPLE_SPEC),
            "lang": "zh",
            "artifacts_dir": str(artifacts),
        }
        parameters.update(params)
        for key in ("dataset", "artifacts_dir"):
            if isinstance(parameters.get(key), Path):
                parameters[key] = str(parameters[key])
        notebook = execute_notebook(
            source,
            Path(tmp_path) / "executed" / source.name,
            parameters,
            timeout=timeout,
            cwd=paths.NOTEBOOKS_DIR,
        )
        return notebook, artifacts

    return _run


@pytest.fixture(autouse=True)
def _default_vocabulary():
    """Each test starts with the bank's words: ``notebook.start`` sets the data's words
    process-wide (``helpers.i18n.use_vocabulary``), which must not leak between tests."""
    from helpers import i18n

    previous = i18n.use_vocabulary(None)
    yield
    i18n.use_vocabulary(previous if previous.is_default else None)
