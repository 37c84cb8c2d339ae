"""Training-course edition: learner and solution notebooks built from the same sources.

Source notebooks (``notebooks/*.ipynb``) carry three kinds of course cells, by tag:

- ``exercise``: the scaffold a learner fills in (``answer = None  # TODO ...``);
- ``solution``: the worked answer; left out of the learner copy;
- ``check``: calls :func:`check` (or a domain check built on it), which tells the learner
  whether the answer is right and, if not, why, as a displayed message (never a traceback),
  so a learner's notebook keeps running.

In the source notebooks (and so in the monthly batch) the solution runs after the scaffold,
so every check passes; the management HTML drops all three kinds of cells.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

from helpers.paths import NOTEBOOKS_DIR

COURSE_TAGS = ("exercise", "solution", "check")
LANG_TAGS = {"zh": "lang-zh", "en": "lang-en"}


# ----------------------------------------------------------------------------- building
def _cell_tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _set_parameter(source: str, name: str, value: str) -> str:
    """Replace the literal of ``name = ...`` in a parameters cell, keeping its comment."""
    pattern = re.compile(rf"^({re.escape(name)}\s*=\s*)([^#\n]*?)(\s*#.*)?$", re.MULTILINE)
    return pattern.sub(lambda m: f"{m.group(1)}{value}{m.group(3) or ''}", source, count=1)


def course_notebook(notebook, lang: str, edition: str):
    """Return the learner or solution edition of a source notebook in one language.

    Parameters
    ----------
    notebook : nbformat NotebookNode (left unchanged).
    lang : "zh" or "en": the other language's narrative cells are dropped and the ``lang``
        parameter's default is set.
    edition : "learner" (exercise scaffolds, no solutions) or "solution" (solutions, no
        scaffolds).
    """
    if edition not in {"learner", "solution"}:
        raise ValueError(f"edition must be 'learner' or 'solution', not {edition!r}")
    other = LANG_TAGS["en" if lang == "zh" else "zh"]
    dropped = "solution" if edition == "learner" else "exercise"
    result = copy.deepcopy(notebook)
    cells = []
    for cell in result.cells:
        tags = _cell_tags(cell)
        if other in tags or dropped in tags:
            continue
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
            cell.metadata.pop("papermill", None)
            if "parameters" in tags:
                cell.source = _set_parameter(cell.source, "lang", repr(lang).replace("'", '"'))
        cells.append(cell)
    result.cells = cells
    result.metadata.pop("papermill", None)
    result.metadata.setdefault("fishpond", {})["course"] = {"lang": lang, "edition": edition}
    return result


def count_exercises(notebook) -> int:
    """Number of exercises (cells tagged ``exercise``) in a notebook."""
    return sum("exercise" in _cell_tags(cell) for cell in notebook.cells)


def build_course(
    lang: str = "zh", out: str | Path = "course", notebooks_dir: Path = NOTEBOOKS_DIR
) -> list[Path]:
    """Write learner and solution notebooks for every source notebook.

    Layout: ``<out>/learner/<name>.ipynb`` and ``<out>/solution/<name>.ipynb``. The notebooks
    find the sample data and helpers on their own, so they run from any folder.
    """
    # nbformat (and its JSON-schema validator) costs over a second to import; every notebook
    # kernel imports helpers.course for its checks, only `fishpond course build` needs this.
    import nbformat

    out = Path(out)
    written: list[Path] = []
    for source in sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(source, as_version=4)
        for edition in ("learner", "solution"):
            target = out / edition / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(".ipynb.tmp")
            nbformat.write(course_notebook(notebook, lang, edition), temporary)
            temporary.replace(target)
            written.append(target)
    return written


def cli_course_build(args) -> int:
    """``fishpond course build --lang zh|en --out DIR``."""
    written = build_course(lang=args.lang, out=args.out)
    learners = [p for p in written if p.parent.name == "learner"]
    print(
        f"course ({args.lang}): {len(learners)} learner and {len(written) - len(learners)} solution notebooks in {args.out}"
    )
    return 0


