"""Repository hygiene: committed notebooks are clean and follow the notebook conventions.

``nbstripout --install`` protects only the clone it ran in; this test is what enforces
stripping for everyone (FIELD-NOTES: Notebook hygiene). Checked for every notebook tracked in
``notebooks/``: no outputs or execution counts, no papermill metadata, exactly one
``parameters`` cell holding literal assignments each with a ``# type: help`` comment, the
``fishpond`` kernelspec, zh/en narrative pairs, and ``nbstripout --verify``. The one notebook
dialect (docs/architecture.md §5): code cells of at most 12 lines of at most 99 characters (the
parameters cell exempt), no ``def``/``class``, no conditional expression used as a statement
(``x if c else None`` to show or skip something), no ``if`` blocks, imports only from
``helpers`` faces, ``ctx = notebook.start(...)`` in the setup cell and ``ctx.provenance()``
last. Also: no tracked file over 5 MB outside ``data/sample/``.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import parameters, paths

ROOT = paths.PROJECT_ROOT
STRIP_KEYS = "metadata.papermill cell.metadata.papermill cell.metadata.execution"
MAX_BYTES = 5 * 1024 * 1024


def _tracked(*patterns: str) -> list[Path] | None:
    """Files git tracks matching ``patterns``; None outside a git checkout."""
    if shutil.which("git") is None:
        return None
    result = subprocess.run(
        ["git", "ls-files", "-z", "--", *patterns],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    return [ROOT / name for name in result.stdout.decode("utf-8").split("\0") if name]


def _notebooks() -> list[Path]:
    tracked = _tracked("notebooks/*.ipynb")
    if tracked is None:  # an exported tree without .git: check what is there
        tracked = sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb"))
    return sorted(p for p in tracked if p.exists())


NOTEBOOKS = _notebooks()


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _python(source: str) -> str:
    """Cell source with IPython magics and shell escapes blanked, so ``ast`` can parse it."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks tracked in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_outputs_or_execution_counts(path):
    dirty = [
        index
        for index, cell in enumerate(_load(path)["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts; strip them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_papermill_or_execution_metadata(path):
    notebook = _load(path)
    assert "papermill" not in notebook["metadata"], f"{path.name}: notebook papermill metadata"
    dirty = [
        index
        for index, cell in enumerate(notebook["cells"])
        if {"papermill", "execution"} & set(cell.get("metadata", {}))
        or "injected-parameters" in _tags(cell)
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry papermill/execution metadata"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_parameters_cell_of_commented_literals(path):
    cells = [c for c in _load(path)["cells"] if "parameters" in _tags(c)]
    assert len(cells) == 1, f"{path.name}: {len(cells)} cells tagged 'parameters', want 1"
    assert cells[0]["cell_type"] == "code"
    source = _source(cells[0])
    tree = ast.parse(source)
    names = []
    lines = source.splitlines()
    for node in tree.body:
        where = f"{path.name} parameters line {node.lineno}"
        assert isinstance(node, ast.Assign | ast.AnnAssign), f"{where}: only assignments allowed"
        target = node.targets[0] if isinstance(node, ast.Assign) else node.target
        assert isinstance(target, ast.Name), f"{where}: assign to a plain name"
        # A literal, never derived from another parameter (papermill injects after this cell).
        ast.literal_eval(node.value)
        assert node.lineno == node.end_lineno, f"{where}: keep each parameter on one line"
        assert re.search(r"#\s*\S", lines[node.lineno - 1]), f"{where}: needs a '# type: help'"
        names.append(target.id)
    assert len(names) == len(set(names)), f"{path.name}: a parameter is assigned twice"
    missing = [name for name in parameters.core_parameters() if name not in names]
    assert not missing, f"{path.name}: the runner injects {missing}; declare them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter(path):
    """Papermill's own parser skips a line whose comment holds '=' (or an odd quote): the
    parameter then vanishes from `papermill --help-notebook` and from JupyterLab's tooling."""
    import papermill

    cell = next(c for c in _load(path)["cells"] if "parameters" in _tags(c))
    declared = [node.targets[0].id for node in ast.parse(_source(cell)).body]
    parsed = list(papermill.inspect_notebook(str(path)))
    assert parsed == declared, (
        f"{path.name}: papermill reads {parsed}, the cell declares {declared}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_kernelspec_and_requirements(path):
    metadata = _load(path)["metadata"]
    kernelspec = metadata.get("kernelspec", {})
    assert kernelspec.get("name") == paths.KERNEL_NAME, f"{path.name}: kernelspec {kernelspec}"
    assert kernelspec.get("display_name") == "Python (fishpond)"
    assert kernelspec.get("language") == "python"
    from helpers.data import ALL_ROLES

    requires = metadata.get("fishpond", {}).get("requires")
    assert isinstance(requires, list), f"{path.name}: metadata.fishpond.requires must be a list"
    # "value|tier" means either role will do
    unknown = sorted({part for role in requires for part in role.split("|")} - set(ALL_ROLES))
    assert not unknown, f"{path.name}: unknown roles {unknown}; known: {ALL_ROLES}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_narrative_in_both_languages(path):
    cells = _load(path)["cells"]
    zh = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and "lang-zh" in _tags(c)]
    en = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and "lang-en" in _tags(c)]
    assert zh, f"{path.name}: no markdown cell tagged lang-zh"
    assert len(zh) == len(en), f"{path.name}: {len(zh)} lang-zh cells but {len(en)} lang-en"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_def_or_class_in_code_cells(path):
    offenders = []
    for index, cell in enumerate(_load(path)["cells"]):
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse(_python(_source(cell)))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                offenders.append(f"cell {index}: {node.name}")
    assert not offenders, f"{path.name}: move these into src/helpers: {offenders}"


@pytest.mark.slow  # one nbstripout process per notebook; `make lint` runs the same check
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_nbstripout_verify(path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbstripout",
            "--verify",
            "--keep-id",
            "--extra-keys",
            STRIP_KEYS,
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (
        f"{path.name} is not stripped: run\n  .venv/bin/nbstripout --keep-id --extra-keys "
        f'"{STRIP_KEYS}" {path}\n{result.stdout}{result.stderr}'
    )


def test_no_large_files_outside_the_sample():
    tracked = _tracked()
    if tracked is None:
        pytest.skip("not a git checkout: nothing is tracked")
    sample = paths.SAMPLE_DIR.resolve()
    large = [
        f"{path.relative_to(ROOT)} ({path.stat().st_size / 1e6:.1f} MB)"
        for path in tracked
        if path.is_file()
        and path.stat().st_size > MAX_BYTES
        and not path.resolve().is_relative_to(sample)
    ]
    assert not large, f"tracked files over 5 MB outside data/sample/: {large}"


def test_reports_are_not_tracked():
    tracked = _tracked("reports")
    if tracked is None:
        pytest.skip("not a git checkout")
    assert [p.relative_to(ROOT).as_posix() for p in tracked] in ([], ["reports/README.md"])


# ----------------------------------------------------------------------------- one dialect
MAX_CELL_LINES = 12
MAX_LINE_CHARACTERS = 99
FACES = {
    "config", "course", "data", "features", "formatting", "i18n", "months", "notebook",
    "overview", "plotting", "privacy", "propensity", "retention", "summary", "survival",
    "tiering",
}  # fmt: skip


COURSE_TAGS = {"exercise", "solution", "check"}


def _code_cells(path: Path, course: bool = True):
    for index, cell in enumerate(_load(path)["cells"]):
        if cell["cell_type"] == "code" and "parameters" not in _tags(cell):
            if course or not COURSE_TAGS & set(_tags(cell)):
                yield index, _source(cell)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_short(path):
    long = []
    for index, source in _code_cells(path):
        lines = source.splitlines()
        if len(lines) > MAX_CELL_LINES:
            long.append(f"cell {index}: {len(lines)} lines")
        long += [
            f"cell {index} line {n}: {len(line)} characters"
            for n, line in enumerate(lines, 1)
            if len(line) > MAX_LINE_CHARACTERS
        ]
    assert not long, (
        f"{path.name}: cells over {MAX_CELL_LINES} lines x {MAX_LINE_CHARACTERS}: {long}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_branching_in_code_cells(path):
    """Helpers return a displayable Skipped instead; notebooks never branch on the data.

    Exercise, solution and check cells are the learner's own pandas and are exempt."""
    offenders = []
    for index, source in _code_cells(path, course=False):
        for node in ast.walk(ast.parse(_python(source))):
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.IfExp):
                offenders.append(f"cell {index} line {node.lineno}: conditional as a statement")
            if isinstance(node, ast.If):
                offenders.append(f"cell {index} line {node.lineno}: if block")
            if isinstance(node, ast.IfExp) and (
                isinstance(node.body, ast.Constant)
                and node.body.value is None
                or isinstance(node.orelse, ast.Constant)
                and node.orelse.value is None
            ):
                offenders.append(f"cell {index} line {node.lineno}: 'None if' / 'else None'")
    assert not offenders, f"{path.name}: move the decision into a helper: {offenders}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_imports_only_helpers_faces(path):
    offenders = []
    for index, source in _code_cells(path):
        for node in ast.walk(ast.parse(_python(source))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers"):
                if node.module != "helpers":
                    offenders.append(f"cell {index}: from {node.module} import ...")
                offenders += [
                    f"cell {index}: {alias.name}"
                    for alias in node.names
                    if alias.name not in FACES or alias.asname
                ]
            if isinstance(node, ast.Import):
                offenders += [
                    f"cell {index}: import {a.name}" for a in node.names if "helpers" in a.name
                ]
    assert not offenders, (
        f"{path.name}: import only package faces (from helpers import x): {offenders}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_setup_and_last_cell_follow_the_dialect(path):
    cells = list(_code_cells(path))
    setup = cells[0][1]
    assert f'ctx = notebook.start("{path.stem}", globals())' in setup, (
        f"{path.name}: the setup cell starts the run with notebook.start(name, globals())"
    )
    assert cells[-1][1].strip() == "ctx.provenance()", f"{path.name}: last cell is ctx.provenance()"
