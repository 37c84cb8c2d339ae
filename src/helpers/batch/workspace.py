"""``fishpond init DIR``: lay out a working folder for an installed Fishpond.

A pip or conda install without a checkout has the notebooks and the synthetic sample inside
the package (``helpers/bundle``, see setup.py). ``fishpond init DIR`` copies them into ``DIR``
(``notebooks/``, ``data/sample/``) with an empty ``reports/``, so an analyst can open the
notebooks in JupyterLab, edit a copy of the sample spec for the bank's extract, and run
``fishpond run`` from ``DIR``. Files already there are never overwritten.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers import paths

#: What ``fishpond init`` lays out: folder in DIR -> where it comes from.
LAYOUT = {"notebooks": "notebooks", "data/sample": "data/sample"}


def init_workspace(target: str | Path) -> list[Path]:
    """Copy the notebooks and the sample into ``target``; return the files written.

    Sources are the current project's ``notebooks/`` and ``data/sample/`` (a checkout or
    the package's bundled copies). Existing files are left alone.

    Raises
    ------
    FileNotFoundError
        When neither a checkout nor the installed package has the notebooks.
    """
    target = Path(target).expanduser().resolve()
    sources = {"notebooks": paths.NOTEBOOKS_DIR, "data/sample": paths.SAMPLE_DIR}
    if not any(paths.NOTEBOOKS_DIR.glob("*.ipynb")):
        raise FileNotFoundError(
            f"no notebooks to copy in {paths.NOTEBOOKS_DIR}: reinstall Fishpond with "
            "'pip install .' from a checkout (the wheel bundles them)"
        )
    written = []
    for folder in LAYOUT:
        source = sources[folder]
        for path in sorted(source.rglob("*")):
            if (
                not path.is_file()
                or "__pycache__" in path.parts
                or ".ipynb_checkpoints" in path.parts
            ):
                continue
            destination = target / folder / path.relative_to(source)
            if destination.exists():
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
            written.append(destination)
    (target / "reports").mkdir(parents=True, exist_ok=True)
    return written


def cli_init(args) -> int:
    """``fishpond init DIR``."""
    try:
        written = init_workspace(args.dir)
    except FileNotFoundError as error:
        print(f"fishpond init: {error}")
        return 1
    print(
        f"fishpond init: {len(written)} files written to {Path(args.dir).resolve()}. "
        "Run 'fishpond run' there for the sample pack, or copy data/sample/dataset.yaml "
        "next to your own files and pass it with --dataset."
    )
    return 0
