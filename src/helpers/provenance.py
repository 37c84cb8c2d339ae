"""Run provenance shared by the runner's manifest and each notebook's last cell."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

from helpers import paths

#: Libraries whose versions go into the manifest.
KEY_PACKAGES = (
    "fishpond",
    "pandas",
    "numpy",
    "pyarrow",
    "duckdb",
    "scipy",
    "scikit-learn",
    "lifelines",
    "pandera",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbclient",
    "nbconvert",
    "ipykernel",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the key libraries (and Python)."""
    versions = {"python": sys.version.split()[0]}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(root: str | Path | None = None) -> str:
    """Commit SHA of the checkout (with ``-dirty`` when files changed), or ``"unknown"``."""
    root = Path(root or paths.PROJECT_ROOT)
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha or "unknown"
