"""Notebook parameters: one registry of names and meanings, and the parameters cell parser.

Every parameter a notebook takes is declared once in ``resources/parameters.yaml``: its type,
unit, scope and a zh/en help text. One name means one thing across the pack (``horizon`` alone
would be ambiguous: churn in one notebook, product take-up in another). Scopes:

- ``core``: set by the runner only (dataset, month, lang, artifacts_dir); ``--params`` may not
  set them.
- ``pack``: one value for the whole pack (the tier ladder, horizons, the seed): set them in the
  ``common:`` block of ``--params`` and every notebook that takes them gets the same value.
- ``notebook``: a notebook's own knob, set in that notebook's block of ``--params``.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from helpers.paths import RESOURCES_DIR

SCOPES = ("core", "pack", "notebook")
#: Longest list or dict a parameter may hold (a YAML alias bomb is refused, not expanded).
MAX_ITEMS = 1000

TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list, tuple),
    "dict": (dict,),
}


@dataclass(frozen=True)
class Parameter:
    """One registered parameter."""

    name: str
    type: str
    scope: str
    unit: str
    zh: str
    en: str
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    items: str | None = None  # element type of a list, value type of a dict

    def help(self, lang: str = "en") -> str:
        return self.zh if lang == "zh" else self.en

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable for this parameter, or None when it is."""
        allowed = TYPES[self.type]
        if isinstance(value, bool) and self.type != "bool":
            return f"{self.name} must be {self.type}, not a yes/no value ({value!r})"
        if not isinstance(value, allowed):
            return (
                f"{self.name} must be {self.type} ({self.en}), not {type(value).__name__} {value!r}"
            )
        if self.type in ("list", "dict"):
            problem = self._items_problem(value)
            if problem:
                return problem
        if self.choices and value not in self.choices:
            return f"{self.name} must be one of {list(self.choices)}, not {value!r}"
        if self.type in ("int", "float"):
            if self.minimum is not None and value < self.minimum:
                return f"{self.name} must be at least {self.minimum:g}, not {value!r}"
            if self.maximum is not None and value > self.maximum:
                return f"{self.name} must be at most {self.maximum:g}, not {value!r}"
        return None

    def _items_problem(self, value: list | tuple | dict) -> str | None:
        """Lists and dicts hold plain values of the declared kind (no nesting, no YAML bombs)."""
        if len(value) > MAX_ITEMS:
            return f"{self.name} must have at most {MAX_ITEMS} items, not {len(value)}"
        if isinstance(value, dict):
            keys = [k for k in value if not isinstance(k, str)]
            if keys:
                return f"{self.name} must have text keys, not {keys[0]!r}"
            values = list(value.values())
        else:
            values = list(value)
        allowed = TYPES[self.items] if self.items else (str, int, float)
        kind = {"float": "number", "int": "whole number", "str": "text"}.get(
            self.items or "", "plain value (text or number)"
        )
        for item in values:
            if isinstance(item, bool) or not isinstance(item, allowed):
                shown = repr(item) if isinstance(item, str | int | float) else type(item).__name__
                return f"{self.name} must hold {kind} items only, not {shown}"
        return None


@lru_cache(maxsize=1)
def registry() -> dict[str, Parameter]:
    """Every registered parameter by name (from ``resources/parameters.yaml``)."""
    with open(RESOURCES_DIR / "parameters.yaml", encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    entries = {}
    for name, spec in raw["parameters"].items():
        entries[name] = Parameter(
            name=name,
            type=spec["type"],
            scope=spec["scope"],
            unit=spec.get("unit", ""),
            zh=spec["zh"],
            en=spec["en"],
            choices=tuple(spec.get("choices", ())),
            minimum=spec.get("minimum"),
            maximum=spec.get("maximum"),
            items=spec.get("items"),
        )
        if entries[name].items is not None and entries[name].items not in TYPES:
            raise ValueError(f"parameters.yaml: {name} has an unknown item type")
        if entries[name].scope not in SCOPES or entries[name].type not in TYPES:
            raise ValueError(f"parameters.yaml: {name} has an unknown scope or type")
    return entries


def core_parameters() -> tuple[str, ...]:
    """Names the runner sets itself (``--params`` may not)."""
    return tuple(name for name, p in registry().items() if p.scope == "core")


def parameters_cell(notebook: str | Path | Mapping) -> tuple[int, str] | None:
    """Index and source of the cell tagged ``parameters``; None when there is none.

    ``notebook`` is a path or an already read notebook (an ``nbformat.NotebookNode`` or the
    plain JSON dict). A path is read as JSON: importing nbformat (and its JSON-schema
    validator) costs every notebook kernel over a second at start-up, for one cell's text.
    """
    if not isinstance(notebook, Mapping):
        notebook = json.loads(Path(notebook).read_text(encoding="utf-8"))
    for index, cell in enumerate(notebook.get("cells", [])):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and "parameters" in tags:
            source = cell.get("source", "")
            return index, source if isinstance(source, str) else "".join(source)
    return None


def declared_defaults(notebook: str | Path | Mapping) -> dict[str, Any]:
    """Names and literal default values assigned in a notebook's ``parameters`` cell.

    Read with ``ast``, not Papermill's line parser: Papermill skips any line with a second
    ``=`` (``dataset = ""  # "" = the sample``) and would make that parameter look undeclared.

    Raises
    ------
    ValueError
        When the cell is not valid Python or assigns something other than a literal.
    """
    found = parameters_cell(notebook)
    if found is None:
        return {}
    try:
        body = ast.parse(found[1]).body
    except SyntaxError as error:
        raise ValueError(
            f"the parameters cell is not valid Python (line {error.lineno}: {error.msg})"
        ) from None
    values: dict[str, Any] = {}
    for node in body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                try:
                    values[target.id] = ast.literal_eval(value)
                except ValueError:
                    raise ValueError(
                        f"parameter {target.id} in the parameters cell must be a literal"
                    ) from None
    return values


def declared_parameters(notebook: str | Path | Mapping) -> list[str]:
    """Names assigned in the notebook's ``parameters`` cell, in order."""
    return list(declared_defaults(notebook))
