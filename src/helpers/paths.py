"""Path constants in one place (cookiecutter-data-science style).

Everything resolves from the project root, never from the caller's working directory, so a
notebook or the batch behaves the same wherever it is started. ``FISHPOND_ROOT`` overrides
the root (useful when the package is installed outside a checkout).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
#: Notebooks and the synthetic sample shipped inside the installed package (a wheel built by
#: ``pip install .`` copies ``notebooks/`` and ``data/sample/`` here; see setup.py).
BUNDLE_DIR = PACKAGE_DIR / "bundle"


#: Environment variable naming the run's cache folder (set by the runner for each kernel;
#: helpers.data.run_record and helpers.features.cache read it).
RUN_CACHE_ENV = "FISHPOND_RUN_CACHE"
#: Set to 1 to keep the cache folder in the finished pack.
KEEP_CACHE_ENV = "FISHPOND_KEEP_RUN_CACHE"


def _find_root() -> Path:
    """The project (working) folder: ``FISHPOND_ROOT``, else the checkout the code sits in,
    else the current folder (an installed package run from the analyst's folder)."""
    env = os.environ.get("FISHPOND_ROOT")
    if env:
        return Path(env).resolve()
    # src/helpers/paths.py -> project root is two levels above src/
    candidate = PACKAGE_DIR.parents[1]
    if (candidate / "pyproject.toml").exists():
        return candidate
    return Path.cwd().resolve()


def _here_or_bundled(relative: str) -> Path:
    """``PROJECT_ROOT / relative`` when that exists (a checkout, or a folder laid out by
    ``fishpond init``), else the copy bundled with the installed package."""
    local = PROJECT_ROOT / relative
    bundled = BUNDLE_DIR / relative
    return bundled if not local.exists() and bundled.exists() else local


PROJECT_ROOT = _find_root()
NOTEBOOKS_DIR = _here_or_bundled("notebooks")
SAMPLE_DIR = _here_or_bundled("data/sample")
DATA_DIR = SAMPLE_DIR.parent
SAMPLE_SPEC = SAMPLE_DIR / "dataset.yaml"
# The same sample exported as one flat customer table (GB18030 CSV, Chinese headers).
SAMPLE_FLAT_SPEC = SAMPLE_DIR / "flat" / "dataset.yaml"
REPORTS_DIR = PROJECT_ROOT / "reports"
BENCHMARKS_DIR = PROJECT_ROOT / "benchmarks"
BENCH_RESULTS_DIR = BENCHMARKS_DIR / "results"
RESOURCES_DIR = PACKAGE_DIR / "resources"
CONFIG_DIR = RESOURCES_DIR / "config"
LOCALES_DIR = RESOURCES_DIR / "locales"
TEMPLATES_DIR = RESOURCES_DIR / "templates"
# Where a notebook run outside the batch (JupyterLab, nbval) writes its artifacts.
SCRATCH_DIR = PROJECT_ROOT / ".fishpond-scratch"
# A built course folder (``course/zh``) carries this file; notebooks run inside it keep their
# scratch files there (see ``scratch_dir``).
COURSE_MARKER = ".fishpond-course"


def scratch_dir(start: Path | None = None) -> Path:
    """Where a notebook run outside the batch keeps its artifacts.

    Inside a built course (JupyterLab starts a kernel in its notebook's folder, e.g.
    ``course/zh/learner``) that is the course folder's own ``.fishpond-scratch/<edition>``, so
    learners' files stay with the course and never land in the folder they happen to run in.
    Anywhere else it is :data:`SCRATCH_DIR`.
    """
    here = (Path.cwd() if start is None else Path(start)).resolve()
    for folder in (here, *here.parents[:2]):
        if (folder / COURSE_MARKER).is_file():
            edition = here.relative_to(folder).parts[:1]
            return folder.joinpath(".fishpond-scratch", *edition)
    return SCRATCH_DIR


KERNEL_NAME = "fishpond"
