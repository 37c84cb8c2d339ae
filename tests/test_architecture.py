"""The house rules of ``src/helpers``, checked by tools rather than by hand.

- The layer contract in ``pyproject.toml`` (``[tool.importlinter]``) holds: ``lint-imports``.
- No import cycle between any two modules (grimp, the graph library behind import-linter).
- No ``helpers`` import inside a function (those existed only to dodge cycles).
- Each subpackage has one face: ``__init__`` re-exports with ``__all__``; no other module
  re-exports (``noqa: F401`` re-export blocks, ``import *``).
- No module over 600 lines.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import paths

SRC = paths.PACKAGE_DIR
MODULES = sorted(SRC.rglob("*.py"))
MAX_LINES = 600


def test_layer_contract_holds():
    executable = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert executable, "import-linter is not installed (pip install -e '.[dev]')"
    result = subprocess.run(
        [executable, "--no-cache"], cwd=paths.PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _module_graph() -> dict[str, set[str]]:
    import grimp

    graph = grimp.build_graph("helpers", cache_dir=None)
    return {
        module: {m for m in graph.find_modules_directly_imported_by(module) if m != module}
        for module in graph.modules
    }


def test_no_import_cycles_between_modules():
    graph = _module_graph()
    # A package's face imports its modules; a module importing its own package's face would
    # be a cycle too, so faces stay in the graph.
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_helpers_import_inside_functions(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inner = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for child in ast.walk(node):
                if isinstance(child, ast.ImportFrom) and (child.module or "").startswith("helpers"):
                    inner.append(f"{node.name}: from {child.module}")
    assert not inner, f"{path.name}: import at the top of the module instead: {inner}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_only_faces_re_export(path):
    text = path.read_text(encoding="utf-8")
    if path.name == "__init__.py":
        return
    assert "import *" not in text, f"{path.name}: no star imports"
    assert "re-export" not in text.lower() or "noqa: F401" not in text, (
        f"{path.name}: re-exports belong in the package's __init__.py"
    )


def test_every_subpackage_has_a_face_with_all():
    for package in sorted(p.parent for p in SRC.glob("*/__init__.py")):
        if package.name == "resources":
            continue
        tree = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
        names = [
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        ]
        assert "__all__" in names, f"helpers.{package.name}: its face needs __all__"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_modules_stay_short(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SRC)} has {lines} lines; split it"
