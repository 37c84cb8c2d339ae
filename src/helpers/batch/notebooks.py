"""The notebooks of a pack: which run, in what order, with which parameters.

Order: a notebook that reads another's artifacts declares it in ``metadata.fishpond.upstream``
and runs after it; the summary runs last. Applicability: ``metadata.fishpond.requires`` lists
the data roles a notebook needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import yaml

from helpers import paths
from helpers.parameters import declared_parameters

#: The notebook that reads the other notebooks' artifacts: run last, listed first.
SUMMARY_NOTEBOOK = "05_monthly_summary"
#: Parameters every notebook declares and the runner always injects (architecture.md section 5).
CORE_PARAMETERS = ("dataset", "month", "lang", "artifacts_dir")


# --------------------------------------------------------------------------------------------
# Notebook discovery, parameters and applicability
# --------------------------------------------------------------------------------------------


def discover_notebooks(notebooks_dir: str | Path | None = None, only=None) -> list[Path]:
    """List the notebooks to run, in name order, with the summary notebook last.

    Parameters
    ----------
    notebooks_dir : str or Path, optional
        Folder of ``*.ipynb``; default ``notebooks/``.
    only : list of str, optional
        Keep notebooks whose name equals an entry (with or without ``.ipynb``) or starts with
        it (``"01"`` selects ``01_tiering``).

    Raises
    ------
    ValueError
        When ``only`` names something that matches no notebook.
    """
    folder = Path(notebooks_dir or paths.NOTEBOOKS_DIR)
    found = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if only:
        wanted = [str(name).removesuffix(".ipynb") for name in only]
        unmatched = [w for w in wanted if not any(p.stem.startswith(w) for p in found)]
        if unmatched:
            available = ", ".join(p.stem for p in found) or "(none)"
            raise ValueError(
                f"--only {' '.join(unmatched)}: no such notebook in {folder}. "
                f"Available: {available}"
            )
        found = [p for p in found if any(p.stem.startswith(w) for w in wanted)]
    # The summary reads the other notebooks' artifacts, so it runs after all of them.
    return sorted(found, key=lambda p: (p.stem == SUMMARY_NOTEBOOK, p.name))


def notebook_requirements(notebook_path: str | Path) -> list[str]:
    """Return the data roles a notebook declares in ``metadata.fishpond.requires``."""
    notebook = nbformat.read(notebook_path, as_version=4)
    requires = notebook.metadata.get("fishpond", {}).get("requires", [])
    return [str(role) for role in requires]


def load_extra_parameters(params_file: str | Path | None) -> dict[str, Any]:
    """Read a ``--params`` YAML file (safe loader) into a dict of extra parameters.

    Raises
    ------
    ValueError
        When the file is missing or is not a mapping of names to values.
    """
    if not params_file:
        return {}
    path = Path(params_file)
    if not path.is_file():
        raise ValueError(f"--params: file not found: {path}")
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ValueError(
            f"--params {path}: expected a YAML mapping like 'horizon: 6', got {type(data).__name__}"
        )
    return data


def notebook_parameters(
    notebook_path: Path, core: dict[str, Any], extras: dict[str, Any]
) -> dict[str, Any]:
    """Core parameters plus the ``--params`` extras this notebook declares.

    Extras a notebook does not declare are left out, so one YAML file can serve all notebooks
    without Papermill warning about unknown parameters.
    """
    declared = set(declared_parameters(notebook_path))
    chosen = dict(core)
    chosen.update({name: value for name, value in extras.items() if name in declared})
    return chosen
