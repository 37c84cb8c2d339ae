"""pyproject.toml and environment.yml must list the same dependencies with the same ranges."""

import re
import tomllib

import yaml

from helpers.paths import PROJECT_ROOT

# conda-forge names that differ from PyPI names
CONDA_TO_PYPI = {"python-duckdb": "duckdb"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    assert match, requirement
    return match.group(1).lower(), match.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = data["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return dict(_split(r) for r in requirements)


def _environment() -> tuple[dict[str, str], str]:
    data = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text(encoding="utf-8"))
    packages: dict[str, str] = {}
    python = ""
    for entry in data["dependencies"]:
        items = entry["pip"] if isinstance(entry, dict) else [entry]
        for item in items:
            if item.startswith("-e") or item == "pip":
                continue
            name, spec = _split(item)
            if name == "python":
                python = spec
                continue
            packages[CONDA_TO_PYPI.get(name, name)] = spec
    return packages, python


def test_environment_lists_every_pyproject_dependency_with_the_same_range():
    pyproject = _pyproject()
    environment, _ = _environment()
    assert set(pyproject) == set(environment), (
        f"only in pyproject: {sorted(set(pyproject) - set(environment))}; "
        f"only in environment.yml: {sorted(set(environment) - set(pyproject))}"
    )
    different = {
        n: (pyproject[n], environment[n]) for n in pyproject if pyproject[n] != environment[n]
    }
    assert not different, f"ranges differ (pyproject, environment.yml): {different}"


def test_python_is_311_in_both_and_pandas_below_3():
    data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["requires-python"] == ">=3.11,<3.12"
    _, python = _environment()
    assert python in {"=3.11", "==3.11"}
    assert "<3" in _pyproject()["pandas"], "lifelines needs pandas < 3"


def test_environment_installs_the_project_itself():
    text = (PROJECT_ROOT / "environment.yml").read_text(encoding="utf-8")
    assert "- -e ." in text
